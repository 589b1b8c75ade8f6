"""How close the simulated rooms' reverberation is to the RT60 asked for.

For the first rooms of a simulator config, the T20 RT60 of the first talker's RIRs
(``pyroomacoustics.experimental.measure_rt60``, median over mics) against the target RT60 (the
Sabine design value written to the manifest), with the image-source order used.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/sim_rt60.py pipelines/dev_bench.yaml --rooms 20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from neuroaudio.sim import load_config  # noqa: E402
from neuroaudio.sim.render import room_rirs  # noqa: E402
from neuroaudio.sim.scene import plan_room  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--rooms", type=int, default=20)
    args = ap.parse_args()
    import pyroomacoustics as pra

    cfg = load_config(args.config)
    print(f"{'room':>4} {'size (m)':>16} {'order':>5} {'target RT60 s':>13} {'T20 RT60 s':>10} {'ratio':>6}")
    ratios = []
    for r in range(min(args.rooms, cfg.n_rooms)):
        room = plan_room(cfg, r)
        rirs = room_rirs(cfg, room)[0]
        t = float(np.median([pra.experimental.measure_rt60(h, fs=cfg.fs, decay_db=20) for h in rirs]))
        ratios.append(t / room.rt60_s)
        size = " x ".join(f"{v:.1f}" for v in room.size_m)
        ratio = t / room.rt60_s
        print(f"{r:>4} {size:>16} {room.max_order:>5} {room.rt60_s:>13.3f} {t:>10.3f} {ratio:>5.2f}")
    q = np.array(ratios)
    print(f"T20/target: median {np.median(q):.2f}, min {q.min():.2f}, max {q.max():.2f}, {len(q)} rooms")


if __name__ == "__main__":
    main()
