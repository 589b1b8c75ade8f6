"""``train.time_budget_s`` in the MAA trainer: the number of epochs fitted to a wall-clock budget.

Tiny random frame sets (as in tests/test_maa.py's resume test) train in well under a second per
epoch, on the CPU (also where CUDA is present). The budget tests run on a fake clock that advances
1 s per training step (3 steps per epoch), so the cut is the same on any machine: with 20 epochs
configured and a 10-s budget, the fit after epoch 2 (6 s spent, 3 s per epoch) leaves
2 + int(4 / 3) = 3 epochs, and the cosine schedule then ends at epoch 3.
"""

from __future__ import annotations

import math
import os
import socket
import time
import types

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

import neuroaudio.maa.train as T
from neuroaudio.arrays import load_array
from neuroaudio.encoding.config import RFPLCConfig
from neuroaudio.errors import InputError
from neuroaudio.maa import checkpoint as C
from neuroaudio.maa.config import make_config
from neuroaudio.maa.data import FrameSet
from neuroaudio.train import loop
from neuroaudio.train.budget import fit_epochs, resumed_epochs
from neuroaudio.train.optim import adamw_cosine, set_total_steps

from .conftest import crash_when_saving_epoch

FS = 16000
ENC = RFPLCConfig(n_neurons=64, n_bands=8, n_delays=11, frame_s=0.064, steps=4)
LR = 1e-3


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch):
    """The trainer on the CPU even where CUDA is present: the exact equalities here are the CPU's
    (CUDA kernels such as scatter-add backward are not bit-deterministic from run to run)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def _data(n: int = 24, seed: int = 3) -> FrameSet:
    rng = np.random.default_rng(seed)
    return FrameSet(rng.integers(0, 4, (n, 4, 6, 11, 8)).astype(np.uint8),
                    rng.uniform(0, 360, n).astype(np.float32))


def _run(out, epochs: int, budget: float, data: FrameSet | None = None) -> dict:
    torch.set_num_threads(1)
    data = data if data is not None else _data()
    cfg = {"out_dir": str(out), "encoder": ENC.to_dict(), "model": {"channels": [2, 4]},
           "train": {"epochs": epochs, "batch_size": 8, "seed": 3, "lr": LR, "time_budget_s": budget}}
    return T.train(cfg, train_set=data, val_set=data, array=load_array("respeaker4"), fs=FS, progress=False)


@pytest.fixture
def step_clock(monkeypatch):
    """The trainer's clock advances 1 s per training step (loss with gradients), nothing else."""
    now = [0.0]
    real_loss = T.soft_label_loss

    def loss(*a, **k):
        if torch.is_grad_enabled():
            now[0] += 1.0
        return real_loss(*a, **k)

    monkeypatch.setattr(T, "soft_label_loss", loss)
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(perf_counter=lambda: now[0],
                                                           process_time=time.process_time))
    return now


def _numbers(rows):
    return [{k: v for k, v in r.items() if k not in ("seconds", "cpu_seconds")} for r in rows]


def test_budget_is_validated_and_not_part_of_the_run_identity():
    assert make_config({})["train"]["time_budget_s"] == 0.0
    for bad in (-1, "soon", math.inf, None):
        with pytest.raises(InputError, match="time_budget_s"):
            make_config({"train": {"time_budget_s": bad}})
    from neuroaudio.train.optim import run_identity

    a, b = make_config({"train": {"time_budget_s": 0}}), make_config({"train": {"time_budget_s": 60}})
    assert run_identity(a) == run_identity(b)


def test_cosine_total_can_be_lowered_and_is_saved_with_the_scheduler():
    p = [torch.nn.Parameter(torch.zeros(3))]
    opt, sched = adamw_cosine(p, {"lr": LR, "weight_decay": 0.0}, 100)
    for _ in range(10):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(LR * 0.5 * (1 + math.cos(math.pi * 0.1)), rel=1e-12)
    set_total_steps(sched, 20)                    # the lr follows the new total at once
    assert opt.param_groups[0]["lr"] == pytest.approx(LR * 0.5, rel=1e-12)
    state = sched.state_dict()
    opt2, sched2 = adamw_cosine(p, {"lr": LR, "weight_decay": 0.0}, 100)
    sched2.load_state_dict(state)
    for _ in range(10):
        opt2.step()
        sched2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-15)       # step 20 of 20


