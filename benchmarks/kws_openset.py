"""Open-set keyword spotting: keyword hits vs false alarms per minute of non-keyword speech.

Every figure goes through the streaming detector of ``neuroaudio kws detect``
(:class:`neuroaudio.kws.infer.StreamingDetector`, 1-s windows every 0.1 s, level gate 30 dB under
the stream's loudest window), on continuous streams, not on isolated clips:

- **keywords**: the clips of the speaker a fold model never heard (FSDD), one after another with
  0.6 s (calibration and test) or 1 s (test) of background noise between them. A clip is *hit*
  when the detection window overlapping it most carries its label; a detection with another label
  is a *substitution*; a detection over no clip an *insertion*.
- **words**: espeak-ng words that are not digits, 0.4 s apart (continuous word lists).
- **sentences**: espeak-ng sentences of ordinary speech without digit words (nor their
  homophones "to", "too", "for", "won", "ate"), 0.6 s apart, several minutes per voice.

False alarms per minute = detections on the word and sentence streams / their length in minutes
(pauses included). Each piece is normalised to −26 dBFS RMS; white noise 40 dB below is added.

Two disjoint sets: **calibration** (the filler words of ``experiments/kws_filler/kws_filler_words.txt``,
the calibration sentences, voices ``en`` and ``en-us+m3``, keyword clips with index 0–9) picks the
rejection setting; **test** (other words, other sentences, four other voices, keyword clips with
index 10–49) reports it. The window probabilities of each model and stream are computed once and
cached (``--out``); every setting is then replayed through ``StreamingDetector.decide``.

The setting: among score thresholds × persistence (``min_windows``: that many windows in a row,
0.1 s apart, with the same best keyword, each scoring ≥ the threshold), the one with the highest
mean keyword hit rate of the fold models whose false alarms per minute, on every model, stay
≤ ``--target-fa-per-min`` on the calibration streams. ``--calibrate MODEL.pt`` writes it into
that checkpoint (``detector``), which ``kws detect`` then uses by default.

    OMP_NUM_THREADS=1 python -m benchmarks.kws_openset --root FSDD/recordings \\
        --models data/models/kws_fsdd_drf.pt runs/openset/fold_nicolas/model.pt \\
        runs/openset/fold_theo/model.pt --target-fa-per-min 1
    ... --calibrate data/models/kws_fsdd_drf.pt         # store the chosen setting in the shipped model

Fold models: ``neuroaudio train kws --config pipelines/kws_drf.yaml --set data.test_speakers=[theo]
--set out_dir=runs/openset/fold_theo`` (the recipe of the shipped model on three speakers). A model
that heard every FSDD speaker contributes false alarms only; its hits would be seen-speaker figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neuroaudio.kws.checkpoint import KWSModel, load_model, read_checkpoint, save_checkpoint
from neuroaudio.kws.infer import StreamingDetector

REPO = Path(__file__).resolve().parents[1]
FILLER_FILE = REPO / "experiments" / "kws_filler" / "kws_filler_words.txt"
HOP_S = 0.1
MIN_LEVEL_DB = 30.0
PIECE_RMS = 0.05            # −26 dBFS
NOISE_RMS = PIECE_RMS / 100  # 40 dB below

TEST_WORDS = (
    "apple bridge candle garden jacket kitchen ladder market pencil river rocket silver summer "
    "tiger wallet yellow basket button camera doctor engine flower guitar hammer island lemon "
    "mirror napkin orange pepper rabbit sugar tomato umbrella velvet winter blanket castle dinner "
    "finger forest harbor honey letter monkey paper pillow planet salad shadow spider thunder "
    "travel valley whistle answer country question picture number family morning evening"
).split()
"""Held-out ordinary words (none in the filler list, none a digit or a digit's homophone)."""

NEAR_WORDS = "ten tree heaven fine sticks often free nighty wonder sex hate later".split()
"""Near-digit words, reported apart (not in the false-alarm target)."""

CALIB_SENTENCES = (
    "Please put the red cup on the kitchen table before dinner.",
    "The weather was cold and windy all morning, so we stayed inside.",
    "My brother bought a new bicycle with a blue frame and a black seat.",
    "Could you open the window? It is getting warm in here.",
    "The library closes early on weekends, but the cafe stays open late.",
    "She painted the fence green and planted roses along the path.",
    "We walked along the river and watched the boats drift by.",
    "The robot turned left, stopped at the door and waited quietly.",
    "He forgot his umbrella at the station and got soaked in the rain.",
    "Our neighbours have a friendly dog that barks at every bird.",
    "The teacher asked the class a question about the history of the city.",
    "After lunch we played cards and listened to music in the garden.",
)
TEST_SENTENCES = (
    "The old lighthouse stands on a rocky cliff above the harbour.",
    "I usually drink coffee in the morning and tea in the afternoon.",
    "The children built a sandcastle and decorated it with shells.",
    "Turn off the lights when you leave the room, please.",
    "The museum has a large collection of paintings and sculptures.",
    "We need milk, bread, butter and a bag of apples from the market.",
    "The train was late because of a problem with the signals.",
    "My grandmother tells wonderful stories about her childhood on a farm.",
    "The cat jumped onto the shelf and knocked over a vase.",
    "Scientists study the behaviour of animals living in the deep ocean.",
    "The meeting has been moved from Tuesday afternoon until Thursday morning.",
    "He repaired the broken chair with glue and a few small nails.",
    "The concert in the park was cancelled because of the storm.",
    "Remember that the shop closes at noon on Saturday.",
    "She speaks French and Spanish, and she is learning Japanese.",
    "The mountain road is narrow, steep and full of sharp bends.",
    "Could you hand me the scissors and the roll of tape?",
    "The garden looks beautiful after the spring rain.",
    "A gentle breeze moved the curtains in the living room.",
    "The doctor said that he should rest and drink plenty of water.",
)
"""Held-out ordinary sentences (written for this benchmark; no digit words or homophones)."""

CALIB_VOICES = (("en", 160, 50), ("en-us+m3", 180, 40))
TEST_VOICES = (("en-gb-scotland", 150, 45), ("en-029", 170, 55), ("en-us-nyc+f3", 165, 60),
               ("en-gb-x-rp+m7", 185, 35))
HEAD_IDX, CALIB_IDX, TEST_IDX = range(0, 50, 2), range(0, 10), range(10, 50)
"""FSDD clip indices: rejection-head positives (training speakers), calibration and test hits
(held-out speaker)."""
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)
MIN_WINDOWS = (1, 2, 3, 4, 5, 6, 8)
MIN_KEYWORD_P = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)



