"""The speaker-independent KWS recipe on one GPU: the recipe for D-RF, ALIF and BRF, and ablations.

Every run is an ordinary ``train()`` of ``pipelines/kws_drf_recipe.yaml`` (leave-one-speaker-out on
the four FSDD speakers) with a few overrides, in its own process (``spawn``, one CPU thread); up to
``--jobs`` run at once on the one device. Arms:

- ``recipe``: the recipe as it is, for every neuron of ``--kinds`` (D-RF, ALIF, BRF), seeds ``--seeds``;
- ablations (D-RF, seeds ``--ablation-seeds``): one element of the recipe removed each (``ABLATIONS``);
- ``shipped``: ``pipelines/kws_drf.yaml`` itself (40 epochs, clip-by-clip augmentation), seeds
  ``--seeds``: the same-card baseline;
- ``filler_rev`` (only when listed): the recipe with an open-set filler class of reversed training
  clips (``data.filler_reversed=0.2``), its models kept for ``experiments/kws_filler``.

Time: the training stage ends ``--limit`` s after the start. Each run gets
``train.time_budget_s`` = the time left to that limit less ``--eval-margin`` s, so when the card or
the CPUs are slower than expected the epochs are lowered (the one-cycle schedule follows the lowered
total; the ``epochs`` column says how many were run); a run still going ``--grace`` (30) s after
the limit is stopped and reported as ``killed``, runs not started by then as ``not started``.
Finished runs of an earlier call with the same ``--out`` are kept.

    python -m experiments.kws_recipe_gpu.kws_gpu_recipe --root data_fsdd --out $OUT --device cuda  # one H200
    python -m experiments.kws_recipe_gpu.kws_gpu_recipe --root PATH --out OUT --device cpu --epochs 1 \\
        --width 8 --max-per-digit 2 --kinds drf --arms recipe no_mvn --jobs 2 --limit 300   # a CPU smoke test

Outputs in ``--out``: ``results.csv`` (one row per run), ``summary.csv`` / ``summary.json`` (one row
per arm × neuron: per-speaker and mean accuracy, seed-0 mean, 2-seed ensemble, change against the
recipe on the same seeds, firing rate, energy, epochs, wall seconds), ``summary.txt`` (the printed
table), ``runs/<arm>/<run>.json`` (metrics) and ``.log.csv`` (epochs), ``probs/<arm>_<run>.npz``
(test probabilities), ``models/`` (the recipe's D-RF fold models), ``plan.json``, ``machine.txt``,
``gpu_use.csv`` (``nvidia-smi`` samples, when there is one).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

SPEAKERS = ["jackson", "nicolas", "theo", "yweweler"]
RECIPE_CONFIG = "pipelines/kws_drf_recipe.yaml"
SHIPPED_CONFIG = "pipelines/kws_drf.yaml"

ABLATIONS: dict[str, list[str]] = {
    "no_floor40": ["frontend.floor_db=80.0"],                               # the shipped 80-dB floor
    "no_mvn": ["frontend.mvn=false"],                                       # log-mel / 10, no normalisation
    "cmn_instead": ["frontend.mvn=false", "frontend.cmn=true"],             # shipped per-band mean removal
    "no_energy_window": ["data.placement=centre"],                          # window on the clip centre
    "no_speed": ["train.augment.speed=[1.0, 1.0]"],
    "no_noise": ["train.augment.noise_prob=0.0"],
    "no_random_place": ["train.augment.placement=shift", "train.augment.shift_s=0.0"],
    "no_specaug": ["train.augment.freq_masks=0", "train.augment.time_masks=0"],
    "no_onecycle": ["train.schedule=cosine"],                               # same peak lr, cosine from it
    "no_dropout": ["model.dropout=0.1"],                                    # the shipped dropout
    "frame_16ms": ["frontend.n_fft=256", "frontend.hop=128"],               # the shipped 32/16-ms frames
    "no_pink": ["train.augment.noise_colors=[white]"],
    "filler_rev": ["data.filler_reversed=0.2"],     # not an ablation: + a filler class of reversed clips
}
"""Ablation arms: the overrides that remove one element of the recipe (D-RF). Gain is not one:
after the relative floor and per-utterance MVN the features do not depend on it (tested)."""

DEFAULT_ARMS = ["recipe", *[a for a in ABLATIONS if a not in ("no_pink", "filler_rev")], "shipped"]
SUMMARY_FIELDS = ["arm", "kind", "n_runs", "n_ok", *SPEAKERS, "mean_acc", "seed0_mean", "ensemble_mean",
                  "delta_vs_recipe", "rate", "energy_uj", "epochs_min", "epochs_max", "wall_s_mean"]
RESULT_FIELDS = ["arm", "kind", "speaker", "seed", "status", "test_accuracy", "test_mean_firing_rate",
                 "test_energy_pj_per_clip", "val_accuracy", "epochs", "train_seconds", "train_cpu_seconds",
                 "wall_s", "device"]


def run_name(kind: str, speaker: str, seed: int) -> str:
    return f"{kind}_{speaker}_s{seed}"


def plan_runs(arms: list[str], kinds: list[str], speakers: list[str], seeds: list[int],
              ablation_seeds: list[int]) -> list[dict]:
    """The runs, in launch order (recipe first, then the ablations, then the shipped baseline)."""
    runs = []
    for arm in arms:
        if arm == "recipe":
            runs += [{"arm": arm, "kind": k, "speaker": s, "seed": n, "config": RECIPE_CONFIG,
                      "overrides": []} for n in seeds for k in kinds for s in speakers]
        elif arm == "shipped":
            runs += [{"arm": arm, "kind": "drf", "speaker": s, "seed": n, "config": SHIPPED_CONFIG,
                      "overrides": []} for n in seeds for s in speakers]
        else:
            runs += [{"arm": arm, "kind": "drf", "speaker": s, "seed": n, "config": RECIPE_CONFIG,
                      "overrides": list(ABLATIONS[arm])} for n in ablation_seeds for s in speakers]
    return runs


def read_fsdd_cache(root: str, cache: Path, fs: int, max_per_digit: int | None) -> int:
    """Read the FSDD recordings once into ``cache`` (npz: audio concatenated, offsets, digits,
    speakers); ``max_per_digit`` keeps the first N indices of each digit and speaker. Returns clips."""
    from neuroaudio.errors import InputError
    from neuroaudio.kws.data import FSDD_NAME, read_mono

    folder = Path(root)
    files = sorted(p for p in folder.glob("*.wav") if FSDD_NAME.match(p.name)) if folder.is_dir() else []
    if max_per_digit is not None:
        files = [p for p in files if int(FSDD_NAME.match(p.name).group(3)) < max_per_digit]
    if not files:
        raise InputError(f"no FSDD files ({{digit}}_{{speaker}}_{{index}}.wav) in '{root}': give --root the "
                         "recordings folder")
    clips = [read_mono(p, fs) for p in files]
    groups = [FSDD_NAME.match(p.name).groups() for p in files]
    np.savez(cache, audio=np.concatenate(clips).astype(np.float32),
             offsets=np.cumsum([0] + [len(c) for c in clips]), digits=np.array([int(g[0]) for g in groups]),
             speakers=np.array([g[1] for g in groups]))
    return len(files)


def cached_splits(cache: Path, cfg) -> object:
    """The fold's :class:`Splits` from the cache (what ``load_splits`` would give on the same files,
    extra training clips and filler class included)."""
    from neuroaudio.kws.data import Item, fsdd_splits, load_splits

    z = np.load(cache)
    off = z["offsets"]
    items = [Item(int(d), str(s), None, z["audio"][off[i]:off[i + 1]].copy())
             for i, (d, s) in enumerate(zip(z["digits"], z["speakers"], strict=True))]
    return load_splits(cfg.data, cfg.seed, base=fsdd_splits(items, cfg.data, cfg.seed))


def write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def worker(spec: dict) -> None:
    """One run in its own process: train (resuming), test probabilities, result JSON (status ok or
    ``error: ...``); the JSON is written last and atomically, so it exists only for a finished run."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    out = Path(spec["out"])
    res_path = out / "runs" / spec["arm"] / (spec["name"] + ".json")
    t0 = time.time()
    res = ident(spec)
    try:
        import torch

        torch.set_num_threads(1)
        from neuroaudio.kws.checkpoint import load_model
        from neuroaudio.kws.config import load_config
        from neuroaudio.kws.evaluate import evaluate_items
        from neuroaudio.kws.train import resolve_device, train

        budget = max(5.0, spec["deadline"] - time.time() - spec["eval_margin"])
        ov = [*spec["overrides"], f"data.root={spec['root']}", f"data.test_speakers=[{spec['speaker']}]",
              f"model.neuron={spec['kind']}", f"seed={spec['seed']}", f"out_dir={spec['work']}",
              f"name={spec['arm']}_{spec['name']}", f"train.device={spec['device']}",
              f"train.time_budget_s={budget:.1f}", *spec["extra"]]
        if spec["kind"] != "drf":
            ov.append("model.neuron_kwargs={}")        # the baseline's own (paper) defaults
        cfg = load_config(spec["config"], ov)
        sp = cached_splits(Path(spec["cache"]), cfg)
        m = train(cfg, resume=True, progress=False, splits=sp)
        model = load_model(Path(spec["work"]) / "model.pt").to(resolve_device(cfg.train.device))
        ev = evaluate_items(model, sp.test)
        labels = np.array([it.label for it in sp.test])
        np.savez_compressed(out / "probs" / f"{spec['arm']}_{spec['name']}.npz",
                            probs=ev["probs"].astype(np.float32), labels=labels)
        if spec["keep_model"]:
            shutil.copy(Path(spec["work"]) / "model.pt", out / "models" / f"{spec['arm']}_{spec['name']}.pt")
        shutil.copy(Path(spec["work"]) / "log.csv", res_path.with_suffix(".log.csv"))
        res.update({k: v for k, v in m.items() if k != "test_confusion"}, status="ok",
                   confusion=m.get("test_confusion"))
    except BaseException as e:  # noqa: BLE001 - every failure is recorded, the other runs go on
        res.update(status=f"error: {type(e).__name__}: {e}", traceback=traceback.format_exc()[-2000:])
    res["wall_s"] = time.time() - t0
    write_json(res_path, res)


