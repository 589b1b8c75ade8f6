"""A layer of independent SRM neurons trained by an aggregate-label rule (MPD-AL or MST), online.

Every neuron sees the same afferents; each trial gives each neuron a desired spike count. Training
is online: per trial one simulation of all neurons, then one update for each neuron whose count is
wrong (``W[:, m] += lr * direction + momentum * previous step``). Shapes: ``W`` ``[N afferents, M]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..neurons.srm import SpikeInput, SRMParams, fire, free_potential
from .rules import mpdal_update, mst_update

RULES = ("mpdal", "mpdal_multi", "mst")
"""mpdal: one t* per erroneous trial; mpdal_multi: one t* per missing/extra spike; mst: Gütig 2016."""


@dataclass
class EpochStats:
    """What one training epoch did: erroneous (trial, neuron) pairs, updates, CPU seconds."""

    errors: int
    updates: int
    cpu_s: float


class AggregateLearner:
    """``M`` neurons on ``N`` afferents with a learning rule; weights in units of theta per unit PSP."""

    def __init__(self, n_afferents: int, n_neurons: int, params: SRMParams, rule: str = "mpdal",
                 lr: float = 1e-3, momentum: float = 0.0, init_mean: float = 0.0, init_std: float = 0.01,
                 seed: int = 0) -> None:
        if rule not in RULES:
            raise InputError(f"unknown rule {rule!r}; use one of {', '.join(RULES)}")
        if lr <= 0 or not 0 <= momentum < 1:
            raise InputError(f"lr={lr} must be > 0 and momentum={momentum} in [0, 1)")
        self.params, self.rule, self.lr, self.momentum = params, rule, lr, momentum
        rng = np.random.default_rng(seed)
        self.W = rng.normal(init_mean, init_std, (n_afferents, n_neurons))
        self._velocity = np.zeros_like(self.W)

    @property
    def n_neurons(self) -> int:
        return self.W.shape[1]

    def counts(self, trials: Sequence[SpikeInput], batch: int = 32) -> np.ndarray:
        """Output spike counts ``[B, M]`` (batched simulation)."""
        out = np.zeros((len(trials), self.n_neurons), dtype=np.int64)
        for s in range(0, len(trials), batch):
            chunk = list(trials[s:s + batch])
            vf = free_potential(chunk, self.W, self.params)  # [b, M, T]
            _, sp = fire(vf, self.params.theta, self.params)
            out[s:s + len(chunk)] = np.array([x.size for x in sp]).reshape(len(chunk), self.n_neurons)
        return out

    def trace(self, trial: SpikeInput) -> tuple[np.ndarray, list[np.ndarray]]:
        """Membrane potential ``[M, T]`` (with resets) and spike grid indices per neuron."""
        vf = free_potential([trial], self.W, self.params)[0]
        return fire(vf, self.params.theta, self.params)

    def directions(self, trial: SpikeInput, desired: np.ndarray) -> list[tuple[int, np.ndarray, int]]:
        """Per erroneous neuron: (neuron, weight direction [N], t* grid index) for this trial."""
        vf = free_potential([trial], self.W, self.params)[0]  # [M, T]
        v, sp = fire(vf, self.params.theta, self.params)
        out = []
        for m in range(self.n_neurons):
            if sp[m].size == desired[m]:
                continue
            if self.rule in ("mpdal", "mpdal_multi"):
                r = mpdal_update(trial, v[m], sp[m], int(desired[m]), self.params,
                                 per_error=self.rule == "mpdal_multi")
            else:
                r = mst_update(trial, self.W[:, m], vf[m], sp[m].size, int(desired[m]), self.params)
            if r is not None:
                out.append((m, r[0], r[1]))
        return out

    def train_trial(self, trial: SpikeInput, desired: np.ndarray) -> int:
        """One online step on one trial; returns the number of neurons updated."""
        dirs = self.directions(trial, np.asarray(desired))
        for m, g, _ in dirs:
            step = self.lr * g + self.momentum * self._velocity[:, m]
            self._velocity[:, m] = step
            self.W[:, m] += step
        return len(dirs)

    def train_epoch(self, trials: Sequence[SpikeInput], desired: np.ndarray, rng: np.random.Generator,
                    on_trial: Callable[[], None] | None = None) -> EpochStats:
        """One pass over ``trials`` in random order; ``desired`` ``[B, M]``. CPU time covers training only."""
        desired = np.asarray(desired).reshape(len(trials), -1)
        order = rng.permutation(len(trials))
        errors = updates = 0
        cpu = 0.0
        for b in order.tolist():
            t0 = time.process_time()
            n = self.train_trial(trials[b], desired[b])
            cpu += time.process_time() - t0
            errors += n
            updates += n
            if on_trial is not None:
                on_trial()
        return EpochStats(errors, updates, cpu)
