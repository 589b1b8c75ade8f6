"""Run an exported NIR graph in another simulator: snnTorch's NIR node converters on nirtorch's
graph executor, so an export can be checked against our own model step by step.

snnTorch 1.0's ``import_from_nir`` converts Affine, Linear, Conv2d, Flatten, AvgPool2d, IF, LIF
(to ``snn.Leaky``) and CubaLIF, and wires them with ``nirtorch.nir_to_torch``. This module does
the same with the same converters (``snntorch.import_nir._nir_to_snntorch_module``) and adds the
primitives snnTorch's import does not cover, each written from NIR's definition alone:
``Threshold`` (``z = v > θ``), ``LI`` (forward Euler), ``Scale`` and ``Delay`` (in whole steps of
dt). nirtorch's own defaults cover ``Conv1d``. Nothing here imports the model code: the graph is
the only link to our networks.

snnTorch's converter integrates at dt = 1e-4 s (fixed in its code), so a graph is run only when its
metadata ``dt_s`` is that step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from .nir_common import require_nir

SNNTORCH_DT_S = 1e-4
"""The time step snnTorch's NIR import integrates LIF nodes at (hard-coded there)."""


class Threshold(nn.Module):
    """NIR ``Threshold``: ``z = 1`` where ``v > θ``, else 0."""

    def __init__(self, threshold: np.ndarray):
        super().__init__()
        self.register_buffer("threshold", torch.as_tensor(np.asarray(threshold, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > self.threshold).to(x.dtype)


class Scale(nn.Module):
    """NIR ``Scale``: ``y = x ⊙ s``."""

    def __init__(self, scale: np.ndarray):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class LI(nn.Module):
    """NIR ``LI`` (``τ·dv/dt = v_leak − v + R·I``) by forward Euler at ``dt``; output ``v``."""

    def __init__(self, tau: np.ndarray, r: np.ndarray, v_leak: np.ndarray, dt: float):
        super().__init__()
        self.register_buffer("k", torch.as_tensor(dt / np.asarray(tau, dtype=np.float64)).float())
        self.register_buffer("r", torch.as_tensor(np.asarray(r, dtype=np.float32)))
        self.register_buffer("v_leak", torch.as_tensor(np.asarray(v_leak, dtype=np.float32)))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        v = torch.zeros_like(x) if state is None else state
        v = v + self.k * (self.v_leak - v + self.r * x)
        return v, v


class Delay(nn.Module):
    """NIR ``Delay`` (``y(t) = x(t − d)``), ``d`` rounded to whole steps of ``dt``; zeros before the start."""

    def __init__(self, delay: np.ndarray, dt: float):
        super().__init__()
        steps = np.rint(np.asarray(delay, dtype=np.float64) / dt).astype(np.int64)
        self.n_max = int(max(1, steps.max(initial=1)))
        self.register_buffer("steps", torch.as_tensor(steps))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        hist = x.new_zeros(self.n_max, *x.shape) if state is None else state       # hist[j] = x[t−1−j]
        idx = (self.steps - 1).clamp_min(0).expand_as(x).unsqueeze(0)
        y = torch.where(self.steps == 0, x, hist.gather(0, idx)[0])
        return y, torch.cat([x.unsqueeze(0), hist[:-1]])


def node_map(dt: float) -> dict:
    """NIR type → torch module factory: snnTorch's converters where it has one, ours elsewhere."""
    nir = require_nir()
    from snntorch.import_nir import _nir_to_snntorch_module as snn_module


    def snn(n: Any) -> nn.Module:
        return snn_module(n, init_hidden=True)
    return {nir.Affine: snn, nir.Linear: snn, nir.Conv2d: _conv2d_ints(snn), nir.Flatten: snn,
            nir.AvgPool2d: snn, nir.IF: snn, nir.LIF: snn, nir.CubaLIF: snn,
            nir.Threshold: lambda n: Threshold(n.threshold), nir.Scale: lambda n: Scale(n.scale),
            nir.LI: lambda n: LI(n.tau, n.r, n.v_leak, dt), nir.Delay: lambda n: Delay(n.delay, dt)}


def _conv2d_ints(convert):
    """snnTorch's Conv2d converter, given stride/padding as int tuples (a file read back holds arrays)."""
    def make(node):
        node.stride = tuple(int(v) for v in np.atleast_1d(node.stride))
        node.padding = tuple(int(v) for v in np.atleast_1d(node.padding))
        node.dilation = tuple(int(v) for v in np.atleast_1d(node.dilation))
        node.groups = int(node.groups)
        return convert(node)
    return make


class ReferenceRun:
    """A NIR graph as a snnTorch/nirtorch module, run over time with the named nodes' outputs kept.

    ``ReferenceRun(graph)(x [B, T, ...], record=("fsja_lif", ...))`` → (outputs ``[B, T, ...]``,
    {node: ``[B, T, ...]``}); every sequence starts from rest. Float32 (snnTorch's neurons emit
    float32 spikes whatever the module's dtype).
    """

    def __init__(self, graph: Any):
        import nirtorch

        dt = float(graph.metadata.get("dt_s", SNNTORCH_DT_S)) if isinstance(graph.metadata, dict) \
            else SNNTORCH_DT_S
        if abs(dt - SNNTORCH_DT_S) > 1e-12:
            raise InputError(f"graph exported for dt = {dt:g} s: snnTorch's NIR import integrates at "
                             f"{SNNTORCH_DT_S:g} s; export with --set dt_s={SNNTORCH_DT_S:g}")
        self.module = nirtorch.nir_to_torch(graph, node_map(dt))

    def _reset(self) -> None:
        for m in self.module.modules():
            if hasattr(m, "reset_mem") and callable(m.reset_mem):
                m.reset_mem()
                m.mem = torch.zeros(0)     # re-shaped to the input on the next step

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, record: Sequence[str] = ()
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        self._reset()
        kept: dict[str, list[torch.Tensor]] = {name: [] for name in record}
        hooks = []
        for name in record:
            mod = self.module.get_submodule(name.replace(".", "_"))
            hooks.append(mod.register_forward_hook(
                lambda _m, _i, out, name=name: kept[name].append(
                    (out[0] if isinstance(out, tuple) else out).detach().clone())))
        outs, state = [], None
        try:
            for t in range(x.shape[1]):
                y, state = self.module(x[:, t].float(), state)
                outs.append(y)
        finally:
            for hk in hooks:
                hk.remove()
        return torch.stack(outs, 1), {k: torch.stack(v, 1) for k, v in kept.items()}
