"""Markdown tables of the conv-stem study (experiments/kws_conv_stem/README.md) from its run folders.

    python -m experiments.kws_conv_stem.tables runs/kws_conv_stem

Per arm: test accuracy on each held-out speaker (seed 0; a fold not finished is '—'), the mean over
the finished folds, mean firing rate over spiking layers, parameters, SOP energy per clip (µJ) and
training CPU seconds per fold. D-RF arms read ``ARM/summary.json`` of ``benchmarks.kws_fsdd``; the
non-spiking arms ``ARM/summary.json`` of ``experiments.kws_ann_reference``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SPEAKERS = ["jackson", "nicolas", "theo", "yweweler"]
ARMS = [("ann_cnn2d_gru_recipe", "2-D CNN + GRU (non-spiking), reference recipe"),
        ("ann_cnn2d_gru_recipe_nospeed", "2-D CNN + GRU (non-spiking), reference recipe − speed"),
        ("ann_cnn2d_gru_recipe_sinc", "2-D CNN + GRU (non-spiking), reference recipe, sinc resampling"),
        ("conv_shipped", "D-RF + spiking 2-D front, shipped recipe"),
        ("conv_recipe", "D-RF + spiking 2-D front, reference recipe"),
        ("dense_front_shipped", "D-RF + ReLU 2-D front (no spikes), shipped recipe"),
        ("drf_recipe_sinc", "D-RF (no front), reference recipe, sinc resampling")]


def arm_rows(folder: Path, seed: int = 0) -> dict[str, dict]:
    """speaker -> {acc, rate, params, energy_uj, cpu_s} of ``seed`` for one arm's folder."""
    d = json.loads((folder / "summary.json").read_text())
    out: dict[str, dict] = {}
    if "runs" in d:                                   # experiments.kws_ann_reference
        for r in d["runs"]:
            if r["seed"] == seed:
                out[r["speaker"]] = {"acc": r["test_accuracy"], "rate": None, "params": r["parameters"],
                                     "energy_uj": None, "cpu_s": r["train_cpu_s"]}
        return out
    for spk, f in d.get("drf", {}).items():           # benchmarks.kws_fsdd (seed 0 first)
        runs = f.get("seeds", [])
        if len(runs) > seed:
            r = runs[seed]
            out[spk] = {"acc": r["test_accuracy"], "rate": r["test_mean_firing_rate"],
                        "params": r["n_params"], "energy_uj": r["test_energy_pj_per_clip"] / 1e6,
                        "cpu_s": r["train_cpu_seconds"]}
    return out


def table(root: Path, seed: int = 0) -> str:
    head = f"| arm (seed {seed}) | " + " | ".join(SPEAKERS)
    lines = [head + " | mean | firing | params | energy / clip | CPU s / fold |",
             "|---|" + "---:|" * (len(SPEAKERS) + 5)]
    for name, title in ARMS:
        if not (root / name / "summary.json").is_file():
            continue
        rows = arm_rows(root / name, seed)
        if not rows:
            continue
        accs = [rows[s]["acc"] for s in SPEAKERS if s in rows]
        mean = sum(accs) / len(accs)
        mean_s = f"**{100 * mean:.2f}%**" + ("" if len(accs) == len(SPEAKERS) else f" ({len(accs)} folds)")
        r0 = next(iter(rows.values()))
        rates = [rows[s]["rate"] for s in rows if rows[s]["rate"] is not None]
        energy = [rows[s]["energy_uj"] for s in rows if rows[s]["energy_uj"] is not None]
        cpu = sum(rows[s]["cpu_s"] for s in rows) / len(rows)
        lines.append(f"| {title} | " + " | ".join(f"{100 * rows[s]['acc']:.1f}%" if s in rows else "—"
                                                  for s in SPEAKERS)
                     + f" | {mean_s} | " + (f"{100 * sum(rates) / len(rates):.1f}%" if rates else "—")
                     + f" | {r0['params'] / 1000:.0f}k | "
                     + (f"{sum(energy) / len(energy):.2f} µJ" if energy else "—") + f" | {cpu:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    print(table(**vars(ap.parse_args())))


if __name__ == "__main__":
    main()
