"""Headless Chromium driven over the Chrome DevTools protocol (its own WebSocket), for the tests of
``neuroaudio serve`` and the screenshot script. Needs Debian's ``chromium`` (no browser download)
and the ``websockets`` package."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def chromium_path() -> str | None:
    """The browser's executable, or None."""
    for name in CHROMIUM_NAMES:
        p = shutil.which(name)
        if p:
            return p
    return None


class Chromium:
    """One headless browser with one page open at ``url``; :meth:`eval` runs JavaScript in it."""

    def __init__(self, url: str, width: int = 1200, height: int = 820, timeout_s: float = 60.0):
        from websockets.sync.client import connect

        exe = chromium_path()
        if exe is None:
            raise RuntimeError("chromium is not installed")
        self.profile = tempfile.mkdtemp(prefix="na-chromium-")
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
             f"--window-size={width},{height}", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = None
        t_end = time.monotonic() + timeout_s
        assert self.proc.stderr is not None
        while time.monotonic() < t_end:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            self.close()
            raise RuntimeError("chromium did not open its DevTools port")
        threading.Thread(target=self._drain, daemon=True).start()   # keep its stderr pipe empty
        ws_url = None
        while time.monotonic() < t_end and ws_url is None:
            pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list").read())
            ws_url = next((p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page"), None)
            if ws_url is None:
                time.sleep(0.2)
        if ws_url is None:
            self.close()
            raise RuntimeError("chromium opened no page")
        self._conn = connect(ws_url, max_size=2 ** 26, open_timeout=timeout_s)
        self.ws = self._conn.__enter__()
        self._id = 0

    def _drain(self) -> None:
        try:
            for _ in self.proc.stderr:           # type: ignore[union-attr]
                pass
        except (OSError, ValueError):
            pass

    def call(self, method: str, **params: Any) -> dict:
        """One DevTools command; its result (events in between are skipped)."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def eval(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-able)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 30.0, poll_s: float = 0.25) -> Any:
        """Poll until ``expression`` is truthy (an exception counts as not yet); its value (None
        on timeout)."""
        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            try:
                v = self.eval(expression)
            except RuntimeError:          # the page is still loading (no such element yet)
                v = None
            if v:
                return v
            time.sleep(poll_s)
        return None

    def screenshot(self, path: str, fmt: str = "png", quality: int | None = None) -> None:
        import base64

        params: dict[str, Any] = {"format": fmt}
        if quality is not None:
            params["quality"] = quality
        data = self.call("Page.captureScreenshot", **params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self) -> None:
        try:
            if hasattr(self, "ws"):
                self.ws.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
