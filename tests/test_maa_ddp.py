"""DDP: the MAA training loop runs data-parallel on 2 CPU processes (gloo) with no code change.

Both processes get the environment torchrun would set (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT) and call the same :func:`neuroaudio.maa.train.train`; after one tiny epoch both hold
identical weights and BatchNorm statistics, which differ from the initial ones. Takes ~10 s
(two spawned interpreters importing torch).
"""

from __future__ import annotations

import os
import socket

import numpy as np
import torch
import torch.multiprocessing as mp

from neuroaudio.arrays import load_array
from neuroaudio.encoding.config import RFPLCConfig
from neuroaudio.maa.data import FrameSet

ENC = RFPLCConfig(n_neurons=64, n_bands=8, n_delays=11, frame_s=0.064, steps=4)


def _data(n: int) -> FrameSet:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(n, 4, 6, 11, 8)).astype(np.uint8)
    return FrameSet(x, rng.uniform(0, 360, n).astype(np.float32))


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    from neuroaudio.maa.train import train
    from neuroaudio.train.distributed import cleanup

    cfg = {"out_dir": os.path.join(out, "run"), "encoder": ENC.to_dict(), "model": {"channels": [2, 4]},
           "train": {"epochs": 1, "batch_size": 4, "seed": 0}}
    res = train(cfg, train_set=_data(16), val_set=_data(4), array=load_array("respeaker4"), fs=16000,
                progress=False)
    assert res["dist"].world_size == world and res["dist"].rank == rank
    torch.save(res["model"].state_dict(), os.path.join(out, f"rank{rank}.pt"))
    cleanup(res["dist"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_cpu_processes_end_with_identical_weights(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # a step was taken (weights moved from the seeded initialisation)
    from neuroaudio.maa.model import MAAConfig, MAANet

    torch.manual_seed(0)
    init = MAANet(MAAConfig(channels=(2, 4)), 6, 11, 8).state_dict()
    assert not torch.equal(init["readout.weight"], a["readout.weight"])
    # each rank saw half of the 16 frames per epoch: 2 steps of 4, so 2 BatchNorm updates
    assert int(a["stm.conv_in.1.num_batches_tracked"]) == 2
    # only rank 0 wrote the run files
    assert (tmp_path / "run" / "last.pt").is_file()
