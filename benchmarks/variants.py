"""Variants of localization methods side by side on a benchmark's clips: another model file (a new
training run against the shipped one), other method options (pooling weights, posterior averaging
over the array symmetries, mask-training modes; docs/gcc_phat_sm.md, docs/maa.md), for any method.

Each variant is ``name=method[:model][?key=value&...]`` and is evaluated with the library's
evaluate runner into ``OUT/<name>/`` (resumable); the script prints MAE per SNR (and overall) of
every variant as a markdown table and writes it to ``OUT/variants.md``.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.variants \\
        --manifest runs/dev_bench/clips_19c1e364/manifest.csv --out runs/gcc_phat_sm_bench/variants_dev \\
        joint=gcc-phat-sm:runs/gcc_phat_sm/joint/model.pt irm=gcc-phat-sm:runs/gcc_phat_sm/irm/model.pt \\
        "mask-pool=gcc-phat-sm?pool_weight=mask" "no-sym=gcc-phat-sm?symmetric=false"
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from urllib.parse import parse_qsl

os.environ.setdefault("OMP_NUM_THREADS", "1")

import yaml  # noqa: E402

from neuroaudio.eval.metrics import compute_metrics  # noqa: E402
from neuroaudio.eval.runner import evaluate  # noqa: E402


def parse_variant(spec: str) -> tuple[str, str, str | None, dict]:
    """``name=method[:model][?k=v&...]`` → (name, method, model, options)."""
    name, rest = spec.split("=", 1)
    rest, _, query = rest.partition("?")
    method, _, model = rest.partition(":")
    opts = {k: yaml.safe_load(v) for k, v in parse_qsl(query)}
    return name, method, model or None, opts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--array", default="respeaker4")
    ap.add_argument("variants", nargs="+")
    args = ap.parse_args()
    table: dict[str, dict[str, float]] = {}
    snrs: list[str] = []
    for spec in args.variants:
        name, method, model, opts = parse_variant(spec)
        res = evaluate(args.manifest, args.array, [method], args.out / name, model=model, options=opts,
                       resume=True, plots=False, progress=False)
        m = compute_metrics(res.rows, [method])[method]
        groups = m["groups"].get("snr_db", {})
        for k in groups:
            if k not in snrs:
                snrs.append(k)
        table[name] = {**{k: g["mae_deg"] for k, g in groups.items()}, "all": m["mae_deg"],
                       "acc5": m["acc5"]}
    snrs = sorted(snrs, key=float)
    lines = ["| variant | " + " | ".join(f"{s} dB" for s in snrs) + " | all | ACC@5 |",
             "|---|" + "---:|" * (len(snrs) + 2)]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(f"{row.get(s, float('nan')):.1f}" for s in snrs)
                     + f" | {row['all']:.1f} | {100 * row['acc5']:.0f}% |")
    text = f"MAE (deg) per SNR on {args.manifest}\n\n" + "\n".join(lines) + "\n"
    print(text)
    (args.out / "variants.md").write_text(text)


if __name__ == "__main__":
    main()
