"""Capture-to-estimate latency of live localization on a real (virtual) sound card.

Starts a private PulseAudio server with a 4-channel null sink, plays a scene (white-noise bursts
from 120° on respeaker4) into it, and runs the live pipeline (sounddevice callback → bounded
queue → worker: Localizer + tracker) on the sink's monitor through ALSA's `pulse` device, the
same path `neuroaudio localize --live --device pulse` takes. Prints, per method, the median /
95th-percentile / max latency (definition: neuroaudio/audio/live.py), the localizer's time per
frame, the error of the active frames, and the overflow counts, all measured in the same run.

    python -m benchmarks.live_latency                      # gcc-phat and srp-phat, 8 s each
    python -m benchmarks.live_latency --methods gcc-phat --seconds 20 --block-s 0.01
    python -m benchmarks.live_latency --methods maa,gcc-phat-sm --threads 2   # torch threads

The pipeline is built by the same function as `localize --live` (build_live_session), with
``--threads`` CPU threads for the localizer (default 1, as live).

Needs pulseaudio, pulseaudio-utils, libasound2-plugins and libportaudio2 (.ci/setup_live.sh).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CHANNEL_MAP = "front-left,front-right,rear-left,rear-right"


def start_pulse(d: Path) -> tuple[subprocess.Popen, dict]:
    sock = d / "native"
    env = dict(os.environ, HOME=str(d), PULSE_RUNTIME_PATH=str(d / "run"), PULSE_STATE_PATH=str(d / "state"),
               XDG_RUNTIME_DIR=str(d / "run"))
    env.pop("PULSE_SERVER", None)
    proc = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
         "-L", f"module-native-protocol-unix auth-anonymous=1 socket={sock}",
         "-L", f"module-null-sink sink_name=na_card channels=4 rate=16000 channel_map={CHANNEL_MAP}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = {"PULSE_SERVER": f"unix:{sock}", "PULSE_SOURCE": "na_card.monitor", "PULSE_SINK": "na_card"}
    t0 = time.monotonic()
    while subprocess.run(["pactl", "info"], env=dict(os.environ, **client), capture_output=True).returncode:
        if time.monotonic() - t0 > 10:
            proc.kill()
            sys.exit("PulseAudio did not start")
        time.sleep(0.1)
    return proc, client


def scene(seconds: float, az: float, fs: int = 16000) -> np.ndarray:
    from neuroaudio.arrays import load_array

    a = load_array("respeaker4")
    rng = np.random.default_rng(0)
    n = int(seconds * fs)
    src = rng.standard_normal(n) * 0.2 * (np.mod(np.arange(n) / fs, 1.2) >= 0.4)
    t = a.arrival_times_s(az)
    f = np.fft.rfftfreq(n)
    S = np.fft.rfft(src)
    x = np.stack([np.fft.irfft(S * np.exp(-2j * np.pi * f * tk * fs), n) for tk in t], axis=1)
    return (x + rng.standard_normal(x.shape) * 0.003).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="gcc-phat,srp-phat")
    ap.add_argument("--seconds", type=float, default=8.0, help="live run per method (s)")
    ap.add_argument("--block-s", type=float, default=0.02, help="capture block (s)")
    ap.add_argument("--frame-s", type=float, default=0.17)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for the localizer (torch)")
    args = ap.parse_args()
    for tool in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install pulseaudio pulseaudio-utils libasound2-plugins")
    import soundfile as sf

    tmp = Path(tempfile.mkdtemp(prefix="na_live_bench_"))
    server, client = start_pulse(tmp)
    os.environ.update(client)          # before PortAudio starts: ALSA's pulse plugin reads them
    from neuroaudio.angles import circular_error_deg
    from neuroaudio.live import build_live_session

    wav = tmp / "scene.wav"
    total_s = args.seconds * len(args.methods.split(",")) + 10
    sf.write(str(wav), scene(total_s, 120.0), 16000, subtype="PCM_16")
    player = subprocess.Popen(["paplay", "--device=na_card", f"--channel-map={CHANNEL_MAP}", str(wav)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        for method in args.methods.split(","):
            sess = build_live_session(method, "respeaker4", frame_s=args.frame_s, tracking=True,
                                      threads=args.threads, device="pulse", block_s=args.block_s)
            loc = sess.localizer
            proc_times = []
            orig = loc.frames_spectrum

            def timed(frames, _orig=orig, _acc=proc_times):
                t = time.perf_counter()
                out = _orig(frames)
                _acc.append((time.perf_counter() - t) / max(len(frames), 1))
                return out

            loc.frames_spectrum = timed
            est = list(sess.run(args.seconds))
            lat = np.array(sess.latencies)
            az = np.array([e.azimuth_deg for e in est if e.azimuth_deg is not None])
            s = sess.summary()
            rows.append((method, len(est), np.median(lat), np.percentile(lat, 95), lat.max(),
                         1000 * np.median(proc_times) if proc_times else float("nan"),
                         float(np.median(circular_error_deg(az, 120.0))) if len(az) else float("nan"),
                         s["input_latency_s"], s["overflows"], s["dropped_blocks"],
                         sum(e.gap for e in est)))
    finally:
        player.kill()
        server.terminate()
        server.wait()
    print(f"\nlive latency on a PulseAudio virtual card (4-ch null sink monitor via ALSA 'pulse'), "
          f"frame {1000 * args.frame_s:.0f} ms, hop {500 * args.frame_s:.0f} ms, "
          f"block {1000 * args.block_s:.0f} ms, "
          f"{args.seconds:.0f} s per method, tracking on, {args.threads} localizer thread(s)\n")
    print(f"{'method':<10} {'frames':>6} {'median ms':>9} {'p95 ms':>7} {'max ms':>7} {'proc ms/frame':>13} "
          f"{'median err deg':>14} {'PortAudio in-lat ms':>19} {'overflows':>9} {'dropped':>7} "
          f"{'gap lines':>9}")
    for m, n, med, p95, mx, pt, err, il, ov, dr, gl in rows:
        print(f"{m:<10} {n:>6d} {1000 * med:>9.0f} {1000 * p95:>7.0f} {1000 * mx:>7.0f} {pt:>13.1f} "
              f"{err:>14.1f} {1000 * il:>19.0f} {ov:>9d} {dr:>7d} {gl:>9d}")


if __name__ == "__main__":
    main()
