"""Real-time factor before/after issue 18's pooling and noise floors, side by side in one run.

"before" = ``pooling=level`` with rise-only floors (``floor_window_s=0``, and ``noise_window_s=0``
for gcc-phat and srp-phat); "after" = the defaults. Each method localizes the same recording (the
first ``--clips`` clips of a manifest, concatenated) in 1-s blocks, before and after alternating,
``--repeats`` times; the best time of each is reported (one core).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python -m experiments.pooling.pooling_rtf \\
        --manifest runs/dev_bench/clips_19c1e364/manifest.csv
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"
REPO = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402

from neuroaudio.audio.io import read_audio  # noqa: E402
from neuroaudio.eval.runner import read_manifest  # noqa: E402
from neuroaudio.localize.registry import make_localizer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--methods", default="gcc-phat,srp-phat,gcc-phat-sm,maa,pra-music")
    args = ap.parse_args()
    man = read_manifest(args.manifest)
    x = np.concatenate([read_audio(str(args.manifest.parent / r["path"]))[0]
                        for r in man.rows[:args.clips]]).astype(np.float32)
    dur = len(x) / 16000
    print("| method | RTF before | RTF after | after / before |\n|---|---|---|---|")
    for m in [m for m in args.methods.split(",") if m]:
        before = {"pooling": "level", "floor_window_s": 0}
        if m in ("gcc-phat", "srp-phat"):
            before["noise_window_s"] = 0
        locs = {"before": make_localizer(m, "respeaker4", **before),
                "after": make_localizer(m, "respeaker4")}
        best = {k: np.inf for k in locs}
        for _ in range(args.repeats):
            for k, loc in locs.items():
                t0 = time.perf_counter()
                loc.localize(x[i:i + 16000] for i in range(0, len(x), 16000))
                best[k] = min(best[k], time.perf_counter() - t0)
        print(f"| {m} | {best['before'] / dur:.4f} | {best['after'] / dur:.4f} | "
              f"{best['after'] / best['before']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
