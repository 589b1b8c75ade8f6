"""One loader interface for keyword data: FSDD, Speech Commands v2, ``label/*.wav``, espeak-ng.

:func:`load_splits` turns a :class:`DataConfig` into :class:`Splits` — ``train``/``val``/``test``
lists of :class:`Item` (label index, speaker, audio or path) and the label names. Items hold audio
in memory (FSDD, synthetic) or a path read on demand (large folders). :class:`ClipDataset` and
:func:`make_batch` turn items into fixed-length clips ``[B, clip_samples]`` float32 at the model's
rate, with the training augmentations (random placement/shift, speed, gain, noise).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fsdd import FSDD_HINT, fsdd_folder
from .config import AugmentConfig, DataConfig
from .datasets import load_dataset

log = logging.getLogger("neuroaudio")

FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")

FILLER_LABEL = "_unknown_"
"""The non-keyword class: added by ``data.filler_words`` or a folder ``_unknown_/`` (always the last
label); the detector never reports it."""


@dataclass
class Item:
    label: int
    speaker: str
    path: str | None = None
    audio: np.ndarray | None = None
    """mono float32 at the data rate (when loaded)."""


@dataclass
class Splits:
    labels: list[str]
    fs: int
    train: list[Item] = field(default_factory=list)
    val: list[Item] = field(default_factory=list)
    test: list[Item] = field(default_factory=list)


def read_mono(path: str | Path, fs: int) -> np.ndarray:
    """A file as mono float32 at ``fs`` Hz (channels averaged, resampled with resample_poly).

    Read with soundfile; where soundfile is not installed (e.g. a bare GPU machine), WAV files are
    read with ``scipy.io.wavfile`` (PCM scaled as soundfile does: int16 / 2**15, int32 / 2**31)."""
    from scipy.signal import resample_poly

    try:
        import soundfile as sf
    except (ImportError, OSError):
        sf = None
    try:
        if sf is not None:
            x, fs_in = sf.read(str(path), dtype="float32", always_2d=True)
        else:
            x, fs_in = _read_wav_scipy(path)
    except Exception as e:  # soundfile / scipy raise several types for bad files
        if not Path(path).exists():
            raise InputError(f"{path}: no such file; check the path") from None
        if Path(path).is_dir():
            raise InputError(f"{path}: is a folder, give an audio file") from None
        raise InputError(f"cannot read audio '{path}' ({str(e).splitlines()[0] if str(e) else e!r}): "
                         "give a WAV/FLAC file") from None
    from ..audio.io import audio_info, check_finite

    if sf is not None:
        audio_info(path)            # a WAV cut short of what its header says is refused
    check_finite(x, path, int(fs_in))
    x = x.mean(axis=1)
    if fs_in != fs:
        from math import gcd

        g = gcd(int(fs_in), int(fs))
        x = resample_poly(x, fs // g, fs_in // g).astype(np.float32)
    return x


def _read_wav_scipy(path: str | Path) -> tuple[np.ndarray, int]:
    """A WAV file as ``[samples, channels]`` float32 in [-1, 1) and its rate (Hz), without soundfile."""
    from scipy.io import wavfile

    fs_in, x = wavfile.read(str(path))
    x = x.reshape(len(x), -1)
    if x.dtype == np.uint8:
        return ((x.astype(np.float32) - 128) / 128), int(fs_in)
    if np.issubdtype(x.dtype, np.integer):
        return (x.astype(np.float32) / float(2 ** (8 * x.dtype.itemsize - 1))), int(fs_in)
    return x.astype(np.float32), int(fs_in)


def _hash_fraction(name: str) -> float:
    """A stable number in [0, 1) from a name (Speech Commands style: by speaker, not by file)."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) / 2**32


