"""Rendering: room impulse responses once per room, then every clip of the room by FFT filtering.

Speed comes from sharing work (measured in benchmarks/simulate.py against a naive loop that runs
one pyroomacoustics simulation per clip):

- the RIRs of every target and noise position of a room are computed once
  (``ShoeBox.compute_rir``) and kept in the frequency domain; each clip then costs one forward FFT
  per signal and one inverse FFT per mic and component (noise positions are summed in the
  frequency domain before the inverse transform);
- target images are linear convolutions (an FFT of at least ``samples + rir - 1`` points, cropped
  to the clip: the source starts in a quiet room); noise images are circular convolutions over
  the clip (the RIR folded modulo the clip length): noise is in its steady state from the first
  sample, as if it had been playing before the clip began.

SNR (conventions.md): ``P_source`` is the mean power of the reverberant target image over all mics
and the whole clip; ``P_noise`` the same for all the noise added (every component together). Each
component is first normalised to unit power and weighted by its ``level_db``; the sum is then
scaled so that ``10 log10(P_source / P_noise)`` equals the clip's SNR exactly (before the output
is quantised). Finally the mix is scaled to the clip's peak level (``output.peak_dbfs``); the scale
is common to source and noise, so the SNR is unchanged.

Active part (:mod:`neuroaudio.sim.activity`): every clip also reports the SNR over the part where
the talker is active (``snr_active_db``, defined from the dry source's energy envelope) and the
utterance's onset and duration; they read the rendered parts and change no sample.

Noise components with a list of signal choices normalise each position's dry signal to unit RMS
before the positions are summed (kinds differ in level); a component with a ``positions`` range
uses as many of its planned signals as the room has positions.

Measured RT60 (:func:`measured_rt60_s`): the room's RT60 measured on its own talker RIRs, once per
room, read-only (no audio sample depends on it); the manifest's ``rt60_measured_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import fft as sfft

from .. import SPEED_OF_SOUND_M_S
from .activity import active_mask, active_snr_db, direct_delay_samples, speech_span
from .config import SimConfig
from .scene import ClipPlan, RoomPlan
from .signals import render_signal, render_spectrum


@dataclass
class RoomResponses:
    """A room's RIRs in the frequency domain.

    Attributes:
        target_fft: ``[targets, mics, nfft // 2 + 1]`` at ``nfft`` points (linear convolution).
        noise_fft: per noise component ``[positions, mics, n // 2 + 1]`` at the clip length ``n``
            (circular convolution); sensor components hold ``None``.
        nfft: FFT length of the target images.
        rir_len: longest RIR (samples).
        rirs: the time-domain RIRs ``[sources][mics] -> [taps]`` (targets first, then noise positions).
        lead: samples cut from the start of each image so that sound emitted at clip time 0
            reaches a mic at ``distance / c`` (:func:`rir_lead`).
        rt60_measured_s: the room's RT60 measured on the talker RIRs (s, :func:`measured_rt60_s`);
            NaN when not measured (``room_responses(..., measure_rt60=False)``).
    """

    target_fft: np.ndarray
    noise_fft: list[np.ndarray | None]
    nfft: int
    rir_len: int
    rirs: list[list[np.ndarray]]
    lead: int
    rt60_measured_s: float = float("nan")
    n: int = 0
    """Clip length (samples) of ``noise_fft``: the config's (its longest clip's)."""

    def noise_spectra(self, n: int) -> list[np.ndarray | None]:
        """``noise_fft`` for clips of ``n`` samples (folded again when ``n`` differs from :attr:`n`)."""
        if n == self.n:
            return self.noise_fft
        out: list[np.ndarray | None] = []
        s = self.target_fft.shape[0]
        for h in self.noise_fft:
            if h is None:
                out.append(None)
                continue
            out.append(np.stack([np.stack([sfft.rfft(_fold(r, n, self.lead)) for r in self.rirs[s + k]])
                                 for k in range(h.shape[0])]))
            s += h.shape[0]
        return out


def pra_room(cfg: SimConfig, room: RoomPlan):
    """The pyroomacoustics ShoeBox of a plan: walls, order, mics (no sources yet)."""
    import pyroomacoustics as pra

    r = pra.ShoeBox(list(room.size_m), fs=cfg.fs, materials=pra.Material(room.absorption),
                    max_order=room.max_order, air_absorption=cfg.room.air_absorption,
                    ray_tracing=cfg.room.ray_tracing, use_rand_ism=False)
    if cfg.room.ray_tracing:
        r.set_ray_tracing()
    r.add_microphone_array(pra.MicrophoneArray(room.mics_m.T, cfg.fs))
    return r


def room_rirs(cfg: SimConfig, room: RoomPlan) -> list[list[np.ndarray]]:
    """RIRs ``[sources][mics] -> [taps]`` of the targets then the noise positions (one simulation).

    As pyroomacoustics makes them: tap ``k`` is ``k / fs - lead / fs`` seconds after emission, with
    ``lead = frac_delay_length // 2`` (:func:`rir_lead`), the centre of its fractional-delay
    filters; the taps before the lead are not zero (its zero-phase high-pass filter), so the RIRs
    are kept whole and the lead is removed from the rendered output instead.
    """
    r = pra_room(cfg, room)
    for t in room.targets:
        r.add_source(list(t.position_m))
    for pts in room.noise_positions_m:
        for p in pts:
            r.add_source(list(p))
    r.compute_rir()
    return [[np.asarray(r.rir[m][s], dtype=np.float64) for m in range(len(room.mics_m))]
            for s in range(len(r.sources))]


def rir_lead() -> int:
    """Samples by which pyroomacoustics RIRs lead the physical propagation time."""
    import pyroomacoustics as pra

    return int(pra.constants.get("frac_delay_length")) // 2


def _fold(h: np.ndarray, n: int, lead: int) -> np.ndarray:
    """Fold an RIR modulo ``n`` (circular convolution over ``n`` samples), advanced by ``lead``."""
    out = np.zeros(n)
    for k in range(0, len(h), n):
        seg = h[k:k + n]
        out[:len(seg)] += seg
    return np.roll(out, -lead)


RT60_DECAY_DB = 20.0
"""Decay range of the RT60 fit: T20 (Schroeder curve from -5 to -25 dB, extrapolated to 60 dB)."""


def measured_rt60_s(rirs: list[list[np.ndarray]], n_targets: int, fs: int) -> float:
    """The RT60 of a simulated room measured on its talker RIRs (s).

    ``pyroomacoustics.experimental.measure_rt60(h, fs, decay_db=20)`` on each RIR ``[taps]`` of the
    first ``n_targets`` sources of ``rirs`` (``[sources][mics] -> [taps]``, talkers first): T20, the
    Schroeder backward-integrated energy decay fitted from -5 to -25 dB and extrapolated to -60 dB
    (T20, as docs/simulate.md's image-order check; T30 gave ratios within 2.5 % of it on 6 dev_bench
    rooms). The result is the median over every (talker position, mic) RIR: one value
    per room. Cheap (one cumulative sum and a line fit per RIR, a few ms per room); reads the RIRs only.
    """
    from pyroomacoustics.experimental import measure_rt60

    vals = [measure_rt60(h, fs=fs, decay_db=RT60_DECAY_DB) for src in rirs[:n_targets] for h in src]
    return float(np.median(vals))


def room_responses(cfg: SimConfig, room: RoomPlan, measure_rt60: bool = True) -> RoomResponses:
    """Compute a room's RIRs once and transform them for all of its clips.

    With ``measure_rt60`` (default), also measure the room's RT60 on the talker RIRs
    (:func:`measured_rt60_s`, ``RoomResponses.rt60_measured_s``); it changes no audio sample.
    """
    rirs = room_rirs(cfg, room)
    n, lead = cfg.n_samples, rir_lead()
    rir_len = max(len(h) for src in rirs for h in src)
    nfft = sfft.next_fast_len(n + lead + rir_len - 1, real=True)
    n_t = len(room.targets)
    tgt = np.stack([np.stack([sfft.rfft(h, nfft) for h in rirs[s]]) for s in range(n_t)])
    noise_fft: list[np.ndarray | None] = []
    s = n_t
    for pts in room.noise_positions_m:
        if len(pts) == 0:
            noise_fft.append(None)
            continue
        noise_fft.append(np.stack([np.stack([sfft.rfft(_fold(h, n, lead)) for h in rirs[s + k]])
                                   for k in range(len(pts))]))
        s += len(pts)
    rt60 = measured_rt60_s(rirs, n_t, cfg.fs) if measure_rt60 else float("nan")
    return RoomResponses(tgt, noise_fft, nfft, rir_len, rirs, lead, rt60, n)


@dataclass
class RenderedClip:
    """One clip and its parts, all ``[samples, mics]`` float64, already at the output scale."""

    mix: np.ndarray
    source_image: np.ndarray
    noise: np.ndarray
    stats: dict[str, float] = field(default_factory=dict)
    """``snr_active_db``, ``speech_onset_s``, ``speech_duration_s``, ``speech_active_s``
    (:mod:`neuroaudio.sim.activity`)."""

    @property
    def snr_db(self) -> float:
        """SNR as conventions.md defines it, measured on the parts."""
        return float(10 * np.log10(np.mean(self.source_image ** 2) / np.mean(self.noise ** 2)))


def render_clip(cfg: SimConfig, room: RoomPlan, resp: RoomResponses, clip: ClipPlan) -> RenderedClip:
    """Render one clip of a room from its plan (pure: same inputs, same samples)."""
    n, fs = clip.n_samples or cfg.n_samples, cfg.fs
    s = render_signal(clip.source, n, fs)
    spec = sfft.rfft(s, resp.nfft)[None, :] * resp.target_fft[clip.target]
    img = sfft.irfft(spec, resp.nfft)[:, resp.lead:resp.lead + n].T
    p_src = float(np.mean(img ** 2))
    if not p_src > 0:
        raise RuntimeError(f"clip {clip.index}: the source signal is silent ({clip.source['name']})")
    noise = np.zeros((n, len(room.mics_m)))
    for comp, recipes, h in zip(cfg.noise, clip.noise, resp.noise_spectra(n), strict=True):
        if comp.placement == "sensor":
            part = np.random.default_rng(recipes[0]["seed"]).standard_normal((n, len(room.mics_m)))
        else:
            spec = 0
            unit = isinstance(comp.signal, tuple)  # choices of different kinds: each at unit RMS
            for k, rec in enumerate(recipes[:h.shape[0]]):  # sum the positions in the frequency domain
                x = render_spectrum(rec, n, fs)
                if unit:
                    x = _unit_power_spectrum(x, n)
                spec = spec + x[None, :] * h[k]
            part = sfft.irfft(spec, n).T
        p = float(np.mean(part ** 2))
        if p > 0:
            noise += part * np.sqrt(10 ** (comp.level_db / 10) / p)
    p_noise = float(np.mean(noise ** 2))
    noise *= np.sqrt(p_src / (p_noise * 10 ** (clip.snr_db / 10)))
    mix = img + noise
    g = 10 ** (clip.peak_dbfs / 20) / float(np.abs(mix).max())
    img, noise = img * g, noise * g
    delay = direct_delay_samples(room.targets[clip.target].distance_m, fs)
    onset, dur, active = speech_span(s, fs)
    stats = {"snr_active_db": active_snr_db(img, noise, active_mask(s, fs, delay)),
             "speech_onset_s": onset, "speech_duration_s": dur, "speech_active_s": active}
    return RenderedClip(mix * g, img, noise, stats)


def _unit_power_spectrum(x: np.ndarray, n: int) -> np.ndarray:
    """Scale an rFFT ``[n // 2 + 1]`` of an ``n``-sample signal so that the signal has unit RMS."""
    w = np.full(len(x), 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    p = float(np.dot(w, x.real ** 2 + x.imag ** 2)) / n ** 2
    return x / np.sqrt(p) if p > 0 else x


def direct_path_delays_s(room: RoomPlan, target: int) -> np.ndarray:
    """Direct-path propagation time from a target to each mic (s), shape ``[mics]``."""
    d = np.linalg.norm(room.mics_m - room.targets[target].position_m[None, :], axis=1)
    return d / SPEED_OF_SOUND_M_S
