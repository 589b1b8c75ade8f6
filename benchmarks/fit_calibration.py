"""Fit each method's confidence calibration (issue 18) and measure it.

1. ``fit``: localize every clip of the calibration manifests (``pipelines/calibration.yaml``
   simulated, plus ``python -m benchmarks.short_word_scenes --seed 1818``; NOT a benchmark) with each
   method at its default settings and ``calibrate=False``, then fit
   ``P(error <= 10 deg | raw confidence)`` per method (isotonic,
   :func:`neuroaudio.localize.calibration.fit_isotonic`) and write
   ``data/calibration/confidence_respeaker4.json`` with the settings each map holds for.
2. ``measure``: on benchmark manifests, the expected calibration error (10 bins) of the raw and
   the calibrated confidence per method, a markdown table and a reliability plot.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.fit_calibration fit \\
        --manifest runs/calibration/sim/manifest.csv \\
        --manifest runs/calibration/short_words/manifest.csv
    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.fit_calibration measure \\
        --manifest runs/dev_bench/clips_19c1e364/manifest.csv --name dev_bench \\
        --plot docs/localize_reliability.png
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402

from neuroaudio.angles import circular_error_deg  # noqa: E402
from neuroaudio.eval.runner import read_manifest  # noqa: E402
from neuroaudio.io_utils import write_text_atomic  # noqa: E402
from neuroaudio.localize.calibration import (  # noqa: E402
    CALIBRATION_FILE,
    WITHIN_DEG,
    apply_map,
    expected_calibration_error,
    fit_isotonic,
)
from neuroaudio.localize.registry import make_localizer  # noqa: E402

METHODS = ("gcc-phat", "srp-phat", "gcc-phat-sm", "gcc-phat-mlp", "maa", "pra-srp", "pra-music",
           "pra-normmusic")


def raw_rows(manifests: list[Path], methods: list[str], cache: Path) -> list[dict]:
    """``(method, path, raw confidence, error)`` for every clip and method (cached as CSV)."""
    rows: list[dict] = []
    if cache.is_file():
        with open(cache, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    have = {(r["method"], r["path"]) for r in rows}
    cache.parent.mkdir(parents=True, exist_ok=True)
    new = not cache.is_file()
    with open(cache, "a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["method", "path", "snr_db", "raw_confidence", "error_deg"])
        if new:
            w.writeheader()
        for method in methods:
            loc = make_localizer(method, "respeaker4", calibrate=False)
            for man_path in manifests:
                for r in read_manifest(man_path).rows:
                    path = str(man_path.parent / r["path"])
                    if (method, path) in have:
                        continue
                    res = loc.localize_file(path)
                    err = 180.0 if res.azimuth_deg is None else float(
                        circular_error_deg(res.azimuth_deg, float(r["azimuth_deg"])))
                    row = {"method": method, "path": path, "snr_db": r.get("snr_db", ""),
                           "raw_confidence": round(res.confidence, 5), "error_deg": round(err, 3)}
                    w.writerow(row)
                    rows.append({k: str(v) for k, v in row.items()})
                f.flush()
            print(f"{method}: done", file=sys.stderr)
    return [r for r in rows if r["method"] in methods]


def fit(args: argparse.Namespace) -> None:
    methods = [m for m in args.methods.split(",") if m]
    rows = raw_rows(args.manifest, methods, args.cache)
    out = {"within_deg": WITHIN_DEG, "fitted_on": [str(p) for p in args.manifest],
           "how": "python -m benchmarks.fit_calibration fit", "methods": {}}
    for m in methods:
        r = [x for x in rows if x["method"] == m]
        raw = np.array([float(x["raw_confidence"]) for x in r])
        hit = np.array([float(x["error_deg"]) <= WITHIN_DEG for x in r], float)
        kx, kp = fit_isotonic(raw, hit)
        loc = make_localizer(m, "respeaker4", calibrate=False)
        out["methods"][m] = {"settings": loc.calibration_settings(), "n": len(r),
                             "hit_rate": round(float(hit.mean()), 4),
                             "knots_x": [round(float(v), 5) for v in kx],
                             "knots_p": [round(float(v), 5) for v in kp]}
        print(f"{m}: {len(r)} clips, {hit.mean():.2f} within {WITHIN_DEG:g} deg, {len(kx)} knots",
              file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


def measure(args: argparse.Namespace) -> None:
    methods = [m for m in args.methods.split(",") if m]
    if args.rows:   # a pooling_bench run: its default-pooling rows hold the same raw confidences
        with open(args.rows, newline="", encoding="utf-8") as f:
            from neuroaudio.localize.pooling import DEFAULT_POOLING

            rows = [{**r, "raw_confidence": r["confidence"]} for r in csv.DictReader(f)
                    if r["pooling"] == DEFAULT_POOLING]
        methods = [m for m in methods if any(r["method"] == m for r in rows)]
    else:
        rows = raw_rows(args.manifest, methods, args.cache.with_name(f"raw_{args.name}.csv"))
    maps = json.loads(args.out.read_text(encoding="utf-8"))["methods"]
    lines = [f"\nECE ({args.name}, 10 bins; confidence vs the share of estimates within "
             f"{WITHIN_DEG:g} deg):\n", "| method | within 10° | mean raw conf | ECE raw | "
             "mean calibrated conf | ECE calibrated |", "|---|---|---|---|---|---|"]
    curves = {}
    for m in methods:
        r = [x for x in rows if x["method"] == m]
        raw = np.array([float(x["raw_confidence"]) for x in r])
        hit = np.array([float(x["error_deg"]) <= WITHIN_DEG for x in r], float)
        cal = apply_map(raw, np.array(maps[m]["knots_x"]), np.array(maps[m]["knots_p"]))
        lines.append(f"| {m} | {100 * hit.mean():.0f} % | {raw.mean():.2f} | "
                     f"{expected_calibration_error(raw, hit):.3f} | {cal.mean():.2f} | "
                     f"{expected_calibration_error(cal, hit):.3f} |")
        curves[m] = (cal, hit)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 5))
        ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect")
        edges = np.linspace(0, 1, 11)
        for m, (cal, hit) in curves.items():
            k = np.clip(np.digitize(cal, edges) - 1, 0, 9)
            xs = [cal[k == b].mean() for b in range(10) if (k == b).sum() >= 5]
            ys = [hit[k == b].mean() for b in range(10) if (k == b).sum() >= 5]
            ax.plot(xs, ys, "o-", ms=3, label=m)
        ax.set_xlabel("calibrated confidence (bins with >= 5 clips)")
        ax.set_ylabel(f"share within {WITHIN_DEG:g}°")
        ax.set_title(f"Reliability on {args.name}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["fit", "measure"])
    ap.add_argument("--manifest", type=Path, action="append", default=[])
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    ap.add_argument("--cache", type=Path, default=REPO / "runs" / "calibration" / "raw_fit.csv")
    ap.add_argument("--name", default="bench")
    ap.add_argument("--rows", type=Path, default=None,
                    help="measure: read raw confidences from a pooling_bench.py rows.csv instead")
    ap.add_argument("--plot", type=Path, default=None)
    args = ap.parse_args()
    fit(args) if args.what == "fit" else measure(args)


if __name__ == "__main__":
    main()
