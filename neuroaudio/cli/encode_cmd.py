"""`neuroaudio encode FILE --array A --out X.npz`: RF-PLC spike encoding of a recording."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @app.command("encode")
    def encode(
        file: Path = typer.Argument(..., help="Multichannel audio file (channel k = mic k)."),
        array: str = typer.Option("respeaker4", "--array", "-a",
                                  help="Built-in array name or geometry JSON path."),
        out: Path = typer.Option(..., "--out", "-o", help="Output .npz (layout: docs/encoder.md)."),
        channels: str | None = typer.Option(None, "--channels",
                                            help="1-based channels of the file to use as mics, in "
                                                 "array order, e.g. 2,3,4,5."),
        plot: Path | None = typer.Option(None, "--plot", help="PNG: spike rasters of a few bands per "
                                         "mic and each pair's coincidence map (delay × band)."),
        neurons: int = typer.Option(512, help="RF neurons per mic over 0–fs/2."),
        bands: int = typer.Option(40, help="Cochlear (ERB) bands."),
        delays: int = typer.Option(51, help="Coincidence detectors per pair and band (subsample timing)."),
        frame_s: float = typer.Option(0.17, "--frame-s", help="Frame length (s)."),
        steps: int = typer.Option(4, help="Time steps T per frame."),
        hop_s: float | None = typer.Option(None, "--hop-s", help="Hop (s), whole steps; default half "
                                           "a frame."),
        timing: str = typer.Option("subsample", help="subsample (spike times from the resonator "
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
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from ..arrays import load_array
        from ..audio.io import FileBlockStream, parse_channels
        from ..encoding.config import RFPLCConfig
        from ..encoding.encoder import RFPLCEncoder

        if out.suffix.lower() != ".npz":
            raise InputError(f"--out {out}: give a path ending in .npz")
        a = load_array(array)
        cfg = RFPLCConfig(n_neurons=neurons, n_bands=bands, n_delays=delays, frame_s=frame_s,
                          steps=steps, hop_s=hop_s, timing=timing)
        enc = RFPLCEncoder(a, cfg)
        stream = FileBlockStream(file, fs=enc.fs, channels=parse_channels(channels), n_mics=a.n_mics,
                                 block_s=1.0, min_duration_s=enc.frame_len / enc.fs)
        enc.reset()
        frames, kept = [], []
        with Progress(TextColumn("encoding"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeRemainingColumn(), transient=True) as bar:
            task = bar.add_task("encode", total=stream.info.frames)
            for block in stream:
                f, s = enc.push(block)
                frames.append(f)
                if (spikes or plot is not None) and len(s.coincidence):
                    kept.append(s)
                bar.update(task, completed=stream.samples_read)
        result = enc.output(frames, kept)
        result.save(out, spikes=spikes)
        n_spk = int(sum(s.n_spikes.sum() for s in kept))
        dur = stream.info.duration_s
        typer.echo(f"wrote {out}: coincidence {list(result.coincidence.shape)} "
                   f"(frames, steps, pairs, delays, bands), {len(result.delays_samples)} delays "
                   f"{result.delays_samples[0]:+.2f}…{result.delays_samples[-1]:+.2f} samples"
                   + (f", {n_spk / max(dur, 1e-9) / len(result.band_hz) / a.n_mics:.0f} "
                      "spikes/s per band per mic" if kept else ""))
        if plot is not None:
            from ..encoding.plot import plot_encoding

            plot_encoding(result, plot, timing=timing)
            typer.echo(f"wrote {plot}", err=True)

