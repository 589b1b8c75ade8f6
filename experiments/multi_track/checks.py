"""Issue 22's side checks, each printed as a small table (README.md here):

    OMP_NUM_THREADS=1 python -m experiments.multi_track.checks reid       # re-identification on/off
    OMP_NUM_THREADS=1 python -m experiments.multi_track.checks live_rtf   # live path CPU, K = 3
    OMP_NUM_THREADS=1 python -m experiments.multi_track.checks one_talker # --sources auto, one talker

``reid`` and ``live_rtf`` use the bench's cached scenes (run ``python -m benchmarks.multi_bench``
first, and with ``--config experiments/multi_track/dev.yaml --out runs/multi_dev`` for seed 222).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = {"bench (seed 22)": (REPO / "pipelines" / "multi_bench.yaml", REPO / "runs" / "multi_bench"),
           "dev (seed 222)": (REPO / "experiments" / "multi_track" / "dev.yaml", REPO / "runs" / "multi_dev")}


def _moving(cfg_path: Path, out: Path):
    from benchmarks.multi_bench import scenes

    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    keys = json.dumps({k: cfg[k] for k in ("seed", "array", "static", "moving")}, sort_keys=True)
    return cfg, scenes(cfg, out / f"clips_{hashlib.sha1(keys.encode()).hexdigest()[:8]}", None)["moving"]


def reid() -> None:
    """Identity switches per minute and OSPA with the shipped tracker and with re-identification
    off (``reid_deg = 0``), per method, on the bench's and the dev seed's moving scenes."""
    import neuroaudio.tracking.kalman as kalman
    from benchmarks.multi_bench import moving_scores

    shipped = kalman.multi_source_config
    print("| scenes | method | re-identification | id switches / min | OSPA (deg) |\n|---|---|---|---|---|")
    for name, (cfg_path, out) in CONFIGS.items():
        cfg, mv = _moving(cfg_path, out)
        for on in (True, False):
            kalman.multi_source_config = (shipped if on else
                                          lambda hop_s: dataclasses.replace(shipped(hop_s), reid_deg=0.0))
            for spec in ("gcc-phat", "gcc-phat+tf_histogram=false", "srp-phat"):
                r = moving_scores(spec, "auto", mv, cfg["array"], 10.0, 30.0)
                print(f"| {name} | {spec} | {'on' if on else 'off'} | {r['id_switches_per_min']:.2f} "
                      f"| {r['ospa_deg']:.1f} |")
    kalman.multi_source_config = shipped


def live_rtf() -> None:
    """CPU seconds per audio second of the live path: 20-ms blocks through ``Localizer.process``
    and the multi-source tracker, gcc-phat with K = 3, on the bench's moving scenes (60 s)."""
    from neuroaudio.live.session import track_frame
    from neuroaudio.localize.registry import make_localizer
    from neuroaudio.tracking import make_tracker

    _, mv = _moving(*CONFIGS["bench (seed 22)"])
    for tf in (True, False):
        cpu = audio = 0.0
        for _, x in mv:
            loc = make_localizer("gcc-phat", "respeaker4", sources=3, frame_s=0.064, hop_s=0.032,
                                 tf_histogram=tf)
            tr = make_tracker(loc.hop / loc.fs, True)
            t0 = time.process_time()
            for i in range(0, len(x), 320):
                for fr in loc.process(x[i:i + 320]):
                    track_frame(tr, fr)
            cpu += time.process_time() - t0
            audio += len(x) / loc.fs
        print(f"gcc-phat tf_histogram={tf}: live RTF {cpu / audio:.4f}")


def one_talker() -> None:
    """One talker (20 scenes of sim/multi.py, seed 777) with ``--sources auto``: the error of the
    first reported source, the share within 10 deg and the sources reported, histograms against
    peaks of the correlation sum, at 20 and 5 dB."""
    from neuroaudio.angles import circular_error_deg
    from neuroaudio.localize.registry import make_localizer
    from neuroaudio.sim.multi import plan_scene, render_scene

    print("| SNR | gcc-phat | first source MAE | within 10 deg | sources reported |\n|---|---|---|---|---|")
    for snr in (20.0, 5.0):
        rows: dict[bool, list] = {True: [], False: []}
        for i in range(20):
            sc = plan_scene(i, 1, seed=777, duration_s=3.0, snr_db=snr, rt60_s=(0.2, 0.5))
            x = render_scene(sc)
            for tf in (True, False):
                r = make_localizer("gcc-phat", "respeaker4", sources="auto", frame_s=0.064, hop_s=0.032,
                                   tf_histogram=tf).localize(x)
                err = circular_error_deg(r.sources[0].azimuth_deg, sc.start_deg[0])
                rows[tf].append((err, len(r.sources)))
        for tf in (True, False):
            a = np.array(rows[tf])
            print(f"| {snr:g} dB | {'tf histograms' if tf else 'correlation sum'} | {a[:, 0].mean():.1f} "
                  f"| {(a[:, 0] <= 10).mean():.2f} | {a[:, 1].mean():.2f} |")


if __name__ == "__main__":
    {"reid": reid, "live_rtf": live_rtf, "one_talker": one_talker}[sys.argv[1]]()
