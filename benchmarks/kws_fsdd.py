"""FSDD speaker-independent digit accuracy: train on three speakers, test on the fourth, rotating;
D-RF against BRF and adaptive LIF with the same data, network and training budget.

Every run (:mod:`neuroaudio.kws.folds`) is an ordinary `neuroaudio train kws` run of
pipelines/kws_drf.yaml with ``data.test_speakers=[S]``, ``model.neuron=K``, ``seed=N`` and
``train.epochs=E`` (outputs and resumable checkpoints in OUT/K_S/ for seed 0, OUT/K_S_sN/ for seed N),
so an interrupted benchmark continues where it stopped. With several ``--seeds`` it also reports the
ensemble (the models of the seeds, class probabilities averaged) beside the mean single-model accuracy.

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.kws_fsdd --root FSDD/recordings   # D-RF, 4 folds
    python -m benchmarks.kws_fsdd --root FSDD/recordings --kinds drf brf alif --seeds 0  # neurons
    python -m benchmarks.kws_fsdd --root FSDD/recordings --device cuda --jobs 16 --seeds 0 1 2 3 \
        --set model.width=256

``--jobs N`` trains N runs at once in separate processes (one CPU thread each; on a GPU they share
the card), ``--device`` sets ``train.device`` of every run (default: the config's, ``auto``), and
``--time-budget S`` gives every run ``train.time_budget_s=S`` (epochs fitted to S wall seconds).
With ``--jobs 1`` (default) the runs go one after the other in this process, as before.

Prints per-speaker test accuracy, mean accuracy, mean firing rate over spiking layers, SOP energy
per clip and training CPU time (s, this machine), and writes OUT/summary.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from neuroaudio.kws.config import load_config
from neuroaudio.kws.folds import FSDD_ROOT_HELP, SPEAKERS, summary_lines, train_folds


def _report(kind: str, spk: str, seed: int, m: dict) -> None:
    print(f"{kind:5s} test={spk:9s} seed {seed} acc {100 * m['test_accuracy']:6.2f}%  rate "
          f"{100 * m['test_mean_firing_rate']:5.2f}%  {m['epochs']} epochs  train CPU "
          f"{m['train_cpu_seconds']:7.0f} s  wall {m['train_seconds']:6.0f} s  ({m.get('device', 'cpu')})",
          flush=True)


def _report_fold(kind: str, spk: str, r: dict) -> None:
    if "ensemble_accuracy" in r:
        print(f"{kind:5s} test={spk:9s} ensemble of {len(r['seeds'])}: "
              f"{100 * r['ensemble_accuracy']:6.2f}%", flush=True)


def main(argv: list[str] | None = None) -> dict:
    """Parse ``argv`` (default: the command line), train and score the folds, print the table;
    returns the summary (``OUT/summary.json``)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help=FSDD_ROOT_HELP)
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
    a = ap.parse_args(argv)
    out = Path(a.out)
    if a.device is not None:
        a.overrides.append(f"train.device={a.device}")
    if a.time_budget is not None:
        a.overrides.append(f"train.time_budget_s={a.time_budget}")
    epochs = a.epochs or load_config(a.config, a.overrides).train.epochs
    t0 = time.perf_counter()
    summary = train_folds(a.config, a.root, a.kinds, a.speakers, a.seeds, epochs, out, a.overrides, a.jobs,
                          on_run=_report, on_fold=_report_fold)
    print(f"\nFSDD speaker-independent (train 3 speakers, test the 4th), {epochs} epochs, seeds {a.seeds}; "
          f"{time.perf_counter() - t0:.0f} s wall for this invocation")
    print("\n".join(summary_lines(summary, a.kinds, len(a.seeds))))
    return summary


if __name__ == "__main__":
    main()
