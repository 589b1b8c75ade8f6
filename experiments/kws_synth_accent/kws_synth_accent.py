"""Accent-targeted synthetic digits: espeak-ng voices of other languages reading the English digit words.

A French or German voice reading "three" with its own letter-to-sound rules gives foreign-accented
English (the FSDD test speakers nicolas and yweweler are Belgian-French and German). espeak-ng
switches to its English voice for words its dictionaries mark as English ("one", "three", "seven",
"eight" in French, …); those are respelled so that the voice's own rules give the accented word
(French "sri" for "three", German "wann" for "one"), and every (voice, text) pair is checked with
``espeak_TextToPhonemes``: a pair that still switches language is left out and reported. The same
is done for English voices (variety of native speakers).

Writes ``OUT/<digit>/<voice>_<variant>_<rate>_<pitch>.wav`` (16-bit PCM at 8 kHz, FSDD's rate,
trimmed of leading/trailing silence) — the layout ``data.extra_train_folders`` reads — and
``OUT/manifest.csv`` (digit, voice, variant, rate, pitch, text, phonemes, samples).

    OMP_NUM_THREADS=1 nice -n 10 python -m experiments.kws_synth_accent.kws_synth_accent \\
        --out .kwsdata/synth_accent
"""

from __future__ import annotations

import argparse
import csv
import ctypes
from functools import lru_cache
from pathlib import Path

import numpy as np

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
"""FSDD labels '0'..'9' in order."""

RESPELL: dict[str, dict[str, str]] = {
    # French speakers: /ziʁo/, /wan/, /tu/, /sʁi/ ("sri": no /θ/), /fɔʁ/, /sevɛn/, /ɛt/
    "fr": {"zero": "ziro", "one": "ouane", "two": "tou", "three": "sri", "four": "for", "five": "faïve",
           "six": "sixe", "seven": "sévène", "eight": "eite", "nine": "naïne"},
    # German speakers: /ziːroː/, /van/ (w -> v), /sriː/, final devoicing /faɪf/, voiced /zɪks/, /zeːvən/
    "de": {"zero": "siero", "one": "wann", "two": "tu", "three": "sri", "four": "for", "five": "faiw",
           "six": "sicks", "seven": "sewen", "eight": "eit", "nine": "nein"},
    "es": {"two": "tu"},           # "two" is otherwise spelled out letter by letter
    "pt": {"three": "tri", "eight": "eiti"},
    "sv": {"one": "vann"},
}
RESPELL["fr-be"] = RESPELL["fr-ch"] = RESPELL["fr"]

VOICES = ["fr", "fr-be", "fr-ch", "de", "nl", "es", "it", "pl", "pt", "sv", "cs", "hu", "ro", "en", "en-us"]
VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4"]
RATES_WPM = [120, 150, 180, 210]
PITCHES = [25, 40, 55, 70]


@lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
    return lib


def phonemes(voice: str, text: str) -> str:
    """espeak-ng's phonemes (IPA) of ``text`` with ``voice``; a language switch shows as ``(en)…``."""
    lib = _lib()
    lib.espeak_SetVoiceByName(voice.encode())
    p = ctypes.c_char_p(text.encode())
    return lib.espeak_TextToPhonemes(ctypes.byref(p), 1, 0x02).decode()


def trim(x: np.ndarray, fs: int, floor_db: float = 40.0, pad_s: float = 0.05) -> np.ndarray:
    """``x [samples]`` without the leading/trailing parts more than ``floor_db`` below its peak
    (10-ms frames), ``pad_s`` s kept on each side."""
    hop = max(1, fs // 100)
    n = len(x) // hop
    if n == 0:
        return x
    e = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, 1) + 1e-12)
    on = np.flatnonzero(e > e.max() - floor_db)
    pad = int(pad_s * fs)
    return x[max(0, on[0] * hop - pad): min(len(x), (on[-1] + 1) * hop + pad)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".kwsdata/synth_accent")
    ap.add_argument("--per-word", type=int, default=100, help="clips per digit, drawn (seeded) from "
                    "voices x variants x rates x pitches")
    ap.add_argument("--fs", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    from scipy.io import wavfile

    from neuroaudio.sim.speech import synthesize

    out = Path(a.out)
    text: dict[tuple[str, str], tuple[str, str]] = {}
    for v in VOICES:
        for w in WORDS:
            t = RESPELL.get(v, {}).get(w, w)
            ph = phonemes(v, t)
            if v.startswith("en") or "(" not in ph:
                text[(v, w)] = (t, ph)
            else:
                print(f"left out: {v} '{t}' switches language: {ph}")
    rng = np.random.default_rng(a.seed)
    rows = []
    for k, w in enumerate(WORDS):
        combos = [(v, var, r, p) for v in VOICES if (v, w) in text for var in VARIANTS for r in RATES_WPM
                  for p in PITCHES]
        (out / str(k)).mkdir(parents=True, exist_ok=True)
        for i in rng.choice(len(combos), min(a.per_word, len(combos)), replace=False):
            v, var, r, p = combos[int(i)]
            t, ph = text[(v, w)]
            x = trim(synthesize(t, voice=f"{v}+{var}" if var else v, rate_wpm=r, pitch=p, fs=a.fs), a.fs)
            x = x / max(float(np.abs(x).max()), 1e-6) * 0.5
            name = f"{v}_{var or 'base'}_{r}_{p}.wav"
            wavfile.write(out / str(k) / name, a.fs, (x * 32767).astype(np.int16))
            rows.append({"digit": k, "voice": v, "variant": var, "rate_wpm": r, "pitch": p, "text": t,
                         "phonemes": ph, "samples": len(x)})
    with open(out / "manifest.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    print(f"{len(rows)} clips in {out} ({sum(r['samples'] for r in rows) / a.fs:.0f} s of audio)")


if __name__ == "__main__":
    main()
