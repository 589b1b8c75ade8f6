"""`neuroaudio arrays`: list built-in arrays, show one's geometry and delays, plot its layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ..arrays import builtin_array_names, load_array
from ..io_utils import save_figure
from . import options as opt

arrays_app = typer.Typer(
    help="Microphone arrays: built-ins and geometry files.\n\n"
         "Examples:\n\n  neuroaudio arrays\n\n  neuroaudio arrays show respeaker4 --plot layout.png",
    invoke_without_command=True)


@arrays_app.callback()
def arrays_list(ctx: typer.Context) -> None:
    """List the built-in arrays (name, mics, aperture, source)."""
    if ctx.invoked_subcommand is not None:
        return
    t = Table("name", "mics", "aperture (mm)", "max delay @16k (samples)", "source")
    for name in builtin_array_names():
        a = load_array(name)
        t.add_row(name, str(a.n_mics), f"{1000 * a.aperture_m:.1f}",
                  f"{a.max_delay_s().max() * 16000:.2f}", a.source.split(":")[0])
    Console().print(t)


@arrays_app.command("show")
def arrays_show(
    array: str = typer.Argument(..., help="Built-in name or path to a geometry JSON file."),
    fs: int = typer.Option(16000, "--fs", help="Rate (Hz) at which delays are given in samples."),
    plot: Path | None = typer.Option(None, "--plot", help="Draw the layout to this PNG."),
    json_out: bool = opt.json_flag("Print JSON instead of tables."),
) -> None:
    """Geometry, aperture, maximum delay per pair and spatial-aliasing frequency.

    Example: neuroaudio arrays show respeaker4 --plot respeaker4.png
    """
    a = load_array(array)
    if plot is not None:
        from ..ownership import check_output_file

        check_output_file(plot, "--plot")   # before printing: one line, exit 2
    pairs, dmax = a.pairs(), a.max_delay_s()
    if json_out:
        import json

        typer.echo(json.dumps({**a.to_dict(), "aperture_m": a.aperture_m,
                               "spatial_aliasing_hz": a.spatial_aliasing_hz(),
                               "pairs": pairs.tolist(), "max_delay_s": dmax.tolist(),
                               "max_delay_samples": (dmax * fs).tolist(), "fs": fs}, indent=1))
    else:
        c = Console()
        c.print(f"[bold]{a.name}[/bold]: {a.n_mics} mics, aperture {1000 * a.aperture_m:.1f} mm, "
                f"spatial aliasing above {a.spatial_aliasing_hz():.0f} Hz"
                + (" (linear: front/back ambiguous)" if a.is_linear else ""))
        if a.source:
            c.print(f"source: {a.source}")
        t = Table("mic", "x (mm)", "y (mm)", "z (mm)")
        for k, m in enumerate(a.mics_m):
            t.add_row(str(k), *(f"{1000 * v:.1f}" for v in m))
        c.print(t)
        t = Table("pair (i, j)", "distance (mm)", "max delay (µs)", f"max delay (samples @ {fs} Hz)")
        for (i, j), d, tau in zip(pairs, a.pair_distances_m(), dmax, strict=True):
            t.add_row(f"({i}, {j})", f"{1000 * d:.1f}", f"{1e6 * tau:.1f}", f"{tau * fs:.2f}")
        c.print(t)
    if plot is not None:
        plot_array(a, plot)
        typer.echo(f"wrote {plot}", err=True)




def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the `arrays` group to the app."""
    app.add_typer(arrays_app, name="arrays")


def plot_array(a, path: Path) -> None:
    """Top view of the array: mics numbered, +x = 0° arrow, azimuth increasing counter-clockwise."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    m = a.mics_m * 1000
    ax.scatter(m[:, 0], m[:, 1], s=80, zorder=3)
    for k, (x, y, _) in enumerate(m):
        ax.annotate(str(k), (x, y), textcoords="offset points", xytext=(6, 6))
    r = max(np.abs(m[:, :2]).max(), 10) * 1.4
    ax.annotate("", xy=(r, 0), xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="gray"))
    ax.text(r, -0.08 * r, "0° (+x)", ha="right", color="gray")
    ax.text(0, r * 0.92, "90° (+y)", ha="center", color="gray")
    ax.set_xlim(-r * 1.1, r * 1.1)
    ax.set_ylim(-r * 1.1, r * 1.1)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_title(f"{a.name}: {a.n_mics} mics, aperture {a.aperture_m * 1000:.0f} mm")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
