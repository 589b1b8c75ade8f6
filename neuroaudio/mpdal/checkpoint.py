"""The MPD-AL checkpoint: a trained layer of SRM neurons (weights and neuron constants).

``neuroaudio train mpdal`` (clue task) writes one per rule, ``model_<rule>.pt``; ``neuroaudio
export`` turns it into a NIR graph (docs/nir.md). Contents: ``weights`` ``[N afferents, M neurons]``
(float64 tensor, units of θ per unit PSP), ``neuron`` (``tau_m``, ``tau_s``, ``theta``, ``dt`` in
seconds: :class:`~neuroaudio.neurons.srm.SRMParams`), ``rule``, ``task``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..neurons.srm import SRMParams
from ..train.checkpoint import CheckpointFormat

HINT = "use a checkpoint written by `neuroaudio train mpdal` (model_<rule>.pt)"


def build(ck: dict[str, Any]) -> tuple[np.ndarray, SRMParams]:
    """Checkpoint dict → (weights ``[N, M]`` float64, neuron constants)."""
    w = ck["weights"]
    w = w.double().numpy() if isinstance(w, torch.Tensor) else np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"weights of shape {list(w.shape)}: expected [afferents, neurons]")
    n = ck["neuron"]
    return w, SRMParams(float(n["tau_m"]), float(n["tau_s"]), float(n["theta"]), float(n["dt"]))


MPDAL = CheckpointFormat("neuroaudio-mpdal-1", HINT, build)


def save(path: str | Path, weights: np.ndarray, params: SRMParams, rule: str, task: str,
         meta: dict[str, Any] | None = None) -> None:
    """Write a layer's ``weights [N, M]`` and ``params`` as an MPD-AL checkpoint (atomically)."""
    MPDAL.save(path, {"weights": torch.from_numpy(np.array(weights, dtype=np.float64)),
                      "neuron": {"tau_m": params.tau_m, "tau_s": params.tau_s, "theta": params.theta,
                                 "dt": params.dt},
                      "rule": rule, "task": task, **(meta or {})})
