"""Pictures of an encoding: per-mic phase-locked spike rasters and each pair's coincidence map."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io_utils import save_figure
from .encoder import EncoderOutput
from .phase_lock import spike_times


def plot_encoding(out: EncoderOutput, path: str | Path, n_bands_shown: int = 4,
                  raster_s: float = 0.17, timing: str = "subsample") -> None:
    """Write a PNG: top row, spike rasters of a few bands per mic over the first ``raster_s``
    seconds that carry spikes; bottom rows, each pair's coincidence map (delay × band) summed over
    all frames and steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_pairs = len(out.pairs)
    mics = int(out.pairs.max()) + 1
    cols = min(n_pairs, 3)
    rows = 1 + int(np.ceil(n_pairs / cols))
    fig = plt.figure(figsize=(4.2 * cols, 3.2 * rows))
    gs = fig.add_gridspec(rows, cols)
    ax = fig.add_subplot(gs[0, :])
    n_bands = len(out.band_hz)
    shown = np.unique(np.linspace(n_bands * 0.15, n_bands - 1, n_bands_shown).astype(int))
    if out.steps:
        off = np.concatenate([s.spike_offset for s in out.steps])      # [S, M, K]
        cnt = np.concatenate([s.n_spikes for s in out.steps])
        step_len = int(round(out.step_s * out.fs))
        busy = np.flatnonzero(cnt.sum(axis=(1, 2)) > 0)
        first = int(busy[0]) if len(busy) else 0
        last = min(len(off), first + max(1, int(round(raster_s / out.step_s))))
        colors = plt.cm.tab10(np.arange(mics) % 10)
        row = 0
        ticks, labels = [], []
        for b in shown:
            # the band's strongest neuron in the shown steps: one raster line per mic
            neurons = np.flatnonzero(out.neuron_band == b)
            k = int(neurons[np.argmax(cnt[first:last][..., neurons].sum(axis=(0, 1)))])
            period = out.fs / out.neuron_hz[k]
            for m in range(mics):
                ts = [((s + 1) * step_len - 1 + spike_times(off[s, m, k], period, int(cnt[s, m, k]),
                                                             timing)) / out.fs
                      for s in range(first, last)]
                ts = np.concatenate(ts) if ts else np.zeros(0)
                ax.vlines(ts * 1000, row + 0.1, row + 0.9, color=colors[m], lw=0.6,
                          label=f"mic {m}" if b == shown[0] else None)
                row += 1
            ticks.append(row - mics / 2)
            labels.append(f"{out.neuron_hz[k]:.0f} Hz")
            row += 0.5
        ax.set_yticks(ticks, labels)
        ax.set_xlabel("time (ms)")
        ax.legend(loc="upper right", fontsize=7, ncol=mics)
    ax.set_title("phase-locked spikes (one line per mic, strongest neuron of a few bands)")
    total = out.coincidence.sum(axis=(0, 1)) if len(out.coincidence) else \
        np.zeros((n_pairs, len(out.delays_samples), n_bands))
    d = out.delays_samples
    for p in range(n_pairs):
        a = fig.add_subplot(gs[1 + p // cols, p % cols])
        shown_map = total[p] / np.maximum(total[p].max(axis=0, keepdims=True), 1)   # per band
        a.imshow(shown_map.T, origin="lower", aspect="auto", cmap="magma",
                 extent=[d[0], d[-1], -0.5, n_bands - 0.5])
        yt = np.linspace(0, n_bands - 1, 5).astype(int)
        a.set_yticks(yt, [f"{out.band_hz[i]:.0f}" for i in yt])
        i, j = out.pairs[p]
        a.set_title(f"pair ({i}, {j}): coincidences (each band / its max)", fontsize=9)
        a.set_xlabel("delay τ = t_j − t_i (samples)")
        a.set_ylabel("band (Hz)")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
