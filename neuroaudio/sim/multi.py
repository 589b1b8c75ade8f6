"""Scenes with several talkers at once (issue 22): static or moving, in a reverberant shoebox.

A scene holds ``n_talkers`` espeak-ng talkers (:func:`~neuroaudio.sim.signals.plan_signal`,
continuous speech, each its own voice) speaking at the same time, at azimuths at least
``min_sep_deg`` apart (array frame), 1-2 m from the array, plus diffuse pink noise from four
points and sensor noise 10 dB below it. The respeaker4 array sits at yaw 0, so room angles are
array angles.

Levels (conventions.md's SNR, per talker): each talker's reverberant image is scaled to unit
mean power over mics and clip, so the talkers are equally loud, and the noise is scaled to
``snr_db`` below one talker.

Moving talkers walk on a circle around the array at ``speed_deg_s`` (either direction): the
signal is rendered in ``segment_s`` pieces, each through the room response of the talker's
position at the piece's centre, overlap-added with Hann cross-fades (50 %). Truth is the
azimuth of every talker at any time (:meth:`MultiScene.azimuths_at`).

Everything is drawn from ``SeedSequence(seed, spawn_key=(index,))``: a scene depends only on its
seed, index and settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..angles import circular_error_deg, wrap_deg

SENSOR_NOISE_DB = -10.0
"""Sensor noise relative to the diffuse noise (dB)."""


@dataclass(frozen=True)
class MultiScene:
    """One planned scene (metres, seconds, degrees; room frame = array frame rotated by 0).

    ``start_deg[k]`` is talker ``k``'s azimuth at t = 0, ``speed_deg_s[k]`` its angular speed
    (0: static); ``distance_m[k]`` its distance from the array centre, ``height_m`` the height of
    every talker's mouth.
    """

    index: int
    n_talkers: int
    duration_s: float
    fs: int
    room_m: tuple[float, float, float]
    rt60_s: float
    snr_db: float
    center_m: tuple[float, float, float]
    start_deg: tuple[float, ...]
    speed_deg_s: tuple[float, ...]
    distance_m: tuple[float, ...]
    height_m: float
    seed: int

    def azimuths_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """True azimuths (deg, [0, 360)) ``[len(t), n_talkers]`` at times ``t_s``."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        speed = np.asarray(self.speed_deg_s)[None, :]
        return wrap_deg(np.asarray(self.start_deg)[None, :] + t[:, None] * speed)

    @property
    def moving(self) -> bool:
        return any(s != 0 for s in self.speed_deg_s)


def _separated(az: np.ndarray, min_sep_deg: float) -> bool:
    d = circular_error_deg(az[:, None], az[None, :])
    return bool(np.all(d[np.triu_indices(len(az), 1)] >= min_sep_deg))