@dataclass
class Stream:
    """Mono audio ``x [n]`` at ``fs`` Hz with its pieces' spans ``[(start, end, label)]`` (samples)."""

    name: str
    x: np.ndarray
    spans: list[tuple[int, int, str]]
    fs: int

    @property
    def minutes(self) -> float:
        return len(self.x) / self.fs / 60


def make_stream(name: str, pieces: list[tuple[np.ndarray, str]], gap_s: float, fs: int, seed: int) -> Stream:
    """Pieces one after another with ``gap_s`` of noise between them (and before the first)."""
    rng = np.random.default_rng(seed)
    gap = int(gap_s * fs)
    parts, spans, pos = [np.zeros(gap, np.float32)], [], gap
    for x, label in pieces:
        x = x.astype(np.float64)
        x = x * PIECE_RMS / (np.sqrt(np.mean(x**2)) + 1e-12)
        parts += [x.astype(np.float32), np.zeros(gap, np.float32)]
        spans.append((pos, pos + len(x), label))
        pos += len(x) + gap
    y = np.concatenate(parts)
    y = y + (NOISE_RMS * rng.standard_normal(len(y))).astype(np.float32)
    return Stream(name, np.clip(y, -1, 1).astype(np.float32), spans, fs)


def _trim(x: np.ndarray, fs: int) -> np.ndarray:
    """espeak-ng output without its leading/trailing silence (−40 dB under the peak, 10-ms frames)."""
    f = max(1, fs // 100)
    e = np.array([np.sqrt(np.mean(x[i:i + f] ** 2)) for i in range(0, len(x), f)])
    on = np.flatnonzero(e > e.max() * 0.01)
    return x[on[0] * f:(on[-1] + 1) * f] if len(on) else x


DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
HOMOPHONES = ("to", "too", "for", "fore", "won", "ate", "oh", "nein", "ten", "eleven", "twelve", "twenty",
              "hundred", "thousand")


def word_pool() -> tuple[list[str], list[str]]:
    """The project's espeak-ng word list (neuroaudio/sim/words.py) without digits, their homophones,
    number words and the test words, split alternately into a rejection-head half and a
    calibration half (no word in both)."""
    from neuroaudio.sim.words import WORDS

    bad = set(DIGITS) | set(HOMOPHONES) | set(TEST_WORDS) | set(NEAR_WORDS)
    pool = [w for w in WORDS if w not in bad]
    return pool[0::2], pool[1::2]


def word_sequences(words: list[str], n: int, seed: int) -> list[str]:
    """``n`` utterances of 5–9 random words from ``words``, spoken as one phrase each."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, rng.integers(5, 10))) for _ in range(n)]


def speech_streams(split: str, fs: int) -> list[Stream]:
    """The espeak-ng streams of ``split``: ``head`` (trains the rejection head: filler words and
    half of :func:`word_pool` alone and as 30 random phrases, half the calibration sentences,
    digits; calibration voices), ``calib`` (the other half of the pool alone and as 30 phrases,
    the other calibration sentences; calibration voices) or ``test`` (held-out words, near-digit words,
    sentences and digits in four other voices)."""
    from neuroaudio.sim.speech import synthesize

    out = []
    voices = TEST_VOICES if split == "test" else CALIB_VOICES
    for vi, (voice, rate, pitch) in enumerate(voices):
        def add(kind: str, texts, gap_s: float, labels=None, seed: int = 0,
                v=(vi, voice, rate, pitch)) -> None:
            labels = labels or ["" for _ in texts]
            pieces = [(_trim(synthesize(t, v[1], v[2], v[3], fs), fs), lab)
                      for t, lab in zip(texts, labels, strict=True)]
            out.append(make_stream(f"{split}/{kind}/{v[1]}", pieces, gap_s, fs, seed + v[0]))
        head_words, calib_words = word_pool()
        if split == "head":
            words = [w.strip("'") for w in FILLER_FILE.read_text().strip().strip("[]").split(",")]
            add("words", words + head_words, 0.4)
            add("sentences", list(CALIB_SENTENCES[:6]) + word_sequences(head_words, 30, vi), 0.6, seed=20)
            add("synthdigits", list(DIGITS) * 2, 0.6, [str(d) for d in range(10)] * 2, seed=30)
        elif split == "calib":
            add("words", calib_words, 0.4)
            add("sentences", list(CALIB_SENTENCES[6:]) + word_sequences(calib_words, 30, 100 + vi), 0.6,
                seed=20)
        else:
            add("words", TEST_WORDS, 0.4)
            add("near", NEAR_WORDS, 0.4, seed=10)
            add("sentences", TEST_SENTENCES, 0.6, seed=20)
            add("synthdigits", DIGITS, 0.6, [str(d) for d in range(10)], seed=30)
    return out


def keyword_stream(root: Path, speakers: list[str], split: str, kind: str, idx, fs: int,
                   reverse: bool = False, perturb: bool = False, gap_s: float = 0.6) -> Stream:
    """FSDD clips of ``speakers`` (indices ``idx``), digits in turn, ``gap_s`` apart; ``reverse``:
    each clip played backwards (real voices, no word: non-keywords); ``perturb``: each clip's
    speed changed by a random factor of 0.85–1.15 (tempo and pitch), so that rejection-head
    positives from training speakers look less like clips the network has learnt."""
    from scipy.signal import resample_poly

    from neuroaudio.kws.data import read_mono

    rng = np.random.default_rng(7)
    pieces = []
    for spk in speakers:
        for i in idx:
            for d in range(10):
                x = read_mono(root / f"{d}_{spk}_{i}.wav", fs)
                if perturb:
                    x = resample_poly(x, 20, int(rng.integers(17, 24))).astype(np.float32)
                pieces.append((x[::-1].copy() if reverse else x, "" if reverse else str(d)))
    return make_stream(f"{split}/{kind}/{'+'.join(speakers)}", pieces, gap_s, fs, 99)


@torch.no_grad()
def window_outputs(model: KWSModel, s: Stream, batch: int = 64) -> dict[str, np.ndarray]:
    """The windows StreamingDetector classifies over ``s``: ``starts [W]`` (samples), ``probs
    [W, K]``, ``level [W]`` (dBFS) and the read-out's input ``emb [W, width]``."""
    n, hop = model.clip_samples, int(round(HOP_S * model.fs))
    starts = np.arange(0, len(s.x) - n + 1, hop)
    probs, level, emb = [], [], []
    for i in range(0, len(starts), batch):
        win = np.stack([s.x[a:a + n] for a in starts[i:i + batch]])
        level.append(10 * np.log10(np.mean(win.astype(np.float64) ** 2, axis=1) + 1e-12))
        e, _ = model.net.embed(model.frontend(torch.from_numpy(win)))
        emb.append(e.numpy())
        probs.append(model.net.head(e).softmax(-1).numpy())
    return {"starts": starts, "probs": np.concatenate(probs), "level": np.concatenate(level),
            "emb": np.concatenate(emb)}


def p_keyword(head: dict | None, emb: np.ndarray) -> np.ndarray:
    """The rejection head's keyword probability ``[W]`` of embeddings ``emb [W, width]`` (as
    :meth:`KWSModel.classify` computes it)."""
    if head is None:
        return np.ones(len(emb))
    from neuroaudio.kws.checkpoint import reject_head_p

    return reject_head_p(head, torch.from_numpy(emb)).numpy()


def whole_piece_windows(out: dict, s: Stream, n: int) -> np.ndarray:
    """Windows ``[W]`` (bool) holding one whole piece of ``s``."""
    st = out["starts"]
    m = np.zeros(len(st), bool)
    for a, b, _ in s.spans:
        m |= (st <= a) & (st + n >= b)
    return m


def fit_head(model: KWSModel, cache: dict, streams: list[Stream], hidden: int = 64, steps: int = 300,
             weight_decay: float = 1e-2) -> dict:
    """A small MLP (``width`` → ``hidden`` ReLU → 1, dropout 0.2) telling keyword windows from the
    rest on standardised embeddings ``[W, width]`` (the read-out's input).

    Four groups of windows, each a quarter of the weight, so that neither class is told apart by
    the voice being real or synthetic: real keywords (windows holding a whole clip of a training
    speaker), espeak-ng digits, real non-words (windows holding a whole reversed clip of a training
    speaker), espeak-ng non-keywords (every loud window of the head word and phrase streams).
    AdamW (lr 1e-3), ``steps`` full-batch steps, seed 0. Measured on fold theo's held-out windows:
    ROC AUC keyword vs word 0.93, vs sentence 0.96, vs reversed clip 0.93; a logistic regression on
    a smaller head set (10 clips per digit and speaker, no speed change) gave 0.84 / 0.93 / 0.86."""
    groups: dict[str, list[np.ndarray]] = {"real_kw": [], "synth_kw": [], "real_non": [], "synth_non": []}
    for s in streams:
        if not s.name.startswith("head/"):
            continue
        o, kind = cache[s.name], s.name.split("/")[1]
        whole = o["emb"][whole_piece_windows(o, s, model.clip_samples)]
        loud = o["level"] >= o["level"].max() - MIN_LEVEL_DB
        group = {"trainkw": "real_kw", "synthdigits": "synth_kw",
                 "reversed": "real_non"}.get(kind, "synth_non")
        groups[group].append(o["emb"][loud] if group == "synth_non" else whole)
    xs, ys, ws = [], [], []
    for g, parts in groups.items():
        x = np.concatenate(parts)
        xs.append(x)
        ys.append(np.full(len(x), 1.0 if g.endswith("_kw") else 0.0))
        ws.append(np.full(len(x), 0.25 / len(x)))
    x, y, wt = (torch.from_numpy(np.concatenate(v)).float() for v in (xs, ys, ws))
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(z.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(hidden, 1))
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=weight_decay)
    for _ in range(steps):                     # full batch
        opt.zero_grad()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(net(z)[:, 0], y, reduction="none")
        (wt * bce).sum().backward()
        opt.step()

    def flat(t: torch.Tensor) -> list:
        return t.detach().double().tolist()
    return {"mean": flat(mu), "std": flat(sd), "w1": flat(net[0].weight), "b1": flat(net[0].bias),
            "w2": flat(net[3].weight[0]), "b2": float(net[3].bias[0]),
            "windows": {g: int(sum(map(len, parts))) for g, parts in groups.items()}}


