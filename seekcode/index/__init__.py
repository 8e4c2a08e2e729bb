"""The on-disk index (manifest, metadata, vectors, codes) and its searchers."""

from seekcode.index.search import ExactSearcher, Hit, Searcher
from seekcode.index.store import Index, IndexError_

__all__ = ["ExactSearcher", "Hit", "Index", "IndexError_", "Searcher"]
