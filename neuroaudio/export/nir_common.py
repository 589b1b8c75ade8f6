"""What every NIR export shares: the time step, BatchNorm folding, discrete neurons as NIR nodes.

NIR describes neurons as continuous-time ODEs and stores no time step; a simulator picks one. Our
networks are discrete (one update per model step), so every exported time constant is chosen such
that the ODE integrated by **forward Euler at ``dt``** is our update exactly (the discretisation
snnTorch's and Norse's NIR import and nirtorch use). ``dt`` (default :data:`DT_S` = 1e-4 s, the
step snnTorch's importer fixes) is written into the graph's metadata (``dt_s``); a model step is
one ``dt`` of the simulator, whatever the step lasts in sound (``step_s`` in the metadata).

NIR's LIF, Euler at dt:  ``v[t] = (1 − dt/τ)·v[t−1] + (dt/τ)·R·I[t]``, spike when ``v > v_th``,
then ``v ← v_reset``. Our LIF (``U[t] = β·U[t−1]·(1 − S[t−1]) + X[t]``, hard reset to 0) is that
with ``τ = dt/(1 − β)`` and ``R = 1/(1 − β)`` (:func:`lif_node`). NIR's LI with ``τ = dt``,
``R = 1`` is a pure state register ``v[t] = I[t]``: with a recurrent ``Linear`` edge ``A`` it is any
linear state update ``v[t] = A·v[t−1] + B·x[t]`` (:func:`state_node`), which is how the resonators
are written (docs/nir.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..io_utils import atomic_path

DT_S = 1e-4
"""Default simulator time step written into exported graphs (seconds per model step)."""


def require_nir() -> Any:
    """The ``nir`` module, or an :class:`InputError` that says how to install it."""
    try:
        import nir
    except ImportError as e:
        raise InputError("NIR export needs the optional packages: pip install 'neuroaudio[nir]' "
                         f"(nir, nirtorch, snntorch; missing: {e.name})") from None
    return nir


def f32(x: Any) -> np.ndarray:
    """A float32 numpy array of a tensor or array (NIR stores numpy arrays)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64).astype(np.float32)


def fold_bn(weight: torch.Tensor, bn: torch.nn.modules.batchnorm._BatchNorm
            ) -> tuple[np.ndarray, np.ndarray]:
    """``BN(conv_w(x))`` in eval mode → ``(w', b')`` with ``conv_{w'}(x) + b'`` (float64).

    ``weight [C_out, ...]``; ``s = γ/√(σ² + ε)``, ``w' = w·s``, ``b' = β − μ·s``.
    """
    w = weight.detach().double()
    s = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
    b = bn.bias.detach().double() - bn.running_mean.double() * s
    return (w * s.reshape(-1, *([1] * (w.ndim - 1)))).numpy(), b.numpy()


def lif_node(nir: Any, shape: tuple[int, ...], leak: float, v_th: float, dt: float) -> Any:
    """NIR ``LIF`` equal, at Euler step ``dt``, to our LIF with leak factor ``leak`` (β) per step,
    threshold ``v_th`` and hard reset to 0 (:mod:`neuroaudio.neurons.lif`)."""
    ones = np.ones(shape, dtype=np.float32)
    return nir.LIF(tau=ones * np.float32(dt / (1.0 - leak)), r=ones * np.float32(1.0 / (1.0 - leak)),
                   v_leak=ones * 0, v_threshold=ones * np.float32(v_th), v_reset=ones * 0)


def state_node(nir: Any, size: int, dt: float) -> Any:
    """NIR ``LI`` with ``τ = dt``, ``R = 1``: at Euler step ``dt`` its state is its input (``v[t] =
    I[t]``), so a recurrent ``Linear`` edge ``A`` makes it ``v[t] = A·v[t−1] + B·x[t]``."""
    ones = np.ones(size, dtype=np.float32)
    return nir.LI(tau=ones * np.float32(dt), r=ones, v_leak=ones * 0)


def li_node(nir: Any, decay: np.ndarray, gain: np.ndarray, dt: float) -> Any:
    """NIR ``LI`` equal, at Euler step ``dt``, to ``v[t] = decay·v[t−1] + gain·I[t]`` per neuron."""
    decay = np.asarray(decay, dtype=np.float64)
    return nir.LI(tau=(dt / (1.0 - decay)).astype(np.float32),
                  r=(np.asarray(gain) / (1.0 - decay)).astype(np.float32),
                  v_leak=np.zeros(decay.shape, dtype=np.float32))


def conv2d(nir: Any, weight: np.ndarray, bias: np.ndarray | None, input_shape: tuple[int, int],
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0, groups: int = 1) -> Any:
    """A NIR ``Conv2d`` (weights as float32; ``bias`` None = zeros)."""
    w = f32(weight)
    b = f32(np.zeros(w.shape[0]) if bias is None else bias)

    def pair(v: int | tuple[int, int]) -> np.ndarray:
        return np.array([v, v] if np.isscalar(v) else list(v), dtype=np.int64)
    return nir.Conv2d(input_shape=tuple(int(v) for v in input_shape), weight=w, stride=pair(stride),
                      padding=pair(padding), dilation=np.array([1, 1], dtype=np.int64), groups=int(groups),
                      bias=b)


def make_graph(nir: Any, nodes: dict[str, Any], edges: list[tuple[str, str]], meta: dict[str, Any],
               step_s: float | None, metadata: dict[str, Any] | None) -> Any:
    """The ``NIRGraph`` of ``nodes``/``edges`` with ``meta`` (plus the forward-Euler note, the
    host step ``step_s`` in seconds when known, and the caller's ``metadata``)."""
    meta = {**meta, "discretisation": "forward Euler at dt_s; recurrent edges carry the previous step"}
    if step_s is not None:
        meta["step_s"] = float(step_s)
    meta.update(metadata or {})
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_graph(graph: Any, path: str | Path) -> Path:
    """Write a NIR graph atomically (gzip-compressed HDF5; folders are made)."""
    nir = require_nir()
    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(str(tmp), graph)
    return path
