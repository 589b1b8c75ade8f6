"""The ROS node: its framework-free core (always), ROS 1 for real (rosmaster + the node on a
PulseAudio virtual sound card + a subscriber), and the ROS 2 adapter where rclpy imports."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile as sf

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import load_array
from neuroaudio.audio.live import LiveCapture
from neuroaudio.errors import InputError
from neuroaudio.ros.core import NodeCore, NodeParams, direction_quaternion

from .conftest import REPO, plane_wave
from .test_live import TRUE_AZ, FakeSD, _bursty_scene, scene_wav, start_pulse, stop_all  # noqa: F401


def _rotate(q, v):
    x, y, z, w = q
    u = np.array([x, y, z])
    v = np.asarray(v, dtype=float)
    return v + 2 * w * np.cross(u, v) + 2 * np.cross(u, np.cross(u, v))


@pytest.mark.parametrize("az,el", [(0, 0), (90, 0), (200, 0), (315, 30), (45, -20)])
def test_direction_quaternion_points_at_the_source(az, el):
    q = direction_quaternion(az, el)
    assert np.linalg.norm(q) == pytest.approx(1.0)
    a, e = math.radians(az), math.radians(el)
    want = [math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)]
    assert np.allclose(_rotate(q, [1, 0, 0]), want, atol=1e-9)


def test_params_from_ros_values():
    p = NodeParams.from_mapping({"channels": [2, 3, 4, 5], "tracking": "false", "frame_s": "0.2",
                                 "device": 3, "frame_id": "respeaker"})
    assert (p.channels, p.tracking, p.frame_s, p.device, p.frame_id) == ("2,3,4,5", False, 0.2, "3",
                                                                         "respeaker")
    assert NodeParams.from_mapping({}).tracking is True
    with pytest.raises(InputError, match="parameter 'hop_s'"):
        NodeParams.from_mapping({"hop_s": "fast"})


class _Recorder:
    def __init__(self):
        self.outputs = []

    def publish(self, out):
        self.outputs.append(out)


def test_core_publishes_azimuth_only_while_active(rng):
    a = load_array("respeaker4")
    x = _bursty_scene(a, 300.0, 16000, 2.0, rng, on_s=0.8, off_s=0.6)
    sd = FakeSD(x)
    pub = _Recorder()
    core = NodeCore(NodeParams(array="respeaker4", method="gcc-phat", frame_id="arr"), pub,
                    capture_factory=lambda **kw: LiveCapture(sd=sd, **kw))
    core.run(duration_s=2.0)
    outs = pub.outputs
    assert len(outs) >= 20 and core.published == len(outs)
    est = [json.loads(o.estimate_json) for o in outs]
    assert all({"t_s", "azimuth_deg", "confidence", "latency_s"} <= set(e) for e in est)
    with_az = [o for o in outs if o.azimuth_deg is not None]
    assert 5 <= len(with_az) < len(outs)                      # silence publishes no azimuth
    for o in with_az:
        assert o.frame_id == "arr" and o.orientation_xyzw is not None
        assert circular_error_deg(o.azimuth_deg, 300.0) < 10
        assert abs(o.stamp_s - time.time()) < 30
    assert all(o.orientation_xyzw is None for o in outs if o.azimuth_deg is None)


KWS_MODEL = REPO / "data" / "models" / "kws_fsdd_drf.pt"
WORDS = ((1.6, "three", "en", "3"), (4.0, "eight", "en", "8"))   # (start s, word, voice, label)
SECOND_AZ = 250.0


def _talkers_and_words(seconds: float = 6.0, fs: int = 16000) -> np.ndarray:
    """Two noise talkers at once (TRUE_AZ and SECOND_AZ; bursts 0-1.2 s, 2.4-3.6 s, 5.0-6 s) and two
    spoken digits (espeak-ng; the shipped FSDD keyword model scores them 0.98) from TRUE_AZ
    between the bursts, over a quiet floor; ``[samples, 4]`` float32 at 16 kHz."""
    from neuroaudio.sim.speech import synthesize

    a = load_array("respeaker4")
    rng = np.random.default_rng(5)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    on = ((t < 1.2) | ((t >= 2.4) & (t < 3.6)) | (t >= 5.0)).astype(np.float32)
    x = (plane_wave(a, TRUE_AZ, 0.15 * rng.standard_normal(n) * on, fs)
         + plane_wave(a, SECOND_AZ, 0.15 * rng.standard_normal(n) * on, fs))
    for t0, word, voice, _ in WORDS:
        w = synthesize(word, voice=voice, fs=fs)
        w = 0.5 * w / np.max(np.abs(w))
        src = np.zeros(n, np.float32)
        src[int(t0 * fs):int(t0 * fs) + len(w)] = w
        x = x + plane_wave(a, TRUE_AZ, src, fs)
    return (x + 0.003 * rng.standard_normal(x.shape)).astype(np.float32)


def test_core_publishes_keywords_with_the_main_direction():
    x = _talkers_and_words()
    sd = FakeSD(x, pace=1.0)                  # real time: no block dropped (the spotter hears all)
    pub = _Recorder()
    core = NodeCore(NodeParams(method="gcc-phat", sources="2", kws_model=str(KWS_MODEL)),
                    pub, capture_factory=lambda **kw: LiveCapture(sd=sd, **kw))
    assert core.kws_labels == [str(d) for d in range(10)]
    assert core.run(duration_s=6.0)["dropped_blocks"] == 0
    kws = [k for o in pub.outputs for k in (o.keywords or [])]
    assert [k["label"] for k in kws] == [w[3] for w in WORDS], kws
    for k, (t0, *_rest) in zip(kws, WORDS, strict=True):
        assert k["score"] >= 0.8 and k["t_start_s"] - 0.1 <= t0 + 0.1 <= k["t_end_s"] + 0.1, k
    # several sources: both talkers tracked at once, the sources list on every frame
    both = [o.sources for o in pub.outputs if o.sources and len(o.sources) == 2]
    assert len(both) >= 20
    az = sorted(s["azimuth_deg"] for s in both[-1])
    assert circular_error_deg(az[0], TRUE_AZ) < 10 and circular_error_deg(az[1], SECOND_AZ) < 10, az
    assert any(o.active for o in pub.outputs) and not all(o.active for o in pub.outputs)


def test_kws_threshold_is_checked():
    sd = FakeSD(np.zeros((16000, 4), np.float32))
    with pytest.raises(InputError, match="kws_threshold"):
        NodeCore(NodeParams(method="gcc-phat", kws_model=str(KWS_MODEL), kws_threshold=1.5), _Recorder(),
                 capture_factory=lambda **kw: LiveCapture(sd=sd, **kw))


def test_every_node_parameter_is_in_help_and_both_launch_files():
    from dataclasses import fields

    from typer.testing import CliRunner

    from neuroaudio.cli import app

    names = [f.name for f in fields(NodeParams)]
    assert len(names) == 20 and {"kws_model", "kws_threshold", "yaw_offset_deg"} <= set(names)
    help_text = " ".join(CliRunner().invoke(app, ["ros", "--help"], terminal_width=200).output.split())
    launch1 = (REPO / "neuroaudio" / "ros" / "launch" / "neuroaudio.launch").read_text()
    launch2 = (REPO / "neuroaudio" / "ros" / "launch" / "neuroaudio_launch.py").read_text()
    for n in names:
        assert n in help_text, n
        assert f'name="{n}"' in launch1 and f'"{n}"' in launch2, n
    assert NodeParams().kws_threshold < 0           # the model's calibrated threshold by default


# --- the adapters' publishers, on stand-in message packages ------------------------------------
class _Msg:
    """A ROS message stand-in: attributes on demand (header.stamp.sec, pose.orientation.x, ...)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        child = _Msg()
        setattr(self, name, child)
        return child


