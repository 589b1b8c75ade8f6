"""Presenting localization results: JSON (conventions.md), CSV rows, terminal table, plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .base import FrameEstimate, LocalizationResult

CSV_COLUMNS = ["path", "method", "azimuth_deg", "confidence", "n_frames", "n_active", "status"]
"""Columns of ``neuroaudio localize --format csv`` (one row per file)."""


def frame_json_line(frame: FrameEstimate, path: str | None = None) -> str:
    """One ``--format jsonl`` line: ``{"t_s", "azimuth_deg", "confidence"}`` (+ ``"path"``)."""
    d: dict[str, Any] = frame.to_json()
    if path is not None:
        d["path"] = path
    return json.dumps(d)


def result_json_line(result: LocalizationResult, path: str, method: str) -> str:
    """The per-file JSON object of conventions.md, on one line."""
    return json.dumps(result.to_json(path, method))


def csv_row(result: LocalizationResult | None, path: str, method: str, status: str = "ok") -> dict:
    """A ``--format csv`` row (empty prediction fields when the file failed)."""
    if result is None:
        return {"path": path, "method": method, "azimuth_deg": "", "confidence": "",
                "n_frames": "", "n_active": "", "status": status}
    return {"path": path, "method": method,
            "azimuth_deg": "" if result.azimuth_deg is None else f"{result.azimuth_deg:.2f}",
            "confidence": f"{result.confidence:.4f}", "n_frames": len(result.frames),
            "n_active": sum(f.active for f in result.frames), "status": status}


def plot_result(result: LocalizationResult, out: str | Path, title: str = "") -> None:
    """Spatial spectrum over time (frames × azimuth heat map, active frames' peaks marked) and the
    pooled spectrum with the final direction on a polar axis. Needs the frames' spectra
    (``Localizer.keep_frame_spectra = True``).

    A localizer may add panels of its own: ``result.extra["plot_panels"]``, a list of callables
    ``draw(ax)`` each drawing one extra panel on a matplotlib axis (e.g. gcc-phat-sm's learned mask
    over the spectrogram); they are placed to the right of the two standard panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = result.grid_deg
    t = np.array([f.t_s for f in result.frames])
    S = np.stack([f.spectrum if f.spectrum is not None else np.zeros(len(grid))
                  for f in result.frames]) if result.frames else np.zeros((1, len(grid)))
    S = S / np.maximum(S.max(axis=1, keepdims=True), 1e-12)        # per-frame peak = 1
    panels = list(result.extra.get("plot_panels", []))
    cols = 2 + len(panels)
    fig = plt.figure(figsize=(11 + 5.5 * len(panels), 4.2))
    ax = fig.add_subplot(1, cols, 1)
    step = grid[1] - grid[0] if len(grid) > 1 else 1.0
    hop = t[1] - t[0] if len(t) > 1 else 0.1
    t0 = (t[0] if len(t) else 0.0) - hop / 2
    im = ax.imshow(S.T, origin="lower", aspect="auto", cmap="magma",
                   extent=(t0, t0 + hop * len(S), grid[0] - step / 2, grid[-1] + step / 2))
    act = [(f.t_s, f.azimuth_deg) for f in result.frames if f.azimuth_deg is not None]
    if act:
        ax.plot(*zip(*act, strict=True), ".", color="cyan", ms=3, label="active frames' peak")
        ax.legend(loc="upper right", fontsize=8)
    if result.azimuth_deg is not None:
        ax.axhline(result.azimuth_deg, color="white", lw=0.8, ls="--")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("azimuth (deg)")
    ax.set_title("spatial spectrum per frame (peak = 1)")
    fig.colorbar(im, ax=ax, fraction=0.04)
    pax = fig.add_subplot(1, cols, 2, projection="polar")
    th = np.deg2rad(np.append(grid, grid[0]))
    pooled = result.spectrum / max(float(result.spectrum.max()), 1e-12)
    pax.plot(th, np.append(pooled, pooled[0]), lw=1.5)
    if result.azimuth_deg is not None:
        a = np.deg2rad(result.azimuth_deg)
        pax.annotate("", xy=(a, 1.0), xytext=(0, 0),
                     arrowprops=dict(arrowstyle="->", color="crimson", lw=2))
        verdict = f"{result.azimuth_deg:.1f}° (confidence {result.confidence:.2f})"
    else:
        verdict = "no source detected"
    pax.set_title(f"pooled over {result.n_pooled} frames: {verdict}", fontsize=10)
    pax.set_rticks([])
    for k, draw in enumerate(panels):
        draw(fig.add_subplot(1, cols, 3 + k))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    from ..io_utils import save_figure

    save_figure(fig, out)
