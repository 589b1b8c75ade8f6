"""Source and noise signals for simulated scenes: recipes (cheap, JSON-able) and their rendering.

Every signal is made in two steps so that a whole dataset can be planned before any audio is made
(the manifest names each clip's signals, and resumed runs need no audio to rebuild it):

1. :func:`plan_signal` draws a *recipe* from a :class:`~neuroaudio.sim.config.SignalConfig` and a
   numpy Generator: a plain dict with ``kind``, ``name`` (for the manifest) and everything needed
   to make the samples (words, voice, files, a seed for random noise, ...).
2. :func:`render_signal` turns a recipe into float32 mono samples ``[n]`` at ``fs`` (Hz). It is a
   pure function of the recipe: same recipe, same samples, in any process.

Kinds (``SignalConfig.kind``):

- ``speech``: espeak-ng speech (:mod:`neuroaudio.sim.speech`) of random words, with a random voice,
  variant, rate (words per minute) and pitch.
- ``folder``: recordings from a folder (any format soundfile reads; mixed to mono, resampled with
  ``resample_poly``); random files with short gaps until the clip is full, each at the same RMS.
- ``white``, ``pink`` (power ~ 1/f), ``brown`` (power ~ 1/f^2): stationary Gaussian noise made
  in the frequency domain (coloured kinds above 20 Hz); a clip-long period, so its circular
  convolution with an RIR is the steady state.
- ``babble``: several espeak talkers summed (equal RMS, random offsets): non-stationary speech-like
  noise.
- ``am``: amplitude-modulated noise, ``carrier * (1 + depth * sin(2 pi f_m t + phi)) / (1 + depth)``
  with a random modulation rate ``f_m`` (Hz) and depth.
- ``impulsive``: clatter-like transients: Poisson events (``events_per_s``), each a burst of
  band-limited noise with an exponential decay (``decay_ms``) and a random level over 20 dB, on a
  faint pink floor (-30 dB).
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfilt

from .words import WORDS

if TYPE_CHECKING:
    from .config import SignalConfig

Recipe = dict[str, Any]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")
"""Files of a signal folder that are read (case-insensitive)."""

NOISE_LOW_CUT_HZ = 20.0
"""Coloured noises are shaped above this frequency (Hz): no DC drift in brown noise."""


# ------------------------------------------------------------------------------------------------
# planning
# ------------------------------------------------------------------------------------------------
def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    lo, hi = lo_hi
    return float(lo if hi <= lo else rng.uniform(lo, hi))


def _plan_speech(cfg: SignalConfig, rng: np.random.Generator, duration_s: float) -> Recipe:
    voice = str(cfg.voices[rng.integers(len(cfg.voices))])
    if cfg.variants:
        variant = str(cfg.variants[rng.integers(len(cfg.variants))])
        voice = f"{voice}+{variant}" if variant else voice
    rate = int(round(_uniform(rng, cfg.rate_wpm)))
    pitch = int(round(_uniform(rng, cfg.pitch)))
    words = cfg.word_list() or WORDS
    n_words = max(1, int(np.ceil(duration_s * rate / 60.0)))  # espeak's words last > 60/rate s
    text = " ".join(str(words[i]) for i in rng.integers(len(words), size=n_words))
    lead_s = _uniform(rng, (0.0, min(0.1, duration_s / 4)))
    return {"kind": "speech", "text": text, "voice": voice, "rate_wpm": rate, "pitch": pitch,
            "lead_s": round(lead_s, 4),
            "name": f"speech:{voice}:{rate}wpm:p{pitch}:{text.replace(' ', '_')[:60]}"}


def _plan_folder(cfg: SignalConfig, rng: np.random.Generator, duration_s: float) -> Recipe:
    files, durations = folder_index(cfg.path)
    items: list[tuple[str, float]] = []  # (file, start time in the clip, s)
    t = _uniform(rng, (0.0, min(0.1, duration_s / 4)))
    while t < duration_s and len(items) < 1000:
        k = int(rng.integers(len(files)))
        items.append((files[k], round(t, 4)))
        t += durations[k] + _uniform(rng, (0.05, 0.25))
    offset = 0.0
    if len(items) == 1 and durations[files.index(items[0][0])] > duration_s:
        # one long recording: start at a random point in it
        offset = _uniform(rng, (0.0, durations[files.index(items[0][0])] - duration_s))
    names = "+".join(Path(f).name for f, _ in items[:4]) + ("+..." if len(items) > 4 else "")
    return {"kind": "folder", "items": items, "offset_s": round(offset, 4),
            "name": f"{Path(cfg.path).name}:{names}"}


def plan_signal(cfg: SignalConfig, rng: np.random.Generator, duration_s: float) -> Recipe:
    """Draw the recipe of one signal of ``duration_s`` seconds (see the module docstring)."""
    kind = cfg.kind
    if kind == "speech":
        return _plan_speech(cfg, rng, duration_s)
    if kind == "folder":
        return _plan_folder(cfg, rng, duration_s)
    seed = int(rng.integers(2**63 - 1))
    if kind in ("white", "pink", "brown"):
        return {"kind": kind, "seed": seed, "name": kind}
    if kind == "babble":
        n = int(rng.integers(cfg.talkers[0], cfg.talkers[1] + 1))
        talkers = [_plan_speech(cfg, rng, duration_s) for _ in range(n)]
        return {"kind": "babble", "talkers": talkers, "seed": seed, "name": f"babble:{n}talkers"}
    if kind == "am":
        fm, depth = _uniform(rng, cfg.modulation_hz), _uniform(rng, cfg.depth)
        return {"kind": "am", "carrier": cfg.carrier, "modulation_hz": round(fm, 4),
                "depth": round(depth, 4), "phase": round(_uniform(rng, (0, 2 * np.pi)), 4),
                "seed": seed, "name": f"am:{cfg.carrier}:{fm:.2f}Hz:d{depth:.2f}"}
    if kind == "impulsive":
        rate = _uniform(rng, cfg.events_per_s)
        return {"kind": "impulsive", "events_per_s": round(rate, 4), "decay_ms": list(cfg.decay_ms),
                "seed": seed, "name": f"impulsive:{rate:.1f}/s"}
    raise ValueError(f"unknown signal kind {kind!r}")


# ------------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------------
def _fit(x: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """Place ``x`` at sample ``start`` of a zero signal of length ``n`` (cropping what overflows)."""
    out = np.zeros(n, dtype=np.float64)
    if start < n and len(x):
        m = min(len(x), n - start)
        out[start:start + m] = x[:m]
    return out


def _rms_normalise(x: np.ndarray) -> np.ndarray:
    r = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    return x / r if r > 0 else x


def coloured_noise_spectrum(rng: np.random.Generator, n: int, fs: int, exponent: float) -> np.ndarray:
    """rFFT ``[n // 2 + 1]`` of Gaussian noise of ``n`` samples with power ~ 1/f**exponent.

    Made directly in the frequency domain (0 white, 1 pink, 2 brown; coloured kinds are shaped
    above 20 Hz), scaled so that the time signal ``irfft(X, n)`` has unit RMS.
    """
    k = n // 2 + 1
    spec = rng.standard_normal(k) + 1j * rng.standard_normal(k)
    spec[0] = spec[0].real
    if n % 2 == 0:
        spec[-1] = spec[-1].real
    gain, weight = _shaping(n, fs, float(exponent))
    if gain is not None:
        spec *= gain
    power = float(np.dot(weight, spec.real ** 2 + spec.imag ** 2)) / n ** 2
    return spec / np.sqrt(power) if power > 0 else spec


@lru_cache(maxsize=32)
def _shaping(n: int, fs: int, exponent: float) -> tuple[np.ndarray | None, np.ndarray]:
    """Amplitude gain per rFFT bin (None for white) and the bins' weights in Parseval's sum."""
    k = n // 2 + 1
    gain = None
    if exponent:
        f = np.fft.rfftfreq(n, 1.0 / fs)
        gain = np.zeros_like(f)
        keep = f >= NOISE_LOW_CUT_HZ
        gain[keep] = f[keep] ** (-exponent / 2)
        gain.setflags(write=False)
    w = np.full(k, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    w.setflags(write=False)
    return gain, w


def coloured_noise(rng: np.random.Generator, n: int, fs: int, exponent: float) -> np.ndarray:
    """Unit-RMS Gaussian noise ``[n]`` with power ~ 1/f**exponent (see :func:`coloured_noise_spectrum`)."""
    return np.fft.irfft(coloured_noise_spectrum(rng, n, fs, exponent), n)


_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def _render_speech(r: Recipe, n: int, fs: int) -> np.ndarray:
    from .speech import synthesize

    x = synthesize(r["text"], voice=r["voice"], rate_wpm=r["rate_wpm"], pitch=r["pitch"], fs=fs)
    return _fit(_rms_normalise(x.astype(np.float64)), n, int(round(r.get("lead_s", 0.0) * fs)))


@lru_cache(maxsize=256)
def read_mono(path: str, fs: int) -> np.ndarray:
    """Read a recording, mix it to mono and resample it to ``fs`` (Hz); float64 ``[samples]``."""
    from ..audio.io import check_finite

    x, file_fs = sf.read(path, dtype="float64", always_2d=True)
    check_finite(x, path, int(file_fs))     # NaN/Inf: InputError naming the file and the time
    x = x.mean(axis=1)
    if file_fs != fs and len(x):
        q = Fraction(int(fs), int(file_fs))
        x = resample_poly(x, q.numerator, q.denominator)
    x.setflags(write=False)
    return x


def _render_folder(r: Recipe, n: int, fs: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float64)
    for path, t in r["items"]:
        x = read_mono(path, fs)
        if r.get("offset_s"):
            x = x[int(round(r["offset_s"] * fs)):]
        out += _fit(_rms_normalise(x), n, int(round(t * fs)))
    return out


def _render_impulsive(r: Recipe, n: int, fs: int) -> np.ndarray:
    rng = np.random.default_rng(r["seed"])
    out = 0.03 * coloured_noise(rng, n, fs, 1.0)  # faint floor, -30 dB re. a unit burst
    n_events = int(rng.poisson(r["events_per_s"] * n / fs))
    lo_ms, hi_ms = r["decay_ms"]
    for _ in range(n_events):  # a handful of events per clip, each vectorised
        start = int(rng.integers(n))
        tau = rng.uniform(lo_ms, hi_ms) / 1000.0
        m = min(n - start, int(5 * tau * fs) + 1)
        burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (tau * fs))
        # a random band (clatter of different objects): 2nd-order band-pass, 0.3..6 kHz centre
        fc = min(np.exp(rng.uniform(np.log(300.0), np.log(6000.0))), 0.4 * fs)
        sos = butter(2, [fc / 1.5, min(fc * 1.5, 0.49 * fs)], btype="bandpass", fs=fs, output="sos")
        burst = sosfilt(sos, burst)
        peak = np.abs(burst).max()
        if peak > 0:
            out[start:start + m] += burst / peak * 10 ** (rng.uniform(-20, 0) / 20)
    return out


def render_signal(recipe: Recipe, n: int, fs: int) -> np.ndarray:
    """Samples of a recipe: float64 ``[n]`` at ``fs`` (Hz). Pure: same recipe, same samples."""
    kind = recipe["kind"]
    if kind == "speech":
        return _render_speech(recipe, n, fs)
    if kind == "folder":
        return _render_folder(recipe, n, fs)
    if kind in _EXPONENTS:
        return coloured_noise(np.random.default_rng(recipe["seed"]), n, fs, _EXPONENTS[kind])
    if kind == "babble":
        rng = np.random.default_rng(recipe["seed"])
        out = np.zeros(n)
        for t in recipe["talkers"]:
            x = _render_speech(t, n, fs)
            out += np.roll(x, int(rng.integers(n)))  # talkers start at different times
        return out
    if kind == "am":
        rng = np.random.default_rng(recipe["seed"])
        carrier = coloured_noise(rng, n, fs, _EXPONENTS[recipe["carrier"]])
        t = np.arange(n) / fs
        env = 1 + recipe["depth"] * np.sin(2 * np.pi * recipe["modulation_hz"] * t + recipe["phase"])
        return carrier * env / (1 + recipe["depth"])
    if kind == "impulsive":
        return _render_impulsive(recipe, n, fs)
    raise ValueError(f"unknown signal kind {kind!r}")


def render_spectrum(recipe: Recipe, n: int, fs: int) -> np.ndarray:
    """``rfft(render_signal(recipe, n, fs))``, ``[n // 2 + 1]`` complex; stationary noises are made
    directly in the frequency domain (no transform at all)."""
    if recipe["kind"] in _EXPONENTS:
        rng = np.random.default_rng(recipe["seed"])
        return coloured_noise_spectrum(rng, n, fs, _EXPONENTS[recipe["kind"]])
    return np.fft.rfft(render_signal(recipe, n, fs))


# ------------------------------------------------------------------------------------------------
# folders
# ------------------------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def folder_index(path: str) -> tuple[list[str], list[float]]:
    """Audio files of a folder (recursively, sorted) and their durations (s).

    Raises:
        ValueError: no readable audio file in the folder (the config check turns it into an
            InputError naming the field).
    """
    root = Path(path)
    files, durations = [], []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file():
            try:
                info = sf.info(str(p))
            except Exception:
                continue
            if info.frames > 0:
                files.append(str(p.resolve()))
                durations.append(info.frames / info.samplerate)
    if not files:
        raise ValueError(f"no readable audio files ({', '.join(AUDIO_SUFFIXES)}) in {path}")
    return files, durations


def folder_fingerprint(path: str) -> str:
    """A short hash of a folder's file list and sizes (recorded in the resolved config)."""
    files, durations = folder_index(path)
    h = hashlib.sha1()
    for f, d in zip(files, durations, strict=True):
        h.update(f"{Path(f).relative_to(Path(path).resolve())}:{d:.6f}\n".encode())
    return h.hexdigest()[:12]
