"""The MAA localization network (:mod:`neuroaudio.maa.model`) as a NIR graph of primitives.

One graph step is one model step (T = 4 per 170-ms frame). Input per step: the **thermometer
spikes** of the pooled coincidence counts, ``b[k·P + p, d, f] = [n[p, d, f] ≥ k + 1]`` for
``k = 0..K−1`` (:func:`maa_input_spikes`; ``n`` = the RF-PLC counts summed over ``input_pool``
neighbours, as the model does). The model's ``log1p(n)`` is then exactly ``Σ_k Δ_k·b_k`` with
``Δ_k = log1p(k+1) − log1p(k)``, a weighted sum the first layers absorb into their weights, and
the FSJA gate ``x·A`` becomes ``Σ_k Δ_k·(b_k AND A)`` with ``AND = Threshold_{1.5}(b_k + A)``:
no graded input, no multiplication of two signals, nothing outside NIR's primitives. Counts above
K are clipped (:func:`maa_input_spikes` reports how many; the shipped model's inputs stay under 8).

Graph (per step; shapes without the batch; P pairs, D delays, F bands after ``input_pool``)::

    input b [K·P, D, F]
    FSJA   fsja_joint_f: Conv2d, kernel (2D−1, 3), pad (D−1, 1) = mean over D, conv1d over F, BN,
                         broadcast over D (the window always spans every delay)
           fsja_joint_d: Conv2d, kernel (3, 2F−1), pad (1, F−1)   (same for the delay profile)
           fsja_lif: LIF ← joint_f + joint_d             A [P, D, F]
           fsja_repeat: Conv2d 1×1 P → K·P (A copied per level)
           fsja_gate: Threshold 1.5 ← b + repeat         b_k AND A  [K·P, D, F]
    ST-M   stm_in: Conv2d 3×3 (Δ_k and BN folded) → stm_in_lif      In [C0, D, F]
           stm_mix: Conv2d 1×1 per channel, weight 1−α, bias α·b_rec (the recurrent BN's bias)
           stm_st_lif: LIF ← stm_mix + stm_rec             ST [C0, D, F]
           stm_rec: Conv2d 3×3, weight α·W_rec·s_rec, no bias; edge stm_st_lif → stm_rec → stm_st_lif
                    (a recurrent edge carries the previous step, so ST[−1] = 0 gives 0, as ours)
    blocks block{i}_conv: Conv2d 3×3 + BN folded → block{i}_lif
           block{i}_pool: Conv2d 3×3 stride 2 pad 1 per channel, weights [[0,0,0],[0,1,1],[0,1,1]]
                          = the 2×2 sum of ceil-mode pooling; block{i}_or: Threshold 0.5 → max-pool
                          of binary spikes (an OR)
    readout: Conv2d with the whole map as kernel (= Linear on the flattened map; no Flatten,
             whose start_dim importers read differently) → output logits [360, 1, 1] per step

The localizer's read-out (softmax averaged over the T steps, pooling over frames) stays on the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..maa.model import MAANet, sum_pool
from .nir_common import DT_S, conv2d, fold_bn, lif_node, make_graph, require_nir

DEFAULT_LEVELS = 16
"""Thermometer levels K of the exported input (pooled counts above K are clipped)."""


def level_steps(levels: int) -> np.ndarray:
    """``Δ_k = log1p(k+1) − log1p(k)``, ``k = 0..K−1`` (float64): ``log1p(n) = Σ_{k<n} Δ_k``."""
    k = np.arange(levels + 1, dtype=np.float64)
    return np.diff(np.log1p(k))


def maa_input_spikes(counts: torch.Tensor | np.ndarray, input_pool: tuple[int, int],
                     levels: int = DEFAULT_LEVELS) -> tuple[torch.Tensor, int]:
    """RF-PLC counts ``[B, T, P, D0, F0]`` → graph input ``[B, T, K·P, D, F]`` (0/1, float32) and the
    number of pooled cells whose count exceeded K (clipped)."""
    x = torch.as_tensor(np.asarray(counts) if not isinstance(counts, torch.Tensor) else counts)
    n = x.float().clamp_min(0)
    if tuple(input_pool) != (1, 1):
        n = sum_pool(n, *input_pool)
    k = torch.arange(1, levels + 1, dtype=n.dtype).reshape(levels, 1, 1, 1)
    b = (n.unsqueeze(2) >= k).float()                                  # [B, T, K, P, D, F]
    return b.flatten(2, 3), int((n > levels).sum())


def _stacked(w: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Weights ``[O, P, ...]`` on ``x`` → weights ``[O, K·P, ...]`` on the levels ``b``
    (channel ``k·P + p`` weighted ``Δ_k``)."""
    return np.concatenate([w * s for s in steps], axis=1)


