"""Multi-source azimuth tracking: wrapped-angle Kalman filters with source birth and death.

Each source is a :class:`Track` whose state is ``[azimuth (deg), angular velocity (deg/s)]``
under a constant-velocity model driven by white angular acceleration (the "discrete white noise
acceleration" model): with ``dt`` the time since the track's last step,

    F = [[1, dt], [0, 1]],   Q = q^2 [[dt^4/4, dt^3/2], [dt^3/2, dt^2]],

``q`` = :attr:`TrackerConfig.accel_sigma_deg_s2`. The measurement is the frame's azimuth with
standard deviation :attr:`TrackerConfig.meas_sigma_deg`. Angles are wrapped: the state azimuth is
kept in [0, 360) and every innovation ``z - azimuth`` is wrapped to [-180, 180), so a source
moving through 0°/360° is tracked without a jump (a plain Kalman filter on raw angles would see
a 360° step there).

Each time step (one analysis frame), :meth:`AzimuthTracker.step`:

1. predicts every track to the frame time;
2. associates measurements with tracks greedily by smallest wrapped innovation, confirmed tracks
   first, inside a gate of ``clip(gate_sigmas * sqrt(S), gate_min_deg, gate_max_deg)`` (``S`` the
   innovation variance), each measurement and track used at most once;
3. updates the matched tracks;
4. **birth**: an unmatched measurement starts a *tentative* track, which becomes *confirmed*
   after ``confirm_hits`` matched frames; a tentative track that misses more than
   ``tentative_max_misses`` frames in a row is dropped (a lone outlier never becomes a source);
5. **death**: a confirmed track with no measurement for ``death_s`` seconds (silence, or the
   source stopped) is removed; two confirmed tracks closer than ``merge_deg`` are merged (the
   older one stays).

Measurement weight: a measurement may carry a weight ``w`` in (0, 1] (how much the
frame carries the source: its confidence times its SNR weight, see
:func:`measurement_weight`); its standard deviation is then ``meas_sigma_deg / sqrt(w)``
(``weight_floor`` bounds it), so a frame that barely stands above the noise moves a track less
than a loud, peaked one. Each track keeps a *score*: the exponential average (time constant
``score_tau_s``) of its measurements' weights, 0 for frames it missed.

Main output with hysteresis (with two tracks alive, a most-recently-updated rule flipped
about 6 times a second): :meth:`AzimuthTracker.primary` stays on the current track
while it is confirmed, and switches to another only when that one's score exceeds the current
one's by ``switch_margin`` (relative) for ``switch_hold_s`` seconds in a row; when the current
track dies the best-scoring confirmed track takes over at once. tests/test_track.py measures the
flips per second on a two-source stream.

Re-identification (``reid_deg`` > 0; on with several sources, :func:`multi_source_config`).
Why ids switched on moving talkers (benchmarks/multi_bench.py): a walking talker passes a
stationary peak (a diffuse-noise point, a reflection) whose frames keep feeding the talker's
track, so the track stays behind with a velocity near 0 while the talker walks on and, a second
later, a new track is born on the talker (40-60 deg away); less often a talker's track dies in a
pause and is reborn under a new id. So when a tentative track is confirmed it takes the id of
the nearest *lost* track within ``reid_deg``: a confirmed track without a measurement for
``reid_gap_s`` (the ids are swapped; the left-behind track coasts on under the new id and dies
unless it is heard) or one that died within ``reid_memory_s`` (its id is reused). "Nearest"
is the smaller of the distances to where the lost track was last heard and to where its constant
velocity predicts it now. The price: a ghost confirmed near a pausing talker can take the
talker's id (one switch when the talker is heard again, as without re-identification).

Only confirmed tracks are reported. Between measurements (short pauses, frames judged inactive)
a confirmed track coasts on its prediction, with a confidence decaying by half every
``confidence_half_life_s``; that is what makes live output steady. The price is a birth delay
of ``confirm_hits - 1`` frames at a source's onset and up to ``death_s`` of coasting after it
stops. Choice: a bank of Kalman filters rather than a particle filter because one peak per frame
and one source per direction make the posterior close to Gaussian on the circle; it costs
microseconds per frame. Its benefit over raw per-frame angles is measured in
``tests/test_track.py`` (a moving source through 0°/360° with outliers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..angles import wrap_deg, wrap_pm180


@dataclass
class TrackerConfig:
    """Parameters of :class:`AzimuthTracker` (units in the names)."""

    meas_sigma_deg: float = 8.0
    """Standard deviation of one frame's azimuth (deg)."""
    accel_sigma_deg_s2: float = 60.0
    """Standard deviation of the angular acceleration driving the motion model (deg/s^2)."""
    init_vel_sigma_deg_s: float = 30.0
    """Prior standard deviation of a new track's angular velocity (deg/s)."""
    gate_sigmas: float = 3.0
    """A measurement is matched to a track only within this many innovation standard
    deviations ..."""
    gate_min_deg: float = 12.0
    """... but never closer than this (deg) ..."""
    gate_max_deg: float = 40.0
    """... nor farther than this (deg)."""
    confirm_hits: int = 3
    """Matched frames that turn a tentative track into a reported source (birth)."""
    tentative_max_misses: int = 1
    """A tentative track missing more frames than this in a row is dropped."""
    death_s: float = 0.6
    """A confirmed track without a measurement for this long is removed (death)."""
    merge_deg: float = 8.0
    """Two confirmed tracks closer than this (deg) are merged (the older one stays)."""
    max_tracks: int = 6
    """At most this many tracks (tentative and confirmed) at a time: no birth beyond."""
    confidence_half_life_s: float = 0.2
    """While coasting, the reported confidence halves every this many seconds."""
    weight_floor: float = 0.05
    """Smallest measurement weight (bounds the widened measurement sigma)."""
    score_tau_s: float = 1.0
    """Time constant (s) of each track's score, the average weight of its measurements."""
    switch_margin: float = 0.5
    """The main output moves to another track only when its score exceeds the current one's by
    this fraction ..."""
    switch_hold_s: float = 0.5
    """... for this many seconds in a row."""
    activity_tau_s: float = 0.5
    """Time constant (s) of each track's activity: the exponential average of whether a frame
    brought it a measurement (1) or not (0), the ``activity`` of the ``sources`` list and of ODAS."""
    reid_deg: float = 0.0
    """Re-identification (module docstring): a newly confirmed track takes the id of a lost track
    (alive but without a measurement for ``reid_gap_s``, or dead for at most ``reid_memory_s``)
    within this many degrees of where that one was last heard or is predicted; 0: off."""
    reid_gap_s: float = 0.15
    """A confirmed track not updated for this long (s) counts as lost for re-identification."""
    reid_memory_s: float = 3.0
    """How long (s) a dead confirmed track's id can still be handed to a new track."""

    def validate(self) -> TrackerConfig:
        from ..errors import InputError

        for name in ("meas_sigma_deg", "accel_sigma_deg_s2", "death_s", "confidence_half_life_s",
                     "weight_floor", "score_tau_s", "activity_tau_s"):
            if getattr(self, name) <= 0:
                raise InputError(f"tracking: {name} must be positive")
        if self.confirm_hits < 1:
            raise InputError("tracking: confirm_hits must be at least 1")
        if self.switch_margin < 0 or self.switch_hold_s < 0:
            raise InputError("tracking: switch_margin and switch_hold_s must be >= 0")
        if self.reid_deg < 0 or self.reid_gap_s < 0 or self.reid_memory_s < 0:
            raise InputError("tracking: reid_deg, reid_gap_s and reid_memory_s must be >= 0")
        return self


