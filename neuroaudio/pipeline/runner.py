"""``neuroaudio pipeline run CONFIG``: simulate → train → evaluate → report, resumable.

The config is a trainer's pipeline YAML (e.g. pipelines/maa.yaml) with two optional sections
of the runner's own, removed before the rest goes to the trainer's config loader:

- ``kind``: which trainer (:data:`neuroaudio.pipeline.trainers.TRAINERS`; default ``maa``).
- ``evaluate``: the evaluation set and the methods to compare::

      evaluate:
        manifest: null          # an existing manifest CSV (relative to the config's folder) ...
        sim: dev_bench.yaml     # ... or a simulator YAML whose clips are made (cached) for it
        seed: null              # replaces the simulator's seed (null: the file's)
        clips: null             # simulate only the first N clips (every SNR appears; null: all)
        clips_root: null        # where simulated clips go (default runs/<sim name>): a folder
                                #   clips_<first 8 hex of sha1(sim file)>, as benchmarks/dev_bench.py
        limit: null             # evaluate about this many clips, spread evenly over the SNRs
        method: null            # the trained model's localizer (default: the trainer's)
        compare: [gcc-phat, srp-phat]   # evaluated beside it (their shipped models, if any)
        workers: 1

  Without ``evaluate.manifest`` or ``evaluate.sim``, the training simulator config is used with
  seed ``data.val_seed + 1`` (clips the model was neither trained nor validated on), ``clips``
  defaulting to ``data.val_clips``. The trainers' config loaders refuse unknown sections, so the
  evaluation set of pipelines/maa.yaml is chosen on the command line, e.g. ``--set
  evaluate.sim=dev_bench.yaml`` (the 240 dev_bench clips, cached where benchmarks/dev_bench.py
  caches them), or in a copy of the YAML run only through this runner.

Steps and when each is complete (then skipped; ``--force STEP`` reruns it):

1. ``simulate``: the trainer's data (``prepare_data``: simulated and encoded into its caches, shard
   by shard) and the evaluation clips (the simulator skips complete clips). Complete when a
   stamp ``pipeline/simulate.json`` holds the hash of the data-making config parts.
2. ``train``: ``train(cfg, resume=True)`` (continues from ``last.pt``). Complete when
   ``metrics.json`` reports the last epoch = ``train.epochs`` and ``model.pt`` exists.
3. ``evaluate``: the evaluation runner (``neuroaudio evaluate``, resumable row by row) for the
   trained method with ``model.pt`` in ``eval/model`` and the compared methods in ``eval/compare``.
   Complete when both ``metrics.json`` exist and the stamp holds the model file's hash and the
   evaluation settings (a retrained model is evaluated again from scratch).
4. ``report``: ``report.md`` (the evaluation tables per SNR and ``mae_vs_snr.png`` of all the
   methods, the learning curve, the best validation metrics, the command) and ``report.json``;
   always rewritten (cheap).

Everything goes under the trainer's ``out_dir``; stamps under ``out_dir/pipeline/``. One run at a
time owns ``out_dir`` (an OS lock, :mod:`neuroaudio.ownership`): a second one is refused.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io_utils import atomic_path, write_json_atomic, write_text_atomic
from ..ownership import own_output
from ..train.config_io import deep_merge, parse_set, read_yaml_mapping
from .trainers import Trainer, get_trainer

STEPS = ("simulate", "train", "evaluate", "report")
RUNNER_KEYS = ("kind", "evaluate")
EVAL_DEFAULTS: dict[str, Any] = {"manifest": None, "sim": None, "seed": None, "clips": None,
                                 "clips_root": None, "limit": None, "method": None,
                                 "compare": ["gcc-phat", "srp-phat"], "workers": 1}


@dataclass
class Pipeline:
    """A loaded pipeline: the trainer, its validated config, the runner's own settings."""

    path: Path
    kind: str
    trainer: Trainer
    cfg: dict[str, Any]
    evaluate: dict[str, Any]
    overrides: list[str] = field(default_factory=list)

    @property
    def out_dir(self) -> Path:
        return Path(self.cfg["out_dir"])

    @property
    def stamps(self) -> Path:
        return self.out_dir / "pipeline"


