"""Sparse text features for the embedded classifier: word 1–2-grams and char 2–5-grams (TF-IDF).
Char n-grams are what make "pwr", "powr" and "power" look alike without a spelling list."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

import numpy as np

from bot.nlu.text import words

_DIGITS = re.compile(r"\d+")
CHAR_NGRAMS = (2, 5)


def tokens(text: str) -> list[str]:
    """Folded words with every number as "0": the amount or account says nothing of the intent."""
    return [_DIGITS.sub("0", w) for w in words(text)]


def raw_features(text: str) -> tuple[Counter[str], Counter[str]]:
    """Term counts of the two blocks (words, chars), before weighting."""
    toks = tokens(text)
    word_block: Counter[str] = Counter(f"w {t}" for t in toks)
    word_block.update(f"b {a} {b}" for a, b in pairwise(toks))
    char_block: Counter[str] = Counter()
    low, high = CHAR_NGRAMS
    for t in toks:
        padded = f" {t} "
        for n in range(low, high + 1):
            char_block.update(padded[i:i + n] for i in range(len(padded) - n + 1))
    return word_block, char_block


class Vectorizer:
    """Fixed vocabulary + IDF learnt from the training texts; each block is L2-normalised so
    long messages and short ones weigh the same."""

    def __init__(self, texts: Sequence[str]) -> None:
        df: Counter[str] = Counter()
        for text in texts:
            word_block, char_block = raw_features(text)
            df.update(word_block.keys())
            df.update(char_block.keys())
        n = len(texts)
        self.vocabulary: dict[str, int] = {term: i for i, term in enumerate(sorted(df))}
        self.idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in sorted(df)])

    @property
    def size(self) -> int:
        return len(self.vocabulary)

    def sparse(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(feature indices, weights) of one text; unknown terms are dropped."""
        indices: list[int] = []
        weights: list[float] = []
        for block in raw_features(text):
            block_idx: list[int] = []
            block_w: list[float] = []
            for term, count in block.items():
                i = self.vocabulary.get(term)
                if i is not None:
                    block_idx.append(i)
                    block_w.append((1.0 + math.log(count)) * self.idf[i])
            norm = math.sqrt(sum(w * w for w in block_w))
            if norm:
                indices.extend(block_idx)
                weights.extend(w / norm for w in block_w)
        return np.asarray(indices, dtype=np.intp), np.asarray(weights, dtype=np.float64)

    def dense(self, texts: Iterable[str]) -> np.ndarray:
        rows = [self.sparse(t) for t in texts]
        matrix = np.zeros((len(rows), self.size), dtype=np.float32)
        for r, (idx, w) in enumerate(rows):
            matrix[r, idx] = w
        return matrix
