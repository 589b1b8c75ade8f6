"""A wall-clock budget for a training run (``train.time_budget_s``), shared by the trainers
(`neuroaudio kws train`, `neuroaudio train maa`).

After each epoch the trainer asks :func:`fit_epochs` how many epochs the run may have in all; the
number is only ever lowered, and the trainer lets its cosine learning-rate schedule follow the
lowered total (so a cut run still ends at a low learning rate). The fitted total is stored in
``last.pt`` (``epochs_fitted``); :func:`resumed_epochs` gives it back on resume, so a cut run stays cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def fit_epochs(budget_s: float, elapsed_s: float, epoch: int, start: int, rows: Sequence[Mapping[str, Any]],
               n_epochs: int) -> int:
    """Epochs that fit ``budget_s`` after epoch ``epoch`` (0-based) ended ``elapsed_s`` into this run.

    Spent budget: stop after this epoch. Otherwise, from the second epoch of the run on, the mean
    wall time of the last (up to 3) epochs, leaving out the run's first (start-up, warm-up), gives
    how many more fit; the total is only ever lowered.

    Args:
        budget_s: the run's budget (s of wall time, > 0), counted from ``elapsed_s = 0``.
        elapsed_s: wall seconds since this run (this process; a resume starts a new run) began.
        epoch: the epoch that just ended (0-based; ``epoch + 1`` epochs are done in all).
        start: the epoch this run began at (0, or the epochs done before a resume).
        rows: the per-epoch log rows so far, the last one for ``epoch``; each has ``seconds``
            (the epoch's wall time, s).
        n_epochs: the current total (configured, or fitted before).

    Returns: the new total number of epochs, in ``[epoch + 1, n_epochs]``.
    """
    if elapsed_s >= budget_s:
        return epoch + 1
    done = epoch + 1 - start
    if done < 2:
        return n_epochs
    recent = [r["seconds"] for r in rows[-min(done - 1, 3):]]
    fit = epoch + 1 + int((budget_s - elapsed_s) / max(float(np.mean(recent)), 1e-6))
    return max(epoch + 1, min(n_epochs, fit))


def resumed_epochs(checkpoint: Mapping[str, Any], epochs: int) -> int:
    """The total number of epochs of a resumed run: the fitted total stored in ``checkpoint`` (a
    ``last.pt``: ``epochs_fitted``, ``config.train.epochs``) when the run was configured with the
    same ``epochs`` (a cut run stays cut, whatever budget the resume is given); else ``epochs`` (a
    run extended by resuming with more epochs, a checkpoint from before the budget existed, or one
    without ``config.train.epochs``)."""
    fitted = checkpoint.get("epochs_fitted")
    configured = ((checkpoint.get("config") or {}).get("train") or {}).get("epochs")
    if fitted is not None and configured is not None and int(configured) == int(epochs):
        return int(fitted)
    return int(epochs)
