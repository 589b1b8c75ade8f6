"""Plots for aggregate-label learning (matplotlib, Agg): membrane trace with t*, learning curves, rasters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io_utils import atomic_path
from ..neurons.srm import SpikeInput, SRMParams


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def plot_trace_with_t_star(path: Path, v: np.ndarray, spikes: np.ndarray, n_star: int | None, p: SRMParams,
                           title: str, windows: list[tuple[float, float]] | None = None) -> None:
    """Membrane potential ``v`` ``[T]`` with threshold, output spikes and the chosen t* marked."""
    plt = _plt()
    t = np.arange(v.size) * p.dt
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for a, b in windows or []:
        ax.axvspan(a, b, color="tab:green", alpha=0.15, lw=0)
    ax.plot(t, v, lw=0.8, color="k", label="V(t)")
    ax.axhline(p.theta, color="tab:red", ls="--", lw=0.8, label="threshold")
    if spikes.size:
        ax.plot(spikes * p.dt, np.full(spikes.size, p.theta * 1.15), "v", color="tab:red", ms=5,
                label="output spikes")
    if n_star is not None:
        ax.axvline(n_star * p.dt, color="tab:blue", lw=1.2, label="t*")
        ax.plot([n_star * p.dt], [v[n_star]], "o", color="tab:blue")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("V (units of threshold)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7, ncol=4)
    _save(fig, path)
    plt.close(fig)


def plot_learning_curves(path: Path, curves: dict[str, list[dict]], target: float | None = None) -> None:
    """Test spike-count accuracy against training CPU time (left) and trials seen (right), per rule."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, rows in curves.items():
        axes[0].plot([r["cpu_s"] for r in rows], [r["test_accuracy"] for r in rows], "-o", ms=2, label=name)
        axes[1].plot([r["trials"] for r in rows], [r["test_accuracy"] for r in rows], "-o", ms=2, label=name)
    for ax, xl in zip(axes, ("training CPU time (s)", "training trials seen"), strict=True):
        if target is not None:
            ax.axhline(target, color="gray", ls=":", lw=0.8)
        ax.set_xlabel(xl)
        ax.set_ylabel("test spike-count accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)


def plot_raster(path: Path, trial: SpikeInput, out_spikes: list[np.ndarray], p: SRMParams, title: str,
                windows: list[tuple[float, float, bool]] | None = None, max_afferents: int = 200) -> None:
    """Input raster (first ``max_afferents`` afferents), feature windows (target: green, distractor:
    grey) and the output spikes of each neuron below."""
    plt = _plt()
    ratio = max(1, min(len(out_spikes), 20)) * 0.25 + 0.5
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True,
                                 gridspec_kw={"height_ratios": [4, ratio]})
    sel = trial.afferents < max_afferents
    a0.plot(trial.times_s[sel], trial.afferents[sel], "|", ms=2, color="k")
    for a, b, is_target in windows or []:
        a0.axvspan(a, b, color="tab:green" if is_target else "0.6", alpha=0.25, lw=0)
    a0.set_ylabel("afferent")
    a0.set_title(title)
    for m, s in enumerate(out_spikes):
        a1.plot(s * p.dt, np.full(s.size, m), "|", ms=8, color="tab:red")
    a1.set_ylabel("neuron")
    a1.set_xlabel("time (s)")
    a1.set_ylim(-0.5, len(out_spikes) - 0.5)
    _save(fig, path)
    plt.close(fig)


def plot_confusion(path: Path, cm: np.ndarray, title: str) -> None:
    """Confusion matrix ``[true, predicted]`` counts."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    _save(fig, path)
    plt.close(fig)