def replay(model: KWSModel, out: dict, threshold: float, min_windows: int, head: dict | None = None,
           min_keyword_p: float = 0.0) -> list:
    """Detections of StreamingDetector over cached window outputs (as ``kws detect`` gives)."""
    det = StreamingDetector(model, threshold, HOP_S, float(out["level"].max() - MIN_LEVEL_DB),
                            min_windows=min_windows, min_keyword_p=min_keyword_p)
    return det.decide(out["starts"], out["probs"], out["level"], p_keyword(head, out["emb"])) + det.flush()


def score_keywords(dets: list, s: Stream) -> dict[str, int]:
    """Hits, substitutions, insertions, misses of detections against the clips of a keyword stream."""
    fs = s.fs
    got: dict[int, str] = {}
    ins = 0
    for d in dets:
        a, b = int(d.t_start_s * fs), int(d.t_end_s * fs)
        ov = [max(0, min(b, e) - max(a, st)) for st, e, _ in s.spans]
        j = int(np.argmax(ov))
        if ov[j] <= 0 or j in got:
            ins += 1
        else:
            got[j] = d.label
    hits = sum(lab == s.spans[j][2] for j, lab in got.items())
    return {"clips": len(s.spans), "hits": hits, "subs": len(got) - hits, "ins": ins}


