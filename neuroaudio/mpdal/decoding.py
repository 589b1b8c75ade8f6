"""Decoding class decisions from the output spike counts of one neuron group per class.

``counts``: ``[samples, classes]`` -- the summed spike count of each class's group.

- Max-count decoding: the class whose group fires most. Ties (including all-silent) are broken at
  random with a seeded generator (never silently in favour of class 0).
- Dynamic decoding (data-driven): the right "aggregate label" per class is hard to fix by hand, and
  groups end up firing on different scales. From the *training* set we learn per class c the mean
  count of group c on its own class, ``pos_c``, and on the other classes, ``neg_c`` (a per-class
  threshold), and decide by the calibrated score ``(count_c - neg_c) / max(pos_c - neg_c, eps)`` --
  "how far between its typical wrong and typical right count" -- ties again random.
- Template decoding (alternative, reported too): nearest per-class mean count vector (Euclidean),
  learned on the training set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _argmax_random_ties(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = rng.random(scores.shape) * 1e-9 * (1 + np.abs(scores).max())
    best = scores.max(axis=1, keepdims=True)
    return np.where(np.isclose(scores, best, rtol=0, atol=1e-12), 1.0 + noise, noise).argmax(axis=1)


def max_count_decode(counts: np.ndarray, seed: int = 0) -> np.ndarray:
    return _argmax_random_ties(np.asarray(counts, dtype=float), np.random.default_rng(seed))


@dataclass
class DynamicDecoder:
    """Per-class count calibration learned on training counts ``[samples, classes]`` and labels."""

    pos: np.ndarray
    neg: np.ndarray
    templates: np.ndarray

    @classmethod
    def fit(cls, counts: np.ndarray, labels: np.ndarray) -> DynamicDecoder:
        counts = np.asarray(counts, dtype=float)
        labels = np.asarray(labels)
        n_cls = counts.shape[1]
        pos = np.zeros(n_cls)
        neg = np.zeros(n_cls)
        templates = np.zeros((n_cls, n_cls))
        for c in range(n_cls):
            own = labels == c
            pos[c] = counts[own, c].mean() if own.any() else 1.0
            neg[c] = counts[~own, c].mean() if (~own).any() else 0.0
            templates[c] = counts[own].mean(axis=0) if own.any() else 0.0
        return cls(pos, neg, templates)

    def scores(self, counts: np.ndarray) -> np.ndarray:
        return (np.asarray(counts, dtype=float) - self.neg) / np.maximum(self.pos - self.neg, 0.1)

    def decode(self, counts: np.ndarray, seed: int = 0) -> np.ndarray:
        return _argmax_random_ties(self.scores(counts), np.random.default_rng(seed))

    def decode_template(self, counts: np.ndarray, seed: int = 0) -> np.ndarray:
        d = ((np.asarray(counts, dtype=float)[:, None, :] - self.templates[None]) ** 2).sum(-1)
        return _argmax_random_ties(-d, np.random.default_rng(seed))
