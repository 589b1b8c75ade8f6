"""``neuroaudio export``: a checkpoint (or a shipped model's name) → a NIR file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import InputError

REPO_MODELS = Path(__file__).resolve().parents[2] / "data" / "models"
SHIPPED = {"maa": REPO_MODELS / "maa_respeaker4.pt", "kws": REPO_MODELS / "kws_fsdd_drf.pt"}
"""Shipped models by name (``neuroaudio export maa -o maa.nir``)."""

FORMATS = ("nir",)
OPTIONS = {"maa": ("levels", "dt_s"), "kws": ("dt_s",), "mpdal": ("dt_s",)}
"""The ``--set`` keys each model's export takes."""


def _kind(path: Path) -> tuple[str, dict[str, Any]]:
    """``("maa" | "kws" | "mpdal", checkpoint dict)`` of a checkpoint file (read with
    ``weights_only=True``)."""
    import torch

    if not path.is_file():
        raise InputError(f"model '{path}' not found: give a .pt checkpoint of maa, kws or mpdal, or the "
                         f"name of a shipped model ({', '.join(SHIPPED)})")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise InputError(f"model '{path}' cannot be loaded safely ({type(e).__name__}): give a "
                         "checkpoint written by `neuroaudio train maa|kws|mpdal`") from None
    fmt = ck.get("format") if isinstance(ck, dict) else None
    kinds = {"neuroaudio-maa-1": "maa", "neuroaudio-kws-1": "kws", "neuroaudio-mpdal-1": "mpdal"}
    if fmt not in kinds:
        raise InputError(f"'{path}' (format {fmt!r}) has no NIR export: give a maa, kws or mpdal "
                         "checkpoint")
    return kinds[fmt], ck


def export_model(model: str, out: str | Path, fmt: str = "nir", options: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """Export ``model`` (a path, or ``maa`` / ``kws`` for the shipped models) to ``out``.

    Returns a summary: ``model``, ``kind``, ``out``, ``bytes``, ``nodes`` (count per NIR type),
    ``edges``, ``metadata``.
    """
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt}: export formats are {', '.join(FORMATS)}")
    path = SHIPPED.get(model, Path(model))
    kind, ck = _kind(path)
    opts = dict(options or {})
    unknown = sorted(set(opts) - set(OPTIONS[kind]))
    if unknown:
        raise InputError(f"--set {unknown[0]}: a {kind} export takes {', '.join(OPTIONS[kind])}")
    dt = opts.get("dt_s", 1e-4)
    if not isinstance(dt, int | float) or not dt > 0:
        raise InputError(f"--set dt_s={dt}: give a positive time step in seconds, e.g. 1e-4")
    from ..train.checkpoint import checkpoint_contents
    from .nir_common import require_nir, write_graph

    require_nir()
    if kind == "maa":
        from ..maa.checkpoint import HINT, build_model, checkpoint_encoder
        from .maa_nir import DEFAULT_LEVELS, maa_to_nir

        levels = opts.get("levels", DEFAULT_LEVELS)
        if not isinstance(levels, int) or isinstance(levels, bool) or not 1 <= levels <= 255:
            raise InputError(f"--set levels={levels}: give the thermometer levels as an integer 1..255")
        with checkpoint_contents(path, HINT):
            net = build_model(ck)
            enc = checkpoint_encoder(ck)
            fs = int(ck["sample_rate_hz"])
        step_s = enc.frame_samples(fs) / fs / enc.steps
        graph = maa_to_nir(net, levels=levels, dt=float(dt), step_s=step_s, metadata={"source": str(path)})
    elif kind == "mpdal":
        from ..mpdal.checkpoint import HINT as MPDAL_HINT
        from ..mpdal.checkpoint import build as build_mpdal
        from .mpdal_nir import mpdal_to_nir

        with checkpoint_contents(path, MPDAL_HINT):
            weights, params = build_mpdal(ck)
        graph = mpdal_to_nir(weights, params, dt=float(dt), metadata={"source": str(path)})
    else:
        from ..kws.checkpoint import KWS_HINT
        from ..kws.checkpoint import build_model as build_kws
        from .kws_nir import kws_to_nir

        with checkpoint_contents(path, KWS_HINT):
            m = build_kws(ck)
        try:
            graph = kws_to_nir(m.net, dt=float(dt), step_s=m.frontend.hop_s, metadata={"source": str(path)})
        except ValueError as e:
            raise InputError(f"model '{path}': {e}") from None
    written = write_graph(graph, out)
    return {"model": str(path), "kind": kind, "out": str(written), "bytes": written.stat().st_size,
            "nodes": dict(Counter(type(n).__name__ for n in graph.nodes.values())),
            "edges": len(graph.edges), "metadata": dict(graph.metadata)}
