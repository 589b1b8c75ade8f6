"""`neuroaudio train mpdal`: aggregate-label learning (MPD-AL, MST) on the clue task or spoken digits."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @groups["train"].command("mpdal")
    def train_mpdal(
        config: Path = typer.Option(..., "--config", "-c",
                                    help="Pipeline YAML (task: clues | digits), "
                                         "e.g. pipelines/mpdal_clues.yaml."),
        out: Path = typer.Option(Path("runs/mpdal"), "--out", "-o",
                                 help="Output folder: log.csv, results.json, *.png."),
        seed: int | None = typer.Option(None, help="Override the config's seed."),
        data: Path | None = typer.Option(None, help="digits: folder of FSDD wavs (overrides data.fsdd_dir)."),
        rule: str | None = typer.Option(None, help="digits: override model.rule (mpdal, mpdal_multi, mst)."),
        no_plots: bool = typer.Option(False, "--no-plots", help="Skip the PNG plots."),
    ) -> None:
        """Train MPD-AL neurons (and the MST baseline) from a pipeline config; print the summary as JSON.

        Clue task (MPD-AL vs MST, same data and seeds, CPU time to reach the target accuracy):

          neuroaudio train mpdal --config pipelines/mpdal_clues.yaml --out runs/mpdal_clues

        Spoken digits (FSDD, train on 3 speakers, test on the 4th, rotating; dynamic vs max-count decoding):

          neuroaudio train mpdal --config pipelines/mpdal_digits.yaml --data ../shared/data/fsdd/recordings
        """
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from ..errors import InputError
        from ..mpdal.config import load_config
        from ..mpdal.pipeline import run_pipeline

        cfg = load_config(config)
        if seed is not None:
            cfg.seed = seed
        if rule is not None:
            if cfg.task != "digits":
                raise InputError("--rule applies to task: digits; for clues edit the config's `rules:` list")
            cfg.sections["model"] = {**(cfg.sections.get("model") or {}), "rule": rule}
        with Progress(TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), transient=True) as prog:
            tasks: dict[str, int] = {}

            def on_progress(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = prog.add_task(name, total=total)
                prog.update(tasks[name], completed=done)

            result = run_pipeline(cfg, out, on_progress, data_dir=data, plots=not no_plots)
        typer.echo(json.dumps(result.get("summary", result), indent=2, default=str))
        typer.echo(f"outputs: {out}/ (log.csv, results.json, *.png)", err=True)
