"""`neuroaudio pipeline run`: simulate → train → evaluate → report from one pipeline YAML."""

from __future__ import annotations

from pathlib import Path

import typer

from . import options as opt

pipeline_app = typer.Typer(help="Run a whole pipeline (simulate, train, evaluate, report).\n\n"
                                "Example: neuroaudio pipeline run pipelines/maa.yaml",
                           invoke_without_command=True)


def pipeline_run(
    config: Path = typer.Argument(..., help="Pipeline YAML, e.g. pipelines/maa.yaml."),
    steps: str = typer.Option("simulate,train,evaluate,report", "--steps",
                              help="Steps to run, comma-separated, in this order."),
    overrides: list[str] = opt.sets("Override a config value: SECTION.KEY=VALUE (YAML), e.g. --set "
                                    "train.epochs=5 --set evaluate.limit=48."),
    kind: str | None = typer.Option(None, "--kind", help="Trainer (default: the config's `kind`, else "
                                    "maa); e.g. gcc-phat-sm."),
    force: str = typer.Option("", "--force", help="Steps to rerun even when complete, e.g. evaluate."),
    quiet: bool = opt.quiet("No progress bars."),
) -> None:
    """Simulate the data, train, evaluate against other methods, write OUT_DIR/report.md.

    Each step is skipped when its outputs are complete, and training and evaluation resume
    where they stopped, so the same command picks up an interrupted run (docs/pipeline.md).

    Example: neuroaudio pipeline run pipelines/maa.yaml

    Example (evaluate a trained model on 48 clips and report): neuroaudio pipeline run
    pipelines/maa.yaml --steps evaluate,report --set evaluate.limit=48

    Example (GCC-PHAT-SM): neuroaudio pipeline run pipelines/gcc_phat_sm.yaml --kind gcc-phat-sm
    """
    from ..pipeline.runner import check_steps, load, run

    split = [s.strip() for s in steps.split(",") if s.strip()]
    forced = [s.strip() for s in force.split(",") if s.strip()]
    check_steps(split, forced)
    pl = load(config, overrides, kind=kind)
    typer.echo(f"pipeline {config} ({pl.kind}) -> {pl.out_dir}")
    from ..workers import sigterm_as_interrupt

    with sigterm_as_interrupt():   # kill -TERM: like Ctrl-C (steps resume where they stopped)
        status = run(pl, split, forced, progress=not quiet, log=typer.echo)
    if "report" in status:
        typer.echo(f"report: {pl.out_dir / 'report.md'}")


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the `pipeline` group to the app."""
    from . import help_if_bare

    pipeline_app.callback()(help_if_bare)
    pipeline_app.command("run")(pipeline_run)
    app.add_typer(pipeline_app, name="pipeline")
