"""Live mode faults (issue 17): dependent channels, gaps in the audio, a hung sound server,
reconnection, SIGTERM, --record onto an existing file, --threads; first on a scripted sound
card, then on a private PulseAudio server (skipped, saying why, where PulseAudio is missing)."""

from __future__ import annotations

import json
import logging
import re
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import load_array
from neuroaudio.audio.channels import dependent_channels, describe_dependent
from neuroaudio.audio.io import read_audio
from neuroaudio.audio.live import (
    DependentChannelsError,
    DeviceCalls,
    DeviceHungError,
    DeviceLostError,
    LiveCapture,
)
from neuroaudio.errors import InputError
from neuroaudio.live import LiveSession, build_live_session
from neuroaudio.localize.registry import make_localizer
from neuroaudio.ros.core import NodeCore, NodeParams, unused_record_path

from .conftest import REPO, run_cli
from .test_live import (
    TRUE_AZ,
    FakeSD,
    FakeStream,
    _bursty_scene,
    _live_cmd,
    scene_wav,  # noqa: F401 (fixture)
    start_pulse,
    stop_all,
    stop_pulse,
)


# --- dependent channels: one function for files and live ---------------------------------
def test_dependent_channels_on_arrays(rng):
    a = rng.standard_normal((16000, 2)) * 0.1
    assert describe_dependent(dependent_channels(np.c_[a, a])) == \
        "channel 3 copies channel 1, channel 4 copies channel 2"
    found = dependent_channels(np.c_[a, 0.5 * a[:, :1], np.zeros((16000, 1))])
    assert describe_dependent(found) == "channel 3 is 0.50 x channel 1, channel 4 is all zero"
    mix = dependent_channels(np.c_[a, a @ [0.5, 0.5], rng.standard_normal(16000)])
    assert [(d.channel, d.sources) for d in mix] == [(2, (0, 1))]
    # copies under 16-bit rounding (what a sound server delivers) are still caught
    q = np.round(np.c_[a, a] * 32767) / 32767
    assert [d.channel for d in dependent_channels(q.astype(np.float32))] == [2, 3]
    # the selection's numbers are the device's (1-based) numbers
    assert describe_dependent(dependent_channels(np.c_[a, a]), channels=[1, 2, 3, 4]) == \
        "channel 4 copies channel 2, channel 5 copies channel 3"
    # distinct microphones (independent self-noise, even 60 dB under a common source): none
    src = rng.standard_normal(16000)
    x = np.stack([np.roll(src, k) for k in range(4)], 1) + rng.standard_normal((16000, 4)) * 1e-2
    assert dependent_channels(x) == []
    assert dependent_channels(np.zeros((16000, 4))) == []          # silence tells nothing
    assert dependent_channels(rng.standard_normal((16000, 1))) == []


def test_file_with_copied_channels_warns(rng, tmp_path, caplog):
    x = _bursty_scene(load_array("respeaker4"), TRUE_AZ, 16000, 1.5, rng)
    dup = np.c_[x[:, :2], x[:, :2]]
    sf.write(str(tmp_path / "dup.wav"), dup, 16000, subtype="PCM_16")
    sf.write(str(tmp_path / "ok.wav"), x, 16000, subtype="PCM_16")
    with caplog.at_level(logging.WARNING, logger="neuroaudio"):
        read_audio(tmp_path / "ok.wav")
        assert not caplog.records
        read_audio(tmp_path / "dup.wav")
    assert len(caplog.records) == 1
    assert "channel 3 copies channel 1, channel 4 copies channel 2" in caplog.records[0].getMessage()
    r = run_cli("localize", str(tmp_path / "dup.wav"), "--method", "gcc-phat", "--format", "json")
    assert r.returncode == 0 and r.stderr.count("not distinct microphones") == 1, r.stderr


def _dup_session(rng, **kw):
    x = _bursty_scene(load_array("respeaker4"), TRUE_AZ, 16000, 3.0, rng)
    sd = FakeSD(np.c_[x[:, :2], x[:, :2]].astype(np.float32))
    cap = LiveCapture(n_mics=4, fs_hz=16000, sd=sd, stall_timeout_s=0.5, **kw)
    return LiveSession(make_localizer("gcc-phat", "respeaker4"), cap, None)


