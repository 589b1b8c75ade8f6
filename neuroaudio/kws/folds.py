"""FSDD speaker-independent folds: train on three speakers, test on the fourth, rotating.

Every run is an ordinary :func:`neuroaudio.kws.train.train` of a KWS config with
``data.test_speakers=[S]``, ``model.neuron=K``, ``seed=N`` and ``train.epochs=E`` (outputs and
resumable checkpoints in ``OUT/K_S/`` for seed 0, ``OUT/K_S_sN/`` for seed N), so an interrupted
set of folds continues where it stopped. With several seeds a fold also gets the ensemble of its
seeds' models (class probabilities averaged). ``benchmarks/kws_fsdd.py`` is the command line.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from ..io_utils import write_json_atomic
from .checkpoint import load_model
from .config import load_config
from .data import load_splits
from .evaluate import evaluate_items
from .train import resolve_device, train

SPEAKERS = ["jackson", "nicolas", "theo", "yweweler"]
"""The four speakers of the FSDD subset, in fold order."""
FSDD_ROOT_HELP = ("FSDD recordings folder: `git clone "
                  "https://github.com/Jakobovski/free-spoken-digit-dataset DIR`, then DIR/recordings")
"""Help text of the ``--root`` option of the FSDD commands (where the dataset comes from)."""

Run = tuple[str, str, int]
"""One run of a set of folds: (neuron kind, held-out speaker, seed)."""


def run_dir(out: Path, kind: str, speaker: str, seed: int) -> Path:
    """The run folder of fold ``speaker``, neuron ``kind`` and ``seed`` under ``out``."""
    return out / (f"{kind}_{speaker}" if seed == 0 else f"{kind}_{speaker}_s{seed}")


def fold_overrides(root: str, kind: str, speaker: str, seed: int, epochs: int, out: Path,
                   extra: list[str]) -> list[str]:
    """The ``--set`` overrides of one run (fold ``speaker``, neuron ``kind``, ``seed``)."""
    ov = [*extra, f"data.root={root}", f"data.test_speakers=[{speaker}]", f"model.neuron={kind}",
          f"train.epochs={epochs}", f"seed={seed}", f"out_dir={run_dir(out, kind, speaker, seed)}",
          f"name=fsdd_{kind}_{speaker}_s{seed}"]
    if kind != "drf":
        ov.append("model.neuron_kwargs={}")       # the baseline's own (paper) defaults
    return ov


def fold_config(config: str, root: str, kind: str, speaker: str, seed: int, epochs: int, out: Path,
                extra: list[str]):
    """The KWS config of one run (:func:`fold_overrides` applied to the file ``config``)."""
    return load_config(config, fold_overrides(root, kind, speaker, seed, epochs, out, extra))


def fold_result(cfgs, metrics: list[dict], probs_path: Path | None = None) -> dict:
    """One fold: per-seed metrics, their mean, and the ensemble over seeds (averaged probabilities).

    With several seeds and ``probs_path``, the seeds' test probabilities are also written there
    (``probs [seeds, clips, classes]``, ``labels [clips]``, ``seeds``), so ensembles of any subset
    can be scored later without the models."""
    res: dict[str, Any] = {"seeds": [{k: v for k, v in m.items() if k != "test_confusion"} for m in metrics]}
    for key in ("test_accuracy", "test_mean_firing_rate", "test_energy_pj_per_clip", "train_cpu_seconds",
                "train_seconds", "epochs"):
        res[key] = float(np.mean([m[key] for m in metrics]))
    if len(cfgs) > 1:
        test = load_splits(cfgs[0].data, cfgs[0].seed).test           # the held-out speaker's clips
        dev = resolve_device(cfgs[0].train.device)
        probs = [evaluate_items(load_model(Path(c.out_dir) / "model.pt").to(dev), test)["probs"]
                 for c in cfgs]
        y = np.array([it.label for it in test])
        res["ensemble_accuracy"] = float((np.mean(probs, 0).argmax(-1) == y).mean())
        if probs_path is not None:
            np.savez_compressed(probs_path, probs=np.stack(probs).astype(np.float32), labels=y,
                                seeds=np.array([c.seed for c in cfgs]))
    return res


def _train_run(config: str, overrides: list[str]) -> dict:
    """One run in a worker process (``jobs`` > 1): the config rebuilt from its path and overrides
    (plain strings travel between processes), trained or resumed."""
    return train(load_config(config, overrides), resume=True, progress=False)


def train_folds(config: str, root: str, kinds: Sequence[str], speakers: Sequence[str], seeds: Sequence[int],
                epochs: int, out: Path, overrides: list[str], jobs: int = 1,
                on_run: Callable[[str, str, int, dict], None] | None = None,
                on_fold: Callable[[str, str, dict], None] | None = None) -> dict:
    """Train (or resume) every run of ``kinds`` × ``speakers`` × ``seeds`` and score each fold.

    Args:
        config: KWS config file; root: FSDD recordings folder; epochs: ``train.epochs`` of every run;
        out: output folder (run folders, ``summary.json``, ``probs_<kind>_<speaker>.npz``);
        overrides: extra ``KEY=VALUE`` overrides of every run.
        jobs: runs trained at once in spawned processes (1: one after the other in this process).
        on_run: called with (kind, speaker, seed, metrics) as each run ends; on_fold: with
            (kind, speaker, fold result) as each fold is scored.

    Returns:
        ``OUT/summary.json``'s content: ``{kind: {speaker: fold result}}`` (:func:`fold_result`),
        folds of earlier calls with other speakers kept.
    """
    prev = out / "summary.json"                # folds of earlier invocations (other speakers) are kept
    summary: dict = json.loads(prev.read_text()) if prev.is_file() else {}
    runs: list[Run] = [(kind, spk, seed) for kind in kinds for spk in speakers for seed in seeds]
    cfg_of = {r: fold_config(config, root, *r, epochs, out, overrides) for r in runs}
    metrics: dict[Run, dict] = {}
    if jobs > 1:
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futs = {pool.submit(_train_run, config, fold_overrides(root, *r, epochs, out, overrides)): r
                    for r in runs}
            for f in as_completed(futs):
                metrics[futs[f]] = m = f.result()
                if on_run:
                    on_run(*futs[f], m)
    for kind in kinds:
        for spk in speakers:
            cfgs, ms = [], []
            for seed in seeds:
                cfg = cfg_of[(kind, spk, seed)]
                if (kind, spk, seed) not in metrics:
                    metrics[(kind, spk, seed)] = train(cfg, resume=True, progress=False)
                    if on_run:
                        on_run(kind, spk, seed, metrics[(kind, spk, seed)])
                cfgs.append(cfg)
                ms.append(metrics[(kind, spk, seed)])
            summary.setdefault(kind, {})[spk] = r = fold_result(cfgs, ms, out / f"probs_{kind}_{spk}.npz")
            if on_fold:
                on_fold(kind, spk, r)
            write_json_atomic(out / "summary.json", summary)
    return summary


def summary_lines(summary: dict, kinds: Sequence[str], n_seeds: int) -> list[str]:
    """The table of a :func:`train_folds` summary: per neuron kind, test accuracy per speaker and
    their mean, mean firing rate, SOP energy per clip (µJ) and training CPU seconds; single models
    (mean over seeds) and, where every fold has one, the ensemble of the seeds."""
    lines = [f"{'neuron':14s} " + " ".join(f"{s:>9s}" for s in SPEAKERS)
             + f" {'mean acc':>9s} {'rate':>6s} {'µJ/clip':>8s} {'CPU s':>8s}"]
    for kind in kinds:
        per = summary[kind]
        rows = [("single (mean)", "test_accuracy")]
        if all("ensemble_accuracy" in v for v in per.values()):
            rows.append((f"ensemble of {n_seeds}", "ensemble_accuracy"))
        for label, key in rows:
            cells = " ".join(f"{100 * per[s][key]:8.2f}%" if s in per else f"{'-':>9s}" for s in SPEAKERS)
            acc = np.mean([per[s][key] for s in per])
            rate = np.mean([per[s]["test_mean_firing_rate"] for s in per])
            energy = np.mean([per[s]["test_energy_pj_per_clip"] for s in per]) / 1e6
            secs = np.mean([per[s]["train_cpu_seconds"] for s in per])
            lines.append(f"{kind + ' ' + label:14s} {cells} {100 * acc:8.2f}% {100 * rate:5.2f}% "
                         f"{energy:8.3f} {secs:8.0f}")
    return lines
