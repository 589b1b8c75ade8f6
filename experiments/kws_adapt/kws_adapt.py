"""Unsupervised test-speaker adaptation of the FSDD fold models (NOT speaker-independent).

For each fold model of ``python -m benchmarks.kws_fsdd`` (trained on three speakers, RUNS/drf_<speaker>
for seed 0, RUNS/drf_<speaker>_s<N> for seed N), the held-out speaker's 500 clips are split in two
halves by the FSDD index (A: index < SPLIT of each digit, B: index ≥ SPLIT). An adapted model
never sees the labels of the clips it adapts on and is tested only on the other half. Settings,
each from the trained checkpoint afresh:

- ``none``: the unadapted model (the speaker-independent model, same clips);
- ``adabn``: BatchNorm statistics re-estimated on the other half (``neuroaudio.kws.adapt``);
- ``adabn_n<N>``: the same from only N clips of the other half (drawn at random, seeded);
- ``selftrain``: AdaBN, fine-tuning on the other half's clips that the model labels with
  probability ≥ ``--threshold`` (its own pseudo-labels), AdaBN again;
- ``adabn_all``: transductive: adapted on all 500 clips and tested on the same 500.

Two test sets are scored: "A→B" (adapt on half A, test on half B: 250 clips per speaker, the
pre-declared split) and "2-fold" (every clip tested once, by the model adapted on the other half:
500 clips per speaker, less noise). Prints per speaker and the mean, for each seed and the ensemble
of the seeds (probabilities averaged), and writes OUT/summary.json and OUT/probs_<speaker>_s<seed>.npz
(cached: a rerun computes only what is missing; ``--fresh`` recomputes).

    OMP_NUM_THREADS=1 nice -n 10 python -m experiments.kws_adapt.kws_adapt --runs runs/kws_exp/w128d3 \\
        --root FSDD/recordings --out runs/kws_adapt
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuroaudio.io_utils import write_json_atomic
from neuroaudio.kws.adapt import adapt_bn, predict
from neuroaudio.kws.checkpoint import load_model
from neuroaudio.kws.data import FSDD_NAME, augment_clip, read_mono
from neuroaudio.kws.folds import FSDD_ROOT_HELP, SPEAKERS
from neuroaudio.kws.train import rate_penalty, spec_mask


def speaker_clips(root: Path, speaker: str, fs: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The speaker's FSDD clips (mono float32 at ``fs``), digits ``[N]`` and FSDD indices ``[N]``."""
    audios, digits, index = [], [], []
    for p in sorted(root.glob(f"*_{speaker}_*.wav")):
        m = FSDD_NAME.match(p.name)
        if m and m.group(2) == speaker:
            audios.append(read_mono(p, fs))
            digits.append(int(m.group(1)))
            index.append(int(m.group(3)))
    if not audios:
        raise SystemExit(f"no FSDD clips of speaker '{speaker}' in '{root}': give --root the recordings "
                         "folder")
    return audios, np.array(digits), np.array(index)


def self_train(model, audios: list[np.ndarray], threshold: float = 0.9, epochs: int = 10,
               lr: float = 1e-3, batch_size: int = 32, seed: int = 0) -> dict[str, Any]:
    """AdaBN, then fine-tune on the model's own confident pseudo-labels, then AdaBN again (in place).
    Measured here, not kept in the library: it did not beat AdaBN alone (docs/kws.md).

    Args:
        threshold: keep clips whose top class probability (after AdaBN) is ≥ this.
        epochs: passes over the kept clips; AdamW (weight decay and label smoothing of the model's
            training config), cosine learning rate from ``lr`` to 0, the training augmentation
            (``train.augment`` of the checkpoint's config: speed, shift, gain, noise, SpecAugment
            masks) and the firing-rate penalty.

    The pseudo-labels are fixed after the first AdaBN (one round). Returns ``{"n_clips", "n_kept",
    "kept_per_class", "epochs", "adapt_bn"}``."""
    if not 0 < threshold <= 1:
        raise SystemExit(f"--threshold {threshold}: give a probability in (0, 1], e.g. 0.9")
    torch.manual_seed(seed)                      # dropout masks: the same whatever ran before
    adapt_bn(model, audios)
    probs = predict(model, audios)
    keep = np.flatnonzero(probs.max(-1) >= threshold)
    labels = probs.argmax(-1)
    res: dict[str, Any] = {"n_clips": len(audios), "n_kept": int(len(keep)),
                           "kept_per_class": np.bincount(labels[keep], minlength=probs.shape[1]).tolist(),
                           "epochs": epochs}
    if len(keep) == 0 or epochs <= 0:
        res["adapt_bn"] = adapt_bn(model, audios)
        return res
    cfg = model.cfg
    dev = next(model.net.parameters()).device
    opt = torch.optim.AdamW(model.net.parameters(), lr=lr, weight_decay=cfg.train.weight_decay)
    rng = np.random.default_rng([seed, 4099])
    gen = torch.Generator().manual_seed(seed)
    aug = cfg.train.augment
    steps = math.ceil(len(keep) / batch_size)
    total = steps * epochs
    model.train()
    for ep in range(epochs):
        order = rng.permutation(keep)
        for b in range(steps):
            for g in opt.param_groups:
                g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (ep * steps + b) / total))
            idx = order[b * batch_size:(b + 1) * batch_size]
            x = np.stack([augment_clip(audios[i], model.clip_samples, model.fs, aug, rng) for i in idx])
            feats = model.frontend(torch.from_numpy(x).to(dev))
            if cfg.frontend.kind == "logmel":
                feats = spec_mask(feats, aug.freq_mask, aug.time_mask, gen)
            logits, spikes = model.net(feats)
            yt = torch.from_numpy(labels[idx]).to(dev)
            loss = torch.nn.functional.cross_entropy(logits, yt, label_smoothing=cfg.train.label_smoothing)
            loss = loss + rate_penalty(spikes, cfg.train.rate_target, cfg.train.rate_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.net.parameters(), 5.0)
            opt.step()
    res["adapt_bn"] = adapt_bn(model, audios)
    return res


