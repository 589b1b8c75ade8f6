"""MAA ablations at a reduced budget: train on the first N shards of a training run's frame cache.

The table in docs/maa.md ("Ablations (reduced budget)") was made with the cache of the shipped run
(``neuroaudio train maa --config pipelines/maa.yaml``, or ``python -m neuroaudio.maa.data``
to fill it) and, for each row, the same prefix of 16 shards (1024 clips, 4096 frames), the same
validation clips, 3 epochs and seed 0; only the switch given differs (run each under
``OMP_NUM_THREADS=1 nice -n 10``)::

    python -m experiments.maa_ablate.maa_ablate runs/abl_full 16 train.epochs=3
    python -m experiments.maa_ablate.maa_ablate runs/abl_nofsja 16 train.epochs=3 model.fsja=false
    python -m experiments.maa_ablate.maa_ablate runs/abl_nostm 16 train.epochs=3 model.stm=false
    python -m experiments.maa_ablate.maa_ablate runs/abl_fullres 16 train.epochs=3 'model.input_pool=[1,1]'

Arguments: OUT_DIR, N_SHARDS, then ``SECTION.KEY=VALUE`` overrides of pipelines/maa.yaml
(``--config`` picks another pipeline; ``--cache`` the full run's cache folder, with ``train/`` and
``val/``). Each run writes log.csv, model.pt and last.pt in OUT_DIR (and resumes from it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from neuroaudio.maa.config import load_pipeline, parse_set
from neuroaudio.maa.data import FIELDS, FrameSet, load_cache
from neuroaudio.maa.train import train
from neuroaudio.sim.config import load_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("n_shards", type=int)
    ap.add_argument("overrides", nargs="*")
    ap.add_argument("--config", default="pipelines/maa.yaml")
    ap.add_argument("--cache", default="runs/maa2/main/cache", help="the full run's cache folder")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_pipeline(a.config, parse_set(a.overrides))
    cfg["out_dir"] = a.out_dir
    shards = sorted((Path(a.cache) / "train").glob("shard_*.npz"))[:a.n_shards]
    parts = [np.load(s) for s in shards]
    tr = FrameSet(**{k: np.concatenate([p[k] for p in parts]) for k in FIELDS})
    va = load_cache(Path(a.cache) / "val")
    sim = load_config(cfg["data"]["sim"])
    print(f"{len(tr)} training frames from {len(shards)} shards, {len(va)} validation frames", flush=True)
    train(cfg, train_set=tr, val_set=va, array=sim.array.load(), fs=sim.fs, progress=False)


if __name__ == "__main__":
    main()