def load(path: str | Path, overrides: Sequence[str] | None = None, kind: str | None = None) -> Pipeline:
    """Read a pipeline YAML, apply ``--set`` overrides, split the runner's sections from the trainer's."""
    p = Path(path)
    d = read_yaml_mapping(p, "pipelines/maa.yaml", "sections out_dir, data, ..., evaluate")
    d = deep_merge(d, parse_set(overrides))
    given = kind or d.get("kind")
    kind = str(given or "maa")
    d.pop("kind", None)
    ev = d.pop("evaluate", None) or {}
    if not isinstance(ev, dict):
        raise InputError(f"{p}: 'evaluate' must be a mapping (manifest or sim, compare, limit, ...)")
    unknown = sorted(set(ev) - set(EVAL_DEFAULTS))
    if unknown:
        raise InputError(f"evaluate: unknown key(s) {', '.join(unknown)}; known: {', '.join(EVAL_DEFAULTS)}")
    ev = {**EVAL_DEFAULTS, **ev}
    if isinstance(ev["compare"], str):
        ev["compare"] = [m.strip() for m in ev["compare"].split(",") if m.strip()]
    for k in ("manifest", "sim"):
        if ev[k] and not Path(ev[k]).is_absolute() and (p.parent / ev[k]).is_file():
            ev[k] = str(p.parent / ev[k])
    if ev["manifest"] and ev["sim"]:
        raise InputError("evaluate: give manifest or sim, not both")
    for k in ("limit", "clips"):
        if ev[k] is not None and int(ev[k]) < 1:
            raise InputError(f"evaluate.{k}={ev[k]}: give at least 1 clip (or null = all)")
    from ..localize.registry import check_method_name

    for m in [ev["method"], *ev["compare"]]:   # registered names only: a config imports no module
        if m:
            check_method_name(str(m))
    trainer = get_trainer(kind)
    try:
        cfg = trainer.config_module().make_config(d, base_dir=p.parent)
    except InputError as e:
        if given:
            raise
        from .trainers import TRAINERS

        raise InputError(f"{e} (read as a '{kind}' config: for another trainer give --kind "
                         f"{'|'.join(TRAINERS)} or `kind:` in the YAML)") from None
    return Pipeline(p, kind, trainer, cfg, ev, list(overrides or []))


