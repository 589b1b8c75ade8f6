"""`neuroaudio serve`: the live session in a browser (docs/serve.md).

Parse, build the live session (:func:`neuroaudio.live.build_live_session`, a sound card or a
recorded file played in real time), hand it to :class:`neuroaudio.serve.LiveServer`, print the
URL and, at the end, the live summary line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import InputError
from ..localize.registry import DEFAULT_METHOD
from . import options as opt
from .options import parse_options


def serve(
    file: Path | None = typer.Option(None, "--file", help="Play this recording in real time instead "
                                     "of a sound card (channel k = mic k); loops unless --once."),
    once: bool = typer.Option(False, "--once", help="--file: play it once, then stop."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; another than "
                             "loopback needs --allow-remote and a token."),
    port: int = typer.Option(8765, "--port", help="TCP port (0: any free one; the URL is printed)."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Let --host be an address "
                                      "other machines reach; every request must then carry the token."),
    token: str | None = typer.Option(None, "--token", envvar="NEUROAUDIO_SERVE_TOKEN",
                                     help="Token the page and the socket must carry (?token=...); "
                                          "with --allow-remote and none given, one is made and printed."),
    array: str = opt.array(),
    method: str = opt.method(DEFAULT_METHOD),
    sets: list[str] = opt.sets("Method option KEY=VALUE (repeatable), for the starting method; "
                               "see `neuroaudio methods --options`."),
    model: Path | None = typer.Option(None, "--model", help="Model checkpoint for a learned method "
                                      "(the same as --set model=PATH)."),
    kws_model: Path | None = typer.Option(None, "--kws-model", help="A keyword-spotting checkpoint "
                                          "(`neuroaudio train kws`): show keywords as they are heard."),
    frame_s: float = typer.Option(0.17, "--frame-s", help="Analysis frame (s)."),
    hop_s: float | None = typer.Option(None, "--hop-s", help="Hop between frames (s); default half "
                                       "a frame (12 frames/s)."),
    device: str | None = opt.live_flag("device"),
    channels: str | None = typer.Option(None, "--channels", help="1-based channels of the device "
                                        "or --file to use as mics, in array order, e.g. 2,3,4,5."),
    duration: float | None = opt.live_flag("duration"),
    track: bool = opt.live_flag("track"),
    threads: int = opt.live_flag("threads"),
    reconnect: bool = opt.live_flag("reconnect"),
    allow_dependent_channels: bool = opt.live_flag("allow_dependent_channels"),
    quiet: bool = opt.quiet("No summary line at the end (the URL is still printed)."),
) -> None:
    """Show the live localization in a browser: direction needles, spectrum, levels, spikes.

    Serves one page on http://127.0.0.1:8765/ (plain HTML and JavaScript, nothing from the
    network); its WebSocket carries the `localize --live --format jsonl` objects plus what the
    page draws (docs/serve.md). Ctrl-C or SIGTERM stops it.

    Examples:

      neuroaudio serve --file data/examples/respeaker4_az120.wav -m rf-plc

      neuroaudio serve --device 2 --channels 2,3,4,5 --array respeaker4 --port 8080

      neuroaudio serve --host 0.0.0.0 --allow-remote --token "$(openssl rand -hex 16)"
    """
    import asyncio
    import signal
    from functools import partial

    try:
        import websockets  # noqa: F401
    except ImportError:
        raise InputError("neuroaudio serve needs the websockets package: pip install "
                         "'neuroaudio[serve]' (or pip install 'websockets>=17,<18')") from None
    from ..audio.io import parse_channels
    from ..audio.live import DependentChannelsError, LiveCapture
    from ..live import build_live_session
    from ..localize.registry import check_method_name, make_localizer, method_names
    from ..serve import LiveServer, check_bind
    from .live_cmd import summary_line

    if not 0 <= port <= 65535:
        raise InputError(f"--port {port}: give 0..65535 (0: any free port)")
    if duration is not None and duration <= 0:
        raise InputError("--duration must be positive seconds (or leave it out: run until Ctrl-C)")
    if once and file is None:
        raise InputError("--once goes with --file (a sound card has no end)")
    if file is not None and device is not None:
        raise InputError("give --file or --device, not both")
    token = check_bind(host, allow_remote, token)
    check_method_name(method)
    method_opts = parse_options(sets)
    if model is not None:
        method_opts["model"] = str(model)
    chans = parse_channels(channels)
    hop = hop_s if hop_s is not None else frame_s / 2
    kws, kws_labels = None, None
    if kws_model is not None:
        from ..kws.infer import keyword_spotter

        kws, kws_labels = keyword_spotter(kws_model)

    capture_kw: dict = {"reconnect": reconnect, "allow_dependent_channels": allow_dependent_channels}
    if file is not None:
        from ..audio.file_card import FileCard

        def file_capture(n_mics: int, fs_hz: int, **kw: object) -> LiveCapture:
            card = FileCard(file, fs_hz, n_mics, channels=chans, loop=not once)
            return LiveCapture(n_mics=n_mics, fs_hz=fs_hz, sd=card, **kw)

        capture_kw["capture_factory"] = file_capture
    else:
        capture_kw.update(device=device, channels=chans)
    session = build_live_session(method, array, options=method_opts, frame_s=frame_s, hop_s=hop,
                                 tracking=track, threads=threads, record_activity=True, **capture_kw)
    if once:
        length = session.capture.sd.duration_s
        duration = length if duration is None else min(duration, length)
    if kws is not None:
        kws = kws(session.localizer.fs)

    def build(name: str):
        opts = method_opts if name == method else {}
        return make_localizer(name, array, frame_s=frame_s, hop_s=hop, **opts)

    source = f"file {file.name}" if file is not None else f"device '{session.capture.device.name}'"
    server = LiveServer(session, method, make_localizer=build, methods=method_names(), host=host,
                        port=port, token=token, duration_s=duration, kws=kws, kws_labels=kws_labels,
                        source=source,
                        announce=lambda url: print(f"neuroaudio: serving the live view of {source} on "
                                                   f"{url} (Ctrl-C stops)", file=sys.stderr, flush=True))
    stopped_by: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def on_signal(name: str) -> None:
            if not stopped_by:
                stopped_by.append(name)
            server.stop()

        for sig, name in ((signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")):
            loop.add_signal_handler(sig, partial(on_signal, name))
        await server.run()

    failure: BaseException | None = None
    try:
        asyncio.run(main())
    except DependentChannelsError:
        raise
    except InputError as e:
        if server.stats.frames == 0 and server.failure is None:   # refused before serving (port)
            raise
        failure = e
    if not quiet:
        print(summary_line(session.summary(), stopped_by), file=sys.stderr, flush=True)
    if failure is not None:
        raise failure


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add `serve` to the app."""
    app.command("serve")(serve)
