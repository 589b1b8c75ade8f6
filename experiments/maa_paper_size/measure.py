"""Does a paper-sized MAA network (~1.64M parameters) fit the RTF budget (issue 19, "Faithful size")?

Builds MAA checkpoints of several sizes (the shipped recipe's encoder and array; random weights:
the CPU cost of the dense PyTorch path does not depend on the weights) and times the whole ``maa``
localizer, RF-PLC encoder included, on the same 20-s recording as ``benchmarks.localize``, one
torch thread, the variants interleaved within each of ``--repeats`` rounds (best CPU time kept).
Also reports parameters and the network's dense synaptic operations per frame (MACs if every
neuron fired on every step: the upper bound of the spiking network's ACs).

    OMP_NUM_THREADS=1 python -m experiments.maa_paper_size.measure --out runs/maa_paper_size
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.localize import recording
from neuroaudio.localize import make_localizer
from neuroaudio.localize.maa import DEFAULT_MODEL
from neuroaudio.maa.checkpoint import CHECKPOINT
from neuroaudio.maa.model import MAAConfig, MAANet

VARIANTS: dict[str, dict] = {
    "shipped (26 x 40 input)": {"channels": [6, 12, 24, 48], "input_pool": [2, 1]},
    "paper input (51 x 40)": {"channels": [6, 12, 24, 48], "input_pool": [1, 1]},
    "paper-sized, wide read-out": {"channels": [6, 12, 24, 128], "input_pool": [1, 1]},
    "paper-sized, wide convs": {"channels": [16, 32, 64, 128], "input_pool": [1, 1]},
}


def dense_ops(net: MAANet, steps: int) -> int:
    """Multiply-accumulates per frame if every input were non-zero (convs, FSJA, read-out), all steps."""
    ops = 0
    x = torch.zeros(1, steps, *net.input_shape)
    hooks = []

    def count(mod, inp, out):
        nonlocal ops
        if isinstance(mod, torch.nn.Conv2d | torch.nn.Conv1d):
            k = mod.weight[0].numel()           # in_ch/groups * kernel
            ops += out.numel() * k
        elif isinstance(mod, torch.nn.Linear):
            ops += out.numel() * mod.in_features

    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.Conv1d | torch.nn.Linear):
            hooks.append(m.register_forward_hook(count))
    with torch.no_grad():
        net.eval()(x)
    for h in hooks:
        h.remove()
    return ops


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/maa_paper_size")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = CHECKPOINT.read(DEFAULT_MODEL)
    p, d, f = (int(v) for v in base["input_shape"])
    steps = int(base["encoder"].get("steps", 4))
    x = recording(args.seconds)
    locs, info = {}, {}
    for name, over in VARIANTS.items():
        torch.manual_seed(0)
        cfg = MAAConfig.from_dict({**base["model"], **over})
        net = MAANet(cfg, p, d, f)
        path = out / (name.split(" ")[0].replace(",", "") + f"_{'_'.join(map(str, over['channels']))}"
                      f"_pool{over['input_pool'][0]}.pt")
        CHECKPOINT.save(path, {k: v for k, v in base.items() if k != "format"}
                        | {"model": cfg.to_dict(), "state_dict": net.state_dict()})
        info[name] = {"parameters": sum(t.numel() for t in net.parameters()),
                      "dense_macs_per_frame": dense_ops(net, steps), "checkpoint": str(path)}
        locs[name] = make_localizer("maa", "respeaker4", model=str(path))
        locs[name].localize(x[: 2 * locs[name].frame_len])              # warm-up
    locs["gcc-phat"] = make_localizer("gcc-phat", "respeaker4")
    best = {m: float("inf") for m in locs}
    for _ in range(args.repeats):          # interleaved: every variant sees the same machine load
        for m, loc in locs.items():
            c0 = time.process_time()
            loc.localize(x)
            best[m] = min(best[m], time.process_time() - c0)
    rows = [{"variant": m, **info.get(m, {}), "cpu_s": round(best[m], 3),
             "rtf": round(best[m] / args.seconds, 4)} for m in locs]
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    print("| variant | parameters | dense MACs / frame | RTF (1 thread, encoder included) |")
    print("|---|---:|---:|---:|")
    for r in rows:
        size = (f"{r['parameters']:,} | {r['dense_macs_per_frame'] / 1e6:.1f} M" if "parameters" in r
                else "— | —")
        print(f"| {r['variant']} | {size} | {r['rtf']:.4f} |")


if __name__ == "__main__":
    main()
