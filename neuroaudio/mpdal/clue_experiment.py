"""Clue-detection experiment: train several rules (MPD-AL, MST) on the same data, same seeds, one run.

Each rule starts from the same initial weights and sees the training trials in the same order.
Every ``eval_every`` training trials the spike-count accuracy on the held-out test trials (fraction
with output count == clue count) is measured; the CPU time counted is that of training only
(``time.process_time`` around each online step), so evaluation does not blur the comparison.
"Time to converge" = training CPU time until test accuracy first reaches ``target_accuracy``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..neurons.srm import SRMParams
from .clues import ClueTaskConfig, ClueTrial, make_clue_dataset
from .learner import AggregateLearner


@dataclass(frozen=True)
class RuleSetting:
    """One learning rule to train (an entry of the ``rules`` list of a `train mpdal` config)."""

    rule: str = "mpdal"
    """``mpdal``, ``mpdal_multi`` or ``mst`` (:data:`~neuroaudio.mpdal.learner.RULES`)."""
    lr: float = 0.003
    """Learning rate."""
    momentum: float = 0.0
    """Momentum of the weight updates, in [0, 1)."""

    @property
    def name(self) -> str:
        return f"{self.rule}(lr={self.lr:g},mom={self.momentum:g})"


@dataclass(frozen=True)
class ClueTrainConfig:
    """Training schedule of the clue task (the ``train`` section of a `train mpdal` config)."""

    epochs: int = 5
    """Passes over the training trials."""
    eval_every: int = 100
    """Test accuracy is measured every this many training trials (and at the end)."""
    target_accuracy: float = 0.95
    """A rule has converged when its test spike-count accuracy first reaches this fraction."""
    init_mean: float = 0.0
    """Mean of the initial weights (all rules start from the same ones)."""
    init_std: float = 0.01
    """Standard deviation of the initial weights."""
    stop_at_target: bool = False
    """Stop a rule's training once it has converged."""


@dataclass
class RuleRun:
    """One rule's learning curve: rows of (trials seen, epoch, training CPU s, updates, test accuracy)."""

    setting: RuleSetting
    curve: list[dict] = field(default_factory=list)
    learner: AggregateLearner | None = None

    def first_reaching(self, acc: float) -> dict | None:
        for row in self.curve:
            if row["test_accuracy"] >= acc:
                return row
        return None

    def summary(self, target: float) -> dict:
        hit = self.first_reaching(target)
        last = self.curve[-1]
        upd = last["updates"]
        return {
            "rule": self.setting.rule, "lr": self.setting.lr, "momentum": self.setting.momentum,
            "final_test_accuracy": last["test_accuracy"],
            "best_test_accuracy": max(r["test_accuracy"] for r in self.curve),
            "target_accuracy": target,
            "cpu_s_to_target": None if hit is None else hit["cpu_s"],
            "trials_to_target": None if hit is None else hit["trials"],
            "updates_to_target": None if hit is None else hit["updates"],
            "total_cpu_s": last["cpu_s"], "total_updates": upd,
            "cpu_ms_per_trial": 1000 * last["cpu_s"] / max(last["trials"], 1),
        }


def run_clue_experiment(task: ClueTaskConfig, train: ClueTrainConfig, rules: list[RuleSetting],
                        params: SRMParams, seed: int,
                        on_progress: Callable[[str, int, int], None] | None = None,
                        data: tuple[list[ClueTrial], list[ClueTrial]] | None = None
                        ) -> tuple[list[RuleRun], list[ClueTrial], list[ClueTrial]]:
    """Train every rule on the same clue data; returns the runs and the (train, test) trials."""
    train_trials, test_trials = data if data is not None else make_clue_dataset(task, seed)
    x_tr = [t.spikes for t in train_trials]
    x_te = [t.spikes for t in test_trials]
    y_tr = np.array([t.label for t in train_trials])[:, None]
    y_te = np.array([t.label for t in test_trials])
    total = train.epochs * len(x_tr)
    runs = []
    for setting in rules:
        learner = AggregateLearner(task.n_afferents, 1, params, setting.rule, setting.lr, setting.momentum,
                                   train.init_mean, train.init_std, seed=seed)
        run = RuleRun(setting, learner=learner)
        acc0 = float((learner.counts(x_te)[:, 0] == y_te).mean())
        run.curve.append({"trials": 0, "epoch": 0, "cpu_s": 0.0, "updates": 0, "test_accuracy": acc0})
        order_rng = np.random.default_rng(seed + 1)  # same presentation order for every rule
        seen = updates = 0
        cpu = 0.0
        done = False
        for epoch in range(1, train.epochs + 1):
            order = order_rng.permutation(len(x_tr))
            for b in order.tolist():
                t0 = time.process_time()
                updates += learner.train_trial(x_tr[b], y_tr[b])
                cpu += time.process_time() - t0
                seen += 1
                if seen % train.eval_every == 0 or seen == total:
                    acc = float((learner.counts(x_te)[:, 0] == y_te).mean())
                    run.curve.append({"trials": seen, "epoch": epoch, "cpu_s": cpu, "updates": updates,
                                      "test_accuracy": acc})
                    if train.stop_at_target and acc >= train.target_accuracy:
                        done = True
                if on_progress is not None:
                    on_progress(setting.name, seen, total)
                if done:
                    break
            if done:
                break
        runs.append(run)
    return runs, train_trials, test_trials


def speedup_table(runs: list[RuleRun], target: float) -> list[dict]:
    """Each run's summary plus its CPU-time ratio against the first MST run (MST time / this time)."""
    sums = [r.summary(target) for r in runs]
    ref = next((s for s in sums if s["rule"] == "mst" and s["cpu_s_to_target"]), None)
    for s in sums:
        s["speedup_vs_mst"] = (ref["cpu_s_to_target"] / s["cpu_s_to_target"]
                               if ref and s["cpu_s_to_target"] else None)
    return sums
