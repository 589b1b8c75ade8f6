"""The optimiser and schedule of the DOA trainers (`train maa`, `train gcc-phat-sm`) and what must agree
for a resume (:func:`run_identity`); the resume itself is :func:`neuroaudio.train.loop.fit`'s."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch


class CosineDecay:
    """The learning-rate factor at optimiser step ``s``: ``0.5 (1 + cos(pi min(s, total) / total))``,
    from 1 at step 0 to 0 at step ``total`` (and after).

    A callable object, not a lambda, so that ``LambdaLR.state_dict()`` saves its ``total`` (LambdaLR
    keeps the ``__dict__`` of callable objects, and drops lambdas) and ``load_state_dict`` restores
    it: a scheduler whose total was lowered (:func:`set_total_steps`) comes back with that total."""

    def __init__(self, total_steps: int):
        self.total = max(1, int(total_steps))

    def __call__(self, s: int) -> float:
        return 0.5 * (1 + math.cos(math.pi * min(s, self.total) / self.total))


def adamw_cosine(params: Iterable[torch.nn.Parameter], train_cfg: dict[str, Any],
                 total_steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (``train.lr``, ``train.weight_decay``) with a cosine decay per step from the learning
    rate to 0 over ``total_steps`` optimiser steps (the whole run).

    The schedule is a ``LambdaLR`` over one :class:`CosineDecay`; its total can be changed during
    the run with :func:`set_total_steps` (a run fitted to a time budget) and is saved and restored
    with the scheduler's state. A trainer that resumes still sets the total itself afterwards (from
    the epochs it will run: the stored fitted total, or a new ``train.epochs`` when a run is
    extended), so the total follows the run, not the checkpoint; checkpoints written before this
    (their scheduler state holds no total) resume the same way."""
    opt = torch.optim.AdamW(params, lr=float(train_cfg["lr"]), weight_decay=float(train_cfg["weight_decay"]))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, CosineDecay(total_steps))
    return opt, sched


def set_total_steps(sched: torch.optim.lr_scheduler.LambdaLR, total_steps: int) -> None:
    """Make the cosine of ``sched`` (from :func:`adamw_cosine`) end at ``total_steps`` optimiser steps.

    When the total changes, the optimiser's learning rates are set at once to the new schedule's
    value at the current step (so the next step already follows it, as a per-step cosine computed
    from the current total would); an unchanged total changes nothing."""
    total = max(1, int(total_steps))
    changed = False
    for fn in sched.lr_lambdas:
        if not isinstance(fn, CosineDecay):
            raise TypeError("set_total_steps: the scheduler was not built by adamw_cosine")
        changed |= fn.total != total
        fn.total = total
    if not changed:
        return
    for g, base, fn in zip(sched.optimizer.param_groups, sched.base_lrs, sched.lr_lambdas, strict=True):
        g["lr"] = base * fn(sched.last_epoch)
    sched._last_lr = [g["lr"] for g in sched.optimizer.param_groups]


def run_identity(cfg: dict[str, Any], data_keys: Sequence[str] = ("cache_dir",)) -> dict[str, Any]:
    """The parts of a training config that must agree for a resume: all but ``out_dir``,
    ``train.epochs`` (a run may be extended), ``train.time_budget_s`` (how long this process may
    train: a budget is not part of the model) and the ``data`` keys named (where files live, how
    many loader workers)."""
    c = json.loads(json.dumps(cfg))
    c.pop("out_dir", None)
    c["train"].pop("epochs", None)
    c["train"].pop("time_budget_s", None)
    for k in data_keys:
        c["data"].pop(k, None)
    return c
