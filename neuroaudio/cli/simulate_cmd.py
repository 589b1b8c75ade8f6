"""`neuroaudio simulate`: generate a dataset of simulated multichannel clips from a YAML config."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from . import options as opt


def simulate_cmd(
    config: Path = typer.Argument(..., help="Simulator config (YAML), e.g. pipelines/quick.yaml."),
    out: Path = opt.out(..., "Output folder (clips, manifest.csv)."),
    seed: int | None = typer.Option(None, "--seed", help="Override the config's seed."),
    workers: int = opt.workers("Worker processes (same output for any)."),
    limit: int | None = typer.Option(None, "--limit", help="Make only the first N clips (all SNRs)."),
    quiet: bool = opt.quiet(),
    sets: list[str] = opt.sets("Override a config value: KEY=VALUE (YAML); a number picks a list item, "
                               "e.g. --set source.signal.0.folder=/data/fsdd."),
    workers_old: int | None = opt.legacy("-w"),
) -> None:
    """Simulate rooms, arrays, speech and noise with pyroomacoustics; write WAVs and manifest.csv.

    The same config and seed give byte-identical files whatever --workers is; running again
    on the same --out resumes (complete clips are skipped). See docs/simulate.md.

    Example: neuroaudio simulate pipelines/quick.yaml --out runs/quick -j 2
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..errors import InputError
    from ..ownership import check_output_dir
    from ..sim.config import load_config
    from ..sim.run import simulate
    from ..workers import sigterm_as_interrupt

    workers = opt.pick(workers, workers_old, "--workers", "-w", 1)
    cfg = load_config(config, overrides={"seed": seed}, sets=sets)
    t0 = time.perf_counter()
    new_folder = not out.exists()
    check_output_dir(out, "--out")   # before the progress bar (simulate() owns it then)
    with Progress(TextColumn("simulate"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  disable=quiet, transient=False) as bar:
        task = bar.add_task("clips", total=None)

        def _progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            with sigterm_as_interrupt():   # kill -TERM: like Ctrl-C (workers stopped, clips kept)
                s = simulate(cfg, out, workers=workers, limit=limit, progress=_progress)
        except InputError:
            _remove_if_no_clip(out, new_folder)
            raise
    dt = time.perf_counter() - t0
    typer.echo(f"{s.written} clips written, {s.skipped} already there, {len(s.failed)} failed "
               f"in {dt:.1f} s; manifest: {s.manifest}", err=True)
    for msg in s.failed:
        typer.echo(f"failed: {msg}", err=True)
    if s.failed:
        raise typer.Exit(1)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add `simulate` to the app."""
    app.command("simulate")(simulate_cmd)


def _remove_if_no_clip(out: Path, new_folder: bool) -> None:
    """After bad input stopped a run: remove ``out`` when this run created it and no clip was
    finished in it (only its config.yaml and empty folders), so nothing partial is left behind.
    Finished clips are whole (written atomically) and are kept for a resumed run."""
    import shutil

    if new_folder and out.is_dir() and not any(out.rglob("*.wav")):
        shutil.rmtree(out, ignore_errors=True)
