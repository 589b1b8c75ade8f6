"""`neuroaudio train maa|gcc-phat-sm|kws|mpdal`: every trainer, from a pipeline config.

`train ssl` is the old name of `train maa` (hidden, kept for one release).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import typer

from . import options as opt

RESUME_HELP = "Continue from OUT_DIR/last.pt."


def _train_localizer(config_module: ModuleType, train: Callable[..., dict], config: Path,
                     overrides: list[str], resume: bool, quiet: bool, summary: Callable[[dict], str]) -> None:
    """Load a localizer's pipeline config (``config_module.load_pipeline`` with ``--set``
    overrides), ``train`` it, and print ``summary(best metrics)`` on the main process."""
    from ..train.distributed import cleanup

    cfg = config_module.load_pipeline(config, config_module.parse_set(overrides))
    res = train(cfg, resume=resume, progress=not quiet)
    cleanup(res["dist"])
    if res["dist"].is_main:
        typer.echo(f"best epoch {res['metrics'].get('epoch')}: {summary(res['metrics'])}; "
                   f"model in {res['out_dir']}/model.pt")


def train_maa(
    config: Path = opt.config("Pipeline YAML, e.g. pipelines/maa.yaml."),
    overrides: list[str] = opt.sets("Override a config value: SECTION.KEY=VALUE (YAML), e.g. "
                                    "--set train.epochs=5 --set model.stm=false."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help=RESUME_HELP),
    quiet: bool = opt.quiet(),
) -> None:
    """Train the MAA spiking sound-localization network (RF-PLC spikes → 360 one-degree bins).

    Simulates and encodes the clips (cached as .npz shards under data.cache_dir, or on the fly),
    then trains; writes OUT_DIR/model.pt (lowest validation MAE), last.pt (resume), log.csv,
    curve.png, metrics.json. Data-parallel without changes: torchrun --nproc_per_node 2 cli.py
    train maa --config ...

    Example: neuroaudio train maa --config pipelines/maa.yaml --set train.epochs=5

    Example (ablation): neuroaudio train maa -c pipelines/maa.yaml --set model.fsja=false
    --set out_dir=runs/maa_nofsja
    """
    from ..maa import config as maa_config
    from ..maa.train import train

    _train_localizer(maa_config, train, config, overrides, resume, quiet, lambda m: (
        f"validation MAE {m['val_mae']:.2f} deg per frame, {m['val_clip_mae']:.2f} deg per clip, "
        f"ACC@5 {100 * m['val_acc5']:.1f}%, ACC@10 {100 * m['val_acc10']:.1f}%"))


def train_gcc_phat_sm(
    config: Path = opt.config("Pipeline YAML, e.g. pipelines/gcc_phat_sm.yaml."),
    overrides: list[str] = opt.sets("Override a config value: SECTION.KEY=VALUE (YAML), e.g. --set "
                                    "train.epochs=5 --set train.mask_training=irm."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help=RESUME_HELP),
    quiet: bool = opt.quiet(),
) -> None:
    """Train GCC-PHAT-SM: a speech mask on the PHAT cross-spectra + an MLP → 360 one-degree bins.

    Simulates the clips once (speech image and noise apart, for the ideal ratio mask) into
    .npz shards under data.cache_dir, then trains; writes OUT_DIR/model.pt (lowest validation
    clip MAE), last.pt (resume), log.csv, curve.png, metrics.json. Use the model with
    `neuroaudio localize FILE --method gcc-phat-sm --model OUT_DIR/model.pt`.

    Example: neuroaudio train gcc-phat-sm --config pipelines/gcc_phat_sm.yaml

    Example (the unmasked ablation, method gcc-phat-mlp): neuroaudio train gcc-phat-sm
    -c pipelines/gcc_phat_sm.yaml --set model.use_mask=false --set out_dir=runs/gcc_phat_sm/mlp

    Example (mask trained only from the IRM): neuroaudio train gcc-phat-sm -c
    pipelines/gcc_phat_sm.yaml --set train.mask_training=irm --set out_dir=runs/gcc_phat_sm/irm
    """
    from ..gcc_phat_sm import config as gcc_phat_sm_config
    from ..gcc_phat_sm.train import train

    _train_localizer(gcc_phat_sm_config, train, config, overrides, resume, quiet, lambda m: (
        f"validation MAE {m['val_clip_mae']:.2f} deg per clip, {m['val_mae']:.2f} deg per frame, "
        f"ACC@5 {100 * m['val_acc5']:.1f}%, ACC@10 {100 * m['val_acc10']:.1f}% per frame"))


def train_kws(
    config: Path = opt.config("Pipeline YAML, e.g. pipelines/kws_drf.yaml."),
    overrides: list[str] = opt.sets("Override a config value: KEY=VALUE (YAML), e.g. --set "
                                    "train.epochs=5 --set data.test_speakers=[theo]."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help=RESUME_HELP),
    quiet: bool = opt.quiet(),
) -> None:
    """Train a spiking keyword model (D-RF, or RF/BRF/ALIF baselines) from a pipeline config.

    Writes OUT_DIR/model.pt (best validation epoch, with test metrics), last.pt (resume),
    log.csv, curve.png, metrics.json, confusion.png. Use it with
    `neuroaudio kws detect FILE --model OUT_DIR/model.pt`.

    Example: neuroaudio train kws --config pipelines/kws_drf.yaml --set data.test_speakers=[theo]
    """
    from ..kws.config import load_config
    from ..kws.train import train

    cfg = load_config(config, overrides)
    m = train(cfg, resume=resume, progress=not quiet)
    acc = m.get("test_accuracy")
    typer.echo(f"{cfg.name}: best validation accuracy {100 * m['val_accuracy']:.2f}%"
               + (f", test accuracy {100 * acc:.2f}%, test firing rate "
                  f"{100 * m['test_mean_firing_rate']:.2f}%" if acc is not None else "")
               + f"; model in {cfg.out_dir}/model.pt")


def train_mpdal(
    config: Path = opt.config("Pipeline YAML (task: clues | digits), e.g. pipelines/mpdal_clues.yaml."),
    out: Path = opt.out(Path("runs/mpdal"), "Output folder: log.csv, results.json, *.png."),
    seed: int | None = typer.Option(None, "--seed", help="Override the config's seed."),
    data: Path | None = typer.Option(None, "--data", help="digits: folder of FSDD wavs (overrides "
                                     "data.fsdd_dir)."),
    rule: str | None = typer.Option(None, "--rule", help="digits: override model.rule (mpdal, "
                                    "mpdal_multi, mst)."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Skip the PNG plots."),
) -> None:
    """Train MPD-AL neurons (and the MST baseline) from a pipeline config; print the summary as JSON.

    Example, the clue task (MPD-AL vs MST, same data and seeds, CPU time to reach the target accuracy):

      neuroaudio train mpdal --config pipelines/mpdal_clues.yaml --out runs/mpdal_clues

    Example, spoken digits (FSDD, train on 3 speakers, test on the 4th, rotating; dynamic vs max-count
    decoding; --data is the `recordings` folder of a clone of the Free Spoken Digit Dataset):

      neuroaudio train mpdal --config pipelines/mpdal_digits.yaml --data free-spoken-digit-dataset/recordings
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


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the trainers to the `train` group."""
    train_app = groups["train"]
    train_app.command("maa")(train_maa)
    train_app.command("ssl", hidden=True, help="Old name of `train maa` (kept for one release).")(train_maa)
    train_app.command("gcc-phat-sm")(train_gcc_phat_sm)
    train_app.command("kws")(train_kws)
    train_app.command("mpdal")(train_mpdal)
