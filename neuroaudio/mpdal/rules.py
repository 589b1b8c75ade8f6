"""Aggregate-label learning rules on the SRM neuron: MPD-AL (Zhang et al. 2019) and the MST (Gütig 2016).

Both rules see only the *number* of output spikes a trial should produce (the aggregate label),
never when. Both make one weight update per erroneous trial and neuron, in the direction that
adds one spike (too few) or removes one (too many).

MPD-AL -- membrane-potential driven. The update is the afferents' PSP at one "easiest modifiable
time" t* read directly off the membrane trace V(t) (definitions in :func:`mpdal_t_star`)::

    dw_i = +/- lr * sum_{t_i^j < t*} K(t* - t_i^j)

One simulation per trial; the extra cost of an update is one PSP evaluation.

MST -- threshold driven. The spike-threshold surface n(theta) counts output spikes as a function of
a hypothetical threshold; its critical values theta*_k = max{theta : n(theta) >= k} are found by a
vectorised search (many thresholds simulated as rows at once), then the gradient
d theta*_k / dw follows the recursion through the earlier spikes (derived from V(t_j) = theta* at
each earlier spike and V(t*) = theta*, dV/dt(t*) = 0 at the tangential touch; see
:func:`mst_gradient`)::

    too few (o < d): dw = +lr * d theta*_{o+1} / dw        too many (o > d): dw = -lr * d theta*_o / dw
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..neurons.srm import SpikeInput, SRMParams, fire, psp_at


def _local_maxima(v: np.ndarray) -> np.ndarray:
    """Indices of local maxima of a 1-D trace (plateaus: first point; the last sample if rising)."""
    if v.size < 2:
        return np.arange(v.size)
    d = np.diff(v)
    inner = np.flatnonzero((d[:-1] > 0) & (d[1:] <= 0)) + 1
    if d[-1] > 0:
        inner = np.append(inner, v.size - 1)
    return inner


def mpdal_t_star(v: np.ndarray, spikes: np.ndarray, p: SRMParams, too_few: bool) -> int:
    """The easiest modifiable time t* (grid index) of one trace ``v`` ``[T]`` (with resets).

    Too few spikes: the highest *sub-threshold local maximum* of V(t) (the peak that needs the
    smallest push to become a spike). With no sub-threshold local maximum (e.g. a monotone trace),
    the highest sub-threshold sample.

    Too many spikes: for each output spike k at grid index n_k, take the potential without that
    spike's own reset, U_k(t) = V(t) + theta exp(-(t - t_k)/tau_m), over [t_k, t_{k+1}) (to the end
    for the last spike); its peak P_k is how far the input drove the potential. The spike whose
    peak P_k is closest above threshold (smallest P_k - theta) is the easiest to remove, and t* is
    the time of that peak. Pushing V(t*) below theta removes the spike.
    """
    theta = p.theta
    T = v.size
    if too_few:
        is_spike = np.zeros(T, dtype=bool)
        is_spike[spikes] = True
        cand = _local_maxima(v)
        cand = cand[(v[cand] < theta) & ~is_spike[cand]]
        if cand.size:
            return int(cand[np.argmax(v[cand])])
        sub = np.flatnonzero((v < theta) & ~is_spike)
        return int(sub[np.argmax(v[sub])]) if sub.size else int(np.argmax(v))
    if spikes.size == 0:
        raise ValueError("too many spikes asked of a trace without spikes")
    peaks, margins = spike_peaks(v, spikes, p)
    return int(peaks[np.argmin(margins)])


def spike_peaks(v: np.ndarray, spikes: np.ndarray, p: SRMParams) -> tuple[np.ndarray, np.ndarray]:
    """Per output spike k: grid index of the peak of U_k (V without spike k's own reset, over
    [t_k, t_{k+1})) and its margin above threshold ``P_k - theta`` (see :func:`mpdal_t_star`)."""
    T = v.size
    decay = np.exp(-p.dt / p.tau_m) ** np.arange(T)
    ends = np.append(spikes[1:], T)
    peaks = np.zeros(spikes.size, dtype=np.int64)
    margins = np.zeros(spikes.size)
    for k, (n_k, end) in enumerate(zip(spikes.tolist(), ends.tolist(), strict=True)):  # output spikes only
        lag = np.arange(end - n_k)
        u = v[n_k:end] + np.where(lag > 0, p.theta * decay[lag], 0.0)
        j = int(np.argmax(u))
        peaks[k], margins[k] = n_k + j, u[j] - p.theta
    return peaks, margins


def mpdal_update(trial: SpikeInput, v: np.ndarray, spikes: np.ndarray, desired: int,
                 p: SRMParams, per_error: bool = False) -> tuple[np.ndarray, int] | None:
    """MPD-AL weight direction for one neuron, trial: ``(+/- PSP_i(t*) [N], t* index)``; None if correct.

    ``per_error=False`` (default): one t*, one update per erroneous trial. ``per_error=True`` (the
    other reading of "one update per error"): |desired - actual| times t*_1..t*_k -- the k highest
    sub-threshold peaks (too few) or the k spikes easiest to remove (too many) -- and the direction
    is the sum of the PSPs at all of them; the t* index returned is the first choice.
    """
    n_out = spikes.size
    if n_out == desired:
        return None
    too_few = n_out < desired
    if not per_error or abs(desired - n_out) == 1:
        n_star = mpdal_t_star(v, spikes, p, too_few)
        g = psp_at(trial, [n_star * p.dt], p)[0]
        return (g if too_few else -g), n_star
    stars = mpdal_t_stars(v, spikes, p, too_few, abs(desired - n_out))
    g = psp_at(trial, stars * p.dt, p).sum(axis=0)
    return (g if too_few else -g), int(stars[0])


def mpdal_t_stars(v: np.ndarray, spikes: np.ndarray, p: SRMParams, too_few: bool, k: int) -> np.ndarray:
    """The ``k`` best t* candidates in order (see :func:`mpdal_t_star`); fewer if fewer exist."""
    if too_few:
        is_spike = np.zeros(v.size, dtype=bool)
        is_spike[spikes] = True
        cand = _local_maxima(v)
        cand = cand[(v[cand] < p.theta) & ~is_spike[cand]]
        if not cand.size:
            return np.array([mpdal_t_star(v, spikes, p, True)])
        return cand[np.argsort(-v[cand], kind="stable")[:k]]
    peaks, margins = spike_peaks(v, spikes, p)
    return peaks[np.argsort(margins, kind="stable")[:k]]


# ----------------------------------------------------------------------------------------------- MST


@dataclass
class CriticalThreshold:
    """theta*_k, the grid index of the tangential touch t*, and the earlier spikes (grid) at theta*."""

    theta: float
    n_star: int
    t_star_s: float
    spikes_before: np.ndarray
    v: np.ndarray  # trace at a threshold just above theta*


def critical_threshold(v_free: np.ndarray, k: int, p: SRMParams, grid: int = 24, refine: int = 16,
                       rel_tol: float = 1e-6, theta_min_frac: float = 1e-3) -> CriticalThreshold | None:
    """theta*_k = max{theta : n(theta) >= k} of one free trace ``[T]``, by a vectorised bracket search.

    A geometric grid of ``grid`` thresholds between ``theta_min_frac * max V_free`` and ``max V_free``
    is simulated at once (rows), the last grid point with at least k spikes and its upper neighbour
    bracket theta*_k, and the bracket is refined ``refine``-fold per round until its width is below
    ``rel_tol * theta``. Returns None when no positive threshold gives k spikes.
    """
    vmax = float(v_free.max())
    if not vmax > 0 or k < 1:
        return None
    thetas = vmax * np.geomspace(theta_min_frac, 1.0, grid)
    thetas[-1] = vmax * (1 + 1e-12)
    lo = hi = None
    for _ in range(12):
        rows = np.broadcast_to(v_free, (thetas.size, v_free.size))
        _, sp = fire(rows, thetas, p, max_spikes=k)
        ok = np.array([s.size >= k for s in sp])
        if not ok.any():
            if lo is None:
                return None
            break
        i = int(np.flatnonzero(ok)[-1])
        if i == thetas.size - 1:  # only at the top: cannot happen for the first grid (n=0 there)
            break
        lo, hi = float(thetas[i]), float(thetas[i + 1])
        if hi - lo < rel_tol * hi:
            break
        thetas = np.linspace(lo, hi, refine + 1)
    assert lo is not None and hi is not None
    v, sp = fire(v_free, hi, p)
    spikes = sp[0]
    # t*: the sub-threshold local maximum that comes closest to the threshold (it touches at theta*).
    is_spike = np.zeros(v.size, dtype=bool)
    is_spike[spikes] = True
    cand = _local_maxima(v)
    cand = cand[~is_spike[cand] & (v[cand] < hi)]
    if not cand.size:
        return None
    n_star = int(cand[np.argmin(hi - v[cand])])
    t_star = n_star * p.dt
    if 0 < n_star < v.size - 1:  # parabolic refinement of the peak time
        y0, y1, y2 = v[n_star - 1], v[n_star], v[n_star + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            t_star += p.dt * float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5))
    theta = 0.5 * (lo + hi)
    return CriticalThreshold(theta, n_star, t_star, spikes[spikes < n_star], v)


def mst_gradient(trial: SpikeInput, w: np.ndarray, ct: CriticalThreshold, p: SRMParams) -> np.ndarray:
    """d theta*_k / dw ``[N]`` at a critical threshold.

    With earlier spikes t_1 < ... < t_m (each V(t_j) = theta*) and the touch at t* (V = theta*,
    dV/dt = 0), write dt_j/dw = A_j + B_j g with g = d theta*/dw; differentiating V(t_j) = theta*:
    A_j = -(PSP(t_j) - (theta/tau_m) sum_{l<j} e_jl A_l) / Vdot_j,
    B_j =  (1 + sum_{l<j} e_jl + (theta/tau_m) sum_{l<j} e_jl B_l) / Vdot_j,  e_jl = exp(-(t_j - t_l)/tau_m),
    and at t*: g = (PSP(t*) - (theta/tau_m) sum_l e_*l A_l) / (1 + sum_l e_*l + (theta/tau_m) sum_l e_*l B_l).
    Spike times are the linear interpolation of the threshold crossing between grid points.
    """
    theta, tau = ct.theta, p.tau_m
    v = ct.v
    ts = []
    for n in ct.spikes_before.tolist():
        if n == 0:
            ts.append(0.0)
            continue
        a, b = v[n - 1], v[n]
        frac = (ct.theta - a) / (b - a) if b > a else 1.0
        ts.append((n - 1 + float(np.clip(frac, 0.0, 1.0))) * p.dt)
    ts_arr = np.asarray(ts)
    times = np.append(ts_arr, ct.t_star_s)
    psp = psp_at(trial, times, p)  # [m+1, N]
    if ts_arr.size == 0:
        return psp[-1]
    dpsp = psp_at(trial, ts_arr, p, derivative=True) @ w  # dV_free/dt at each spike, [m]
    m = ts_arr.size
    A = np.zeros((m, w.size))
    B = np.zeros(m)
    for j in range(m):  # loop over output spikes only
        e = np.exp(-(ts_arr[j] - ts_arr[:j]) / tau)
        vdot = dpsp[j] + theta / tau * e.sum()
        vdot = max(vdot, 1.0)  # a crossing rises (theta/s); guard grid round-off
        A[j] = -(psp[j] - theta / tau * (e @ A[:j])) / vdot
        B[j] = (1 + e.sum() + theta / tau * (e @ B[:j])) / vdot
    e = np.exp(-(ct.t_star_s - ts_arr) / tau)
    den = 1 + e.sum() + theta / tau * (e @ B)
    return (psp[-1] - theta / tau * (e @ A)) / den


def mst_update(trial: SpikeInput, w: np.ndarray, v_free: np.ndarray, n_out: int, desired: int,
               p: SRMParams) -> tuple[np.ndarray, int] | None:
    """MST weight direction for one neuron and trial: ``(+/- d theta*/dw [N], t* index)`` or None if correct.

    When theta*_k does not exist (no positive threshold yields k spikes, e.g. an all-negative
    trace), falls back to the PSP at the maximum of V_free (documented deviation).
    """
    if n_out == desired:
        return None
    k = n_out + 1 if n_out < desired else n_out
    sign = 1.0 if n_out < desired else -1.0
    ct = critical_threshold(v_free, k, p)
    if ct is None:
        n = int(np.argmax(v_free))
        return sign * psp_at(trial, [n * p.dt], p)[0], n
    return sign * mst_gradient(trial, w, ct, p), ct.n_star