def _split_by_speaker(items: list[Item], cfg: DataConfig, names: list[str], seed: int) -> Splits:
    sp = Splits(labels=names, fs=cfg.sample_rate_hz)
    test_sp, val_sp = set(cfg.test_speakers), set(cfg.val_speakers)
    known = {it.speaker for it in items}
    for s in test_sp | val_sp:
        if s not in known:
            raise InputError(f"speaker '{s}' not in the data (have: {', '.join(sorted(known))}): fix "
                             "data.test_speakers / data.val_speakers")
    rest = []
    for it in items:
        if it.speaker in test_sp:
            sp.test.append(it)
        elif it.speaker in val_sp:
            sp.val.append(it)
        else:
            rest.append(it)
    if not val_sp and cfg.val_fraction > 0:
        rng = np.random.default_rng(seed)
        idx = rng.permutation(len(rest))
        n_val = int(round(cfg.val_fraction * len(rest)))
        sp.val = [rest[i] for i in idx[:n_val]]
        rest = [rest[i] for i in idx[n_val:]]
    sp.train = rest
    return sp


def load_fsdd(cfg: DataConfig, seed: int = 0) -> Splits:
    """FSDD: ``{digit}_{speaker}_{index}.wav`` in ``cfg.root`` (else ``$NEUROAUDIO_FSDD``); labels '0'..'9';
    split by speaker."""
    root = fsdd_folder(cfg.root) or Path("")
    files = sorted(p for p in root.glob("*.wav") if FSDD_NAME.match(p.name)) if root.is_dir() else []
    if not files:
        raise InputError(f"no FSDD files ({{digit}}_{{speaker}}_{{index}}.wav) in '{root}': set data.root to "
                         f"the recordings folder; {FSDD_HINT}")
    items = []
    for p in files[: cfg.max_items]:
        digit, speaker, _ = FSDD_NAME.match(p.name).groups()
        items.append(Item(int(digit), speaker, str(p), read_mono(p, cfg.sample_rate_hz)))
    return fsdd_splits(items, cfg, seed)


def fsdd_splits(items: list[Item], cfg: DataConfig, seed: int = 0) -> Splits:
    """FSDD items already read (e.g. from a cache; label = digit, speaker set) split by speaker as
    :func:`load_fsdd` splits them; labels '0'..'9'."""
    return _split_by_speaker(items, cfg, [str(d) for d in range(10)], seed)


def _speaker_of(path: Path) -> str:
    """Speaker id from a file name: Speech Commands ``{speaker}_nohash_{n}``, FSDD, else the stem."""
    stem = path.stem
    if "_nohash_" in stem:
        return stem.split("_nohash_")[0]
    m = FSDD_NAME.match(path.name)
    return m.group(2) if m else stem


def load_folder(cfg: DataConfig, seed: int = 0) -> Splits:
    """``root/label/*.wav``; split by test/val speakers when given, else by a hash of the speaker.

    Folders starting with ``_`` or ``.`` are skipped (e.g. ``_background_noise_``), except
    ``_unknown_`` (:data:`FILLER_LABEL`): recordings that are not keywords, the filler class (last
    label)."""
    root = Path(cfg.root or "")
    if not root.is_dir():
        raise InputError(f"data folder '{root}' not found: set data.root to a folder of label/*.wav")
    names = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "_"))
                   and any(d.glob("*.wav")))
    if any((root / FILLER_LABEL).glob("*.wav")):
        names.append(FILLER_LABEL)     # non-keyword recordings: the filler class, always last
    if not names:
        raise InputError(f"no label folders with .wav files in '{root}': lay it out as label/*.wav")
    items = []
    for k, name in enumerate(names):
        for p in sorted((root / name).glob("*.wav"))[: cfg.max_items]:
            items.append(Item(k, _speaker_of(p), str(p)))
    if cfg.test_speakers or cfg.val_speakers:
        return _split_by_speaker(items, cfg, names, seed)
    sp = Splits(labels=names, fs=cfg.sample_rate_hz)
    for it in items:
        h = _hash_fraction(it.speaker)
        (sp.test if h < cfg.test_fraction else sp.val if h < cfg.test_fraction + cfg.val_fraction
         else sp.train).append(it)
    return sp


