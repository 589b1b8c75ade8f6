"""``neuroaudio serve``: the live session in a browser (docs/serve.md).

:mod:`~neuroaudio.serve.server` serves one page (``page/index.html``, no build step, nothing
from the network) and a WebSocket whose frames are the live jsonl objects plus what the page
draws (:mod:`~neuroaudio.serve.frames`). Needs the ``serve`` extra (``websockets``).
"""

from .frames import frame_message, pack_raster, pooled_spectrum, unpack_raster
from .server import LiveServer, check_bind, is_loopback

__all__ = ["LiveServer", "check_bind", "frame_message", "is_loopback", "pack_raster", "pooled_spectrum",
           "unpack_raster"]
