"""The framework-free ROS node: parameters, the live pipeline, and the messages as plain data.

The ROS 1 and ROS 2 adapters only read parameters into :class:`NodeParams`, give
:class:`NodeCore` a :class:`Publisher` that turns :class:`NodeOutput` into ROS messages, and
stop it on shutdown. Everything else (capture, localizer, tracker, what to publish when) lives
here and is tested without ROS.

Topics (names relative to the node, i.e. ``~azimuth`` in ROS 1, ``~/azimuth`` in ROS 2):

- ``~azimuth`` (std_msgs/Float32): the direction in degrees [0, 360), array frame
  (conventions.md); published only while a source is active (tracked, when tracking is on).
- ``~doa`` (geometry_msgs/PoseStamped): the same direction as an orientation in the array frame
  (``header.frame_id`` = the ``frame_id`` parameter): the rotation that takes the frame's +x
  axis onto the unit vector toward the source (yaw = azimuth, pitch = -elevation), position 0;
  stamped with the capture time of the frame's last sample. Published with ``~azimuth``.
- ``~estimate`` (std_msgs/String): the frame's JSON estimate (the ``localize --live`` jsonl
  line), published for every frame, silent ones included.
- ``~sources`` (geometry_msgs/PoseArray): every tracked source as a pose (orientation as in
  ``~doa``, position the unit vector toward it), the main one first; with ``sources`` other than
  1, every frame (an empty array when none is tracked).
- ``~sources_json`` (std_msgs/String): the same as the JSON ``sources`` list (``id``,
  ``azimuth_deg``, ``confidence``, ``activity``), which PoseArray cannot carry; with ``sources``
  other than 1, every frame.
- ``~vad`` (std_msgs/Bool): voice (source) activity of the frame, every frame.
- ``~keyword`` (std_msgs/String), with a keyword model (``kws_model``): one JSON object per
  detected keyword, ``{"label", "score", "t_start_s", "t_end_s", "azimuth_deg"}``: the word, its
  softmax score (at least ``kws_threshold``, by default the model's calibrated one), the window it
  was heard in (seconds of the node's stream) and the main tracked direction when it was detected
  (None when no source is tracked; turned by ``yaw_offset_deg`` like every direction). The spotter
  runs on the first mic's audio, resampled to the model's rate; it is the detector of ``neuroaudio
  kws detect --live``.

``yaw_offset_deg`` rotates every published direction (``~azimuth``, ``~doa``, ``~sources``, the
JSON's azimuths) from the array frame into the robot's: ``azimuth + yaw_offset_deg`` (the array
mounted turned by that angle, counter-clockwise seen from above).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from ..errors import InputError

log = logging.getLogger("neuroaudio")


@dataclass
class NodeParams:
    """Node parameters (ROS parameter names = field names).

    Attributes:
        device: input device index or name ("" = the system default).
        channels: 1-based device channels used as mics, in array order ("2,3,4,5" or a list).
        array: built-in array name or geometry JSON path.
        method: localization method (``neuroaudio methods``); "" = the default method.
        model: model/checkpoint path for learned methods ("" = the method's default).
        tracking: temporal tracking of the direction (birth/death), on by default live.
        frame_id: TF frame of the array, for ``~doa``.
        frame_s, hop_s: analysis frame and hop (s).
        block_s: capture block (s).
        record: also record the captured audio to this WAV ("" = no). An existing file is never
            overwritten (a ``record`` left on the parameter server by an earlier run would
            otherwise replace that run's recording): the node records to ``NAME-<UTC time>.wav``
            beside it instead and logs the name.
        threads: CPU threads for the localizer (torch); 1 keeps up best on small machines.
        reconnect: when the device is lost, retry with backoff (0.5 s doubling up to
            ``reconnect_max_s``) instead of ending the node.
        reconnect_max_s: longest wait between two reconnection attempts (s).
        allow_dependent_channels: go on (one warning) when channels are copies or mixes of
            others instead of ending the node.
        sources: sources to report, ``"1"`` (one direction) to ``"4"`` or ``"auto"``
            (``--sources``); other than 1 publishes ``~sources`` and ``~sources_json``.
        yaw_offset_deg: added to every published azimuth (module docstring).
        stream: also send the tracked sources as ODAS does to ``tcp://HOST:PORT`` or
            ``udp://HOST:PORT`` ("" = no).
        kws_model: a keyword-spotting checkpoint (``neuroaudio train kws``): publish ``~keyword``
            ("" = no keyword spotting).
        kws_threshold: the smallest softmax score of a published keyword (0..1); negative (the
            default): the model's calibrated open-set threshold (0.5 for the shipped model).
    """

    device: str = ""
    channels: str = ""
    array: str = "respeaker4"
    method: str = ""
    model: str = ""
    tracking: bool = True
    frame_id: str = "mic_array"
    frame_s: float = 0.17
    hop_s: float = 0.085
    block_s: float = 0.02
    record: str = ""
    threads: int = 1
    reconnect: bool = True
    reconnect_max_s: float = 30.0
    allow_dependent_channels: bool = False
    sources: str = "1"
    yaw_offset_deg: float = 0.0
    stream: str = ""
    kws_model: str = ""
    kws_threshold: float = -1.0

    @classmethod
    def from_getter(cls, get: Callable[[str, Any], Any]) -> NodeParams:
        """Read every field with ``get(name, default)`` (e.g. ``rospy.get_param('~' + name, d)``),
        converting types; InputError naming the parameter on bad values."""
        kw: dict[str, Any] = {}
        for f in fields(cls):
            default = f.default
            v = get(f.name, default)
            if v is None:
                v = default
            try:
                if isinstance(default, bool):
                    v = v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")
                elif isinstance(default, float):
                    v = float(v)
                elif isinstance(default, int):
                    v = int(v)
                elif f.name == "channels" and isinstance(v, (list, tuple)):
                    v = ",".join(str(int(c)) for c in v)
                else:
                    v = str(v)
            except (TypeError, ValueError):
                raise InputError(f"parameter '{f.name}': cannot read {v!r} as "
                                 f"{type(default).__name__}") from None
            kw[f.name] = v
        return cls(**kw)

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> NodeParams:
        return cls.from_getter(lambda k, d: m.get(k, d))


def direction_quaternion(azimuth_deg: float, elevation_deg: float = 0.0) -> tuple[float, float, float, float]:
    """Quaternion ``(x, y, z, w)`` rotating the array's +x axis onto the direction
    (azimuth counter-clockwise about +z, elevation up): yaw = azimuth, pitch = -elevation."""
    yaw, pitch = math.radians(azimuth_deg), -math.radians(elevation_deg)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    # q = q_yaw(z) * q_pitch(y)
    return (-sy * sp, cy * sp, sy * cp, cy * cp)


@dataclass
class NodeOutput:
    """What one frame publishes (None fields are not published)."""

    estimate_json: str
    azimuth_deg: float | None
    orientation_xyzw: tuple[float, float, float, float] | None
    stamp_s: float                 # wall-clock (time.time) capture time of the frame's last sample
    frame_id: str
    active: bool = False           # ~vad
    sources: list[dict[str, Any]] | None = None   # ~sources, ~sources_json (None: not published)
    keywords: list[dict[str, Any]] | None = None  # ~keyword, one message each (None: none)


class Publisher(Protocol):
    """What an adapter provides: publish one frame's outputs as ROS messages."""

    def publish(self, out: NodeOutput) -> None: ...


class TopicPublisher:
    """The :class:`Publisher` of both adapters: ``~estimate`` (std_msgs/String) for every frame,
    ``~azimuth`` (std_msgs/Float32) and ``~doa`` (geometry_msgs/PoseStamped) while a source is
    active (module docstring). The message packages are imported when it is built.

    Subclasses say how a topic is advertised (:meth:`advertise`) and how a time is written into
    a message header (:meth:`set_stamp`): the two things ROS 1 and ROS 2 do differently.
    """

    def __init__(self) -> None:
        from geometry_msgs.msg import PoseStamped
        from std_msgs.msg import Float32, String

        self.Float32, self.String, self.PoseStamped = Float32, String, PoseStamped
        from geometry_msgs.msg import Pose, PoseArray
        from std_msgs.msg import Bool

        self.Bool, self.Pose, self.PoseArray = Bool, Pose, PoseArray
        self.pub_az = self.advertise(Float32, "azimuth")
        self.pub_doa = self.advertise(PoseStamped, "doa")
        self.pub_est = self.advertise(String, "estimate")
        self.pub_vad = self.advertise(Bool, "vad")
        self.pub_src = self.advertise(PoseArray, "sources")
        self.pub_src_json = self.advertise(String, "sources_json")
        self.pub_kw = self.advertise(String, "keyword")

    def advertise(self, msg_type: type, topic: str) -> Any:
        """A publisher of ``msg_type`` on the node's private ``topic`` (a name without prefix)."""
        raise NotImplementedError

    def set_stamp(self, header: Any, stamp_s: float) -> None:
        """Write ``stamp_s`` (wall-clock seconds) into ``header.stamp``."""
        raise NotImplementedError

    def publish(self, out: NodeOutput) -> None:
        self.pub_est.publish(self.String(data=out.estimate_json))
        self.pub_vad.publish(self.Bool(data=bool(out.active)))
        for kw in out.keywords or []:
            self.pub_kw.publish(self.String(data=json.dumps(kw)))
        if out.sources is not None:
            arr = self.PoseArray()
            self.set_stamp(arr.header, out.stamp_s)
            arr.header.frame_id = out.frame_id
            for src in out.sources:
                p = self.Pose()
                az = math.radians(src["azimuth_deg"])
                p.position.x, p.position.y = math.cos(az), math.sin(az)
                x, y, z, w = direction_quaternion(src["azimuth_deg"], src.get("elevation_deg") or 0.0)
                p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w = x, y, z, w
                arr.poses.append(p)
            self.pub_src.publish(arr)
            self.pub_src_json.publish(self.String(data=json.dumps(out.sources)))
        if out.azimuth_deg is None:
            return
        self.pub_az.publish(self.Float32(data=float(out.azimuth_deg)))
        msg = self.PoseStamped()
        self.set_stamp(msg.header, out.stamp_s)
        msg.header.frame_id = out.frame_id
        x, y, z, w = out.orientation_xyzw
        msg.pose.orientation.x, msg.pose.orientation.y = x, y
        msg.pose.orientation.z, msg.pose.orientation.w = z, w
        self.pub_doa.publish(msg)


def _turn(az: float | None, yaw_offset_deg: float) -> float | None:
    return None if az is None else round((az + yaw_offset_deg) % 360.0, 2)


def node_output(est: Any, frame_id: str, now_wall: float | None = None,
                yaw_offset_deg: float = 0.0, keywords: list[dict[str, Any]] | None = None) -> NodeOutput:
    """Turn a :class:`~neuroaudio.live.LiveEstimate` into what the topics carry, every azimuth
    turned by ``yaw_offset_deg`` (module docstring); ``keywords``: detections (dicts of
    :meth:`~neuroaudio.kws.infer.Detection.to_dict`) completed with this frame's audio, given the
    main direction."""
    now_wall = time.time() if now_wall is None else now_wall
    stamp = now_wall - (est.latency_s or 0.0)
    line = est.to_json()
    az = est.azimuth_deg
    srcs = None if est.sources is None else [dict(s) for s in est.sources]
    if yaw_offset_deg:
        az = _turn(az, yaw_offset_deg)
        for key in ("azimuth_deg", "raw_azimuth_deg"):
            if line.get(key) is not None:
                line[key] = _turn(line[key], yaw_offset_deg)
        for s in srcs or []:
            s["azimuth_deg"] = _turn(s["azimuth_deg"], yaw_offset_deg)
        if srcs is not None:
            line["sources"] = srcs
    kw_az = None if az is None else round(float(az), 2)
    kws = [dict(k, azimuth_deg=kw_az) for k in keywords] if keywords else None
    return NodeOutput(json.dumps(line), az, None if az is None else direction_quaternion(az), stamp,
                      frame_id, bool(est.active), srcs, kws)


class _ForwardHandler(logging.Handler):
    def __init__(self, warn: Callable[[str], Any], info: Callable[[str], Any]):
        super().__init__(logging.INFO)
        self.warn, self.info = warn, info

    def emit(self, record: logging.LogRecord) -> None:
        (self.warn if record.levelno >= logging.WARNING else self.info)(f"neuroaudio: {record.getMessage()}")


def route_log(warn: Callable[[str], Any], info: Callable[[str], Any]) -> None:
    """Send the ``neuroaudio`` logger's warnings (device lost, reconnecting, a recording's new
    name) to the ROS logger (``rospy.logwarn``, ``node.get_logger().warning``), i.e. the screen
    and ``/rosout``, instead of Python's own handlers."""
    lg = logging.getLogger("neuroaudio")
    lg.handlers = [h for h in lg.handlers if not isinstance(h, _ForwardHandler)]
    lg.addHandler(_ForwardHandler(warn, info))
    lg.propagate = False
    if lg.level == logging.NOTSET or lg.level > logging.WARNING:
        lg.setLevel(logging.WARNING)


def unused_record_path(path: str, now: float | None = None) -> str:
    """``path`` if no file is there, else ``STEM-YYYYmmddTHHMMSSZ[-k]SUFFIX`` beside it (UTC)."""
    p = Path(path)
    if not p.exists():
        return str(p)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    k = 0
    while True:
        cand = p.with_name(f"{p.stem}-{stamp}{'' if k == 0 else f'-{k}'}{p.suffix or '.wav'}")
        if not cand.exists():
            return str(cand)
        k += 1


class NodeCore:
    """The node without ROS: build the pipeline from :class:`NodeParams`, run it, publish.

    Args:
        params: the node parameters.
        publisher: the adapter's publisher.
        capture_factory: builds the capture (``LiveCapture`` by default; tests may pass another).
    """

    def __init__(self, params: NodeParams, publisher: Publisher,
                 capture_factory: Callable[..., Any] | None = None):
        from ..audio.io import parse_channels
        from ..live import build_live_session

        self.params, self.publisher = params, publisher
        method = params.method
        if not method:
            from ..localize.registry import DEFAULT_METHOD

            method = DEFAULT_METHOD
        opts: dict[str, Any] = {}
        from ..localize.base import default_frame_s

        if default_frame_s(params.sources) != default_frame_s(1):     # checks the value (InputError)
            opts["sources"] = params.sources
        self.stream = None
        if params.stream:
            from ..live.odas import OdasStream

            self.stream = OdasStream(params.stream)
        if params.model:
            from ..localize.registry import method_options

            if "model" not in method_options(method):
                raise InputError(f"method '{method}' takes no model; leave 'model' empty for "
                                 "classical methods or pick a learned method")
            opts["model"] = params.model
        self.record_path = unused_record_path(params.record) if params.record else None
        if self.record_path is not None and self.record_path != params.record:
            log.warning("%s exists (an earlier run's recording?); recording to %s instead",
                        params.record, self.record_path)
        frame_s, hop_s = params.frame_s, params.hop_s
        if "sources" in opts and (frame_s, hop_s) == (0.17, 0.085):   # the defaults: several sources
            frame_s = default_frame_s(params.sources)
            hop_s = frame_s / 2
        self.session = build_live_session(
            method, params.array, options=opts, frame_s=frame_s, hop_s=hop_s,
            tracking=params.tracking, threads=params.threads, capture_factory=capture_factory,
            device=params.device or None, channels=parse_channels(params.channels or None),
            block_s=params.block_s, record=self.record_path, reconnect=params.reconnect,
            reconnect_max_s=params.reconnect_max_s,
            allow_dependent_channels=params.allow_dependent_channels)
        self.localizer, self.capture = self.session.localizer, self.session.capture
        self._keywords: list[dict[str, Any]] = []
        self.kws_labels: list[str] | None = None
        if params.kws_model:
            from ..kws.infer import keyword_spotter

            if params.kws_threshold > 1:
                raise InputError(f"parameter 'kws_threshold': {params.kws_threshold} is not in 0..1 "
                                 "(or negative for the model's calibrated threshold)")
            threshold = params.kws_threshold if params.kws_threshold >= 0 else None
            at_rate, self.kws_labels = keyword_spotter(params.kws_model, threshold)
            spot = at_rate(self.localizer.fs)
            # the capture worker calls this with every block before yielding its frames
            self.session.on_block = lambda block: self._keywords.extend(spot(block[:, 0]))
        self.published = 0
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Stop :meth:`run` from any thread (ROS shutdown hooks)."""
        self._stopped.set()
        self.session.stop()

    def run(self, duration_s: float | None = None) -> dict[str, Any]:
        """Capture and publish until :meth:`stop`, ``duration_s`` or the device is lost
        (DeviceLostError propagates after the recording is closed). Returns the run summary."""
        from ..live.odas import stream_sources

        try:
            for est in self.session.run(duration_s):
                kws, self._keywords = self._keywords, []
                self.publisher.publish(node_output(est, self.params.frame_id,
                                                   yaw_offset_deg=self.params.yaw_offset_deg,
                                                   keywords=kws))
                if self.stream is not None:
                    self.stream.send(stream_sources(est))
                self.published += 1
                if self._stopped.is_set():
                    break
        finally:
            if self.stream is not None:
                self.stream.close()
        return self.session.summary()
