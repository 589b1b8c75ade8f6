"""Training MAA from a pipeline config: seeds, resume, CSV log, curve, checkpoints, DDP.

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

Metrics are per frame (each 170-ms frame's argmax of the time-averaged output) and per clip
(``val_clip_mae``: the time- and frame-averaged softmax of all frames of a clip).
"""

from __future__ import annotations

import logging
import math
import time
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
from ..io_utils import write_json_atomic
from ..train import distributed as D
from ..train.budget import fit_epochs, resumed_epochs
from ..train.checkpoint import code_revision, cpu_copy
from ..train.doa_loss import predict_azimuth_deg, soft_label_loss
from ..train.doa_metrics import DOA_METRIC_KEYS, doa_metrics
from ..train.logging_io import epoch_progress, plot_learning_curve, write_csv_log
from ..train.optim import adamw_cosine, resume_from, set_total_steps
from ..train.seeding import seed_everything
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

    pick = {"active_db": d["active_db"], "frames_per_clip": d["frames_per_clip"]}

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
    cfg = make_config(cfg)
    info = D.init_distributed()
    t_cfg = cfg["train"]
    seed_everything(int(t_cfg["seed"]))
    if train_set is None:
        train_set, val_set, array, fs = prepare_data(cfg, info, progress)
    if array is None or fs is None or val_set is None:
        raise InputError("train(): give array, fs and val_set together with train_set")
    enc_cfg = RFPLCConfig(**cfg["encoder"])
    enc = RFPLCEncoder(array, enc_cfg, fs)
    input_shape = (len(enc.pairs), len(enc.delays_samples), enc_cfg.n_bands)
    frame_shape = (enc_cfg.steps, *input_shape)
    if tuple(val_set.frame_shape) != frame_shape:
        raise InputError(f"validation frames of shape {list(val_set.frame_shape)} do not match the encoder "
                         f"config ({list(frame_shape)}); rebuild the cache with the same encoder settings")

    net = MAANet(MAAConfig.from_dict(cfg["model"]), *input_shape).to(info.device())
    model = D.wrap_model(net, info)
    online = isinstance(train_set, OnlineFrames)
    bs = int(t_cfg["batch_size"])
    if info.enabled:
        sampler = DistributedSampler(train_set, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                     seed=int(t_cfg["seed"]))
    else:
        order_gen = torch.Generator()
        sampler = RandomSampler(train_set, generator=order_gen)
    loader = DataLoader(train_set, batch_size=bs, sampler=sampler, num_workers=int(cfg["data"]["workers"]),
                        collate_fn=collate_frames if online else None, drop_last=False)
    epochs = int(t_cfg["epochs"])
    n_epochs = epochs                     # lowered by train.time_budget_s when it would not fit
    budget_s = float(t_cfg["time_budget_s"])
    steps_per_epoch = max(1, len(loader))
    opt, sched = adamw_cosine(net.parameters(), t_cfg, epochs * steps_per_epoch)

    out = Path(cfg["out_dir"])
    rows: list[dict[str, Any]] = []
    start, best = 0, {"val_mae": math.inf}
    last = out / "last.pt"
    if resume and last.is_file():
        prev = C.read(last)
        rows, start, best = resume_from(last, cfg, lambda _: prev, net, opt, sched, best,
                                        ("workers", "cache_dir"), verbose=info.is_main)
        n_epochs = resumed_epochs(prev, epochs)          # a run cut to its time budget stays cut
        set_total_steps(sched, n_epochs * steps_per_epoch)
        del prev

    base_meta = {"model": net.cfg.to_dict(), "input_shape": list(input_shape), "encoder": enc_cfg.to_dict(),
                 "array": array.to_dict(), "sample_rate_hz": int(fs), "config": cfg,
                 "code_revision": code_revision() if info.is_main else "unknown"}
    sigma = float(t_cfg["sigma_deg"])
    dev = info.device()
    symm = FrameSymmetries(enc, net.cfg.n_azimuth)
    augment = bool(t_cfg["augment_symmetry"]) and len(symm) > 1
    if augment and info.is_main:
        log.info("symmetry augmentation: a random one of the array's %d symmetries per frame", len(symm))
    t_run = time.time()                   # the budget counts the training loop (data and model are ready)
    checked: list[float] = []             # s into the run at each epoch's budget check
    for epoch in range(start, epochs):
        if epoch >= n_epochs:
            break
        t0, c0 = time.time(), time.process_time()
        sym_rng = np.random.default_rng([int(t_cfg["seed"]), 17, info.rank, epoch])   # same after a resume
        if info.enabled:
            sampler.set_epoch(epoch)
        else:
            order_gen.manual_seed(int(t_cfg["seed"]) * 100003 + epoch)   # same order after a resume
        if online:
            train_set.set_epoch(epoch)
        model.train()
        loss_sum = n_sum = hit_sum = 0.0
        with epoch_progress(progress and info.is_main) as bar:
            task = bar.add_task(f"epoch {epoch + 1}/{n_epochs}", total=steps_per_epoch)
            for x, az in loader:
                x, az = x.to(dev), az.float().to(dev)
                if len(x) == 0:
                    bar.advance(task)
                    continue
                if augment:           # each frame becomes one of its symmetric scenes at random
                    g = sym_rng.integers(len(symm), size=len(x))
                    x = symm.apply(x, g)
                    az = torch.from_numpy(symm.azimuth(az.cpu().numpy(), g).astype(np.float32)).to(dev)
                y = model(x)
                loss = soft_label_loss(y, az, sigma)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if t_cfg["grad_clip"]:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), float(t_cfg["grad_clip"]))
                opt.step()
                sched.step()
                with torch.no_grad():
                    err = circular_error_deg(predict_azimuth_deg(y.detach()), az)
                loss_sum += float(loss.detach()) * len(x)
                hit_sum += float((err <= 5).sum())
                n_sum += len(x)
                bar.advance(task)
        loss_sum, hit_sum, n_sum = D.all_reduce_sum([loss_sum, hit_sum, n_sum], info)
        D.broadcast_buffers(model, info)
        val = evaluate_frames(net, val_set, sigma_deg=sigma, active_db=cfg["data"].get("active_db"))
        row = {"epoch": epoch + 1, "train_loss": loss_sum / max(n_sum, 1),
               "train_acc5": hit_sum / max(n_sum, 1),
               **val, "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0, 2),
               "cpu_seconds": round(time.process_time() - c0, 2)}
        rows.append(row)
        improved = val["val_mae"] < best.get("val_mae", math.inf) or not math.isfinite(best["val_mae"])
        if improved:
            best = {**val, "epoch": epoch + 1}
        if budget_s > 0:
            # an epoch's wall time: from the previous epoch's check to this one (its training and
            # validation, and the previous epoch's checkpoint and plot), so the fit leaves room for all
            checked.append(time.time() - t_run)
            took = [{"seconds": b - a} for a, b in zip([0.0, *checked[:-1]], checked, strict=True)]
            fitted = fit_epochs(budget_s, checked[-1], epoch, start, took, n_epochs)
            n_epochs = int(D.all_reduce_sum([fitted if info.is_main else 0], info)[0])   # rank 0 decides
            set_total_steps(sched, n_epochs * steps_per_epoch)
        if info.is_main:
            state = cpu_copy(net.state_dict())
            meta = {**base_meta, "state_dict": state, "metrics": val, "epoch": epoch + 1}
            if improved:
                C.save(out / "model.pt", {**meta, "metrics": best})
            C.save(last, {**meta, "optimizer": cpu_copy(opt.state_dict()), "scheduler": sched.state_dict(),
                          "history": rows, "best": best, "epochs_fitted": n_epochs})
            write_csv_log(out / "log.csv", rows, LOG_FIELDS)
            plot_learning_curve(rows, out / "curve.png", f"MAA ({out.name})",
                                loss_keys=("train_loss", "val_loss"),
                                metric_keys=("train_acc5", "val_acc5", "val_acc10"), metric_label="accuracy")
            write_json_atomic(out / "metrics.json", {"best": best, "last": row})
            log.info("epoch %d/%d: %s", epoch + 1, n_epochs, {k: round(v, 4) if isinstance(v, float) else v
                                                              for k, v in row.items()})
        D.barrier(info)
    return {"metrics": best, "epoch": n_epochs, "out_dir": str(out), "model": net.cpu().eval(),
            "history": rows, "dist": info}
