"""Score the arms of benchmarks/kws_gpu_levers.sh from their per-seed test probabilities.

Reads ``DIR/<arm>/probs_drf_<speaker>.npz`` (``probs [seeds, clips, classes]``, ``labels [clips]``,
``seeds``) and ``DIR/<arm>/summary.json`` (firing rate, epochs, energy) and prints, per arm and fold,
the single-model accuracy of each seed, their mean, the ensemble of the seeds (probabilities
averaged), the 4-fold means, each seed's 4-fold mean against the baseline arm's same seed, and the
most frequent confusions on the two accented folds. Writes ``DIR/levers_scores.json``.

    python benchmarks/kws_levers_score.py runs/kws_levers/device --arms base accent cmvn mixup
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SPEAKERS = ["jackson", "nicolas", "theo", "yweweler"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def score_arm(folder: Path) -> dict:
    """Per fold: ``single`` [seeds], ``mean``, ``ensemble``, ``rate``, ``epochs``, ``confusions``."""
    summary = json.loads((folder / "summary.json").read_text())["drf"]
    out = {}
    for spk in SPEAKERS:
        z = np.load(folder / f"probs_drf_{spk}.npz")
        probs, y = z["probs"], z["labels"]
        single = (probs.argmax(-1) == y[None]).mean(-1)
        ens = probs.mean(0).argmax(-1)
        conf: dict[str, int] = {}
        for t, p in zip(y, ens, strict=True):
            if t != p:
                key = f"{DIGITS[t]}->{DIGITS[p]}"
                conf[key] = conf.get(key, 0) + 1
        out[spk] = {"seeds": z["seeds"].tolist(), "single": single.tolist(), "mean": float(single.mean()),
                    "ensemble": float((ens == y).mean()), "rate": summary[spk]["test_mean_firing_rate"],
                    "epochs": [s["epochs"] for s in summary[spk]["seeds"]],
                    "energy_uj": summary[spk]["test_energy_pj_per_clip"] / 1e6,
                    "confusions": dict(sorted(conf.items(), key=lambda kv: -kv[1])[:4])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--arms", nargs="+", default=["base", "accent", "cmvn", "mixup"])
    ap.add_argument("--baseline", default="base")
    a = ap.parse_args()
    root = Path(a.dir)
    res = {arm: score_arm(root / arm) for arm in a.arms}
    print(f"{'arm':8s} {'row':10s} " + " ".join(f"{s:>9s}" for s in SPEAKERS) + f" {'mean':>7s} {'rate':>6s}"
          f" {'epochs':>7s}")
    for arm, r in res.items():
        rate = 100 * np.mean([r[s]["rate"] for s in SPEAKERS])
        ep = np.mean([e for s in SPEAKERS for e in r[s]["epochs"]])
        for row in ("single", "ensemble"):
            key = "mean" if row == "single" else "ensemble"
            cells = [100 * r[s][key] for s in SPEAKERS]
            print(f"{arm:8s} {row:10s} " + " ".join(f"{c:8.2f}%" for c in cells)
                  + f" {np.mean(cells):6.2f}% {rate:5.2f}% {ep:7.1f}")
    base = res.get(a.baseline)
    print("\nper seed, 4-fold mean (difference to the baseline's same seed):")
    for arm, r in res.items():
        seeds = r[SPEAKERS[0]]["seeds"]
        cells = []
        for i, sd in enumerate(seeds):
            m = 100 * np.mean([r[s]["single"][i] for s in SPEAKERS])
            d = ""
            if base is not None and sd in base[SPEAKERS[0]]["seeds"]:
                j = base[SPEAKERS[0]]["seeds"].index(sd)
                d = f" ({m - 100 * np.mean([base[s]['single'][j] for s in SPEAKERS]):+.2f})"
            cells.append(f"seed {sd}: {m:.2f}%{d}")
        print(f"  {arm:8s} " + ", ".join(cells))
    print("\nmost frequent confusions of the 2-seed ensemble (true->heard, of 50 clips per digit):")
    for arm, r in res.items():
        per = [f"{s}: " + ", ".join(f"{k} {v}" for k, v in r[s]["confusions"].items())
               for s in ("nicolas", "yweweler")]
        print(f"  {arm:8s} " + "; ".join(per))
    (root / "levers_scores.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
