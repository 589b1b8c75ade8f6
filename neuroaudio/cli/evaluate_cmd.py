"""`neuroaudio evaluate`: run localizers over a manifest; predictions.csv, metrics.json, plots."""

from __future__ import annotations

from pathlib import Path

import typer

from . import options as opt


def evaluate_cmd(
    manifest: Path = typer.Argument(..., help="Manifest CSV: path,azimuth_deg[,snr_db,...] "
                                    "(paths relative to its folder, or absolute)."),
    array: str = opt.array(..., "Built-in array name or geometry JSON."),
    method: str = opt.method(..., "Method(s), comma-separated (see `neuroaudio methods`)."),
    out: Path = opt.out(..., "Output folder."),
    workers: int = opt.workers(),
    resume: bool = typer.Option(False, "--resume",
                                help="Keep the rows an earlier (interrupted) run into --out "
                                     "finished; run only the rest."),
    overwrite: bool = typer.Option(False, "--overwrite",
                                   help="Delete the results of an earlier run in --out and "
                                        "start afresh (without it, such a folder is refused)."),
    retry_failed: bool = typer.Option(False, "--retry-failed",
                                      help="With --resume: run rows that failed again."),
    group_by: str = typer.Option("", "--group-by",
                                 help="Manifest columns to group metrics by, comma-separated "
                                      "(snr_db is always used when present)."),
    channels: str = typer.Option("", "--channels",
                                 help="1-based file channels to use, in mic order, e.g. 2,3,4,5."),
    model: str | None = typer.Option(None, "--model", help="Model file for learned methods."),
    sets: list[str] = opt.sets("Method option KEY=VALUE for every method (repeatable), e.g. --set "
                               "fmin_hz=300; see `neuroaudio methods --options`."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N manifest rows."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Skip the PNG plots."),
    quiet: bool = opt.quiet(),
) -> None:
    """Evaluate DOA methods on a manifest of clips with known azimuths.

    Writes OUT/predictions.csv (one row per clip and method), OUT/metrics.json and plots.

    A missing or corrupt file fails its own rows only; failed rows count as 180 degrees.

    --resume keeps the rows that an interrupted run into OUT finished (see docs/evaluate.md);
    --overwrite deletes an earlier run's results. One run at a time owns OUT.

    Example: neuroaudio evaluate clips/manifest.csv --array respeaker4 --method gcc-phat,srp-phat --out ev
    """
    from rich.console import Console

    from ..audio.io import parse_channels
    from ..eval.report import group_columns, rich_table
    from ..eval.runner import evaluate
    from ..workers import sigterm_as_interrupt

    options = opt.parse_options(sets)
    _check_option_names(method.split(","), options)
    try:
        with sigterm_as_interrupt():   # kill -TERM: like Ctrl-C (rows kept, workers stopped)
            res = evaluate(manifest, array, method.split(","), out, workers=workers,
                           resume=resume, overwrite=overwrite,
                           group_by=[c.strip() for c in group_by.split(",") if c.strip()],
                           channels=parse_channels(channels), model=model,
                           options=options,
                           retry_failed=retry_failed, limit=limit, plots=not no_plots,
                           progress=not quiet)
    except KeyboardInterrupt:
        typer.echo(f"neuroaudio: finished rows are kept in {out}; add --resume to the same "
                   "command to go on", err=True)
        raise
    con = Console()
    cols = group_columns(res.metrics)
    if not cols:
        con.print(rich_table(res.metrics, None, title="all rows"))
    for col in cols:
        con.print(rich_table(res.metrics, col, title=f"by {col}"))
    err = Console(stderr=True)
    n_failed = sum(m["n_failed"] for m in res.metrics.values())
    err.print(f"{len(res.rows)} rows ({res.n_computed} computed, {res.n_reused} reused), "
              f"{n_failed} failed; failed rows count as 180 degrees")
    err.print(f"wrote {out / 'predictions.csv'}, {out / 'metrics.json'}"
              + "".join(f", {p}" for p in res.plots))


def _check_option_names(methods: list[str], options: dict) -> None:
    """``--set`` names an option every method has (InputError naming the method otherwise)."""
    from ..errors import InputError
    from ..localize.registry import method_options

    for m in methods if options else []:
        known = method_options(m.strip())
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise InputError(f"--set: method '{m.strip()}' has no option {', '.join(map(repr, unknown))}; "
                             f"its options: {', '.join(known)}")


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add `evaluate` to the app."""
    app.command("evaluate")(evaluate_cmd)
