"""Training speed of one D-RF layer: parallel (FFT) vs sequential BPTT, forward + backward.

All three run the same layer (same parameters, same surrogate gradients; tests/test_drf.py checks
that spikes and gradients agree): ``DRF.forward`` convolves all L steps at once by FFT
(O(L log L)); ``DRF.forward_sequential`` steps the recurrence L times in a Python loop (BPTT through
the loop, autograd per step); ``DRF.forward_sequential_scripted`` steps the same recurrence in a
TorchScript-compiled loop (real arithmetic, the surrogate as a straight-through term; still BPTT,
the fastest honest sequential baseline here). Measured side by side in one run, median of repeats,
on this machine's CPU. Repeats: parallel 5 (3 from 16k steps); scripted 3 (1 from 16k); Python loop
3 up to 4k, 1 above (``--python-max-length``: longer lengths are extrapolated linearly from the
longest measured one and marked ``~``).

    OMP_NUM_THREADS=1 python -m benchmarks.kws_speed            # L = 1k, 4k, 16k, 32k
    python -m benchmarks.kws_speed --lengths 1000 4000 16000 32000 --json runs/kws_speed.json
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from neuroaudio.neurons.drf import DRF

MODES = ("parallel", "scripted", "python")


def fwd_bwd_seconds(layer: DRF, x: torch.Tensor, mode: str, repeats: int, clock=time.process_time) -> float:
    """Median seconds of forward + backward (sum of spikes) of ``layer`` on ``x [B, C, L]``."""
    run = {"parallel": layer.forward, "scripted": layer.forward_sequential_scripted,
           "python": layer.forward_sequential}[mode]
    times = []
    for _ in range(repeats):
        layer.zero_grad(set_to_none=True)
        xx = x.clone().requires_grad_(True)
        t0 = clock()
        run(xx).sum().backward()
        times.append(clock() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", type=int, nargs="+", default=[1000, 4000, 16000, 32000])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--branches", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    ap.add_argument("--python-max-length", type=int, default=32000,
                    help="measure the Python loop up to this length; extrapolate linearly beyond")
    ap.add_argument("--json", default=None, help="also write the table as JSON here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    layer = DRF(a.channels, branches=a.branches, tau_range=(4, 256), seed=0)
    clock = time.process_time if a.clock == "cpu" else time.perf_counter
    rows = []
    print(f"D-RF layer: batch {a.batch}, {a.channels} neurons x {a.branches} branches, float32, "
          f"{a.threads} thread(s); forward + backward, {a.clock} seconds (median)")
    print(f"{'L':>7} {'parallel FFT':>13} {'scripted BPTT':>14} {'Python BPTT':>12} {'vs scripted':>12} "
          f"{'vs Python':>10}")
    for mode in MODES:                                                          # warm-up (TorchScript
        for _ in range(3):                                                      # profiles, then fuses)
            fwd_bwd_seconds(layer, 2 * torch.randn(a.batch, a.channels, 64), mode, 1, clock)
    last_python: tuple[int, float] | None = None
    for length in a.lengths:
        x = 2 * torch.randn(a.batch, a.channels, length)
        long = length >= 16000
        par = fwd_bwd_seconds(layer, x, "parallel", 3 if long else 5, clock)
        scr = fwd_bwd_seconds(layer, x, "scripted", 1 if long else 3, clock)
        if length <= a.python_max_length:
            py, measured = fwd_bwd_seconds(layer, x, "python", 1 if length > 4000 else 3, clock), True
            last_python = (length, py)
        else:
            py, measured = last_python[1] * length / last_python[0], False
        rows.append({"length": length, "parallel_s": par, "scripted_s": scr, "python_s": py,
                     "python_measured": measured, "speedup_vs_scripted": scr / par,
                     "speedup_vs_python": py / par})
        mark = "" if measured else "~"
        print(f"{length:>7} {par:>13.4f} {scr:>14.3f} {mark + f'{py:.3f}':>12} {scr / par:>11.0f}x "
              f"{mark + f'{py / par:.0f}x':>10}", flush=True)
    if a.json:
        from neuroaudio.io_utils import write_json_atomic

        write_json_atomic(a.json, {"config": vars(a), "rows": rows})


if __name__ == "__main__":
    main()
