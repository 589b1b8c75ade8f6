"""Training MAA from a pipeline config: the MAA task of the shared loop (:func:`neuroaudio.train.loop.fit`:
seeds, resume, CSV log, curve, checkpoints, DDP).

Outputs in ``out_dir`` (rank 0 only): ``last.pt`` (every epoch, for resume), ``model.pt`` (the
epoch with the lowest validation MAE), ``log.csv`` (one row per epoch), ``curve.png``,
``metrics.json``. Optimiser: AdamW (lr 1e-3, weight decay 5e-3) with a cosine learning-rate
decay per step (the authors' code). Launch under ``torchrun --nproc_per_node N`` to train data-
parallel; nothing in the code or config changes (:mod:`neuroaudio.train.distributed`).
With ``train.augment_symmetry`` (default) every training frame is replaced by one of the array's
symmetric scenes at random (:mod:`.augment`; 8 on the ReSpeaker square), its label mapped along.
Device: the GPU of this process when CUDA is available (:meth:`DistInfo.device`), else the CPU;
checkpoints always hold CPU tensors. ``train.time_budget_s`` (> 0) fits the number of epochs to that
many wall seconds of the training loop (:func:`neuroaudio.train.budget.fit_epochs`: from the run's
second epoch on, lowered to what fits at the measured epoch speed; a spent budget stops after the
current epoch); the cosine schedule follows the lowered total, which ``last.pt`` keeps
(``epochs_fitted``), so a cut run stays cut when resumed. Under DDP rank 0 decides, all ranks follow.

Distillation (``train.distill`` = λ > 0, with ``data.teacher``, e.g. ``gcc-phat-sm``; issue 19): the
target of a frame is ``(1 − λ)·q + λ·p_teacher``, with ``q`` the Gaussian soft label of the true
azimuth and ``p_teacher`` the teacher's posterior on the same audio frame (:func:`.data.make_teacher`),
both moved along by the symmetry augmentation. Validation is always against the true azimuth.
Temperature 1 (the teacher's posterior as it is) is our choice; experiments/maa_distill measures λ.

Metrics are per frame (each 170-ms frame's argmax of the time-averaged output) and per clip
(``val_clip_mae``: the time- and frame-averaged softmax of all frames of a clip).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from ..angles import circular_error_deg_torch as circular_error_deg
from ..arrays import MicArray
from ..encoding.config import RFPLCConfig
from ..encoding.encoder import RFPLCEncoder
from ..errors import InputError
from ..train import distributed as D
from ..train.checkpoint import code_revision
from ..train.doa_loss import predict_azimuth_deg, soft_label_loss, soft_labels, soft_target_loss
from ..train.doa_metrics import DOA_METRIC_KEYS, doa_metrics
from ..train.loop import Step, Task, fit_doa
from ..train.optim import run_identity
from . import checkpoint as C
from .augment import FrameSymmetries
from .config import make_config
from .data import FrameSet, OnlineFrames, build_cache, collate_frames
from .model import MAAConfig, MAANet

log = logging.getLogger("neuroaudio")

LOG_FIELDS = ["epoch", "train_loss", "train_acc5", "val_loss", "val_mae", "val_acc5", "val_acc10",
              "val_clip_mae", "lr", "seconds", "cpu_seconds"]


@torch.no_grad()
def evaluate_frames(net: MAANet, data: FrameSet, batch_size: int = 256, sigma_deg: float = 5.0,
                    active_db: float | None = None) -> dict[str, float]:
    """Loss, MAE (deg), ACC@5°, ACC@10° per frame, and MAE per clip (pooled softmax), on ``data``.

    With ``active_db`` the per-frame numbers count only source-active frames (``src_db >=
    -active_db``, where known); the clip MAE always pools every frame of the clip.
    """
    was = net.training
    net.eval()
    losses, errs, probs = [], [], []
    dev = next(net.parameters()).device
    for s in range(0, len(data), batch_size):
        x = torch.from_numpy(data.x[s:s + batch_size]).to(dev)
        az = torch.from_numpy(data.azimuth_deg[s:s + batch_size]).to(dev)
        y = net(x).cpu()
        az = az.cpu()
        losses.append(float(soft_label_loss(y, az, sigma_deg)) * len(x))
        errs.append(circular_error_deg(predict_azimuth_deg(y), az).numpy())
        probs.append(torch.softmax(y, -1).mean(0).numpy())
    net.train(was)
    if not errs:
        return {"val_loss": math.nan, **dict.fromkeys(DOA_METRIC_KEYS, math.nan)}
    e, p = np.concatenate(errs), np.concatenate(probs)
    if active_db is not None:
        act = ~(data.src_db < -float(active_db))          # NaN (unknown) counts as active
        e = e[act] if act.any() else e
    return {"val_loss": sum(losses) / len(data), **doa_metrics(e, p, data.clip, data.azimuth_deg)}


def prepare_data(cfg: dict[str, Any], info: D.DistInfo, progress: bool
                 ) -> tuple[Any, FrameSet, MicArray, int]:
    """Training data (FrameSet or OnlineFrames), validation FrameSet, array, rate from the config.

    In cached mode rank 0 builds the shards while the other ranks wait, then all load them.
    """
    d, enc = cfg["data"], RFPLCConfig(**cfg["encoder"])
    cache = Path(d["cache_dir"])

    pick = {"active_db": d["active_db"], "frames_per_clip": d["frames_per_clip"], "teacher": d["teacher"]}

    def build(split: str, n: int, seed: int) -> FrameSet:
        return build_cache(d["sim"], n, enc, cache / split, seed=seed,
                           min_frame_spikes=int(d["min_frame_spikes"]), progress=progress and info.is_main,
                           **(pick if split == "train" else {}))

    val = D.main_rank_first(info, lambda: build("val", int(d["val_clips"]), int(d["val_seed"])))
    train = None
    if d["mode"] == "cached":
        train = D.main_rank_first(info, lambda: build("train", int(d["train_clips"]), int(d["train_seed"])))
    if train is None:
        train = OnlineFrames(d["sim"], int(d["train_clips"]), enc, seed=int(d["train_seed"]),
                             min_frame_spikes=int(d["min_frame_spikes"]), **pick)
        array, fs = train.array, train.base.fs
    else:
        from ..sim.config import load_config

        sc = load_config(d["sim"])
        array, fs = sc.array.load(), sc.fs
    return train, val, array, fs


class MAATask(Task):
    """MAA for :func:`neuroaudio.train.loop.fit`: frames (cached or on the fly) → soft-label loss over
    the azimuth grid, each frame replaced by one of the array's symmetric scenes at random
    (``train.augment_symmetry``); ``model.pt`` is the epoch with the lowest validation MAE."""

    title = "MAA"
    checkpoint = C.CHECKPOINT
    log_fields = LOG_FIELDS
    select = "val_mae"
    curve_metric_keys = ("train_acc5", "val_acc5", "val_acc10")

    def __init__(self, cfg: dict[str, Any], train_set: FrameSet | OnlineFrames, val_set: FrameSet,
                 array: MicArray, fs: int, info: D.DistInfo):
        self.cfg, self.info, self.train_set, self.val_set = cfg, info, train_set, val_set
        t_cfg = cfg["train"]
        self.seed, self.sigma = int(t_cfg["seed"]), float(t_cfg["sigma_deg"])
        self.distill = float(t_cfg["distill"])
        enc_cfg = RFPLCConfig(**cfg["encoder"])
        enc = RFPLCEncoder(array, enc_cfg, fs)
        input_shape = (len(enc.pairs), len(enc.delays_samples), enc_cfg.n_bands)
        frame_shape = (enc_cfg.steps, *input_shape)
        if tuple(val_set.frame_shape) != frame_shape:
            raise InputError(f"validation frames of shape {list(val_set.frame_shape)} do not match the "
                             f"encoder config ({list(frame_shape)}); rebuild the cache with the same encoder "
                             "settings")
        self.net = MAANet(MAAConfig.from_dict(cfg["model"]), *input_shape).to(info.device())
        self.online = isinstance(train_set, OnlineFrames)
        if info.enabled:
            self.sampler: Any = DistributedSampler(train_set, num_replicas=info.world_size, rank=info.rank,
                                                   shuffle=True, seed=self.seed)
        else:
            self.order_gen = torch.Generator()
            self.sampler = RandomSampler(train_set, generator=self.order_gen)
        self.loader = DataLoader(train_set, batch_size=int(t_cfg["batch_size"]), sampler=self.sampler,
                                 num_workers=int(cfg["data"]["workers"]),
                                 collate_fn=collate_frames if self.online else None, drop_last=False)
        self.steps_per_epoch = max(1, len(self.loader))
        self.meta = {"model": self.net.cfg.to_dict(), "input_shape": list(input_shape),
                     "encoder": enc_cfg.to_dict(), "array": array.to_dict(), "sample_rate_hz": int(fs),
                     "config": cfg, "code_revision": code_revision() if info.is_main else "unknown"}
        self.symm = FrameSymmetries(enc, self.net.cfg.n_azimuth)
        self.augment = bool(t_cfg["augment_symmetry"]) and len(self.symm) > 1
        if self.augment and info.is_main:
            log.info("symmetry augmentation: a random one of the array's %d symmetries per frame",
                     len(self.symm))
        self.title = f"MAA ({Path(cfg['out_dir']).name})"

    def checkpoint_meta(self) -> dict[str, Any]:
        return self.meta

    def same_run(self, ck: dict[str, Any]) -> bool:
        keys = ("workers", "cache_dir")
        return run_identity(ck["config"], keys) == run_identity(self.cfg, keys)

    def start_epoch(self, epoch: int) -> None:
        self.sym_rng = np.random.default_rng([self.seed, 17, self.info.rank, epoch])   # same after a resume
        if self.info.enabled:
            self.sampler.set_epoch(epoch)
        else:
            self.order_gen.manual_seed(self.seed * 100003 + epoch)   # same order after a resume
        if self.online:
            self.train_set.set_epoch(epoch)

    def batches(self, epoch: int) -> Iterator[Any]:
        return iter(self.loader)

    def step(self, model: torch.nn.Module, batch: Any) -> Step | None:
        dev = self.info.device()
        x, az, *rest = batch
        x, az = x.to(dev), az.float().to(dev)
        teacher = rest[0].float().to(dev) if rest and self.distill > 0 else None
        if len(x) == 0:
            return None
        if self.augment:           # each frame becomes one of its symmetric scenes at random
            g = self.sym_rng.integers(len(self.symm), size=len(x))
            x = self.symm.apply(x, g)
            az = torch.from_numpy(self.symm.azimuth(az.cpu().numpy(), g).astype(np.float32)).to(dev)
            if teacher is not None:
                teacher = self.symm.posterior(teacher, g)
        y = model(x)
        if teacher is None:
            loss = soft_label_loss(y, az, self.sigma)
        else:                      # distillation: the teacher's posterior mixed into the soft label
            q = (1 - self.distill) * soft_labels(az, y.shape[-1], self.sigma) + self.distill * teacher
            loss = soft_target_loss(y, q)
        with torch.no_grad():
            err = circular_error_deg(predict_azimuth_deg(y.detach()), az)
        return Step(loss, len(x), {"train_loss": float(loss.detach()) * len(x),
                                   "train_acc5": float((err <= 5).sum())})

    def validate(self) -> dict[str, float]:
        return evaluate_frames(self.net, self.val_set, sigma_deg=self.sigma,
                               active_db=self.cfg["data"].get("active_db"))


def train(cfg: dict[str, Any], train_set: FrameSet | OnlineFrames | None = None,
          val_set: FrameSet | None = None, array: MicArray | None = None, fs: int | None = None,
          resume: bool = True, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) the network described by ``cfg`` (see :mod:`.config`).

    Args:
        cfg: pipeline config (dict; defaults filled by :func:`make_config`).
        train_set, val_set, array, fs: data given directly (tests, notebooks); when None they come
            from ``cfg["data"]`` (simulated, cached or on the fly).
        resume: continue from ``out_dir/last.pt`` when it exists and the config agrees.

    Returns: ``{"metrics": best validation metrics, "epoch": the run's number of epochs (``train.epochs``,
    or fewer when fitted to ``train.time_budget_s``), "out_dir", "model": the trained MAANet (last
    epoch, on the CPU), "history": the log rows, "dist": the DistInfo}``.
    """
    return fit_doa(make_config(cfg), MAATask, prepare_data, (train_set, val_set, array, fs), resume, progress)
