"""`neuroaudio localize` and `neuroaudio methods` as a user runs them.

One test runs the real entry point in a subprocess (`python cli.py`); the rest call the same
``neuroaudio.cli.main(argv)`` in-process (same parsing, printing and exit codes, without paying
for an interpreter start each time).
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import load_array
from neuroaudio.localize.registry import DEFAULT_METHOD, method_names

from .conftest import plane_wave, run_cli

FS = 16000


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("loc")
    rng = np.random.default_rng(3)
    array = load_array("respeaker4")
    sig = 0.1 * rng.standard_normal(FS)
    sig[6000:10000] = 0.0                                   # a pause
    hiss = 1e-3 * rng.standard_normal((FS, 4))             # sensor noise, 40 dB below
    good = d / "az200.wav"
    sf.write(good, plane_wave(array, 200.0, sig, FS) + hiss, FS)
    six = d / "six.wav"                                     # ReSpeaker 6-channel firmware layout
    x = plane_wave(array, 45.0, sig, FS) + hiss
    sf.write(six, np.concatenate([np.zeros((FS, 1)), x, np.zeros((FS, 1))], axis=1), FS)
    three = d / "three.wav"
    sf.write(three, x[:, :3], FS)
    nan = d / "nan.wav"
    y = x.copy()
    y[5000, 2] = np.nan
    sf.write(nan, y, FS, subtype="FLOAT")
    silent = d / "silent.wav"
    sf.write(silent, np.zeros((FS, 4)), FS)
    return {"good": good, "six": six, "three": three, "nan": nan, "silent": silent, "dir": d}


def _one_line_error(p):
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuroaudio: error: "), p.stderr
    return lines[0]


def test_json_schema_exact(files):
    p = run_cli("localize", files["good"], files["silent"], "--format", "json")
    assert p.returncode == 0, p.stderr
    objs = [json.loads(line) for line in p.stdout.strip().splitlines()]
    assert len(objs) == 2
    for o in objs:
        assert list(o) == ["path", "method", "azimuth_deg", "confidence", "frames"]
        assert o["method"] == DEFAULT_METHOD
        assert isinstance(o["confidence"], float) and 0 <= o["confidence"] <= 1
        assert o["frames"], "per-frame estimates"
        for f in o["frames"]:
            assert list(f) == ["t_s", "azimuth_deg", "confidence"]
            assert f["azimuth_deg"] is None or 0 <= f["azimuth_deg"] < 360
    good, silent = objs
    assert good["path"] == str(files["good"])
    assert circular_error_deg(good["azimuth_deg"], 200.0) <= 2
    assert any(f["azimuth_deg"] is None for f in good["frames"])     # the pause
    assert silent["azimuth_deg"] is None and silent["confidence"] == 0
    assert all(f["azimuth_deg"] is None for f in silent["frames"])


def test_channels_jsonl_and_csv(files, cli):
    p = cli("localize", files["six"], "--channels", "2,3,4,5", "--method", "srp-phat",
                "--format", "jsonl")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(s) for s in p.stdout.strip().splitlines()]
    assert all(list(o) == ["t_s", "azimuth_deg", "confidence"] for o in lines)
    az = [o["azimuth_deg"] for o in lines if o["azimuth_deg"] is not None]
    assert az and all(circular_error_deg(a, 45.0) <= 3 for a in az)
    p = cli("localize", files["good"], files["three"], "--format", "csv")
    assert p.returncode == 2
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert [r["status"] for r in rows][0] == "ok" and rows[1]["status"].startswith("error: ")
    assert circular_error_deg(float(rows[0]["azimuth_deg"]), 200.0) <= 2


def test_several_files_one_bad_others_still_run(files, cli):
    p = cli("localize", files["good"], files["dir"] / "missing.wav", files["silent"],
                "--format", "json")
    assert p.returncode == 2
    assert len(p.stdout.strip().splitlines()) == 2
    assert "missing.wav" in _one_line_error(p)


@pytest.mark.parametrize("case,needle", [
    ("missing", "no such file"),
    ("channels", "3 channels but the array has 4 mics"),
    ("method", "unknown method 'nope'"),
    ("array", "unknown array 'nope'"),
    ("nan", "NaN"),
    ("model", "has no option 'model'"),
])
def test_bad_inputs_exit_2_one_line(files, case, needle, cli):
    args = {"missing": [files["dir"] / "missing.wav"],
            "channels": [files["three"]],
            "method": [files["good"], "--method", "nope"],
            "array": [files["good"], "--array", "nope"],
            "nan": [files["nan"]],
            "model": [files["good"], "--model", files["dir"] / "m.pt"]}[case]
    line = _one_line_error(cli("localize", *args))
    assert needle in line


def test_plot_and_table(files, tmp_path, cli):
    out = tmp_path / "doa.png"
    p = cli("localize", files["good"], "--plot", out)
    assert p.returncode == 0, p.stderr
    assert out.stat().st_size > 10_000
    assert "200.0" in p.stdout


def test_methods_lists_every_method(cli):
    p = cli("methods")
    assert p.returncode == 0
    lines = p.stdout.rstrip("\n").splitlines()
    assert len(lines) == len(method_names())
    for name in method_names():
        assert any(line[2:].startswith(name + " ") for line in lines)
    assert any(line.startswith("* " + DEFAULT_METHOD) for line in lines), p.stdout


def test_method_options_from_the_command_line(files, cli):
    p = cli("localize", files["good"], "--method", "gcc-phat", "-o", "fmin_hz=300",
            "-o", "fusion=tdoa", "-o", "bin_weighting=false", "--format", "csv")
    assert p.returncode == 0, p.stderr
    row = next(csv.DictReader(io.StringIO(p.stdout)))
    assert circular_error_deg(float(row["azimuth_deg"]), 200.0) <= 2
    line = _one_line_error(cli("localize", files["good"], "-o", "fmin=300"))
    assert "no option 'fmin'" in line and "fmin_hz" in line
    line = _one_line_error(cli("localize", files["good"], "-o", "fmin_hz=abc"))
    assert "--option fmin_hz=abc" in line
    p = cli("methods", "--options")
    assert "fmin_hz=200.0" in p.stdout