@dataclass
class Track:
    """One tracked source.

    Attributes:
        track_id: unique, increasing.
        x: state ``[azimuth_deg in [0, 360), velocity_deg_s]``.
        P: state covariance, 2x2 (deg^2, deg^2/s, deg^2/s^2).
        t_s: time of the last step (s).
        last_update_s: time of the last matched measurement (s).
        hits: matched measurements so far; misses: consecutive frames without one.
        confirmed: born (reported) or still tentative.
        confidence: last matched measurement's confidence, decayed while coasting.
    """

    track_id: int
    x: np.ndarray
    P: np.ndarray
    t_s: float
    last_update_s: float
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    confidence: float = 0.0
    born_s: float = field(default=0.0)
    score: float = 0.0
    """Exponential average of the track's measurement weights (module docstring)."""
    activity: float = 0.0
    """Exponential average (``activity_tau_s``) of whether each frame matched the track, in [0, 1]:
    near 1 while the source is heard in every frame, falling while it pauses."""
    last_heard_deg: float = 0.0
    """The filtered azimuth (deg) right after the track's last matched measurement."""

    @property
    def azimuth_deg(self) -> float:
        return float(self.x[0])

    @property
    def velocity_deg_s(self) -> float:
        return float(self.x[1])

    @property
    def sigma_deg(self) -> float:
        return float(np.sqrt(max(self.P[0, 0], 0.0)))


