"""Training a keyword model from a :class:`KWSConfig`: seeds, resume, CSV log, curves, checkpoints.

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

import csv
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..io_utils import atomic_path, write_json_atomic
from ..train.budget import fit_epochs as _fit_epochs  # the name tests/test_kws_device.py imports
from ..train.budget import resumed_epochs
from ..train.checkpoint import code_revision, cpu_copy
from ..train.logging_io import epoch_progress
from .augment import ClipBank, augment_batch, spec_masks
from .checkpoint import KWSModel, read_checkpoint, save_checkpoint
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


def train(cfg: KWSConfig, resume: bool = True, progress: bool = True, splits: Splits | None = None
          ) -> dict[str, Any]:
    """Train (or resume) the model of ``cfg``; returns the final metrics (see module docstring)."""
    torch.set_num_threads(max(1, cfg.train.threads))
    torch.manual_seed(cfg.seed)
    dev = resolve_device(cfg.train.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sp = splits if splits is not None else load_splits(cfg.data, cfg.seed)
    fs = sp.fs
    clip = int(round(cfg.data.clip_s * fs))
    ck = {"config": config_to_dict(cfg), "labels": list(sp.labels), "sample_rate_hz": fs,
          "clip_samples": clip, "code_revision": code_revision(), "metrics": {}, "epoch": 0,
          # who the model heard (training and validation clips), so kws-evaluate can say when a
          # test folder is not speaker-independent
          "train_speakers": sorted({it.speaker for it in [*sp.train, *sp.val] if it.speaker})}
    model = KWSModel(ck).to(dev)
    opt = torch.optim.AdamW(model.net.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    rows: list[dict[str, Any]] = []
    best = -1.0
    start = 0
    n_epochs = cfg.train.epochs                  # lowered by train.time_budget_s when it would not fit
    avg: dict[str, torch.Tensor] | None = None
    n_avg = 0
    last = out / "last.pt"
    if resume and last.is_file():
        prev = read_checkpoint(last)
        if _same_run(prev["config"], ck["config"]) and prev["labels"] == ck["labels"]:
            model.net.load_state_dict(prev["state_dict"])
            opt.load_state_dict(prev["optimizer"])
            rows = list(prev.get("history", []))
            best = float(prev.get("best_val_acc", -1.0))
            start = int(prev["epoch"])
            avg, n_avg = prev.get("avg_state"), int(prev.get("avg_count", 0))
            n_epochs = resumed_epochs(prev, cfg.train.epochs)   # a run cut to its time budget stays cut
            log.warning("resuming %s at epoch %d", last, start)
        else:
            log.warning("%s was trained with another config; starting afresh", last)
    steps_per_epoch = math.ceil(len(sp.train) / cfg.train.batch_size)
    t_run = time.perf_counter()
    aug = cfg.train.augment
    val_items = sp.val or sp.train[: max(1, len(sp.train) // 10)]
    bank = None
    if aug.batch:                 # the training clips packed once, augmented as batch tensors
        bank = ClipBank([item_audio(it, fs) for it in sp.train], [it.label for it in sp.train], fs, clip,
                        cfg.data.placement, aug.speed[1]).to(dev)
    with epoch_progress(progress, info_field=True, transient=False) as bar:
        task = bar.add_task(cfg.name, total=steps_per_epoch * n_epochs, completed=start * steps_per_epoch,
                            info="")
        for epoch in range(start, cfg.train.epochs):
            if epoch >= n_epochs:
                break
            total = steps_per_epoch * n_epochs
            t0, c0 = time.perf_counter(), time.process_time()
            rng = np.random.default_rng([cfg.seed, epoch])
            gen = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
            gen_aug = torch.Generator().manual_seed(cfg.seed * 100003 + epoch + 7919 * 1000003)
            order = rng.permutation(len(sp.train))
            model.train()
            loss_sum, correct, seen = 0.0, 0, 0
            for b in range(steps_per_epoch):
                step = epoch * steps_per_epoch + b
                lr = lr_at(step, total, cfg.train.lr, cfg.train.schedule, cfg.train.warmup_frac)
                for g in opt.param_groups:
                    g["lr"] = lr
                sel = order[b * cfg.train.batch_size:(b + 1) * cfg.train.batch_size]
                batch = [sp.train[i] for i in sel]
                if bank is not None:
                    ib = torch.from_numpy(sel)
                    xt, yt = augment_batch(bank, ib, aug, gen_aug), bank.labels[ib.to(dev)]
                else:
                    x, y = make_batch(batch, fs, clip, aug, rng)
                    xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
                warp = None
                if cfg.frontend.kind == "logmel" and aug.vtlp[1] > aug.vtlp[0]:
                    warp = torch.from_numpy(rng.uniform(aug.vtlp[0], aug.vtlp[1], len(batch))).to(dev)
                feats = model.frontend(xt, warp)
                if cfg.frontend.kind == "logmel" and aug.batch:
                    feats = spec_masks(feats, aug.freq_masks, aug.freq_mask, aug.time_masks, aug.time_mask,
                                       gen)
                elif cfg.frontend.kind == "logmel":
                    feats = spec_mask(feats, aug.freq_mask, aug.time_mask, gen)
                lam, perm = 1.0, None
                if aug.mixup > 0:
                    lam = float(rng.beta(aug.mixup, aug.mixup))
                    perm = torch.from_numpy(rng.permutation(len(batch))).to(dev)
                    feats = lam * feats + (1 - lam) * feats[perm]
                logits, spikes = model.net(feats)
                ls = cfg.train.label_smoothing
                loss = lam * torch.nn.functional.cross_entropy(logits, yt, label_smoothing=ls)
                if perm is not None:
                    loss = loss + (1 - lam) * torch.nn.functional.cross_entropy(logits, yt[perm],
                                                                                label_smoothing=ls)
                loss = loss + rate_penalty(spikes, cfg.train.rate_target, cfg.train.rate_weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.net.parameters(), 5.0)
                opt.step()
                loss_sum += float(loss.detach()) * len(batch)
                correct += int((logits.argmax(-1) == yt).sum())
                seen += len(batch)
                bar.update(task, advance=1, info=f"epoch {epoch + 1} loss {loss_sum / seen:.3f} "
                                                 f"acc {correct / seen:.3f}")
            ev = evaluate_items(model, val_items)
            row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                   "val_acc": ev["accuracy"], "val_rate": ev["mean_firing_rate"], "lr": lr,
                   "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
            rows.append(row)
            bar.update(task, info=f"epoch {epoch + 1} val acc {ev['accuracy']:.3f} rate "
                                  f"{ev['mean_firing_rate']:.3f}")
            state = cpu_copy(model.net.state_dict())
            if cfg.train.time_budget_s > 0:
                n_epochs = _fit_epochs(cfg.train.time_budget_s, time.perf_counter() - t_run, epoch, start,
                                       rows, n_epochs)
                bar.update(task, total=steps_per_epoch * n_epochs)
            if cfg.train.average_last > 0 and epoch >= n_epochs - cfg.train.average_last:
                n_avg += 1
                avg = ({k: v.double() for k, v in state.items()} if avg is None else
                       {k: avg[k] + (v.double() - avg[k]) / n_avg for k, v in state.items()})
            if ev["accuracy"] >= best and cfg.train.average_last <= 0:
                best = ev["accuracy"]
                save_checkpoint(out / "model.pt", {**ck, "state_dict": state, "epoch": epoch + 1,
                                                   "metrics": {"val_accuracy": best,
                                                               "val_firing_rate": ev["mean_firing_rate"]}})
            extra = {"avg_state": avg, "avg_count": n_avg} if avg is not None else {}
            save_checkpoint(last, {**ck, "state_dict": state, "optimizer": cpu_copy(opt.state_dict()),
                                   "epoch": epoch + 1, "history": rows, "best_val_acc": best,
                                   "epochs_fitted": n_epochs, **extra})
            _write_log(out / "log.csv", rows)
            if (epoch + 1) % 10 == 0:
                plot_curves(rows, out / "curve.png", cfg.name)
    if rows:
        plot_curves(rows, out / "curve.png", cfg.name)
    if cfg.train.average_last > 0 and avg is not None:
        _save_average(model, avg, n_avg, {**ck, "epoch": len(rows)}, sp, out, val_items)
    return finish(cfg, sp, out, rows)


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


def _write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


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
