"""`neuroaudio pipeline run`: a tiny end-to-end run (simulate → train 1 epoch → evaluate → report),
then a rerun that skips every completed step, and config errors."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from neuroaudio.errors import InputError
from neuroaudio.pipeline.runner import file_sha1, load, run

SIM = {"fs": 16000, "duration_s": 0.5, "snr_db": [10, 30], "clips_per_snr": 2, "seed": 0,
       "room": {"size_m": [[4, 5], [3, 4], [2.5, 3.0]], "rt60_s": [0.2, 0.3], "max_order": 3},
       "array": {"name": "respeaker4", "height_m": [1.0, 1.2], "wall_margin_m": 0.5, "yaw_deg": [0, 0]},
       "source": {"distance_m": [1.0, 1.5], "azimuth_deg": [0, 360], "elevation_deg": [0, 0],
                  "signal": "pink"},
       "noise": [{"placement": "sensor", "level_db": 0}],
       "scene": {"clips_per_room": 2, "sources_per_room": 1},
       "output": {"subtype": "PCM_16", "peak_dbfs": [-6, -3]}}


def _config(tmp_path, **extra):
    (tmp_path / "tiny_sim.yaml").write_text(yaml.safe_dump(SIM))
    cfg = {"out_dir": str(tmp_path / "run"),
           "data": {"sim": "tiny_sim.yaml", "train_clips": 6, "val_clips": 2},
           "encoder": {"n_neurons": 64, "n_bands": 8, "n_delays": 11, "frame_s": 0.064, "steps": 4},
           "model": {"channels": [4, 8]},
           "train": {"epochs": 1, "batch_size": 32},
           "evaluate": {"seed": 99, "clips": 4, "compare": ["gcc-phat"],
                        "clips_root": str(tmp_path / "eval")},
           **extra}
    p = tmp_path / "pipe.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_tiny_pipeline_runs_end_to_end_and_resumes(tmp_path):
    import torch

    torch.set_num_threads(1)
    p = _config(tmp_path)
    logs: list[str] = []
    t0 = time.perf_counter()
    status = run(load(p), log=logs.append, progress=False)
    assert status == {s: "done" for s in ("simulate", "train", "evaluate", "report")}, logs
    out = tmp_path / "run"
    assert (out / "model.pt").is_file() and (out / "log.csv").is_file()
    report = (out / "report.md").read_text()
    assert "| maa |" in report and "| gcc-phat |" in report and "10 dB" in report and "30 dB" in report
    assert "![learning curve](curve.png)" in report and "| 1 |" in report     # epoch 1 row
    assert (out / "mae_vs_snr.png").stat().st_size > 1000 and "mae_vs_snr.png" in report
    summary = json.loads((out / "report.json").read_text())
    ev = summary["evaluation"]
    assert ev["maa"]["n"] == 4 and ev["gcc-phat"]["n"] == 4                    # 2 SNRs x 2 clips
    assert 0 <= ev["gcc-phat"]["mae_deg"] < 30 and ev["maa"]["mae_deg"] is not None
    assert any("[1/4] simulate" in line for line in logs)
    first = time.perf_counter() - t0
    # rerun: every step but the (cheap) report is skipped
    logs.clear()
    t1 = time.perf_counter()
    status = run(load(p), log=logs.append, progress=False)
    assert status["simulate"] == status["train"] == status["evaluate"] == "skipped (complete)"
    assert status["report"] == "done"
    assert time.perf_counter() - t1 < first / 2
    # more epochs: training resumes (not complete any more); evaluation reruns iff model.pt (the
    # best epoch) changed
    before = file_sha1(out / "model.pt")
    status = run(load(p, ["train.epochs=2"]), steps=["train", "evaluate"], log=logs.append, progress=False)
    assert json.loads((out / "metrics.json").read_text())["last"]["epoch"] == 2
    changed = file_sha1(out / "model.pt") != before
    assert status == {"train": "done", "evaluate": "done" if changed else "skipped (complete)"}
    (out / "model.pt").write_bytes((out / "model.pt").read_bytes())          # same bytes: still complete
    assert run(load(p, ["train.epochs=2"]), steps=["evaluate"], log=logs.append,
               progress=False)["evaluate"] == "skipped (complete)"
    (out / "model.pt").write_bytes((out / "last.pt").read_bytes())            # another model: rerun
    assert run(load(p, ["train.epochs=2"]), steps=["evaluate"], log=logs.append,
               progress=False)["evaluate"] == "done"


def test_config_errors_are_one_line_input_errors(tmp_path):
    p = _config(tmp_path)
    with pytest.raises(InputError, match="unknown key"):
        load(p, ["evaluate.nope=1"])
    with pytest.raises(InputError, match="no such trainer"):
        load(p, kind="nope")
    with pytest.raises(InputError, match="unknown step"):
        run(load(p), steps=["simulate", "fly"])
    with pytest.raises(InputError, match="no trained model"):
        run(load(p, [f"out_dir={tmp_path / 'empty'}"]), steps=["evaluate"])
    with pytest.raises(InputError, match="give --kind"):                       # another trainer's YAML
        load(p, ["data.min_speech_db=-20"])
    with pytest.raises(InputError, match="no such pipeline"):
        load(tmp_path / "missing.yaml")


def test_the_shipped_pipeline_config_loads():
    pl = load("pipelines/maa.yaml")
    assert pl.kind == "maa" and pl.trainer.method == "maa"
    assert pl.cfg["train"]["epochs"] >= 1
