"""Multi-spike current-based LIF neuron in its spike-response (SRM) form, as in the Tempotron family.

Membrane potential of one neuron for one trial (Gütig 2016; Zhang et al. 2019, MPD-AL)::

    V(t) = sum_i w_i sum_{t_i^j < t} K(t - t_i^j)  -  theta * sum_{t_s < t} exp(-(t - t_s) / tau_m)
    K(t) = V0 (exp(-t/tau_m) - exp(-t/tau_s)),   V0 such that max_t K(t) = 1

An output spike is emitted when V crosses ``theta`` from below; its reset subtracts ``theta`` and
decays with ``tau_m`` (the membrane), so the neuron stays linear between output spikes.

How it is computed (no Python loop over time samples):

- The free potential ``V_free`` (no output spikes) is linear in the input. Each exponential of K is a
  first-order linear recurrence, run with :func:`scipy.signal.lfilter` on a grid of step ``dt``. Input
  spikes keep their exact (sub-grid) times: a spike at ``t`` is injected at the first grid point
  ``n0 = ceil(t/dt)`` with amplitude ``exp(-(n0 dt - t)/tau)``, so ``V_free`` at the grid points is the
  *exact* continuous-time value, not a spike-time-rounded one.
- The spike/reset nonlinearity steps only over *output events*: each round finds, for every row
  (trial x neuron x threshold) at once, the first grid point at or above threshold after its last
  spike, and subtracts the reset kernel from the rest of that row. Rounds = max spikes in a row.

Shapes: a batch is ``[rows, T]`` with ``T = ceil(duration/dt) + 1`` grid points ``t_n = n dt`` (s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.signal import lfilter

from ..errors import InputError


@dataclass(frozen=True)
class SRMParams:
    """Neuron constants. Times in seconds; potentials in units of the threshold (theta = 1)."""

    tau_m: float = 0.020
    tau_s: float = 0.005
    theta: float = 1.0
    dt: float = 0.001

    def __post_init__(self) -> None:
        if not (self.tau_m > self.tau_s > 0):
            raise InputError(f"tau_m={self.tau_m}, tau_s={self.tau_s}: need tau_m > tau_s > 0; fix neuron:")
        if not (0 < self.dt <= self.tau_s):
            raise InputError(f"dt={self.dt} s must be in (0, tau_s]; use e.g. dt: 0.001")
        if self.theta <= 0:
            raise InputError(f"theta={self.theta} must be > 0; fix the config")

    @property
    def v0(self) -> float:
        """Kernel normalisation: the PSP of a unit weight peaks at exactly 1."""
        tm, ts = self.tau_m, self.tau_s
        t_peak = tm * ts / (tm - ts) * math.log(tm / ts)
        return 1.0 / (math.exp(-t_peak / tm) - math.exp(-t_peak / ts))

    def kernel(self, t: np.ndarray) -> np.ndarray:
        """K(t) for lags ``t`` (s); 0 for t <= 0."""
        t = np.asarray(t, dtype=float)
        k = self.v0 * (np.exp(-np.maximum(t, 0) / self.tau_m) - np.exp(-np.maximum(t, 0) / self.tau_s))
        return np.where(t > 0, k, 0.0)

    def kernel_dt(self, t: np.ndarray) -> np.ndarray:
        """dK/dt at lags ``t`` (1/s); 0 for t <= 0."""
        t = np.asarray(t, dtype=float)
        tp = np.maximum(t, 0)
        d = self.v0 * (-np.exp(-tp / self.tau_m) / self.tau_m + np.exp(-tp / self.tau_s) / self.tau_s)
        return np.where(t > 0, d, 0.0)

    def n_steps(self, duration_s: float) -> int:
        return int(math.ceil(duration_s / self.dt)) + 1


@dataclass
class SpikeInput:
    """Input spike pattern of one trial: ``times_s[e]`` of afferent ``afferents[e]`` (events, any order)."""

    times_s: np.ndarray
    afferents: np.ndarray
    n_afferents: int
    duration_s: float

    def __post_init__(self) -> None:
        self.times_s = np.asarray(self.times_s, dtype=float)
        self.afferents = np.asarray(self.afferents, dtype=np.int64)
        if self.times_s.shape != self.afferents.shape:
            raise InputError("spike times and afferent indices differ in length; pass one afferent per spike")
        if self.times_s.size and (self.afferents.min() < 0 or self.afferents.max() >= self.n_afferents):
            raise InputError(f"afferent index outside [0, {self.n_afferents}); fix the spike pattern")


def _injection(trial: SpikeInput, p: SRMParams,
               T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grid index and the two sub-grid-exact amplitudes of each input spike (spikes past the grid dropped)."""
    n0 = np.ceil(trial.times_s / p.dt - 1e-9).astype(np.int64)
    n0 = np.maximum(n0, 0)
    keep = n0 < T
    n0 = n0[keep]
    lag = n0 * p.dt - trial.times_s[keep]
    return n0, np.exp(-lag / p.tau_m), np.exp(-lag / p.tau_s), keep