def _diagonal(k: np.ndarray) -> np.ndarray:
    """Per-channel kernels ``[C, kh, kw]`` → a dense ``[C, C, kh, kw]`` weight (zero off the diagonal).

    Channel-wise convolutions are written dense: nir 1.0's type inference reads a grouped Conv2d's
    input channels as ``weight.shape[1]`` (C/groups) and refuses the graph.
    """
    c = k.shape[0]
    w = np.zeros((c, c, *k.shape[1:]))
    w[np.arange(c), np.arange(c)] = k
    return w


def maa_to_nir(net: MAANet, levels: int = DEFAULT_LEVELS, dt: float = DT_S, step_s: float | None = None,
               metadata: dict[str, Any] | None = None) -> Any:
    """The network ``net`` (eval mode) as a ``nir.NIRGraph`` (module docstring).

    Args:
        net: a trained :class:`MAANet`. levels: thermometer levels K.
        dt: simulator step the time constants are written for (seconds).
        step_s: the model step in sound (frame / T), for the metadata.
    """
    nir = require_nir()
    cfg = net.cfg
    p, _, _ = net.input_shape
    pd, pf = cfg.input_pool
    d, f = -(-net.input_shape[1] // pd), -(-net.input_shape[2] // pf)
    steps = level_steps(levels)
    kp = levels * p
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([kp, d, f])})}
    edges: list[tuple[str, str]] = []

    def lif(c: int, h: int, w: int) -> Any:
        return lif_node(nir, (c, h, w), cfg.tau, cfg.v_th, dt)

    src = "input"                                        # what the ST-M input convolution reads
    if net.fsja is not None:
        fs = net.fsja
        wf, bf = fold_bn(fs.conv_f.weight, fs.bn_f)      # [P, P, 3] on the band profile (mean over D)
        wd, bd = fold_bn(fs.conv_d.weight, fs.bn_d)      # [P, P, 3] on the delay profile (mean over F)
        nodes["fsja_log1p"] = conv2d(nir, _stacked(np.eye(p)[:, :, None, None], steps), None, (d, f))
        a_f, a_d = 2 * d - 1, 2 * f - 1                  # odd square kernels (module docstring)
        kf = np.zeros((p, p, a_f, a_f))
        kf[:, :, :, d - 2:d + 1] = wf[:, :, None, :] / d                  # every delay, bands ±1
        kd = np.zeros((p, p, a_d, a_d))
        kd[:, :, f - 2:f + 1, :] = wd[:, :, :, None] / f                  # delays ±1, every band
        nodes["fsja_joint_f"] = conv2d(nir, kf, bf + bd, (d, f), padding=d - 1)
        nodes["fsja_joint_d"] = conv2d(nir, kd, None, (d, f), padding=f - 1)
        nodes["fsja_lif"] = lif(p, d, f)
        rep = np.zeros((kp, p, 1, 1))
        for k in range(levels):
            rep[k * p + np.arange(p), np.arange(p), 0, 0] = 1.0
        nodes["fsja_repeat"] = conv2d(nir, rep, None, (d, f))
        nodes["fsja_gate"] = nir.Threshold(threshold=np.full((kp, d, f), 1.5, dtype=np.float32))
        edges += [("input", "fsja_log1p"), ("fsja_log1p", "fsja_joint_f"), ("fsja_log1p", "fsja_joint_d"),
                  ("fsja_joint_f", "fsja_lif"),
                  ("fsja_joint_d", "fsja_lif"), ("fsja_lif", "fsja_repeat"), ("fsja_repeat", "fsja_gate"),
                  ("input", "fsja_gate")]
        src = "fsja_gate"

    st = net.stm
    c0 = st.conv_in[0].out_channels
    w_in, b_in = fold_bn(st.conv_in[0].weight, st.conv_in[1])
    nodes["stm_in"] = conv2d(nir, _stacked(w_in, steps), b_in, (d, f), padding=1)
    nodes["stm_in_lif"] = lif(c0, d, f)
    edges += [(src, "stm_in"), ("stm_in", "stm_in_lif")]
    last = "stm_in_lif"
    if st.memory:
        w_r, b_r = fold_bn(st.conv_rec[0].weight, st.conv_rec[1])
        a = float(st.alpha)
        nodes["stm_mix"] = conv2d(nir, _diagonal(np.full((c0, 1, 1), 1.0 - a)), a * b_r, (d, f))
        nodes["stm_st_lif"] = lif(c0, d, f)
        nodes["stm_rec"] = conv2d(nir, a * w_r, None, (d, f), padding=1)
        edges += [("stm_in_lif", "stm_mix"), ("stm_mix", "stm_st_lif"), ("stm_st_lif", "stm_rec"),
                  ("stm_rec", "stm_st_lif")]
        last = "stm_st_lif"

    h, w = d, f
    for i, blk in enumerate(net.blocks, start=1):
        conv = blk.conv[0]
        wc, bc = fold_bn(conv.weight, blk.conv[1])
        co = conv.out_channels
        nodes[f"block{i}_conv"] = conv2d(nir, wc, bc, (h, w), padding=1)
        nodes[f"block{i}_lif"] = lif(co, h, w)
        pool = np.zeros((co, 3, 3))
        pool[:, 1:, 1:] = 1.0
        nodes[f"block{i}_pool"] = conv2d(nir, _diagonal(pool), None, (h, w), stride=2, padding=1)
        h, w = -(-h // 2), -(-w // 2)
        nodes[f"block{i}_or"] = nir.Threshold(threshold=np.full((co, h, w), 0.5, dtype=np.float32))
        edges += [(last, f"block{i}_conv"), (f"block{i}_conv", f"block{i}_lif"),
                  (f"block{i}_lif", f"block{i}_pool"), (f"block{i}_pool", f"block{i}_or")]
        last = f"block{i}_or"

    c_last = net.feature_shape[0]
    wr = net.readout.weight.detach().double().numpy().reshape(-1, c_last, h, w)
    n_out = wr.shape[0]
    a = max(h, w)                                        # square kernel over the whole map, stride a:
    kr = np.zeros((n_out, c_last, a, a))                 # one output; the first a − h rows and a − w
    kr[:, :, a - h:, a - w:] = wr                        # columns see the padding
    nodes["readout"] = conv2d(nir, kr, net.readout.bias.detach().double().numpy(), (h, w), stride=a,
                              padding=(a - h, a - w))
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out, 1, 1])})
    edges += [(last, "readout"), ("readout", "output")]

    meta = {"model": "maa", "dt_s": float(dt), "levels": int(levels),
            "input": f"thermometer spikes [K*P, D, F] = [{kp}, {d}, {f}] of the RF-PLC coincidence counts "
                     f"summed over {pd}x{pf} neighbours: channel k*P+p is 1 where count >= k+1",
            "output": f"azimuth logits [{n_out}, 1, 1] per step; softmax averaged over the frame's steps",}
    return make_graph(nir, nodes, edges, meta, step_s, metadata)


