"""The `neuroaudio` command line. Commands only parse, call the library and print.

Each command is a module-level function in a module here whose ``register(app, groups)`` adds it
to the app; the flags follow one grammar (:mod:`neuroaudio.cli.options`). This module builds the
app, registers the commands, and turns errors into exit statuses:
0 success (also a bare `neuroaudio` or `neuroaudio GROUP`, which print their help on stdout);
2 bad usage or bad input (one line on stderr naming the problem and the fix); 1 internal error.

Usage errors are recognised through typer's own API only: typer >= 0.29 has its own exception
types and no longer installs ``click``, so nothing here imports ``click`` (an older typer's click
exceptions are matched through ``sys.modules``, i.e. only when typer itself loaded click).
"""

from __future__ import annotations

import errno
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
    "serve_cmd",
    "kws_cmd",
    "train_cmd",
    "profile_cmd",
    "export_cmd",
    "pipeline_cmd",
]
"""Modules of neuroaudio.cli that register commands (order = order in --help)."""

app = typer.Typer(
    name="neuroaudio",
    help="Spiking (neuromorphic) hearing: where a sound comes from, and what was said.\n\n"
         "Example: neuroaudio localize data/examples/respeaker4_az120.wav --array respeaker4",
    invoke_without_command=True,   # bare `neuroaudio`: help on stdout, exit 0 (_root)
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train a model from a pipeline config (see pipelines/).\n\n"
                             "Example: neuroaudio train maa --config pipelines/maa.yaml",
                        invoke_without_command=True)
app.add_typer(train_app, name="train")
GROUPS = {"train": train_app}


def help_if_bare(ctx: typer.Context) -> None:
    """A group called without a command prints its help on stdout and exits 0.

    (typer's ``no_args_is_help`` exits 0 or 2 and prints on stdout or stderr depending on the
    typer/click version; this is the same everywhere.)"""
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


train_app.callback()(help_if_bare)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"neuroaudio {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more detail to stderr."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="neuroaudio: %(levelname)s: %(message)s", stream=sys.stderr)
    help_if_bare(ctx)


for _name in COMMAND_MODULES:
    importlib.import_module(f"neuroaudio.cli.{_name}").register(app, GROUPS)


def _escape_help(cmd) -> None:
    """Help texts are plain text: brackets such as ``[frames, steps, pairs]`` or ``[theo]`` are
    shown, not read as rich markup (which would drop them). Recurses into groups."""
    from rich.markup import escape

    for obj in (cmd, *getattr(cmd, "params", ())):
        for attr in ("help", "short_help", "epilog"):
            text = getattr(obj, attr, None)
            if isinstance(text, str):
                setattr(obj, attr, escape(text))
    for sub in getattr(cmd, "commands", {}).values():
        _escape_help(sub)


def get_command():
    """The app as a (typer-built) click command, its help texts escaped (:func:`_escape_help`)."""
    cmd = typer.main.get_command(app)
    _escape_help(cmd)
    return cmd


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """The exception types typer (or the click an older typer runs on) raises for bad usage.

    typer >= 0.29: ``typer.TyperException`` (its ``UsageError``, ``BadParameter``, ... derive
    from it). Older typer re-exports click's: ``click.ClickException``, taken from
    ``sys.modules`` so that click is never imported here."""
    types: list[type[BaseException]] = []
    if isinstance(getattr(typer, "TyperException", None), type):
        types.append(typer.TyperException)
    click = sys.modules.get("click")
    if click is not None and isinstance(getattr(click, "ClickException", None), type):
        types.append(click.ClickException)
    return tuple(types)


def _exit_types() -> tuple[type[BaseException], ...]:
    """``typer.Exit`` and, under an older typer, click's own ``Exit`` (raised by ``ctx.exit``)."""
    types: list[type[BaseException]] = [typer.Exit]
    click = sys.modules.get("click")
    exc = getattr(getattr(click, "exceptions", None), "Exit", None)
    if isinstance(exc, type):
        types.append(exc)
    return tuple(types)


def usage_error_line(e: BaseException) -> str:
    """One line for a usage error: typer's message, then where to read the usage."""
    fmt = getattr(e, "format_message", None)
    msg = " ".join(str(fmt() if callable(fmt) else e).split())
    ctx = getattr(e, "ctx", None)
    path = getattr(ctx, "command_path", None) or "neuroaudio"
    return f"neuroaudio: error: {msg.rstrip('.')}; see `{path} --help`"


_OS_FIXES: dict[type[OSError], str] = {
    FileExistsError: "a file is where a folder is needed; give another path or move that file",
    NotADirectoryError: "part of the path is a file, not a folder; give another path",
    IsADirectoryError: "a folder is where a file is needed; give a file path, or move that folder",
    PermissionError: "permission denied; choose a path you may use, or change its permissions",
}
_OS_ERRNO_FIXES = {
    errno.ENOSPC: "the disk is full; free some space or write elsewhere",
    errno.EROFS: "the file system is read-only; write elsewhere",
    errno.EDQUOT: "the disk quota is exceeded; free some space or write elsewhere",
}


def os_error_line(e: OSError) -> str | None:
    """One line for an OSError a user can fix (a path in the way, no permission, disk full), or
    None for any other (an internal error)."""
    fix = next((f for t, f in _OS_FIXES.items() if isinstance(e, t)), None) or _OS_ERRNO_FIXES.get(e.errno)
    if fix is None:
        return None
    where = e.filename2 or e.filename
    return f"{where}: {fix}" if where else f"{e.strerror or e}: {fix}"


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; exit 2 with one line on stderr for bad usage or bad input."""
    try:
        # a command's typer.Exit(code) returns here
        rc = get_command().main(args=argv, prog_name="neuroaudio", standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except InputError as e:
        print(f"neuroaudio: error: {' '.join(str(e).split())}", file=sys.stderr)
        sys.exit(2)
    except typer.Abort:
        print("neuroaudio: aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("neuroaudio: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as e:
        line = os_error_line(e)
        if line is None:
            _internal(e)
        print(f"neuroaudio: error: {' '.join(line.split())}", file=sys.stderr)
        sys.exit(2)
    except Exception as e:
        if isinstance(e, _exit_types()):
            sys.exit(getattr(e, "exit_code", 0))
        if isinstance(e, _usage_error_types()):
            print(usage_error_line(e), file=sys.stderr)
            sys.exit(2)
        _internal(e)
    sys.exit(0)


def _internal(e: BaseException) -> None:
    """A bug: one line asking for a report (exit 1); with -v the traceback as well."""
    print(f"neuroaudio: internal error: {type(e).__name__}: {e} "
          "(please report it with the command you ran)", file=sys.stderr)
    if logging.getLogger().isEnabledFor(logging.INFO):
        raise e
    sys.exit(1)
