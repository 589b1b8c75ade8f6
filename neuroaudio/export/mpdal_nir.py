"""A layer of MPD-AL (SRM, multi-spike) neurons as a NIR graph of primitives, spikes identical.

Our neuron (:mod:`neuroaudio.neurons.srm`) on its grid of step ``dt`` (1 ms)::

    V[n] = v0·(P_m[n] − P_s[n]) − R[n],   S[n] = [V[n] ≥ θ]
    P_m[n] = a_m·P_m[n−1] + Σ_i w_i x^m_i[n],   P_s[n] = a_s·P_s[n−1] + Σ_i w_i x^s_i[n]
    R[n] = Σ_{spikes s < n} θ·a_m^{n−s} = a_m·R[n−1] + a_m·θ·S[n−1]

with ``a = exp(−dt/τ)`` and ``x^m_i[n], x^s_i[n]`` the sub-grid-exact amplitudes of afferent i's
spikes injected at grid point n (``exp(−lag/τ_m)``, ``exp(−lag/τ_s)``; both 1 for a spike on the
grid). The reset subtracts θ and then decays with τ_m — not NIR ``LIF``/``CubaLIF``'s reset *to*
``v_reset`` — but it is linear in the past spikes, so it is a leaky trace of the output spikes fed
back on a recurrent edge. The graph (all NIR primitives, no custom node)::

    input      Input [2N]            x^m (first N), x^s (last N), per grid step
    syn_m      Linear [M ← 2N]       [v0·Wᵀ | 0]
    syn_s      Linear [M ← 2N]       [0 | −v0·Wᵀ]
    psp_m      LI                    v[n] = a_m·v[n−1] + I[n]            (v0·P_m)
    psp_s      LI                    v[n] = a_s·v[n−1] + I[n]            (−v0·P_s)
    reset      LI, recurrent edge    v[n] = a_m·v[n−1] − a_m·θ·S[n−1]    (−R), from ``fire``
    fire       Threshold θ           on psp_m + psp_s + reset  (the edges are summed)
    output     Output [M]

Each ``LI`` is written so that forward Euler at the graph's ``dt_s`` is the recurrence exactly
(:func:`~neuroaudio.export.nir_common.li_node`); one graph step is one grid step. Whichever edge of
the ``fire → reset → fire`` loop a simulator delays by a step, the reset reaching ``fire`` at step
n is ``−Σ_{s<n} θ a_m^{n−s}`` (with the gain a_m·θ both ways). NIR fires on ``V > θ``, ours on
``V ≥ θ``; the float32 graph and our float64 potentials differ by rounding, so a potential within
~1e-6 of θ could flip a spike (none did in the test).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..neurons.srm import SpikeInput, SRMParams, _injection, fire, free_potential
from .nir_common import DT_S, f32, li_node, make_graph, require_nir


def mpdal_to_nir(weights: np.ndarray, params: SRMParams, dt: float = DT_S,
                 metadata: dict[str, Any] | None = None) -> Any:
    """``weights [N, M]`` and ``params`` as a ``nir.NIRGraph`` (module docstring)."""
    nir = require_nir()
    w = np.asarray(weights, dtype=np.float64)
    n, m = w.shape
    am, a_s = math.exp(-params.dt / params.tau_m), math.exp(-params.dt / params.tau_s)
    v0, th = params.v0, params.theta
    zeros = np.zeros((m, n))
    ones = np.ones(m)
    nodes = {"input": nir.Input(input_type={"input": np.array([2 * n])}),
             "syn_m": nir.Linear(weight=f32(np.concatenate([v0 * w.T, zeros], axis=1))),
             "syn_s": nir.Linear(weight=f32(np.concatenate([zeros, -v0 * w.T], axis=1))),
             "psp_m": li_node(nir, am * ones, ones, dt),
             "psp_s": li_node(nir, a_s * ones, ones, dt),
             "reset": li_node(nir, am * ones, -am * th * ones, dt),
             "fire": nir.Threshold(threshold=f32(th * ones)),
             "output": nir.Output(output_type={"output": np.array([m])})}
    edges = [("input", "syn_m"), ("input", "syn_s"), ("syn_m", "psp_m"), ("syn_s", "psp_s"),
             ("psp_m", "fire"), ("psp_s", "fire"), ("reset", "fire"), ("fire", "reset"),
             ("fire", "output")]
    meta = {"model": "mpdal", "dt_s": float(dt),
            "input": f"[{2 * n}] per {params.dt:g}-s grid step: the injected amplitudes of each "
                     "afferent's spikes for the tau_m kernel (first half) and the tau_s kernel "
                     "(second half); 1 and 1 for a spike on the grid (mpdal_nir.mpdal_input)",
            "output": f"spikes [{m}] per grid step; the decision is the spike count per neuron",
            "neuron": {"tau_m": params.tau_m, "tau_s": params.tau_s, "theta": params.theta,
                       "dt": params.dt}}
    return make_graph(nir, nodes, edges, meta, params.dt, metadata)


def mpdal_input(trials: list[SpikeInput], params: SRMParams, steps: int | None = None) -> np.ndarray:
    """The graph's input ``[B, T, 2N]`` float32 for ``trials`` on ``steps`` grid points (default:
    the longest trial's): per grid point, each afferent's injected amplitudes (module docstring)."""
    t = steps or max(params.n_steps(tr.duration_s) for tr in trials)
    n = trials[0].n_afferents
    x = np.zeros((len(trials), t, 2 * n))
    for b, tr in enumerate(trials):
        n0, em, es, keep = _injection(tr, params, t)
        aff = tr.afferents[keep]
        np.add.at(x[b], (n0, aff), em)
        np.add.at(x[b], (n0, n + aff), es)
    return x.astype(np.float32)


def mpdal_spikes(weights: np.ndarray, params: SRMParams, trials: list[SpikeInput],
                 steps: int | None = None) -> np.ndarray:
    """Our neurons' spikes ``[B, T, M]`` (0/1) on the same grid (:func:`neuroaudio.neurons.srm.fire`)."""
    t = steps or max(params.n_steps(tr.duration_s) for tr in trials)
    vf = free_potential(trials, np.asarray(weights, dtype=np.float64).reshape(trials[0].n_afferents, -1),
                        params, t)                                              # [B, M, T]
    _, sp = fire(vf, params.theta, params)
    out = np.zeros(vf.shape, np.float32)
    for r, idx in enumerate(sp):
        out.reshape(-1, t)[r, idx] = 1.0
    return out.transpose(0, 2, 1)