def load_speech_commands(cfg: DataConfig, seed: int = 0) -> Splits:
    """Google Speech Commands v2: ``root/word/*.wav`` + ``validation_list.txt``, ``testing_list.txt``."""
    root = Path(cfg.root or "")
    vl, tl = root / "validation_list.txt", root / "testing_list.txt"
    if not (vl.is_file() and tl.is_file()):
        raise InputError(f"'{root}' is not a Speech Commands folder (validation_list.txt and "
                         "testing_list.txt missing): set data.root to the extracted dataset")
    val_set, test_set = set(vl.read_text().split()), set(tl.read_text().split())
    words = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(("_", ".")))
    if cfg.words:
        missing = [w for w in cfg.words if w not in words]
        if missing:
            raise InputError(f"words {missing} not in '{root}': choose from {', '.join(words)}")
        words = list(cfg.words)
    sp = Splits(labels=words, fs=cfg.sample_rate_hz)
    for k, w in enumerate(words):
        for p in sorted((root / w).glob("*.wav"))[: cfg.max_items]:
            rel = f"{w}/{p.name}"
            it = Item(k, _speaker_of(p), str(p))
            (sp.test if rel in test_set else sp.val if rel in val_set else sp.train).append(it)
    return sp


def load_synthetic(cfg: DataConfig, seed: int = 0) -> Splits:
    """espeak-ng keywords: every word × voice × rate × pitch via ``neuroaudio.sim.speech.synthesize``.

    The "speaker" of an item is its voice; ``test_voices`` are held out (else a random
    ``test_fraction``/``val_fraction`` of the items).
    """
    if not cfg.words:
        raise InputError("data.words is empty: list the keywords to synthesise, e.g. words: [yes, no]")
    try:
        from ..sim.speech import synthesize
    except ImportError:
        raise InputError("speech synthesis (neuroaudio.sim.speech) is not available in this install: "
                         "use data.source fsdd, folder or speech_commands") from None
    items = []
    for k, word in enumerate(cfg.words):
        for voice in cfg.voices:
            for rate in cfg.rates_wpm:
                for pitch in cfg.pitches:
                    x = synthesize(word, voice=voice, rate_wpm=int(rate), pitch=int(pitch),
                                   fs=cfg.sample_rate_hz)
                    items.append(Item(k, voice, None, np.asarray(x, np.float32)))
    if cfg.test_voices:
        sub = DataConfig(**{**cfg.__dict__, "test_speakers": list(cfg.test_voices)})
        return _split_by_speaker(items, sub, list(cfg.words), seed)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(items))
    n_te, n_va = int(cfg.test_fraction * len(items)), int(cfg.val_fraction * len(items))
    return Splits(list(cfg.words), cfg.sample_rate_hz, train=[items[i] for i in idx[n_te + n_va:]],
                  val=[items[i] for i in idx[n_te:n_te + n_va]], test=[items[i] for i in idx[:n_te]])


DIGIT_WORDS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""The words of FSDD's labels '0'..'9': not allowed as filler words of an FSDD model."""


def espeak_items(words: list[str], labels: list[int], cfg: DataConfig, per_word: int,
                 seed: list[int]) -> list[Item]:
    """espeak-ng clips: word ``words[i]`` gets label ``labels[i]``, spoken by ``per_word`` (all when
    ≤ 0) combinations of ``cfg.synth_voices`` × ``synth_variants`` × ``synth_rates_wpm`` ×
    ``synth_pitches`` drawn without replacement by a generator seeded with ``seed``. An item's
    speaker is ``espeak:voice+variant``; audio is mono float32 at ``cfg.sample_rate_hz``."""
    from ..sim.speech import synthesize

    combos = [(v, var, int(r), int(p)) for v in cfg.synth_voices for var in cfg.synth_variants
              for r in cfg.synth_rates_wpm for p in cfg.synth_pitches]
    if not combos:
        raise InputError("data.synth_voices/variants/rates_wpm/pitches: none may be empty when "
                         "synth_words or filler_words is set")
    rng = np.random.default_rng(seed)
    items = []
    for word, k in zip(words, labels, strict=True):
        pick = (range(len(combos)) if per_word <= 0
                else rng.choice(len(combos), min(per_word, len(combos)), replace=False))
        for i in pick:
            v, var, r, p = combos[int(i)]
            voice = f"{v}+{var}" if var else v
            x = synthesize(word, voice=voice, rate_wpm=r, pitch=p, fs=cfg.sample_rate_hz)
            items.append(Item(k, f"espeak:{voice}", None, np.asarray(x, np.float32)))
    return items


