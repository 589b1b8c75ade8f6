"""FSDD speaker-independent digit accuracy: train on three speakers, test on the fourth, rotating;
D-RF against BRF and adaptive LIF with the same data, network and training budget.

Every run is an ordinary `neuroaudio train kws` run of pipelines/kws_drf.yaml with
``data.test_speakers=[S]``, ``model.neuron=K``, ``seed=N`` and ``train.epochs=E`` (outputs and
resumable checkpoints in OUT/K_S/ for seed 0, OUT/K_S_sN/ for seed N), so an interrupted benchmark
continues where it stopped. With several ``--seeds`` it also reports the ensemble (the models of
the seeds, class probabilities averaged) beside the mean single-model accuracy.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/kws_fsdd.py    # D-RF, 4 folds x seeds 0 1 (README)
    python benchmarks/kws_fsdd.py --kinds drf brf alif --seeds 0    # neuron comparison, same recipe
    python benchmarks/kws_fsdd.py --device cuda --jobs 16 --seeds 0 1 2 3 --set model.width=256

``--jobs N`` trains N runs at once in separate processes (one CPU thread each; on a GPU they share
the card), ``--device`` sets ``train.device`` of every run (default: the config's, ``auto``), and
``--time-budget S`` gives every run ``train.time_budget_s=S`` (epochs fitted to S wall seconds).
With ``--jobs 1`` (default) the runs go one after the other in this process, as before.

Prints per-speaker test accuracy, mean accuracy, mean firing rate over spiking layers, SOP energy
per clip and training CPU time (s, this machine), and writes OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from neuroaudio.io_utils import write_json_atomic
from neuroaudio.kws.checkpoint import load_model
from neuroaudio.kws.config import load_config
from neuroaudio.kws.data import load_splits
from neuroaudio.kws.evaluate import evaluate_items
from neuroaudio.kws.train import resolve_device, train

SPEAKERS = ["jackson", "nicolas", "theo", "yweweler"]


def run_dir(out: Path, kind: str, speaker: str, seed: int) -> Path:
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
    return load_config(config, fold_overrides(root, kind, speaker, seed, epochs, out, extra))


def fold_result(cfgs, metrics: list[dict], probs_path: Path | None = None) -> dict:
    """One fold: per-seed metrics, their mean, and the ensemble over seeds (averaged probabilities).

    With several seeds and ``probs_path``, the seeds' test probabilities are also written there
    (``probs [seeds, clips, classes]``, ``labels [clips]``, ``seeds``), so ensembles of any subset
    can be scored later without the models."""
    res = {"seeds": [{k: v for k, v in m.items() if k != "test_confusion"} for m in metrics]}
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
    """One benchmark run in a worker process (``--jobs`` > 1): the config rebuilt from its path and
    overrides (plain strings travel between processes), trained or resumed."""
    return train(load_config(config, overrides), resume=True, progress=False)


def _report(kind: str, spk: str, seed: int, m: dict) -> None:
    print(f"{kind:5s} test={spk:9s} seed {seed} acc {100 * m['test_accuracy']:6.2f}%  rate "
          f"{100 * m['test_mean_firing_rate']:5.2f}%  {m['epochs']} epochs  train CPU "
          f"{m['train_cpu_seconds']:7.0f} s  wall {m['train_seconds']:6.0f} s  ({m.get('device', 'cpu')})",
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="../shared/data/fsdd/recordings")
    ap.add_argument("--config", default="pipelines/kws_drf.yaml")
    ap.add_argument("--kinds", nargs="+", default=["drf"])
    ap.add_argument("--speakers", nargs="+", default=SPEAKERS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--epochs", type=int, default=None, help="default: train.epochs of the config")
    ap.add_argument("--out", default="runs/kws_fsdd_bench")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="extra config override KEY=VALUE for every run, e.g. --set frontend.cmn=true")
    ap.add_argument("--device", default=None, help="train.device of every run: auto, cpu, cuda (default: "
                    "the config's)")
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once, in separate processes")
    ap.add_argument("--time-budget", type=float, default=None,
                    help="train.time_budget_s of every run: its epochs fitted to this many wall seconds")
    a = ap.parse_args()
    out = Path(a.out)
    if a.device is not None:
        a.overrides.append(f"train.device={a.device}")
    if a.time_budget is not None:
        a.overrides.append(f"train.time_budget_s={a.time_budget}")
    epochs = a.epochs or load_config(a.config, a.overrides).train.epochs
    prev = out / "summary.json"                # folds of earlier invocations (other speakers) are kept
    summary: dict = json.loads(prev.read_text()) if prev.is_file() else {}
    runs = [(kind, spk, seed) for kind in a.kinds for spk in a.speakers for seed in a.seeds]
    cfg_of = {r: fold_config(a.config, a.root, *r, epochs, out, a.overrides) for r in runs}
    metrics: dict[tuple[str, str, int], dict] = {}
    t0 = time.perf_counter()
    if a.jobs > 1:
        with ProcessPoolExecutor(a.jobs, mp_context=mp.get_context("spawn")) as pool:
            futs = {pool.submit(_train_run, a.config,
                                fold_overrides(a.root, *r, epochs, out, a.overrides)): r for r in runs}
            for f in as_completed(futs):
                metrics[futs[f]] = m = f.result()
                _report(*futs[f], m)
    for kind in a.kinds:
        for spk in a.speakers:
            cfgs, ms = [], []
            for seed in a.seeds:
                cfg = cfg_of[(kind, spk, seed)]
                if (kind, spk, seed) not in metrics:
                    metrics[(kind, spk, seed)] = train(cfg, resume=True, progress=False)
                    _report(kind, spk, seed, metrics[(kind, spk, seed)])
                cfgs.append(cfg)
                ms.append(metrics[(kind, spk, seed)])
            summary.setdefault(kind, {})[spk] = r = fold_result(cfgs, ms, out / f"probs_{kind}_{spk}.npz")
            if "ensemble_accuracy" in r:
                print(f"{kind:5s} test={spk:9s} ensemble of {len(cfgs)}: "
                      f"{100 * r['ensemble_accuracy']:6.2f}%", flush=True)
            write_json_atomic(out / "summary.json", summary)
    print(f"\nFSDD speaker-independent (train 3 speakers, test the 4th), {epochs} epochs, seeds {a.seeds}; "
          f"{time.perf_counter() - t0:.0f} s wall for this invocation")
    print(f"{'neuron':14s} " + " ".join(f"{s:>9s}" for s in SPEAKERS)
          + f" {'mean acc':>9s} {'rate':>6s} {'µJ/clip':>8s} {'CPU s':>8s}")
    for kind in a.kinds:
        per = summary[kind]
        rows = [("single (mean)", "test_accuracy")]
        if all("ensemble_accuracy" in v for v in per.values()):
            rows.append((f"ensemble of {len(a.seeds)}", "ensemble_accuracy"))
        for label, key in rows:
            cells = " ".join(f"{100 * per[s][key]:8.2f}%" if s in per else f"{'-':>9s}" for s in SPEAKERS)
            acc = np.mean([per[s][key] for s in per])
            rate = np.mean([per[s]["test_mean_firing_rate"] for s in per])
            energy = np.mean([per[s]["test_energy_pj_per_clip"] for s in per]) / 1e6
            secs = np.mean([per[s]["train_cpu_seconds"] for s in per])
            print(f"{kind + ' ' + label:14s} {cells} {100 * acc:8.2f}% {100 * rate:5.2f}% {energy:8.3f} "
                  f"{secs:8.0f}")


if __name__ == "__main__":
    main()
