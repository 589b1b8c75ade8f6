"""`neuroaudio localize FILE...` (direction of arrival per file) and `neuroaudio methods`."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import typer

from ..errors import InputError
from ..localize.registry import DEFAULT_METHOD
from . import options as opt
from .options import parse_options

__all__ = ["localize", "methods", "parse_options", "register"]

FORMATS = ("table", "json", "jsonl", "csv")


def _plot_path(plot: Path, file: Path, several: bool) -> Path:
    """``--plot out.png``; with several files ``out-<file stem>.png``."""
    return plot.with_name(f"{plot.stem}-{file.stem}{plot.suffix or '.png'}") if several else plot


def localize(
    files: list[Path] = typer.Argument(None, help="Multichannel audio files (channel k = mic k)."),
    array: str = opt.array(),
    method: str = opt.method(DEFAULT_METHOD),
    channels: str | None = typer.Option(None, "--channels",
                                        help="1-based channels of the file to use as mics, "
                                             "in array order, e.g. 2,3,4,5."),
    fmt: str = opt.fmt("table", "table | json (one object per file) | jsonl (one line per frame, "
                            "flushed at once) | csv (one row per file)."),
    json_out: bool = opt.json_flag("Same as --format json."),
    plot: Path | None = typer.Option(None, "--plot",
                                     help="PNG: spatial spectrum over time + final direction "
                                          "(several files: PLOT-<stem>.png)."),
    sets: list[str] = opt.sets("Method option KEY=VALUE (repeatable), e.g. --set fmin_hz=300 "
                               "--set fmax_hz=4000; list them with `neuroaudio methods --options`."),
    option: list[str] = opt.legacy("--option", "-o"),
    model: Path | None = typer.Option(None, "--model", help="Model checkpoint for a learned "
                                      "method (e.g. --method maa --model my_maa.pt); the same "
                                      "as --set model=PATH."),
    sources: str = opt.sources(),
    frame_s: float | None = typer.Option(None, "--frame-s", help="Analysis frame (s); default "
                                         "0.17, or 0.064 with --sources other than 1."),
    hop_s: float | None = typer.Option(None, "--hop-s", help="Hop between frames (s); "
                                       "default half a frame."),
    # --- live input (implemented in live_cmd.py) ---
    live: bool = typer.Option(False, "--live", help="Localize from a sound card instead of "
                              "files (see docs/live.md; `neuroaudio devices` lists inputs)."),
    device: str | None = opt.live_flag("device", "--live: "),
    duration: float | None = opt.live_flag("duration", "--live: "),
    record: Path | None = typer.Option(None, "--record", help="--live: also write the captured "
                                       "audio to this WAV (kept if the device is lost)."),
    track: bool = opt.live_flag("track", "--live: "),
    threads: int = opt.live_flag("threads", "--live: "),
    overwrite: bool = typer.Option(False, "--overwrite", help="--live: let --record replace an "
                                   "existing file."),
    reconnect: bool = opt.live_flag("reconnect", "--live: "),
    stream: str | None = typer.Option(None, "--stream", help="--live: also send the tracked "
                                      "sources as ODAS does (its SST JSON) to tcp://HOST:PORT or "
                                      "udp://HOST:PORT, e.g. tcp://127.0.0.1:9000 for odas_web."),
    allow_dependent_channels: bool = opt.live_flag("allow_dependent_channels", "--live: "),
) -> None:
    """Where does the sound come from? One direction per file, plus per-frame estimates.

    Frames without a source (silence, pauses) get no direction; the file's direction pools
    the spatial spectra of the frames that carry the source. Azimuth: degrees in [0, 360),
    0 along the array's +x axis, counter-clockwise seen from above.

    Examples:

      neuroaudio localize rec.wav --array respeaker4

      neuroaudio localize rec6ch.wav --channels 2,3,4,5 --method srp-phat --format json

      neuroaudio localize a.wav b.wav --format csv > directions.csv

      neuroaudio localize rec.wav --plot rec_doa.png

      neuroaudio localize rec.wav --method gcc-phat --set fmin_hz=300 --set fusion=tdoa

      neuroaudio localize talkers.wav --sources 3 --format json

      neuroaudio localize --live --device 2 --channels 2,3,4,5 --duration 10 --format jsonl

      neuroaudio localize --live --sources 3 --stream tcp://127.0.0.1:9000
    """
    flag = "--set" if sets else "--option"    # the spelling the user wrote (-o/--option: the old one)
    option = [*(option or []), *(sets or [])]
    fmt = opt.format_json(fmt, json_out)
    method_opts = parse_options(option, flag)
    if model is not None:
        method_opts["model"] = str(model)
    from ..localize.base import default_frame_s

    n_src = method_opts.get("sources", sources)
    if default_frame_s(n_src) != default_frame_s(1):     # parses (InputError: one line, exit 2)
        method_opts["sources"] = n_src
    if frame_s is None:
        frame_s = default_frame_s(n_src)
    if live:   # sound-card input: live_cmd.py
        from .live_cmd import run_live_localize

        if files:
            raise InputError("give audio files or --live, not both")
        run_live_localize(array, method, channels, device, duration,
                          None if fmt == "table" else fmt, record, frame_s, hop_s, track,
                          options=method_opts, threads=threads, overwrite=overwrite,
                          reconnect=reconnect, allow_dependent_channels=allow_dependent_channels,
                          stream=stream)
        return
    if stream is not None:
        raise InputError("--stream sends live estimates: use it with --live")
    if not files:
        raise InputError("give one or more audio files, or --live to use a sound card")
    from ..audio.io import parse_channels
    from ..localize.output import (
        CSV_COLUMNS,
        csv_row,
        frame_json_line,
        plot_result,
        result_json_line,
    )
    from ..localize.registry import make_localizer

    if fmt not in FORMATS:
        raise InputError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    chans = parse_channels(channels)
    if plot is not None:   # outputs checked before the work, so no result is computed in vain
        from ..ownership import check_output_file

        for f in files:
            check_output_file(_plot_path(plot, f, len(files) > 1), "--plot")
    opts = {"frame_s": frame_s, "hop_s": hop_s if hop_s is not None else frame_s / 2,
            **method_opts}
    try:
        loc = make_localizer(method, array, **opts)
    except (TypeError, ValueError) as e:
        if not option:
            raise
        raise InputError(f"{flag} {' '.join(option)}: {e}; see `neuroaudio methods "
                         "--options` for names and defaults") from None
    loc.keep_frame_spectra = plot is not None
    several = len(files) > 1
    writer = None
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
    rows = []
    failed = 0
    for f in files:
        on_frames = None
        if fmt == "jsonl":
            def on_frames(frames, _p=str(f) if several else None):
                for fr in frames:
                    print(frame_json_line(fr, _p), flush=True)
        try:
            res = loc.localize_file(f, channels=chans, on_frames=on_frames)
        except InputError as e:
            failed += 1
            print(f"neuroaudio: error: {e}", file=sys.stderr, flush=True)
            if writer is not None:
                writer.writerow(csv_row(None, str(f), method, f"error: {e}"))
            continue
        if fmt == "json":
            print(result_json_line(res, str(f), method), flush=True)
        elif writer is not None:
            writer.writerow(csv_row(res, str(f), method))
            sys.stdout.flush()
        elif fmt == "table":
            rows.append((str(f), res))
        if plot is not None:   # after the result is printed (table: kept), so a failure loses nothing
            out = _plot_path(plot, f, several)
            try:
                plot_result(res, out, title=f"{f.name} — {method}, {loc.array.name}")
            except OSError as e:
                failed += 1
                print(f"neuroaudio: error: --plot {out}: cannot write it ({e.strerror or e}); "
                      "the result is printed", file=sys.stderr, flush=True)
                continue
            print(f"wrote {out}", file=sys.stderr)
    if fmt == "table" and rows:
        from rich.console import Console
        from rich.table import Table

        multi = loc.multi
        t = Table("file", "azimuth (deg)", "confidence", "active frames",
                  *(["sources (deg, share of votes)"] if multi else []),
                  title=f"{method}, {loc.array.name}")
        for p, r in rows:
            n_act = sum(fr.active for fr in r.frames)
            extra = ([", ".join(f"{s.azimuth_deg:.0f} ({s.confidence:.2f})" for s in r.sources or [])
                      or "none"] if multi else [])
            t.add_row(p, "none (no source)" if r.azimuth_deg is None else f"{r.azimuth_deg:.1f}",
                      f"{r.confidence:.2f}", f"{n_act}/{len(r.frames)}", *extra)
        Console().print(t)
    if failed:
        raise typer.Exit(2)

def methods(
    options: bool = typer.Option(False, "--options",
                                 help="Also list each method's options and defaults "
                                      "(for `neuroaudio localize --set KEY=VALUE`)."),
) -> None:
    """List the localization methods, one line each (the default is marked *).

    Examples:

      neuroaudio methods

      neuroaudio methods --options
    """
    from ..localize.registry import method_options, method_summaries

    summaries = method_summaries()
    width = max(map(len, summaries))
    for name, summary in summaries.items():
        mark = "*" if name == DEFAULT_METHOD else " "
        typer.echo(f"{mark} {name:<{width}}  {summary}")
        if options:
            opts = ", ".join(f"{k}={v!r}" for k, v in method_options(name).items())
            typer.echo(f"  {'':<{width}}  options: {opts}")


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add `localize` and `methods` to the app."""
    app.command("localize")(localize)
    app.command("methods")(methods)
