"""The Encoder interface and its implementations."""

from seekcode.encoders.base import Encoder, load_encoder, register_encoder

__all__ = ["Encoder", "load_encoder", "register_encoder"]