def plan_scene(index: int, n_talkers: int, *, seed: int = 0, duration_s: float = 3.0, fs: int = 16000,
               snr_db: float = 20.0, rt60_s: tuple[float, float] = (0.2, 0.5), min_sep_deg: float = 30.0,
               speed_deg_s: tuple[float, float] = (0.0, 0.0)) -> MultiScene:
    """Draw scene ``index`` (module docstring). Moving talkers (``speed_deg_s`` a range with a
    positive high end) keep ``min_sep_deg`` apart for the whole clip; the draw is repeated until
    they do."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    room = (float(rng.uniform(5.0, 7.0)), float(rng.uniform(4.5, 6.0)), float(rng.uniform(2.6, 3.0)))
    rt60 = float(rng.uniform(*rt60_s))
    center = (room[0] / 2 + float(rng.uniform(-0.3, 0.3)), room[1] / 2 + float(rng.uniform(-0.3, 0.3)),
              float(rng.uniform(0.9, 1.2)))
    dist = tuple(float(d) for d in rng.uniform(1.0, 1.8, size=n_talkers))
    t = np.linspace(0.0, duration_s, 50)
    for _ in range(10000):
        start = rng.uniform(0.0, 360.0, size=n_talkers)
        speed = rng.uniform(*speed_deg_s, size=n_talkers) * rng.choice([-1.0, 1.0], size=n_talkers)
        traj = start[None, :] + t[:, None] * speed[None, :]
        if all(_separated(a, min_sep_deg) for a in traj):
            break
    else:
        raise ValueError(f"cannot place {n_talkers} talkers {min_sep_deg} deg apart")
    return MultiScene(index, n_talkers, float(duration_s), int(fs), room, rt60, float(snr_db), center,
                      tuple(float(wrap_deg(a)) for a in start), tuple(float(s) for s in speed), dist,
                      float(rng.uniform(1.1, 1.6)), int(seed))


def _room(scene: MultiScene, mics_m: np.ndarray, max_order: int):
    import pyroomacoustics as pra

    absorption, order = pra.inverse_sabine(scene.rt60_s, list(scene.room_m))
    r = pra.ShoeBox(list(scene.room_m), fs=scene.fs, materials=pra.Material(absorption),
                    max_order=min(order, max_order), use_rand_ism=False)
    r.add_microphone_array(pra.MicrophoneArray((mics_m + np.asarray(scene.center_m)).T, scene.fs))
    return r


def _position(scene: MultiScene, k: int, az_deg: float) -> list[float]:
    a = np.deg2rad(az_deg)
    c = scene.center_m
    return [c[0] + scene.distance_m[k] * np.cos(a), c[1] + scene.distance_m[k] * np.sin(a), scene.height_m]


def _convolve(x: np.ndarray, rirs: list[np.ndarray], n: int) -> np.ndarray:
    """``x [n]`` through one RIR per mic → ``[n, mics]`` (cropped; pyroomacoustics' lead kept: a
    constant delay of a few ms that moves no direction)."""
    from scipy.signal import fftconvolve

    return np.stack([fftconvolve(x, h)[:n] for h in rirs], axis=1)


def render_scene(scene: MultiScene, array: str = "respeaker4", max_order: int = 10,
                 segment_s: float = 0.25) -> np.ndarray:
    """The scene's microphone signals, float32 ``[samples, mics]`` at ``scene.fs``, peak 0.5.

    ``max_order`` caps the image-source order (speed; the late tail is what RT60 > 0.3 s loses),
    ``segment_s`` is the cross-fade segment of moving talkers.
    """
    from ..arrays import load_array
    from .config import SignalConfig
    from .signals import coloured_noise, plan_signal, render_signal

    arr = load_array(array)
    fs, n = scene.fs, int(round(scene.duration_s * scene.fs))
    rng = np.random.default_rng(np.random.SeedSequence(scene.seed, spawn_key=(scene.index, 1)))
    sig_cfg = SignalConfig(kind="speech")
    images = []
    for k in range(scene.n_talkers):
        dry = render_signal(plan_signal(sig_cfg, rng, scene.duration_s), n, fs)
        if scene.speed_deg_s[k] == 0:
            r = _room(scene, arr.mics_m, max_order)
            r.add_source(_position(scene, k, scene.start_deg[k]))
            r.compute_rir()
            img = _convolve(dry, [np.asarray(r.rir[m][0]) for m in range(arr.n_mics)], n)
        else:
            seg = int(segment_s * fs)
            hop = seg // 2
            win = np.hanning(seg + 1)[:seg]     # periodic Hann: sums to 1 at 50 % overlap
            r = _room(scene, arr.mics_m, max_order)
            starts = list(range(-hop, n, hop))
            for s in starts:
                az = float(scene.azimuths_at((s + seg / 2) / fs)[0, k])
                r.add_source(_position(scene, k, az))
            r.compute_rir()
            img = np.zeros((n, arr.n_mics))
            for j, s in enumerate(starts):
                piece = np.zeros(n)
                lo, hi = max(s, 0), min(s + seg, n)
                piece[lo:hi] = dry[lo:hi] * win[lo - s:hi - s]
                rir = [np.asarray(r.rir[m][j]) for m in range(arr.n_mics)]
                img += _convolve(piece, rir, n)
        images.append(img / np.sqrt(np.mean(img ** 2) + 1e-20))
    x = np.sum(images, axis=0)
    # diffuse noise: pink from four points in the room, plus sensor noise
    r = _room(scene, arr.mics_m, min(max_order, 6))
    for _ in range(4):
        r.add_source([float(rng.uniform(0.3, side - 0.3)) for side in scene.room_m])
    r.compute_rir()
    noise = np.zeros((n, arr.n_mics))
    for s in range(4):
        rirs = [np.asarray(r.rir[m][s]) for m in range(arr.n_mics)]
        noise += _convolve(coloured_noise(rng, n, fs, 1.0), rirs, n)
    noise /= np.sqrt(np.mean(noise ** 2) + 1e-20)
    noise += 10 ** (SENSOR_NOISE_DB / 20) * rng.standard_normal(noise.shape)
    noise /= np.sqrt(np.mean(noise ** 2) + 1e-20)
    x = x + noise * 10 ** (-scene.snr_db / 20)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)
