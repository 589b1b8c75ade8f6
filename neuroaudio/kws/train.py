"""Training a keyword model from a :class:`KWSConfig`: the KWS task of the shared loop
(:func:`neuroaudio.train.loop.fit`: seeds, resume, CSV log, curves, checkpoints, time budget).

Outputs in ``cfg.out_dir``: ``last.pt`` (every epoch, for ``resume``), ``model.pt`` (the epoch with
the best validation accuracy, with test metrics added at the end), ``log.csv`` (one row per
epoch), ``curve.png`` (learning curves), ``metrics.json`` and ``confusion.png`` (test split).

Loss: cross-entropy (label smoothing) + ``rate_weight`` · Σ_layers max(0, rate − rate_target)²,
which keeps the spiking layers sparse. AdamW with a per-step learning-rate schedule
(``train.schedule``: cosine decay, or one-cycle; :mod:`neuroaudio.kws.schedule`).
Augmentation per epoch is seeded by (seed, epoch), so a resumed run sees the same data; clip by
clip (``data.py``), or with ``train.augment.batch`` as tensor operations on whole batches on the
device (:mod:`neuroaudio.kws.augment`: packed clips, speed, placement, gain, white/pink noise,
several SpecAugment masks).
Device: ``train.device`` (``auto``: CUDA when available); clips are read and augmented on the CPU,
the front-end, SpecAugment masks, network and loss run on the device; checkpoints always hold CPU
tensors. ``train.time_budget_s`` fits the number of epochs to a wall-clock budget (see the config and
:mod:`neuroaudio.train.budget`).
Options (``train``): VTLP warp and mixup (``augment.vtlp``, ``augment.mixup``) and checkpoint
averaging (``average_last``: the saved model averages the weights of the last N epochs, BatchNorm
statistics re-estimated on the clean training clips).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..io_utils import atomic_path, write_json_atomic
from ..train.checkpoint import code_revision, cpu_copy
from ..train.loop import FitSettings, Step, Task, fit
from .augment import ClipBank, augment_batch, spec_masks, speed_band_warning
from .checkpoint import CHECKPOINT, KWSModel, read_checkpoint, save_checkpoint
from .config import KWSConfig, config_from_dict, config_to_dict
from .data import Splits, item_audio, load_splits, make_batch
from .evaluate import evaluate_items, plot_confusion
from .schedule import lr_at

log = logging.getLogger("neuroaudio")

LOG_FIELDS = ["epoch", "train_loss", "train_acc", "val_acc", "val_rate", "lr", "seconds", "cpu_seconds"]
"""``seconds``: wall clock; ``cpu_seconds``: this process's CPU time (fair under a shared, loaded CPU)."""


def spec_mask(feats: torch.Tensor, freq_mask: int, time_mask: int, gen: torch.Generator) -> torch.Tensor:
    """SpecAugment-style: one random band of ≤ freq_mask features and ≤ time_mask steps set to the
    clip's minimum (log-mel only). ``feats [B, F, T]`` on any device -> same shape.

    The band edges are drawn on the CPU from ``gen`` (per clip: frequency width, start, then time
    width, start), the masks applied in one vectorised ``where`` on ``feats``' device."""
    b, f, t = feats.shape
    edges = torch.zeros(4, b, dtype=torch.long)                     # f start, f width, t start, t width
    for i in range(b):
        if freq_mask > 0 and f > freq_mask:
            w = int(torch.randint(0, freq_mask + 1, (1,), generator=gen))
            edges[0, i], edges[1, i] = int(torch.randint(0, f - w + 1, (1,), generator=gen)), w
        if time_mask > 0 and t > time_mask:
            w = int(torch.randint(0, time_mask + 1, (1,), generator=gen))
            edges[2, i], edges[3, i] = int(torch.randint(0, t - w + 1, (1,), generator=gen)), w
    edges = edges.to(feats.device)
    fi = torch.arange(f, device=feats.device)
    ti = torch.arange(t, device=feats.device)
    in_f = (fi >= edges[0, :, None]) & (fi < (edges[0] + edges[1])[:, None])          # [B, F]
    in_t = (ti >= edges[2, :, None]) & (ti < (edges[2] + edges[3])[:, None])          # [B, T]
    low = feats.amin(dim=(1, 2))[:, None, None]
    return torch.where(in_f[:, :, None] | in_t[:, None, :], low, feats)


