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
- ``hum``: appliance/machine hum: ``harmonics`` sines at ``k * f0_hz`` (amplitude ``1/k`` times a
  random gain over 12 dB, random phases), their level slowly modulated
  (``1 + depth * sin(2 pi f_m t + phi)``, ``modulation_hz``), on a pink floor at -25 dB.
- ``music``: synthetic music: a random key, a chord on most beats and a melody note on most half
  beats (notes on the equal-tempered scale, A4 = 440 Hz, 5 harmonics, exponential decay), a kick
  drum on alternate beats and hi-hats, at ``tempo_bpm``; already playing when the clip starts.

``speech`` with ``utterances`` (short utterances with pauses): that many utterances, each
``n_words`` espeak-ng words (one voice, rate and pitch per clip) or one random recording of
``folder``, each trimmed to where it sounds (samples within 60 dB of its peak) and at unit RMS,
separated by silences of ``pause_s``; the group starts at a random onset, uniform over the time
the clip leaves free (recipe ``kind: utterances``). ``speech`` with ``folder`` and no
``utterances`` fills the clip with recordings as ``folder`` does.

Recipes and samples of kinds that existed before ``hum``, ``music`` and ``utterances`` are
unchanged (the clips of existing configs are bit-identical).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfilt

from .folders import folder_index
from .words import WORDS

if TYPE_CHECKING:
    from .config import SignalConfig

Recipe = dict[str, Any]

NOISE_LOW_CUT_HZ = 20.0
"""Coloured noises are shaped above this frequency (Hz): no DC drift in brown noise."""


# ------------------------------------------------------------------------------------------------
# planning
# ------------------------------------------------------------------------------------------------
def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    lo, hi = lo_hi
    return float(lo if hi <= lo else rng.uniform(lo, hi))


def _pick_voice(cfg: SignalConfig, rng: np.random.Generator) -> tuple[str, int, int]:
    """An espeak-ng voice (with a variant when the config lists some), rate (wpm) and pitch,
    drawn in this order from ``rng``."""
    voice = str(cfg.voices[rng.integers(len(cfg.voices))])
    if cfg.variants:
        variant = str(cfg.variants[rng.integers(len(cfg.variants))])
        voice = f"{voice}+{variant}" if variant else voice
    return voice, int(round(_uniform(rng, cfg.rate_wpm))), int(round(_uniform(rng, cfg.pitch)))


def _plan_speech(cfg: SignalConfig, rng: np.random.Generator, duration_s: float) -> Recipe:
    voice, rate, pitch = _pick_voice(cfg, rng)
    words = cfg.word_list() or WORDS
    n_words = max(1, int(np.ceil(duration_s * rate / 60.0)))  # espeak's words last > 60/rate s
    text = " ".join(str(words[i]) for i in rng.integers(len(words), size=n_words))
    lead_s = _uniform(rng, (0.0, min(0.1, duration_s / 4)))
    return {"kind": "speech", "text": text, "voice": voice, "rate_wpm": rate, "pitch": pitch,
            "lead_s": round(lead_s, 4),
            "name": f"speech:{voice}:{rate}wpm:p{pitch}:{text.replace(' ', '_')[:60]}"}


def _plan_utterances(cfg: SignalConfig, rng: np.random.Generator, duration_s: float) -> Recipe:
    assert cfg.utterances is not None
    k = int(rng.integers(cfg.utterances[0], cfg.utterances[1] + 1))
    if cfg.folder:
        files, _ = folder_index(cfg.folder)
        items: list[Recipe] = [{"kind": "file", "path": files[int(rng.integers(len(files)))]}
                               for _ in range(k)]
        desc = "+".join(Path(it["path"]).name for it in items[:4]) + ("+..." if k > 4 else "")
        name = f"speech:{Path(cfg.folder).name}:{desc}"
    else:
        voice, rate, pitch = _pick_voice(cfg, rng)
        words = cfg.word_list() or WORDS
        items = []
        for _ in range(k):
            m = int(rng.integers(cfg.n_words[0], cfg.n_words[1] + 1))
            text = " ".join(str(words[j]) for j in rng.integers(len(words), size=m))
            items.append({"kind": "speech", "text": text, "voice": voice, "rate_wpm": rate, "pitch": pitch})
        texts = "/".join(it["text"].replace(" ", "_") for it in items)
        name = f"speech:{voice}:{rate}wpm:p{pitch}:{texts[:60]}"
    pauses = [round(_uniform(rng, cfg.pause_s), 4) for _ in range(k - 1)]
    return {"kind": "utterances", "items": items, "pauses_s": pauses,
            "onset_frac": round(float(rng.uniform()), 6), "name": name}


