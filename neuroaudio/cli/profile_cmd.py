"""`neuroaudio profile`: firing rates, synaptic operations and energy per frame of a spiking model."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @app.command("profile")
    def profile_cmd(
        inputs: list[Path] = typer.Argument(None, help="Audio files and/or manifest CSVs (every row's "
                                            "path). None: simulated scenes (--sim, --clips)."),
        method: str = typer.Option("maa", "--method", "-m",
                                   help="Spiking model: maa (numbers per frame) or kws (per clip)."),
        model: str | None = typer.Option(None, "--model", help="Checkpoint (default: the shipped model)."),
        sim: Path | None = typer.Option(None, "--sim", help="Simulator YAML for the scenes "
                                        "(default pipelines/quick.yaml)."),
        clips: int = typer.Option(3, "--clips", help="Number of simulated scenes (no INPUTS)."),
        seed: int = typer.Option(12345, "--seed", help="Simulator seed of the scenes."),
        limit: int | None = typer.Option(None, "--limit", help="Only the first N rows of each manifest."),
        json_out: Path | None = typer.Option(None, "--json", help="Also write the numbers here (JSON)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Energy and sparsity of a spiking network on real input (docs/profile.md).

        Runs the model as `neuroaudio localize` would and counts, per frame the network sees:
        the firing rate of every spiking layer, the synaptic operations (each spike x its fan-out:
        accumulates, 0.9 pJ) and the multiply-accumulates of real-valued inputs (4.6 pJ), the
        energy per frame, and the same network run as a dense non-spiking ANN (all MACs).

        Example: neuroaudio profile data/examples/respeaker4_az120.wav --method maa
        --model runs/maa/model.pt

        Example (a manifest, 24 rows, JSON): neuroaudio profile runs/dev_bench/clips/manifest.csv
        --limit 24 --json profile.json

        Example (keyword spotting, a folder of word clips): neuroaudio profile words/ --method kws
        """
        import importlib

        from ..errors import InputError
        from ..io_utils import write_json_atomic
        from ..profile import PROFILERS

        if method not in PROFILERS:
            raise InputError(f"--method {method}: no profiler; use one of {', '.join(PROFILERS)}")
        if clips < 1:
            raise InputError(f"--clips {clips}: give at least 1 simulated scene")
        if json_out is not None:
            from ..ownership import check_output_file

            check_output_file(json_out, "--json")   # before the work, not after it
        mod, _, fn = PROFILERS[method].partition(":")
        run = getattr(importlib.import_module(mod), fn)
        res = run(inputs or [], model=model, sim=sim, seed=seed, clips=clips, limit=limit,
                  progress=not quiet)
        typer.echo(res["text"])
        if json_out is not None:
            try:
                write_json_atomic(json_out, {k: v for k, v in res.items() if k != "text"})
            except OSError as e:   # late failure (disk full): the numbers are printed above
                raise InputError(f"--json {json_out}: cannot write it ({e.strerror or e}); the "
                                 "numbers are printed above") from None
            typer.echo(f"numbers in {json_out}")
