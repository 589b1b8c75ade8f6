"""Is speed perturbation applied as intended in the batched KWS training path? (issue 20)

Runs FSDD clips of the training speakers of one fold through the exact training path of
``pipelines/kws_drf_recipe.yaml`` (:class:`neuroaudio.kws.train.KWSTask` packs the clips,
:func:`neuroaudio.kws.augment.augment_batch` makes the views, the model's front-end computes the
features) at speed factors f = 0.85, 1.0, 1.15 (gain and noise off, same placement draw), and the
same clips through the evaluation path (:func:`neuroaudio.kws.evaluate.evaluate_items` ->
``make_batch(placement='energy')``), and prints, per factor (means over the clips):

- ``dur``: the view's energetic part / the clip's (expected 1/f: f > 1 shorter),
- ``cen``: spectral centroid of the view's energetic part / the clip's (expected ≈ f: pitch and
  formants move with f),
- ``edge``: fraction of views whose energetic part touches the window's edge (uniform placement
  may put it at the very edge; the quieter onset or tail outside it is then cut),
- ``f=1 exact``: largest |view − clip shifted by whole samples| at f = 1 (expected 0),
- feature statistics after floor and MVN: mean, std, floor value, 99th percentile of the word's
  frames, top three mel bands (> 3.4 kHz) over the word's frames,
- the speed factor of each clip of one batch with ``speed: [0.85, 1.15]`` (per clip, not per batch),
- whether validation features equal test-path features (validation is not augmented).

Writes ``OUT/speed_check.png``: log-mel of one clip at the three factors and its evaluation view.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 15 python -m experiments.kws_speed_check.speed_check \
        --root FSDD/recordings --out runs/kws_speed_check
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

from neuroaudio.kws.augment import active_span, augment_batch
from neuroaudio.kws.config import load_config
from neuroaudio.kws.data import item_audio, load_splits, make_batch
from neuroaudio.kws.train import KWSTask

FACTORS = (0.85, 1.0, 1.15)


def centroid_hz(x: np.ndarray, fs: int) -> float:
    """Power-weighted mean frequency (Hz) of ``x`` (Hann window)."""
    p = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / fs)
    return float((p * f).sum() / max(p.sum(), 1e-20))


def shift_error(v: np.ndarray, c: np.ndarray) -> float:
    """Largest |v[t] − c[t − s]| over the window, zeros outside ``c``, at the whole-sample shift s
    that best aligns them (cross-correlation peak)."""
    from scipy.signal import correlate

    s = int(np.argmax(correlate(v, c, mode="full", method="fft"))) - (len(c) - 1)   # v[t] ≈ c[t - s]
    ref = np.zeros_like(v)
    t = np.arange(len(v))
    ok = (t - s >= 0) & (t - s < len(c))
    ref[ok] = c[t[ok] - s]
    return float(np.abs(v - ref).max())


def word_frames(feats: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` bool: frames whose loudest band is above the clip's floor (the word's frames)."""
    return feats.amax(1) > feats.amin(dim=(1, 2))[:, None] + 1e-3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="FSDD recordings folder")
    ap.add_argument("--config", default="pipelines/kws_drf_recipe.yaml")
    ap.add_argument("--test-speaker", default="yweweler")
    ap.add_argument("--clips", type=int, default=256, help="training clips checked")
    ap.add_argument("--resample", default="sinc", choices=["linear", "sinc"],
                    help="for the duration and centroid checks (sinc: no interpolation tilt)")
    ap.add_argument("--out", default="runs/kws_speed_check")
    args = ap.parse_args()

    cfg = load_config(args.config, [f"data.root={args.root}", f"data.test_speakers=[{args.test_speaker}]",
                                    "train.device=cpu"])
    sp = load_splits(cfg.data, cfg.seed)
    task = KWSTask(cfg, sp, torch.device("cpu"))
    task.pack_clips()
    bank, fs, n = task.bank, sp.fs, task.clip
    fe = task.model.frontend
    idx = torch.arange(min(args.clips, len(sp.train)))
    clips = [item_audio(sp.train[int(i)], fs) for i in idx]
    spans = [active_span(c, fs) for c in clips]
    print(f"fold: test {args.test_speaker}; {len(sp.train)} training clips, window {n} samples, "
          f"bank {tuple(bank.audio.shape)}")

    ev_x, _ = make_batch([sp.train[int(i)] for i in idx], fs, n, placement=cfg.data.placement)
    ev = fe(torch.from_numpy(ev_x))
    rows, views = [], {}
    for f in FACTORS:
        aug = dataclasses.replace(cfg.train.augment, speed=[f, f], gain_db=0.0, noise_prob=0.0,
                                  resample=args.resample)
        y = augment_batch(bank, idx, aug, torch.Generator().manual_seed(0))   # same placement draws
        feats = fe(y)
        views[f] = feats[0]
        dur, cen, cut, err = [], [], 0, 0.0
        for i, c in enumerate(clips):
            a, b = spans[i]
            v = y[i].numpy()
            va, vb = active_span(v, fs)
            dur.append((vb - va) / max(b - a, 1))
            cen.append(centroid_hz(v[va:vb], fs) / centroid_hz(c[a:b], fs))
            cut += int(va == 0 or vb >= n)
            if f == 1.0:                                   # the view is the clip shifted by whole samples
                err = max(err, shift_error(v, c))
        w = word_frames(feats)
        top = feats[:, -3:, :][w[:, None, :].expand(-1, 3, -1)]
        rows.append((f, np.mean(dur), np.mean(cen), cut / len(clips), float(feats.mean()),
                     float(feats.std(dim=(1, 2)).mean()), float(feats.amin(dim=(1, 2)).mean()),
                     float(torch.quantile(feats[w[:, None, :].expand_as(feats)], 0.99)), float(top.mean()),
                     err if f == 1.0 else float("nan")))
    w = word_frames(ev)
    top = ev[:, -3:, :][w[:, None, :].expand(-1, 3, -1)]
    print(f"\n{'path':12s} {'dur':>6s} {'cen':>6s} {'edge':>5s} {'mean':>7s} {'std':>6s} {'floor':>7s} "
          f"{'p99 word':>8s} {'top3 word':>9s}  f=1 exact")
    for f, d, c, cu, mu, sd, fl, p99, t3, e in rows:
        print(f"train f={f:<4} {d:6.3f} {c:6.3f} {cu:5.3f} {mu:7.3f} {sd:6.3f} {fl:7.3f} {p99:8.3f} "
              f"{t3:9.3f}  {'' if np.isnan(e) else f'{e:.1e}'}")
    print(f"{'evaluation':12s} {1:6.3f} {1:6.3f} {0:5.3f} {float(ev.mean()):7.3f} "
          f"{float(ev.std(dim=(1, 2)).mean()):6.3f} {float(ev.amin(dim=(1, 2)).mean()):7.3f} "
          f"{float(torch.quantile(ev[w[:, None, :].expand_as(ev)], 0.99)):8.3f} {float(top.mean()):9.3f}")

    # per clip or per batch? one batch of the recipe (speed [0.85, 1.15]), durations -> factors
    y = augment_batch(bank, idx[:8], dataclasses.replace(cfg.train.augment, gain_db=0.0, noise_prob=0.0,
                                                         resample="sinc"), torch.Generator().manual_seed(1))
    fac = [(spans[i][1] - spans[i][0]) / max(np.subtract(*active_span(y[i].numpy(), fs)[::-1]), 1)
           for i in range(8)]
    print("\nspeed factors of one batch's first 8 views (clip span / view span):",
          " ".join(f"{x:.2f}" for x in fac))

    # validation = the evaluation path, no augmentation: two calls agree and equal make_batch's features
    val = task.val_items[:64]
    x1, _ = make_batch(val, fs, n, placement=cfg.data.placement)
    x2, _ = make_batch(val, fs, n, placement=cfg.data.placement)
    print(f"validation views deterministic (max diff {np.abs(x1 - x2).max():.1e}), "
          f"SpecAugment masks ≤ {cfg.train.augment.time_mask} frames = "
          f"{cfg.train.augment.time_mask * fe.hop_s * 1000:.0f} ms, ≤ {cfg.train.augment.freq_mask} of "
          f"{fe.n_features} bands")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(13, 3.2), sharey=True)
    panels = [(f"training view f = {f}", views[f]) for f in FACTORS] + [("evaluation view", ev[0])]
    for a, (title, m) in zip(ax, panels, strict=True):
        a.imshow(m.detach().numpy(), origin="lower", aspect="auto", vmin=-1, vmax=4)
        a.set_title(title, fontsize=9)
        a.set_xlabel("frame (10 ms)")
    ax[0].set_ylabel("mel band")
    fig.suptitle(f"{Path(str(sp.train[0].path)).name}: log-mel after floor and MVN")
    fig.tight_layout()
    fig.savefig(out / "speed_check.png", dpi=100)
    print(f"wrote {out / 'speed_check.png'}")


if __name__ == "__main__":
    main()
