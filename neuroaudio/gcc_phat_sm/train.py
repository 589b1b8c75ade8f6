"""Training GCC-PHAT-SM (or the unmasked gcc-phat-mlp) from a pipeline config.

The GCC-PHAT-SM task of the shared loop (:func:`neuroaudio.train.loop.fit`), with the MAA trainer's
conventions (:mod:`neuroaudio.maa.train`): outputs in ``out_dir`` —
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..angles import circular_error_deg_torch as circular_error_deg
from ..arrays import MicArray
from ..errors import InputError
from ..train import distributed as D
from ..train.checkpoint import code_revision
from ..train.doa_loss import soft_label_loss
from ..train.doa_metrics import DOA_METRIC_KEYS, doa_metrics
from ..train.loop import Step, Task, fit_doa
from ..train.optim import run_identity
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


class GccSmTask(Task):
    """GCC-PHAT-SM for :func:`neuroaudio.train.loop.fit` (module docstring): ``model.pt`` is the
    epoch with the lowest validation clip MAE."""

    checkpoint = C.CHECKPOINT
    log_fields = LOG_FIELDS
    select = "val_clip_mae"
    curve_loss_keys = ("train_doa_loss", "val_loss", "train_mask_loss")
    curve_metric_keys = ("train_acc5", "val_acc5", "val_acc10")

    def __init__(self, cfg: dict[str, Any], train_set: FrameData, val_set: FrameData, array: MicArray,
                 fs: int, info: D.DistInfo):
        self.cfg, self.info, self.train_set, self.val_set = cfg, info, train_set, val_set
        t_cfg = cfg["train"]
        self.seed, self.sigma = int(t_cfg["seed"]), float(t_cfg["sigma_deg"])
        feat = FeatureConfig.from_dict(cfg["features"])
        front = GccFrontEnd(array, fs, feat)
        if train_set.cr.shape[2:] != (len(front.bins), len(front.pairs)):
            raise InputError(f"training frames have {list(train_set.cr.shape[2:])} [bins, pairs]; the "
                             f"features config gives {[len(front.bins), len(front.pairs)]}: rebuild the "
                             "cache")
        mcfg = ModelConfig.from_dict(cfg["model"])
        self.net = GccSmNet(mcfg, front.cos, front.sin, front.symmetry_tables(mcfg.n_azimuth))
        self.net.to(info.device())
        syms = front.usable_symmetries(mcfg.n_azimuth)
        self.n_sym = len(syms)
        self.sym_rot = np.array([s.rot_deg for s in syms], np.float32)
        self.sym_mirror = np.array([s.mirror for s in syms])
        self.augment = bool(t_cfg["augment_symmetry"]) and len(syms) > 1
        mode = t_cfg["mask_training"]
        self.irm_w = float(t_cfg["irm_weight"]) if (mcfg.use_mask and mode in ("irm", "joint")) else 0.0
        self.detach = mcfg.use_mask and mode == "irm"
        self.bs = int(t_cfg["batch_size"])
        self.n = len(train_set)
        if self.n == 0:
            raise InputError("no training frames (all clips silent?); check data.sim and data.min_speech_db")
        my_idx = np.arange(info.rank, self.n, info.world_size)
        self.steps_per_epoch = max(1, -(-len(my_idx) // self.bs))
        self.meta = {"model": mcfg.to_dict(), "features": feat.to_dict(), "array": array.to_dict(),
                     "sample_rate_hz": int(fs), "config": cfg,
                     "code_revision": code_revision() if info.is_main else "unknown"}
        self.title = f"GCC-PHAT-SM ({Path(cfg['out_dir']).name}, mask: {mode if mcfg.use_mask else 'none'})"

    def checkpoint_meta(self) -> dict[str, Any]:
        return self.meta

    def same_run(self, ck: dict[str, Any]) -> bool:
        return run_identity(ck["config"], ("cache_dir",)) == run_identity(self.cfg, ("cache_dir",))

    def start_epoch(self, epoch: int) -> None:
        self.rng = np.random.default_rng(self.seed * 100003 + epoch)     # same order after a resume
        order = np.arange(self.n)[self.rng.permutation(self.n)]
        self.order = order[self.info.rank::self.info.world_size]
        torch.manual_seed(self.seed * 1000003 + epoch)              # dropout masks

    def batches(self, epoch: int) -> Iterator[np.ndarray]:
        for s in range(0, len(self.order), self.bs):
            yield np.sort(self.order[s:s + self.bs])

    def step(self, model: torch.nn.Module, idx: np.ndarray) -> Step:
        dev = self.info.device()
        lp, cr, ci, irm, az = (t.to(dev) for t in self.train_set.batch(idx))
        sym = None
        if self.augment:   # a random symmetric scene per frame (drawn from the epoch's rng)
            g = self.rng.integers(self.n_sym, size=len(idx))
            a = az.cpu().numpy()
            az = torch.from_numpy(np.mod(self.sym_rot[g] + np.where(self.sym_mirror[g], -a, a), 360.0)
                                  .astype(np.float32)).to(dev)
            sym = torch.from_numpy(g).to(dev)
        y, m = model(lp, cr, ci, detach_mask=self.detach, sym=sym)
        doa = soft_label_loss(y[None], az, self.sigma)
        mloss = (F.binary_cross_entropy(m, irm) if (self.irm_w and m is not None)
                 else torch.zeros((), device=dev))
        loss = doa + self.irm_w * mloss
        with torch.no_grad():
            hits = float((circular_error_deg(predict_deg(y.detach()), az) <= 5).sum())
        k = len(idx)
        return Step(loss, k, {"train_loss": float(loss.detach()) * k,
                              "train_doa_loss": float(doa.detach()) * k,
                              "train_mask_loss": float(mloss.detach()) * k, "train_acc5": hits})

    def validate(self) -> dict[str, float]:
        return evaluate_frames(self.net, self.val_set, sigma_deg=self.sigma)


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
    return fit_doa(make_config(cfg), GccSmTask, prepare_data, (train_set, val_set, array, fs), resume,
                   progress)