def start_monitor(out: Path) -> subprocess.Popen | None:
    if shutil.which("nvidia-smi") is None:
        return None
    with open(out / "machine.txt", "a") as f:
        subprocess.run(["nvidia-smi"], stdout=f, stderr=subprocess.STDOUT, check=False)
    return subprocess.Popen(["nvidia-smi", "--query-gpu=timestamp,utilization.gpu,memory.used",
                             "--format=csv", "-l", "5"], stdout=open(out / "gpu_use.csv", "w"),
                            stderr=subprocess.STDOUT)


def ident(spec: dict) -> dict:
    return {k: spec[k] for k in ("arm", "kind", "speaker", "seed")}


def run_all(specs: list[dict], jobs: int, hard_stop: float) -> None:
    """Start the runs (``jobs`` at a time, in order) as spawned processes; stop what is left at
    ``hard_stop`` (epoch seconds) and record it as ``killed``."""
    ctx = mp.get_context("spawn")
    queue, running = list(specs), []
    while queue or running:
        while queue and len(running) < jobs and time.time() < hard_stop:
            spec = queue.pop(0)
            p = ctx.Process(target=worker, args=(spec,), name=spec["name"])
            p.start()
            running.append((p, spec))
        for p, spec in list(running):
            if not p.is_alive():
                p.join()
                running.remove((p, spec))
                r = json.loads(Path(spec["result"]).read_text()) if Path(spec["result"]).is_file() else {}
                print(f"{time.time() - spec['t_start']:6.0f} s  {spec['arm']:17s} {spec['name']:22s} "
                      f"{r.get('status', f'no result (exit {p.exitcode})')[:60]}  acc "
                      f"{100 * r.get('test_accuracy', float('nan')):5.1f}%  {r.get('epochs', '-')} epochs",
                      flush=True)
        if time.time() >= hard_stop:
            for p, _ in running:
                p.terminate()
            for p, spec in running:
                p.join(10)
                if p.is_alive():
                    p.kill()
                    p.join()
                if not Path(spec["result"]).is_file():
                    write_json(Path(spec["result"]), {**ident(spec), "status": "killed at the time limit"})
            for spec in queue:
                write_json(Path(spec["result"]), {**ident(spec), "status": "not started (time limit)"})
            return
        time.sleep(0.5)


