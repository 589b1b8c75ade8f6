"""An ODAS-compatible stream of tracked sources, for tools built for ODAS (odas_web, odas_ros).

ODAS's sound source tracking (SST) sink writes, per frame, one JSON object with a frame counter
and a fixed number of source slots (4 by default); an empty slot has id 0 and zeros. Over a
socket, ODAS is the *client*: it connects to a TCP server (odas_web listens on 9000 for tracked
sources) and sends the objects one after the other, each ending with a newline:

    {
        "timeStamp": 42,
        "src": [
            { "id": 3, "tag": "dynamic", "x": 0.500, "y": 0.866, "z": 0.000, "activity": 0.912 },
            { "id": 0, "tag": "", "x": 0.000, "y": 0.000, "z": 0.000, "activity": 0.000 },
            ...
        ]
    }

``x, y, z`` are the unit vector toward the source in the array frame (conventions.md: azimuth
counter-clockwise from +x, elevation up; 0 when unknown), ``activity`` in [0, 1].
:class:`OdasStream` does the same: ``tcp://HOST:PORT`` connects as a client (and reconnects,
at most every :data:`RETRY_S` seconds, when the server is not there or goes away: the live run
never stops or blocks for it), ``udp://HOST:PORT`` sends one datagram per frame. ``timeStamp``
counts frames from 1 (ODAS skips 0).
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from ..errors import InputError

log = logging.getLogger("neuroaudio")

ODAS_SLOTS = 4
"""Source slots per message (ODAS's default ``nTracks``)."""
RETRY_S = 2.0
"""Least time (s) between two connection attempts of a TCP stream."""


def parse_stream_url(url: str) -> tuple[str, str, int]:
    """``"tcp://127.0.0.1:9000"`` → ``("tcp", "127.0.0.1", 9000)``; InputError otherwise."""
    u = urlparse(str(url))
    try:
        port = u.port
    except ValueError:
        port = None
    if u.scheme not in ("tcp", "udp") or not u.hostname or port is None or u.path not in ("", "/"):
        raise InputError(f"--stream {url}: give tcp://HOST:PORT or udp://HOST:PORT, e.g. "
                         "tcp://127.0.0.1:9000 (odas_web's tracked-source port)")
    return u.scheme, u.hostname, int(port)


def sst_message(time_stamp: int, sources: Sequence[dict[str, Any]], slots: int = ODAS_SLOTS) -> str:
    """One ODAS SST JSON object (module docstring) for ``sources`` (dicts with ``id``,
    ``azimuth_deg``, optional ``elevation_deg``, ``activity``; the first ``slots`` are sent)."""
    lines = []
    for k in range(slots):
        if k < len(sources):
            s = sources[k]
            az = math.radians(float(s["azimuth_deg"]))
            el = math.radians(float(s.get("elevation_deg") or 0.0))
            x, y, z = math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)
            sid, tag, act = int(s.get("id") or k + 1), "dynamic", float(s.get("activity", 1.0))
        else:
            x = y = z = act = 0.0
            sid, tag = 0, ""
        lines.append(f'        {{ "id": {sid}, "tag": "{tag}", "x": {x:.3f}, "y": {y:.3f}, '
                     f'"z": {z:.3f}, "activity": {min(max(act, 0.0), 1.0):.3f} }}')
    body = ",\n".join(lines)
    return f'{{\n    "timeStamp": {int(time_stamp)},\n    "src": [\n{body}\n    ]\n}}\n'


class OdasStream:
    """Send tracked sources to ``url`` as ODAS does (module docstring); never blocks the caller
    for more than a short connect timeout, never raises on network trouble (one warning)."""

    def __init__(self, url: str, slots: int = ODAS_SLOTS, connect_timeout_s: float = 0.2):
        self.kind, self.host, self.port = parse_stream_url(url)
        self.url, self.slots, self.timeout = url, int(slots), float(connect_timeout_s)
        self.sock: socket.socket | None = None
        self._next_try = 0.0
        self._warned = False
        self.sent = 0
        self.time_stamp = 0

    def _connect(self) -> bool:
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + RETRY_S
        try:
            if self.kind == "udp":
                self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            else:
                self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
                self.sock.settimeout(self.timeout)
            if self._warned:
                log.warning("stream %s: connected", self.url)
            self._warned = False
            return True
        except OSError as e:
            self.sock = None
            if not self._warned:
                log.warning("stream %s: cannot connect (%s); retrying every %g s", self.url, e, RETRY_S)
                self._warned = True
            return False

    def send(self, sources: Sequence[dict[str, Any]]) -> bool:
        """Send the next frame's message; False when it could not be sent (no server)."""
        self.time_stamp += 1
        if self.sock is None and not self._connect():
            return False
        data = sst_message(self.time_stamp, sources, self.slots).encode()
        try:
            if self.kind == "udp":
                self.sock.sendto(data, (self.host, self.port))
            else:
                self.sock.sendall(data)
            self.sent += 1
            return True
        except OSError as e:
            log.warning("stream %s: lost (%s); reconnecting", self.url, e)
            self._warned = True
            self.close()
            return False

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


def stream_sources(est: Any) -> list[dict[str, Any]]:
    """The sources of a :class:`~neuroaudio.live.LiveEstimate` for the stream: its ``sources``
    list, or with one source its direction (id = its track, activity 1 while active)."""
    if est.sources is not None:
        return [s for s in est.sources if "azimuth_deg" in s]
    if est.azimuth_deg is None:
        return []
    return [{"id": est.track_id or 1, "azimuth_deg": est.azimuth_deg, "activity": 1.0 if est.active else 0.0}]
