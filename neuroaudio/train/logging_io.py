"""Training logs: a CSV with one row per epoch and a learning-curve plot (matplotlib, Agg)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io_utils import atomic_path


def write_csv_log(path: str | Path, rows: list[dict[str, Any]], fields: Sequence[str],
                  float_format: str | None = None) -> None:
    """Rewrite the whole log atomically (rows are few: one per epoch); keys not in ``fields`` are
    left out. ``float_format`` (e.g. ``".6g"``) formats the floats; None writes Python's repr."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fields), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r if float_format is None else
                       {k: (format(v, float_format) if isinstance(v, float) else v) for k, v in r.items()})


def read_csv_log(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a log written by :func:`write_csv_log`, numbers parsed as float."""
    p = Path(path)
    if not p.is_file():
        return []
    out = []
    with open(p, newline="") as f:
        for r in csv.DictReader(f):
            out.append({k: _num(v) for k, v in r.items()})
    return out


def _num(v: str) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def plot_learning_curve(rows: list[dict[str, Any]], path: str | Path, title: str,
                        loss_keys: Sequence[str] = ("train_loss", "val_loss"),
                        metric_keys: Sequence[str] = ("train_acc", "val_acc"),
                        metric_label: str = "accuracy") -> None:
    """Two panels over epochs: losses (left) and metrics (right); keys missing from rows are skipped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, keys, ylabel in ((axes[0], loss_keys, "loss"), (axes[1], metric_keys, metric_label)):
        for k in keys:
            ys = [r.get(k) for r in rows]
            if ys and all(isinstance(y, (int, float)) for y in ys):
                ax.plot(ep, ys, marker="o", ms=3, label=k)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def epoch_progress(enabled: bool, info_field: bool = False, transient: bool = True):
    """The rich progress bar of a training epoch: description, bar, steps done/total, time left, and
    with ``info_field`` a free text column (``task.fields["info"]``, e.g. the running loss).
    ``enabled=False`` (non-main ranks, tests) draws nothing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    if info_field:
        columns.append(TextColumn("{task.fields[info]}"))
    return Progress(*columns, disable=not enabled, transient=transient)