def _cache_key(model_path: Path, stream: Stream) -> str:
    h = hashlib.sha1(model_path.read_bytes()).hexdigest()[:10]
    return f"{model_path.stem}_{h}_" + stream.name.replace("/", "_").replace("+", "p")


def evaluate(m: KWSModel, path: Path, streams: list[Stream], out: Path) -> dict:
    """``{stream name: window outputs}``, computed once per model and stream (cached in ``out``)."""
    out.mkdir(parents=True, exist_ok=True)
    cache = {}
    for s in streams:
        f = out / (_cache_key(path, s) + ".npz")
        if not f.exists():
            np.savez(f, **window_outputs(m, s))
        cache[s.name] = dict(np.load(f))
    return cache


def summarise(m: KWSModel, streams: list[Stream], cache: dict, split: str, threshold: float, k: int,
              head: dict | None, min_p: float) -> dict:
    """Hits (held-out speaker; espeak-ng digits), false alarms per minute per non-keyword kind."""
    r: dict = {}
    fa: dict[str, list[float]] = {}
    for s in streams:
        if not s.name.startswith(split + "/"):
            continue
        dets = replay(m, cache[s.name], threshold, k, head, min_p)
        kind = s.name.split("/")[1]
        if kind in ("keywords", "keywords1s", "synthdigits"):
            sc = score_keywords(dets, s)
            acc = r.setdefault(kind, {"clips": 0, "hits": 0, "subs": 0, "ins": 0})
            for key in acc:
                acc[key] += sc[key]
        else:
            f = fa.setdefault(kind, [0, 0.0])
            f[0] += len(dets)
            f[1] += s.minutes
    for kind, (n, mins) in fa.items():
        r[f"fa_per_min_{kind}"], r[f"minutes_{kind}"] = n / mins, mins
    ordinary = [kind for kind in ("words", "sentences") if kind in fa]
    if ordinary:
        r["fa_per_min"] = sum(fa[k2][0] for k2 in ordinary) / sum(fa[k2][1] for k2 in ordinary)
    for kind in ("keywords", "keywords1s", "synthdigits"):
        if kind in r:
            r[f"hit_rate_{kind}"] = r[kind]["hits"] / r[kind]["clips"]
    return r


