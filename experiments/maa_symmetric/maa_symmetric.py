"""CPU cost of maa's test-time averaging over the array's symmetric scenes (``-o symmetric=K``).

Times the ``maa`` localizer on ``benchmarks.localize``'s recording (harmonic bursts from 120° in a
reverberant room) with ``symmetric`` = 1 (off), 2, 4 (the rotations) and 8 (all symmetries of the
ReSpeaker square), interleaved round by round (best of ``--repeats``), one thread. RTF = process
CPU time / audio duration; target 0.05 (issue 5).

    OMP_NUM_THREADS=1 nice -n 10 python -m experiments.maa_symmetric.maa_symmetric --seconds 20
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402


def main(argv: list[str] | None = None) -> list[dict]:
    import torch

    from benchmarks.localize import FS, recording  # the same recording as the speed benchmark
    from neuroaudio.localize import make_localizer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--counts", default="1,2,4,8", help="symmetric= values to time")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    x = recording(a.seconds)
    counts = [int(c) for c in a.counts.split(",")]
    opts = {"model": a.model} if a.model else {}
    locs = {k: make_localizer("maa", "respeaker4", symmetric=k, **opts) for k in counts}
    for loc in locs.values():
        loc.localize(x[: loc.frame_len * 2])                  # warm-up
    best = {k: [float("inf"), None] for k in counts}
    for _ in range(a.repeats):
        for k in counts:                                      # interleaved: the same machine load
            c0 = time.process_time()
            res = locs[k].localize(x)
            best[k] = [min(best[k][0], time.process_time() - c0), res]
    rows = [{"symmetric": k, "audio_s": len(x) / FS, "cpu_s": round(best[k][0], 3),
             "rtf": round(best[k][0] * FS / len(x), 4), "azimuth_deg": best[k][1].azimuth_deg,
             "frames": len(best[k][1].frames)} for k in counts]
    print("| symmetric | audio (s) | CPU (s) | RTF (CPU, one core) | azimuth (true 120) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['symmetric']} | {r['audio_s']:.1f} | {r['cpu_s']:.3f} | {r['rtf']:.4f} | "
              f"{r['azimuth_deg']:.1f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
