"""What one WebSocket message of ``neuroaudio serve`` holds (docs/serve.md, "Messages").

A frame message is the live jsonl object of :meth:`LiveEstimate.to_json
<neuroaudio.live.session.LiveEstimate.to_json>` (plus ``sources`` wherever a session adds
them), with ``"type": "frame"`` and the fields only the page draws: ``method``, ``spectrum``,
``mic_levels_dbfs``, ``raster`` and ``rates``. Other messages: ``hello`` (the first, to each
client), ``method`` (the method changed), ``keyword`` (a keyword detection), ``error``.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

SPECTRUM_STEP_DEG = 2.0
"""Azimuth step of the spectrum sent to the page (the grid's spectrum max-pooled to it)."""


def pooled_spectrum(spectrum: np.ndarray, grid_deg: np.ndarray, step_deg: float = SPECTRUM_STEP_DEG
                    ) -> list[int]:
    """A frame's spectrum ``[n_az]`` over ``grid_deg`` → ``round(360 / step_deg)`` integers 0..255
    (255 = the frame's peak), each the maximum of the grid points in its ``step_deg`` bin."""
    n_bins = int(round(360.0 / step_deg))
    idx = np.minimum((np.mod(grid_deg, 360.0) / step_deg).astype(int), n_bins - 1)
    out = np.zeros(n_bins)
    np.maximum.at(out, idx, np.asarray(spectrum, dtype=np.float64))
    lo, hi = float(out.min()), float(out.max())
    scaled = (out - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros(n_bins)
    return [int(v) for v in np.round(scaled)]


def pack_raster(raster: np.ndarray) -> dict[str, Any]:
    """``[steps, neurons]`` bool → ``{"steps", "neurons", "bits"}``, ``bits`` the row-major bits
    packed most significant first (``numpy.packbits``), base64."""
    r = np.asarray(raster, dtype=bool)
    return {"steps": int(r.shape[0]), "neurons": int(r.shape[1]),
            "bits": base64.b64encode(np.packbits(r.reshape(-1)).tobytes()).decode("ascii")}


def unpack_raster(packed: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`pack_raster` (tests, clients in Python)."""
    bits = np.unpackbits(np.frombuffer(base64.b64decode(packed["bits"]), dtype=np.uint8))
    n = packed["steps"] * packed["neurons"]
    return bits[:n].reshape(packed["steps"], packed["neurons"]).astype(bool)


def frame_message(est: Any, method: str, grid_deg: np.ndarray, views: bool = True) -> dict[str, Any]:
    """One :class:`~neuroaudio.live.session.LiveEstimate` → the frame message (a dict for JSON).

    ``views=False`` leaves out what only the page draws (spectrum, levels, raster): the jsonl
    object plus ``type`` and ``method``.
    """
    msg: dict[str, Any] = {"type": "frame", **est.to_json(), "method": method}
    if not views:
        return msg
    spec = getattr(est, "spectrum", None)
    msg["spectrum"] = None if spec is None else pooled_spectrum(spec, grid_deg)
    levels = getattr(est, "mic_levels_dbfs", None)
    msg["mic_levels_dbfs"] = None if levels is None else [round(float(v), 1) for v in levels]
    act = getattr(est, "activity", None)
    if act is not None:
        msg["raster"] = pack_raster(act.raster)
        msg["rates"] = {k: round(float(v), 4) for k, v in act.rates.items()}
    return msg
