"""Learning-rate schedules of keyword training, per optimizer step (``train.schedule``).

- ``cosine``: ``lr · ½(1 + cos(π · step / total))`` from ``lr`` down to 0 (no warm-up).
- ``onecycle``: the one-cycle policy (Smith & Topin 2019), as ``torch.optim.lr_scheduler.OneCycleLR``
  with cosine annealing: from ``lr / ONECYCLE_DIV`` up to ``lr`` over the first ``warmup_frac`` of
  the steps, then down to ``lr / (ONECYCLE_DIV · ONECYCLE_FINAL_DIV)`` at the last step.

A pure function of (step, total), so a run whose number of epochs is lowered by a time budget
follows the lowered total, and a resumed run continues on the same curve.
"""

from __future__ import annotations

import math

ONECYCLE_DIV = 25.0
"""one-cycle: the first learning rate is ``lr / ONECYCLE_DIV`` (torch's ``div_factor``)."""
ONECYCLE_FINAL_DIV = 1e4
"""one-cycle: the last learning rate is the first one / ``ONECYCLE_FINAL_DIV`` (``final_div_factor``)."""


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def lr_at(step: int, total: int, lr: float, schedule: str = "cosine", warmup_frac: float = 0.3) -> float:
    """The learning rate of optimizer step ``step`` (0-based) of ``total`` steps (see module docstring)."""
    if schedule == "cosine":
        return lr * 0.5 * (1 + math.cos(math.pi * step / max(total, 1)))
    first = lr / ONECYCLE_DIV
    last = first / ONECYCLE_FINAL_DIV
    end1 = float(warmup_frac * total) - 1
    end2 = float(total - 1)
    if step <= end1:
        return _cos(first, lr, step / end1) if end1 > 0 else lr
    return _cos(lr, last, min(1.0, (step - end1) / max(end2 - end1, 1e-12)))
