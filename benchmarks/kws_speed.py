"""Training speed of one D-RF layer: parallel (FFT) vs sequential BPTT, forward + backward.

Both run the same layer (same parameters, same surrogate gradients; tests/test_drf.py checks that
spikes and gradients agree): ``DRF.forward`` convolves all L steps at once by FFT (O(L log L));
``DRF.forward_sequential`` steps the recurrence L times (BPTT through the loop). Measured side by
side in one run, median of repeats, on this machine's CPU.

    OMP_NUM_THREADS=1 python -m benchmarks.kws_speed            # L = 1k, 4k, 16k
    python -m benchmarks.kws_speed --lengths 1000 4000 16000 --json runs/kws_speed.json
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from neuroaudio.neurons.drf import DRF


def fwd_bwd_seconds(layer: DRF, x: torch.Tensor, sequential: bool, repeats: int, clock=time.process_time
                    ) -> float:
    times = []
    for _ in range(repeats):
        layer.zero_grad(set_to_none=True)
        xx = x.clone().requires_grad_(True)
        t0 = clock()
        s = layer.forward_sequential(xx) if sequential else layer(xx)
        s.sum().backward()
        times.append(clock() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", type=int, nargs="+", default=[1000, 4000, 16000])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--branches", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    ap.add_argument("--json", default=None, help="also write the table as JSON here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    layer = DRF(a.channels, branches=a.branches, tau_range=(4, 256), seed=0)
    clock = time.process_time if a.clock == "cpu" else time.perf_counter
    rows = []
    print(f"D-RF layer: batch {a.batch}, {a.channels} neurons x {a.branches} branches, float32, "
          f"{a.threads} thread(s); forward + backward, {a.clock} seconds (median)")
    print(f"{'L':>7} {'parallel FFT (s)':>17} {'sequential BPTT (s)':>20} {'speed-up':>9}")
    for length in a.lengths:
        x = 2 * torch.randn(a.batch, a.channels, length)
        fwd_bwd_seconds(layer, x[..., :64], False, 1, clock)                    # warm-up
        par = fwd_bwd_seconds(layer, x, False, 5, clock)
        seq = fwd_bwd_seconds(layer, x, True, 3 if length <= 4000 else 1, clock)
        rows.append({"length": length, "parallel_s": par, "sequential_s": seq, "speedup": seq / par})
        print(f"{length:>7} {par:>17.4f} {seq:>20.3f} {seq / par:>8.0f}x", flush=True)
    if a.json:
        from neuroaudio.io_utils import write_json_atomic

        write_json_atomic(a.json, {"config": vars(a), "rows": rows})


if __name__ == "__main__":
    main()