def choose(models: dict, streams: dict, cache: dict, heads: dict, target: float,
           min_ps: tuple[float, ...] = MIN_KEYWORD_P) -> tuple[tuple[float, int, float], list[dict]]:
    """The calibration grid and the chosen (threshold, min_windows, min_keyword_p): the highest
    mean held-out hit rate of the fold models with every model's false alarms per minute on the
    calibration words and phrases ≤ ``target``."""
    grid = []
    for k in MIN_WINDOWS:
        for t in THRESHOLDS:
            for mp in min_ps:
                rs = {n: summarise(m, streams[n], cache[n], "calib", t, k, heads[n], mp)
                      for n, m in models.items()}
                hits = [v["hit_rate_keywords"] for v in rs.values() if "hit_rate_keywords" in v]
                grid.append({"threshold": t, "min_windows": k, "min_keyword_p": mp,
                             "hit_rate": float(np.mean(hits)),
                             "max_fa_per_min": max(v["fa_per_min"] for v in rs.values())})
    ok = [g for g in grid if g["max_fa_per_min"] <= target]
    if not ok:
        raise SystemExit(f"no setting reaches {target} false alarms per minute on the calibration set")
    best = max(ok, key=lambda g: (g["hit_rate"], -g["max_fa_per_min"], -g["min_windows"],
                                  -g["min_keyword_p"]))
    return (best["threshold"], best["min_windows"], best["min_keyword_p"]), grid


