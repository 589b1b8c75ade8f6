"""Batched training augmentation for keyword clips (``train.augment.batch: true``).

Every step works on whole batch tensors (torch, on the training device), not clip by clip:

- :func:`active_span` finds a clip's energetic part once (10-ms frames within ``ACTIVE_DB`` of the
  loudest); :func:`place_energetic` centres the model's window on it (evaluation and inference with
  ``data.placement: energy``).
- :class:`ClipBank` packs the training clips once into one zero-padded tensor ``[N, L]`` with each
  clip's reference span (its energetic part, or the whole clip) and signal power.
- :func:`augment_batch` draws a batch's views in one pass: speed perturbation by resampling (linear
  interpolation, as the per-clip path, so tempo and pitch both change by the factor f: a span of S
  samples becomes S / f). ``resample: linear`` (linear interpolation, as the per-clip path) damps
  the top of the band of every view with f ≠ 1 — mean power gain 2/3 + cos(ω)/3: −1.8 dB at 2 kHz,
  −3.7 dB at 3 kHz, −4.7 dB at 3.8 kHz for 8-kHz audio — and aliases above fs / 2f, while the
  test clips are never resampled; ``resample: sinc`` (:func:`sinc_interp`, Hann-windowed sinc,
  cut-off at min(1, 1/f) of the Nyquist frequency) keeps the band flat;
  placement of the reference span in the window (``shift``: around the centre ± ``shift_s``;
  ``uniform``: anywhere it fits), gain, and white or pink noise at a random SNR relative to the span's
  power on a fraction of the clips.
- :func:`spec_masks`: SpecAugment with several frequency and time masks per clip, drawn in one call.

The random numbers of a batch are drawn in a fixed order from one CPU ``torch.Generator`` whatever
the options, so a run with one element switched off (an ablation) sees the same draws for the others.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .config import AugmentConfig

ACTIVE_DB = 30.0
"""A clip's energetic part: the 10-ms frames whose energy is within this many dB of its loudest
frame (first to last such frame)."""


def active_span(x: np.ndarray, fs: int, rel_db: float = ACTIVE_DB) -> tuple[int, int]:
    """``(start, end)`` samples of the energetic part of mono ``x``: from the first to the end of the
    last 10-ms frame within ``rel_db`` dB of the loudest frame (a last partial frame counts as a
    frame). An empty clip gives ``(0, 0)``; a silent one the whole clip."""
    n = len(x)
    if n == 0:
        return 0, 0
    hop = max(1, int(round(0.01 * fs)))
    frames = -(-n // hop)
    pad = np.zeros(frames * hop, np.float64)
    pad[:n] = np.asarray(x, np.float64) ** 2
    e = pad.reshape(frames, hop).sum(1) / np.minimum(hop, n - hop * np.arange(frames))
    db = 10 * np.log10(e + 1e-20)
    on = np.flatnonzero(db >= db.max() - rel_db)
    return int(on[0] * hop), int(min(n, (on[-1] + 1) * hop))


def place_energetic(x: np.ndarray, n: int, fs: int) -> np.ndarray:
    """``[n]`` float32: the window of ``n`` samples centred on the middle of ``x``'s energetic part
    (:func:`active_span`), zeros where it reaches past the clip."""
    a, b = active_span(x, fs)
    start = (a + b) // 2 - n // 2
    out = np.zeros(n, np.float32)
    lo, hi = max(start, 0), min(start + n, len(x))
    if hi > lo:
        out[lo - start:hi - start] = x[lo:hi]
    return out


class ClipBank:
    """Training clips packed once for :func:`augment_batch`.

    Attributes (tensors, moved together by :meth:`to`): ``audio [N, L]`` float32 (clip i from
    sample 0, zero-padded; a clip longer than ``L`` is cropped to the ``L`` samples around its
    span's middle), ``length [N]``, ``span [N, 2]`` (reference span start/end in bank samples: the
    energetic part for ``placement='energy'``, else the whole clip), ``power [N]`` (mean square over
    the span) and ``labels [N]``. ``L`` = the longest clip, at most
    ``2 · ceil(n · max(1, max_speed)) + 2``: any window of the training view around the span's
    middle fits.
    """

    def __init__(self, clips: list[np.ndarray], labels: list[int], fs: int, n: int, placement: str,
                 max_speed: float):
        cap = 2 * math.ceil(n * max(1.0, max_speed)) + 2
        width = max(1, min(cap, max((len(c) for c in clips), default=1)))
        audio = np.zeros((len(clips), width), np.float32)
        length = np.zeros(len(clips), np.int64)
        span = np.zeros((len(clips), 2), np.float64)
        power = np.zeros(len(clips), np.float64)
        for i, c in enumerate(clips):                    # once per run: packing, not augmentation
            a, b = active_span(c, fs) if placement == "energy" else (0, len(c))
            off = 0
            if len(c) > width:
                off = min(max((a + b) // 2 - width // 2, 0), len(c) - width)
            seg = np.asarray(c[off:off + width], np.float32)
            audio[i, :len(seg)] = seg
            length[i] = len(seg)
            a, b = max(a - off, 0), min(b - off, len(seg))
            span[i] = a, max(b, a)
            power[i] = float(np.mean(seg[a:b].astype(np.float64) ** 2)) if b > a else 0.0
        self.fs, self.n = int(fs), int(n)
        self.audio = torch.from_numpy(audio)
        self.length = torch.from_numpy(length)
        self.span = torch.from_numpy(span)
        self.power = torch.from_numpy(power)
        self.labels = torch.as_tensor(np.asarray(labels, np.int64))

    def to(self, device: torch.device | str) -> ClipBank:
        for k in ("audio", "length", "span", "power", "labels"):
            setattr(self, k, getattr(self, k).to(device))
        return self

    def __len__(self) -> int:
        return int(self.audio.shape[0])


def pink_like(white: torch.Tensor) -> torch.Tensor:
    """Pink (1/f power) noise ``[B, n]`` from white noise ``[B, n]`` by spectral shaping (power of
    bin k ∝ 1/k, DC removed), each row scaled to unit mean power."""
    n = white.shape[-1]
    spec = torch.fft.rfft(white, dim=-1)
    k = torch.arange(spec.shape[-1], device=white.device, dtype=white.dtype)
    gain = torch.where(k > 0, k.clamp_min(1).rsqrt(), torch.zeros_like(k))          # amplitude ∝ 1/√k
    shaped = torch.fft.irfft(spec * gain, n=n, dim=-1)
    return shaped / shaped.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-12)


SINC_HALF_TAPS = 8
"""Windowed-sinc interpolation: taps on each side of the source position (16 in all)."""


def sinc_interp(take, src: torch.Tensor, f: torch.Tensor, half: int = SINC_HALF_TAPS) -> torch.Tensor:
    """Band-limited interpolation: ``y[b, t] = Σ_k x[b, ⌊src⌋ + k] · c · sinc(c · (src − ⌊src⌋ − k))
    · hann`` over k = −half + 1 … half, with cut-off ``c = min(1, 1 / f[b])`` (relative to Nyquist:
    no aliasing when a clip is sped up). ``take(idx [B, M]) -> [B, M]`` reads the clips (zeros
    outside), ``src [B, n]`` float64 source positions, ``f [B]`` speed factors. At f = 1 and whole
    positions the weights are 1 and 0: the clip itself. Returns ``[B, n]`` float32."""
    b, n = src.shape
    i0 = src.floor()
    frac = (src - i0).float()                                                      # [B, n]
    k = torch.arange(-half + 1, half + 1, device=src.device)                       # [2·half]
    d = frac[..., None] - k.float()                                                # src − tap, [B, n, 2h]
    c = (1.0 / f).clamp(max=1.0).float()[:, None, None]
    w = c * torch.sinc(c * d) * (0.5 + 0.5 * torch.cos(torch.pi * d / half))      # Hann over ±half
    w = w * (d.abs() < half)
    idx = i0.long()[..., None] + k                                                 # [B, n, 2h]
    x = take(idx.reshape(b, -1)).reshape(b, n, -1)
    return (x * w).sum(-1)


def augment_batch(bank: ClipBank, idx: torch.Tensor, aug: AugmentConfig, gen: torch.Generator
                  ) -> torch.Tensor:
    """Training views ``[B, n]`` (float32, on the bank's device) of clips ``idx [B]`` (see module
    docstring). Per clip: speed factor f ~ U(``speed``) (source samples per output sample),
    placement of the reference span, gain ~ U(±``gain_db``) dB, noise with probability
    ``noise_prob`` at SNR ~ U(``noise_snr_db``) relative to the span's power, its colour drawn
    uniformly from ``noise_colors`` (``white``, ``pink``)."""
    dev = bank.audio.device
    b, n, fs = len(idx), bank.n, bank.fs
    u = torch.rand(b, 6, generator=gen, dtype=torch.float64).to(dev)   # fixed draw order (ablations)
    white = torch.randn(b, n, generator=gen).to(dev)
    idx = idx.to(dev)
    lo, hi = aug.speed
    f = lo + (hi - lo) * u[:, 0]
    a, e = bank.span[idx, 0], bank.span[idx, 1]
    slack = n - (e - a) / f                                        # room left by the span, output samples
    low, high = slack.clamp(max=0.0), slack.clamp(min=0.0)
    if aug.placement == "uniform":
        p = low + (high - low) * u[:, 1]
    else:
        p = torch.minimum(torch.maximum(slack / 2 + aug.shift_s * fs * (2 * u[:, 1] - 1), low), high)
    p = p.round()                          # whole samples: at f = 1 a view is the clip itself, shifted
    src = a[:, None] + (torch.arange(n, device=dev, dtype=torch.float64)[None] - p[:, None]) * f[:, None]
    i0 = src.floor()
    w = (src - i0).float()
    i0 = i0.long()
    length = bank.length[idx][:, None]
    rows = bank.audio[idx]

    def take(i: torch.Tensor) -> torch.Tensor:
        ok = (i >= 0) & (i < length)
        return torch.gather(rows, 1, i.clamp(0, rows.shape[1] - 1)) * ok

    if aug.resample == "sinc":
        y = sinc_interp(take, src, f)
    else:
        y = take(i0) * (1 - w) + take(i0 + 1) * w
    g = 10 ** ((2 * u[:, 2] - 1) * aug.gain_db / 20)
    y = y * g[:, None].float()
    colors = list(aug.noise_colors)
    if aug.noise_prob > 0 and colors:
        unit = white / white.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-12)
        if "pink" in colors:
            pink = pink_like(white)
            is_pink = (u[:, 5] * len(colors)).long().clamp(max=len(colors) - 1)
            is_pink = torch.as_tensor([c == "pink" for c in colors], device=dev)[is_pink]
            unit = torch.where(is_pink[:, None], pink, unit)
        snr = aug.noise_snr_db[0] + (aug.noise_snr_db[1] - aug.noise_snr_db[0]) * u[:, 4]
        amp = g * (bank.power[idx] / 10 ** (snr / 10)).sqrt() * (u[:, 3] < aug.noise_prob)
        y = y + amp[:, None].float() * unit
    return y


def speed_band_hz(fs: int, speed: list[float] | tuple[float, float]) -> float:
    """The top frequency (Hz) that every speed-perturbed view of ``fs``-Hz audio still covers:
    ``fs / 2 · min(1, speed[0])``. A view slowed by f < 1 has the clip's band [0, fs/2] squeezed
    into [0, f · fs/2]: above that it is empty (``resample: sinc``) or holds a mirror image of the
    clip's top band (``linear``), while every test clip has its own content there (8-kHz FSDD at
    f = 0.85: 3.4–4 kHz, the top 3 of 40 mel bands)."""
    return fs / 2 * min(1.0, float(speed[0]))


def speed_band_warning(frontend_kind: str, fmax_hz: float | None, fs: int,
                       speed: list[float] | tuple[float, float]) -> str | None:
    """A one-line warning when a log-mel front-end reads past :func:`speed_band_hz` (its top filter
    ends at ``fmax_hz``, default fs/2), else ``None``: the bands above it differ between slowed
    training views and test clips. The fix is ``frontend.fmax_hz`` ≤ that frequency."""
    if frontend_kind != "logmel" or speed[0] >= 1.0:
        return None
    band, top = speed_band_hz(fs, speed), fs / 2 if fmax_hz is None else float(fmax_hz)
    if top <= band + 0.5:
        return None
    return (f"speed perturbation down to {speed[0]:g} leaves {band:.0f}-{top:.0f} Hz empty in slowed "
            f"training views while test clips have content there: set frontend.fmax_hz <= {band:.0f}")


def draw_bands(b: int, size: int, n_masks: int, max_width: int, gen: torch.Generator) -> torch.Tensor:
    """``[B, size]`` bool: the union of ``n_masks`` bands per row, each of width ~ U{0..max_width}
    and a uniform start (the band lies inside); all False when ``size <= max_width`` or no masks."""
    if n_masks <= 0 or max_width <= 0 or size <= max_width:
        return torch.zeros(b, size, dtype=torch.bool)
    w = torch.randint(0, max_width + 1, (b, n_masks), generator=gen)
    start = (torch.rand(b, n_masks, generator=gen, dtype=torch.float64) * (size - w + 1)).floor().long()
    i = torch.arange(size)
    return ((i >= start[..., None]) & (i < (start + w)[..., None])).any(1)


def spec_masks(feats: torch.Tensor, freq_masks: int, freq_width: int, time_masks: int, time_width: int,
               gen: torch.Generator) -> torch.Tensor:
    """SpecAugment: ``freq_masks`` bands of ≤ ``freq_width`` features and ``time_masks`` bands of
    ≤ ``time_width`` steps per clip (:func:`draw_bands`, on the CPU from ``gen``) set to the clip's
    mean (0 after per-utterance normalisation). ``feats [B, F, T]`` on any device -> same shape."""
    b, f, t = feats.shape
    in_f = draw_bands(b, f, freq_masks, freq_width, gen).to(feats.device)
    in_t = draw_bands(b, t, time_masks, time_width, gen).to(feats.device)
    fill = feats.mean(dim=(1, 2))[:, None, None]
    return torch.where(in_f[:, :, None] | in_t[:, None, :], fill, feats)
