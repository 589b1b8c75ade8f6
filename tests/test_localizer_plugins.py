"""Third-party localizers come from installed distributions (entry-point group
``neuroaudio.localizers``); a ``module:Class`` method name imports nothing.

A real installed distribution is made without pip: a ``acme_doa-0.1.dist-info`` folder with
``entry_points.txt`` on a temporary ``sys.path`` entry, the way pip leaves one. The commands run
as subprocesses with that entry on PYTHONPATH, beside a module ``evil`` whose import would write a
marker file: it must never be imported, whatever the command line or config says.
"""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from neuroaudio.arrays import load_array
from neuroaudio.audio.io import write_audio

from .conftest import install_distribution, plane_wave, run_cli

FS = 16000
PLUGIN = '''
from neuroaudio.localize.gcc_phat import GccPhat


class AcmeDoa(GccPhat):
    summary = "acme: GCC-PHAT under another name"


def helper():
    return 1
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    d = tmp_path_factory.mktemp("site")
    (d / "acme_doa").mkdir()
    (d / "acme_doa" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    marker = d / "evil_was_imported"
    (d / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Thing: pass\n",
                               encoding="utf-8")
    install_distribution(d, "acme_doa", {"acme-doa": "acme_doa:AcmeDoa",
                                         "acme-broken": "acme_doa:helper"})
    x = plane_wave(load_array("respeaker4"), 150.0,
                   0.1 * np.random.default_rng(4).standard_normal(int(0.6 * FS)), FS)
    write_audio(d / "clip.wav", x, FS)
    with open(d / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["path", "azimuth_deg"], ["clip.wav", 150]])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(d), *([old] if old else [])])
    yield d
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old
    assert not marker.exists(), "a module named on a command line or in a config was imported"


def test_installed_plugin_is_listed_and_runs(site, tmp_path):
    r = run_cli("methods")
    assert r.returncode == 0
    line = next(ln for ln in r.stdout.splitlines() if "acme-doa" in ln)
    assert "acme: GCC-PHAT under another name (plug-in)" in line
    r = run_cli("localize", site / "clip.wav", "--method", "acme-doa", "--format", "json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["method"] == "acme-doa" and abs((res["azimuth_deg"] - 150 + 180) % 360 - 180) < 5
    r = run_cli("evaluate", site / "manifest.csv", "--array", "respeaker4", "--method", "acme-doa",
                "--out", tmp_path / "ev", "--quiet", "--no-plots")
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "ev" / "predictions.csv", newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert row["method"] == "acme-doa" and row["status"] == "ok" and float(row["error_deg"]) < 5


@pytest.mark.parametrize("cmd", ["localize", "evaluate", "pipeline"])
def test_module_class_names_import_nothing(site, tmp_path, cmd):
    if cmd == "localize":
        args = ["localize", site / "clip.wav", "--method", "evil:Thing"]
    elif cmd == "evaluate":
        args = ["evaluate", site / "manifest.csv", "--array", "respeaker4", "--method",
                "gcc-phat,evil:Thing", "--out", tmp_path / "ev"]
    else:
        args = ["pipeline", "run", "pipelines/maa.yaml", "--set", "evaluate.method=evil:Thing"]
    r = run_cli(*args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "evil:Thing" in lines[0] and "neuroaudio.localizers" in lines[0], lines[0]
    assert not (site / "evil_was_imported").exists()
    assert not (tmp_path / "ev").exists()


def test_a_plugin_that_is_not_a_localizer_is_refused(site):
    r = run_cli("localize", site / "clip.wav", "--method", "acme-broken")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "not a Localizer subclass" in lines[0], r.stderr