def _pct(r: dict, kind: str) -> str:
    kw = r.get(kind)
    if not kw:
        return "—"
    return f"{100 * r[f'hit_rate_{kind}']:.1f}% ({kw['hits']}/{kw['clips']}, {kw['subs']} subs)"


def table(res: dict, title: str) -> str:
    lines = [f"### {title}", "",
             "| model | held-out speaker | keyword hits (0.6 s apart) | keyword hits (1 s apart) | "
             "espeak-ng digits | FA/min words | FA/min sentences | **FA/min ordinary** | FA/min near-digit | "
             "FA/min reversed clips |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    nan = float("nan")
    for name, r in res.items():
        lines.append(f"| {name} | {r.get('speaker') or '— (heard all four)'} | {_pct(r, 'keywords')} | "
                     f"{_pct(r, 'keywords1s')} | "
                     f"{_pct(r, 'synthdigits')} | {r.get('fa_per_min_words', nan):.2f} | "
                     f"{r.get('fa_per_min_sentences', nan):.2f} | **{r['fa_per_min']:.2f}** | "
                     f"{r.get('fa_per_min_near', nan):.2f} | {r.get('fa_per_min_reversed', nan):.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, required=True, help="FSDD recordings folder")
    ap.add_argument("--models", type=Path, nargs="+", required=True,
                    help="checkpoints; fold models (data.test_speakers set) give hits on their "
                         "held-out speaker")
    ap.add_argument("--out", type=Path, default=Path("runs/kws_openset"))
    ap.add_argument("--target-fa-per-min", type=float, default=1.0,
                    help="calibration target (below the 2/min goal: a margin for new words and voices)")
    ap.add_argument("--calibrate", type=Path, default=None,
                    help="write the chosen setting (and that model's rejection head) into this checkpoint")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    models = {f"{p.parent.name}/{p.name}": load_model(p) for p in a.models}
    paths = dict(zip(models, a.models, strict=True))
    fs = {m.fs for m in models.values()}.pop()
    speech = [s for sp in ("head", "calib", "test") for s in speech_streams(sp, fs)]
    streams, speakers, cache, heads = {}, {}, {}, {}
    all_spk = sorted({p.stem.split("_")[1] for p in a.root.glob("*_*_*.wav")})
    for name, m in models.items():
        held = list(m.cfg.data.test_speakers)
        train = [x for x in all_spk if x not in held]
        speakers[name] = held[0] if held else None
        st = list(speech) + [keyword_stream(a.root, train, "head", "trainkw", HEAD_IDX, fs, perturb=True),
                             keyword_stream(a.root, train, "head", "reversed", HEAD_IDX, fs, reverse=True,
                                            perturb=True)]
        if held:
            st += [keyword_stream(a.root, held, "calib", "keywords", CALIB_IDX, fs),
                   keyword_stream(a.root, held, "test", "keywords", TEST_IDX, fs),
                   keyword_stream(a.root, held, "test", "keywords1s", TEST_IDX, fs, gap_s=1.0),
                   keyword_stream(a.root, held, "test", "reversed", TEST_IDX, fs, reverse=True)]
        streams[name] = st
        cache[name] = evaluate(m, paths[name], st, a.out)
        heads[name] = fit_head(m, cache[name], st)
    (t, k, mp), grid = choose(models, streams, cache, heads, a.target_fa_per_min)
    (t0, k0, _), _ = choose(models, streams, cache, heads, a.target_fa_per_min, (0.0,))
    report = [f"## Calibration (worst model's FA/min on the calibration words and phrases "
              f"≤ {a.target_fa_per_min:g}, "
              "best mean hit rate of the fold models)", "",
              "| min_keyword_p | min_windows | threshold | hit rate | worst FA/min |",
              "|---:|---:|---:|---:|---:|"]
    front = {}
    for g in grid:                            # the best hit rate per FA level, per rejection-head level
        key = (g["min_keyword_p"], g["min_windows"])
        if g["max_fa_per_min"] <= a.target_fa_per_min \
                and g["hit_rate"] > front.get(key, {"hit_rate": -1})["hit_rate"]:
            front[key] = g
    for g in sorted(front.values(), key=lambda g: (g["min_keyword_p"], g["min_windows"])):
        report.append(f"| {g['min_keyword_p']:g} | {g['min_windows']} | {g['threshold']:g} | "
                      f"{100 * g['hit_rate']:.1f}% | {g['max_fa_per_min']:.2f} |")
    report.append(f"\nchosen: threshold {t:g}, min_windows {k}, min_keyword_p {mp:g}\n")
    settings = [("closed-set default (score 0.5, 1 window, no head)", 0.5, 1, False, 0.0),
                (f"score threshold + persistence only, best on calibration ({t0:g}, {k0} windows)",
                 t0, k0, False, 0.0),
                (f"chosen ({t:g}, {k} windows, rejection head ≥ {mp:g})", t, k, True, mp)]
    results = {}
    for title, tt, kk, use_head, mpp in settings:
        res = {}
        for n, m in models.items():
            res[n] = summarise(m, streams[n], cache[n], "test", tt, kk, heads[n] if use_head else None, mpp)
            res[n]["speaker"] = speakers[n]
        results[title] = res
        report.append(table(res, f"Test set: {title}") + "\n")
    mins = {kind: round(sum(s.minutes for s in speech if s.name.startswith(f"test/{kind}/")), 2)
            for kind in ("words", "sentences", "near", "synthdigits")}
    report.append(f"test stream minutes (pauses included): {json.dumps(mins)}")
    text = "\n".join(report)
    print(text)
    from neuroaudio.io_utils import write_json_atomic, write_text_atomic

    write_text_atomic(a.out / "kws_openset.md", text + "\n")
    write_json_atomic(a.out / "kws_openset.json", {"chosen": {"threshold": t, "min_windows": k,
                                                               "min_keyword_p": mp},
                                                    "grid": grid, "test": results, "test_minutes": mins})
    if a.calibrate:
        name = next((n for n in models if paths[n].resolve() == a.calibrate.resolve()), None)
        if name is None:
            raise SystemExit(f"--calibrate {a.calibrate}: give one of the --models")
        ck = read_checkpoint(a.calibrate)
        test = results[settings[-1][0]][name]
        ck["detector"] = {
            "threshold": t, "min_windows": k, "hop_s": HOP_S, "min_keyword_p": mp, "reject": heads[name],
            "chosen_by": "python -m benchmarks.kws_openset: best fold-model hit rate with <= "
                         f"{a.target_fa_per_min:g} FA/min on the calibration words and phrases, every model",
            "test_fa_per_min": round(test["fa_per_min"], 3)}
        save_checkpoint(a.calibrate, {k2: v for k2, v in ck.items() if k2 != "format"})
        print(f"wrote the detector setting (threshold {t:g}, min_windows {k}, min_keyword_p {mp:g}) "
              f"into {a.calibrate}")


if __name__ == "__main__":
    main()
