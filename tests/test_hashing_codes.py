"""Bit packing and Hamming distances against a brute-force reference."""

import numpy as np
import pytest

from seekcode.hashing.codes import hamming, pack_signs, unpack_signs


def brute_hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance of +-1 vectors, one pair at a time."""
    return np.array([[int(np.sum(x != y)) for y in b] for x in a])


@pytest.mark.parametrize("bits", [8, 64, 128, 256])
def test_pack_roundtrip_and_hamming(bits):
    rng = np.random.default_rng(bits)
    h = rng.standard_normal((7, bits))
    codes = pack_signs(h)
    assert codes.shape == (7, bits // 8) and codes.dtype == np.uint8
    signs = np.where(h > 0, 1.0, -1.0)
    np.testing.assert_array_equal(unpack_signs(codes), signs)
    np.testing.assert_array_equal(hamming(codes, codes[:3]), brute_hamming(signs, signs[:3]))


def test_sign_of_zero_is_minus_one():
    # The paper's sgn: 1 if the input is positive, -1 otherwise.
    codes = pack_signs(np.array([[0.0, 1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(unpack_signs(codes), [[-1, 1, -1, -1, -1, -1, -1, 1]])


def test_hamming_identity_and_complement():
    codes = pack_signs(np.random.default_rng(0).standard_normal((3, 128)))
    d = hamming(codes, np.bitwise_not(codes))
    assert (np.diag(d) == 128).all()
    assert (np.diag(hamming(codes, codes)) == 0).all()


def test_faiss_binary_index_agrees_with_reference():
    faiss = pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    base = pack_signs(rng.standard_normal((300, 128)))
    q = pack_signs(rng.standard_normal((5, 128)))
    index = faiss.IndexBinaryFlat(128)
    index.add(base)
    dist, ids = index.search(q, 300)
    ref = hamming(q, base)
    np.testing.assert_array_equal(np.sort(ref, axis=1), dist)
    np.testing.assert_array_equal(np.take_along_axis(ref, ids, axis=1), dist)


def test_pack_rejects_non_multiple_of_8():
    with pytest.raises(ValueError, match="multiple of 8"):
        pack_signs(np.zeros((1, 12)))


def test_rotation_init_with_fewer_vectors_than_bits():
    import numpy as np

    from seekcode.hashing.model import rotation_init

    vecs = np.random.default_rng(0).normal(size=(40, 96)).astype(np.float32)
    for itq in (0, 5):
        proj = rotation_init(vecs, bits=128, seed=0, itq_iterations=itq)
        assert proj.shape == (128, 96) and np.isfinite(proj).all()


def test_small_searches_run_on_one_thread_with_the_same_answers():
    """A CoSHC recall of a few queries runs FAISS on the calling thread alone (24 ms -> 0.4 ms
    per search here); its candidates equal a parallel search's, and the process keeps its
    own thread setting."""
    import faiss

    from seekcode.hashing import searcher

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, size=(5000, 16), dtype=np.uint8)
    index = faiss.IndexBinaryFlat(128)
    index.add(codes)
    members = np.arange(len(codes), dtype=np.int64)
    threads = faiss.omp_get_max_threads()
    for n in (1, searcher.PARALLEL_FROM - 1, searcher.PARALLEL_FROM, 40):
        q = codes[rng.integers(0, len(codes), n)]
        got = searcher._hamming_top(index, q, np.full(n, 50), None, members)
        _, want = index.search(q, 50)
        np.testing.assert_array_equal(np.sort(got, axis=1), np.sort(want, axis=1))
        assert faiss.omp_get_max_threads() == threads