def test_live_refuses_copied_channels(rng, caplog):
    sess = _dup_session(rng)
    got = []
    with pytest.raises(DependentChannelsError, match="channel 3 copies channel 1, channel 4 copies "
                                                     "channel 2.*--allow-dependent-channels"):
        for e in sess.run(duration_s=3.0):
            got.append(e)
    assert abs(sess.capture.stats.samples / 16000 - 1.0) < 0.03     # decided on the first second
    assert len(got) <= 12
    sess = _dup_session(rng, allow_dependent_channels=True)
    with caplog.at_level(logging.WARNING, logger="neuroaudio"):
        est = list(sess.run(duration_s=3.0))
    assert len(est) >= 30
    assert sum("going on as asked" in r.getMessage() for r in caplog.records) == 1


# --- gaps: reported on each line, not only in the summary ---------------------------------
def test_gap_flag_when_the_consumer_stalls(rng):
    """The consumer stops reading for 0.6 s with a 0.2 s queue: the blocks dropped meanwhile
    show up as ``gap``/``dropped_s`` on the lines around them, and the sum of ``dropped_s``
    equals the summary's."""
    x = _bursty_scene(load_array("respeaker4"), TRUE_AZ, 16000, 3.0, rng)
    sd = FakeSD(x, pace=1.0)
    cap = LiveCapture(n_mics=4, fs_hz=16000, sd=sd, stall_timeout_s=1.0, queue_s=0.2)
    sess = LiveSession(make_localizer("gcc-phat", "respeaker4"), cap, None)
    lines = []
    for e in sess.run(duration_s=2.5):
        lines.append(e.to_json())
        if len(lines) == 8:
            time.sleep(0.6)                       # the stalled consumer
    s = sess.summary()
    assert s["dropped_blocks"] >= 10
    assert s["dropped_s"] == pytest.approx(s["dropped_blocks"] * 0.02, abs=1e-6)
    assert sum(d["dropped_s"] for d in lines) == pytest.approx(s["dropped_s"], abs=1e-3)
    flagged = [i for i, d in enumerate(lines) if d["gap"]]
    assert 1 <= len(flagged) <= 3 and all(i >= 8 for i in flagged), flagged
    assert [i for i, d in enumerate(lines) if d["dropped_s"] > 0] == flagged[:1]
    assert all(set(d) >= {"gap", "dropped_s"} for d in lines)


def test_overflow_sets_the_gap_flag(rng):
    x = _bursty_scene(load_array("respeaker4"), TRUE_AZ, 16000, 2.0, rng)
    sess = LiveSession(make_localizer("gcc-phat", "respeaker4"),
                       LiveCapture(n_mics=4, fs_hz=16000, sd=FakeSD(x, overflow_every=25),
                                   stall_timeout_s=0.5), None)
    lines = [e.to_json() for e in sess.run(duration_s=2.0)]
    assert sess.summary()["overflows"] == 4
    assert 4 <= sum(d["gap"] for d in lines) <= 8       # each overflow is inside 1-2 frames
    assert all(d["dropped_s"] == 0 for d in lines)      # its length is unknown


# --- a hung sound server ------------------------------------------------------------------
class HungStream(FakeStream):
    """Delivers ``after`` blocks, then nothing, and stop/abort/close block until released:
    what PortAudio does when its sound server is stopped (SIGSTOP)."""

    release = threading.Event()

    def _deliver(self):
        for k in range(self.lose_after):
            if self._stop.wait(self.block / self.fs):
                return
            self.callback(self.signal[k * self.block:(k + 1) * self.block], self.block, None, None)

    def stop(self):
        self.release.wait()
        super().stop()

    def abort(self):
        self.stop()


class HungSD(FakeSD):
    def __init__(self, *a, hang_open=False, **kw):
        super().__init__(*a, **kw)
        self.hang_open = hang_open

    def InputStream(self, **kw):  # noqa: N802
        if self.hang_open:
            HungStream.release.wait()
        s = HungStream(self.signal, 1.0, 0, self.lose_after, **kw)
        self.streams.append(s)
        return s


