"""Evaluating the ranking modes (semantic, keyword, hybrid) over one query set.

Keyword and hybrid scores need the query text, not only its vector, so they are
ranked here rather than through a `Searcher`: every record is scored, and the one
tie rule (`candidate_ranks`) ranks the relevant record among all of them.

When the queries are the records' own docstrings (`QuerySet.paired`, the corpus
queries), the keyword index leaves docstrings out: matching a docstring against
itself would measure nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from seekcode.eval.metrics import candidate_ranks, summarize_ranks
from seekcode.index.hybrid import Ranker
from seekcode.index.keyword import Weights

if TYPE_CHECKING:
    from seekcode.eval.queries import QuerySet
    from seekcode.index.store import Index

DOCSTRING_FREE = Weights(doc=0)


def ranker_for(index: Index, qs: QuerySet) -> Ranker:
    """The ranker to evaluate `qs` with: docstrings left out when they are the queries."""
    ranker: Ranker = index.ranker(DOCSTRING_FREE if qs.paired else None)
    return ranker


def mode_ranks(ranker: Ranker, mode: str, texts: Sequence[str], qvecs: np.ndarray,
               relevant: Sequence[np.ndarray]) -> np.ndarray:
    """Each query's rank of its best relevant record among all records, in `mode`."""
    every = np.arange(ranker.count)
    out = [candidate_ranks(ranker.scores(mode, t, q)[None, :], every, [r])
           for t, q, r in zip(texts, qvecs, relevant, strict=True)]
    return np.concatenate(out) if out else np.zeros(0)


def mode_metrics(index: Index, qs: QuerySet, qvecs: np.ndarray,
                 modes: Sequence[str]) -> dict[str, dict[str, float]]:
    """MRR and SuccessRate@k of each mode; "semantic" is exact vector search."""
    ranker = ranker_for(index, qs)
    return {mode: summarize_ranks(mode_ranks(ranker, mode, qs.texts, qvecs, qs.relevant))
            for mode in modes}
