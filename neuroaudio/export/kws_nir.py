"""The D-RF keyword network (:mod:`neuroaudio.kws.model`) as a NIR graph of primitives.

One graph step is one feature frame (16 ms). Input per step: the front-end's log-mel vector
``[F]`` (graded, computed on the host: STFT, mel filterbank, log and per-clip band-mean
normalisation are not spiking and not in the graph). Output per step: the read-out ``[K]`` of the
residual stream; the network's logits are their mean over the clip's steps (the read-out is linear,
so ``head(mean_t x) = mean_t head(x)``), done on the host.

NIR has no resonator, so each D-RF layer is written as the linear state it is (docs/nir.md)::

    drf_in:    Linear [2nC ← C]     branch i of neuron c gets γ_ci·I_c on its real part
    drf_state: LI (τ = dt, R = 1)   v[t] = input  (a state register at Euler step dt)
    drf_rec:   Linear [2nC ← 2nC]   recurrent edge drf_state → drf_rec → drf_state; per branch the
                                    2×2 block r·[[cos ωδ, −sin ωδ], [sin ωδ, cos ωδ]]  (z ← a·z)
    drf_soma:  Linear [C ← 2nC]     H_c = Σ_i C_ci · Re z_ci
    drf_above: Threshold V_pre      Θ(H − V_pre)
    drf_taps:  Linear [mC ← C], drf_delay: Delay k·dt (copy k = 1..m), drf_adapt: Linear [C ← mC]
                                    with weights −α_ck  → Σ_k α_k·Θ(H[t−k] − V_pre), subtracted
    drf_fire:  Threshold V_pre ← H + adapt:  S = Θ(H − V_th[t])

The block's LIF layer is a D-RF with one branch at ω = 0: a plain NIR ``LI`` (decay r, gain γ),
``Scale`` C, and the same threshold taps. The 1×1 convolutions (+ BatchNorm folded) are
``Affine``; the residual sums are ``Scale(1)`` nodes (NIR sums the edges into a node).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..kws.model import KWSNet
from ..neurons.drf import DRF
from .nir_common import DT_S, f32, fold_bn, li_node, make_graph, require_nir, state_node


def _affine(nir: Any, conv: torch.nn.Module, bn: torch.nn.Module) -> Any:
    """A 1×1 ``Conv1d`` + ``BatchNorm1d`` (eval) as an NIR ``Affine``."""
    w, b = fold_bn(conv.weight, bn)
    return nir.Affine(weight=f32(w[..., 0]), bias=f32(b))


def _threshold_taps(nir: Any, layer: DRF, pre: str, dt: float) -> tuple[dict, list]:
    """The adaptive threshold of ``layer`` on the potential node ``pre``: nodes and edges ending in
    ``{pre}``'s spikes node ``…_fire`` (module docstring)."""
    c, m = layer.channels, layer.taps
    base = pre.rsplit("_", 1)[0]
    thr = np.full(c, layer.v_pre, dtype=np.float32)
    nodes: dict[str, Any] = {f"{base}_fire": nir.Threshold(threshold=thr)}
    edges = [(pre, f"{base}_fire")]
    if m:
        alpha = layer.alpha().detach().double().numpy()                    # [C, m]
        copy = np.tile(np.eye(c), (m, 1))                                  # [mC, C]
        adapt = np.concatenate([-np.diag(alpha[:, k]) for k in range(m)], axis=1)   # [C, mC]
        nodes.update({f"{base}_above": nir.Threshold(threshold=thr.copy()),
                      f"{base}_taps": nir.Linear(weight=f32(copy)),
                      f"{base}_delay": nir.Delay(delay=np.repeat(np.arange(1, m + 1) * dt, c)
                                                 .astype(np.float32)),
                      f"{base}_adapt": nir.Linear(weight=f32(adapt))})
        edges += [(pre, f"{base}_above"), (f"{base}_above", f"{base}_taps"),
                  (f"{base}_taps", f"{base}_delay"), (f"{base}_delay", f"{base}_adapt"),
                  (f"{base}_adapt", f"{base}_fire")]
    return nodes, edges


def _drf(nir: Any, layer: DRF, name: str, src: str, dt: float) -> tuple[dict, list]:
    """A D-RF layer reading node ``src``: nodes and edges, spikes at ``{name}_fire``."""
    c, n = layer.channels, layer.branches
    a = torch.exp(layer.log_a().detach().to(torch.complex128)).numpy()      # [C, n]
    gamma = layer.gamma.detach().double().numpy()
    soma = layer.soma.detach().double().numpy()
    idx = 2 * np.arange(c * n).reshape(c, n)                                 # real part of branch (c, i)
    b_in = np.zeros((2 * c * n, c))
    b_in[idx, np.arange(c)[:, None]] = gamma
    rec = np.zeros((2 * c * n, 2 * c * n))
    rec[idx, idx], rec[idx, idx + 1] = a.real, -a.imag
    rec[idx + 1, idx], rec[idx + 1, idx + 1] = a.imag, a.real
    s = np.zeros((c, 2 * c * n))
    s[np.arange(c)[:, None], idx] = soma
    nodes = {f"{name}_in": nir.Linear(weight=f32(b_in)), f"{name}_state": state_node(nir, 2 * c * n, dt),
             f"{name}_rec": nir.Linear(weight=f32(rec)), f"{name}_soma": nir.Linear(weight=f32(s))}
    edges = [(src, f"{name}_in"), (f"{name}_in", f"{name}_state"), (f"{name}_state", f"{name}_rec"),
             (f"{name}_rec", f"{name}_state"), (f"{name}_state", f"{name}_soma")]
    more, more_edges = _threshold_taps(nir, layer, f"{name}_soma", dt)
    return {**nodes, **more}, edges + more_edges


