"""Live audio commands: `neuroaudio devices`, `neuroaudio ros`, and the `localize --live` path.

`neuroaudio localize --live` is parsed by :mod:`neuroaudio.cli.localize_cmd`, which calls
:func:`run_live_localize` here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from ..errors import InputError
from ..ownership import refuse_existing
from . import options as opt

LIVE_FORMATS = ("jsonl", "table")


def devices(
    json_out: bool = opt.json_flag("One JSON object per device."),
) -> None:
    """List the sound-card inputs (index, name, input channels, default rate).

    Pass the index or name to `neuroaudio localize --live --device`.

    Example: neuroaudio devices
    """
    from ..audio.live import list_input_devices

    devs = list_input_devices()
    if not devs:   # nothing to pass to --device: bad input, exit 2 (also with --json)
        from ..errors import InputError

        raise InputError("no audio input device found: connect a sound card or microphone, or start "
                         "a sound server (PulseAudio/PipeWire), then run `neuroaudio devices` again")
    if json_out:
        for d in devs:
            typer.echo(json.dumps(d.to_json()))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table("index", "name", "host API", "input channels", "default rate (Hz)", "default")
    for d in devs:
        t.add_row(str(d.index), d.name, d.hostapi, str(d.max_input_channels),
                  f"{d.default_samplerate_hz:.0f}", "*" if d.is_default else "")
    Console().print(t)


def ros(
    ctx: typer.Context,
    version: str = typer.Option("auto", "--ros", help="auto | 1 (rospy) | 2 (rclpy)."),
) -> None:
    """Run the ROS node: live localization published on ~azimuth, ~doa, ~estimate, ~vad (and
    ~sources, ~sources_json with sources other than 1).

    Parameters (ROS 1 private params `_name:=value`, ROS 2 `--ros-args -p name:=value`):
    device, channels, array, method, model, tracking, frame_id, frame_s, hop_s, block_s,
    threads, reconnect, reconnect_max_s, record, allow_dependent_channels, sources,
    yaw_offset_deg, stream, kws_model, kws_threshold (~keyword). See docs/live.md.

    Examples:

      neuroaudio ros --ros 1 _device:=pulse _array:=respeaker4

      neuroaudio ros --ros 2 --ros-args -p device:=pulse -p array:=respeaker4
    """
    from ..ros.__main__ import run_node

    run_node(version, list(ctx.args))


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add `devices` and `ros` to the app."""
    app.command("devices")(devices)
    app.command("ros", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(ros)


def _live_view(est, summary: dict, method: str, array_name: str, width: int = 72):
    """Rich renderable: a direction needle on a 0..360° dial (``width`` characters), a level
    meter, counters."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    dial = [" "] * width
    for deg in range(0, 360, 45):
        dial[int(deg / 360 * width)] = "┊"
    line = Text("".join(dial), style="dim")
    raw = est.raw_azimuth_deg
    if raw is not None:
        line.stylize("yellow", int(raw / 360 * width), int(raw / 360 * width) + 1)
    needle = Text(" " * width)
    if est.azimuth_deg is not None:
        k = min(int(est.azimuth_deg / 360 * width), width - 1)
        needle = Text(" " * k + "▲" + " " * (width - k - 1), style="bold green")
    ticks = Text(" " * width, style="dim")
    for deg in range(0, 360, 45):
        k = int(deg / 360 * width)
        label = str(deg)
        if k + len(label) <= width:
            ticks = ticks[:k] + Text(label, style="dim") + ticks[k + len(label):]
    lvl = max(min(est.level_dbfs, 0.0), -80.0)
    n_bar = int((lvl + 80) / 80 * 40)
    n_meter = min(40, width)
    n_bar = int(n_bar * n_meter / 40)
    meter = (Text("█" * n_bar, style="green" if lvl < -6 else "red")
             + Text("░" * (n_meter - n_bar), style="dim"))
    t = Table.grid(padding=(0, 1))
    t.add_row("direction", Text(f"{est.azimuth_deg:6.1f}°" if est.azimuth_deg is not None else "  none",
                                style="bold"),
              f"confidence {est.confidence:.2f}")
    t.add_row("", line, "")
    t.add_row("", needle, "")
    t.add_row("", ticks, "")
    t.add_row("level", meter, f"{est.level_dbfs:6.1f} dBFS")
    lat = "n/a" if est.latency_s is None else f"{1000 * est.latency_s:.0f} ms"
    t.add_row("stream", f"t = {est.t_s:7.2f} s   latency {lat}   overflows {summary['overflows']}"
                        f"   dropped {summary['dropped_blocks']}", "")
    return Panel(t, title=f"neuroaudio live — {method}, {array_name}, {summary['device']}",
                 subtitle="Ctrl-C to stop")


def run_live_localize(array: str, method: str, channels: str | None, device: str | None,
                      duration: float | None, fmt: str | None, record: Path | None,
                      frame_s: float = 0.17, hop_s: float | None = None, tracking: bool = True,
                      block_s: float = 0.02, options: dict | None = None, threads: int = 1,
                      overwrite: bool = False, reconnect: bool = False,
                      allow_dependent_channels: bool = False, stream: str | None = None) -> None:
    """`neuroaudio localize --live`: estimates per frame until Ctrl-C, SIGTERM or ``duration`` (s).

    ``options``: method options (``--set KEY=VALUE``, ``--model``), as for files.

    ``fmt``: "jsonl" (one line per frame, flushed), "table" (the rich live view), or None: the
    live view when stdout is a terminal, else jsonl. A summary (overflows, dropped audio,
    latency, recording) goes to stderr at the end, also after SIGTERM (handled as Ctrl-C) and
    after a lost device or a refused channel check (exit 2).
    """
    import signal

    from ..audio.io import parse_channels
    from ..audio.live import DependentChannelsError
    from ..live import build_live_session

    if fmt is None:
        fmt = "table" if sys.stdout.isatty() else "jsonl"
    if fmt not in LIVE_FORMATS:
        raise InputError(f"--format {fmt} with --live: choose jsonl or table")
    if duration is not None and duration <= 0:
        raise InputError("--duration must be positive seconds (or leave it out: run until Ctrl-C)")
    refuse_existing(record, "--record", overwrite)   # before the model loads
    sink = None
    if stream is not None:
        from ..live.odas import OdasStream, stream_sources

        sink = OdasStream(stream)                     # the URL is checked here (exit 2)
    session = build_live_session(method, array, options=options, frame_s=frame_s, hop_s=hop_s,
                                 tracking=tracking, threads=threads, device=device,
                                 channels=parse_channels(channels), block_s=block_s, record=record,
                                 overwrite=overwrite, reconnect=reconnect,
                                 allow_dependent_channels=allow_dependent_channels)
    loc = session.localizer
    failure: InputError | None = None
    stopped_by: list[str] = []

    def on_signal(signum: int, _frame: object) -> None:
        if stopped_by:           # a second Ctrl-C / SIGTERM while closing: the close is bounded
            return
        stopped_by.append("Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)
        raise KeyboardInterrupt

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    live_ctx = None
    try:
        if fmt == "table":
            from rich.console import Console
            from rich.live import Live

            console = Console(stderr=not sys.stdout.isatty())
            dial_width = max(24, min(72, console.width - 36))
            live_ctx = Live(console=console, refresh_per_second=12, transient=False)
            live_ctx.start()
        estimates = session.run(duration)
        try:
            for est in estimates:
                if sink is not None:
                    sink.send(stream_sources(est))
                if live_ctx is not None:
                    live_ctx.update(_live_view(est, session.summary(), method, loc.array.name,
                                               dial_width))
                else:
                    print(json.dumps(est.to_json()), flush=True)
        except InputError as e:    # device lost, channels refused: summary first, then exit 2
            failure = e
        except KeyboardInterrupt:
            if not stopped_by:
                stopped_by.append("Ctrl-C")
        finally:
            estimates.close()      # stops the stream and closes the recording now
            if sink is not None:
                sink.close()
    finally:
        if live_ctx is not None:
            live_ctx.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if isinstance(failure, DependentChannelsError):
        raise failure            # refused at start: the one line says it all
    print(summary_line(session.summary(), stopped_by), file=sys.stderr, flush=True)
    if failure is not None:
        raise failure


def summary_line(s: dict, stopped_by: list[str]) -> str:
    """The end-of-run line of a live session (``LiveSession.summary()``; ``stopped_by``: the
    signal's name, if one ended it)."""
    return (f"neuroaudio: live: {s['captured_s']:.1f} s from '{s['device']}' at {s['capture_fs_hz']} Hz"
           + (f" (resampled to {s['fs_hz']} Hz)" if s["capture_fs_hz"] != s["fs_hz"] else "")
           + f"; overflows {s['overflows']}, dropped blocks {s['dropped_blocks']}"
           + (f" ({s['dropped_s']:.2f} s)" if s["dropped_blocks"] else "")
           + (f", reconnects {s['reconnects']} ({s['outage_s']:.1f} s without audio)"
              if s["reconnects"] else "")
           + (f"; median latency {1000 * s['median_latency_s']:.0f} ms" if s["median_latency_s"] else "")
           + (f"; recording: {s['record']}" if s["record"] else "")
           + (f"; stopped by {stopped_by[0]}" if stopped_by else ""))
