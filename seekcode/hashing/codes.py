"""Binary codes: signs packed into bytes, and Hamming distances between them."""

from __future__ import annotations

import numpy as np


def pack_signs(h: np.ndarray) -> np.ndarray:
    """Pack sign(h) (> 0 is bit 1, else 0: the paper's sgn) into uint8 rows of bits/8 bytes."""
    h = np.atleast_2d(np.asarray(h))
    if h.shape[1] % 8:
        raise ValueError(f"{h.shape[1]} bits: codes need a multiple of 8 bits")
    return np.packbits(h > 0, axis=1)


def unpack_signs(codes: np.ndarray) -> np.ndarray:
    """The inverse of pack_signs, as a float32 array of +1/-1."""
    bits = np.unpackbits(np.atleast_2d(codes), axis=1).astype(np.float32)
    return bits * 2 - 1


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All-pairs Hamming distances between packed code rows, (len(a), len(b)) int32.

    numpy's popcount over XOR; the searcher uses FAISS instead, this is the reference.
    """
    a = np.atleast_2d(a)
    b = np.atleast_2d(b)
    x = np.bitwise_xor(a[:, None, :], b[None, :, :])
    return np.bitwise_count(x).sum(axis=2, dtype=np.int32)
