"""Does a filler class (``data.filler_words``) make keyword detection reject speech that is not a keyword?

For each FSDD fold (train on three speakers, test on the fourth) it compares the fold model without
a filler class (``--plain``, e.g. the D-RF runs of ``python -m benchmarks.kws_fsdd``) with the one trained
with it (``--filler``: the same recipe plus ``--set data.filler_words=[...]``), both seed 0, on:

- **keywords**: the held-out speaker's 500 digits (real speech): accuracy (the filler class, when
  the model has it, counts as an error) and the hit rate at each threshold (a detection with the
  right digit and score ≥ threshold, as ``neuroaudio kws`` decides it for a one-word file);
- **non-keywords**: espeak-ng words that are neither digits nor training filler words, spoken by
  voices and variants the filler training never used: the false-alarm rate (any digit detected),
  for ordinary words and for "hard" ones that sound like digits (tree, heaven, ten, ...);
- **synthetic digits** from the same held-out voices: the hit rate. The filler class is learnt from
  synthetic voices only, so a model could learn "synthetic voice = not a keyword"; this row shows
  whether it did (it would reject these digits too).

Every clip is one centred window, as ``neuroaudio kws`` scores a file of one word.

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.kws_fsdd --root FSDD/recordings --seeds 0 \\
        --device cpu --set "data.filler_words=$(cat experiments/kws_filler/kws_filler_words.txt)" \\
        --set data.filler_per_word=20 --out runs/kws_exp/filler
    OMP_NUM_THREADS=1 python -m experiments.kws_filler.kws_filler --root FSDD/recordings \\
        --plain runs/kws_exp/w128d3 --filler runs/kws_exp/filler

Prints one table (means over the folds found in both folders) and writes ``--out``/filler.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from neuroaudio.io_utils import write_json_atomic  # noqa: E402
from neuroaudio.kws.checkpoint import load_model  # noqa: E402
from neuroaudio.kws.config import DataConfig  # noqa: E402
from neuroaudio.kws.data import DIGIT_WORDS, Item, espeak_items, load_fsdd  # noqa: E402
from neuroaudio.kws.evaluate import evaluate_items  # noqa: E402
from neuroaudio.kws.folds import FSDD_ROOT_HELP, SPEAKERS  # noqa: E402
from neuroaudio.kws.infer import keyword_scores  # noqa: E402

THRESHOLDS = [0.3, 0.5, 0.7, 0.9]
ORDINARY = ["apple", "banana", "camera", "doctor", "engine", "father", "garden", "island", "jacket",
            "kitchen", "lemon", "monkey", "number", "orange", "pencil", "question", "rabbit", "summer",
            "tiger", "under", "village", "winter", "zebra", "yellow"]
HARD = ["tree", "free", "heaven", "fine", "hive", "sticks", "weight", "gate", "tin", "ten", "eleven",
        "twenty"]
"""near-digit words (tree ~ three, heaven ~ seven, fine ~ five, weight ~ eight, tin ~ ten ~ ...)."""
HELD_OUT = {"synth_voices": ["en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us", "en"],
            "synth_variants": ["Alex", "adam", "john", "linda", "quincy", "steph", "belinda", "Annie",
                               "david", "paul"],
            "synth_rates_wpm": [130, 170, 210], "synth_pitches": [35, 55, 75]}
"""voices × variants no training clip used (the filler training draws from DataConfig's defaults:
en, en-us, en-gb-x-rp, en-gb-scotland, en-029, en-us-nyc with '', m1-m7, f1-f4)."""


def clip_sets(per_word: int, seed: int = 0) -> dict[str, list[Item]]:
    """The espeak-ng evaluation clips (8 kHz): ordinary and hard non-keywords, synthetic digits."""
    cfg = DataConfig(sample_rate_hz=8000, **HELD_OUT)
    digits = [w for w in DIGIT_WORDS if w != "oh"]
    # non-keywords get label 0: unused (their false-alarm rate ignores labels)
    return {"ordinary": espeak_items(ORDINARY, [0] * len(ORDINARY), cfg, per_word, [seed, 1]),
            "hard": espeak_items(HARD, [0] * len(HARD), cfg, per_word, [seed, 2]),
            "synth_digits": espeak_items(digits, list(range(10)), cfg, per_word, [seed, 3])}


def rates(model, items: list[Item], keywords: bool) -> dict:
    """Accuracy (keywords) and, per threshold, the hit rate (keywords: right digit) or the
    false-alarm rate (non-keywords: any digit) of one-window detection."""
    ev = evaluate_items(model, items)
    best, score = keyword_scores(ev["probs"], list(model.labels))
    y = np.array([it.label for it in items])
    out = {"n": len(items)}
    if keywords:
        out["accuracy"] = float((ev["probs"].argmax(-1) == y).mean())
        out["rejected"] = float((score < 0).mean())
        out.update({f"hit@{t}": float(((score >= t) & (best == y)).mean()) for t in THRESHOLDS})
    else:
        out.update({f"fa@{t}": float((score >= t).mean()) for t in THRESHOLDS})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plain", required=True,
                    help="folder of fold runs without a filler class (drf_<speaker>)")
    ap.add_argument("--filler", required=True, help="folder of fold runs with the filler class")
    ap.add_argument("--root", required=True, help=FSDD_ROOT_HELP)
    ap.add_argument("--per-word", type=int, default=10, help="espeak-ng clips per evaluation word")
    ap.add_argument("--out", default="runs/kws_filler")
    a = ap.parse_args()
    sets = clip_sets(a.per_word)
    folds = [s for s in SPEAKERS if (Path(a.plain) / f"drf_{s}" / "model.pt").is_file()
             and (Path(a.filler) / f"drf_{s}" / "model.pt").is_file()]
    if not folds:
        raise SystemExit("no fold with a model.pt in both --plain and --filler (drf_<speaker>/model.pt)")
    res: dict = {}
    for spk in folds:
        test = load_fsdd(DataConfig(root=a.root, test_speakers=[spk], val_fraction=0.0)).test
        for name, folder in (("plain", a.plain), ("filler", a.filler)):
            m = load_model(Path(folder) / f"drf_{spk}" / "model.pt")
            r = {"fsdd": rates(m, test, True), "synth_digits": rates(m, sets["synth_digits"], True),
                 "ordinary": rates(m, sets["ordinary"], False), "hard": rates(m, sets["hard"], False)}
            res.setdefault(name, {})[spk] = r
            print(f"{spk:9s} {name:6s} FSDD acc {100 * r['fsdd']['accuracy']:5.1f}%  hit@0.5 "
                  f"{100 * r['fsdd']['hit@0.5']:5.1f}%  FA@0.5 ordinary "
                  f"{100 * r['ordinary']['fa@0.5']:5.1f}% "
                  f"hard {100 * r['hard']['fa@0.5']:5.1f}%  synth digits hit@0.5 "
                  f"{100 * r['synth_digits']['hit@0.5']:5.1f}%", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "filler.json", {"folds": folds, "per_word": a.per_word, "results": res,
                                            "ordinary": ORDINARY, "hard": HARD, "held_out_voices": HELD_OUT})
    n = {k: len(v) for k, v in sets.items()}
    print(f"\nmeans over folds {', '.join(folds)}; FSDD: 500 real clips per fold; espeak-ng held-out voices: "
          f"{n['ordinary']} ordinary, {n['hard']} hard non-keywords, {n['synth_digits']} digits")
    head = ["model", "FSDD acc"] + [f"FSDD hit@{t}" for t in THRESHOLDS] + \
        [f"FA ordinary@{t}" for t in THRESHOLDS] + [f"FA hard@{t}" for t in THRESHOLDS] + \
        ["synth digits hit@0.5"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for name in ("plain", "filler"):
        per = [res[name][s] for s in folds]

        def mean(group: str, key: str, per=per) -> str:
            return f"{100 * np.mean([p[group][key] for p in per]):.1f}%"

        cells = [name, mean("fsdd", "accuracy"), *(mean("fsdd", f"hit@{t}") for t in THRESHOLDS),
                 *(mean("ordinary", f"fa@{t}") for t in THRESHOLDS),
                 *(mean("hard", f"fa@{t}") for t in THRESHOLDS), mean("synth_digits", "hit@0.5")]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