class AzimuthTracker:
    """Track source azimuths over time (see the module docstring).

    Example::

        tr = AzimuthTracker()
        for t, az, conf in frames:                 # az None when the frame had no source
            tr.step(t, [] if az is None else [(az, conf)])
            src = tr.primary()                     # None until a source is born, after death
    """

    def __init__(self, config: TrackerConfig | None = None):
        self.config = (config or TrackerConfig()).validate()
        self.reset()

    def reset(self) -> None:
        self.tracks: list[Track] = []
        self._next_id = 1
        self.t_s: float | None = None
        self._primary_id: int | None = None
        self._challenge: tuple[int, float] | None = None   # (track id, since when it leads)
        self.switches = 0
        """How many times the main output moved from one live track to another."""
        self._dead: list[Track] = []
        """Confirmed tracks that died in the last ``reid_memory_s`` (re-identification)."""
        self.reidentified = 0
        """How many new tracks took a lost track's id."""

    # --- filter steps ---------------------------------------------------------------------
    def _predict(self, tr: Track, t_s: float) -> None:
        dt = max(t_s - tr.t_s, 0.0)
        if dt == 0.0:
            return
        F = np.array([[1.0, dt], [0.0, 1.0]])
        q2 = self.config.accel_sigma_deg_s2 ** 2
        Q = q2 * np.array([[dt ** 4 / 4, dt ** 3 / 2], [dt ** 3 / 2, dt ** 2]])
        tr.x = F @ tr.x
        tr.x[0] = wrap_deg(tr.x[0])
        tr.P = F @ tr.P @ F.T + Q
        tr.t_s = t_s

    def _innovation_var(self, tr: Track, weight: float = 1.0) -> float:
        w = max(float(weight), self.config.weight_floor)
        return float(tr.P[0, 0] + self.config.meas_sigma_deg ** 2 / w)

    def _gate(self, tr: Track) -> float:
        c = self.config
        return float(np.clip(c.gate_sigmas * np.sqrt(self._innovation_var(tr)), c.gate_min_deg,
                             c.gate_max_deg))

    def _update(self, tr: Track, z_deg: float, conf: float, t_s: float, weight: float = 1.0) -> None:
        S = self._innovation_var(tr, weight)
        K = tr.P[:, 0] / S                              # H = [1, 0]
        d = float(wrap_pm180(z_deg - tr.x[0]))
        tr.x = tr.x + K * d
        tr.x[0] = wrap_deg(tr.x[0])
        tr.P = tr.P - np.outer(K, tr.P[0, :])
        tr.P = 0.5 * (tr.P + tr.P.T)
        tr.hits += 1
        tr.misses = 0
        tr.last_update_s = t_s
        tr.last_heard_deg = float(tr.x[0])
        tr.confidence = float(conf)
        if not tr.confirmed and tr.hits >= self.config.confirm_hits:
            tr.confirmed = True
            tr.born_s = t_s
            self._reidentify(tr, t_s)

    def _reidentify(self, new: Track, t_s: float) -> None:
        """A just-confirmed track takes the id of the nearest lost track (module docstring):
        an alive one swaps ids with it (it keeps coasting under the new id and dies unless it is
        heard again), a dead one's id is taken and forgotten."""
        c = self.config
        if c.reid_deg <= 0:
            return
        self._dead = [d for d in self._dead if t_s - d.t_s <= c.reid_memory_s]
        best, best_d = None, c.reid_deg
        for o in [*self.tracks, *self._dead]:
            if o is new or not o.confirmed or t_s - o.last_update_s < c.reid_gap_s:
                continue
            d = min(abs(float(wrap_pm180(new.x[0] - o.last_heard_deg))),
                    abs(float(wrap_pm180(new.x[0] - self._predicted_deg(o, t_s)))))
            if d <= best_d:
                best, best_d = o, d
        if best is None:
            return
        new.track_id, best.track_id = best.track_id, new.track_id
        new.born_s = min(new.born_s, best.born_s)       # the older id's age: merges keep it
        if best in self._dead:
            self._dead.remove(best)
        self.reidentified += 1

    def _predicted_deg(self, tr: Track, t_s: float) -> float:
        """Where a track is predicted at ``t_s`` by its constant velocity (alive tracks are
        already predicted to the frame time; dead ones from their time of death)."""
        return float(wrap_deg(tr.x[0] + tr.x[1] * max(t_s - tr.t_s, 0.0)))

    def _new_track(self, z_deg: float, conf: float, t_s: float) -> Track:
        c = self.config
        tr = Track(self._next_id, np.array([float(wrap_deg(z_deg)), 0.0]),
                   np.diag([c.meas_sigma_deg ** 2, c.init_vel_sigma_deg_s ** 2]), t_s, t_s,
                   confidence=float(conf), born_s=t_s, last_heard_deg=float(wrap_deg(z_deg)))
        self._next_id += 1
        if c.confirm_hits <= 1:
            tr.confirmed = True
            self._reidentify(tr, t_s)
        return tr

    # --- one frame ------------------------------------------------------------------------
    def step(self, t_s: float, measurements: list[tuple[float, ...]]) -> list[Track]:
        """Advance to time ``t_s`` (s) with this frame's measurements ``[(azimuth_deg, conf)]`` or
        ``[(azimuth_deg, conf, weight)]`` (weight in (0, 1], default 1; empty for a frame without a
        source); return the confirmed tracks."""
        c = self.config
        dt = 0.0 if self.t_s is None else max(t_s - self.t_s, 0.0)
        decay = float(np.exp(-dt / c.score_tau_s))
        act_decay = float(np.exp(-dt / c.activity_tau_s))
        self.t_s = t_s
        for tr in self.tracks:
            self._predict(tr, t_s)
            tr.score *= decay
            tr.activity *= act_decay
        weights = [float(m[2]) if len(m) > 2 else 1.0 for m in measurements]
        # Greedy association: confirmed tracks first, then smallest |innovation|.
        cand = []
        for ti, tr in enumerate(self.tracks):
            gate = self._gate(tr)
            for mi, m in enumerate(measurements):
                d = abs(float(wrap_pm180(m[0] - tr.x[0])))
                if d <= gate:
                    cand.append((not tr.confirmed, d, ti, mi))
        used_t: set[int] = set()
        used_m: set[int] = set()
        for _, _, ti, mi in sorted(cand):
            if ti in used_t or mi in used_m:
                continue
            used_t.add(ti)
            used_m.add(mi)
            z, conf = measurements[mi][:2]
            self._update(self.tracks[ti], z, conf, t_s, weights[mi])
            self.tracks[ti].score += (1.0 - decay) * weights[mi]
            self.tracks[ti].activity += 1.0 - act_decay
        for ti, tr in enumerate(self.tracks):
            if ti not in used_t:
                tr.misses += 1     # coasting (confidence decay: reported_confidence)
        # Births.
        for mi, m in enumerate(measurements):
            if mi not in used_m and len(self.tracks) < c.max_tracks:
                self.tracks.append(self._new_track(m[0], m[1], t_s))
                self.tracks[-1].score = (1.0 - decay) * weights[mi]
                self.tracks[-1].activity = 1.0 - act_decay
        # Deaths and merges.
        alive = []
        for tr in self.tracks:
            if not tr.confirmed and tr.misses > c.tentative_max_misses:
                continue
            if tr.confirmed and t_s - tr.last_update_s > c.death_s:
                if c.reid_deg > 0:
                    self._dead.append(tr)
                continue
            alive.append(tr)
        alive.sort(key=lambda tr: (not tr.confirmed, tr.born_s, tr.track_id))
        merged: list[Track] = []
        for tr in alive:
            if tr.confirmed and any(o.confirmed and abs(float(wrap_pm180(tr.x[0] - o.x[0]))) < c.merge_deg
                                    for o in merged):
                continue
            merged.append(tr)
        self.tracks = merged
        self._choose_primary(t_s)
        return self.confirmed()

    def _choose_primary(self, t_s: float) -> None:
        """Hysteresis of the main output (module docstring)."""
        c = self.config
        conf = self.confirmed()
        best = max(conf, key=lambda tr: (tr.score, tr.last_update_s, tr.hits), default=None)
        cur = next((tr for tr in conf if tr.track_id == self._primary_id), None)
        if cur is None:
            if best is not None and self._primary_id is not None:
                self.switches += 1
            self._primary_id = None if best is None else best.track_id
            self._challenge = None
            return
        if best is None or best is cur or best.score <= cur.score * (1.0 + c.switch_margin):
            self._challenge = None
            return
        if self._challenge is None or self._challenge[0] != best.track_id:
            self._challenge = (best.track_id, t_s)
        if t_s - self._challenge[1] >= c.switch_hold_s:
            self._primary_id, self._challenge = best.track_id, None
            self.switches += 1

    # --- reading --------------------------------------------------------------------------
    def confirmed(self) -> list[Track]:
        """The reported sources (confirmed tracks)."""
        return [tr for tr in self.tracks if tr.confirmed]

    def reported_confidence(self, tr: Track) -> float:
        """The track's confidence now: its last measurement's, halved every
        ``confidence_half_life_s`` since then (coasting)."""
        age = max((self.t_s or tr.last_update_s) - tr.last_update_s, 0.0)
        return float(tr.confidence * 0.5 ** (age / self.config.confidence_half_life_s))

    def sources_json(self) -> list[dict]:
        """The confirmed tracks as the ``sources`` list of the JSON outputs (conventions.md):
        ``{"id", "azimuth_deg", "confidence", "activity"}`` each, the main track first."""
        main = self._primary_id
        out = sorted(self.confirmed(), key=lambda tr: (tr.track_id != main, tr.track_id))
        return [{"id": tr.track_id, "azimuth_deg": round(tr.azimuth_deg, 2),
                 "confidence": round(self.reported_confidence(tr), 4),
                 "activity": round(float(np.clip(tr.activity, 0.0, 1.0)), 4)} for tr in out]

    def primary(self) -> Track | None:
        """The main source: the current main track, kept with hysteresis (module docstring)."""
        return next((tr for tr in self.confirmed() if tr.track_id == self._primary_id), None)


