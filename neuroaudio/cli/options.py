"""The command-line grammar: one meaning per flag in every command (docs/conventions.md, "Command line").

    -o/--out PATH       output file or folder        -m/--method NAME   localization method
    -c/--config PATH    a YAML config                --set KEY=VALUE    a config key or a method option
    -a/--array NAME     mic array                    -j/--workers N     parallel worker processes
    -q/--quiet          no progress bar              -f/--format F      table | json | ...
    --json              flag: JSON on stdout         --model PATH       a checkpoint (no short flag)
    --sources K|auto    sources per frame and file (1 = one direction, the default)

Times are in seconds (``--hop-s``, ``--frame-s``), rates in Hz, angles in degrees.

The factories below give each command the same declaration of a shared flag. Old spellings that
meant something else are kept as hidden options (``legacy``), listed in :data:`LEGACY_FLAGS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..errors import InputError

SHORT_FLAGS = {"-o": "--out", "-m": "--method", "-c": "--config", "-a": "--array", "-j": "--workers",
               "-q": "--quiet", "-f": "--format", "-v": "--verbose"}
"""Each short flag and the one long name it stands for, in every command."""

LEGACY_FLAGS = {
    ("localize", "-o"): "--set",        # -o/--option KEY=VALUE: method options (localize has no output path)
    ("localize", "--option"): "--set",
    ("kws detect", "-m"): "--model",    # -m was --model in the keyword commands
    ("kws evaluate", "-m"): "--model",
    ("kws adapt", "-m"): "--model",
    ("kws-evaluate", "-m"): "--model",  # the old command names (hidden) keep their old flags
    ("kws-adapt", "-m"): "--model",
    ("kws detect", "--hop"): "--hop-s",
    ("simulate", "-w"): "--workers",
    ("profile", "--json-path"): "--out",  # written by the old `--json PATH` (profile_cmd.legacy_json_path)
}
"""Hidden old spellings still accepted, (command path, flag) -> the flag that replaces it. They
print nothing extra; ``--help`` shows only the new names."""


def out(default: Any = ..., help: str = "Output file or folder.") -> Any:
    """``-o/--out PATH``."""
    return typer.Option(default, "--out", "-o", help=help)


def method(default: Any = ..., help: str = "Localization method (see `neuroaudio methods`).") -> Any:
    """``-m/--method NAME``."""
    return typer.Option(default, "--method", "-m", help=help)


def config(help: str = "Pipeline YAML.") -> Any:
    """``-c/--config PATH`` (required)."""
    return typer.Option(..., "--config", "-c", help=help)


def sets(help: str) -> Any:
    """``--set KEY=VALUE`` (repeatable)."""
    return typer.Option([], "--set", help=help)


def array(default: Any = "respeaker4", help: str = "Built-in array name or geometry JSON path.") -> Any:
    """``-a/--array NAME``."""
    return typer.Option(default, "--array", "-a", help=help)


def workers(help: str = "Worker processes.") -> Any:
    """``-j/--workers N``."""
    return typer.Option(1, "--workers", "-j", help=help)


def quiet(help: str = "No progress bar.") -> Any:
    """``-q/--quiet``."""
    return typer.Option(False, "--quiet", "-q", help=help)


def fmt(default: str, help: str) -> Any:
    """``-f/--format NAME``."""
    return typer.Option(default, "--format", "-f", help=help)


def json_flag(help: str = "Print JSON on stdout.") -> Any:
    """``--json`` (a flag, never a path)."""
    return typer.Option(False, "--json", help=help)


def sources(help: str = "Sources to report: 1 (the default: one direction, outputs as before), "
            "up to 2..4 at once, or auto (up to 4, as many as stand out); adds a `sources` list "
            "to JSON outputs.") -> Any:
    """``--sources K|auto`` (the same option as ``--set sources=K``)."""
    return typer.Option("1", "--sources", help=help)


LIVE_FLAGS: dict[str, tuple[Any, tuple[str, ...], str]] = {
    "device": (None, ("--device",), "input device index or name (default: the system's default input)."),
    "duration": (None, ("--duration",), "stop after this many seconds of audio (default: until Ctrl-C)."),
    "track": (True, ("--track/--no-track",), "temporal tracking of the direction (birth/death of "
              "sources) for steady output."),
    "threads": (1, ("--threads",), "CPU threads for the localizer (torch); 1 keeps up best on small "
                "machines."),
    "reconnect": (False, ("--reconnect",), "when the device is lost, retry (backoff up to 30 s) "
                  "instead of exiting."),
    "allow_dependent_channels": (False, ("--allow-dependent-channels",), "go on (with a warning) when "
                                 "channels are copies or mixes of others (e.g. a 2-channel card "
                                 "upmixed to 4)."),
}
"""The live-input flags every live command shares: name → (default, declarations, help)."""


def live_flag(name: str, prefix: str = "") -> Any:
    """The live-input flag ``name`` of :data:`LIVE_FLAGS`; ``prefix`` (e.g. ``"--live: "``) marks
    it live-only in a command that also reads files."""
    default, decls, text = LIVE_FLAGS[name]
    return typer.Option(default, *decls, help=f"{prefix}{text}" if prefix else text[:1].upper() + text[1:])


def legacy(*decls: str, default: Any = None) -> Any:
    """A hidden old spelling (see :data:`LEGACY_FLAGS`)."""
    return typer.Option(default, *decls, hidden=True)


def pick(new: Any, old: Any, new_flag: str, old_flag: str, default: Any = None) -> Any:
    """The value of a flag given under its new or its old (hidden) name; both at once is refused
    unless they agree. ``default``: the new flag's default (then only the old one was given)."""
    if old is None:
        return new
    if new != default and new != old:
        raise InputError(f"{old_flag} is the old name of {new_flag}: give one of them")
    return old


def format_json(fmt_value: str, json_out: bool, default: str = "table") -> str:
    """``--json`` is ``--format json``; with another explicit ``--format`` it is refused."""
    if not json_out:
        return fmt_value
    if fmt_value not in (default, "json"):
        raise InputError(f"--json and --format {fmt_value}: give one of them")
    return "json"


def parse_options(items: list[str] | None, flag: str = "--set") -> dict:
    """``["fmin_hz=300", "fusion=tdoa", "bin_weighting=false", "freq_range_hz=300,3500"]`` →
    keyword options (numbers, booleans, None, comma-separated tuples, else strings)."""
    out: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{flag} '{item}': write KEY=VALUE, e.g. --set fmin_hz=300")
        out[key.strip()] = _value(value.strip())
    return out


def _value(v: str) -> Any:
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    if v.lower() in ("none", "null"):
        return None
    if "," in v:
        return tuple(_value(p) for p in v.split(","))
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def existing_path_like(arg: str) -> bool:
    """Does a command-line word look like a file path (rather than a subcommand name)?"""
    return "/" in arg or "\\" in arg or bool(Path(arg).suffix) or Path(arg).exists()
