"""Speech synthesis with espeak-ng, through the library shipped by the PyPI package ``espeakng-loader``.

Public API (other modules import it; keep it stable):

- :func:`synthesize` ``(text, voice="en", rate_wpm=175, pitch=50, fs=16000) -> np.ndarray``:
  float32 mono at ``fs`` (Hz), resampled from espeak's native rate with
  ``scipy.signal.resample_poly``.
- :func:`list_voices` ``() -> list[str]``: names accepted by ``voice`` (voice files such as
  ``en`` (British English), ``en-us``, ``de``); a voice variant can be appended as ``en+f3``
  (see :func:`list_variants`).

espeak-ng keeps global state, so every call loads a fresh engine in this process (see
:func:`_fresh_engine`) under a lock: threads are serialised, worker processes each have their own
engine, and the output depends only on the arguments (every call sets the voice, rate, pitch and
the other parameters it relies on, and reseeds espeak's pseudo-random jitter).
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy.signal import firwin, resample_poly

from ..errors import InputError
from ..workers import termination_deferred

AUDIO_OUTPUT_SYNCHRONOUS = 2
"""espeak_AUDIO_OUTPUT: synthesise into the callback, return when done."""
ESPEAK_CHARS_UTF8 = 1
POS_CHARACTER = 1
# espeak_PARAMETER
_RATE, _VOLUME, _PITCH, _RANGE, _PUNCTUATION, _CAPITALS, _WORDGAP = 1, 2, 3, 4, 5, 6, 7

_RAND_SEED = 1
RATE_RANGE_WPM = (80, 450)
"""Rates espeak-ng accepts (words per minute)."""
PITCH_RANGE = (0, 99)
"""Base pitch range of espeak-ng (0..99, 50 = the voice's normal pitch)."""

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                   ctypes.c_void_p)


class _VOICE(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p),
                ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte),
                ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int),
                ("spare", ctypes.c_void_p)]