def free_potential(trials: list[SpikeInput], weights: np.ndarray, p: SRMParams, T: int | None = None,
                   with_derivative: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Free membrane potential (no output spikes) of ``M`` neurons for a batch of trials.

    ``weights``: ``[N]`` (one neuron) or ``[N, M]``. Returns ``[B, M, T]`` (``[B, T]`` for 1-D weights);
    with ``with_derivative`` also dV_free/dt (1/s) at the grid points (exact between input spikes).
    """
    w = np.asarray(weights, dtype=float)
    squeeze = w.ndim == 1
    w2 = w[:, None] if squeeze else w
    if T is None:
        T = max(p.n_steps(tr.duration_s) for tr in trials)
    am, as_ = math.exp(-p.dt / p.tau_m), math.exp(-p.dt / p.tau_s)
    xm = np.zeros((len(trials), T, w2.shape[1]))
    xs = np.zeros_like(xm)
    for b, tr in enumerate(trials):  # one sparse product per trial, never a loop over time
        if tr.n_afferents != w2.shape[0]:
            raise InputError(f"trial has {tr.n_afferents} afferents but the weights {w2.shape[0]}; "
                             "use weights shaped [n_afferents, neurons]")
        n0, em, es, keep = _injection(tr, p, T)
        aff = tr.afferents[keep]
        if w2.shape[1] <= 4:  # few neurons: weighted histograms are cheapest
            for m in range(w2.shape[1]):
                wa = w2[aff, m]
                xm[b, :, m] = np.bincount(n0, weights=em * wa, minlength=T)
                xs[b, :, m] = np.bincount(n0, weights=es * wa, minlength=T)
        else:
            sm = sp.csr_matrix((em, (n0, aff)), shape=(T, tr.n_afferents))
            ss = sp.csr_matrix((es, (n0, aff)), shape=(T, tr.n_afferents))
            xm[b] = sm @ w2
            xs[b] = ss @ w2
    pm = lfilter([1.0], [1.0, -am], xm, axis=1)
    ps = lfilter([1.0], [1.0, -as_], xs, axis=1)
    v = p.v0 * (pm - ps)
    v = np.moveaxis(v, 1, 2)  # [B, M, T]
    if squeeze:
        v = v[:, 0]
    if not with_derivative:
        return v
    dv = p.v0 * (-pm / p.tau_m + ps / p.tau_s)
    dv = np.moveaxis(dv, 1, 2)
    if squeeze:
        dv = dv[:, 0]
    return v, dv


def fire(v_free: np.ndarray, theta: float | np.ndarray, p: SRMParams,
         max_spikes: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Apply the threshold/reset nonlinearity to free potentials ``[..., T]``.

    ``theta``: scalar or an array broadcastable to ``v_free.shape[:-1]`` (one threshold per row, used
    by the MST's threshold search). Returns the membrane potential with resets (same shape; the value
    at a spike's own grid point is the pre-reset one, ``>= theta``) and, per row (rows in C order of
    the leading axes), the grid indices of its output spikes. ``max_spikes``: stop a row after that
    many spikes (its trace after the last one is then not final) -- enough to tell ``n >= k``.
    """
    shape = v_free.shape
    T = shape[-1]
    v = np.array(v_free, dtype=float).reshape(-1, T)
    R = v.shape[0]
    th = np.broadcast_to(np.asarray(theta, dtype=float), shape[:-1]).reshape(-1)
    decay = np.exp(-p.dt / p.tau_m) ** np.arange(T)
    idx = np.arange(T)
    start = np.zeros(R, dtype=np.int64)
    spikes: list[list[int]] = [[] for _ in range(R)]
    active = np.flatnonzero((v >= th[:, None]).any(axis=1))
    while active.size:
        seg = v[active]
        above = (seg >= th[active, None]) & (idx[None, :] >= start[active, None])
        has = above.any(axis=1)
        active = active[has]
        if not active.size:
            break
        first = above[has].argmax(axis=1)
        for r, n in zip(active.tolist(), first.tolist(), strict=True):
            spikes[r].append(n)
        lag = idx[None, :] - first[:, None]
        v[active] -= th[active, None] * np.where(lag > 0, decay[np.clip(lag, 0, T - 1)], 0.0)
        start[active] = first + 1
        active = active[start[active] < T]
        if max_spikes is not None:
            active = active[np.array([len(spikes[r]) < max_spikes for r in active.tolist()], dtype=bool)]
    return v.reshape(shape), [np.asarray(s, dtype=np.int64) for s in spikes]


def simulate(trials: list[SpikeInput], weights: np.ndarray, p: SRMParams,
             T: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Membrane potential ``[B, (M,) T]`` and output spike indices per row (B*M rows, trial-major)."""
    return fire(free_potential(trials, weights, p, T), p.theta, p)


def psp_at(trial: SpikeInput, times_s: np.ndarray, p: SRMParams, derivative: bool = False) -> np.ndarray:
    """Each afferent's summed PSP (or its time derivative) at the given times: ``[len(times), N]``.

    ``sum_{t_i^j < t} K(t - t_i^j)`` evaluated exactly from the event list; it is dV/dw_i at time t.
    """
    times = np.atleast_1d(np.asarray(times_s, dtype=float))
    out = np.zeros((times.size, trial.n_afferents))
    for r, t in enumerate(times.tolist()):  # a handful of times: t* and the earlier output spikes
        sel = trial.times_s < t
        lag = t - trial.times_s[sel]
        if derivative:
            k = p.v0 * (-np.exp(-lag / p.tau_m) / p.tau_m + np.exp(-lag / p.tau_s) / p.tau_s)
        else:
            k = p.v0 * (np.exp(-lag / p.tau_m) - np.exp(-lag / p.tau_s))
        out[r] = np.bincount(trial.afferents[sel], weights=k, minlength=trial.n_afferents)
    return out


def reference_simulate(trial: SpikeInput, weights: np.ndarray, p: SRMParams,
                       T: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Plain per-sample loop of the same model (for tests only): V ``[T]`` and spike indices."""
    if T is None:
        T = p.n_steps(trial.duration_s)
    v = np.zeros(T)
    spikes: list[int] = []
    for n in range(T):
        t = n * p.dt
        lag = t - trial.times_s
        vn = float(np.sum(weights[trial.afferents] * p.kernel(lag)))
        for s in spikes:
            vn -= p.theta * math.exp(-(t - s * p.dt) / p.tau_m)
        v[n] = vn
        if vn >= p.theta:
            spikes.append(n)
    return v, np.asarray(spikes, dtype=np.int64)
