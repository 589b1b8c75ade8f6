"""`neuroaudio kws detect|evaluate|adapt`: spiking keyword spotting (training: `neuroaudio train kws`).

Old spellings kept as hidden aliases: `neuroaudio kws FILE...` (= `kws detect FILE...`),
`kws-evaluate`, `kws-adapt`, and `-m` for `--model`, `--hop` for `--hop-s`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from ..errors import InputError
from . import options as opt

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "data" / "models" / "kws_fsdd_drf.pt"
MIN_ADAPT_CLIPS = 30
"""kws adapt warns below this many clips (docs/kws.md: 10 clips made one of two FSDD models worse)."""
DETECT_FORMATS = ("table", "lines", "json", "jsonl")


class KwsGroup(TyperGroup):
    """The `kws` group; a first word that is no subcommand but a file path or an option runs
    `kws detect` (the old `neuroaudio kws FILE...` and `neuroaudio kws --live`)."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:   # ctx: typer's (click) Context
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names \
                and (args[0].startswith("-") or opt.existing_path_like(args[0])):
            args = ["detect", *args]
        return super().parse_args(ctx, args)


kws_app = typer.Typer(
    cls=KwsGroup, invoke_without_command=True,
    help="Spiking keyword spotting: find spoken keywords in files or live, evaluate and adapt a model.\n\n"
         "Examples:\n\n  neuroaudio kws detect clip.wav\n\n"
         "  neuroaudio kws evaluate my_labelled_words/ --out runs/kws_eval\n\n"
         "Train a model: neuroaudio train kws --config pipelines/kws_drf.yaml")


def _model(model: Path, model_old: Path | None) -> Path:
    """``--model`` or its old short spelling ``-m``."""
    return opt.pick(model, model_old, "--model", "-m", DEFAULT_MODEL)


def detect(
    files: list[Path] = typer.Argument(None, help="Audio files (any rate; resampled to the model's)."),
    model: Path = typer.Option(DEFAULT_MODEL, "--model",
                               help="Checkpoint from `neuroaudio train kws` (default: the shipped "
                                    "FSDD spoken-digit model)."),
    threshold: float = typer.Option(None, "--threshold", help="Minimum softmax score of a detection (0..1; "
                                                              "default: the model's calibrated one, 0.5 "
                                                              "for an uncalibrated model)."),
    min_windows: int = typer.Option(None, "--min-windows", help="Windows (--hop-s apart) in a row that must "
                                                                "agree on a keyword (default: the model's "
                                                                "calibrated one; 1 = no persistence check)."),
    min_keyword_p: float = typer.Option(None, "--min-keyword-p",
                                        help="Minimum keyword probability of the model's rejection head "
                                             "(0..1; default: the calibrated one; 0 = head off)."),
    hop_s: float = typer.Option(0.1, "--hop-s", help="Sliding-window hop (s)."),
    all_windows: bool = typer.Option(False, "--all", help="Report every detection, also in short "
                                                          "files (default: the best one when a file "
                                                          "is at most two clips long)."),
    fmt: str = opt.fmt("table", "table (one row per file), lines (one plain line per file: "
                                "`PATH: label (score) start-end s, ...`), json (one object per file) "
                                "or jsonl (the same, one line each)."),
    json_out: bool = opt.json_flag("Same as --format json."),
    live: bool = typer.Option(False, "--live", help="Listen to a sound card instead of files; one JSON "
                                                    "line per detection."),
    device: str = typer.Option(None, "--device", help="--live: input device index or name part "
                                                      "(`neuroaudio devices` lists them)."),
    duration_s: float = typer.Option(None, "--duration", help="--live: stop after this many seconds."),
    min_level_dbfs: float = typer.Option(-50.0, "--min-level", help="--live: ignore windows quieter "
                                                                    "than this (dBFS)."),
    model_old: Path | None = opt.legacy("-m"),
    hop_old: float | None = opt.legacy("--hop"),
) -> None:
    """Keywords (spoken digits with the default model) found in files, with times and scores.

    A model trained with a filler class (data.filler_words, label _unknown_) never reports it:
    a window it wins is speech that is not a keyword, rejected whatever the threshold.
    The default rejection setting (score threshold and persistence) is the one stored with the
    model (docs/kws.md, "Open set"); --threshold / --min-windows override it.

    Examples:

      neuroaudio kws detect 7_theo_3.wav   (a clip of the Free Spoken Digit Dataset)

      neuroaudio kws detect long.wav --all --threshold 0.7 --format json

      neuroaudio kws detect --live --duration 30
    """
    from ..kws.checkpoint import load_model
    from ..kws.infer import detect_file

    model = _model(model, model_old)
    hop_s = opt.pick(hop_s, hop_old, "--hop-s", "--hop", 0.1)
    fmt = opt.format_json(fmt, json_out)
    if fmt not in DETECT_FORMATS:
        raise InputError(f"--format {fmt}: use {', '.join(DETECT_FORMATS)}")
    if threshold is not None and not 0 <= threshold <= 1:
        raise InputError(f"--threshold {threshold}: give a score between 0 and 1, e.g. 0.5")
    if min_keyword_p is not None and not 0 <= min_keyword_p <= 1:
        raise InputError(f"--min-keyword-p {min_keyword_p}: give a probability between 0 and 1, e.g. 0.3")
    if min_windows is not None and min_windows < 1:
        raise InputError(f"--min-windows {min_windows}: give a count of at least 1, e.g. 3")
    m = load_model(model)
    if min_keyword_p is not None:
        m.detector["min_keyword_p"] = min_keyword_p
    if live:
        _live(m, threshold, min_windows, hop_s, device, duration_s, min_level_dbfs)
        return
    if not files:
        raise InputError("give audio files to search, e.g. neuroaudio kws detect clip.wav, or --live")
    failed = 0
    rows = []
    for f in files:
        try:
            res = {**detect_file(m, f, threshold=threshold, min_windows=min_windows, hop_s=hop_s,
                                 single=False if all_windows else None), "status": "ok"}
        except InputError as e:
            failed += 1
            res = {"path": str(f), "detections": [], "status": f"error: {e}"}
            print(f"neuroaudio: error: {e}", file=sys.stderr)
        if fmt == "lines":
            typer.echo(f"{res['path']}: {_detections_text(res)}")
        elif fmt == "table":
            rows.append(res)
        else:
            typer.echo(json.dumps(res, indent=None if fmt == "jsonl" else 1), nl=True)
    if rows:
        _print_table(rows)
    if failed:
        raise typer.Exit(2)


