"""Energy and sparsity of the MAA network per SNR on a manifest (default: the 240 dev_bench clips).

For each SNR group of the manifest, ``neuroaudio profile --method maa`` (the library call) counts
the firing rate of every spiking layer, SOPs and MACs per frame, the energy per frame (E_AC =
0.9 pJ, E_MAC = 4.6 pJ), the energy of the same network as a dense ANN, and the RF-PLC encoder's
energy per frame and the total (network + encoder, docs/profile.md); prints a markdown table
(one row per SNR and one for all clips) and writes it with the numbers as JSON.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.profile_maa --model runs/maa_first/model.pt \\
        --manifest runs/dev_bench/clips_19c1e364/manifest.csv --json runs/profile/dev_bench.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    import torch

    from neuroaudio.eval.runner import read_manifest
    from neuroaudio.profile.maa import profile_maa

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    ap.add_argument("--manifest", type=Path, default=REPO / "runs/dev_bench/clips_19c1e364/manifest.csv")
    ap.add_argument("--per-snr", type=int, default=None, help="at most N clips per SNR")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    man = read_manifest(args.manifest)
    groups: dict[str, list[dict]] = {}
    for r in man.rows:
        groups.setdefault(r.get("snr_db", "all"), []).append(r)
    results = {}
    with tempfile.TemporaryDirectory() as d:
        for snr, rows in groups.items():
            rows = rows[: args.per_snr]
            sub = Path(d) / f"m_{snr}.csv"
            with open(sub, "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=man.columns)
                w.writeheader()
                for r in rows:
                    p = Path(r["path"])
                    w.writerow({**r, "path": str(p if p.is_absolute() else args.manifest.parent / p)})
            res = profile_maa([sub], model=args.model)
            results[snr] = {"clips": res["clips"], "frames": res["frames"], **res["report"],
                            "encoder_energy_pj": res["front_end"]["energy_pj"],
                            "total_energy_pj": res["total"]["energy_pj"]}
            print(f"SNR {snr}: {res['frames']} frames, {res['report']['energy_pj'] / 1e6:.2f} uJ/frame",
                  file=sys.stderr)
    results["all"] = _combine(list(results.values()))        # frame-weighted: numbers are per frame
    layers = list(next(iter(results.values()))["firing_rates"])
    head = ["SNR (dB)", "frames"] + [f"{k} %" for k in layers] + [
        "SOPs/frame", "MACs/frame", "E/frame (uJ)", "E event-driven (uJ)", "ANN E/frame (uJ)", "ANN/SNN",
        "encoder E/frame (uJ)", "total E/frame (uJ)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for snr, r in results.items():
        cells = [snr, str(r["frames"])] + [f"{100 * r['firing_rates'][k]:.1f}" for k in layers] + [
            f"{r['sops'] / 1e6:.2f}M", f"{r['macs'] / 1e6:.2f}M", f"{r['energy_pj'] / 1e6:.2f}",
            f"{r['energy_nonzero_pj'] / 1e6:.2f}", f"{r['ann_energy_pj'] / 1e6:.1f}",
            f"{r['ann_energy_pj'] / r['energy_pj']:.1f}x", f"{r['encoder_energy_pj'] / 1e6:.1f}",
            f"{r['total_energy_pj'] / 1e6:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": args.model, "manifest": str(args.manifest),
                                         "groups": results, "table": table}, indent=1))


def _combine(parts: list[dict]) -> dict:
    """Frame-weighted mean of per-group reports (the numbers are per frame)."""
    n = sum(p["frames"] for p in parts)
    out = {"clips": sum(p["clips"] for p in parts), "frames": n}
    for k in ("sops", "macs", "energy_pj", "energy_nonzero_pj", "ann_energy_pj", "ann_macs",
              "encoder_energy_pj", "total_energy_pj"):
        out[k] = sum(p[k] * p["frames"] for p in parts) / n
    out["firing_rates"] = {k: sum(p["firing_rates"][k] * p["frames"] for p in parts) / n
                           for k in parts[0]["firing_rates"]}
    return out


if __name__ == "__main__":
    main()
