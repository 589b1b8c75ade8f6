"""Several talkers live (issue 22): tracks with ids and activity in the live JSON, and the
ODAS-compatible stream over TCP and UDP on localhost."""

from __future__ import annotations

import json
import socket
import threading

import numpy as np
import pytest

from neuroaudio.audio.live import LiveCapture
from neuroaudio.errors import InputError
from neuroaudio.live import LiveSession
from neuroaudio.live.odas import OdasStream, parse_stream_url, sst_message, stream_sources
from neuroaudio.localize.registry import make_localizer
from neuroaudio.tracking import make_tracker
from tests.test_live import FakeSD
from tests.test_localize_multi import _two_plane_waves


def _live(x, sources="2"):
    cap = LiveCapture(device=None, n_mics=4, fs_hz=16000, sd=FakeSD(x), stall_timeout_s=0.5)
    loc = make_localizer("gcc-phat", "respeaker4", sources=sources, frame_s=0.064, hop_s=0.032)
    sess = LiveSession(loc, cap, make_tracker(loc.hop / loc.fs, loc.multi))
    return sess, list(sess.run(duration_s=len(x) / 16000))


def test_two_talkers_two_tracks_with_steady_ids():
    sess, est = _live(_two_plane_waves(seconds=4.0))
    late = [e for e in est if e.t_s > 1.5]
    assert late and all(e.sources is not None for e in late)
    ids = set()
    for e in late:
        srcs = e.sources
        assert len(srcs) == 2, srcs
        az = sorted(s["azimuth_deg"] for s in srcs)
        assert abs(az[0] - 60) < 8 and abs(az[1] - 200) < 8
        assert all(set(s) == {"id", "azimuth_deg", "confidence", "activity"} for s in srcs)
        assert all(0.3 < s["activity"] <= 1 for s in srcs)
        assert srcs[0]["id"] == e.track_id          # the main track first
        ids |= {s["id"] for s in srcs}
    assert len(ids) == 2                              # one id per talker for the whole run
    assert len({e.track_id for e in late}) == 1       # the main output never flipped once both lived
    assert sess.tracker.switches <= 1
    line = late[-1].to_json()
    assert "sources" in line and json.dumps(line)


def test_single_source_live_line_unchanged():
    _, est = _live(_two_plane_waves(seconds=1.0), sources=1)
    assert all(e.sources is None and "sources" not in e.to_json() for e in est)


def test_sst_message_is_odas_json():
    m = json.loads(sst_message(7, [{"id": 3, "azimuth_deg": 90.0, "activity": 0.5},
                                   {"azimuth_deg": 180.0, "elevation_deg": 30.0}]))
    assert m["timeStamp"] == 7 and len(m["src"]) == 4
    a, b, empty = m["src"][0], m["src"][1], m["src"][3]
    assert a["id"] == 3 and (a["x"], a["y"], a["z"]) == (0.0, 1.0, 0.0) and a["activity"] == 0.5
    assert b["x"] == pytest.approx(-0.866, abs=1e-3) and b["z"] == 0.5
    assert empty == {"id": 0, "tag": "", "x": 0.0, "y": 0.0, "z": 0.0, "activity": 0.0}


def _objects(text):
    dec, out, i = json.JSONDecoder(), [], 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i < len(text):
            obj, i = dec.raw_decode(text, i)
            out.append(obj)
    return out


def test_tcp_stream_reaches_a_server_and_reconnects_quietly():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    got = []

    def serve():
        c, _ = srv.accept()
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got.append(d)

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    s = OdasStream(f"tcp://127.0.0.1:{port}")
    for k in range(5):
        assert s.send([{"id": 1, "azimuth_deg": 10.0 * k, "activity": 1.0}])
    s.close()
    th.join(5)
    srv.close()
    msgs = _objects(b"".join(got).decode())
    assert [m["timeStamp"] for m in msgs] == [1, 2, 3, 4, 5]
    assert msgs[-1]["src"][0]["x"] == pytest.approx(np.cos(np.deg2rad(40)), abs=1e-3)
    # no server: no exception, no block, False
    dead = OdasStream(f"tcp://127.0.0.1:{port}")
    assert dead.send([]) is False and dead.send([]) is False


def test_udp_stream():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2)
    s = OdasStream(f"udp://127.0.0.1:{rx.getsockname()[1]}")
    assert s.send([{"id": 2, "azimuth_deg": 0.0, "activity": 0.25}])
    m = json.loads(rx.recv(65536).decode())
    assert m["timeStamp"] == 1 and m["src"][0]["id"] == 2 and m["src"][0]["x"] == 1.0
    rx.close()
    s.close()


def test_stream_sources_of_a_single_source_estimate():
    from neuroaudio.live.session import LiveEstimate

    e = LiveEstimate(1.0, 45.0, 0.8, 0.05, -30.0, True, 44.0, 7)
    assert stream_sources(e) == [{"id": 7, "azimuth_deg": 45.0, "activity": 1.0}]


@pytest.mark.parametrize("url", ["http://x:1", "tcp://127.0.0.1", "127.0.0.1:9000", "udp://:9000"])
def test_bad_stream_url(url):
    with pytest.raises(InputError, match="--stream"):
        parse_stream_url(url)


def test_ros_yaw_offset_turns_every_published_direction():
    from neuroaudio.live.session import LiveEstimate
    from neuroaudio.ros.core import NodeParams, node_output

    e = LiveEstimate(1.0, 350.0, 0.8, 0.05, -30.0, True, 349.0, 3,
                     sources=[{"id": 3, "azimuth_deg": 350.0, "confidence": 0.8, "activity": 1.0}])
    out = node_output(e, "arr", now_wall=100.0, yaw_offset_deg=20.0)
    assert out.azimuth_deg == 10.0 and out.active and out.sources[0]["azimuth_deg"] == 10.0
    line = json.loads(out.estimate_json)
    assert line["azimuth_deg"] == 10.0 and line["raw_azimuth_deg"] == 9.0
    assert line["sources"][0]["azimuth_deg"] == 10.0
    assert e.sources[0]["azimuth_deg"] == 350.0          # the estimate itself is not changed
    p = NodeParams.from_mapping({"sources": "auto", "yaw_offset_deg": "-90", "stream": "udp://127.0.0.1:9"})
    assert (p.sources, p.yaw_offset_deg) == ("auto", -90.0)
