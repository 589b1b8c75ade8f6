"""Training GCC-PHAT-SM (or the unmasked gcc-phat-mlp) from a pipeline config.

Same conventions as the MAA trainer (:mod:`neuroaudio.maa.train`): outputs in ``out_dir`` —
``last.pt`` (every epoch, for resume), ``model.pt`` (the epoch with the lowest validation clip
MAE), ``log.csv`` (one row per epoch), ``curve.png``, ``metrics.json``; seeds; a per-epoch
sample order seeded by (seed, epoch) so that a resumed run reaches the same weights as an
unbroken one; AdamW with a cosine learning-rate decay per step; progress bars; data-parallel under
``torchrun`` through :mod:`neuroaudio.train.distributed`.

Loss: ``CE(soft labels, logits) + irm_weight · BCE(mask, IRM)``. ``train.mask_training``:

- ``irm``: the mask learns only from the IRM; the classifier is trained on features computed with
  the mask detached (the DOA loss does not reach the mask). Done in one pass rather than two
  stages (mask first, classifier after), so all three modes cost the same; the classifier sees the
  mask as it improves.
- ``e2e``: no IRM loss; the mask learns only through the DOA loss.
- ``joint``: both losses reach the mask.

Metrics (validation), from the posterior averaged over the array's symmetric scenes (as the
localizer computes it): per frame ``val_mae``, ``val_acc5``, ``val_acc10``; per clip
``val_clip_mae`` (posterior averaged over a clip's frames); ``val_mask_mse`` (mask vs IRM);
``val_loss`` is the soft-label cross-entropy of the plain logits.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..angles import circular_error_deg_torch as circular_error_deg
from ..angles import wrap_deg
from ..arrays import MicArray
from ..errors import InputError
from ..io_utils import write_json_atomic
from ..train import distributed as D
from ..train.checkpoint import code_revision, cpu_copy
from ..train.doa_loss import soft_label_loss
from ..train.doa_metrics import DOA_METRIC_KEYS, doa_metrics
from ..train.logging_io import epoch_progress, plot_learning_curve, write_csv_log
from ..train.optim import adamw_cosine, resume_from
from ..train.seeding import seed_everything
from . import checkpoint as C
from .config import make_config
from .data import FrameData, build_frames, scenario_configs
from .features import FeatureConfig, GccFrontEnd
from .model import GccSmNet, ModelConfig

log = logging.getLogger("neuroaudio")

LOG_FIELDS = ["epoch", "train_loss", "train_doa_loss", "train_mask_loss", "train_acc5", "val_loss", "val_mae",
              "val_acc5", "val_acc10", "val_clip_mae", "val_mask_mse", "lr", "seconds", "cpu_seconds"]


def predict_deg(logits: torch.Tensor) -> torch.Tensor:
    """``[n, n_az]`` → ``[n]`` degrees (argmax)."""
    return logits.argmax(-1).float() * (360.0 / logits.shape[-1])


@torch.no_grad()
def evaluate_frames(net: GccSmNet, data: FrameData, batch_size: int = 256, sigma_deg: float = 5.0
                    ) -> dict[str, float]:
    """Validation metrics of ``net`` on ``data`` (module docstring)."""
    was = net.training
    net.eval()
    losses, errs, probs, mse = [], [], [], []
    dev = next(net.parameters()).device
    for s in range(0, len(data), batch_size):
        idx = np.arange(s, min(len(data), s + batch_size))
        lp, cr, ci, irm, az = (t.to(dev) for t in data.batch(idx))
        y, m = net(lp, cr, ci)
        prob, _ = net.predict_proba(lp, cr, ci)       # averaged over the symmetric scenes
        losses.append(float(soft_label_loss(y[None], az, sigma_deg)) * len(idx))
        errs.append(circular_error_deg(predict_deg(prob), az).cpu().numpy())
        probs.append(prob.cpu().numpy())
        if m is not None:
            mse.append(float(((m - irm) ** 2).mean()) * len(idx))
    net.train(was)
    if not errs:
        return {"val_loss": math.nan, **dict.fromkeys(DOA_METRIC_KEYS, math.nan), "val_mask_mse": math.nan}
    e, p = np.concatenate(errs), np.concatenate(probs)
    return {"val_loss": sum(losses) / len(data), **doa_metrics(e, p, data.clip, data.azimuth_deg),
            "val_mask_mse": sum(mse) / len(data) if mse else math.nan}


def prepare_data(cfg: dict[str, Any], info: D.DistInfo, progress: bool
                 ) -> tuple[FrameData, FrameData, MicArray, int]:
    """Training and validation frames (simulated once into the cache), array and rate."""
    d = cfg["data"]
    feat = FeatureConfig.from_dict(cfg["features"])
    cache = Path(d["cache_dir"])

    def build(split: str, n: int, seed: int) -> FrameData:
        sims = scenario_configs(d["sim"], d["noise_scenarios"], seed)
        return build_frames(sims, n, feat, cache / split, min_speech_db=float(d["min_speech_db"]),
                            progress=progress and info.is_main)

    val = D.main_rank_first(info, lambda: build("val", int(d["val_clips"]), int(d["val_seed"])))
    tr = D.main_rank_first(info, lambda: build("train", int(d["train_clips"]), int(d["train_seed"])))
    sc = scenario_configs(d["sim"], d["noise_scenarios"], int(d["val_seed"]))[0]
    return tr, val, sc.array.load(), sc.fs


def train(cfg: dict[str, Any], train_set: FrameData | None = None, val_set: FrameData | None = None,
          array: MicArray | None = None, fs: int | None = None, resume: bool = True,
          progress: bool = True) -> dict[str, Any]:
    """Train (or resume) the model described by ``cfg`` (see :mod:`.config`).

    Args:
        cfg: pipeline config (defaults filled by :func:`make_config`).
        train_set, val_set, array, fs: data given directly (tests, notebooks); when None they come
            from ``cfg["data"]`` (simulated and cached).
        resume: continue from ``out_dir/last.pt`` when it exists and the config agrees.

    Returns: ``{"metrics": best validation metrics, "epoch", "out_dir", "model" (last epoch),
    "history", "dist"}``.
    """
    cfg = make_config(cfg)
    info = D.init_distributed()
    t_cfg = cfg["train"]
    seed = int(t_cfg["seed"])
    seed_everything(seed)
    if train_set is None:
        train_set, val_set, array, fs = prepare_data(cfg, info, progress)
    if array is None or fs is None or val_set is None:
        raise InputError("train(): give array, fs and val_set together with train_set")
    feat = FeatureConfig.from_dict(cfg["features"])
    front = GccFrontEnd(array, fs, feat)
    if train_set.cr.shape[2:] != (len(front.bins), len(front.pairs)):
        raise InputError(f"training frames have {list(train_set.cr.shape[2:])} [bins, pairs]; the features "
                         f"config gives {[len(front.bins), len(front.pairs)]}: rebuild the cache")
    mcfg = ModelConfig.from_dict(cfg["model"])
    net = GccSmNet(mcfg, front.cos, front.sin, front.symmetry_tables(mcfg.n_azimuth)).to(info.device())
    syms = front.usable_symmetries(mcfg.n_azimuth)
    sym_rot = np.array([s.rot_deg for s in syms], np.float32)
    sym_mirror = np.array([s.mirror for s in syms])
    augment = bool(t_cfg["augment_symmetry"]) and len(syms) > 1
    model = D.wrap_model(net, info)
    mode = t_cfg["mask_training"]
    irm_w = float(t_cfg["irm_weight"]) if (mcfg.use_mask and mode in ("irm", "joint")) else 0.0
    detach = mcfg.use_mask and mode == "irm"
    bs = int(t_cfg["batch_size"])
    n = len(train_set)
    if n == 0:
        raise InputError("no training frames (all clips silent?); check data.sim and data.min_speech_db")
    my_idx = np.arange(info.rank, n, info.world_size)
    steps_per_epoch = max(1, -(-len(my_idx) // bs))
    epochs = int(t_cfg["epochs"])
    opt, sched = adamw_cosine(net.parameters(), t_cfg, epochs * steps_per_epoch)

    out = Path(cfg["out_dir"])
    rows: list[dict[str, Any]] = []
    start, best = 0, {"val_clip_mae": math.inf}
    last = out / "last.pt"
    if resume and last.is_file():
        rows, start, best = resume_from(last, cfg, C.read, net, opt, sched, best, ("cache_dir",),
                                        verbose=info.is_main)

    base_meta = {"model": mcfg.to_dict(), "features": feat.to_dict(), "array": array.to_dict(),
                 "sample_rate_hz": int(fs), "config": cfg,
                 "code_revision": code_revision() if info.is_main else "unknown"}
    sigma = float(t_cfg["sigma_deg"])
    dev = info.device()
    for epoch in range(start, epochs):
        t0, c0 = time.time(), time.process_time()
        rng = np.random.default_rng(seed * 100003 + epoch)     # same order after a resume
        order = np.arange(n)[rng.permutation(n)]
        order = order[info.rank::info.world_size]
        torch.manual_seed(seed * 1000003 + epoch)              # dropout masks
        model.train()
        sums = np.zeros(5)   # loss, doa, mask, hits, count
        with epoch_progress(progress and info.is_main) as bar:
            task = bar.add_task(f"epoch {epoch + 1}/{epochs}", total=steps_per_epoch)
            for s in range(0, len(order), bs):
                idx = np.sort(order[s:s + bs])
                lp, cr, ci, irm, az = (t.to(dev) for t in train_set.batch(idx))
                sym = None
                if augment:   # a random symmetric scene per frame (drawn from the epoch's rng)
                    g = rng.integers(len(syms), size=len(idx))
                    a = az.cpu().numpy()
                    az = torch.from_numpy(wrap_deg(sym_rot[g] + np.where(sym_mirror[g], -a, a))
                                          .astype(np.float32)).to(dev)
                    sym = torch.from_numpy(g).to(dev)
                y, m = model(lp, cr, ci, detach_mask=detach, sym=sym)
                doa = soft_label_loss(y[None], az, sigma)
                mloss = (F.binary_cross_entropy(m, irm) if (irm_w and m is not None)
                         else torch.zeros((), device=dev))
                loss = doa + irm_w * mloss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if t_cfg["grad_clip"]:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), float(t_cfg["grad_clip"]))
                opt.step()
                sched.step()
                with torch.no_grad():
                    hits = float((circular_error_deg(predict_deg(y.detach()), az) <= 5).sum())
                k = len(idx)
                sums += [float(loss.detach()) * k, float(doa.detach()) * k, float(mloss.detach()) * k,
                         hits, k]
                bar.advance(task)
        sums = np.asarray(D.all_reduce_sum(sums.tolist(), info))
        val = evaluate_frames(net, val_set, sigma_deg=sigma)
        cnt = max(sums[4], 1)
        row = {"epoch": epoch + 1, "train_loss": float(sums[0] / cnt), "train_doa_loss": float(sums[1] / cnt),
               "train_mask_loss": float(sums[2] / cnt), "train_acc5": float(sums[3] / cnt), **val,
               "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0, 2),
               "cpu_seconds": round(time.process_time() - c0, 2)}
        rows.append(row)
        improved = (val["val_clip_mae"] < best.get("val_clip_mae", math.inf)
                    or not math.isfinite(best["val_clip_mae"]))
        if improved:
            best = {**val, "epoch": epoch + 1}
        if info.is_main:
            state = cpu_copy(net.state_dict())
            meta = {**base_meta, "state_dict": state, "metrics": val, "epoch": epoch + 1}
            if improved:
                C.save(out / "model.pt", {**meta, "metrics": best})
            C.save(last, {**meta, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                          "history": rows, "best": best})
            write_csv_log(out / "log.csv", rows, LOG_FIELDS)
            plot_learning_curve(rows, out / "curve.png", f"GCC-PHAT-SM ({out.name}, mask: "
                                f"{mode if mcfg.use_mask else 'none'})",
                                loss_keys=("train_doa_loss", "val_loss", "train_mask_loss"),
                                metric_keys=("train_acc5", "val_acc5", "val_acc10"), metric_label="accuracy")
            write_json_atomic(out / "metrics.json", {"best": best, "last": row})
            log.info("epoch %d: %s", epoch + 1, {k: round(v, 4) if isinstance(v, float) else v
                                                  for k, v in row.items()})
        D.barrier(info)
    return {"metrics": best, "epoch": epochs, "out_dir": str(out), "model": net.cpu().eval(),
            "history": rows, "dist": info}
