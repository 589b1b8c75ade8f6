"""The live view's server: one page and one WebSocket over the ``websockets`` library.

Data flow (one way)::

    LiveSession.run (worker thread) ──estimate──▶ frame message (JSON text, made once)
        ──call_soon_threadsafe──▶ Hub (event loop) ──▶ one bounded queue per client ──▶ its socket

- ``GET /`` (also ``/index.html``): the page (``page/index.html``: HTML + JavaScript, no build
  step, nothing from the network). ``GET /stats``: counters (JSON). ``/ws``: the WebSocket.
  Every request passes :meth:`LiveServer.authorise` first.
- Each client has its own queue of ``queue_frames`` messages; a client that reads slower than
  the frames come loses its oldest messages (counted), never the others' frames, and the
  session never waits for a client. A closed browser, a reset connection or a client that sends
  garbage ends only its own handler; its queue goes with it.
- Safety: by default the server binds the loopback address only. Then requests must name a
  loopback host (``Host`` header: no DNS rebinding from a web page) and a WebSocket opened by a
  browser must come from the page's own origin. Another address needs ``allow_remote`` and a
  token (:func:`check_bind`); then every request must carry ``?token=...`` (compared in
  constant time) or is refused with 403.
- Commands from the page (JSON text): ``{"cmd": "method", "method": NAME}`` switches the
  session's method (built in a thread, handed over between two blocks:
  :meth:`LiveSession.switch_localizer <neuroaudio.live.session.LiveSession.switch_localizer>`).

Why ``websockets``: one pure-Python package without dependencies of its own, on asyncio, that
speaks both the WebSocket protocol and enough HTTP to serve one page (``process_request``); an
aiohttp or starlette/uvicorn server would bring 5-10 packages for the same two routes.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import json
import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import InputError
from .frames import SPECTRUM_STEP_DEG, frame_message

log = logging.getLogger("neuroaudio")

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    """Is ``host`` (a name or an address) this machine only?"""
    h = host.strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool, token: str | None) -> str | None:
    """The token the server will ask for: None on loopback without ``token``; another address
    needs ``allow_remote`` (else InputError) and gets ``token`` or a new random one."""
    if token is not None and len(token) < 8:
        raise InputError("--token: give at least 8 characters (or leave it out with --allow-remote: "
                         "one is made and printed)")
    if is_loopback(host):
        return token
    if not allow_remote:
        raise InputError(f"--host {host} would let other machines see the live view and switch its "
                         "method; add --allow-remote to mean it (a token is then required: --token, "
                         "or one is made and printed), or keep the default 127.0.0.1")
    return token or secrets.token_urlsafe(18)


def page_html() -> bytes:
    """The page (``neuroaudio/serve/page/index.html``)."""
    return resources.files("neuroaudio.serve").joinpath("page", "index.html").read_bytes()


class Client:
    """One connected socket's outbox: a bounded queue that drops its oldest message when full."""

    def __init__(self, maxlen: int):
        self.queue: deque[str] = deque(maxlen=maxlen)
        self.ready = asyncio.Event()
        self.dropped = 0

    def put(self, text: str) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(text)
        self.ready.set()


@dataclass
class ServeStats:
    """Counters since start (``GET /stats``)."""

    connections: int = 0          # WebSockets accepted, in all
    refused: int = 0              # requests answered 403/404/503
    frames: int = 0               # frame messages made
    dropped: int = 0              # messages a slow client lost (its oldest)
    clients: int = 0              # connected now