def summarise(out: Path, specs: list[dict], seeds: list[int]) -> tuple[list[dict], list[dict]]:
    """results.csv rows (one per run) and summary rows (one per arm × neuron)."""
    rows = []
    for spec in specs:
        p = Path(spec["result"])
        r = json.loads(p.read_text()) if p.is_file() else {**ident(spec), "status": "missing"}
        rows.append({k: r.get(k, "") for k in RESULT_FIELDS})
    ok = [r for r in rows if r["status"] == "ok"]

    def acc_of(arm, kind, spk, seed):
        for r in ok:
            if (r["arm"], r["kind"], r["speaker"], r["seed"]) == (arm, kind, spk, seed):
                return r["test_accuracy"]
        return None

    summary = []
    for arm, kind in dict.fromkeys((s["arm"], s["kind"]) for s in specs):
        mine = [r for r in ok if r["arm"] == arm and r["kind"] == kind]
        n_runs = sum(1 for s in specs if s["arm"] == arm and s["kind"] == kind)
        row = {"arm": arm, "kind": kind, "n_runs": n_runs, "n_ok": len(mine)}
        for spk in SPEAKERS:
            v = [r["test_accuracy"] for r in mine if r["speaker"] == spk]
            row[spk] = float(np.mean(v)) if v else None
        if mine:
            per_spk = [row[s] for s in SPEAKERS if row[s] is not None]
            row["mean_acc"] = float(np.mean(per_spk))
            s0 = [r["test_accuracy"] for r in mine if r["seed"] == seeds[0]]
            row["seed0_mean"] = float(np.mean(s0)) if s0 else None
            row["rate"] = float(np.mean([r["test_mean_firing_rate"] for r in mine]))
            row["energy_uj"] = float(np.mean([r["test_energy_pj_per_clip"] for r in mine])) / 1e6
            row["epochs_min"] = min(r["epochs"] for r in mine)
            row["epochs_max"] = max(r["epochs"] for r in mine)
            row["wall_s_mean"] = float(np.mean([r["wall_s"] for r in mine]))
            # the change against the recipe (same neuron) on the runs both have: same folds and seeds
            pairs = [(r["test_accuracy"], acc_of("recipe", kind, r["speaker"], r["seed"])) for r in mine]
            pairs = [(a, b) for a, b in pairs if b is not None]
            row["delta_vs_recipe"] = (float(np.mean([a - b for a, b in pairs])) if pairs and arm != "recipe"
                                      else None)
            ens = []
            for spk in SPEAKERS:
                files = [out / "probs" / f"{arm}_{run_name(kind, spk, n)}.npz" for n in seeds]
                if len(seeds) > 1 and all(f.is_file() for f in files):
                    zs = [np.load(f) for f in files]
                    pred = np.mean([z["probs"] for z in zs], 0).argmax(-1)
                    ens.append(float((pred == zs[0]["labels"]).mean()))
            row["ensemble_mean"] = float(np.mean(ens)) if len(ens) == len(SPEAKERS) else None
        summary.append({k: row.get(k) for k in SUMMARY_FIELDS})
    return rows, summary


