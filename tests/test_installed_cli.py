"""The installed `neuroaudio` console script works on its own environment (issue 17).

typer 0.29 stopped installing click, and the CLI imported click: every usage error was a
ModuleNotFoundError traceback on a fresh install while the tests (run in-process, on a machine
that still had click) passed. These tests run the console script that `pip install -e .` made,
as a subprocess, so a module the environment lacks fails here. PYTHONPATH points at this
checkout so that its code is what runs.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def installed_script() -> str:
    """Path of the installed `neuroaudio` script: beside this Python first, else on PATH.

    Missing is a failure, not a skip: CI installs the package (`pip install -e .`)."""
    for cand in (Path(sysconfig.get_path("scripts")) / "neuroaudio",
                 Path(sys.executable).parent / "neuroaudio"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which("neuroaudio")
    if not found:
        pytest.fail("the `neuroaudio` console script is not installed: run `pip install -e .`")
    return found


def cli_env() -> dict[str, str]:
    """The environment for the installed script: this checkout's code first on PYTHONPATH (any
    PYTHONPATH already set stays after it, e.g. to try another typer), one thread."""
    extra = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(REPO) + (os.pathsep + extra if extra else ""),
            "OMP_NUM_THREADS": "1"}


def run_installed(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed script with this checkout's code (PYTHONPATH = the repo root)."""
    env = cli_env()
    return subprocess.run([installed_script(), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, timeout=timeout)


@pytest.mark.parametrize("args", [["--bogus"], ["frobnicate"],
                                  ["simulate", "x.yaml", "--out", "o", "--workers", "abc"],
                                  ["simulate", "x.yaml", "-o", "o", "-w", "abc"],   # -w: old -j
                                  ["pipeline", "run"], ["localize", "--frame-s", "abc", "x.wav"]])
def test_usage_errors_are_one_line_exit_2(args, tmp_path):
    r = run_installed(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuroaudio: error: "), r.stderr
    assert "--help" in lines[0] and "Traceback" not in r.stderr
    assert r.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [[], ["train"], ["pipeline"], ["kws"]])
def test_bare_group_prints_help_and_exits_0(args):
    """A bare `neuroaudio` (or group) asks for nothing: its help on stdout, exit 0, stderr empty."""
    r = run_installed(*args)
    assert r.returncode == 0, r.stderr
    assert "Usage: neuroaudio" in r.stdout and "Commands" in r.stdout
    assert r.stderr == ""


def test_version_from_the_installed_script():
    from neuroaudio import __version__

    r = run_installed("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"neuroaudio {__version__}"


def _declared_dependencies() -> set[str]:
    import re

    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    block = text[text.index("dependencies = ["):]
    block = block[:block.index("]")]
    return {re.split(r"[<>=!~ \[]", s.strip().strip('",'))[0].lower()
            for s in block.splitlines()[1:] if s.strip().startswith('"')}


def test_package_imports_no_undeclared_click():
    """No module of the package imports click unless click is a declared dependency (typer >= 0.29
    does not bring it); the usage-error handling goes through typer's own API."""
    declared = _declared_dependencies()
    assert "typer" in declared and "numpy" in declared
    if "click" in declared:
        return
    offenders = []
    for path in sorted((REPO / "neuroaudio").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "click" or n.startswith("click.") for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == [], f"click imported but not a declared dependency: {offenders}"
