"""Where a method's clip error comes from: the read-out of the pooled spectrum, and the error's spread.

For each method, every clip of a benchmark manifest (``neuroaudio simulate`` output, e.g. dev_bench)
is localized with the library's defaults (streamed from disk, the Localizer's activity gate and
pooling) and the pooled spatial spectrum ``[360]`` of the clip is kept. The script then prints,
per SNR, the MAE (degrees) of the clip direction read from that spectrum by several rules:

- ``argmax``: the grid bin with the highest score (what every Localizer returns; 1° grid);
- ``parab``: argmax refined by a parabola through it and its two neighbours (sub-degree);
- ``cent2`` / ``cent4``: the centroid of the spectrum (minus its local minimum) within ±2° / ±4°
  of the argmax;

and, at SNR ≥ ``--high-snr`` dB, the median error, the 90th percentile and the number of clips
off by more than 5°, and the correlation of the error with the scene's elevation, RT60 and
distance: whether a gap between methods is in the bulk of the clips or in outliers. A last table
correlates the methods' *signed* clip errors at SNR ≥ ``--high-snr`` (argmax, degrees in
``[-180, 180)``) pairwise: near 1 between two models means their errors are set by the clip (its
room, talker, reflections, or an input both models share), not by the training run.
The pooled spectra are saved to ``OUT/spectra.npz`` (``--out``) and reused when the script is run
again with the same manifest and methods.

A method is a registry name (``maa``: the shipped model) or ``NAME=METHOD:MODEL`` for another
checkpoint (e.g. ``maa-w96=maa:runs/s6/maa_w96/model.pt``). ``--ensemble NAME ...`` adds a row
``ensemble`` whose pooled spectrum is the mean of those methods' pooled spectra (each spectrum sums
to 1; averaging pooled spectra equals averaging the frame posteriors, since every method pools the
same frames): whether several independently trained models together are more precise than one.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python -m experiments.maa_readout.maa_readout \\
        --manifest runs/dev_bench/clips_19c1e364/manifest.csv --out runs/readout_dev maa gcc-phat-sm gcc-phat
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

from neuroaudio.angles import (
    circular_error_deg,  # noqa: E402
    wrap_pm180,  # noqa: E402
)
from neuroaudio.eval.readout import READOUTS, error_correlation_table  # noqa: E402
from neuroaudio.localize.registry import make_localizer  # noqa: E402


def parse_method(spec: str) -> tuple[str, str, dict[str, str]]:
    """``NAME=METHOD:MODEL`` or ``METHOD`` → (row name, registry method, localizer options)."""
    name, _, rest = spec.partition("=")
    if not rest:
        return spec, spec, {}
    method, _, model = rest.partition(":")
    return name, method, ({"model": model} if model else {})


def pooled_spectra(manifest: Path, methods: list[str], array: str, cache: Path) -> dict[str, np.ndarray]:
    """Each method's pooled spectrum per clip ``[clips, 360]`` by row name; cached in ``cache`` (an
    .npz, keyed by the method spec)."""
    saved = dict(np.load(cache)) if cache.is_file() else {}
    rows = list(csv.DictReader(manifest.open()))
    for spec in methods:
        name, method, options = parse_method(spec)
        if spec in saved and len(saved[spec]) == len(rows):
            continue
        loc = make_localizer(method, array, **options)
        spectra = []
        for i, row in enumerate(rows):
            spectra.append(loc.localize_file(manifest.parent / row["path"]).spectrum)
            print(f"\r{name}: {i + 1}/{len(rows)} clips", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        saved[spec] = np.asarray(spectra)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, **saved)
        tmp.replace(cache)
    return {parse_method(spec)[0]: saved[spec] for spec in methods}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="folder for spectra.npz and readout.md")
    ap.add_argument("--array", default="respeaker4")
    ap.add_argument("--high-snr", type=float, default=10.0, help="SNR (dB) from which the spread is shown")
    ap.add_argument("--ensemble", nargs="+", default=[], metavar="NAME",
                    help="also score the mean of these methods' pooled spectra (row names)")
    ap.add_argument("methods", nargs="+", help="METHOD or NAME=METHOD:MODEL")
    args = ap.parse_args()
    rows = list(csv.DictReader(args.manifest.open()))
    truth = np.array([float(r["azimuth_deg"]) for r in rows])
    snr = np.array([float(r["snr_db"]) for r in rows])
    spectra = pooled_spectra(args.manifest, args.methods, args.array, args.out / "spectra.npz")
    if args.ensemble:
        spectra["ensemble"] = np.mean([spectra[n] for n in args.ensemble], axis=0)
    levels = sorted(set(snr))
    lines = [f"clips: {len(rows)} ({args.manifest})", "",
             "| method | read-out | " + " | ".join(f"{v:g} dB" for v in levels) + " | all |",
             "|---|---|" + "---|" * (len(levels) + 1)]
    scene = {"|elevation|": np.abs([float(r["elevation_deg"]) for r in rows]),
             "RT60": np.array([float(r["rt60_s"]) for r in rows]),
             "distance": np.array([float(r["distance_m"]) for r in rows])}
    head = f"| method (argmax, SNR ≥ {args.high_snr:g} dB) | MAE | median | 90th pct | clips > 5° | "
    spread = ["", head + " | ".join(f"corr. with {k}" for k in scene) + " |",
              "|---|---|---|---|---|" + "---|" * len(scene)]
    high = snr >= args.high_snr
    signed = {}
    for method in spectra:
        for name, readout in READOUTS.items():
            estimate = readout(spectra[method])
            err = circular_error_deg(estimate, truth)
            cells = " | ".join(f"{err[snr == v].mean():.2f}" for v in levels)
            lines.append(f"| {method} | {name} | {cells} | {err.mean():.2f} |")
            if name == "argmax":
                signed[method] = wrap_pm180(estimate - truth)[high]    # estimate − truth, [-180, 180)
                e = err[high]
                corr = " | ".join(f"{np.corrcoef(v[high], e)[0, 1]:+.2f}" for v in scene.values())
                spread.append(f"| {method} | {e.mean():.2f} | {np.median(e):.2f} | "
                              f"{np.percentile(e, 90):.2f} | {int((e > 5).sum())} of {len(e)} | {corr} |")
    text = "\n".join(lines + spread + [""] + error_correlation_table(signed)) + "\n"
    print(text)
    (args.out / "readout.md").write_text(text)


if __name__ == "__main__":
    main()
