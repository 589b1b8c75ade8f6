"""MAA on its own validation clips, beside classical methods: clip-level MAE / ACC@10° per SNR.

The validation clips of a ``neuroaudio train maa`` run (the pipeline's simulator config with
``data.val_seed``) are rendered again in memory (the same clips the run validated on) and
localized whole by each method through the Localizer interface (so ``maa`` is pooled over the
active frames exactly as ``neuroaudio localize`` does).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/maa_val.py --model runs/maa_first/model.pt \\
        --methods maa,gcc-phat,srp-phat,rf-plc
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
import torch

from neuroaudio.angles import circular_error_deg
from neuroaudio.localize.registry import make_localizer
from neuroaudio.maa.checkpoint import read
from neuroaudio.sim.config import load_config
from neuroaudio.sim.dataset import SimulatedScenes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="checkpoint from `neuroaudio train maa`")
    ap.add_argument("--methods", default="maa,gcc-phat,srp-phat,rf-plc")
    ap.add_argument("--clips", type=int, default=None, help="how many validation clips (default: the run's)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ck = read(args.model)
    d = ck["config"]["data"]
    cfg = load_config(d["sim"], {"seed": int(d["val_seed"])})
    n = args.clips or int(d["val_clips"])
    scenes = SimulatedScenes(cfg, length=n)
    methods = args.methods.split(",")
    locs = {m: make_localizer(m, cfg.array.load(), **({"model": args.model} if m == "maa" else {}))
            for m in methods}
    errs: dict[str, dict[float, list[float]]] = {m: defaultdict(list) for m in methods}
    secs = dict.fromkeys(methods, 0.0)
    rates: dict[str, list[float]] = defaultdict(list)
    for i in range(n):
        audio, lab = scenes[i]
        x = audio.numpy()
        for m, loc in locs.items():
            t = time.process_time()
            r = loc.localize(x)
            secs[m] += time.process_time() - t
            if m == "maa":
                for k, v in loc.net.stats.rates.items():
                    rates[k].append(v)
            az = lab["azimuth_deg"]
            e = 180.0 if r.azimuth_deg is None else float(circular_error_deg(r.azimuth_deg, az))
            errs[m][lab["snr_db"]].append(e)
    snrs = sorted(errs[methods[0]])
    print(f"{n} validation clips of {d['sim']} (seed {d['val_seed']}); model {args.model} "
          f"(epoch {ck.get('epoch')})")
    print("| method | " + " | ".join(f"MAE / ACC@10 at {s:g} dB" for s in snrs) + " | all MAE | CPU s/clip |")
    print("|---" * (len(snrs) + 3) + "|")
    for m in methods:
        cells = [f"{np.mean(errs[m][s]):.1f}° / {100 * np.mean(np.array(errs[m][s]) <= 10):.0f}%"
                 for s in snrs]
        allv = np.concatenate([errs[m][s] for s in snrs])
        print(f"| {m} | " + " | ".join(cells) + f" | {allv.mean():.1f}° | {secs[m] / n:.3f} |")
    if rates:
        print("maa firing rates (mean over clips, last network batch of each): "
              + ", ".join(f"{k} {100 * np.mean(v):.1f}%" for k, v in rates.items()))


if __name__ == "__main__":
    main()
