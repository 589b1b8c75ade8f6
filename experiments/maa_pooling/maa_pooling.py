"""How to pool a clip's MAA frame posteriors into one direction: rules compared per SNR.

Runs a checkpoint on the cached validation frames of its training run (every frame of each
validation clip; `neuroaudio train maa` builds them under ``<cache_dir>/val``) and pools the
time-averaged softmax of each clip's frames with several rules, side by side:

- ``mean``: the plain mean of the frame posteriors (what the Localizer base class does with
  spectra normalised to sum 1, apart from its level gate);
- ``logmean``: the mean of log posteriors (a product of experts: frames as independent evidence);
- ``conf``: the mean weighted by each frame's peak posterior ``max_k p(k)`` (confident frames
  count more: frames of noise alone give flat posteriors);
- ``conf2``: weighted by the squared peak;
- ``top50``: the mean of the half of the frames with the highest peak;
- ``oracle``: the mean over the source-active frames (``src_db >= -15 dB``, known only in
  simulation: the bound a perfect activity detector would reach).

``--symmetric K``: each frame's posterior is first averaged over the first K of the array's
symmetric scenes (:mod:`neuroaudio.maa.augment`; the localizer's ``-o symmetric=K``).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python -m experiments.maa_pooling.maa_pooling --model runs/maa/model.pt
    OMP_NUM_THREADS=1 nice -n 10 python -m experiments.maa_pooling.maa_pooling --model runs/maa/model.pt \\
        --symmetric 8
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from neuroaudio.maa.checkpoint import load_model
from neuroaudio.maa.data import load_cache

RULES = ("mean", "logmean", "conf", "conf2", "top50", "oracle")


def pool(p: np.ndarray, rule: str, src_db: np.ndarray) -> np.ndarray:
    """Frame posteriors ``[n, 360]`` → pooled score ``[360]`` by ``rule``."""
    peak = p.max(axis=1)
    if rule == "mean":
        return p.mean(0)
    if rule == "logmean":
        return np.log(np.maximum(p, 1e-12)).mean(0)
    if rule == "conf":
        return (p * peak[:, None]).sum(0)
    if rule == "conf2":
        return (p * peak[:, None] ** 2).sum(0)
    if rule == "top50":
        k = max(1, len(p) // 2)
        return p[np.argsort(-peak)[:k]].mean(0)
    if rule == "oracle":
        m = ~(src_db < -15.0)
        return p[m].mean(0) if m.any() else p.mean(0)
    raise ValueError(rule)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--cache", default=None, help="validation cache folder (default: the run's)")
    ap.add_argument("--symmetric", type=int, default=1, help="average over K symmetric scenes (1: none)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    net, ck = load_model(args.model)
    cache = Path(args.cache or Path(ck["config"]["data"]["cache_dir"]) / "val")
    data = load_cache(cache)
    from neuroaudio.encoding.encoder import RFPLCEncoder
    from neuroaudio.maa.augment import FrameSymmetries
    from neuroaudio.maa.checkpoint import checkpoint_array, checkpoint_encoder

    sym = FrameSymmetries(RFPLCEncoder(checkpoint_array(ck), checkpoint_encoder(ck),
                                       int(ck["sample_rate_hz"])), net.cfg.n_azimuth)
    probs = []
    with torch.no_grad():
        for s in range(0, len(data), 256):
            x = torch.from_numpy(data.x[s:s + 256])
            probs.append(sym.average(net.predict_proba, x, args.symmetric).numpy())
    p = np.concatenate(probs).astype(np.float64)
    grid = np.arange(p.shape[1]) * 360.0 / p.shape[1]
    errs: dict[str, dict[float, list[float]]] = {r: {} for r in RULES}
    for c in np.unique(data.clip):
        m = data.clip == c
        az, snr = float(data.azimuth_deg[m][0]), float(data.snr_db[m][0])
        for r in RULES:
            est = grid[int(np.argmax(pool(p[m], r, data.src_db[m])))]
            d = abs(est - az) % 360.0
            errs[r].setdefault(snr, []).append(min(d, 360.0 - d))
    snrs = sorted(errs["mean"])
    print(f"clips: {len(np.unique(data.clip))} ({cache}); model {args.model}; symmetric={args.symmetric}")
    print("| pooling | " + " | ".join(f"{s:g} dB" for s in snrs) + " | all |")
    print("|---" * (len(snrs) + 2) + "|")
    for r in RULES:
        row = [np.mean(errs[r][s]) for s in snrs]
        allv = np.mean([e for s in snrs for e in errs[r][s]])
        print(f"| {r} MAE | " + " | ".join(f"{v:.1f}" for v in row) + f" | {allv:.1f} |")
    for r in RULES:
        row = [100 * np.mean(np.asarray(errs[r][s]) <= 5) for s in snrs]
        print(f"| {r} ACC@5 % | " + " | ".join(f"{v:.0f}" for v in row) + " | |")


if __name__ == "__main__":
    main()
