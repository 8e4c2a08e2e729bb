"""The CoSHC sections of `seekcode eval`: the searcher and the paper's ablations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seekcode.hashing.searcher import load_coshc_searcher

if TYPE_CHECKING:
    from seekcode.index.search import Searcher
    from seekcode.index.store import Index


def coshc_sections(index: Index) -> dict[str, Searcher]:
    """Section name -> searcher: CoSHC as trained, and the paper's ablations (Table 2).

    - coshc_no_classification: one Hamming top-N over the whole index
    - coshc_one_classification: N - k + 1 from the predicted category, 1 from each other
    - coshc_ideal_classification: the same from the relevant record's own category
    All share one set of loaded artifacts and the same budget N.
    """
    base = load_coshc_searcher(index)
    return {
        "coshc": base,
        "coshc_no_classification": base.variant("none", "coshc_no_classification"),
        "coshc_one_classification": base.variant("one", "coshc_one_classification"),
        "coshc_ideal_classification": base.variant("ideal", "coshc_ideal_classification"),
    }