class _Topic:
    def __init__(self, msg_type, name):
        self.msg_type, self.name, self.sent = msg_type, name, []

    def publish(self, msg):
        assert isinstance(msg, self.msg_type)
        self.sent.append(msg)


@pytest.fixture
def fake_msgs(monkeypatch):
    import types

    kinds = {n: type(n, (_Msg,), {}) for n in ("Float32", "String", "PoseStamped", "Bool", "Pose")}

    def pose_array_init(self, **kw):
        _Msg.__init__(self, **kw)
        self.poses = []

    kinds["PoseArray"] = type("PoseArray", (_Msg,), {"__init__": pose_array_init})
    std, geo = types.ModuleType("std_msgs.msg"), types.ModuleType("geometry_msgs.msg")
    std.Float32, std.String, geo.PoseStamped = kinds["Float32"], kinds["String"], kinds["PoseStamped"]
    std.Bool, geo.Pose, geo.PoseArray = kinds["Bool"], kinds["Pose"], kinds["PoseArray"]
    for name, mod in (("std_msgs", types.ModuleType("std_msgs")), ("std_msgs.msg", std),
                      ("geometry_msgs", types.ModuleType("geometry_msgs")), ("geometry_msgs.msg", geo)):
        monkeypatch.setitem(sys.modules, name, mod)
    return kinds