def setting_names(a: argparse.Namespace) -> list[str]:
    """Cache keys of the settings asked for (self-training and subset sizes carry their parameters)."""
    names = []
    for s in a.settings:
        if s == "selftrain":
            names.append(f"selftrain_t{a.threshold:g}_e{a.st_epochs}_lr{a.st_lr:g}")
        elif s == "adabn_n":
            names += [f"adabn_n{n}" for n in a.sizes]
        else:
            names.append(s)
    return names


def adapted_probs(model_path: Path, name: str, adapt: list[np.ndarray], test: list[np.ndarray],
                  a: argparse.Namespace, seed: int) -> tuple[np.ndarray, dict]:
    """Probabilities ``[len(test), K]`` of the model adapted on ``adapt`` by setting ``name``."""
    model = load_model(model_path)
    info: dict = {}
    if name.startswith("adabn_n"):
        n = int(name[len("adabn_n"):])
        rng = np.random.default_rng([seed, n, len(adapt)])
        pick = rng.choice(len(adapt), min(n, len(adapt)), replace=False)
        info = adapt_bn(model, [adapt[i] for i in pick])
    elif name.startswith("adabn"):
        info = adapt_bn(model, adapt)
    elif name.startswith("selftrain"):
        info = self_train(model, adapt, threshold=a.threshold, epochs=a.st_epochs, lr=a.st_lr, seed=seed)
    return predict(model, test), info


