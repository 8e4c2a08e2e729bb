"""seekcode: semantic code search. Describe a function in English, find it."""

from seekcode.corpus.record import Record
from seekcode.encoders.base import Encoder, load_encoder
from seekcode.index.store import Index

__all__ = ["Encoder", "Index", "Record", "load_encoder"]
__version__ = "0.1.0"