def test_resumed_epochs_keeps_a_cut_unless_the_run_is_extended():
    ck = {"config": {"train": {"epochs": 20}}, "epochs_fitted": 3}
    assert resumed_epochs(ck, 20) == 3
    assert resumed_epochs(ck, 30) == 30
    assert resumed_epochs({"config": {"train": {"epochs": 20}}}, 20) == 20     # checkpoint before budgets
    assert fit_epochs(10.0, 6.0, 1, 0, [{"seconds": 3.0}] * 2, 20) == 3


def test_budget_zero_trains_exactly_as_an_unreachable_budget(tmp_path):
    a = _run(tmp_path / "zero", 3, 0.0)
    b = _run(tmp_path / "huge", 3, 1e9)
    assert a["epoch"] == b["epoch"] == 3 and len(a["history"]) == 3
    assert _numbers(a["history"]) == _numbers(b["history"])
    sa, sb = a["model"].state_dict(), b["model"].state_dict()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert C.read(tmp_path / "huge" / "last.pt")["epochs_fitted"] == 3


def test_budget_cuts_the_run_and_the_cosine_follows_the_cut(tmp_path, step_clock):
    res = _run(tmp_path / "cut", 20, 10.0)
    assert res["epoch"] == 3 and [r["epoch"] for r in res["history"]] == [1, 2, 3]
    assert [r["seconds"] for r in res["history"]] == [3.0, 3.0, 3.0]
    lrs = [r["lr"] for r in res["history"]]
    # epochs 1-2 on the 20-epoch cosine (60 steps), epoch 3 on the 3-epoch one: ends at lr 0
    assert lrs[0] == pytest.approx(LR * 0.5 * (1 + math.cos(math.pi * 3 / 60)), rel=1e-9)
    assert lrs[1] == pytest.approx(LR * 0.5 * (1 + math.cos(math.pi * 6 / 60)), rel=1e-9)
    assert lrs[2] == pytest.approx(0.0, abs=1e-12)
    ck = C.read(tmp_path / "cut" / "last.pt")
    assert ck["epochs_fitted"] == 3 and ck["scheduler"]["lr_lambdas"][0]["total"] == 9


def test_a_cut_run_stays_cut_and_resumes_to_the_same_weights(tmp_path, step_clock, monkeypatch):
    whole = _run(tmp_path / "a", 20, 10.0)
    # resumed without a budget (another budget is the same run): nothing more to train
    again = _run(tmp_path / "a", 20, 0.0)
    assert again["epoch"] == 3 and len(again["history"]) == 3
    assert C.read(tmp_path / "a" / "last.pt")["epoch"] == 3
    # interrupted while saving epoch 3, then resumed with no budget: epoch 3 alone, on the cut schedule
    real_save = crash_when_saving_epoch(monkeypatch, T.C.CHECKPOINT, 3)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "b", 20, 10.0)
    monkeypatch.setattr(T.C.CHECKPOINT, "save", real_save)
    assert C.read(tmp_path / "b" / "last.pt")["epochs_fitted"] == 3
    resumed = _run(tmp_path / "b", 20, 0.0)
    assert [r["epoch"] for r in resumed["history"]] == [1, 2, 3]
    assert _numbers(resumed["history"]) == _numbers(whole["history"])
    ref = whole["model"].state_dict()
    for k, v in resumed["model"].state_dict().items():
        assert torch.equal(v, ref[k]), k


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    from neuroaudio.train.distributed import cleanup

    torch.cuda.is_available = lambda: False       # gloo on CPU processes, as on the CI machine
    if rank == 1:     # rank 1's clock says the budget is spent at once; rank 0's is real: rank 0 decides
        T.time = types.SimpleNamespace(time=lambda: 1e12 * time.perf_counter(),
                                       process_time=time.process_time)
    res = _run(os.path.join(out, "run"), 2, 1e6, _data(16, 0))
    with open(os.path.join(out, f"rank{rank}.txt"), "w") as f:
        f.write(f"{res['epoch']} {len(res['history'])}")
    cleanup(res["dist"])


def test_ddp_ranks_follow_rank_0s_fitted_total(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    assert [(tmp_path / f"rank{r}.txt").read_text() for r in (0, 1)] == ["2 2", "2 2"]