class _Engine:
    """The espeak-ng library of this process, initialised in synchronous mode."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError:
            raise InputError("speech synthesis needs the package 'espeakng-loader': "
                             "pip install espeakng-loader") from None
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data = espeakng_loader.get_data_path().encode()
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ListVoices.argtypes = [ctypes.POINTER(_VOICE)]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VOICE))
        self.fs = int(lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0))
        if self.fs <= 0:
            raise InputError(f"espeak-ng failed to initialise with data at {data.decode()}; "
                             "reinstall espeakng-loader")
        self._chunks: list[np.ndarray] = []

        def _collect(wav, n, events):  # called by espeak from inside espeak_Synth
            if wav and n > 0:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0

        self._callback = _SYNTH_CALLBACK(_collect)  # keep a reference: espeak holds the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def close(self) -> None:
        """Terminate espeak-ng and unload the library (resets all of its static state)."""
        import _ctypes

        self.lib.espeak_Terminate()
        _ctypes.dlclose(self.lib._handle)

    def list(self, variants: bool = False) -> list[str]:
        spec = None
        if variants:
            spec = _VOICE(languages=b"variant")
        ptr = self.lib.espeak_ListVoices(ctypes.byref(spec) if spec is not None else None)
        out: list[str] = []
        i = 0
        while ptr[i]:
            v = ptr[i].contents
            ident = (v.identifier or b"").decode(errors="replace").split("/")[-1]
            if ident:
                # the voice file's name (``en``, ``en-us``, ``de``) is what SetVoiceByName accepts;
                # variants keep their case (``Alex``), voices are lower-case
                out.append(ident if variants else ident.lower())
            i += 1
        return sorted(set(out))

    def synth(self, text: str, voice: str, rate_wpm: int, pitch: int) -> np.ndarray:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise InputError(f"espeak-ng voice '{voice}' not found; pick one of "
                             "neuroaudio.sim.speech.list_voices() (optionally '+variant', e.g. en+f3)")
        for p, v in ((_RATE, rate_wpm), (_PITCH, pitch), (_VOLUME, 100), (_RANGE, 50),
                     (_PUNCTUATION, 0), (_CAPITALS, 0), (_WORDGAP, 0)):
            self.lib.espeak_SetParameter(p, int(v), 0)
        # espeak-ng jitters pitch and durations with its own pseudo-random generator: reseed it so
        # that the same arguments give the same samples (whatever was synthesised before)
        self.lib.espeak_ng_SetRandSeed(_RAND_SEED)
        data = text.encode("utf-8")
        buf = ctypes.create_string_buffer(data)
        self._chunks = []
        with termination_deferred():   # _collect runs inside espeak_Synth (a ctypes callback)
            rc = self.lib.espeak_Synth(buf, len(data) + 1, 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None,
                                       None)
        if rc != 0:
            raise RuntimeError(f"espeak_Synth failed with status {rc}")
        chunks, self._chunks = self._chunks, []
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return (np.concatenate(chunks).astype(np.float32) / 32768.0)


_lock = threading.Lock()


@contextlib.contextmanager
def _fresh_engine() -> Iterator[_Engine]:
    """Load, initialise, use and unload espeak-ng.

    espeak-ng keeps state between utterances that no API resets (the pitch "flutter" phase of its
    wave generator runs on, so the same text comes out a few samples longer or shorter depending
    on what was spoken before). Unloading the library (``dlclose``) and loading it again resets
    every static variable, which makes each call depend on its arguments only. Cost: about 10 ms
    per call (measured), small beside room simulation; a reused engine would be ~3x faster but
    not reproducible across worker processes.
    """
    with _lock:
        eng = _Engine()
        try:
            yield eng
        finally:
            eng.close()


def synthesize(text: str, voice: str = "en", rate_wpm: int = 175, pitch: int = 50,
               fs: int = 16000) -> np.ndarray:
    """Speak ``text`` with espeak-ng; return float32 mono samples at ``fs`` (Hz), shape ``[samples]``.

    Args:
        text: UTF-8 text to speak.
        voice: an espeak-ng voice name (see :func:`list_voices`), optionally ``+variant``.
        rate_wpm: speaking rate, words per minute (80..450).
        pitch: base pitch, 0..99 (50 = the voice's normal pitch).
        fs: output rate (Hz); converted from espeak's native rate with ``resample_poly``.

    Deterministic: the same arguments give the same samples.
    """
    if not text.strip():
        raise InputError("synthesize: empty text; give at least one word")
    if not RATE_RANGE_WPM[0] <= rate_wpm <= RATE_RANGE_WPM[1]:
        raise InputError(f"synthesize: rate_wpm={rate_wpm} outside {RATE_RANGE_WPM[0]}..{RATE_RANGE_WPM[1]}")
    if not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
        raise InputError(f"synthesize: pitch={pitch} outside {PITCH_RANGE[0]}..{PITCH_RANGE[1]}")
    if fs <= 0:
        raise InputError(f"synthesize: fs={fs} must be a positive rate in Hz")
    with _fresh_engine() as eng:
        x = eng.synth(text, voice, rate_wpm, pitch)
        native = eng.fs
    if native != fs and len(x):
        r = Fraction(int(fs), native)
        h = _resample_filter(r.numerator, r.denominator)
        x = resample_poly(x.astype(np.float64), r.numerator, r.denominator, window=h).astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


@lru_cache(maxsize=8)
def _resample_filter(up: int, down: int) -> np.ndarray:
    """resample_poly's own default anti-aliasing filter (Kaiser, beta 5, 10 zero crossings per
    side), designed once instead of on every call; the output is identical."""
    m = max(up, down)
    h = firwin(2 * 10 * m + 1, 1.0 / m, window=("kaiser", 5.0))
    h.setflags(write=False)
    return h


@lru_cache(maxsize=1)
def _voices() -> tuple[str, ...]:
    with _fresh_engine() as eng:
        return tuple(eng.list())


def list_voices() -> list[str]:
    """Voice (language) names espeak-ng offers here, e.g. ``['af', ..., 'en', 'en-us', ...]``."""
    return list(_voices())


@lru_cache(maxsize=1)
def _variants() -> tuple[str, ...]:
    with _fresh_engine() as eng:
        return tuple(eng.list(variants=True))


def list_variants() -> list[str]:
    """Voice variants (``m1``, ``f3``, ``croak``, ...) that can follow a voice: ``en+f3``."""
    return list(_variants())