class LiveServer:
    """Serve a :class:`~neuroaudio.live.session.LiveSession` to browsers.

    Args:
        session: the live session (not started; :meth:`run` runs it in a worker thread).
        method: the session's method name (shown, and switched from the page).
        make_localizer: name → a new Localizer for the session's array and rate (the method
            switch); None: no switch.
        methods: names offered by the page's method switch.
        host, port: where to listen (``port`` 0: any free port; :attr:`port` tells).
        token: required on every request when not None (see :func:`check_bind`).
        duration_s: stop after this much audio (None: until :meth:`stop`).
        queue_frames: per-client queue length (messages).
        max_clients: further sockets are refused (503) while this many are connected.
        kws: a keyword spotter ``block [samples] at fs -> list of detection dicts`` run on the
            first mic's audio, or None; ``kws_labels``: its words (shown).
        source: what the audio comes from (shown).
        announce: called with the URL once listening (the CLI prints it).
    """

    def __init__(self, session: Any, method: str, *, make_localizer: Callable[[str], Any] | None = None,
                 methods: list[str] | None = None, host: str = "127.0.0.1", port: int = 8765,
                 token: str | None = None, duration_s: float | None = None, queue_frames: int = 64,
                 max_clients: int = 64, kws: Callable[[Any], list[dict]] | None = None,
                 kws_labels: list[str] | None = None, source: str = "",
                 announce: Callable[[str], None] | None = None):
        self.session, self.method = session, method
        self.make_localizer, self.methods = make_localizer, list(methods or [method])
        self.host, self.port, self.token = host, int(port), token
        self.duration_s, self.queue_frames, self.max_clients = duration_s, queue_frames, max_clients
        self.kws, self.kws_labels, self.source = kws, kws_labels, source
        self.announce = announce or (lambda url: None)
        self.clients: set[Client] = set()
        self.stats = ServeStats()
        self.failure: BaseException | None = None
        self._page = page_html()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._switching: asyncio.Lock | None = None
        self._local = is_loopback(host)
        if kws is not None:
            session.on_block = self._kws_block

    # --- requests -----------------------------------------------------------------------------
    def authorise(self, path: str, headers: Any) -> tuple[int, str] | None:
        """None when the request may go on, else (HTTP status, one-line reason)."""
        query = parse_qs(urlsplit(path).query)
        if self.token is not None:
            given = (query.get("token") or [""])[0]
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return 403, "this server needs its token: open the URL it printed (…/?token=…)"
        host = headers.get("Host", "")
        if self._local and self.token is None:
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in LOOPBACK_NAMES and name != self.host:
                return 403, f"Host '{host}' is not this machine's loopback name"
        origin = headers.get("Origin")
        if origin is not None and urlsplit(path).path == "/ws" and urlsplit(origin).netloc != host:
            return 403, f"a WebSocket from another origin ({origin}) is refused"
        return None

    def _process_request(self, connection: Any, request: Any) -> Any:
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        refused = self.authorise(request.path, request.headers)
        if refused is not None:
            self.stats.refused += 1
            return connection.respond(refused[0], refused[1] + "\n")
        route = urlsplit(request.path).path
        if route == "/ws":
            if len(self.clients) >= self.max_clients:
                self.stats.refused += 1
                return connection.respond(503, f"{self.max_clients} clients are connected already\n")
            return None
        if route in ("/", "/index.html"):
            return Response(200, "OK", Headers({
                "Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(self._page)),
                "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
                                           "script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                           "img-src 'self' data:"}), self._page)
        if route == "/stats":
            body = json.dumps(self.stats.__dict__).encode()
            return Response(200, "OK", Headers({"Content-Type": "application/json",
                                                "Content-Length": str(len(body)),
                                                "Cache-Control": "no-store"}), body)
        self.stats.refused += 1
        return connection.respond(404, "not found: the page is at /\n")

    def hello(self) -> dict[str, Any]:
        """The first message to each client."""
        loc = self.session.localizer
        return {"type": "hello", "method": self.method, "methods": self.methods,
                "array": loc.array.name, "n_mics": loc.array.n_mics,
                "mics_m": [[round(float(v), 4) for v in m] for m in loc.array.mics_m],
                "frame_s": loc.frame_len / loc.fs, "hop_s": loc.hop / loc.fs,
                "spectrum_step_deg": SPECTRUM_STEP_DEG, "source": self.source,
                "kws_labels": self.kws_labels, "tracking": self.session.tracker is not None}

    async def _handler(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        client = Client(self.queue_frames)
        self.clients.add(client)
        self.stats.connections += 1
        self.stats.clients = len(self.clients)
        client.put(json.dumps(self.hello()))
        sender = asyncio.create_task(self._send_loop(ws, client))
        try:
            async for text in ws:
                await self._command(client, text)
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            self.clients.discard(client)
            self.stats.clients = len(self.clients)
            self.stats.dropped += client.dropped
            try:
                await sender
            except (asyncio.CancelledError, ConnectionClosed):
                pass

    async def _send_loop(self, ws: Any, client: Client) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                await client.ready.wait()
                client.ready.clear()
                while client.queue:
                    await ws.send(client.queue.popleft())
        except ConnectionClosed:
            pass

    async def _command(self, client: Client, text: Any) -> None:
        """A message from the page: ``{"cmd": "method", "method": NAME}``; anything else gets an
        error message back (to that client only)."""
        try:
            cmd = json.loads(text)
            ok = isinstance(cmd, dict) and cmd.get("cmd") == "method" and isinstance(cmd.get("method"), str)
        except (ValueError, TypeError):
            ok = False
        if not ok:
            client.put(json.dumps({"type": "error", "message": 'send {"cmd": "method", "method": NAME}'}))
            return
        name = cmd["method"]
        if self.make_localizer is None or name not in self.methods:
            client.put(json.dumps({"type": "error", "message": f"method '{name}' is not offered here; "
                                   f"choose one of {', '.join(self.methods)}"}))
            return
        assert self._switching is not None
        async with self._switching:
            if name == self.method:
                return
            try:
                loc = await asyncio.to_thread(self.make_localizer, name)
                self.session.switch_localizer(loc)
            except Exception as e:       # InputError or a method that cannot be built here
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                client.put(json.dumps({"type": "error", "message": f"method '{name}': {msg}"}))
                return
            self.method = name
        self._publish(json.dumps({"type": "method", "method": name}))

    # --- frames -------------------------------------------------------------------------------
    def _publish(self, text: str) -> None:
        """Queue ``text`` for every client (event-loop thread)."""
        for c in self.clients:
            c.put(text)

    def _from_worker(self, text: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._publish, text)
            except RuntimeError:          # the loop closed meanwhile
                pass

    def _kws_block(self, block: Any) -> None:
        assert self.kws is not None
        for det in self.kws(block[:, 0]):
            self._from_worker(json.dumps({"type": "keyword", **det}))

    def _work(self) -> None:
        """The worker thread: run the session, publish each estimate."""
        try:
            for est in self.session.run(self.duration_s):
                self.stats.frames += 1
                if not self.clients:            # nobody looks: no message to make
                    continue
                loc = self.session.localizer
                text = json.dumps(frame_message(est, self.method, loc.grid_deg))
                self._from_worker(text)
        except BaseException as e:       # InputError (device lost) or a bug: reported by run()
            self.failure = e
        finally:
            loop, done = self._loop, self._done
            if loop is not None and done is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(done.set)
                except RuntimeError:
                    pass

    def stop(self) -> None:
        """End :meth:`run` (thread-safe; also from a signal handler on the loop)."""
        self.session.stop()
        loop, done = self._loop, self._done
        if loop is not None and done is not None and not loop.is_closed():
            loop.call_soon_threadsafe(done.set)

    async def run(self) -> None:
        """Listen, run the session until it ends or :meth:`stop`, then close every socket.

        Raises InputError when the port cannot be had (before the session starts), and the
        session's own error (a lost device) after closing."""
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._done, self._switching = asyncio.Event(), asyncio.Lock()
        try:
            server = await serve(self._handler, self.host, self.port,
                                 process_request=self._process_request, compression=None,
                                 max_size=4096, ping_interval=20, ping_timeout=20,
                                 logger=logging.getLogger("neuroaudio.serve.ws"))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise InputError(f"port {self.port} on {self.host} is in use (another serve?); "
                                 "pick another --port, or --port 0 for any free one") from None
            raise InputError(f"cannot listen on {self.host}:{self.port} ({e.strerror or e}); "
                             "check --host and --port") from None
        self.port = int(server.sockets[0].getsockname()[1])
        worker = threading.Thread(target=self._work, name="neuroaudio-serve-session", daemon=True)
        worker.start()
        self.announce(self.url())
        try:
            await self._done.wait()
        finally:
            self.session.stop()
            server.close()                      # closes every socket (1001 going away)
            await server.wait_closed()
            await asyncio.to_thread(worker.join, 10.0)
        if self.failure is not None:
            raise self.failure

    def url(self) -> str:
        """The page's address (with the token, when one is needed)."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        if host in ("0.0.0.0", "[::]"):
            host = "HOST"                       # any of the machine's addresses
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")
