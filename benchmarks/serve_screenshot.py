"""The README's picture of `neuroaudio serve`: headless Chromium on the example file.

    python -m benchmarks.serve_screenshot            # writes docs/serve.png (< 200 kB)
    python -m benchmarks.serve_screenshot --method maa --seconds 12 --out /tmp/serve.png

Starts ``neuroaudio serve --file data/examples/respeaker4_az120.wav`` (a spiking method, so the
raster shows), opens the page in Debian's ``chromium --headless`` through the DevTools protocol
(tests/browser.py), waits ``--seconds`` for the history to fill, takes the screenshot and
reduces it to a 96-colour palette PNG.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

from benchmarks.serve_cost import REPO, start_serve
from tests.browser import Chromium


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="rf-plc")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "serve.png")
    a = ap.parse_args()
    proc, ws_url = start_serve(a.method)
    url = ws_url.replace("ws://", "http://").replace("/ws", "/")
    try:
        with Chromium(url, width=1100, height=800) as page:
            page.wait_for("Number(document.getElementById('live').dataset.frames) >= 5", 60)
            time.sleep(a.seconds)
            tmp = a.out.with_suffix(".raw.png")
            page.screenshot(str(tmp))
    finally:
        proc.terminate()
        proc.wait()
    from PIL import Image

    img = Image.open(tmp).convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    tmp.unlink()
    a.out.write_bytes(buf.getvalue())
    print(f"{a.out}: {len(buf.getvalue()) / 1024:.0f} kB")


if __name__ == "__main__":
    main()
