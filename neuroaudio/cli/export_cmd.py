"""`neuroaudio export`: a spiking model as a NIR graph for neuromorphic hardware (docs/nir.md)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from . import options as opt


def export_cmd(
    model: str = typer.Argument(..., help="A maa, kws or mpdal checkpoint (.pt), or a shipped "
                                         "model: maa, kws."),
    fmt: str = opt.fmt("nir", "Export format: nir (Neuromorphic Intermediate Representation)."),
    out: Path = opt.out(..., "The file to write (e.g. maa.nir)."),
    sets: list[str] = opt.sets("Export option KEY=VALUE: dt_s (simulator step, default 1e-4), "
                               "levels (maa: thermometer levels of the input counts, default 16)."),
    json_out: bool = opt.json_flag("Print the summary as JSON."),
) -> None:
    """Export a spiking model to NIR: a graph of NIR primitives that runs step by step in NIR
    simulators and toolchains (docs/nir.md says what each part becomes and which targets run it).

    Example: neuroaudio export maa -o maa.nir

    Example: neuroaudio export runs/kws/model.pt --format nir --out kws.nir --set dt_s=1e-3
    """
    from ..export.api import export_model
    from ..ownership import check_output_file

    check_output_file(out, "--out")
    res = export_model(model, out, fmt, opt.parse_options(sets))
    if json_out:
        typer.echo(json.dumps(res, indent=2, default=str))
        return
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(res["nodes"].items()))
    typer.echo(f"{res['kind']} -> {res['out']} ({res['bytes'] / 1e6:.2f} MB): {kinds}; "
               f"{res['edges']} edges; dt_s={res['metadata']['dt_s']:g}")


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add `export` to the app."""
    app.command("export")(export_cmd)