def _plan_folder(cfg: SignalConfig, rng: np.random.Generator, duration_s: float,
                 path: str | None = None) -> Recipe:
    path = path or cfg.path
    assert path is not None
    files, durations = folder_index(path)
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
            "name": f"{Path(path).name}:{names}"}


def plan_signal(cfg: SignalConfig, rng: np.random.Generator, duration_s: float) -> Recipe:
    """Draw the recipe of one signal of ``duration_s`` seconds (see the module docstring)."""
    kind = cfg.kind
    if kind == "speech" and cfg.utterances is not None:
        return _plan_utterances(cfg, rng, duration_s)
    if kind == "speech" and cfg.folder:
        return _plan_folder(cfg, rng, duration_s, path=cfg.folder)
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
    if kind == "hum":
        f0 = _uniform(rng, cfg.f0_hz)
        k = int(rng.integers(cfg.harmonics[0], cfg.harmonics[1] + 1))
        fm, depth = _uniform(rng, cfg.modulation_hz), _uniform(rng, cfg.depth)
        return {"kind": "hum", "f0_hz": round(f0, 4), "harmonics": k, "modulation_hz": round(fm, 4),
                "depth": round(depth, 4), "phase": round(_uniform(rng, (0, 2 * np.pi)), 4), "seed": seed,
                "name": f"hum:{f0:.1f}Hz:{k}h"}
    if kind == "music":
        tempo = _uniform(rng, cfg.tempo_bpm)
        return {"kind": "music", "tempo_bpm": round(tempo, 3), "seed": seed, "name": f"music:{tempo:.0f}bpm"}
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


TRIM_DB = 60.0
"""Utterances are trimmed to the samples within this many dB of their peak."""


def _trim(x: np.ndarray) -> np.ndarray:
    """``x`` from its first to its last sample within :data:`TRIM_DB` of its peak magnitude."""
    a = np.abs(x)
    if not len(a) or a.max() <= 0:
        return x[:0]
    idx = np.flatnonzero(a > a.max() * 10 ** (-TRIM_DB / 20))
    return x[idx[0]:idx[-1] + 1]


def _render_utterances(r: Recipe, n: int, fs: int) -> np.ndarray:
    from .speech import synthesize

    parts: list[np.ndarray] = []
    for k, it in enumerate(r["items"]):
        if it["kind"] == "file":
            x = read_mono(it["path"], fs)
        else:
            x = synthesize(it["text"], voice=it["voice"], rate_wpm=it["rate_wpm"], pitch=it["pitch"], fs=fs)
        if k:
            parts.append(np.zeros(int(round(r["pauses_s"][k - 1] * fs))))
        parts.append(_rms_normalise(_trim(np.asarray(x, dtype=np.float64))))
    y = np.concatenate(parts) if parts else np.zeros(0)
    return _fit(y, n, int(round(r["onset_frac"] * max(0, n - len(y)))))


def _render_hum(r: Recipe, n: int, fs: int) -> np.ndarray:
    rng = np.random.default_rng(r["seed"])
    k = np.arange(1, r["harmonics"] + 1)
    k = k[k * r["f0_hz"] < 0.45 * fs]
    amps = 10 ** (rng.uniform(-12, 0, len(k)) / 20) / k
    phases = rng.uniform(0, 2 * np.pi, len(k))
    t = np.arange(n) / fs
    tones = amps @ np.sin(2 * np.pi * r["f0_hz"] * k[:, None] * t[None, :] + phases[:, None])  # [n]
    env = 1 + r["depth"] * np.sin(2 * np.pi * r["modulation_hz"] * t + r["phase"])
    x = _rms_normalise(tones) + 10 ** (-25 / 20) * coloured_noise(rng, n, fs, 1.0)
    return _rms_normalise(x * env)


