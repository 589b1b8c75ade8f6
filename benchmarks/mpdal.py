"""MPD-AL vs the Multi-Spike Tempotron on the clue task: accuracy and CPU time to converge, in one run.

Both rules share everything but the rule: the same clue data (per seed), initial weights, trial
order, neuron code and evaluation. For each seed and learning rate the test spike-count accuracy is
measured every ``--eval-every`` training trials; "time to converge" is the training CPU time (process
time around the online steps only) until it first reaches ``--target``. Also measured: the cost of
one update direction (t* + PSP for MPD-AL; critical-threshold search + gradient for MST) on the same
erroneous trials.

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.mpdal            # 3 seeds x 3 learning rates
    python -m benchmarks.mpdal --seeds 0 --lrs 0.003 --epochs 2       # quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from neuroaudio.mpdal.clue_experiment import ClueTrainConfig, RuleSetting, run_clue_experiment  # noqa: E402
from neuroaudio.mpdal.clues import ClueTaskConfig, make_clue_dataset  # noqa: E402
from neuroaudio.mpdal.learner import AggregateLearner  # noqa: E402
from neuroaudio.neurons.srm import SRMParams  # noqa: E402


def update_cost(task: ClueTaskConfig, p: SRMParams, seed: int, n: int = 60) -> dict:
    """Mean CPU ms of one update direction per rule, on the same erroneous trials (untrained neuron)."""
    tr, _ = make_clue_dataset(task, seed)
    out = {}
    for rule in ("mpdal", "mst"):
        learner = AggregateLearner(task.n_afferents, 1, p, rule, 1e-3, seed=seed)
        trials = [t for t in tr if t.label > 0][:n]
        t0 = time.process_time()
        k = 0
        for t in trials:
            k += len(learner.directions(t.spikes, np.array([t.label])))
        out[rule] = 1000 * (time.process_time() - t0) / max(k, 1)
    t0 = time.process_time()
    for t in trials:
        learner.trace(t.spikes)
    out["simulation_only"] = 1000 * (time.process_time() - t0) / len(trials)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lrs", type=float, nargs="+", default=[0.001, 0.003, 0.01])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--n-train", type=int, default=600)
    ap.add_argument("--n-test", type=int, default=200)
    ap.add_argument("--n-targets", type=int, default=3)
    ap.add_argument("--rules", nargs="+", default=["mpdal", "mpdal_multi", "mst"])
    ap.add_argument("--json", type=Path, default=None, help="also write all numbers here")
    a = ap.parse_args()
    task = ClueTaskConfig(n_targets=a.n_targets, n_train=a.n_train, n_test=a.n_test)
    train = ClueTrainConfig(epochs=a.epochs, eval_every=a.eval_every, target_accuracy=a.target)
    p = SRMParams()
    print(f"clue task: {task}\ntraining: {train}\nneuron: {p}\n")
    rows = []
    for seed in a.seeds:
        data = make_clue_dataset(task, seed)
        rules = [RuleSetting(r, lr) for lr in a.lrs for r in a.rules]
        runs, _, _ = run_clue_experiment(task, train, rules, p, seed, data=data)
        for r in runs:
            s = r.summary(a.target)
            s["seed"] = seed
            s["acc_by_epoch"] = [row["test_accuracy"] for row in r.curve
                                 if row["trials"] % len(data[0]) == 0]  # before training, after each epoch
            rows.append(s)
            cpu_txt = "-" if s["cpu_s_to_target"] is None else f"{s['cpu_s_to_target']:.2f} s"
            print(f"seed {seed} {r.setting.name:28s} final acc {s['final_test_accuracy']:.3f} "
                  f"best {s['best_test_accuracy']:.3f}  CPU to {a.target}: {cpu_txt} "
                  f"({s['trials_to_target']} trials, {s['updates_to_target']} updates); acc by epoch "
                  f"{'/'.join(f'{x:.2f}' for x in s['acc_by_epoch'])}", flush=True)
    print("\nper rule and learning rate (median over seeds; 'reached' = seeds reaching the target)")
    print(f"{'rule':6s} {'lr':>7s} {'reached':>8s} {'CPU s to target':>16s} {'trials':>7s} {'updates':>8s} "
          f"{'final acc':>10s} {'ms/trial':>9s}")
    table = {}
    for rule in a.rules:
        for lr in a.lrs:
            sel = [r for r in rows if r["rule"] == rule and r["lr"] == lr]
            hit = [r for r in sel if r["cpu_s_to_target"] is not None]
            med = statistics.median([r["cpu_s_to_target"] for r in hit]) if hit else None
            def med_of(key: str, hit=hit):
                return statistics.median([r[key] for r in hit]) if hit else None

            entry = {"reached": len(hit), "n": len(sel), "median_cpu_s_to_target": med,
                     "median_trials": med_of("trials_to_target"),
                     "median_updates": med_of("updates_to_target"),
                     "mean_final_acc": float(np.mean([r["final_test_accuracy"] for r in sel])),
                     "ms_per_trial": float(np.mean([r["cpu_ms_per_trial"] for r in sel]))}
            table[(rule, lr)] = entry
            print(f"{rule:6s} {lr:7.3g} {len(hit):>4d}/{len(sel):<3d} "
                  f"{'-' if med is None else f'{med:.2f}':>16s} {str(entry['median_trials']):>7s} "
                  f"{str(entry['median_updates']):>8s} {entry['mean_final_acc']:10.3f} "
                  f"{entry['ms_per_trial']:9.2f}")

    def best(rule: str):
        ok = [(v["median_cpu_s_to_target"], lr) for (r, lr), v in table.items()
              if r == rule and v["reached"] == v["n"] and v["median_cpu_s_to_target"] is not None]
        return min(ok) if ok else None

    bs = best("mst")
    print("\nbest learning rate per rule (all seeds reach the target, lowest median CPU time):")
    for rule in a.rules:
        b = best(rule)
        print(f"  {rule:12s} lr={b[1] if b else '-'}: median {b[0] if b else '-'} s to target")
    speedups = {}
    for rule in (r for r in a.rules if r != "mst"):
        b = best(rule)
        sp_best = bs[0] / b[0] if b and bs else None
        paired = []
        for seed in a.seeds:
            for lr in a.lrs:
                m = next(r for r in rows if r["seed"] == seed and r["rule"] == rule and r["lr"] == lr)
                s = next(r for r in rows if r["seed"] == seed and r["rule"] == "mst" and r["lr"] == lr)
                if m["cpu_s_to_target"] and s["cpu_s_to_target"]:
                    paired.append(s["cpu_s_to_target"] / m["cpu_s_to_target"])
        speedups[rule] = {"best_vs_best": sp_best, "paired": paired}
        print(f"  speedup {rule} vs MST, best lr vs best lr: {sp_best and round(sp_best, 2)}x", end="")
        if paired:
            print(f"; paired (same seed and lr, both reached): median {statistics.median(paired):.2f}x, "
                  f"range {min(paired):.2f}-{max(paired):.2f}x over {len(paired)} pairs")
        else:
            print()
    cost = update_cost(task, p, a.seeds[0])
    print(f"\ncost of one update direction (CPU ms): MPD-AL {cost['mpdal']:.2f}, MST {cost['mst']:.2f} "
          f"(ratio {cost['mst'] / cost['mpdal']:.1f}x); one simulation alone "
          f"{cost['simulation_only']:.2f} ms")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"rows": rows, "table": {f"{k[0]}@{k[1]}": v for k, v in table.items()},
                                      "speedups_vs_mst": speedups,
                                      "update_cost_ms": cost}, indent=2))


if __name__ == "__main__":
    main()
