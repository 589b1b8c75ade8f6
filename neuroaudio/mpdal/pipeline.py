"""Run a `neuroaudio train mpdal` pipeline: the clue task (MPD-AL vs MST) or spoken digits; write outputs.

Outputs under ``out_dir``: ``log.csv`` (learning curve rows), ``results.json`` (summary numbers, the
config, timings), ``*.png`` plots; the clue task also ``model_<rule>.pt``, each rule's trained
neuron (:mod:`.checkpoint`; ``neuroaudio export`` writes it as NIR). Files are written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..io_utils import write_csv_atomic, write_json_atomic
from .checkpoint import save
from .clue_experiment import run_clue_experiment, speedup_table
from .config import PipelineConfig, clue_sections
from .learner import AggregateLearner
from .plots import plot_learning_curves, plot_raster, plot_trace_with_t_star
from .rules import mpdal_t_star

Progress = Callable[[str, int, int], None]


def run_clues(cfg: PipelineConfig, out_dir: Path, on_progress: Progress | None = None,
              plots: bool = True) -> dict:
    """Train every configured rule on one clue dataset; return (and write) the summary."""
    task, train, rules = clue_sections(cfg)
    p = cfg.neuron
    runs, tr, te = run_clue_experiment(task, train, rules, p, cfg.seed, on_progress)
    rows = [{"rule": r.setting.rule, "lr": r.setting.lr, "momentum": r.setting.momentum, **row}
            for r in runs for row in r.curve]
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(out_dir / "log.csv", rows)
    summary = speedup_table(runs, train.target_accuracy)
    labels = np.array([t.label for t in te])
    result = {
        "task": "clues", "seed": cfg.seed,
        "config": {"clues": vars(task), "train": vars(train), "neuron": vars(p),
                   "rules": [vars(r) for r in rules]},
        "test_label_histogram": np.bincount(labels).tolist(),
        "chance_accuracy_majority": float(np.bincount(labels).max() / labels.size),
        "rules": summary,
        "summary": [{k: r[k] for k in ("rule", "lr", "final_test_accuracy", "cpu_s_to_target",
                                       "trials_to_target", "speedup_vs_mst")} for r in summary],
    }
    write_json_atomic(out_dir / "results.json", result)
    for r in runs:                      # the trained neuron of every rule (neuroaudio export)
        if r.learner is not None:
            save(out_dir / f"model_{r.setting.rule}.pt", r.learner.W, p, r.setting.rule, "clues",
                 {"lr": r.setting.lr, "seed": cfg.seed})
    if plots:
        _clue_plots(out_dir, runs, tr, te, task, train, cfg)
    return result


def _windows(trial, feature_s: float, n_targets: int) -> list[tuple[float, float, bool]]:
    return [(float(o), float(o) + feature_s, bool(k < n_targets))
            for o, k in zip(trial.onsets_s, trial.feature_ids, strict=True)]


def _clue_plots(out_dir: Path, runs, tr, te, task, train, cfg: PipelineConfig) -> None:
    p = cfg.neuron
    plot_learning_curves(out_dir / "learning_curves.png", {r.setting.name: r.curve for r in runs},
                         train.target_accuracy)
    demo = next((t for t in te if t.label >= 2), te[0])
    win = _windows(demo, task.feature_s, task.n_targets)
    target_win = [(a, b) for a, b, is_t in win if is_t]
    # t* of the untrained neuron (too few spikes): the highest sub-threshold peak.
    fresh = AggregateLearner(task.n_afferents, 1, p, "mpdal", 1e-3, 0.0, train.init_mean, train.init_std,
                             seed=cfg.seed)
    fresh.W *= 0.7 / max(1e-9, float(fresh.trace(demo.spikes)[0][0].max()))  # visible scale, same shape
    v, sp = fresh.trace(demo.spikes)
    n_star = mpdal_t_star(v[0], sp[0], p, too_few=True) if sp[0].size < demo.label else None
    plot_trace_with_t_star(out_dir / "trace_t_star_too_few.png", v[0], sp[0], n_star, p,
                           f"untrained neuron (weights rescaled), label {demo.label}: t* = highest "
                           "sub-threshold peak", target_win)
    # t* of a neuron with too many spikes: the trained one with lowered threshold-equivalent gain.
    trained = runs[0].learner
    assert trained is not None
    over = AggregateLearner(task.n_afferents, 1, p, "mpdal", 1e-3)
    over.W = trained.W * 1.6
    v, sp = over.trace(demo.spikes)
    if sp[0].size > demo.label:
        n_star = mpdal_t_star(v[0], sp[0], p, too_few=False)
        plot_trace_with_t_star(out_dir / "trace_t_star_too_many.png", v[0], sp[0], n_star, p,
                               f"trained {runs[0].setting.rule} weights x1.6, label {demo.label}, "
                               f"{sp[0].size} spikes: t* = peak of the spike easiest to remove", target_win)
    outs = []
    for r in runs:
        assert r.learner is not None
        v, sp = r.learner.trace(demo.spikes)
        outs.append(sp[0])
        plot_trace_with_t_star(out_dir / f"trace_trained_{r.setting.rule}.png", v[0], sp[0], None, p,
                               f"trained {r.setting.name}: {sp[0].size} spikes, label {demo.label} "
                               "(green: clue windows)", target_win)
    plot_raster(out_dir / "raster.png", demo.spikes, outs, p,
                f"test trial, label {demo.label}; output rows: {', '.join(r.setting.rule for r in runs)} "
                "(green: clues, grey: distractors)", win)


def run_pipeline(cfg: PipelineConfig, out_dir: Path, on_progress: Progress | None = None,
                 data_dir: Path | None = None, plots: bool = True) -> dict:
    """Dispatch on ``cfg.task``; returns the results dict (also written to ``out_dir/results.json``)."""
    if cfg.task == "clues":
        return run_clues(cfg, out_dir, on_progress, plots)
    from .digits import run_digits

    return run_digits(cfg, out_dir, on_progress, data_dir=data_dir, plots=plots)
