"""What `neuroaudio serve` costs: CPU over the plain live loop, and memory over many clients.

    python -m benchmarks.serve_cost                 # both, prints a table and JSON
    python -m benchmarks.serve_cost --what cpu --seconds 30 --rounds 2
    python -m benchmarks.serve_cost --what clients --cycles 1000

- cpu: the same live session (``--method``, the example file played in real time, 12 frames/s)
  run (a) as the plain live loop printing jsonl (what ``localize --live --format jsonl`` does per
  frame) and (b) as ``neuroaudio serve`` with one WebSocket client reading every frame. Each runs
  in its own process; its CPU time (user + system, /proc) is read over the same ``--seconds``
  window after a 5-s warm-up; the rounds alternate a and b, so background load falls on both.
  Reported: the extra CPU of (b) as a percentage of one core.
- clients: against one ``serve`` process, ``--cycles`` connect / read hello and one frame /
  close cycles, after 50 warm-up cycles; the server's resident memory (VmRSS) before and after,
  the clients it still counts, then 20 clients at once (frames each got in 3 s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "data" / "examples" / "respeaker4_az120.wav"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))


def plain_live(method: str, seconds: float) -> None:
    """(a): the live loop of ``localize --live --format jsonl`` on the file card."""
    from neuroaudio.audio.file_card import FileCard
    from neuroaudio.audio.live import LiveCapture
    from neuroaudio.live import build_live_session

    def factory(n_mics: int, fs_hz: int, **kw):
        return LiveCapture(n_mics=n_mics, fs_hz=fs_hz, sd=FileCard(EXAMPLE, fs_hz, n_mics), **kw)

    session = build_live_session(method, "respeaker4", capture_factory=factory)
    print("ready", file=sys.stderr, flush=True)
    for est in session.run(seconds):
        print(json.dumps(est.to_json()), flush=True)


def start_serve(method: str, seconds: float | None = None) -> tuple[subprocess.Popen, str]:
    args = [sys.executable, str(REPO / "cli.py"), "serve", "--file", str(EXAMPLE), "-m", method,
            "--port", "0", "-q"] + (["--duration", str(seconds)] if seconds else [])
    p = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=_env())
    line = p.stderr.readline()
    m = re.search(r"http://(\S+?)/", line)
    if not m:
        p.kill()
        raise RuntimeError(f"serve did not start: {line}{p.stderr.read()}")
    return p, f"ws://{m.group(1)}/ws"


def _window(pid: int, warmup_s: float, seconds: float) -> float:
    time.sleep(warmup_s)
    c0, t0 = cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_s(pid) - c0) / (time.monotonic() - t0)


def _read_all(url: str, stop: threading.Event, got: list[int]) -> None:
    """A client that reads every message until ``stop``; counts them in ``got[0]``."""
    from websockets.sync.client import connect

    with connect(url) as ws:
        while not stop.is_set():
            try:
                ws.recv(timeout=0.5)
                got[0] += 1
            except TimeoutError:
                pass


def measure_cpu(method: str, seconds: float, rounds: int) -> dict:
    plain, served, frames = [], [], []
    for _ in range(rounds):
        p = subprocess.Popen([sys.executable, "-m", "benchmarks.serve_cost", "--plain", method,
                              "--seconds", str(seconds + 10)], cwd=REPO, env=_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        p.stderr.readline()                  # "ready": the model is loaded
        plain.append(_window(p.pid, 5.0, seconds))
        p.kill()
        p.wait()
        s, url = start_serve(method)
        got = [0]
        stop = threading.Event()
        th = threading.Thread(target=_read_all, args=(url, stop, got))
        th.start()
        served.append(_window(s.pid, 5.0, seconds))
        stop.set()
        th.join()
        frames.append(got[0])
        s.terminate()
        s.wait()
    extra = [100 * (b - a) for a, b in zip(plain, served, strict=True)]
    return {"method": method, "window_s": seconds, "rounds": rounds,
            "plain_core_pct": [round(100 * v, 2) for v in plain],
            "serve_core_pct": [round(100 * v, 2) for v in served],
            "extra_core_pct": [round(v, 2) for v in extra],
            "messages_received": frames}


def measure_clients(cycles: int) -> dict:
    from websockets.sync.client import connect

    s, url = start_serve("gcc-phat")
    try:
        def cycle(n: int) -> None:
            for _ in range(n):
                with connect(url) as ws:
                    ws.recv(timeout=10)
                    ws.recv(timeout=10)

        cycle(50)
        before = rss_kb(s.pid)
        t0 = time.monotonic()
        cycle(cycles)
        took = time.monotonic() - t0
        time.sleep(1.0)
        after = rss_kb(s.pid)
        stats_url = url.replace("ws://", "http://").replace("/ws", "/stats")
        import urllib.request

        stats = json.loads(urllib.request.urlopen(stats_url).read())
        got: list[int] = []

        def client() -> None:
            n, t_end = 0, time.monotonic() + 3.0
            with connect(url) as ws:
                while time.monotonic() < t_end:
                    try:
                        m = json.loads(ws.recv(timeout=0.5))
                        n += m.get("type") == "frame"
                    except TimeoutError:
                        pass
            got.append(n)

        threads = [threading.Thread(target=client) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after20 = rss_kb(s.pid)
        return {"cycles": cycles, "seconds": round(took, 1), "rss_before_kb": before,
                "rss_after_kb": after, "rss_growth_kb": after - before,
                "clients_left": stats["clients"], "connections": stats["connections"],
                "twenty_clients_frames_in_3s": sorted(got), "rss_after_20_kb": after20,
                "alive": s.poll() is None}
    finally:
        s.terminate()
        s.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", choices=("cpu", "clients", "both"), default="both")
    ap.add_argument("--method", default="gcc-phat")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--plain", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.plain:
        plain_live(a.plain, a.seconds)
        return
    out = {}
    if a.what in ("cpu", "both"):
        out["cpu"] = measure_cpu(a.method, a.seconds, a.rounds)
    if a.what in ("clients", "both"):
        out["clients"] = measure_clients(a.cycles)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