def maa_neuron_spikes(net: MAANet, counts: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Our model on ``counts [B, T, P, D0, F0]``: the spikes of every spiking layer and pooling,
    keyed by the graph's node names (``[B, T, ...]``), the gated input ``x·A`` (``fsja_gated``), and
    the logits ``[B, T, n_azimuth]``."""
    rec: dict[str, torch.Tensor] = {}
    hooks = []

    def keep(name: str):
        return lambda _m, _i, out: rec.__setitem__(name, out.detach().transpose(0, 1))

    if net.fsja is not None:
        hooks.append(net.fsja.sn.register_forward_hook(keep("fsja_lif")))
        hooks.append(net.fsja.register_forward_hook(keep("fsja_gated")))     # x·A (graded)
    hooks.append(net.stm.sn_in.register_forward_hook(keep("stm_in_lif")))
    if net.stm.memory:
        hooks.append(net.stm.register_forward_hook(keep("stm_st_lif")))
    for i, blk in enumerate(net.blocks, start=1):
        hooks.append(blk.sn.register_forward_hook(keep(f"block{i}_lif")))
        hooks.append(blk.register_forward_hook(keep(f"block{i}_or")))        # after max-pooling
    try:
        with torch.no_grad():
            logits = net(counts).transpose(0, 1)
    finally:
        for hk in hooks:
            hk.remove()
    return rec, logits


__all__ = ["DEFAULT_LEVELS", "level_steps", "maa_input_spikes", "maa_to_nir", "maa_neuron_spikes"]
