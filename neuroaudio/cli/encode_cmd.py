"""`neuroaudio encode FILE --array A --out X.npz`: RF-PLC spike encoding of a recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from ..errors import InputError
from . import options as opt


def encode(
    file: Path = typer.Argument(..., help="Multichannel audio file (channel k = mic k)."),
    array: str = opt.array(),
    out: Path = opt.out(help="Output .npz (layout: docs/encoder.md)."),
    channels: str | None = typer.Option(None, "--channels",
                                        help="1-based channels of the file to use as mics, in "
                                             "array order, e.g. 2,3,4,5."),
    plot: Path | None = typer.Option(None, "--plot", help="PNG: spike rasters of a few bands per "
                                     "mic and each pair's coincidence map (delay × band)."),
    neurons: int = typer.Option(512, "--neurons", help="RF neurons per mic over 0–fs/2."),
    bands: int = typer.Option(40, "--bands", help="Cochlear (ERB) bands."),
    delays: int = typer.Option(51, "--delays", help="Coincidence detectors per pair and band "
                               "(subsample timing)."),
    frame_s: float = typer.Option(0.17, "--frame-s", help="Frame length (s)."),
    steps: int = typer.Option(4, "--steps", help="Time steps T per frame."),
    hop_s: float | None = typer.Option(None, "--hop-s", help="Hop (s), whole steps; default half "
                                       "a frame."),
    timing: str = typer.Option("subsample", "--timing", help="subsample (spike times from the resonator "
                               "phase) | sample (spike times on the sample clock, integer lags)."),
    spikes: bool = typer.Option(True, "--spikes/--no-spikes", help="Also store the per-mic "
                                "phase-locked spikes (spike_offset_samples, n_spikes)."),
) -> None:
    """Turn a recording into RF-PLC spikes: phase-locked spikes per mic and band, and the
    coincidence (ITD) maps per mic pair the MAA network reads.

    Output npz: coincidence [frames, steps, pairs, delays, bands], delays_samples,
    pairs, band_hz, fs, frame_s, hop_s (+ spike arrays; see docs/encoder.md).

    Examples:

      neuroaudio encode rec.wav --array respeaker4 --out rec_spikes.npz --plot rec_raster.png

      neuroaudio encode rec6ch.wav --channels 2,3,4,5 --out x.npz --timing sample
    """
    from ..arrays import load_array
    from ..audio.io import FileBlockStream, parse_channels
    from ..encoding.config import RFPLCConfig
    from ..encoding.encoder import RFPLCEncoder
    from ..ownership import check_output_file, own_output, remove_stale_temps
    from ..workers import sigterm_as_interrupt

    if out.suffix.lower() != ".npz":
        raise InputError(f"--out {out}: give a path ending in .npz")
    a = load_array(array)
    cfg = RFPLCConfig(n_neurons=neurons, n_bands=bands, n_delays=delays, frame_s=frame_s,
                      steps=steps, hop_s=hop_s, timing=timing)
    enc = RFPLCEncoder(a, cfg)
    stream = FileBlockStream(file, fs=enc.fs, channels=parse_channels(channels), n_mics=a.n_mics,
                             block_s=1.0, min_duration_s=enc.frame_len / enc.fs)
    check_output_file(out, "--out")           # outputs checked before the work
    if plot is not None:
        check_output_file(plot, "--plot")
    with own_output(out, "--out", is_dir=False), sigterm_as_interrupt():
        remove_stale_temps(out.parent, out.name)   # a killed earlier run's temporary files
        _encode(enc, cfg, a, stream, out, plot, spikes, timing)

def _encode(enc, cfg, a, stream, out: Path, plot: Path | None, spikes: bool, timing: str) -> None:
    """Stream the file through the encoder into ``out`` (npz), then draw ``plot``."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..encoding.encoder import StepOutput
    from ..encoding.npz_writer import StreamingNpz

    enc.reset()
    writer = StreamingNpz(out)          # bounded memory: frames go to disk as they come
    n_shape = (len(enc.pairs), len(enc.delays_samples), cfg.n_bands)
    writer.declare("coincidence", np.int16, (cfg.steps, *n_shape))
    total = np.zeros(n_shape, np.int64)
    n_frames, n_spk, shown = 0, 0, []   # shown: the first busy steps, for the raster
    try:
        with Progress(TextColumn("encoding"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeRemainingColumn(), transient=True) as bar:
            task = bar.add_task("encode", total=stream.info.frames)
            for block in stream:
                f, s = enc.push(block)
                writer.append("coincidence", f)
                total += f.sum(axis=(0, 1))
                n_frames += len(f)
                n_spk += int(s.n_spikes.sum())
                if spikes:
                    writer.append("spike_offset_samples", s.spike_offset)
                    writer.append("n_spikes", s.n_spikes)
                    writer.append("band_active", s.band_active)
                if plot is not None and len(s.coincidence) and sum(len(x.coincidence) for x in shown) < 8:
                    busy = np.flatnonzero(s.n_spikes.sum(axis=(1, 2)) > 0)
                    k0 = 0 if shown else (int(busy[0]) if len(busy) else len(s.coincidence))
                    k1 = min(len(s.coincidence), k0 + 8 - sum(len(x.coincidence) for x in shown))
                    if k1 > k0:   # consecutive steps from the first one that spikes
                        shown.append(StepOutput(*(getattr(s, n)[k0:k1] for n in StepOutput.FIELDS)))
                bar.update(task, completed=stream.samples_read)
        result = enc.output([], [])
        meta = result.to_npz_dict(spikes=False)
        meta["frame_t_s"] = np.arange(n_frames) * result.hop_s
        for key, value in meta.items():
            if key != "coincidence":
                writer.put(key, value)
        if spikes:
            for key, dt, trail in (("spike_offset_samples", np.float32, (a.n_mics, cfg.n_neurons)),
                                   ("n_spikes", np.int32, (a.n_mics, cfg.n_neurons)),
                                   ("band_active", bool, (a.n_mics, cfg.n_bands))):
                writer.declare(key, dt, trail)
    except BaseException:
        writer.abort()       # a failed run leaves no partial file
        raise
    writer.close()
    dur = stream.info.duration_s
    typer.echo(f"wrote {out}: coincidence [{n_frames}, {cfg.steps}, {', '.join(map(str, n_shape))}] "
               f"(frames, steps, pairs, delays, bands), {len(result.delays_samples)} delays "
               f"{result.delays_samples[0]:+.2f}…{result.delays_samples[-1]:+.2f} samples, "
               f"{n_spk / max(dur, 1e-9) / cfg.n_bands / a.n_mics:.0f} spikes/s per band per mic")
    if plot is not None:
        from ..encoding.plot import plot_encoding

        result.coincidence = total[None, None]
        result.steps = shown
        try:
            plot_encoding(result, plot, timing=timing)
        except OSError as e:    # the encoding is written already: keep it, say so
            raise InputError(f"--plot {plot}: cannot write it ({e.strerror or e}); the "
                             f"encoding is in {out}") from None
        typer.echo(f"wrote {plot}", err=True)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add `encode` to the app."""
    app.command("encode")(encode)
