"""The `neuroaudio` command line. Commands only parse, call the library and print.

Each command lives in its own module here with a ``register(app, groups)`` function; this module
builds the app, registers them, and turns errors into exit statuses:
0 success; 2 bad usage or bad input (one line on stderr naming the problem and the fix);
1 internal error.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from .. import __version__
from ..errors import InputError

COMMAND_MODULES = [
    "arrays_cmd",
    "simulate_cmd",
    "localize_cmd",
    "evaluate_cmd",
    "encode_cmd",
    "live_cmd",
    "kws_cmd",
    "mpdal_cmd",
    "train_ssl_cmd",
    "train_gccsm_cmd",
    "profile_cmd",
    "pipeline_cmd",
]
"""Modules of neuroaudio.cli that register commands (order = order in --help)."""

app = typer.Typer(
    name="neuroaudio",
    help="Spiking (neuromorphic) hearing: where a sound comes from, and what was said.\n\n"
         "Example: neuroaudio localize data/examples/respeaker4_az120.wav --array respeaker4",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train a model from a pipeline config (see pipelines/).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")
GROUPS = {"train": train_app}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"neuroaudio {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more detail to stderr."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="neuroaudio: %(levelname)s: %(message)s", stream=sys.stderr)


for _name in COMMAND_MODULES:
    importlib.import_module(f"neuroaudio.cli.{_name}").register(app, GROUPS)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, mapping InputError to exit 2 with a one-line message."""
    try:
        rc = app(args=argv, standalone_mode=False)   # a command's typer.Exit(code) returns here
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except InputError as e:
        print(f"neuroaudio: error: {e}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        print("neuroaudio: aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("neuroaudio: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # click usage errors carry their own exit code
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        print(f"neuroaudio: internal error: {type(e).__name__}: {e} "
              "(please report it with the command you ran)", file=sys.stderr)
        if logging.getLogger().isEnabledFor(logging.INFO):
            raise
        sys.exit(1)
    sys.exit(0)