MUSIC_PARTIALS = 5
"""Harmonics of each synthetic note."""


def _add(out: np.ndarray, x: np.ndarray, start: int) -> None:
    """Add ``x`` into ``out`` from sample ``start`` (negative: ``x``'s beginning is before ``out``)."""
    a, b = max(start, 0), min(start + len(x), len(out))
    if b > a:
        out[a:b] += x[a - start:b - start]


def _note(freqs: np.ndarray, tau_s: float, fs: int) -> np.ndarray:
    """A chord of notes at ``freqs`` (Hz): each with :data:`MUSIC_PARTIALS` harmonics (``1/p``),
    5 ms attack and exponential decay ``tau_s``; ``[5 tau fs]`` samples."""
    t = np.arange(int(5 * tau_s * fs)) / fs
    f = (freqs[:, None] * np.arange(1, MUSIC_PARTIALS + 1)[None, :]).ravel()      # [notes * partials]
    a = np.tile(1.0 / np.arange(1, MUSIC_PARTIALS + 1), len(freqs)) * (f < 0.45 * fs)
    x = a @ np.sin(2 * np.pi * f[:, None] * t[None, :])
    return x * np.exp(-t / tau_s) * (1 - np.exp(-t / 0.005))


def _render_music(r: Recipe, n: int, fs: int) -> np.ndarray:
    rng = np.random.default_rng(r["seed"])
    beat = 60.0 / r["tempo_bpm"]
    step = beat / 2
    root = 45 + int(rng.integers(15))  # MIDI note of the key (A2..B3)
    scale = np.array([0, 2, 3, 5, 7, 8, 10] if rng.random() < 0.5 else [0, 2, 4, 5, 7, 9, 11])
    midi = lambda m: 440.0 * 2 ** ((np.asarray(m, dtype=float) - 69) / 12)  # noqa: E731
    t0 = -rng.uniform(0, 8 * step)  # already playing: the first bar started before the clip
    out = np.zeros(n)
    tk = np.arange(int(0.4 * fs)) / fs
    kick = np.sin(2 * np.pi * np.cumsum(50 + 70 * np.exp(-tk / 0.03)) / fs) * np.exp(-tk / 0.08)
    sos_hh = butter(4, min(6000.0, 0.4 * fs), btype="highpass", fs=fs, output="sos")
    chord = root + 12 + scale[[0, 2, 4]]
    for s in range(int(np.ceil((n / fs - t0) / step)) + 1):  # one iteration per half beat (events)
        start = int(round((t0 + s * step) * fs))
        if s % 8 == 0:  # a new chord every bar: a triad on degree I, IV, V or VI
            deg = int(rng.choice([0, 3, 4, 5]))
            j = deg + np.array([0, 2, 4])
            chord = root + 12 + scale[j % 7] + 12 * (j // 7)
        if s % 2 == 0 and rng.random() < 0.8:
            _add(out, 0.5 * _note(midi(chord), rng.uniform(0.3, 0.8), fs), start)
        if rng.random() < 0.6:
            m = root + 24 + scale[int(rng.integers(7))]
            _add(out, 0.7 * _note(midi([m]), rng.uniform(0.1, 0.3), fs), start)
        if s % 4 == 0:
            _add(out, 1.5 * kick, start)
        if rng.random() < 0.7:
            m_hh = int(0.1 * fs)
            hh = sosfilt(sos_hh, rng.standard_normal(m_hh)) * np.exp(-np.arange(m_hh) / (0.015 * fs))
            _add(out, 0.3 * hh, start)
    return _rms_normalise(out)


def render_signal(recipe: Recipe, n: int, fs: int) -> np.ndarray:
    """Samples of a recipe: float64 ``[n]`` at ``fs`` (Hz). Pure: same recipe, same samples."""
    kind = recipe["kind"]
    if kind == "speech":
        return _render_speech(recipe, n, fs)
    if kind == "utterances":
        return _render_utterances(recipe, n, fs)
    if kind == "hum":
        return _render_hum(recipe, n, fs)
    if kind == "music":
        return _render_music(recipe, n, fs)
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