def fold_probs(model_path: Path, name: str, audios: list[np.ndarray], half_a: np.ndarray,
               a: argparse.Namespace, seed: int) -> tuple[np.ndarray, dict]:
    """``[N, K]`` probabilities of all clips: inductive settings test each half with the model
    adapted on the other half; ``adabn_all`` adapts on all clips (transductive)."""
    if name == "adabn_all":
        p, info = adapted_probs(model_path, name, audios, audios, a, seed)
        return p, {"all": info}
    out, infos = None, {}
    for tag, adapt_mask in (("A->B", half_a), ("B->A", ~half_a)):
        ad = [x for x, m in zip(audios, adapt_mask, strict=True) if m]
        te = np.flatnonzero(~adapt_mask)
        p, infos[tag] = adapted_probs(model_path, name, ad, [audios[i] for i in te], a, seed)
        out = np.zeros((len(audios), p.shape[1]), np.float32) if out is None else out
        out[te] = p
    return out, infos


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="runs/kws_exp/w128d3",
                    help="folder of the fold runs (drf_<speaker>[_sN]/model.pt)")
    ap.add_argument("--root", required=True, help=FSDD_ROOT_HELP)
    ap.add_argument("--out", default="runs/kws_adapt")
    ap.add_argument("--speakers", nargs="+", default=SPEAKERS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--settings", nargs="+", default=["none", "adabn", "adabn_n", "selftrain", "adabn_all"],
                    choices=["none", "adabn", "adabn_n", "selftrain", "adabn_all"])
    ap.add_argument("--split", type=int, default=25, help="half A: FSDD index < SPLIT; half B: the rest")
    ap.add_argument("--sizes", nargs="+", type=int, default=[10, 30, 100], help="adabn_n: clips used")
    ap.add_argument("--threshold", type=float, default=0.9, help="selftrain: pseudo-label probability")
    ap.add_argument("--st-epochs", type=int, default=10, help="selftrain: fine-tuning epochs")
    ap.add_argument("--st-lr", type=float, default=1e-3, help="selftrain: peak learning rate")
    ap.add_argument("--fresh", action="store_true", help="recompute cached settings")
    a = ap.parse_args()
    torch.set_num_threads(1)
    runs, root, out = Path(a.runs), Path(a.root), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    names = setting_names(a)
    folds: dict = {}
    t_all = time.perf_counter()
    for spk in a.speakers:
        for seed in a.seeds:
            mp = runs / (f"drf_{spk}" if seed == 0 else f"drf_{spk}_s{seed}") / "model.pt"
            audios, digits, index = speaker_clips(root, spk, load_model(mp).fs)
            half_a = index < a.split
            cache = out / f"probs_{spk}_s{seed}.npz"
            have = dict(np.load(cache)) if cache.is_file() and not a.fresh else {}
            info_path = out / f"info_{spk}_s{seed}.json"
            infos = json.loads(info_path.read_text()) if have and info_path.is_file() else {}
            for name in names:
                if name in have:
                    continue
                t0, c0 = time.perf_counter(), time.process_time()
                have[name], info = fold_probs(mp, name, audios, half_a, a, seed)
                infos[name] = {**info, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}
                acc = have[name].argmax(-1) == digits
                print(f"{spk:9s} seed {seed} {name:28s} A->B {100 * acc[~half_a].mean():6.2f}%  all 500 "
                      f"{100 * acc.mean():6.2f}%  ({infos[name]['cpu_s']:.1f} CPU s)", flush=True)
            have["digits"], have["index"] = digits, index
            np.savez_compressed(cache, **have)
            write_json_atomic(info_path, infos)
            folds[(spk, seed)] = have
    table = score(folds, names, a)
    write_json_atomic(out / "summary.json", {"runs": str(runs), "split": a.split, "seeds": a.seeds,
                                             "settings": names, "table": table})
    print_table(table, a)
    print(f"\n{time.perf_counter() - t_all:.0f} s wall; outputs in {out}/")


def score(folds: dict, names: list[str], a: argparse.Namespace) -> dict:
    """``table[test set][setting][seed | 'ensemble'][speaker | 'mean']`` = accuracy (fraction).

    Test sets: ``A->B`` (half B, inductive settings), ``2-fold`` (all clips, inductive settings),
    ``all`` (``none`` and ``adabn_all`` on all clips, transductive)."""
    sets = {"A->B": [n for n in names if n != "adabn_all"], "2-fold": [n for n in names if n != "adabn_all"],
            "all (transductive)": [n for n in names if n in ("none", "adabn_all")]}
    table: dict = {}
    for tset, settings in sets.items():
        for name in settings:
            rows: dict = {}
            for who in [*a.seeds, "ensemble"]:
                accs = {}
                for spk in a.speakers:
                    ref = folds[(spk, a.seeds[0])]
                    sel = ref["index"] >= a.split if tset == "A->B" else np.ones(len(ref["index"]), bool)
                    p = (np.mean([folds[(spk, s)][name] for s in a.seeds], 0) if who == "ensemble"
                         else folds[(spk, who)][name])
                    accs[spk] = float((p.argmax(-1) == ref["digits"])[sel].mean())
                accs["mean"] = float(np.mean(list(accs.values())))
                rows[str(who)] = accs
            table.setdefault(tset, {})[name] = rows
    return table


def print_table(table: dict, a: argparse.Namespace) -> None:
    spk = [s for s in SPEAKERS if s in a.speakers]
    print("\nTest-speaker adaptation, NOT speaker-independent (accuracy %). Halves: A = FSDD index "
          f"< {a.split}, "
          "B = the rest; an adapted model is tested only on clips it did not adapt on, except 'all'.")
    for tset, rows_of in table.items():
        print(f"\n[{tset}]")
        print(f"{'setting':28s} {'model':9s} " + " ".join(f"{s:>9s}" for s in spk)
              + f" {'mean':>8s} {'Δ mean':>7s}")
        for name, rows in rows_of.items():
            for who, accs in rows.items():
                d = f"{100 * (accs['mean'] - rows_of['none'][who]['mean']):+7.2f}" if name != "none" else ""
                label = f"seed {who}" if who != "ensemble" else "ensemble"
                print(f"{name:28s} {label:9s} " + " ".join(f"{100 * accs[s]:8.1f}%" for s in spk)
                      + f" {100 * accs['mean']:7.2f}% {d:>7s}")


if __name__ == "__main__":
    main()