def resolve_device(name: str) -> torch.device:
    """``train.device`` -> a torch device: ``auto`` is CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"train.device is {name} but no CUDA device is available here: use "
                         "--set train.device=auto (or cpu)")
    return torch.device(name)


def device_name(dev: torch.device) -> str:
    """``cpu``, or ``cuda:N (<GPU name>)``: recorded with the metrics."""
    return f"{dev} ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else str(dev)


def plot_curves(rows: list[dict[str, Any]], path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    ax[0].plot(ep, [r["train_loss"] for r in rows])
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("training loss")
    ax[1].plot(ep, [100 * r["train_acc"] for r in rows], label="train")
    ax[1].plot(ep, [100 * r["val_acc"] for r in rows], label="validation")
    ax[1].plot(ep, [100 * r["val_rate"] for r in rows], "--", label="firing rate (%)")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("%")
    ax[1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def rate_penalty(spikes: list[torch.Tensor], target: float, weight: float) -> torch.Tensor | float:
    """The firing-rate term of the loss: ``weight * sum_l max(0, rate_l - target)**2`` over the
    spiking layers' spike tensors (rates as fractions); 0 without spikes or with weight 0."""
    if not spikes or weight <= 0:
        return 0.0
    excess = (torch.stack([s.mean() for s in spikes]) - target).clamp_min(0)
    return weight * excess.pow(2).sum()


class LrAtSchedule:
    """The KWS learning rate (:func:`.schedule.lr_at`: cosine or one-cycle over the run's steps), set
    before each optimiser step; nothing to save (it is a function of the step and the total)."""

    def __init__(self, opt: torch.optim.Optimizer, cfg: KWSConfig, total_steps: int):
        self.opt, self.t, self.total = opt, cfg.train, int(total_steps)

    def before_step(self, step: int) -> None:
        lr = lr_at(step, self.total, self.t.lr, self.t.schedule, self.t.warmup_frac)
        for g in self.opt.param_groups:
            g["lr"] = lr

    def after_step(self) -> None:
        """Nothing: the rate was set before the step."""

    def set_total(self, total_steps: int) -> None:
        self.total = int(total_steps)

    def state_dict(self) -> None:
        return None

    def load_state_dict(self, state: Any) -> None:
        """Nothing to restore."""