def multi_source_config(hop_s: float) -> TrackerConfig:
    """The tracker's settings with several sources per frame (``--sources`` other than 1, whose
    frames are 0.064 s every 0.032 s by default): birth after 0.38 s of matched frames (a frame's
    weaker peaks hold more ghosts than its one peak), a tentative track dropped after 0.1 s
    without a match, a tighter measurement (5 deg: every frame brings each talker's peak, so the
    tracks keep up with a walking talker instead of lagging behind until a new track is born
    ahead of it), and tracks within 15 deg merged (the older id stays). Chosen on moving
    two-talker scenes of another seed than the bench's (benchmarks/multi_bench.py): identity
    switches per minute 7.2 with the single-source settings, 0 with these; docs/live.md.

    Re-identification within 60 deg, a lost track after 0.15 s without a measurement, dead ids
    remembered 6 s: on 16 moving two-talker scenes of seed 222 (not the bench's 22) identity
    switches per minute went 2.63 -> 1.88 (gcc-phat) and 3.00 -> 1.88 (srp-phat), OSPA and track
    recall unchanged; 30 and 45 deg helped less, 90 deg no more for gcc-phat."""
    return TrackerConfig(meas_sigma_deg=5.0, confirm_hits=max(3, int(round(0.384 / hop_s))),
                         tentative_max_misses=max(1, int(round(0.096 / hop_s))), merge_deg=15.0,
                         reid_deg=60.0, reid_gap_s=0.15, reid_memory_s=6.0)


def make_tracker(hop_s: float, multi: bool) -> AzimuthTracker:
    """The tracker of a live run: the defaults for one source, :func:`multi_source_config` for
    several."""
    return AzimuthTracker(multi_source_config(hop_s) if multi else None)


def measurement_weight(confidence: float, snr_db: float | None) -> float:
    """A frame's measurement weight in [0, 1]: its confidence times the fraction of its power
    above the noise floor, ``1 - 10^(-snr_db/10)`` (``snr_db`` None: the confidence alone)."""
    w = float(np.clip(confidence, 0.0, 1.0))
    if snr_db is not None and np.isfinite(snr_db):
        w *= float(np.clip(1.0 - 10.0 ** (-snr_db / 10.0), 0.0, 1.0))
    return w
