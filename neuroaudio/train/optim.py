"""The optimiser, schedule and resume step every trainer shares (`train ssl`, `train gcc-phat-sm`)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError

log = logging.getLogger("neuroaudio")


def adamw_cosine(params: Iterable[torch.nn.Parameter], train_cfg: dict[str, Any],
                 total_steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (``train.lr``, ``train.weight_decay``) with a cosine decay per step from the learning
    rate to 0 over ``total_steps`` optimiser steps (the whole run)."""
    opt = torch.optim.AdamW(params, lr=float(train_cfg["lr"]), weight_decay=float(train_cfg["weight_decay"]))
    total = max(1, int(total_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    return opt, sched


def run_identity(cfg: dict[str, Any], data_keys: Sequence[str] = ("cache_dir",)) -> dict[str, Any]:
    """The parts of a training config that must agree for a resume: all but ``out_dir``,
    ``train.epochs`` (a run may be extended) and the ``data`` keys named (where files live, how
    many loader workers)."""
    c = json.loads(json.dumps(cfg))
    c.pop("out_dir", None)
    c["train"].pop("epochs", None)
    for k in data_keys:
        c["data"].pop(k, None)
    return c


def resume_from(last: Path, cfg: dict[str, Any], read: Callable[[Path], dict[str, Any]],
                net: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, best: dict[str, Any],
                data_keys: Sequence[str] = ("cache_dir",), verbose: bool = True
                ) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """Load ``last`` (a ``last.pt`` read with ``read``) into ``net``, ``opt`` and ``sched``;
    ``(history rows, epochs done, best so far)``. A checkpoint trained with another config
    (:func:`run_identity`) is refused with an InputError."""
    ck = read(last)
    if run_identity(ck["config"], data_keys) != run_identity(cfg, data_keys):
        raise InputError(f"{last} was trained with another config; give another out_dir, or "
                         "--no-resume to start over")
    net.load_state_dict(ck["state_dict"])
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    start = int(ck["epoch"])
    if verbose:
        log.info("resuming from %s at epoch %d", last, start)
    return list(ck.get("history", [])), start, dict(ck.get("best", best))
