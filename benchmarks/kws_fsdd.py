"""FSDD speaker-independent digit accuracy: train on three speakers, test on the fourth, rotating;
D-RF against BRF and adaptive LIF with the same data, network and training budget.

Every run is an ordinary `neuroaudio train kws` run of pipelines/kws_drf.yaml with
``data.test_speakers=[S]``, ``model.neuron=K`` and ``train.epochs=E`` (outputs and resumable
checkpoints in OUT/K_S/), so an interrupted benchmark continues where it stopped.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/kws_fsdd.py --root ../shared/data/fsdd/recordings
    python benchmarks/kws_fsdd.py --kinds drf brf alif --speakers theo --epochs 12

Prints per-speaker test accuracy, mean accuracy, mean firing rate over spiking layers, SOP energy
per clip and training time (s, this machine), and writes OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from neuroaudio.io_utils import write_json_atomic
from neuroaudio.kws.config import load_config
from neuroaudio.kws.train import train

SPEAKERS = ["jackson", "nicolas", "theo", "yweweler"]


def run(config: str, root: str, kind: str, speaker: str, epochs: int, out: Path, extra: list[str]) -> dict:
    ov = [*extra, f"data.root={root}", f"data.test_speakers=[{speaker}]", f"model.neuron={kind}",
          f"train.epochs={epochs}", f"out_dir={out / f'{kind}_{speaker}'}", f"name=fsdd_{kind}_{speaker}"]
    if kind != "drf":
        ov.append("model.neuron_kwargs={}")       # the baseline's own (paper) defaults
    cfg = load_config(config, ov)
    m = train(cfg, resume=True, progress=False)
    return {k: v for k, v in m.items() if k != "test_confusion"}


def collect(out: Path) -> dict:
    """{kind: {speaker: metrics}} from OUT/*/metrics.json of finished runs."""
    summary: dict = {}
    for f in sorted(out.glob("*_*/metrics.json")):
        kind, spk = f.parent.name.split("_", 1)
        m = json.loads(f.read_text())
        if "test_accuracy" in m:
            summary.setdefault(kind, {})[spk] = {k: v for k, v in m.items() if k != "test_confusion"}
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="../shared/data/fsdd/recordings")
    ap.add_argument("--config", default="pipelines/kws_drf.yaml")
    ap.add_argument("--kinds", nargs="+", default=["drf", "brf", "alif"])
    ap.add_argument("--speakers", nargs="+", default=SPEAKERS)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", default="runs/kws_fsdd_bench")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="extra config override KEY=VALUE for every run, e.g. --set frontend.cmn=true")
    a = ap.parse_args()
    out = Path(a.out)
    for kind in a.kinds:
        for spk in a.speakers:
            r = run(a.config, a.root, kind, spk, a.epochs, out, a.overrides)
            print(f"{kind:5s} test={spk:9s} acc {100 * r['test_accuracy']:6.2f}%  rate "
                  f"{100 * r['test_mean_firing_rate']:5.2f}%  train CPU {r['train_cpu_seconds']:7.0f} s",
                  flush=True)
    summary = collect(out)                 # every finished fold on disk (several processes may share OUT)
    write_json_atomic(out / "summary.json", summary)
    print(f"\nFSDD speaker-independent (train 3 speakers, test the 4th), {a.epochs} epochs each")
    print(f"{'neuron':7s} " + " ".join(f"{s:>9s}" for s in SPEAKERS)
          + f" {'mean acc':>9s} {'rate':>6s} {'µJ/clip':>8s} {'CPU s':>8s}")
    for kind, per in summary.items():
        accs = [per[s]["test_accuracy"] for s in SPEAKERS if s in per]
        cells = " ".join(f"{100 * per[s]['test_accuracy']:8.2f}%" if s in per else f"{'-':>9s}"
                         for s in SPEAKERS)
        rate = sum(per[s]["test_mean_firing_rate"] for s in per) / len(per)
        energy = sum(per[s]["test_energy_pj_per_clip"] for s in per) / len(per) / 1e6
        secs = sum(per[s]["train_cpu_seconds"] for s in per) / len(per)
        print(f"{kind:7s} {cells} {100 * sum(accs) / len(accs):8.2f}% {100 * rate:5.2f}% {energy:8.3f} "
              f"{secs:8.0f}")


if __name__ == "__main__":
    main()