class KWSTask(Task):
    """Keyword spotting for :func:`neuroaudio.train.loop.fit` (module docstring): ``model.pt`` is the
    epoch with the best validation accuracy (ties: the later), or with ``train.average_last`` the
    averaged weights written after the run; one progress bar for the run; runs on ``dev`` alone."""

    checkpoint = CHECKPOINT
    log_fields = LOG_FIELDS
    select, lower_is_better = "val_acc", False
    plot_every = 10
    csv_float_format = ".6g"
    round_seconds = None
    epoch_metrics_json = False          # finish() writes metrics.json with the test split's numbers
    resume_mismatch = "restart"
    resume_log_level = logging.WARNING
    one_bar = True

    def __init__(self, cfg: KWSConfig, sp: Splits, dev: torch.device):
        self.cfg, self.sp, self.dev = cfg, sp, dev
        self.title = cfg.name
        fs = sp.fs
        self.clip = int(round(cfg.data.clip_s * fs))
        self.meta = {"config": config_to_dict(cfg), "labels": list(sp.labels), "sample_rate_hz": fs,
                     "clip_samples": self.clip, "code_revision": code_revision(), "metrics": {}, "epoch": 0,
                     # who the model heard (training and validation clips), so kws-evaluate can say when a
                     # test folder is not speaker-independent
                     "train_speakers": sorted({it.speaker for it in [*sp.train, *sp.val] if it.speaker})}
        self.model = KWSModel(self.meta).to(dev)
        self.net = self.model.net
        self.steps_per_epoch = math.ceil(len(sp.train) / cfg.train.batch_size)
        self.select_best = cfg.train.average_last <= 0
        self.avg: dict[str, torch.Tensor] | None = None
        self.n_avg = 0
        self.val_items = sp.val or sp.train[: max(1, len(sp.train) // 10)]
        self.bank = None
        aug = cfg.train.augment
        warn = speed_band_warning(cfg.frontend.kind, cfg.frontend.fmax_hz, fs, aug.speed)
        if warn and (aug.batch or aug.speed[1] > aug.speed[0]):   # the per-clip path: only when hi > lo
            log.warning(warn)

    def pack_clips(self) -> None:
        """With ``train.augment.batch``: the training clips packed once, augmented as batch tensors."""
        aug = self.cfg.train.augment
        if aug.batch:
            self.bank = ClipBank([item_audio(it, self.sp.fs) for it in self.sp.train],
                                 [it.label for it in self.sp.train], self.sp.fs, self.clip,
                                 self.cfg.data.placement, aug.speed[1]).to(self.dev)

    @property
    def module(self) -> torch.nn.Module:
        return self.model

    def checkpoint_meta(self) -> dict[str, Any]:
        return self.meta

    def same_run(self, ck: dict[str, Any]) -> bool:
        return _same_run(ck["config"], self.meta["config"]) and ck["labels"] == self.meta["labels"]

    def initial_best(self) -> dict[str, Any]:
        return {"val_acc": -1.0}

    def best_metrics(self, best: dict[str, Any]) -> dict[str, Any]:
        return {"val_accuracy": best["val_acc"], "val_firing_rate": best["val_rate"]}

    def resume_state(self, val: dict[str, float], best: dict[str, Any]) -> dict[str, Any]:
        extra = {"avg_state": self.avg, "avg_count": self.n_avg} if self.avg is not None else {}
        return {"best_val_acc": best["val_acc"], **extra}

    def load_resume_state(self, ck: dict[str, Any]) -> dict[str, Any]:
        self.avg, self.n_avg = ck.get("avg_state"), int(ck.get("avg_count", 0))
        return {"val_acc": float(ck.get("best_val_acc", -1.0))}

    def start_epoch(self, epoch: int) -> None:
        seed = self.cfg.seed
        self.rng = np.random.default_rng([seed, epoch])
        self.gen = torch.Generator().manual_seed(seed * 100003 + epoch)
        self.gen_aug = torch.Generator().manual_seed(seed * 100003 + epoch + 7919 * 1000003)
        self.order = self.rng.permutation(len(self.sp.train))

    def batches(self, epoch: int) -> Iterable[int]:
        return range(self.steps_per_epoch)

    def step(self, model: torch.nn.Module, b: int) -> Step:
        cfg, aug, dev, rng = self.cfg, self.cfg.train.augment, self.dev, self.rng
        bs = cfg.train.batch_size
        sel = self.order[b * bs:(b + 1) * bs]
        batch = [self.sp.train[i] for i in sel]
        if self.bank is not None:
            ib = torch.from_numpy(sel)
            xt, yt = augment_batch(self.bank, ib, aug, self.gen_aug), self.bank.labels[ib.to(dev)]
        else:
            x, y = make_batch(batch, self.sp.fs, self.clip, aug, rng)
            xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
        warp = None
        if cfg.frontend.kind == "logmel" and aug.vtlp[1] > aug.vtlp[0]:
            warp = torch.from_numpy(rng.uniform(aug.vtlp[0], aug.vtlp[1], len(batch))).to(dev)
        feats = self.model.frontend(xt, warp)
        if cfg.frontend.kind == "logmel" and aug.batch:
            feats = spec_masks(feats, aug.freq_masks, aug.freq_mask, aug.time_masks, aug.time_mask, self.gen)
        elif cfg.frontend.kind == "logmel":
            feats = spec_mask(feats, aug.freq_mask, aug.time_mask, self.gen)
        lam, perm = 1.0, None
        if aug.mixup > 0:
            lam = float(rng.beta(aug.mixup, aug.mixup))
            perm = torch.from_numpy(rng.permutation(len(batch))).to(dev)
            feats = lam * feats + (1 - lam) * feats[perm]
        logits, spikes = self.model.net(feats)
        ls = cfg.train.label_smoothing
        loss = lam * torch.nn.functional.cross_entropy(logits, yt, label_smoothing=ls)
        if perm is not None:
            loss = loss + (1 - lam) * torch.nn.functional.cross_entropy(logits, yt[perm], label_smoothing=ls)
        loss = loss + rate_penalty(spikes, cfg.train.rate_target, cfg.train.rate_weight)
        return Step(loss, len(batch), {"train_loss": float(loss.detach()) * len(batch),
                                       "train_acc": float(int((logits.argmax(-1) == yt).sum()))})

    def validate(self) -> dict[str, float]:
        ev = evaluate_items(self.model, self.val_items)
        return {"val_acc": ev["accuracy"], "val_rate": ev["mean_firing_rate"]}

    def progress_text(self, epoch: int, means: dict[str, float], val: dict[str, float] | None) -> str:
        if val is None:
            return f"epoch {epoch + 1} loss {means['train_loss']:.3f} acc {means['train_acc']:.3f}"
        return f"epoch {epoch + 1} val acc {val['val_acc']:.3f} rate {val['val_rate']:.3f}"

    def end_epoch(self, epoch: int, n_epochs: int, state: dict[str, torch.Tensor]) -> None:
        """``train.average_last``: the running mean of the last epochs' weights (float64)."""
        k = self.cfg.train.average_last
        if k > 0 and epoch >= n_epochs - k:
            self.n_avg += 1
            self.avg = ({n: v.double() for n, v in state.items()} if self.avg is None else
                        {n: self.avg[n] + (v.double() - self.avg[n]) / self.n_avg for n, v in state.items()})

    def plot(self, rows: list[dict[str, Any]], path: Path) -> None:
        plot_curves(rows, path, self.cfg.name)


def train(cfg: KWSConfig, resume: bool = True, progress: bool = True, splits: Splits | None = None
          ) -> dict[str, Any]:
    """Train (or resume) the model of ``cfg``; returns the final metrics (see module docstring)."""
    torch.set_num_threads(max(1, cfg.train.threads))
    torch.manual_seed(cfg.seed)
    dev = resolve_device(cfg.train.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sp = splits if splits is not None else load_splits(cfg.data, cfg.seed)
    task = KWSTask(cfg, sp, dev)
    opt = torch.optim.AdamW(task.net.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    task.pack_clips()
    sched = LrAtSchedule(opt, cfg, task.steps_per_epoch * cfg.train.epochs)
    res = fit(task, opt, sched, FitSettings(out, cfg.train.epochs, grad_clip=5.0,
                                            time_budget_s=cfg.train.time_budget_s, resume=resume,
                                            progress=progress))
    if cfg.train.average_last > 0 and task.avg is not None:
        _save_average(task.model, task.avg, task.n_avg, {**task.meta, "epoch": len(res.rows)}, sp, out,
                      task.val_items)
    return finish(cfg, sp, out, res.rows)


@torch.no_grad()
def _save_average(model: KWSModel, avg: dict[str, torch.Tensor], n_avg: int, ck: dict[str, Any],
                  sp: Splits, out: Path, val_items) -> None:
    """model.pt = the averaged weights, BatchNorm running statistics re-estimated (cumulative
    average) on the clean training clips, validated like an epoch."""
    ref = model.net.state_dict()
    model.net.load_state_dict({k: v.to(ref[k].dtype) for k, v in avg.items()})
    bns = [m for m in model.net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    bs = int(ck["config"]["train"]["batch_size"])
    dev = next(model.net.parameters()).device
    for i in range(0, len(sp.train), bs):
        x, _ = make_batch(sp.train[i:i + bs], sp.fs, int(ck["clip_samples"]),
                          placement=model.cfg.data.placement)
        model.net(model.frontend(torch.from_numpy(x).to(dev)))
    for m in bns:
        m.momentum = 0.1
    ev = evaluate_items(model, val_items)
    state = cpu_copy(model.net.state_dict())
    save_checkpoint(out / "model.pt", {**ck, "state_dict": state, "epoch": ck["epoch"],
                                       "metrics": {"val_accuracy": ev["accuracy"],
                                                   "val_firing_rate": ev["mean_firing_rate"],
                                                   "averaged_epochs": n_avg}})


def _same_run(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Configs equal up to ``name``, ``out_dir``, ``train.epochs`` (a run may be moved, or extended by
    resuming with more epochs; the cosine schedule then follows the new total) and where it runs
    (``train.device``, ``threads``, ``time_budget_s``: a run may resume on another machine)."""
    where = ("epochs", "device", "threads", "time_budget_s")

    def strip(c):
        c = config_to_dict(config_from_dict(c))      # fields added since the checkpoint: their defaults
        return {**{k: v for k, v in c.items() if k not in ("name", "out_dir")},
                "train": {k: v for k, v in c["train"].items() if k not in where}}

    return strip(a) == strip(b)


def finish(cfg: KWSConfig, sp: Splits, out: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Evaluate the best model on the test split; store metrics in ``model.pt`` and ``metrics.json``."""
    best = read_checkpoint(out / "model.pt")
    dev = resolve_device(cfg.train.device)
    model = KWSModel(best).to(dev)
    model.net.load_state_dict(best["state_dict"])
    metrics: dict[str, Any] = dict(best["metrics"])
    metrics["epochs"] = len(rows)
    metrics["train_seconds"] = float(sum(r["seconds"] for r in rows))
    metrics["train_cpu_seconds"] = float(sum(r.get("cpu_seconds", 0.0) for r in rows))
    metrics["n_params"] = int(sum(p.numel() for p in model.net.parameters()))
    metrics["device"] = device_name(dev)
    metrics["n_train"], metrics["n_val"], metrics["n_test"] = len(sp.train), len(sp.val), len(sp.test)
    if sp.test:
        ev = evaluate_items(model, sp.test)
        metrics.update({"test_accuracy": ev["accuracy"], "test_firing_rates": ev["firing_rates"],
                        "test_mean_firing_rate": ev["mean_firing_rate"],
                        "test_energy_pj_per_clip": ev["energy_pj_per_clip"],
                        "test_energy_dense_pj_per_clip": ev["energy_dense_pj_per_clip"],
                        "test_confusion": ev["confusion"]})
        plot_confusion(ev["confusion"], sp.labels, out / "confusion.png", title=cfg.name)
    save_checkpoint(out / "model.pt", {**best, "metrics": metrics})
    write_json_atomic(out / "metrics.json", {"name": cfg.name, "labels": sp.labels, **metrics})
    return metrics