def table_text(summary: list[dict], head: str) -> str:
    def pct(v, signed=False):
        return f"{'-':>7s}" if v is None else (f"{100 * v:+7.2f}" if signed else f"{100 * v:6.2f}%")

    lines = [head, f"{'arm':17s} {'neuron':6s} {'ok':>5s} " + " ".join(f"{s:>8s}" for s in SPEAKERS)
             + f" {'mean':>8s} {'seed0':>8s} {'ens2':>8s} {'Δ recipe':>8s} {'rate':>7s} {'µJ':>6s}"
             + f" {'epochs':>7s}"]
    for r in summary:
        ep = "-" if r["epochs_min"] is None else f"{r['epochs_min']}-{r['epochs_max']}"
        lines.append(f"{r['arm']:17s} {r['kind']:6s} {r['n_ok']:>2d}/{r['n_runs']:<2d} "
                     + " ".join(f"{pct(r[s]):>8s}" for s in SPEAKERS)
                     + f" {pct(r['mean_acc']):>8s} {pct(r['seed0_mean']):>8s} {pct(r['ensemble_mean']):>8s}"
                     + f" {pct(r['delta_vs_recipe'], True):>8s} {pct(r['rate']):>7s} "
                     + (f"{r['energy_uj']:6.2f}" if r["energy_uj"] is not None else f"{'-':>6s}")
                     + f" {ep:>7s}")
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="FSDD recordings folder ({digit}_{speaker}_{index}.wav)")
    ap.add_argument("--out", required=True, help="results folder (finished runs in it are kept)")
    ap.add_argument("--work", default=None,
                    help="run folders with checkpoints (default: /tmp/kws_gpu_recipe_work)")
    ap.add_argument("--device", default="cuda", help="train.device of every run (cuda, cpu, auto)")
    ap.add_argument("--arms", nargs="+", default=DEFAULT_ARMS,
                    help=f"recipe, shipped, and ablations: {', '.join(ABLATIONS)} (default: all but no_pink "
                         "and filler_rev)")
    ap.add_argument("--kinds", nargs="+", default=["drf", "alif", "brf"], help="neurons of the recipe arm")
    ap.add_argument("--speakers", nargs="+", default=SPEAKERS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="seeds of the recipe/shipped arms")
    ap.add_argument("--ablation-seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--jobs", type=int, default=16,
                    help="runs at once (processes sharing the device; 76 on one H200 finished none)")
    ap.add_argument("--limit", type=float, default=420.0, help="s from the start to the end of training")
    ap.add_argument("--grace", type=float, default=30.0, help="s after --limit before runs are stopped")
    ap.add_argument("--eval-margin", type=float, default=25.0, help="s kept per run for the final evaluation")
    ap.add_argument("--epochs", type=int, default=None, help="train.epochs of every run (default: configs')")
    ap.add_argument("--width", type=int, default=None, help="model.width of every run (default: configs')")
    ap.add_argument("--max-per-digit", type=int, default=None, help="keep FSDD indices < N (smoke tests)")
    ap.add_argument("--set", dest="extra", action="append", default=[], help="extra override for every run")
    a = ap.parse_args(argv)
    t_start = time.time()
    bad = [x for x in a.arms if x not in ("recipe", "shipped", *ABLATIONS)]
    if bad:
        print(f"--arms {bad}: use recipe, shipped or one of {', '.join(ABLATIONS)}", file=sys.stderr)
        return 2
    out = Path(a.out)
    work = Path(a.work or "/tmp/kws_gpu_recipe_work")
    for d in (out / "probs", out / "models", work):
        d.mkdir(parents=True, exist_ok=True)
    extra = list(a.extra) + ([f"train.epochs={a.epochs}"] if a.epochs else []) + (
        [f"model.width={a.width}"] if a.width else [])
    from neuroaudio.errors import InputError

    try:
        n_clips = read_fsdd_cache(a.root, work / "fsdd.npz", 8000, a.max_per_digit)
    except InputError as e:
        print(str(e), file=sys.stderr)
        return 2
    deadline = t_start + a.limit
    runs = plan_runs(a.arms, a.kinds, a.speakers, a.seeds, a.ablation_seeds)
    specs = []
    for r in runs:
        name = run_name(r["kind"], r["speaker"], r["seed"])
        (out / "runs" / r["arm"]).mkdir(parents=True, exist_ok=True)
        specs.append({**r, "name": name, "out": str(out), "root": a.root, "cache": str(work / "fsdd.npz"),
                      "work": str(work / r["arm"] / name), "device": a.device, "deadline": deadline,
                      "eval_margin": a.eval_margin, "extra": extra, "t_start": t_start,
                      "keep_model": r["arm"] in ("recipe", "filler_rev") and r["kind"] == "drf",
                      "result": str(out / "runs" / r["arm"] / f"{name}.json")})
    todo = []
    for s in specs:
        p = Path(s["result"])
        if p.is_file() and json.loads(p.read_text()).get("status") == "ok":
            continue                                      # finished in an earlier call
        p.unlink(missing_ok=True)
        todo.append(s)
    write_json(out / "plan.json", {"argv": sys.argv if argv is None else argv, "clips": n_clips,
                                   "runs": len(specs), "to_run": len(todo), "jobs": a.jobs,
                                   "limit_s": a.limit,
                                   "arms": {arm: ABLATIONS.get(arm, []) for arm in a.arms}})
    with open(out / "machine.txt", "w") as f:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
        f.write(f"python {sys.version.split()[0]}, torch {torch.__version__}, {gpu}, {os.cpu_count()} CPUs\n")
    mon = start_monitor(out)
    print(f"== {len(specs)} runs ({len(todo)} to train), {a.jobs} at once, device {a.device}, training ends "
          f"{a.limit:.0f} s after the start; {n_clips} clips", flush=True)
    try:
        run_all(todo, a.jobs, deadline + a.grace)
    finally:
        if mon is not None:
            mon.terminate()
    rows, summary = summarise(out, specs, a.seeds)
    write_csv(out / "results.csv", rows, RESULT_FIELDS)
    write_csv(out / "summary.csv", summary, SUMMARY_FIELDS)
    write_json(out / "summary.json", summary)
    head = (f"FSDD leave-one-speaker-out, {len(a.speakers)} folds; recipe seeds {a.seeds}, ablation seeds "
            f"{a.ablation_seeds}; {time.time() - t_start:.0f} s wall")
    text = table_text(summary, head)
    (out / "summary.txt").write_text(text + "\n")
    print("\n" + text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