def synthetic_training_items(cfg: DataConfig, labels: list[str], seed: int = 0) -> list[Item]:
    """espeak-ng clips of ``cfg.synth_words`` (one word per label, in label order) for training.

    Each word is spoken by ``synth_per_word`` combinations (all when 0) of voice × variant ×
    rate × pitch, drawn with a seeded generator; an item's speaker is ``espeak:voice+variant``.
    """
    if len(cfg.synth_words) != len(labels):
        raise InputError(f"data.synth_words has {len(cfg.synth_words)} words for {len(labels)} labels "
                         f"({', '.join(labels)}): give one word per label, in that order")
    return espeak_items(list(cfg.synth_words), list(range(len(labels))), cfg, cfg.synth_per_word,
                        [seed, 7919])


def filler_items(cfg: DataConfig, labels: list[str], seed: int = 0) -> tuple[list[Item], list[Item]]:
    """espeak-ng clips of ``cfg.filler_words`` labelled ``labels.index(FILLER_LABEL)`` (the filler
    class, which ``labels`` must hold), split (seeded) into (train, validation) by ``cfg.val_fraction``.

    A filler word may not be a keyword: not a label, not one of ``synth_words`` and, for FSDD, not a
    digit's name (``DIGIT_WORDS``); the check is case-insensitive."""
    keywords = {w.lower() for w in [*labels, *cfg.synth_words] if w != FILLER_LABEL}
    if cfg.source == "fsdd":
        keywords |= set(DIGIT_WORDS)
    clash = sorted({w for w in cfg.filler_words if w.lower() in keywords})
    if clash:
        raise InputError(f"data.filler_words {clash} are keywords of this model: remove them (filler "
                         "words must be speech that is NOT a keyword)")
    items = espeak_items(list(cfg.filler_words), [labels.index(FILLER_LABEL)] * len(cfg.filler_words), cfg,
                         cfg.filler_per_word, [seed, 104729])
    idx = np.random.default_rng([seed, 1299709]).permutation(len(items))
    n_val = int(round(cfg.val_fraction * len(items)))
    return [items[i] for i in idx[n_val:]], [items[i] for i in idx[:n_val]]


def reversed_items(items: list[Item], fraction: float, label: int, fs: int, seed: int = 0) -> list[Item]:
    """``round(fraction · len(items))`` of ``items`` (seeded pick), each played backwards, labelled
    ``label`` (the filler class); speaker ``reversed:<speaker>``, audio mono float32 at ``fs``."""
    if not 0 < fraction <= 1:
        raise InputError(f"data.filler_reversed {fraction}: give a fraction in (0, 1], e.g. 0.15")
    n = int(round(fraction * len(items)))
    pick = np.random.default_rng([seed, 15485863]).permutation(len(items))[:n]
    return [Item(label, f"reversed:{items[i].speaker}", None,
                 np.ascontiguousarray(item_audio(items[i], fs)[::-1])) for i in sorted(pick)]


def extra_training_items(folders: list[str], labels: list[str], fs: int) -> list[Item]:
    """Clips of ``folders`` (each ``label/*.wav``, label one of ``labels``) for the training split.

    Every label folder must be a known label name (a typo would silently drop data otherwise);
    labels missing from a folder are allowed. Audio is read once (mono float32 at ``fs`` Hz); an
    item's speaker is ``extra:<folder name>/<file stem>``."""
    index = {name: k for k, name in enumerate(labels)}
    items = []
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise InputError(f"data.extra_train_folders: '{folder}' is not a folder: give folders of "
                             "label/*.wav")
        subs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "_")))
        unknown = [d.name for d in subs if d.name not in index and any(d.glob("*.wav"))]
        if unknown:
            raise InputError(f"data.extra_train_folders: '{folder}' has label folders {unknown} that are "
                             f"not labels of the data ({', '.join(labels)}): rename them")
        n0 = len(items)
        for d in subs:
            for p in sorted(d.glob("*.wav")):
                items.append(Item(index[d.name], f"extra:{root.name}/{p.stem}", str(p), read_mono(p, fs)))
        if len(items) == n0:
            raise InputError(f"data.extra_train_folders: no label/*.wav files in '{folder}'")
    return items