def _ros1_publisher():
    from neuroaudio.ros.ros1 import Ros1Publisher

    class Rospy:
        topics: dict = {}

        @classmethod
        def Publisher(cls, name, msg_type, queue_size):  # noqa: N802 (rospy's name)
            assert queue_size == 10
            cls.topics[name] = _Topic(msg_type, name)
            return cls.topics[name]

        class Time:
            @staticmethod
            def from_sec(s):
                return ("rospy.Time", s)

    return Ros1Publisher(Rospy), Rospy.topics, "~", lambda h: h.stamp[1]


def _ros2_publisher():
    from neuroaudio.ros.ros2 import Ros2Publisher

    class Node:
        topics: dict = {}

        def create_publisher(self, msg_type, name, depth):
            assert depth == 10
            self.topics[name] = _Topic(msg_type, name)
            return self.topics[name]

    return Ros2Publisher(Node()), Node.topics, "~/", lambda h: h.stamp.sec + h.stamp.nanosec * 1e-9


@pytest.mark.parametrize("make", [_ros1_publisher, _ros2_publisher])
def test_adapters_publish_the_same_messages(fake_msgs, make):
    from neuroaudio.ros.core import NodeOutput

    pub, topics, prefix, stamp_of = make()
    assert sorted(topics) == [prefix + t for t in ("azimuth", "doa", "estimate", "keyword", "sources",
                                                   "sources_json", "vad")]
    q = direction_quaternion(135.0)
    pub.publish(NodeOutput('{"t_s": 0.1}', None, None, 1000.25, "arr"))        # silent frame
    srcs = [{"id": 2, "azimuth_deg": 135.0, "confidence": 0.5, "activity": 0.9},
            {"id": 5, "azimuth_deg": 270.0, "confidence": 0.4, "activity": 0.6}]
    kw = {"label": "3", "score": 0.98, "t_start_s": 1.5, "t_end_s": 2.0, "azimuth_deg": 135.0}
    pub.publish(NodeOutput('{"t_s": 0.2}', 135.0, q, 1700000000.75, "arr", True, srcs, [kw]))
    assert [m.data for m in topics[prefix + "vad"].sent] == [False, True]
    assert [json.loads(m.data) for m in topics[prefix + "keyword"].sent] == [kw]
    (arr,) = topics[prefix + "sources"].sent                 # only with several sources
    assert len(arr.poses) == 2 and arr.header.frame_id == "arr"
    assert (arr.poses[1].position.x, arr.poses[1].position.y) == pytest.approx((0.0, -1.0))
    assert json.loads(topics[prefix + "sources_json"].sent[0].data) == srcs
    assert [m.data for m in topics[prefix + "estimate"].sent] == ['{"t_s": 0.1}', '{"t_s": 0.2}']
    assert [m.data for m in topics[prefix + "azimuth"].sent] == [135.0]
    (doa,) = topics[prefix + "doa"].sent
    assert doa.header.frame_id == "arr"
    assert stamp_of(doa.header) == pytest.approx(1700000000.75, abs=1e-6)
    o = doa.pose.orientation
    assert (o.x, o.y, o.z, o.w) == pytest.approx(q)