def test_hung_server_does_not_hang_the_capture(rng, tmp_path):
    x = _bursty_scene(load_array("respeaker4"), TRUE_AZ, 16000, 2.0, rng)
    HungStream.release.clear()
    try:
        # the stream goes silent and stopping it hangs: lost after the stall, close abandoned
        cap = LiveCapture(n_mics=4, fs_hz=16000, sd=HungSD(x, lose_after=25), stall_timeout_s=0.3,
                          close_timeout_s=0.5, record=tmp_path / "hung.wav", calls=DeviceCalls())
        sess = LiveSession(make_localizer("gcc-phat", "respeaker4"), cap, None)
        t0 = time.monotonic()
        with pytest.raises(DeviceLostError, match="no audio for 0.[3-9] s; the sound server does not "
                                                  "answer.*recording so far \\(0.5 s\\)"):
            list(sess.run())
        assert time.monotonic() - t0 < 4.0
        assert sf.info(str(tmp_path / "hung.wav")).frames == 25 * 320
        # Ctrl-C / ROS shutdown while the stream hangs: stop() ends the run in bounded time
        cap = LiveCapture(n_mics=4, fs_hz=16000, sd=HungSD(x, lose_after=1000), close_timeout_s=0.5,
                          calls=DeviceCalls())
        sess = LiveSession(make_localizer("gcc-phat", "respeaker4"), cap, None)
        threading.Timer(0.5, sess.stop).start()
        t0 = time.monotonic()
        list(sess.run())
        assert time.monotonic() - t0 < 3.0
        # opening hangs: DeviceHungError (one line, exit 2) within device_timeout_s
        cap = LiveCapture(n_mics=4, fs_hz=16000, sd=HungSD(x, hang_open=True, lose_after=1),
                          device_timeout_s=0.5, calls=DeviceCalls())
        t0 = time.monotonic()
        with pytest.raises(DeviceHungError, match="did not answer within 0.5 s \\(opening"):
            list(LiveSession(make_localizer("gcc-phat", "respeaker4"), cap, None).run())
        assert time.monotonic() - t0 < 2.0
    finally:
        HungStream.release.set()


def test_device_calls_refuse_while_a_call_is_stuck():
    calls, gate, late = DeviceCalls(), threading.Event(), []
    with pytest.raises(DeviceHungError, match="within 0.2 s \\(stuck\\)"):
        calls.call(gate.wait, 0.2, "stuck", on_late=late.append)
    with pytest.raises(DeviceHungError, match="has not answered .*\\(stuck\\)"):
        calls.call(lambda: 1, 0.2, "next")
    gate.set()
    time.sleep(0.2)
    assert late == [True]                          # the late result was handed to on_late
    assert calls.call(lambda: 7, 1.0, "after") == 7
    with pytest.raises(ValueError, match="boom"):
        calls.call(lambda: (_ for _ in ()).throw(ValueError("boom")), 1.0, "raises")


# --- reconnection --------------------------------------------------------------------------
def test_reconnect_after_losses(rng, tmp_path):
    """The card ends its stream every 0.6 s: with reconnect the capture comes back each time,
    one WAV holds everything, and each reconnection is one gap line with its outage."""
    x = _bursty_scene(load_array("respeaker4"), TRUE_AZ, 16000, 1.0, rng)
    sd = FakeSD(x, lose_after=30)
    cap = LiveCapture(n_mics=4, fs_hz=16000, sd=sd, stall_timeout_s=0.5, reconnect=True,
                      record=tmp_path / "r.wav")
    sess = LiveSession(make_localizer("gcc-phat", "respeaker4"), cap, None)
    lines = [e.to_json() for e in sess.run(duration_s=1.5)]
    s = sess.summary()
    assert s["reconnects"] == 2 and len(sd.streams) == 3 and not s["device_lost"]
    assert 1.0 <= s["outage_s"] < 4.0
    lost = [d["dropped_s"] for d in lines if d["dropped_s"] > 0]
    assert len(lost) == 2 and sum(lost) == pytest.approx(s["outage_s"], abs=0.01)
    assert sf.info(str(tmp_path / "r.wav")).frames == 75 * 320
    az = [d["azimuth_deg"] for d in lines if d["azimuth_deg"] is not None]
    assert len(az) >= 5 and np.median(circular_error_deg(np.array(az), TRUE_AZ)) < 5


# --- --record onto an existing file, --threads, the ROS parameters --------------------------
def test_record_refuses_an_existing_file(tmp_path):
    old = tmp_path / "old.wav"
    old.write_bytes(b"precious")
    r = run_cli("localize", "--live", "--record", str(old), "--duration", "1")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"neuroaudio: error: --record {old}: the file exists; pass --overwrite to replace it, or "
        "choose another name"], r.stderr
    assert old.read_bytes() == b"precious"
    with pytest.raises(InputError, match="the file exists"):
        LiveCapture(record=old, sd=FakeSD(np.zeros((320, 4), np.float32)))
    with pytest.raises(InputError, match="--threads 0: give 1 or more"):
        build_live_session("gcc-phat", "respeaker4", threads=0)


