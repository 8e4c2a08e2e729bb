"""Subword (BPE) vocabularies trained on the corpus, over identifier-split words."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1


class SubwordTokenizer:
    """BPE over words that are already identifier-split and lower-cased.

    Whole common words stay one token; rare ones (`fnmatchcase`) break into pieces
    the model has seen, so nothing in a new code base is out of vocabulary.
    """

    def __init__(self, tokenizer: object):
        self._tok = tokenizer

    @classmethod
    def train(cls, texts: Iterable[Sequence[str]], vocab_size: int = 8000,
              min_frequency: int = 2) -> SubwordTokenizer:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[PAD, UNK],
            show_progress=False,
        )
        tok.train_from_iterator((" ".join(t) for t in texts), trainer=trainer)
        return cls(tok)

    @classmethod
    def load(cls, path: str | Path) -> SubwordTokenizer:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> None:
        self._tok.save(str(path))  # type: ignore[attr-defined]

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size())  # type: ignore[attr-defined]

    def encode(self, texts: Sequence[Sequence[str]], max_len: int) -> np.ndarray:
        """Token ids, (n, max_len) int64, padded with PAD_ID.

        An empty input becomes one UNK so that every row has a token to attend to.
        """
        out = np.zeros((len(texts), max_len), dtype=np.int64)
        joined = [" ".join(t[: max_len * 2]) for t in texts]  # words beyond this never fit
        for i, enc in enumerate(self._tok.encode_batch(joined, add_special_tokens=False)):  # type: ignore[attr-defined]
            ids = enc.ids[:max_len]
            if ids:
                out[i, : len(ids)] = ids
            else:
                out[i, 0] = UNK_ID
        return out
