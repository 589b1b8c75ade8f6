"""`neuroaudio profile`: firing rates, synaptic operations and energy per frame of a spiking model."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.core import TyperCommand

from . import options as opt


def legacy_json_path(args: list[str]) -> list[str]:
    """The old ``--json PATH`` (a file to write, today's ``--out PATH``) becomes the hidden
    ``--json-path PATH``; ``--json`` alone is a flag.

    ``--json X`` is taken as the old form when X ends in ``.json`` (an input is audio, a manifest
    or a folder), and ``--json=X`` always."""
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            return out + args[i:]
        if a.startswith("--json="):
            out += ["--json-path", a.split("=", 1)[1]]
        elif a == "--json" and i + 1 < len(args) and args[i + 1].lower().endswith(".json"):
            out += ["--json-path", args[i + 1]]
            i += 1
        else:
            out.append(a)
        i += 1
    return out


class ProfileCommand(TyperCommand):
    """`profile`, accepting the old ``--json PATH`` (see :func:`legacy_json_path`)."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:   # ctx: typer's (click) Context
        return super().parse_args(ctx, legacy_json_path(args))


def profile_cmd(
    inputs: list[Path] = typer.Argument(None, help="Audio files and/or manifest CSVs (every row's "
                                        "path). None: simulated scenes (--sim, --clips)."),
    method: str = opt.method("maa", "Spiking model: maa (numbers per frame) or kws (per clip)."),
    model: str | None = typer.Option(None, "--model", help="Checkpoint (default: the shipped model)."),
    sim: Path | None = typer.Option(None, "--sim", help="Simulator YAML for the scenes "
                                    "(default pipelines/quick.yaml)."),
    clips: int = typer.Option(3, "--clips", help="Number of simulated scenes (no INPUTS)."),
    seed: int = typer.Option(12345, "--seed", help="Simulator seed of the scenes."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N rows of each manifest."),
    out: Path | None = opt.out(None, "Also write the numbers to this JSON file (old spelling: "
                                     "--json PATH)."),
    json_out: bool = opt.json_flag("Print the numbers as JSON on stdout instead of the text."),
    quiet: bool = opt.quiet(),
    json_path: Path | None = opt.legacy("--json-path"),
) -> None:
    """Energy and sparsity of a spiking network on real input (docs/profile.md).

    Runs the model as `neuroaudio localize` would and counts, per frame the network sees:
    the firing rate of every spiking layer, the synaptic operations (each spike x its fan-out:
    accumulates, 0.9 pJ) and the multiply-accumulates of real-valued inputs (4.6 pJ), the
    energy per frame, and the same network run as a dense non-spiking ANN (all MACs). The front
    end that makes the network's input is counted with the same energies and reported beside
    it, with the total: the RF-PLC encoder for maa (resonators as MACs, spikes into the
    coincidence detectors as ACs), the log-mel front-end for kws.

    Example: neuroaudio profile data/examples/respeaker4_az120.wav --method maa
    --model runs/maa/model.pt

    Example (a manifest, 24 rows, numbers also in a file): neuroaudio profile
    runs/dev_bench/clips/manifest.csv --limit 24 --out profile.json

    Example (keyword spotting, a folder of word clips): neuroaudio profile words/ --method kws
    """
    import importlib

    from ..errors import InputError
    from ..io_utils import _json_default, write_json_atomic
    from ..profile import PROFILERS

    if method not in PROFILERS:
        raise InputError(f"--method {method}: no profiler; use one of {', '.join(PROFILERS)}")
    if clips < 1:
        raise InputError(f"--clips {clips}: give at least 1 simulated scene")
    out_flag = "--json" if json_path is not None else "--out"   # the spelling the user wrote
    out = opt.pick(out, json_path, "--out", "--json PATH")
    if out is not None:
        from ..ownership import check_output_file

        check_output_file(out, out_flag)   # before the work, not after it
    mod, _, fn = PROFILERS[method].partition(":")
    run = getattr(importlib.import_module(mod), fn)
    res = run(inputs or [], model=model, sim=sim, seed=seed, clips=clips, limit=limit,
              progress=not quiet)
    numbers = {k: v for k, v in res.items() if k != "text"}
    if json_out:
        typer.echo(json.dumps(numbers, indent=2, default=_json_default))
    else:
        typer.echo(res["text"])
    if out is not None:
        try:
            write_json_atomic(out, numbers)
        except OSError as e:   # late failure (disk full): the numbers are printed above
            raise InputError(f"{out_flag} {out}: cannot write it ({e.strerror or e}); the "
                             "numbers are printed above") from None
        typer.echo(f"numbers in {out}", err=json_out)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add `profile` to the app."""
    app.command("profile", cls=ProfileCommand)(profile_cmd)