def test_ros_never_overwrites_a_recording(rng, tmp_path):
    rec = tmp_path / "run.wav"
    rec.write_bytes(b"the first run")
    assert unused_record_path(str(tmp_path / "new.wav")) == str(tmp_path / "new.wav")
    t = time.mktime((2026, 12, 4, 16, 20, 0, 0, 0, 0)) - time.timezone
    assert Path(unused_record_path(str(rec), now=t)).name == "run-20261204T162000Z.wav"
    x = _bursty_scene(load_array("respeaker4"), TRUE_AZ, 16000, 1.0, rng)
    core = NodeCore(NodeParams(method="gcc-phat", record=str(rec)), _Sink(),
                    capture_factory=lambda **kw: LiveCapture(sd=FakeSD(x), **kw))
    core.run(duration_s=1.0)
    assert rec.read_bytes() == b"the first run"
    assert core.record_path != str(rec) and sf.info(core.record_path).frames == 16000


class _Sink:
    def publish(self, out):
        pass


def test_threads_and_new_ros_params(rng):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        sess = build_live_session("gcc-phat-sm", "respeaker4", threads=1,
                                  capture_factory=lambda **kw: LiveCapture(
                                      sd=FakeSD(np.zeros((16000, 4), np.float32)), **kw))
        assert torch.get_num_threads() == 1 and sess.localizer.name == "gcc-phat-sm"
    finally:
        torch.set_num_threads(before)
    p = NodeParams.from_mapping({"threads": "2", "reconnect": "false", "reconnect_max_s": 5})
    assert (p.threads, p.reconnect, p.reconnect_max_s) == (2, False, 5.0)
    d = NodeParams()
    assert (d.threads, d.reconnect, d.allow_dependent_channels) == (1, True, False)


# --- the real thing: a private PulseAudio server --------------------------------------------
def _header_ok(path: Path) -> tuple[int, int]:
    """(RIFF size, data size) of a 44-byte-header PCM WAV; both must match the file's length."""
    b = path.read_bytes()
    riff = struct.unpack("<I", b[4:8])[0]
    i = b.index(b"data")
    data = struct.unpack("<I", b[i + 4:i + 8])[0]
    assert riff == len(b) - 8 and data == len(b) - i - 8, (riff, data, len(b))
    return riff, data


def _wait_lines(proc: subprocess.Popen, n: int) -> list[str]:
    out = []
    for line in proc.stdout:
        out.append(line)
        if len(out) == n:
            break
    return out


