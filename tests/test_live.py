"""Live localization: capture faults with a scripted sound card, and the real thing on a
PulseAudio virtual sound card (a 4-channel null sink whose monitor is recorded).

The PulseAudio tests start their own private server (no system or user session needed) and skip,
saying why, where PulseAudio or PortAudio is not installed (`.ci/setup_live.sh` installs them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import load_array
from neuroaudio.audio.live import (
    CaptureClock,
    DeviceLostError,
    LiveCapture,
    resolve_device,
)
from neuroaudio.errors import InputError
from neuroaudio.live import LiveSession
from neuroaudio.localize.registry import make_localizer

from .conftest import REPO, plane_wave, run_cli

TRUE_AZ = 120.0


# --- a scripted sound card (fault injection without hardware) ------------------------------
class FakeStream:
    """Plays ``signal`` [samples, channels] through the callback in ``blocksize`` blocks.

    pace: 1.0 = real time, 0 = as fast as possible (in a thread), None = all blocks delivered
    inside start() (the worker has not read anything yet: fills the queue).
    overflow_every: flag input_overflow on every k-th block. lose_after: stop delivering after
    this many blocks and end the stream (device lost).
    """

    def __init__(self, signal, pace, overflow_every, lose_after, *, device, channels, samplerate,
                 blocksize, dtype, latency, callback, finished_callback):
        assert signal.shape[1] == channels
        self.signal, self.pace, self.block = signal, pace, blocksize
        self.fs, self.callback, self.finished = samplerate, callback, finished_callback
        self.overflow_every, self.lose_after = overflow_every, lose_after
        self.latency = 0.01
        self._stop = threading.Event()
        self.thread = None

    def _deliver(self):
        n_blocks = len(self.signal) // self.block
        t0 = time.monotonic()
        for k in range(n_blocks):
            if self._stop.is_set():
                return
            if self.lose_after is not None and k >= self.lose_after:
                self.finished()
                return
            if self.pace:
                delay = t0 + (k + 1) * self.block / self.fs / self.pace - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            flag = bool(self.overflow_every and (k + 1) % self.overflow_every == 0)
            self.callback(self.signal[k * self.block:(k + 1) * self.block], self.block, None,
                          SimpleNamespace(input_overflow=flag))
        # after the signal, the card goes on with silence until stopped
        while not self._stop.wait(self.block / self.fs):
            self.callback(np.zeros((self.block, self.signal.shape[1]), np.float32), self.block, None,
                          SimpleNamespace(input_overflow=False))

    def start(self):
        if self.pace is None:
            n = len(self.signal) // self.block
            for k in range(n):
                self.callback(self.signal[k * self.block:(k + 1) * self.block], self.block, None,
                              SimpleNamespace(input_overflow=False))
            self.signal = self.signal[:0]            # then silence, in real time
            self.pace = 1.0
        self.thread = threading.Thread(target=self._deliver, daemon=True)
        self.thread.start()

    def stop(self):
        self._stop.set()
        if self.thread is not None:
            self.thread.join()

    def close(self):
        pass


class FakeSD:
    """Enough of the sounddevice module for LiveCapture: one card, a set of accepted rates."""

    def __init__(self, signal, name="Fake USB Mic Array", channels=4, default_rate=16000, rates=(16000,),
                 pace=0.0, overflow_every=0, lose_after=None):
        self.signal, self.name, self.channels = signal, name, channels
        self.default_rate, self.rates = default_rate, set(rates)
        self.default = SimpleNamespace(device=(1, 0))
        self.pace, self.overflow_every, self.lose_after = pace, overflow_every, lose_after
        self.streams = []

    def query_devices(self):
        return [{"index": 0, "name": "speakers", "hostapi": 0, "max_input_channels": 0,
                 "default_samplerate": 48000.0},
                {"index": 1, "name": self.name, "hostapi": 0, "max_input_channels": self.channels,
                 "default_samplerate": float(self.default_rate)}]

    def query_hostapis(self):
        return [{"name": "Fake API"}]

    def check_input_settings(self, device, channels, samplerate, dtype):
        if samplerate not in self.rates:
            raise ValueError("Invalid sample rate [PaErrorCode -9997]")

    def InputStream(self, **kw):  # noqa: N802 (sounddevice's name)
        s = FakeStream(self.signal, self.pace, self.overflow_every, self.lose_after, **kw)
        self.streams.append(s)
        return s


def _bursty_scene(array, az, fs, seconds, rng, on_s=0.8, off_s=0.4, level=0.2, noise=0.003):
    """White-noise bursts from ``az`` over a quiet sensor-noise floor, ``[samples, mics]``."""
    n = int(seconds * fs)
    src = rng.standard_normal(n) * level
    t = np.arange(n) / fs
    src *= (np.mod(t, on_s + off_s) >= off_s)
    x = plane_wave(array, az, src, fs) + rng.standard_normal((n, array.n_mics)).astype(np.float32) * noise
    return x.astype(np.float32)


def _session(sd, fs=16000, tracking=False, **capture_kw):
    loc = make_localizer("gcc-phat", "respeaker4")
    cap = LiveCapture(device=capture_kw.pop("device", None), n_mics=4, fs_hz=fs, sd=sd,
                      stall_timeout_s=capture_kw.pop("stall_timeout_s", 0.5), **capture_kw)
    from neuroaudio.tracking import AzimuthTracker

    return LiveSession(loc, cap, AzimuthTracker() if tracking else None)


def test_capture_clock():
    c = CaptureClock(1000.0)
    c.add(100, 10.0)          # samples 0..99, sample 99 captured at t = 10.0
    c.add(100, 10.1)          # samples 100..199
    assert c.time_of(99) == pytest.approx(10.0)
    assert c.time_of(150) == pytest.approx(10.1 - 0.049)
    assert c.time_of(0) == pytest.approx(10.0 - 0.099)


def test_device_errors():
    sd = FakeSD(np.zeros((16000, 4), np.float32), channels=4)
    assert resolve_device(None, 4, sd).index == 1                 # the default input
    assert resolve_device("usb mic", 4, sd).index == 1            # part of the name, any case
    assert resolve_device("1", 4, sd).name == "Fake USB Mic Array"
    with pytest.raises(InputError, match="no input device 'nope'"):
        resolve_device("nope", 4, sd)
    with pytest.raises(InputError, match="has 4 input channels but 6 are needed"):
        resolve_device("usb", 6, sd)
    with pytest.raises(InputError, match="2 channels but the array has 4 mics"):
        LiveCapture(channels=[0, 1], n_mics=4, sd=sd)


def test_live_equals_offline_and_counts_overflows(rng):
    """Block-by-block live processing gives the offline estimates; overflows are counted and
    processing goes on."""
    a = load_array("respeaker4")
    x = _bursty_scene(a, TRUE_AZ, 16000, 2.0, rng)
    sd = FakeSD(x, overflow_every=10)
    sess = _session(sd)
    est = []
    for e in sess.run(duration_s=2.0):
        est.append(e)
    offline = make_localizer("gcc-phat", "respeaker4").localize(x).frames
    n = len(offline)
    assert len(est) >= n - 1
    for e, f in zip(est, offline, strict=False):
        assert e.t_s == pytest.approx(f.t_s)
        assert e.raw_azimuth_deg == f.azimuth_deg
    s = sess.summary()
    assert s["overflows"] == (2 * 16000 // 320) // 10
    act = [e.azimuth_deg for e in est if e.azimuth_deg is not None]
    assert len(act) > 8 and np.median(circular_error_deg(np.array(act), TRUE_AZ)) < 5
    line = est[0].to_json()
    assert {"t_s", "azimuth_deg", "confidence", "latency_s"} <= set(line)


def test_rate_fallback_resamples(rng):
    """The card offers only 48 kHz: capture at 48 kHz, resample to 16 kHz, still localize."""
    a = load_array("respeaker4")
    x48 = _bursty_scene(a, 250.0, 48000, 2.0, rng)
    sd = FakeSD(x48, default_rate=48000, rates=(48000,))
    sess = _session(sd)
    est = list(sess.run(duration_s=2.0))
    assert sess.capture.capture_fs == 48000 and sess.capture.fs == 16000
    act = np.array([e.azimuth_deg for e in est if e.azimuth_deg is not None])
    assert len(act) > 6 and np.median(circular_error_deg(act, 250.0)) < 5


def test_queue_overflow_drops_blocks_and_goes_on(rng):
    a = load_array("respeaker4")
    x = _bursty_scene(a, TRUE_AZ, 16000, 2.0, rng)
    sd = FakeSD(x, pace=None)                       # every block arrives before the worker reads
    sess = _session(sd, queue_s=0.2)               # 10 blocks of 20 ms
    est = list(sess.run(duration_s=0.5))
    s = sess.summary()
    assert s["dropped_blocks"] == 100 - 10
    assert len(est) >= 4                           # the worker went on (with the silence after)


def test_device_lost_keeps_recording(rng, tmp_path):
    a = load_array("respeaker4")
    x = _bursty_scene(a, TRUE_AZ, 16000, 3.0, rng)
    sd = FakeSD(x, lose_after=60)                  # 60 blocks of 20 ms = 1.2 s, then unplugged
    sess = _session(sd, record=tmp_path / "rec.wav")
    got = []
    with pytest.raises(DeviceLostError, match="was lost after 1.2 s.*recording so far"):
        for e in sess.run():
            got.append(e)
    assert len(got) >= 12                         # the estimates before the loss came out
    info = sf.info(str(tmp_path / "rec.wav"))
    assert info.frames == 60 * 320 and info.channels == 4 and info.samplerate == 16000
    rec, _ = sf.read(str(tmp_path / "rec.wav"), dtype="float32")
    ref = np.clip(x[:60 * 320], -1.0, 32767 / 32768)   # PCM_16: clipped at full scale, rounded
    assert np.max(np.abs(rec - ref)) < 1e-4


def test_latency_real_time(rng):
    """Median capture-to-estimate latency with 170 ms frames on a real-time card: < 250 ms."""
    a = load_array("respeaker4")
    x = _bursty_scene(a, TRUE_AZ, 16000, 1.6, rng)
    sd = FakeSD(x, pace=1.0)
    sess = _session(sd, tracking=True)
    est = list(sess.run(duration_s=1.6))
    lat = np.array([e.latency_s for e in est])
    assert len(lat) >= 15
    assert np.median(lat) < 0.25, np.median(lat)
    assert lat.min() >= 0.0


# --- the real thing: PulseAudio virtual sound card -----------------------------------------
CHANNEL_MAP = "front-left,front-right,rear-left,rear-right"


class Player:
    """Runs a command again and again in a thread until :meth:`terminate`."""

    def __init__(self, cmd: list[str], env: dict):
        self.cmd, self.env = cmd, env
        self._stop = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
            self._proc.wait()
            if self._proc.returncode != 0:
                self._stop.wait(0.2)

    def terminate(self) -> None:
        self._stop.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
        self._thread.join(timeout=10)

    kill = terminate

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else 0

    def wait(self, timeout: float = 10) -> None:
        self._thread.join(timeout=timeout)


@dataclass
class PulseCard:
    env: dict
    sink: str
    tmp: Path

    def play(self, wav: Path, sink: str | None = None) -> Player:
        """Play ``wav`` into the card over and over (slow start-ups never miss it) until stopped."""
        return Player(["paplay", f"--device={sink or self.sink}", f"--channel-map={CHANNEL_MAP}", str(wav)],
                      self.env)

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()


def _portaudio_missing() -> str | None:
    try:
        import sounddevice  # noqa: F401
    except OSError as e:
        return f"PortAudio is not installed ({e}); apt-get install libportaudio2"
    return None


def _pulse_skip_reason() -> str | None:
    missing = [t for t in ("pulseaudio", "pactl", "paplay") if shutil.which(t) is None]
    if missing:
        return (f"PulseAudio not installed ({', '.join(missing)} missing): apt-get install pulseaudio "
                "pulseaudio-utils libasound2-plugins (.ci/setup_live.sh does)")
    if not Path("/usr/share/alsa/alsa.conf.d/pulse.conf").exists() and \
            not Path("/etc/alsa/conf.d/99-pulse.conf").exists():
        return "ALSA's PulseAudio plugin is not installed: apt-get install libasound2-plugins"
    return _portaudio_missing()


def start_pulse(d: Path) -> tuple[subprocess.Popen, PulseCard]:
    """Start a private PulseAudio server in folder ``d`` with a 4-channel null sink `na_card`
    (16 kHz); recording clients get its monitor through ALSA's `pulse` device (PULSE_SOURCE).
    Skips the test when PulseAudio/PortAudio is missing or the server does not start."""
    why = _pulse_skip_reason()
    if why:
        pytest.skip(why)
    sock = d / "native"
    env = dict(os.environ, HOME=str(d), PULSE_RUNTIME_PATH=str(d / "run"), PULSE_STATE_PATH=str(d / "state"),
               XDG_RUNTIME_DIR=str(d / "run"))
    env.pop("PULSE_SERVER", None)
    with open(d / "pulseaudio.log", "w") as log:
        proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
             "--log-target=stderr",
             "-L", f"module-native-protocol-unix auth-anonymous=1 socket={sock}",
             "-L", f"module-null-sink sink_name=na_card channels=4 rate=16000 channel_map={CHANNEL_MAP}"],
            env=env, stdout=log, stderr=log)
    client_env = dict(os.environ, PULSE_SERVER=f"unix:{sock}", PULSE_SOURCE="na_card.monitor",
                      PULSE_SINK="na_card", OMP_NUM_THREADS="1")
    card = PulseCard(client_env, "na_card", d)
    t0 = time.monotonic()
    while subprocess.run(["pactl", "info"], env=client_env, capture_output=True).returncode != 0:
        if proc.poll() is not None or time.monotonic() - t0 > 10:
            proc.kill()
            pytest.skip(f"PulseAudio did not start: {(d / 'pulseaudio.log').read_text()[-500:]}")
        time.sleep(0.1)
    return proc, card


def stop_pulse(proc: subprocess.Popen) -> None:
    stop_all(proc)


def stop_all(*procs: subprocess.Popen | Player | None, server: subprocess.Popen | None = None) -> None:
    """The end of a live test, also a failed one: every process of ``procs`` still running
    (players, CLIs, nodes; None is skipped) gets SIGTERM, and SIGKILL if it has not ended 5 s
    later; then the sound ``server`` is stopped the same way."""
    procs_ = [p for p in procs if p is not None]
    for p in procs_:
        if p.poll() is None:
            p.terminate()
    for p in procs_:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if server is not None:
        stop_all(server)


@pytest.fixture(scope="module")
def pulse_card(tmp_path_factory):
    """A private PulseAudio server with a 4-channel null sink as the sound card."""
    proc, card = start_pulse(tmp_path_factory.mktemp("pulse"))
    yield card
    stop_pulse(proc)


@pytest.fixture(scope="module")
def scene_wav(tmp_path_factory):
    """6 s of white-noise bursts from TRUE_AZ on respeaker4, over a quiet floor (16 kHz, 4 ch)."""
    rng = np.random.default_rng(7)
    x = _bursty_scene(load_array("respeaker4"), TRUE_AZ, 16000, 6.0, rng)
    p = tmp_path_factory.mktemp("scene") / "scene_az120.wav"
    sf.write(str(p), x, 16000, subtype="PCM_16")
    return p


def _live_cmd(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "cli.py"), "localize", "--live", "--device", "pulse",
            "--array", "respeaker4", "--method", "gcc-phat", *args]


@pytest.mark.live
def test_pulse_live_localize(pulse_card, scene_wav, tmp_path):
    """--duration stops it; a second recorder on the same card is stopped by Ctrl-C (SIGINT):
    both exit 0 with their recordings complete."""
    player, ctrl_c = pulse_card.play(scene_wav), None
    try:
        ctrl_c = subprocess.Popen(_live_cmd("--format", "jsonl", "--record", str(tmp_path / "ctrl_c.wav")),
                                  env=pulse_card.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=REPO)
        r = subprocess.run(_live_cmd("--duration", "3", "--format", "jsonl", "--record",
                                     str(tmp_path / "rec.wav")),
                           env=pulse_card.env, capture_output=True, text=True, timeout=60, cwd=REPO)
        ctrl_c.send_signal(signal.SIGINT)
        out_c, err_c = ctrl_c.communicate(timeout=30)
    finally:
        stop_all(player, ctrl_c)
    assert ctrl_c.returncode == 0 and "stopped by Ctrl-C" in err_c, err_c
    assert len(out_c.splitlines()) >= 10
    assert sf.info(str(tmp_path / "ctrl_c.wav")).frames > 16000
    assert r.returncode == 0, r.stderr
    lines = [json.loads(s) for s in r.stdout.splitlines()]
    assert len(lines) >= 30                                  # 3 s / 85 ms hop
    assert all({"t_s", "azimuth_deg", "confidence", "latency_s"} <= set(d) for d in lines)
    az = np.array([d["azimuth_deg"] for d in lines if d["azimuth_deg"] is not None])
    assert len(az) >= 10, r.stdout[-2000:]
    assert np.median(circular_error_deg(az, TRUE_AZ)) < 10
    lat = np.array([d["latency_s"] for d in lines])
    assert np.median(lat) < 0.25
    counts = re.search(r"overflows (\d+), dropped blocks (\d+)", r.stderr)   # the summary's counts
    assert counts, r.stderr
    assert int(counts.group(2)) == 0                         # gcc-phat keeps up: no block dropped
    info = sf.info(str(tmp_path / "rec.wav"))
    assert info.channels == 4 and abs(info.frames / info.samplerate - 3.0) < 0.05


@pytest.mark.live
def test_pulse_bad_channels_and_missing_device(pulse_card, scene_wav):
    """Too many channels asked of the card, a card that does not exist: exit 2, one clear line;
    `neuroaudio devices` lists the card; a 2-channel card that PulseAudio presents as 4
    channels (3-4 copy 1-2) is refused after its first second of sound, one line, exit 2 (the
    four commands run side by side)."""
    missing = _live_cmd("--duration", "1")
    missing[missing.index("pulse")] = "no-such-card"
    pulse_card.pactl("load-module", "module-null-sink", "sink_name=na_stereo", "channels=2",
                     "rate=16000", "channel_map=front-left,front-right")
    stereo = pulse_card.play(scene_wav, sink="na_stereo")
    cmds = [_live_cmd("--channels", "1,2,3,40", "--duration", "1"), missing,
            [sys.executable, str(REPO / "cli.py"), "devices", "--json"], _live_cmd("--duration", "4")]
    envs = [pulse_card.env] * 3 + [dict(pulse_card.env, PULSE_SOURCE="na_stereo.monitor")]
    try:
        procs = [subprocess.Popen(c, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=REPO) for c, e in zip(cmds, envs, strict=True)]
        (out0, err0), (out1, err1), (out2, err2), (out3, err3) = (p.communicate(timeout=60)
                                                                  for p in procs)
    finally:
        stereo.terminate()
    assert procs[3].returncode == 2, err3
    lines = err3.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuroaudio: error: input device 'pulse': channel 3 "
                                                   "copies channel 1, channel 4 copies channel 2"), err3
    assert len(out3.splitlines()) <= 12          # refused after the first second of sound
    assert procs[0].returncode == 2 and "input channels but 40 are needed" in err0, err0
    assert err0.strip().splitlines()[-1].startswith("neuroaudio: error: input device")
    assert procs[1].returncode == 2 and "no input device 'no-such-card'" in err1, err1
    assert procs[2].returncode == 0, err2
    devs = [json.loads(s) for s in out2.splitlines()]
    assert any(d["name"] == "pulse" and d["input_channels"] >= 4 for d in devs), out2


@pytest.mark.live
def test_pulse_device_lost_keeps_recording(scene_wav, tmp_path):
    """The sound server (our sound card) goes away mid-stream: clear error, exit 2, the
    recording so far kept. (Unloading a sink is not enough: PulseAudio moves the stream.)"""
    server, card = start_pulse(tmp_path)
    player = card.play(scene_wav)
    rec = tmp_path / "lost.wav"
    proc = subprocess.Popen(_live_cmd("--format", "jsonl", "--record", str(rec)), env=card.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        n = 0
        for _ in proc.stdout:                               # wait for estimates to flow
            n += 1
            if n == 12:
                break
        stop_pulse(server)
        out, err = proc.communicate(timeout=30)
    finally:
        stop_all(player, proc, server=server)
    assert proc.returncode == 2, err
    assert "was lost" in err and str(rec) in err, err
    info = sf.info(str(rec))
    assert info.channels == 4 and info.frames >= 12 * 0.085 * 16000


def test_docs_embedding_example_runs(rng):
    """The embedding example of docs/live.md, fed from a fake callback, finds the source."""
    text = (REPO / "docs" / "live.md").read_text(encoding="utf-8")
    part = text[text.index("## Embedding in your own node"):]
    code = part[part.index("```python") + len("```python"):]
    code = code[:code.index("```")]
    ns: dict = {}
    exec(compile(code, "docs/live.md", "exec"), ns)
    x = _bursty_scene(load_array("respeaker4"), 200.0, 16000, 1.5, rng)
    out = []
    for i in range(0, len(x), 441):                      # odd block size, as a callback might give
        ns["audio_callback"](x[i:i + 441], len(x[i:i + 441]), None, None)
        out += ns["process_pending"]()
    tracked = [d[2] for d in out if d[2] is not None]
    assert len(out) >= 15 and len(tracked) >= 5
    assert np.median(circular_error_deg(np.array(tracked), 200.0)) < 5


def test_live_view_needle_and_meter():
    from rich.console import Console

    from neuroaudio.cli.live_cmd import _live_view
    from neuroaudio.live import LiveEstimate

    c = Console(width=100, record=True, color_system=None)
    est = LiveEstimate(1.0, 180.0, 0.7, 0.05, -40.0, True, 178.0, 1)
    c.print(_live_view(est, {"overflows": 3, "dropped_blocks": 0, "device": "card"}, "gcc-phat",
                       "respeaker4", 48))
    text = c.export_text()
    lines = text.splitlines()
    needle = next(ln for ln in lines if "▲" in ln)
    dial = next(ln for ln in lines if "┊" in ln)
    assert needle.index("▲") - dial.index("┊") == 24          # 180° = the dial's middle
    meter = next(ln for ln in lines if "dBFS" in ln)
    assert meter.count("█") == 20 and "overflows 3" in text


def test_live_takes_method_options_like_files():
    """`-o`/`--model` reach the live localizer too (checked before any sound card is opened)."""
    r = run_cli("localize", "--live", "--duration", "1", "--model", "m.pt")
    assert r.returncode == 2 and "method 'gcc-phat' has no option 'model'" in r.stderr, r.stderr
    r = run_cli("localize", "--live", "--duration", "1", "-o", "no_such_option=1")
    assert r.returncode == 2 and "no option 'no_such_option'" in r.stderr, r.stderr


@pytest.mark.parametrize("method", ["gcc-phat-sm"])
def test_live_learned_method_equals_offline(method):
    """A learned localizer (its shipped model) runs live block by block with the same per-frame
    estimates as offline, on the shipped example (a talker at 120°)."""
    from neuroaudio.audio import read_audio

    x, fs = read_audio(Path(__file__).resolve().parent.parent / "data" / "examples" / "respeaker4_az120.wav")
    x = np.asarray(x, np.float32)
    sd = FakeSD(x)
    cap = LiveCapture(device=None, n_mics=4, fs_hz=fs, sd=sd, stall_timeout_s=0.5)
    sess = LiveSession(make_localizer(method, "respeaker4"), cap, None)
    est = list(sess.run(duration_s=len(x) / fs))
    offline = make_localizer(method, "respeaker4").localize(x).frames
    assert len(est) >= len(offline) - 1
    for e, f in zip(est, offline, strict=False):
        assert e.t_s == pytest.approx(f.t_s)
        assert e.raw_azimuth_deg == f.azimuth_deg
    act = np.array([e.azimuth_deg for e in est if e.azimuth_deg is not None])
    assert len(act) > 8 and np.median(circular_error_deg(act, 120.0)) < 10