def _detections_text(res: dict) -> str:
    """``"7 (0.98) 0.00-1.00 s, ..."``; ``-`` for none; empty for a file that failed."""
    return ", ".join(f"{d['label']} ({d['score']:.2f}) {d['t_start_s']:.2f}-{d['t_end_s']:.2f} s"
                     for d in res["detections"]) or ("-" if res["status"] == "ok" else "")


def _print_table(rows: list[dict]) -> None:
    """One table row per file: path, detections, status."""
    from rich.console import Console
    from rich.table import Table

    t = Table("file", "detections: label (score) start-end", "status")
    for res in rows:
        t.add_row(res["path"], _detections_text(res), res["status"])
    Console().print(t)


def evaluate(
    folder: Path = typer.Argument(..., help="Labelled clips: label/*.wav (non-keywords in _unknown_/ "
                                            "for a model with a filler class), or an FSDD-style "
                                            "folder of {digit}_{speaker}_{index}.wav."),
    model: Path = typer.Option(DEFAULT_MODEL, "--model", help="Checkpoint to evaluate."),
    out: Path = opt.out(Path("runs/kws_eval"), "Output folder: predictions.csv, metrics.json, "
                        "confusion.png."),
    model_old: Path | None = opt.legacy("-m"),
) -> None:
    """Accuracy, confusion matrix, firing rates and SOP energy of a model on a labelled folder.

    Evaluate on speakers the model has never heard: the shipped model was trained on all four
    speakers of the FSDD subset (jackson, nicolas, theo, yweweler), so its accuracy on their clips
    says little about a new voice, and the command warns when a folder holds clips of speakers in
    the checkpoint's training set (metrics.json: seen_speakers, speaker_independent). The
    README's figure is speaker-independent (train on three speakers, test on the fourth).

    Example: neuroaudio kws evaluate my_labelled_words/ --out runs/kws_eval
    """
    from ..kws.evaluate import evaluate_folder

    model = _model(model, model_old)
    m = evaluate_folder(model, folder, out)
    if m["seen_speakers"]:
        who = ", ".join(m["seen_speakers"])
        print(f"neuroaudio: warning: the model was trained on the voices of {who}, who speak in "
              "this folder: this accuracy is not speaker-independent (evaluate on speakers it has "
              "not heard)", file=sys.stderr)
    typer.echo(f"accuracy {100 * m['accuracy']:.2f}% on {m['n']} clips; mean firing rate "
               f"{100 * m['mean_firing_rate']:.2f}%; energy {m['energy_pj_per_clip'] / 1e6:.3f} µJ/clip "
               f"(dense equivalent {m['energy_dense_pj_per_clip'] / 1e6:.3f} µJ); wrote {out}/")