@pytest.mark.live
def test_pulse_sigterm_and_stopped_server(scene_wav, tmp_path):  # noqa: F811
    """Three live CLIs on one private server: SIGTERM to the first prints the summary, exits 0
    and leaves a WAV whose header matches its length and the summary; then the server is
    stopped (SIGSTOP): Ctrl-C ends the third within 8 s (exit 0, summary, WAV valid), the
    second ends by itself, exit 2, one error line after the summary, recording kept, within
    10 s; a third started while the server is stopped gives up on
    PortAudio's start-up after 10 s: one line, exit 2."""
    server, card = start_pulse(tmp_path)
    player = card.play(scene_wav)
    rec_t, rec_s, rec_c = tmp_path / "term.wav", tmp_path / "stopped.wav", tmp_path / "ctrl_c.wav"
    late = None
    procs = [subprocess.Popen(_live_cmd("--format", "jsonl", "--record", str(r)), env=card.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
             for r in (rec_t, rec_s, rec_c)]
    try:
        for p in procs:
            assert len(_wait_lines(p, 8)) == 8
        procs[0].send_signal(signal.SIGTERM)
        out_t, err_t = procs[0].communicate(timeout=20)
        server.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        # a third one starts while the server is stopped: PortAudio's start-up hangs
        late = subprocess.Popen(_live_cmd("--duration", "1"), env=card.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=REPO)
        time.sleep(0.5)
        procs[2].send_signal(signal.SIGINT)    # Ctrl-C while the server is stopped
        _, err_c = procs[2].communicate(timeout=30)
        took_c = time.monotonic() - t0
        out_s, err_s = procs[1].communicate(timeout=30)
        took = time.monotonic() - t0
        _, err_late = late.communicate(timeout=40)
        took_late = time.monotonic() - t0
    finally:
        server.send_signal(signal.SIGCONT)
        stop_all(player, *procs, late, server=server)
    assert late.returncode == 2 and took_late < 25, (took_late, err_late)
    assert err_late.strip().splitlines() == ["neuroaudio: error: the sound system did not answer within "
                                             "10 s (starting PortAudio); is the sound server stopped "
                                             "or hung?"], err_late
    assert procs[0].returncode == 0 and "stopped by SIGTERM" in err_t, err_t
    captured = float(re.search(r"live: ([0-9.]+) s from", err_t).group(1))
    _header_ok(rec_t)
    assert abs(sf.info(str(rec_t)).frames / 16000 - captured) <= 0.06
    assert procs[2].returncode == 0 and "stopped by Ctrl-C" in err_c and took_c < 8, (took_c, err_c)
    _header_ok(rec_c)
    assert procs[1].returncode == 2 and took < 10, (took, err_s)
    ours = [ln for ln in err_s.splitlines() if ln.startswith("neuroaudio:")]
    assert len(ours) == 2 and ours[0].startswith("neuroaudio: live:"), err_s
    assert "was lost" in ours[1] and "does not answer" in ours[1] and str(rec_s) in ours[1]
    _header_ok(rec_s)


@pytest.mark.live
def test_pulse_reconnect_after_stop_and_restart(scene_wav, tmp_path):  # noqa: F811
    """With --reconnect the live CLI survives its sound server being stopped (SIGSTOP 3 s,
    then SIGCONT) and then killed and restarted: two reconnections, each a line with
    ``dropped_s`` > 0, estimates afterwards, and SIGTERM still ends it cleanly."""
    server, card = start_pulse(tmp_path)
    player = card.play(scene_wav)
    proc = subprocess.Popen(_live_cmd("--format", "jsonl", "--reconnect", "--record",
                                      str(tmp_path / "r.wav")), env=card.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    lines: list[str] = []
    try:
        lines += _wait_lines(proc, 6)
        server.send_signal(signal.SIGSTOP)
        time.sleep(3.0)
        server.send_signal(signal.SIGCONT)
        lines += _wait_lines(proc, 6)         # flowing again
        player.kill()
        stop_pulse(server)
        server, card2 = start_pulse(tmp_path)
        player = card2.play(scene_wav)
        lines += _wait_lines(proc, 6)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        lines += out.splitlines()
    finally:
        stop_all(player, proc, server=server)
    assert proc.returncode == 0 and "stopped by SIGTERM" in err, err
    assert "reconnects 2" in err and err.count("reconnected to 'pulse'") == 2, err
    est = [json.loads(s) for s in lines]
    back = [i for i, d in enumerate(est) if d["dropped_s"] > 0]
    assert len(back) == 2, [d for d in est if d["gap"]]
    az = np.array([d["azimuth_deg"] for d in est[back[1]:] if d["azimuth_deg"] is not None])
    assert len(az) >= 1 and np.median(circular_error_deg(az, TRUE_AZ)) < 10
    _header_ok(tmp_path / "r.wav")


def test_ros_node_survives_a_lost_device(rng):
    """The node's default is reconnect: a card that ends its stream after 0.6 s does not end the
    node; it publishes on after coming back. With reconnect off it ends (DeviceLostError)."""
    x = _bursty_scene(load_array("respeaker4"), TRUE_AZ, 16000, 1.0, rng)
    outs = []

    class Pub:
        def publish(self, out):
            outs.append(json.loads(out.estimate_json))

    sd = FakeSD(x, lose_after=30)
    core = NodeCore(NodeParams(method="gcc-phat"), Pub(),
                    capture_factory=lambda **kw: LiveCapture(sd=sd, stall_timeout_s=0.5, **kw))
    summary = core.run(duration_s=1.0)
    assert summary["reconnects"] == 1 and len(sd.streams) == 2
    assert len(outs) >= 10 and sum(d["dropped_s"] > 0 for d in outs) == 1
    core = NodeCore(NodeParams(method="gcc-phat", reconnect=False), Pub(),
                    capture_factory=lambda **kw: LiveCapture(sd=FakeSD(x, lose_after=30),
                                                             stall_timeout_s=0.5, **kw))
    with pytest.raises(DeviceLostError, match="was lost after 0.6 s"):
        core.run(duration_s=1.0)