def _leaky(nir: Any, layer: DRF, name: str, src: str, dt: float) -> tuple[dict, list]:
    """A one-branch D-RF at ω = 0 (the LIF layer) as ``LI`` + ``Scale``; spikes at ``{name}_fire``."""
    if layer.branches != 1 or float(layer.omega.detach().abs().max()) != 0.0:
        raise ValueError("a leaky layer has one branch at ω = 0")
    r = torch.exp(layer.log_a().real.detach().double()).numpy()[:, 0]
    nodes = {f"{name}_li": li_node(nir, r, layer.gamma.detach().double().numpy()[:, 0], dt),
             f"{name}_soma": nir.Scale(scale=f32(layer.soma.detach()[:, 0]))}
    edges = [(src, f"{name}_li"), (f"{name}_li", f"{name}_soma")]
    more, more_edges = _threshold_taps(nir, layer, f"{name}_soma", dt)
    return {**nodes, **more}, edges + more_edges


def kws_to_nir(net: KWSNet, dt: float = DT_S, step_s: float | None = None,
               metadata: dict[str, Any] | None = None) -> Any:
    """The keyword network ``net`` (eval mode; D-RF blocks, LIF layers, no time pooling) as a
    ``nir.NIRGraph`` (module docstring)."""
    nir = require_nir()
    if not isinstance(net.pool, torch.nn.Identity):
        raise ValueError("model.pool > 1 (average pooling over time) has no NIR form; export a pool=1 model")
    if net.front is not None:
        raise ValueError("model.stem: conv2d (the spiking 2-D front) has no NIR form here; export a "
                         "model.stem: none model")
    w = net.cfg.width
    n_feat = net.stem[0].in_channels
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([n_feat])}),
                             "stem": _affine(nir, net.stem[0], net.stem[1]),
                             "res0": nir.Scale(scale=np.ones(w, dtype=np.float32))}
    edges = [("input", "stem"), ("stem", "res0")]
    for k, blk in enumerate(net.blocks, start=1):
        if not isinstance(blk.neuron, DRF) or not isinstance(blk.lif, DRF):
            raise ValueError(f"block {k}: only D-RF / RF / LIF layers have a NIR form here "
                             f"({type(blk.neuron).__name__}, {type(blk.lif).__name__})")
        more, more_edges = _drf(nir, blk.neuron, f"block{k}_drf", f"res{k - 1}", dt)
        nodes.update(more)
        edges += more_edges
        nodes[f"block{k}_conv1"] = _affine(nir, blk.conv1, blk.bn1)
        edges.append((f"block{k}_drf_fire", f"block{k}_conv1"))
        more, more_edges = _leaky(nir, blk.lif, f"block{k}_lif", f"block{k}_conv1", dt)
        nodes.update(more)
        edges += more_edges
        nodes[f"block{k}_conv2"] = _affine(nir, blk.conv2, blk.bn2)
        nodes[f"res{k}"] = nir.Scale(scale=np.ones(w, dtype=np.float32))
        edges += [(f"block{k}_lif_fire", f"block{k}_conv2"), (f"block{k}_conv2", f"res{k}"),
                  (f"res{k - 1}", f"res{k}")]
    n_out = net.head.out_features
    nodes["head"] = nir.Affine(weight=f32(net.head.weight), bias=f32(net.head.bias))
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})
    edges += [(f"res{len(net.blocks)}", "head"), ("head", "output")]
    meta = {"model": "kws", "dt_s": float(dt),
            "input": f"log-mel features [{n_feat}] per step (host front-end, docs/kws.md)",
            "output": f"read-out [{n_out}] per step; the logits are its mean over the clip",}
    return make_graph(nir, nodes, edges, meta, step_s, metadata)


def kws_neuron_spikes(net: KWSNet, feats: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Our network on ``feats [B, F, T]``: spikes ``[B, T, W]`` keyed by the graph's spike nodes
    (``block{k}_drf_fire``, ``block{k}_lif_fire``) and the logits ``[B, K]``."""
    with torch.no_grad():
        logits, spikes = net(feats)
    names = [f"block{k}_{kind}_fire" for k in range(1, len(net.blocks) + 1) for kind in ("drf", "lif")]
    return {n: s.transpose(1, 2) for n, s in zip(names, spikes, strict=True)}, logits