def adapt(
    folder: Path = typer.Argument(..., help="Unlabeled recordings of the new speaker: *.wav / *.flac "
                                            "(sub-folders included), one spoken word per file; any rate "
                                            "at or above the model's (resampled)."),
    model: Path = typer.Option(DEFAULT_MODEL, "--model", help="Checkpoint to adapt (default: the "
                               "shipped FSDD spoken-digit model)."),
    out: Path = opt.out(..., "Adapted checkpoint to write (a new file; use it with --model in "
                        "kws detect and kws evaluate)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
    model_old: Path | None = opt.legacy("-m"),
) -> None:
    """Adapt a keyword model to one speaker from unlabeled recordings (AdaBN).

    The network's BatchNorm statistics are re-estimated on the speaker's clips: no labels, no
    training, weights unchanged, seconds on a CPU. Record the speaker saying the keywords, one
    word per file, in any order and unlabelled, ideally 100 or more (FSDD: 10 clips made one of
    two models worse, 30 gave part of the gain, 100-250 the most). The new checkpoint records
    the adaptation in its metadata ("adaptation") and keeps the source model's metrics only
    there.

    Measured on FSDD (docs/kws.md, "Test-speaker adaptation"), adapting on 250 clips of the
    held-out speaker and testing on 250 others: single models 84.9% -> 88.85% (mean of 4 speakers
    and 2 seeds); 2-model ensembles 88.25% -> 89.7%, and one speaker (nicolas) got worse (his
    ensemble 81.0% -> 77.0%). This is NOT speaker-independent recognition: the model has heard
    the speaker. Check on labelled clips of the speaker with kws evaluate.

    Example: neuroaudio kws adapt my_words/ --out runs/kws_me.pt

    Example: neuroaudio kws evaluate my_labelled_words/ --model runs/kws_me.pt
    """
    from ..kws.adapt import adapt_checkpoint
    from ..ownership import check_output_file, refuse_existing

    model = _model(model, model_old)
    refuse_existing(out, "--out", overwrite)
    check_output_file(out, "--out")
    rec = adapt_checkpoint(model, folder, out)
    if rec["n_clips"] < MIN_ADAPT_CLIPS:
        print(f"neuroaudio: warning: only {rec['n_clips']} clips: on FSDD, adapting on fewer than "
              f"{MIN_ADAPT_CLIPS} was unreliable (10 clips lowered one of two models by 1.9 points); "
              "record more of the speaker's words", file=sys.stderr)
    notes = [f"{rec['n_resampled']} resampled"] if rec["n_resampled"] else []
    if rec["n_silent"]:
        notes.append(f"{rec['n_silent']} silent left out")
    shift = max(layer["mean_shift"] for layer in rec["layers"])
    typer.echo(f"adapted {model} to {rec['n_clips']} clips of {folder}"
               + (f" ({', '.join(notes)})" if notes else "")
               + f": {len(rec['layers'])} BatchNorm layers, largest mean shift {shift:.2f} std; "
                 f"wrote {out}")


def _live(m, threshold: float | None, min_windows: int | None, hop_s: float, device: str | None,
          duration_s: float | None, min_level_dbfs: float) -> None:
    """Sound card -> StreamingDetector -> one JSON line per detection (times from the start)."""
    from ..audio.live import LiveCapture
    from ..kws.infer import StreamingDetector

    dev: str | int | None = int(device) if device is not None and device.isdigit() else device
    cap = LiveCapture(device=dev, n_mics=1, fs_hz=m.fs)
    det = StreamingDetector(m, threshold=threshold, hop_s=hop_s, min_level_dbfs=min_level_dbfs,
                            min_windows=min_windows)
    print(f"neuroaudio: listening on '{cap.device.name}' at {m.fs} Hz for {', '.join(m.labels)}; "
          "Ctrl-C stops", file=sys.stderr)
    try:
        for block, _ in cap.blocks(duration_s):
            for d in det.process(block[:, 0]):
                typer.echo(json.dumps(d.to_dict()))
                sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        cap.stop()
    for d in det.flush():
        typer.echo(json.dumps(d.to_dict()))


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the `kws` group, and the old top-level names as hidden aliases."""
    from . import help_if_bare
    from .train_cmd import train_kws

    kws_app.callback()(help_if_bare)
    kws_app.command("detect")(detect)
    kws_app.command("evaluate")(evaluate)
    kws_app.command("adapt")(adapt)
    kws_app.command("train", hidden=True, help="Same as `neuroaudio train kws`.")(train_kws)
    app.add_typer(kws_app, name="kws")
    app.command("kws-evaluate", hidden=True)(evaluate)   # old names, same help
    app.command("kws-adapt", hidden=True)(adapt)
