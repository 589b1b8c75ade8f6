"""The shared training loop and checkpoint format: the worked example of CONTRIBUTING.md ("Add a
trainer") learns, writes what the loop promises, resumes an interrupted run to the weights of an
unbroken one, and every shipped model still loads through its format."""

from __future__ import annotations

import csv
import math
import re
import types

import pytest
import torch

from neuroaudio.errors import InputError

from .conftest import REPO, crash_when_saving_epoch


@pytest.fixture(scope="module")
def tones() -> types.ModuleType:
    """The code block of CONTRIBUTING.md's "Add a trainer", as a module."""
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## Add a trainer", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    mod = types.ModuleType("tones")
    exec(compile(code, "CONTRIBUTING.md", "exec"), mod.__dict__)
    return mod


def _numbers(rows):
    return [{k: v for k, v in r.items() if k not in ("seconds", "cpu_seconds")} for r in rows]


def test_example_trainer_learns_and_writes_its_files(tones, tmp_path):
    torch.set_num_threads(1)
    res = tones.train(str(tmp_path), epochs=4)
    assert [r["epoch"] for r in res.rows] == [1, 2, 3, 4] and res.n_epochs == 4
    assert res.best["val_acc"] >= 0.95                    # 0.969 (torch 2.x, CPU); chance is 0.25
    assert res.rows[-1]["lr"] == 0.0                      # the cosine ends at 0 on the last step
    assert res.rows[0]["train_loss"] > res.rows[-1]["train_loss"]
    with open(tmp_path / "log.csv", newline="") as f:
        log = list(csv.DictReader(f))
    assert list(log[0]) == list(tones.Tones.log_fields) and len(log) == 4
    assert math.isclose(float(log[-1]["val_acc"]), res.rows[-1]["val_acc"])
    net, ck = tones.TONES.load(tmp_path / "model.pt")
    assert ck["format"] == "neuroaudio-tones-1" and ck["epoch"] == res.best["epoch"]
    assert ck["metrics"]["val_acc"] == res.best["val_acc"] and not net.training
    x, y = tones.frames(64, 9)
    assert float((net(x).argmax(-1) == y).float().mean()) >= 0.95
    last = tones.TONES.read(tmp_path / "last.pt")
    assert last["epoch"] == 4 and last["epochs_fitted"] == 4 and len(last["history"]) == 4
    assert {"optimizer", "scheduler", "best"} <= set(last)
    for name in ("curve.png", "metrics.json"):
        assert (tmp_path / name).is_file()


def test_interrupted_and_extended_runs_resume_exactly(tones, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    whole = tones.train(str(tmp_path / "a"), epochs=3)
    real_save = crash_when_saving_epoch(monkeypatch, tones.TONES, 2)
    with pytest.raises(KeyboardInterrupt):
        tones.train(str(tmp_path / "b"), epochs=3)
    monkeypatch.setattr(tones.TONES, "save", real_save)
    assert tones.TONES.read(tmp_path / "b" / "last.pt")["epoch"] == 1
    resumed = tones.train(str(tmp_path / "b"), epochs=3)
    assert _numbers(resumed.rows) == _numbers(whole.rows)
    a, b = (tones.TONES.read(tmp_path / d / "last.pt")["state_dict"] for d in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # extended by resuming with more epochs: the first three kept, one more trained on the new schedule
    longer = tones.train(str(tmp_path / "a"), epochs=4)
    assert _numbers(longer.rows[:3]) == _numbers(whole.rows) and longer.rows[3]["epoch"] == 4
    # a finished run resumed: nothing to train
    again = tones.train(str(tmp_path / "a"), epochs=4)
    assert _numbers(again.rows) == _numbers(longer.rows)
    with pytest.raises(InputError, match="another config"):
        tones.train(str(tmp_path / "a"), epochs=4, lr=0.01)


@pytest.mark.parametrize("name, module, tag", [
    ("maa_respeaker4.pt", "neuroaudio.maa.checkpoint", "neuroaudio-maa-1"),
    ("gcc_phat_sm_respeaker4.pt", "neuroaudio.gcc_phat_sm.checkpoint", "neuroaudio-gccsm-1"),
    ("gcc_phat_mlp_respeaker4.pt", "neuroaudio.gcc_phat_sm.checkpoint", "neuroaudio-gccsm-1"),
    ("kws_fsdd_drf.pt", "neuroaudio.kws.checkpoint", "neuroaudio-kws-1"),
])
def test_shipped_models_load_through_their_format(name, module, tag, tmp_path):
    import importlib

    fmt = importlib.import_module(module).CHECKPOINT
    path = REPO / "data" / "models" / name
    assert fmt.format_id == tag
    model, ck = fmt.load(path)
    assert ck["format"] == tag
    net = model[0] if isinstance(model, tuple) else model
    assert not net.training and sum(p.numel() for p in net.parameters()) > 0
    # the same file is refused by another format, and a damaged copy is one InputError
    other = "neuroaudio.kws.checkpoint" if "kws" not in module else "neuroaudio.maa.checkpoint"
    with pytest.raises(InputError, match=f"not a {importlib.import_module(other).FORMAT} checkpoint"):
        importlib.import_module(other).CHECKPOINT.read(path)
    bad = tmp_path / "bad.pt"
    fmt.save(bad, {k: v for k, v in ck.items() if k not in ("format", "state_dict")})
    with pytest.raises(InputError, match="incomplete"):
        fmt.load(bad)
