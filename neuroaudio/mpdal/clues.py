"""The clue-detection (feature-detection) task of aggregate-label learning (Gütig 2016; MPD-AL).

``n_features`` fixed spike patterns ("features", each ``feature_s`` long over all ``n_afferents``
afferents, Poisson at ``rate_hz``) are embedded at random, non-overlapping times in Poisson
background noise of the same rate, so no single afferent's rate gives them away. Each feature type
occurs a Poisson(``mean_occurrences``) number of times per trial. The first ``n_targets`` types are
the clues; the aggregate label is the total number of clue occurrences in the trial, and the
neuron must fire exactly that many spikes (one per clue) -- it is never told where the clues are.

Chosen (the MPD-AL paper's exact values could not be read; the family's standard setting, Gütig
2016): 500 afferents, 5 Hz, 50 ms features, 10 feature types, 1 s of background per trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..neurons.srm import SpikeInput


@dataclass(frozen=True)
class ClueTaskConfig:
    """Clue task parameters (the ``clues`` section of a `train mpdal` config)."""

    n_afferents: int = 500
    """Input neurons."""
    rate_hz: float = 5.0
    """Poisson rate of every afferent, in the background and inside the features (Hz)."""
    feature_s: float = 0.050
    """Length of each feature, a fixed spike pattern over all afferents (s)."""
    n_features: int = 10
    """Feature types; the first ``n_targets`` are the clues, the others distractors."""
    n_targets: int = 1
    """Clue types; a trial's label is the number of clue occurrences in it."""
    mean_occurrences: float = 0.5
    """Poisson mean of each type's occurrences per trial."""
    background_s: float = 1.0
    """Background noise per trial (s), the features added on top of it."""
    n_train: int = 200
    """Training trials."""
    n_test: int = 200
    """Held-out test trials."""

    def __post_init__(self) -> None:
        if not 1 <= self.n_targets <= self.n_features:
            raise InputError(f"n_targets={self.n_targets} must be in [1, n_features={self.n_features}]")
        for name in ("n_afferents", "n_train", "n_test"):
            if getattr(self, name) < 1:
                raise InputError(f"clue task {name} must be >= 1")
        if self.rate_hz <= 0 or self.feature_s <= 0 or self.background_s <= 0:
            raise InputError("clue task rate_hz, feature_s and background_s must be > 0")


@dataclass
class ClueTrial:
    """One trial: its input spikes, the label (clue count) and where each feature sits (for plots)."""

    spikes: SpikeInput
    label: int
    onsets_s: np.ndarray       # [occurrences] feature onset times
    feature_ids: np.ndarray    # [occurrences] feature type of each
    targets: tuple[int, ...] = field(default=())


def make_features(cfg: ClueTaskConfig, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """The fixed feature patterns: per type, (spike times within [0, feature_s), afferent indices)."""
    feats = []
    for _ in range(cfg.n_features):
        n = rng.poisson(cfg.rate_hz * cfg.feature_s * cfg.n_afferents)
        feats.append((rng.uniform(0, cfg.feature_s, n), rng.integers(0, cfg.n_afferents, n)))
    return feats


def make_trial(cfg: ClueTaskConfig, features: list[tuple[np.ndarray, np.ndarray]],
               rng: np.random.Generator) -> ClueTrial:
    """One trial: background segments (total ``background_s``) interleaved with feature occurrences."""
    counts = rng.poisson(cfg.mean_occurrences, cfg.n_features)
    ids = rng.permutation(np.repeat(np.arange(cfg.n_features), counts))
    n_occ = ids.size
    gaps = rng.dirichlet(np.ones(n_occ + 1)) * cfg.background_s  # background pieces between features
    onsets = np.cumsum(gaps[:-1]) + np.arange(n_occ) * cfg.feature_s
    duration = cfg.background_s + n_occ * cfg.feature_s
    nb = rng.poisson(cfg.rate_hz * cfg.n_afferents * duration)
    bt, ba = rng.uniform(0, duration, nb), rng.integers(0, cfg.n_afferents, nb)
    inside = np.zeros(nb, dtype=bool)
    for on in onsets:  # a feature replaces the background during its window (loop over occurrences)
        inside |= (bt >= on) & (bt < on + cfg.feature_s)
    times, affs = [bt[~inside]], [ba[~inside]]
    for on, k in zip(onsets, ids, strict=True):
        times.append(features[k][0] + on)
        affs.append(features[k][1])
    t, a = np.concatenate(times), np.concatenate(affs)
    order = np.argsort(t, kind="stable")
    label = int(np.isin(ids, np.arange(cfg.n_targets)).sum())
    return ClueTrial(SpikeInput(t[order], a[order], cfg.n_afferents, duration), label, onsets, ids,
                     tuple(range(cfg.n_targets)))


def make_clue_dataset(cfg: ClueTaskConfig, seed: int) -> tuple[list[ClueTrial], list[ClueTrial]]:
    """Train and test trials sharing one set of feature patterns, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    feats = make_features(cfg, rng)
    train = [make_trial(cfg, feats, rng) for _ in range(cfg.n_train)]
    test = [make_trial(cfg, feats, rng) for _ in range(cfg.n_test)]
    return train, test
