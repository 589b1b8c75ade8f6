"""Unwritable outputs (--plot, --out, --json) are refused before the work: one line, exit 2.

Each case runs the command line as a subprocess, as a user would, on an output path that cannot be
written: inside a regular file (the parent "folder" is a file), under /proc (no new files there,
even for root), or naming a folder where a file is wanted and the reverse. It asserts exit status
2, exactly one line on stderr naming the option, no traceback, and that nothing was left behind
(the test folder holds the same files before and after).
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from neuroaudio.arrays import load_array
from neuroaudio.audio.io import write_audio

from .conftest import plane_wave, run_cli
from .sim_helpers import config_dict, write_config

FS = 16000


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A 0.6-s 4-channel clip, a manifest of it, a simulator config, and a regular file."""
    d = tmp_path_factory.mktemp("inputs")
    x = plane_wave(load_array("respeaker4"), 60.0,
                   0.1 * np.random.default_rng(3).standard_normal(int(0.6 * FS)), FS)
    write_audio(d / "clip.wav", x, FS)
    with open(d / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["path", "azimuth_deg"], ["clip.wav", 60]])
    write_config(d / "sim.yaml", config_dict())
    (d / "afile").write_text("not a folder\n", encoding="utf-8")
    return d


def _tree(root) -> set[str]:
    out = set()
    for base, dirs, files in os.walk(root):
        out.update(os.path.relpath(os.path.join(base, n), root) for n in dirs + files)
    return out


def _cases(d):
    wav, man, sim, afile = d / "clip.wav", d / "manifest.csv", d / "sim.yaml", d / "afile"
    under_file = afile / "sub"
    return {
        "localize --plot under a file": (["localize", wav, "--plot", under_file / "p.png"], "--plot"),
        "localize --plot in /proc": (["localize", wav, "--plot", "/proc/neuroaudio-test/p.png"], "--plot"),
        "localize --plot a folder": (["localize", wav, "--plot", d], "--plot"),
        "encode --out under a file": (["encode", wav, "--out", under_file / "x.npz"], "--out"),
        "encode --out in /proc": (["encode", wav, "--out", "/proc/x.npz"], "--out"),
        "encode --plot under a file": (["encode", wav, "--out", d / "new" / "x.npz", "--plot",
                                        under_file / "p.png"], "--plot"),
        "profile --json under a file": (["profile", wav, "--json", under_file / "p.json"], "--json"),
        "profile --json in /proc": (["profile", wav, "--json", "/proc/p.json"], "--json"),
        "evaluate --out under a file": (["evaluate", man, "--array", "respeaker4", "--method",
                                         "gcc-phat", "--out", under_file], "--out"),
        "evaluate --out is a file": (["evaluate", man, "--array", "respeaker4", "--method",
                                      "gcc-phat", "--out", afile], "--out"),
        "evaluate --out in /proc": (["evaluate", man, "--array", "respeaker4", "--method",
                                     "gcc-phat", "--out", "/proc/neuroaudio-test"], "--out"),
        "simulate --out under a file": (["simulate", sim, "--out", under_file, "-q"], "--out"),
        "simulate --out is a file": (["simulate", sim, "--out", afile, "-q"], "--out"),
        "arrays show --plot in /proc": (["arrays", "show", "respeaker4", "--plot", "/proc/a.png"],
                                        "--plot"),
    }


CASES = list(_cases(__import__("pathlib").Path("/x")))


@pytest.mark.parametrize("case", CASES)
def test_unwritable_output_is_one_line_exit_2(inputs, case):
    args, flag = _cases(inputs)[case]
    before = _tree(inputs)
    r = run_cli(*args, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("neuroaudio: error: ") and flag in lines[0], lines[0]
    assert "Traceback" not in r.stderr + r.stdout
    assert r.stdout.strip() == "" or case.startswith("arrays"), r.stdout   # refused before the work
    assert _tree(inputs) == before      # nothing partial left behind


def test_localize_prints_the_result_when_the_plot_fails_late(tmp_path, cli, monkeypatch):
    """A plot that fails after the check (e.g. the disk fills up) loses no result: the table and
    the JSON are printed, the failure is one line, exit 2."""
    import neuroaudio.localize.output as output

    x = plane_wave(load_array("respeaker4"), 60.0,
                   0.1 * np.random.default_rng(3).standard_normal(int(0.6 * FS)), FS)
    write_audio(tmp_path / "clip.wav", x, FS)

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "plot_result", full_disk)
    for fmt in ("json", "table"):
        r = cli("localize", tmp_path / "clip.wav", "--plot", tmp_path / "p.png", "--format", fmt)
        assert r.returncode == 2
        errors = [ln for ln in r.stderr.splitlines() if ln.startswith("neuroaudio: error:")]
        assert len(errors) == 1 and "--plot" in errors[0] and "No space left" in errors[0]
        if fmt == "json":
            import json

            az = json.loads(r.stdout)["azimuth_deg"]
        else:
            import re

            cells = [float(v) for v in re.findall(r"│\s*(\d+\.\d)\s*│", r.stdout)]   # azimuth
            assert len(cells) == 1 and abs(cells[0] - 60.0) < 5, r.stdout
        assert not (tmp_path / "p.png").exists()
    assert abs((az - 60.0 + 180) % 360 - 180) < 5