# --- stamps -------------------------------------------------------------------------------------
def _hash(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_sha1(path: str | Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stamp_ok(path: Path, key: str) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("key") == key
    except (OSError, ValueError):
        return False


def _write_stamp(path: Path, key: str, **info: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"key": key, "finished_unix_s": round(time.time(), 3), **info})


# --- the evaluation set ---------------------------------------------------------------------------
def _eval_sim(pl: Pipeline) -> tuple[str, int | None]:
    ev = pl.evaluate
    if ev["sim"]:
        return ev["sim"], ev["seed"]
    return pl.cfg["data"]["sim"], int(pl.cfg["data"].get("val_seed", 0)) + 1 if ev["seed"] is None \
        else ev["seed"]


def eval_clips_dir(pl: Pipeline) -> Path:
    """Where the simulated evaluation clips go (cached by the simulator file's hash and the seed)."""
    sim, seed = _eval_sim(pl)
    sp = Path(sim)
    tag = hashlib.sha1(sp.read_bytes()).hexdigest()[:8]
    if seed is not None and (pl.evaluate["sim"] is None or pl.evaluate["seed"] is not None):
        tag += f"_seed{seed}"
    root = Path(pl.evaluate["clips_root"]) if pl.evaluate["clips_root"] else Path("runs") / sp.stem
    return root / f"clips_{tag}"


def eval_manifest(pl: Pipeline) -> Path:
    if pl.evaluate["manifest"]:
        return Path(pl.evaluate["manifest"])
    return eval_clips_dir(pl) / "manifest.csv"


def _simulate_eval(pl: Pipeline, log: Callable[[str], None]) -> Path:
    if pl.evaluate["manifest"]:
        m = Path(pl.evaluate["manifest"])
        if not m.is_file():
            raise InputError(f"evaluate.manifest {m}: no such file")
        return m
    from ..sim.config import load_config
    from ..sim.run import simulate

    sim, seed = _eval_sim(pl)
    sc = load_config(sim, {"seed": int(seed)} if seed is not None else None)
    out = eval_clips_dir(pl)
    log(f"  evaluation clips from {sim} (seed {sc.seed}) into {out}")
    n = pl.evaluate["clips"] or (None if pl.evaluate["sim"] else int(pl.cfg["data"]["val_clips"]))
    s = simulate(sc, out, limit=None if n is None else int(n))
    log(f"  evaluation clips: {s.n_clips} ({s.skipped} were there already, {len(s.failed)} failed)")
    return out / "manifest.csv"


def subset_manifest(manifest: Path, limit: int, out: Path) -> Path:
    """About ``limit`` rows, the first of each SNR in turn (every SNR appears), into ``out``."""
    from ..eval.runner import read_manifest

    man = read_manifest(manifest)
    by: dict[str, list[int]] = {}
    for i, r in enumerate(man.rows):
        by.setdefault(r.get("snr_db", ""), []).append(i)
    per = max(1, limit // max(len(by), 1))
    picked = sorted(i for rows in by.values() for i in rows[:per])
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=man.columns)
        w.writeheader()
        for i in picked:
            row = dict(man.rows[i])
            p = Path(row["path"])
            row["path"] = str(p if p.is_absolute() else (manifest.parent / p).resolve())
            w.writerow(row)
    return out


# --- steps ----------------------------------------------------------------------------------------
def step_simulate(pl: Pipeline, force: bool, progress: bool, log: Callable[[str], None]) -> str:
    key = _hash({"data": {k: v for k, v in pl.cfg["data"].items() if k != "workers"},
                 "encoder": pl.cfg.get("encoder"), "features": pl.cfg.get("features"),
                 "eval": eval_manifest(pl).as_posix()})
    stamp = pl.stamps / "simulate.json"
    if not force and _stamp_ok(stamp, key) and eval_manifest(pl).is_file():
        return "skipped (complete)"
    from ..train.distributed import DistInfo

    pl.trainer.train_module().prepare_data(pl.cfg, DistInfo(), progress)
    man = _simulate_eval(pl, log)
    _write_stamp(stamp, key, eval_manifest=str(man))
    return "done"


def train_complete(pl: Pipeline) -> bool:
    m = pl.out_dir / "metrics.json"
    if not (m.is_file() and (pl.out_dir / "model.pt").is_file()):
        return False
    try:
        last = json.loads(m.read_text(encoding="utf-8")).get("last", {})
    except ValueError:
        return False
    return int(last.get("epoch", 0)) >= int(pl.cfg["train"]["epochs"])


def step_train(pl: Pipeline, force: bool, progress: bool, log: Callable[[str], None]) -> str:
    if not force and train_complete(pl):
        return "skipped (complete)"
    from ..train.distributed import cleanup

    res = pl.trainer.train_module().train(pl.cfg, resume=True, progress=progress)
    cleanup(res["dist"])
    m = res["metrics"]
    log(f"  best epoch {m.get('epoch')}: " + ", ".join(
        f"{k} {v:.3g}" for k, v in m.items() if k.startswith("val_") and isinstance(v, float)))
    return "done"


def _eval_dirs(pl: Pipeline) -> dict[str, Path]:
    return {"model": pl.out_dir / "eval" / "model", "compare": pl.out_dir / "eval" / "compare"}


def step_evaluate(pl: Pipeline, force: bool, progress: bool, log: Callable[[str], None]) -> str:
    from ..eval.runner import evaluate
    from ..sim.config import load_config

    model = pl.out_dir / "model.pt"
    if not model.is_file():
        raise InputError(f"{model}: no trained model yet; run the train step first")
    manifest = eval_manifest(pl)
    if not manifest.is_file():
        raise InputError(f"{manifest}: no evaluation manifest yet; run the simulate step first")
    ev = pl.evaluate
    method = ev["method"] or pl.trainer.method
    compare = [m for m in ev["compare"] if m != method]
    if ev["limit"]:
        manifest = subset_manifest(manifest, int(ev["limit"]), pl.out_dir / "eval" / "manifest_subset.csv")
    key = _hash({"manifest": str(manifest), "manifest_sha1": file_sha1(manifest), "model": file_sha1(model),
                 "method": method, "compare": compare})
    stamp = pl.stamps / "evaluate.json"
    dirs = _eval_dirs(pl)
    complete = all((d / "metrics.json").is_file() for d in dirs.values()) or \
        ((dirs["model"] / "metrics.json").is_file() and not compare)
    if not force and complete and _stamp_ok(stamp, key):
        return "skipped (complete)"
    fresh = not _stamp_ok(stamp.with_name("evaluate.started.json"), key)   # another model/set: restart
    _write_stamp(stamp.with_name("evaluate.started.json"), key)
    array = _manifest_array(pl, load_config)
    workers = int(ev["workers"] or 1)
    r = evaluate(manifest, array, [method], dirs["model"], workers=workers, resume=not fresh,
                 overwrite=fresh, model=str(model), progress=progress)
    log(f"  {method}: {r.n_computed} rows computed, {r.n_reused} reused")
    if compare:
        r = evaluate(manifest, array, compare, dirs["compare"], workers=workers, resume=True,
                     progress=progress)
        log(f"  {', '.join(compare)}: {r.n_computed} rows computed, {r.n_reused} reused")
    _write_stamp(stamp, key, manifest=str(manifest), method=method, compare=compare)
    return "done"


def _manifest_array(pl: Pipeline, load_config) -> Any:
    """The evaluation clips' array: that of the simulator config (or the training one's)."""
    sim = pl.evaluate["sim"] or pl.cfg["data"]["sim"]
    return load_config(sim).array.load()


# --- report ---------------------------------------------------------------------------------------
def step_report(pl: Pipeline, force: bool, progress: bool, log: Callable[[str], None]) -> str:
    from ..eval.metrics import compute_metrics
    from ..eval.report import wide_markdown_table
    from ..train.logging_io import read_csv_log

    out = pl.out_dir
    lines = [f"# Pipeline report: {pl.path.name} ({pl.kind})", "",
             f"Config `{pl.path}`" + (f" with `--set {' --set '.join(pl.overrides)}`" if pl.overrides else "")
             + f"; outputs in `{out}`.", ""]
    summary: dict[str, Any] = {"config": str(pl.path), "kind": pl.kind, "overrides": pl.overrides}
    # evaluation
    rows: list[dict[str, Any]] = []
    methods: list[str] = []
    for d in _eval_dirs(pl).values():
        pred = d / "predictions.csv"
        if pred.is_file():
            with open(pred, newline="", encoding="utf-8") as f:
                part = list(csv.DictReader(f))
            rows += part
            methods += [m for m in dict.fromkeys(r["method"] for r in part) if m not in methods]
    if rows:
        metrics = compute_metrics(rows, methods)
        n_clips = len({r["path"] for r in rows})
        lines += ["## Evaluation", "",
                  f"{n_clips} clips of `{_eval_source(pl)}`; MAE (degrees) per SNR (dB):", "",
                  wide_markdown_table(metrics, "mae_deg"), "ACC@10° (%):", "",
                  wide_markdown_table(metrics, "acc10", scale=100), "ACC@5° (%):", "",
                  wide_markdown_table(metrics, "acc5", scale=100)]
        if any("snr_db" in v.get("groups", {}) for v in metrics.values()):
            from ..eval.plots import mae_vs_snr

            mae_vs_snr(metrics, out / "mae_vs_snr.png")
            lines += ["![MAE vs SNR](mae_vs_snr.png)", ""]
        times: dict[str, Any] = {}
        for d in _eval_dirs(pl).values():     # the runs' own metrics hold the timings (CSV does not)
            if (d / "metrics.json").is_file():
                saved = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
                times.update({m: v.get("time_per_clip_s") for m, v in saved.items() if isinstance(v, dict)})
        if any(v is not None for v in times.values()):
            lines += ["Processing time per clip (one process): " + ", ".join(
                f"{m} {1000 * v:.0f} ms" for m, v in times.items() if v is not None), ""]
        summary["evaluation"] = metrics
    else:
        lines += ["## Evaluation", "", "(not run yet: `--steps evaluate`)", ""]
    # learning curve
    log_csv = out / "log.csv"
    if log_csv.is_file():
        hist = read_csv_log(log_csv)
        cols = [c for c in hist[0] if c not in ("lr",)] if hist else []
        lines += ["## Learning curve", "", "![learning curve](curve.png)", "",
                  "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for h in hist:
            lines.append("| " + " | ".join(_cell(h.get(c)) for c in cols) + " |")
        lines.append("")
        summary["history"] = hist
    mj = out / "metrics.json"
    if mj.is_file():
        best = json.loads(mj.read_text(encoding="utf-8")).get("best", {})
        lines += ["## Best validation epoch", "", ", ".join(f"{k} = {_cell(v)}" for k, v in best.items()), ""]
        summary["best"] = best
    steps = " ".join(f"--set {o}" for o in pl.overrides)
    lines += ["## Reproduce", "", "```bash", f"neuroaudio pipeline run {pl.path} {steps}".rstrip(), "```", ""]
    write_text_atomic(out / "report.md", "\n".join(lines))
    write_json_atomic(out / "report.json", summary)
    log(f"  {out / 'report.md'}")
    return "done"


def _eval_source(pl: Pipeline) -> str:
    if pl.evaluate["manifest"]:
        return str(pl.evaluate["manifest"])
    sim, seed = _eval_sim(pl)
    return f"{sim}" + (f", seed {seed}" if seed is not None else "")


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


STEP_FUNCS = {"simulate": step_simulate, "train": step_train, "evaluate": step_evaluate,
              "report": step_report}


def check_steps(steps: Sequence[str], force: Sequence[str] = ()) -> None:
    """InputError naming an unknown step name in ``steps`` or ``force``."""
    bad = [s for s in list(steps) + list(force) if s not in STEPS]
    if bad:
        raise InputError(f"--steps {','.join(bad)}: unknown step; use some of {','.join(STEPS)}")


def run(pl: Pipeline, steps: Sequence[str] = STEPS, force: Sequence[str] = (), progress: bool = True,
        log: Callable[[str], None] = print) -> dict[str, str]:
    """Run the ``steps`` in order (each skipped when complete, unless in ``force``).

    Returns ``{step: "done" | "skipped (complete)"}``. The run owns ``out_dir``
    (:func:`neuroaudio.ownership.own_output`): a second pipeline run into it meanwhile is refused.
    """
    check_steps(steps, force)
    order = [s for s in STEPS if s in steps]
    status: dict[str, str] = {}
    with own_output(pl.out_dir, "out_dir"):
        for k, s in enumerate(order, 1):
            log(f"[{k}/{len(order)}] {s} ...")
            t0 = time.perf_counter()
            status[s] = STEP_FUNCS[s](pl, s in force, progress, log)
            log(f"[{k}/{len(order)}] {s}: {status[s]} ({time.perf_counter() - t0:.1f} s)")
    return status
