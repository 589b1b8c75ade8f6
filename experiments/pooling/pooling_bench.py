"""Evidence pooling side by side: every pooling of :mod:`neuroaudio.localize.pooling` on the same
frames of the same run, per method and SNR (issue 18).

Each clip of the manifest is localized once per method; the frames feed one
:class:`~neuroaudio.localize.pooling.EvidencePool` per pooling (``Localizer.extra_pools``), so the
poolings differ in nothing but the weights. Writes ``<out>/rows.csv`` (one row per clip, method
and pooling: estimate, raw confidence, error) and ``<out>/pooling.md`` (MAE per method × SNR for
each pooling, and each pooling's largest loss against ``level``, the pooling before issue 18).
Rows already in ``rows.csv`` are kept (resume).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python -m experiments.pooling.pooling_bench \\
        --manifest runs/dev_bench/clips_19c1e364/manifest.csv --out runs/pooling/dev
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402

from neuroaudio.angles import circular_error_deg  # noqa: E402
from neuroaudio.eval.runner import read_manifest  # noqa: E402
from neuroaudio.localize.pooling import EvidencePool  # noqa: E402
from neuroaudio.localize.registry import make_localizer  # noqa: E402

POOLINGS = ("level", "snr", "energy", "coherence", "confidence", "energy*coherence",
            "energy*confidence")
METHODS = ("gcc-phat", "srp-phat", "gcc-phat-sm", "maa", "pra-srp", "pra-music", "pra-normmusic")
FIELDS = ["path", "snr_db", "method", "pooling", "truth_deg", "azimuth_deg", "confidence",
          "error_deg", "time_s"]


def run(manifest: Path, methods: list[str], poolings: list[str], out: Path, array: str,
        limit: int | None, options: dict) -> list[dict]:
    """Localize every clip with every method once, pooled every way; the rows (resumed)."""
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out / "rows.csv"
    done: list[dict] = []
    if rows_path.is_file():
        with open(rows_path, newline="", encoding="utf-8") as f:
            done = list(csv.DictReader(f))
    have = {(r["path"], r["method"]) for r in done}
    man = read_manifest(manifest)
    items = man.rows[:limit] if limit else man.rows
    new_file = not rows_path.is_file()
    with open(rows_path, "a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new_file:
            w.writeheader()
        for method in methods:
            loc = make_localizer(method, array, pooling="level", **options.get(method, {}))
            loc.extra_pools = {p: EvidencePool(p, len(loc.grid_deg), loc.pool.margin_db,
                                               loc.pool.floor_percentile) for p in poolings}
            t_all = time.perf_counter()
            for r in items:
                if (r["path"], method) in have:
                    continue
                path = manifest.parent / r["path"]
                t0 = time.perf_counter()
                res = loc.localize_file(path)
                dt = time.perf_counter() - t0
                truth = float(r["azimuth_deg"])
                for p, (az, conf) in res.extra["pools"].items():
                    err = 180.0 if az is None else float(circular_error_deg(az, truth))
                    row = {"path": r["path"], "snr_db": r.get("snr_db", ""), "method": method,
                           "pooling": p, "truth_deg": truth,
                           "azimuth_deg": "" if az is None else round(az, 2),
                           "confidence": round(conf, 5), "error_deg": round(err, 3),
                           "time_s": round(dt, 4)}
                    w.writerow(row)
                    done.append({k: str(v) for k, v in row.items()})
                f.flush()
            print(f"{method}: {time.perf_counter() - t_all:.1f} s", file=sys.stderr)
    return done


def _snr_key(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return float("inf")


def table(rows: list[dict], poolings: list[str]) -> str:
    """Markdown: per method, MAE per SNR for each pooling, and the worst loss vs ``level``."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    snrs = sorted({r["snr_db"] for r in rows}, key=_snr_key)
    err: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        err.setdefault((r["method"], r["pooling"], r["snr_db"]), []).append(float(r["error_deg"]))
        err.setdefault((r["method"], r["pooling"], "all"), []).append(float(r["error_deg"]))
    cols = snrs + ["all"]
    lines = []
    for m in methods:
        lines += [f"\n### {m}\n", "| pooling | " + " | ".join(f"{c} dB" if c != "all" else c for c in cols)
                  + " | worst vs level |", "|---" * (len(cols) + 2) + "|"]
        for p in poolings:
            vals = [np.mean(err[(m, p, c)]) if (m, p, c) in err else np.nan for c in cols]
            base = [np.mean(err[(m, "level", c)]) if (m, "level", c) in err else np.nan for c in snrs]
            worst = np.nanmax(np.array(vals[:-1]) - np.array(base)) if base else np.nan
            lines.append(f"| {p} | " + " | ".join(f"{v:.2f}" for v in vals) + f" | {worst:+.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--array", default="respeaker4")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--poolings", default=",".join(POOLINGS))
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    poolings = [p for p in args.poolings.split(",") if p]
    rows = run(args.manifest, methods, poolings, args.out, args.array, args.limit, {})
    rows = [r for r in rows if r["method"] in methods and r["pooling"] in poolings]
    text = (f"# Pooling side by side: `{args.manifest}`\n\nMAE (degrees); 'worst vs level' is the "
            "largest MAE increase over the level pooling at any one SNR.\n" + table(rows, poolings))
    (args.out / "pooling.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
