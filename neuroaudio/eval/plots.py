"""Plots of a batch evaluation (matplotlib, Agg backend; written atomically as PNG).

- :func:`mae_vs_snr`: error-vs-SNR curves, one line per method: MAE (degrees, left panel) and
  ACC@10° (right panel) against the ``snr_db`` groups of ``metrics.json``.
- :func:`error_histogram`: distribution of the circular error per method (one panel per method,
  1° … 180° in 5° bins; failed rows are drawn as a separate bar at "failed").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..io_utils import atomic_path
from .metrics import NO_GROUP, row_error


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    _plt().close(fig)
    return path


def mae_vs_snr(metrics: Mapping[str, Any], path: str | Path) -> Path:
    """MAE and ACC@10° vs SNR (dB), one line per method, from ``metrics.json``'s snr_db groups."""
    plt = _plt()
    fig, (ax_mae, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for method, m in metrics.items():
        groups = m.get("groups", {}).get("snr_db", {})
        keys = [k for k in groups if k != NO_GROUP]
        try:
            snr = np.array([float(k) for k in keys])
        except ValueError:
            continue
        order = np.argsort(snr)
        mae = np.array([groups[k]["mae_deg"] for k in keys], dtype=float)[order]
        acc = np.array([groups[k]["acc10"] for k in keys], dtype=float)[order]
        ax_mae.plot(snr[order], mae, marker="o", label=method)
        ax_acc.plot(snr[order], 100 * acc, marker="o", label=method)
    ax_mae.set_xlabel("SNR (dB)")
    ax_mae.set_ylabel("MAE (degrees)")
    ax_mae.set_title("Mean absolute azimuth error (failed rows = 180°)")
    ax_mae.set_ylim(bottom=0)
    ax_acc.set_xlabel("SNR (dB)")
    ax_acc.set_ylabel("ACC@10° (%)")
    ax_acc.set_title("Rows within 10°")
    ax_acc.set_ylim(0, 102)
    for ax in (ax_mae, ax_acc):
        ax.grid(alpha=0.3)
    ax_mae.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, Path(path))


def error_histogram(rows: Sequence[Mapping[str, Any]], methods: Sequence[str], path: str | Path,
                    bin_deg: float = 5.0) -> Path:
    """Histogram of the circular error (degrees) per method; failed rows as a separate bar."""
    plt = _plt()
    n = max(1, len(methods))
    cols = min(3, n)
    nrows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
    edges = np.arange(0.0, 180.0 + bin_deg, bin_deg)
    for ax, method in zip(axes.flat, methods, strict=False):
        errs = [row_error(r) for r in rows if r["method"] == method]
        ok = np.array([e for e in errs if e is not None], dtype=float)
        n_failed = len(errs) - len(ok)
        counts, _ = np.histogram(np.clip(ok, 0, 180), bins=edges)
        ax.bar(edges[:-1], counts, width=bin_deg, align="edge", color="C0", label="rows")
        if n_failed:
            ax.bar([185.0], [n_failed], width=bin_deg, align="edge", color="C3", label="failed")
        ax.set_xlim(0, 195)
        ax.set_xticks([0, 30, 60, 90, 120, 150, 180])
        med = f"{np.median(ok):.1f}°" if len(ok) else "-"
        ax.set_title(f"{method}: n={len(errs)}, failed={n_failed}, median {med}", fontsize=9)
        ax.set_xlabel("azimuth error (degrees)")
        ax.set_ylabel("rows")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(methods):]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, Path(path))