def load_splits(cfg: DataConfig, seed: int = 0, base: Splits | None = None) -> Splits:
    """The data of a config, split into train/val/test (see module docstring). ``base``: the
    source's splits already loaded (e.g. :func:`fsdd_splits` of cached audio); the config's extra
    training clips and filler class are added to it as to a freshly loaded source."""
    sp = load_dataset(cfg, seed) if base is None else base
    source_train = list(sp.train)
    if cfg.synth_words:
        sp.train = sp.train + synthetic_training_items(cfg, sp.labels, seed)
    if cfg.extra_train_folders:
        sp.train = sp.train + extra_training_items(cfg.extra_train_folders, sp.labels, sp.fs)
    if cfg.filler_words or cfg.filler_reversed > 0:
        if FILLER_LABEL not in sp.labels:           # a folder's _unknown_/ is the same class
            sp.labels = [*sp.labels, FILLER_LABEL]
    if cfg.filler_words:
        tr, va = filler_items(cfg, sp.labels, seed)
        sp.train, sp.val = sp.train + tr, sp.val + va
    if cfg.filler_reversed > 0:
        sp.train = sp.train + reversed_items(source_train, cfg.filler_reversed,
                                             sp.labels.index(FILLER_LABEL), sp.fs, seed)
    if not sp.train:
        raise InputError(f"no training items from data.source {cfg.source} at '{cfg.root}': check "
                         "the folder and the held-out speakers")
    return sp


def item_audio(it: Item, fs: int) -> np.ndarray:
    if it.audio is None:
        return read_mono(it.path, fs)
    return it.audio


def place(x: np.ndarray, n: int, offset: int | None = None) -> np.ndarray:
    """Fit a clip into ``n`` samples: zero-pad around it (centred unless ``offset``) or crop."""
    out = np.zeros(n, np.float32)
    if len(x) >= n:
        start = (len(x) - n) // 2 if offset is None else min(max(offset, 0), len(x) - n)
        return x[start:start + n].astype(np.float32)
    start = (n - len(x)) // 2 if offset is None else min(max(offset, 0), n - len(x))
    out[start:start + len(x)] = x
    return out


def augment_clip(x: np.ndarray, n: int, fs: int, aug: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Training view of a clip: speed (resampling by linear interpolation), random placement with
    shift, gain, white noise at a random SNR. Returns ``[n]`` float32."""
    lo, hi = aug.speed
    if hi > lo:
        f = rng.uniform(lo, hi)
        m = max(2, int(round(len(x) / f)))
        x = np.interp(np.linspace(0, len(x) - 1, m), np.arange(len(x)), x).astype(np.float32)
    slack = n - len(x)
    shift = int(aug.shift_s * fs)
    centre = slack // 2
    off = centre + int(rng.integers(-shift, shift + 1))
    if slack >= 0:
        off = min(max(off, 0), slack)
        y = place(x, n, off)
    else:
        y = place(x, n, -off)
    y = y * 10 ** (rng.uniform(-aug.gain_db, aug.gain_db) / 20)
    if rng.random() < aug.noise_prob:
        p = float(np.mean(x**2)) + 1e-12
        snr = rng.uniform(*aug.noise_snr_db)
        y = y + rng.standard_normal(n).astype(np.float32) * np.sqrt(p / 10 ** (snr / 10))
    return y.astype(np.float32)


def fit_window(x: np.ndarray, n: int, fs: int, placement: str = "centre") -> np.ndarray:
    """``[n]`` float32: the model's window on clip ``x`` (``data.placement``): ``centre``
    (:func:`place`) or ``energy`` (centred on the energetic part, ``augment.place_energetic``)."""
    if placement == "energy":
        from .augment import place_energetic

        return place_energetic(x, n, fs)
    return place(x, n)


def make_batch(items: list[Item], fs: int, n: int, aug: AugmentConfig | None = None,
               rng: np.random.Generator | None = None, placement: str = "centre"
               ) -> tuple[np.ndarray, np.ndarray]:
    """Clips ``[B, n]`` float32 and labels ``[B]`` int64 (augmented clip by clip when ``aug`` is
    given, else placed by :func:`fit_window` with ``placement``)."""
    xs = []
    for it in items:
        a = item_audio(it, fs)
        xs.append(augment_clip(a, n, fs, aug, rng) if aug is not None else fit_window(a, n, fs, placement))
    return np.stack(xs), np.array([it.label for it in items], np.int64)