# --- ROS 1 for real ------------------------------------------------------------------------
LISTENER = textwrap.dedent("""
    import json, sys, time
    from neuroaudio.ros.ros1 import import_rospy
    rospy = import_rospy()
    from std_msgs.msg import Float32, String
    from geometry_msgs.msg import PoseStamped
    want, timeout = int(sys.argv[1]), float(sys.argv[2])
    got = {"azimuth": [], "doa": [], "estimate": 0}
    rospy.init_node("listener", anonymous=True, disable_signals=True)
    rospy.Subscriber("/neuroaudio/azimuth", Float32, lambda m: got["azimuth"].append(m.data))
    rospy.Subscriber("/neuroaudio/doa", PoseStamped, lambda m: got["doa"].append(
        [m.header.frame_id, m.pose.orientation.x, m.pose.orientation.y, m.pose.orientation.z,
         m.pose.orientation.w]))
    def on_est(m):
        got["estimate"] += 1
    rospy.Subscriber("/neuroaudio/estimate", String, on_est)
    print("subscribed", flush=True)
    t0 = time.time()
    while len(got["azimuth"]) < want and time.time() - t0 < timeout:
        time.sleep(0.05)
    print(json.dumps(got), flush=True)
    rospy.signal_shutdown("done")
""")


def _ros1_skip_reason() -> str | None:
    if shutil.which("rosmaster") is None:
        return "ROS 1 is not installed (no rosmaster): apt-get install python3-rosmaster python3-rospy " \
               "python3-std-msgs python3-geometry-msgs (.ci/setup_live.sh does)"
    try:
        from neuroaudio.ros.ros1 import import_rospy

        import_rospy()
        import geometry_msgs.msg  # noqa: F401
        import std_msgs.msg  # noqa: F401
    except (InputError, ImportError) as e:
        return f"rospy or its messages do not import here: {e}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ros1_session(tmp_path, wav, node_params: list[str], listener: str, listener_args: list[str],
                  timeout_s: float) -> tuple[dict, subprocess.Popen, str]:
    """A rosmaster, a PulseAudio card playing ``wav`` over and over, the node on it with
    ``node_params`` (``_name:=value``), and ``listener`` (a rospy script printing one JSON line at
    the end) run with ``listener_args``; everything is stopped after. Returns (the listener's
    JSON, the node process, the node's output)."""
    server, card = start_pulse(tmp_path)
    port = _free_port()
    env = dict(card.env, ROS_MASTER_URI=f"http://127.0.0.1:{port}", ROS_HOSTNAME="127.0.0.1",
               ROS_HOME=str(tmp_path / "ros"), ROS_LOG_DIR=str(tmp_path / "ros" / "log"),
               PYTHONPATH=str(REPO))
    procs = []
    try:
        procs.append(subprocess.Popen(["rosmaster", "--core", "-p", str(port)], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(card.play(wav))
        node = subprocess.Popen([sys.executable, "-m", "neuroaudio.ros", "--ros", "1", "_device:=pulse",
                                 *node_params], env=env, cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        procs.append(node)
        (tmp_path / "listen.py").write_text(listener)
        r = subprocess.run([sys.executable, str(tmp_path / "listen.py"), *listener_args], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=timeout_s)
        assert r.returncode == 0, r.stderr[-2000:]
        got = json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        stop_all(*reversed(procs), server=server)
    return got, node, node.stdout.read() if node.stdout else ""


@pytest.mark.ros
@pytest.mark.live
def test_ros1_node_publishes_azimuth(tmp_path, scene_wav):  # noqa: F811
    why = _ros1_skip_reason()
    if why:
        pytest.skip(why)
    earlier = tmp_path / "rec.wav"            # an earlier run's recording, same `record` parameter
    earlier.write_bytes(b"earlier run")
    got, node, node_log = _ros1_session(
        tmp_path, scene_wav, ["_array:=respeaker4", "_method:=gcc-phat", "_frame_id:=test_array",
                              f"_record:={earlier}"], LISTENER, ["8", "45"], 90)
    az = np.array(got["azimuth"])
    assert len(az) >= 8, (got, node_log[-2000:])
    assert np.median(circular_error_deg(az, TRUE_AZ)) < 10, az
    assert got["estimate"] >= len(az)
    assert got["doa"] and all(d[0] == "test_array" for d in got["doa"])
    q = got["doa"][-1][1:]
    v = _rotate(q, [1, 0, 0])
    assert circular_error_deg(math.degrees(math.atan2(v[1], v[0])) % 360, TRUE_AZ) < 15
    assert node.returncode == 0, node_log[-2000:]            # clean stop on shutdown (SIGTERM)
    assert earlier.read_bytes() == b"earlier run"              # never overwritten ...
    new = list(tmp_path.glob("rec-*Z.wav"))                    # ... recorded beside it instead
    assert len(new) == 1 and sf.info(str(new[0])).frames > 16000, node_log[-2000:]
    assert f"recording to {new[0]} instead" in node_log


MULTI_LISTENER = textwrap.dedent("""
    import json, math, sys, time
    from neuroaudio.ros.ros1 import import_rospy
    rospy = import_rospy()
    from std_msgs.msg import Bool, String
    from geometry_msgs.msg import PoseArray
    timeout = float(sys.argv[1])
    got = {"sources": [], "frame_ids": [], "vad": [], "keyword": []}
    rospy.init_node("listener", anonymous=True, disable_signals=True)
    def on_sources(m):
        got["sources"].append([math.degrees(math.atan2(p.position.y, p.position.x)) % 360 for p in m.poses])
        got["frame_ids"].append(m.header.frame_id)
    rospy.Subscriber("/neuroaudio/sources", PoseArray, on_sources)
    rospy.Subscriber("/neuroaudio/vad", Bool, lambda m: got["vad"].append(bool(m.data)))
    rospy.Subscriber("/neuroaudio/keyword", String, lambda m: got["keyword"].append(json.loads(m.data)))
    t0 = time.time()
    while time.time() - t0 < timeout:
        labels = {k["label"] for k in got["keyword"]}
        if {"3", "8"} <= labels and sum(len(s) == 2 for s in got["sources"]) >= 20:
            break
        time.sleep(0.05)
    print(json.dumps(got), flush=True)
    rospy.signal_shutdown("done")
""")


@pytest.mark.ros
@pytest.mark.live
def test_ros1_node_publishes_sources_vad_and_keywords(tmp_path):
    """On a real ROS master, a subscriber gets ~sources (PoseArray: both talkers within 10 deg),
    ~vad (Bool: speech and silence) and ~keyword (the two spoken digits, JSON) from the node
    listening to a PulseAudio card that plays two talkers and two words."""
    why = _ros1_skip_reason()
    if why:
        pytest.skip(why)
    wav = tmp_path / "talkers_and_words.wav"
    sf.write(str(wav), _talkers_and_words(), 16000, subtype="PCM_16")
    got, node, node_log = _ros1_session(
        tmp_path, wav, ["_method:=gcc-phat", "_sources:=2", "_frame_id:=test_array",
                        f"_kws_model:={KWS_MODEL}", "_kws_threshold:=0.5"], MULTI_LISTENER, ["60"], 120)
    assert "~keyword" in node_log, node_log[-2000:]
    pairs = [sorted(s) for s in got["sources"] if len(s) == 2]
    assert len(pairs) >= 20, (len(got["sources"]), node_log[-2000:])
    assert set(got["frame_ids"]) == {"test_array"}
    err = np.array([[circular_error_deg(a, TRUE_AZ), circular_error_deg(b, SECOND_AZ)] for a, b in pairs])
    assert np.median(err, axis=0).max() < 10, pairs[-5:]
    assert True in got["vad"] and False in got["vad"]
    labels = [k["label"] for k in got["keyword"]]
    assert {"3", "8"} <= set(labels) and set(labels) <= {"3", "8"}, got["keyword"]
    for k in got["keyword"]:
        assert k["score"] >= 0.8 and k["t_end_s"] > k["t_start_s"]
        assert k["azimuth_deg"] is None or min(circular_error_deg(k["azimuth_deg"], TRUE_AZ),
                                               circular_error_deg(k["azimuth_deg"], SECOND_AZ)) < 10, k
    assert node.returncode == 0, node_log[-2000:]


# --- ROS 2 ---------------------------------------------------------------------------------
def test_ros2_adapter_builds_publishers(rng):
    rclpy = pytest.importorskip("rclpy", reason="ROS 2 (rclpy) is not importable here; source a ROS 2 "
                                               "setup.bash to run this test")
    from rclpy.node import Node

    from neuroaudio.ros.ros2 import Ros2Publisher

    rclpy.init()
    try:
        node = Node("neuroaudio_test")
        pub = Ros2Publisher(node)
        x = _bursty_scene(load_array("respeaker4"), 60.0, 16000, 1.5, rng)
        sd = FakeSD(x)
        core = NodeCore(NodeParams(method="gcc-phat"), pub,
                        capture_factory=lambda **kw: LiveCapture(sd=sd, **kw))
        core.run(duration_s=1.5)
        assert core.published >= 10
        names = {t for t, _ in node.get_topic_names_and_types()}
        assert {"/neuroaudio_test/azimuth", "/neuroaudio_test/doa", "/neuroaudio_test/estimate"} <= names
        node.destroy_node()
    finally:
        rclpy.shutdown()


def test_ros_entry_point_help():
    r = subprocess.run([sys.executable, "-m", "neuroaudio.ros", "--help"], cwd=REPO, capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 0 and "--ros auto|1|2" in r.stdout


@pytest.mark.ros
def test_ros1_launch_file_loads():
    """The ROS 1 launch example parses and starts our node executable with the parameters."""
    why = _ros1_skip_reason()
    if why:
        pytest.skip(why)
    script = REPO / "neuroaudio" / "ros" / "scripts" / "neuroaudio_node"
    assert os.access(script, os.X_OK)
    code = textwrap.dedent("""
        import json, sys
        from neuroaudio.ros.ros1 import import_rospy
        import_rospy()
        import roslaunch.config
        sys.argv = ["roslaunch", "device:=pulse", "channels:=2,3,4,5"]
        cfg = roslaunch.config.load_config_default([sys.argv_file], 11311, verbose=False)
        node = cfg.nodes[0]
        print(json.dumps({"pkg": node.package, "type": node.type, "name": node.name,
                          "params": {k: v.value for k, v in cfg.params.items()}}))
    """).replace("sys.argv_file", repr(str(REPO / "neuroaudio" / "ros" / "launch" / "neuroaudio.launch")))
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert (got["pkg"], got["type"], got["name"]) == ("neuroaudio_ros", "neuroaudio_node", "neuroaudio")
    assert got["params"]["/neuroaudio/device"] == "pulse"
    assert got["params"]["/neuroaudio/channels"] == "2,3,4,5"
    assert got["params"]["/neuroaudio/tracking"] is True
    assert got["params"]["/neuroaudio/reconnect"] is True and got["params"]["/neuroaudio/threads"] == 1
    assert got["params"]["/neuroaudio/reconnect_max_s"] == 30.0


@pytest.mark.ros
def test_ros1_without_master_is_a_clear_error():
    why = _ros1_skip_reason()
    if why:
        pytest.skip(why)
    r = subprocess.run([sys.executable, "-m", "neuroaudio.ros", "--ros", "1"], cwd=REPO, capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO),
                                                      NEUROAUDIO_ROS_MASTER_WAIT_S="0.5",
                                                      ROS_MASTER_URI=f"http://127.0.0.1:{_free_port()}"))
    assert r.returncode == 2 and "no ROS master at" in r.stderr, r.stderr


def test_node_waits_for_a_master_that_comes_up_late():
    from neuroaudio.ros.ros1 import wait_for_master

    answers = iter([False, False, False, True])
    assert wait_for_master(lambda: next(answers), wait_s=5.0, poll_s=0.01)
    t0 = time.monotonic()
    assert not wait_for_master(lambda: False, wait_s=0.1, poll_s=0.02)
    assert 0.1 <= time.monotonic() - t0 < 1.0


def test_model_for_a_classical_method_is_a_clear_error():
    sd = FakeSD(np.zeros((16000, 4), np.float32))
    with pytest.raises(InputError, match="takes no model"):
        NodeCore(NodeParams(method="gcc-phat", model="maa.pt"), _Recorder(),
                 capture_factory=lambda **kw: LiveCapture(sd=sd, **kw))
