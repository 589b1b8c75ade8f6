"""`neuroaudio train mpdal` end to end on tiny synthetic data (never ../shared)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from neuroaudio.cli import main


def run_cli(*args, capsys=None):
    """Run the CLI in-process (the subprocess start-up of the whole app costs seconds per call)."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr() if capsys is not None else None

    class R:
        returncode = e.value.code
        stdout = out.out if out else ""
        stderr = out.err if out else ""

    return R

CLUES_YAML = """
task: clues
seed: 3
clues: {n_afferents: 500, n_features: 5, n_targets: 1, mean_occurrences: 0.6, background_s: 0.5,
        n_train: 60, n_test: 40}
train: {epochs: 1, eval_every: 30, target_accuracy: 0.9}
rules:
  - {rule: mpdal, lr: 0.003}
  - {rule: mst, lr: 0.003}
"""


def test_cli_clues_writes_log_results_and_plots(tmp_path, capsys):
    cfg = tmp_path / "clues.yaml"
    cfg.write_text(CLUES_YAML)
    out = tmp_path / "out"
    r = run_cli("train", "mpdal", "--config", cfg, "--out", out, capsys=capsys)
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    rules = [x["rule"] for x in res["rules"]]
    assert rules == ["mpdal", "mst"]
    for x in res["rules"]:
        assert 0.0 <= x["final_test_accuracy"] <= 1.0 and x["total_cpu_s"] > 0
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert {row["rule"] for row in rows} == {"mpdal", "mst"}
    assert len(rows) == 2 * 3  # trial 0, 30, 60 for each rule
    for png in ("learning_curves.png", "raster.png", "trace_t_star_too_few.png", "trace_trained_mpdal.png"):
        assert (out / png).stat().st_size > 1000
    from neuroaudio.mpdal.checkpoint import MPDAL

    for rule in ("mpdal", "mst"):                      # each rule's trained neuron, for `export`
        (w, p), ck = MPDAL.load(out / f"model_{rule}.pt")
        assert w.shape == (500, 1) and ck["rule"] == rule and p.tau_m == 0.020 and p.dt == 0.001


def _tone_digits(folder, speakers=("aa", "bb", "cc"), per=6, fs=8000):
    """Synthetic 'digits': digit d is a 0.25 s tone at its own frequency; each speaker shifts the pitch."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    base = {0: 400.0, 1: 1200.0, 2: 2600.0}
    for si, s in enumerate(speakers):
        for d, f in base.items():
            for i in range(per):
                t = np.arange(int(0.25 * fs)) / fs
                f0 = f * (1 + 0.02 * si) * (1 + 0.02 * rng.standard_normal())
                x = np.sin(2 * np.pi * f0 * t) * np.hanning(t.size) + 0.01 * rng.standard_normal(t.size)
                sf.write(folder / f"{d}_{s}_{i}.wav", (0.5 * x).astype(np.float32), fs)
    (folder / "README.txt").write_text("not a wav")  # ignored: does not match the naming
    return folder


def test_cli_digits_speaker_independent_folds(tmp_path, capsys):
    data = _tone_digits(tmp_path / "wavs")
    cfg = tmp_path / "digits.yaml"
    cfg.write_text("task: digits\nseed: 0\nmodel: {neurons_per_class: 1, target_spikes: 2, lr: 0.005}\n"
                   "train: {epochs: 3}\n")
    out = tmp_path / "out"
    r = run_cli("train", "mpdal", "--config", cfg, "--data", data, "--out", out, capsys=capsys)
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert [f["held_out"] for f in res["folds"]] == ["aa", "bb", "cc"]
    for f in res["folds"]:
        assert f["n_train"] == 36 and f["n_test"] == 18
        assert f["dynamic"] >= 0.6 and f["max_count"] >= 0.6  # chance is 1/3
    assert res["mean_accuracy"]["dynamic"] >= 0.8 and res["mean_accuracy"]["max_count"] >= 0.8
    assert (out / "trace_aa.png").exists() and (out / "confusion_dynamic_cc.png").exists()


def test_cli_bad_config_exits_2(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("task: clues\nclues: {n_afferent: 10}\n")
    r = run_cli("train", "mpdal", "--config", cfg, "--out", tmp_path / "o", capsys=capsys)
    assert r.returncode == 2
    assert "clues.n_afferent" in r.stderr and r.stderr.count("\n") == 1
    cfg.write_text("task: clues\n")
    r = run_cli("train", "mpdal", "--config", cfg, "--rule", "mst", capsys=capsys)
    assert r.returncode == 2 and "--rule applies to task: digits" in r.stderr
    r = run_cli("train", "mpdal", "--config", tmp_path / "missing.yaml", capsys=capsys)
    assert r.returncode == 2 and "not found" in r.stderr
