"""Batch DOA evaluation: run localizers over a manifest of clips, write predictions and metrics.

Inputs: a manifest (CSV, UTF-8, header row; conventions.md) with ``path`` (relative to the
manifest's folder, or absolute) and ``azimuth_deg`` (the true azimuth), plus any other columns.

Outputs in ``DIR`` (each written atomically: it appears whole or not at all):

- ``predictions.csv``: every manifest column, then ``method``, ``pred_azimuth_deg``,
  ``error_deg``, ``confidence``, ``status`` (``ok`` or ``error: <message>``). One row per manifest
  row and method, in manifest order and, within a manifest row, in ``--method`` order; a failed
  row keeps its place with empty prediction fields. A null azimuth (the method heard no source)
  on a clip with a true azimuth is a failed row: ``error: no source detected (null azimuth)``.
- ``metrics.json``: :func:`neuroaudio.eval.metrics.compute_metrics` (failed rows count as 180°).
- ``run.json``: what was run (manifest, array geometry, channels, model, methods, options).
- ``times.json``: processing time (s) per row and method (``"row|method"``), so a resumed run
  keeps ``time_per_clip_s`` of the rows it reuses.
- ``mae_vs_snr.png`` (when the manifest has ``snr_db``) and ``error_hist.png``.

Execution: each manifest row is one task. A task reads the file once, streamed in 1-s blocks
(bounded memory whatever the file's length), and feeds every requested method's
:class:`~neuroaudio.localize.base.Localizer` block by block, so clips are decoded and resampled
once for all methods. ``workers > 1`` runs tasks in worker processes that each build the
localizers once; results are put back in manifest order, so the output does not depend on the
number of workers. A missing, unreadable or corrupt file, or a method that raises, fails only
its own rows.

Resume: every finished (row, method) result is appended to ``DIR/predictions.journal.jsonl``
(one JSON line each, flushed at once) as it arrives, so a run that is killed (even with
``kill -9``) loses only the rows in flight. ``resume=True`` keeps the rows found in the journal
and in a previous ``predictions.csv`` whose manifest row (index and path) is unchanged and runs
only the rest; errors are recomputed against the current manifest's true azimuth. Rows that
failed are kept too unless ``retry_failed=True``. Rows of a method whose source code changed
since (:func:`method_fingerprint`) are run again. A resumed run must use the same array
geometry, channels and model (checked against ``run.json``); the method list may change (new
methods run, dropped methods are left out). A run without ``resume`` into a folder that holds
results (``predictions.csv``, the journal or ``metrics.json``) is refused unless
``overwrite=True``, which deletes them first. The journal is deleted once the outputs are written.

Ownership: a run holds an OS lock on ``DIR`` (:mod:`neuroaudio.ownership`); a second run into it
meanwhile is refused with one line naming the first. Workers end with the parent, even when it is
killed with ``kill -9`` (:mod:`neuroaudio.workers`).
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..angles import wrap_deg
from ..arrays import MicArray, load_array
from ..errors import InputError
from ..io_utils import atomic_path, write_json_atomic
from ..localize.base import Localizer
from ..localize.registry import localizer_class
from ..ownership import own_output, remove_stale_temps
from ..workers import guard_worker, run_task, stop_pool
from .metrics import compute_metrics, prediction_error

PRED_COLUMNS = ["method", "pred_azimuth_deg", "error_deg", "confidence", "status"]
"""Columns appended to the manifest's in ``predictions.csv`` (conventions.md, in this order)."""
PREDICTIONS = "predictions.csv"
METRICS = "metrics.json"
RUN_INFO = "run.json"
JOURNAL = "predictions.journal.jsonl"
TIMES = "times.json"
"""Per-row processing times (s) of the rows in predictions.csv (which has no column for them)."""
PLOTS = ("mae_vs_snr.png", "error_hist.png")
NO_SOURCE = "error: no source detected (null azimuth)"
BLOCK_S = 1.0
"""Block length (s) in which files are streamed to the localizers."""


# --- manifest ------------------------------------------------------------------------------
@dataclass
class Manifest:
    """A manifest: its file, its columns (in order) and its rows (cells as text)."""

    path: Path
    columns: list[str]
    rows: list[dict[str, str]]

    def audio_path(self, i: int) -> Path:
        """The audio file of row ``i``: absolute as given, or relative to the manifest's folder."""
        p = Path(self.rows[i]["path"])
        return p if p.is_absolute() else self.path.parent / p


def read_manifest(path: str | Path, require: Sequence[str] = ("path", "azimuth_deg")) -> Manifest:
    """Read and check a manifest; InputError naming the problem and the fix."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"manifest {p}: no such file; give the manifest.csv written by "
                         "`neuroaudio simulate` or your own CSV with path,azimuth_deg columns")
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            body = list(reader)
    except UnicodeDecodeError:
        raise InputError(f"manifest {p}: not UTF-8 text; save it as UTF-8 CSV") from None
    except csv.Error as e:
        raise InputError(f"manifest {p}: not a valid CSV ({e}); fix the file") from None
    if not header or not any(h.strip() for h in header):
        raise InputError(f"manifest {p}: empty; it needs a header row with at least "
                         f"{','.join(require)} and one row per clip")
    header = [h.strip() for h in header]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise InputError(f"manifest {p}: column '{dup[0]}' appears twice in the header; "
                         "give each column once")
    for col in require:
        if col not in header:
            raise InputError(f"manifest {p}: missing required column '{col}' (columns: "
                             f"{','.join(header)}); add it to the header row")
    clash = [c for c in PRED_COLUMNS if c in header]
    if clash:
        raise InputError(f"manifest {p}: column '{clash[0]}' clashes with an output column of "
                         "predictions.csv; rename it in the manifest")
    rows = []
    for k, cells in enumerate(body, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(f"manifest {p}: line {k} has {len(cells)} cells but the header has "
                             f"{len(header)}; fix that line")
        row = dict(zip(header, cells, strict=True))
        if not row["path"].strip():
            raise InputError(f"manifest {p}: line {k} has an empty path; give each row a file")
        rows.append(row)
    if not rows:
        raise InputError(f"manifest {p}: no rows; add one row per clip below the header")
    return Manifest(p.resolve(), header, rows)


def parse_azimuth(cell: str) -> float | None:
    """A true azimuth cell in degrees, wrapped to [0, 360), or None if it is not a number."""
    try:
        v = float(cell)
    except (TypeError, ValueError):
        return None
    return wrap_deg(v) if math.isfinite(v) else None


# --- configuration and localizers ----------------------------------------------------------
@dataclass
class EvalConfig:
    """What to run: the array, methods (registered names, plug-ins included), their options."""

    array: MicArray
    methods: list[str]
    channels: list[int] | None = None      # 0-based selection of file channels
    model: str | None = None               # passed as ``model=`` to methods that take it
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"array": self.array.to_dict(), "methods": self.methods,
                "channels": None if self.channels is None else [c + 1 for c in self.channels],
                "model": self.model, "options": self.options}


def resolve_method(name: str) -> type[Localizer]:
    """A registered method name: a built-in or an installed entry point (registry module).

    Nothing else is imported: ``package.module:Class`` is refused, so a manifest or pipeline
    config cannot make this process import (run) arbitrary code.
    """
    return localizer_class(name)


def _accepts(cls: type, kw: str) -> bool:
    """Whether ``cls(...)`` names the keyword ``kw`` (``**kwargs`` passed on to the base is not enough)."""
    return kw in inspect.signature(cls.__init__).parameters


def method_model_file(name: str, model: str | Path | None = None) -> Path | None:
    """The model file a learned method loads: ``model`` (``--model``) when the method takes one,
    else its shipped default (the class's ``default_model`` or its module's ``DEFAULT_MODEL``);
    None for methods without a model."""
    cls = resolve_method(name)
    if not _accepts(cls, "model"):
        return None
    if model is not None:
        return Path(model)
    default = (getattr(cls, "default_model", None)
               or getattr(sys.modules[cls.__module__], "DEFAULT_MODEL", None))
    return Path(default) if default else None


def method_fingerprint(name: str, model: str | Path | None = None) -> str:
    """A hash of the source code of a method's class and its bases (base.py included), and of the
    bytes of the model file it loads (:func:`method_model_file`).

    A resumed run reuses a method's earlier rows only while this is unchanged, so editing a
    method's code (tuning it) or replacing its model file (retraining) makes ``--resume`` run that
    method again instead of mixing old and new results.
    """
    import hashlib

    h = hashlib.sha1()
    model_file = method_model_file(name, model)
    if model_file is not None and model_file.is_file():
        h.update(model_file.read_bytes())
    for klass in resolve_method(name).__mro__:
        if klass is object or klass.__module__ == "abc":
            continue
        try:
            h.update(Path(inspect.getsourcefile(klass) or "").read_bytes())
        except (OSError, TypeError):
            h.update(klass.__qualname__.encode())
    return h.hexdigest()[:16]


def build_localizers(cfg: EvalConfig) -> dict[str, Localizer]:
    """One localizer per method (InputError for an unknown method or an unused ``--model``)."""
    classes = {m: resolve_method(m) for m in cfg.methods}
    takes_model = {m for m, c in classes.items() if _accepts(c, "model")}
    if cfg.model is not None and not takes_model:
        raise InputError(f"--model {cfg.model}: none of the methods {','.join(cfg.methods)} loads a "
                         "model; drop --model or add a learned method")
    locs = {}
    for m, cls in classes.items():
        opts = dict(cfg.options)
        if cfg.model is not None and m in takes_model:
            opts["model"] = cfg.model
        locs[m] = cls(cfg.array, **opts)
    return locs


# --- one task: one manifest row, every method ----------------------------------------------
def run_row(locs: dict[str, Localizer], audio: Path, channels: list[int] | None,
            methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Localize one file with several methods, reading it once.

    Returns ``{method: {"pred": az deg | None, "confidence": float | None, "status": str,
    "time_s": processing time of the method alone (s)}}``.
    """
    from ..audio.io import FileBlockStream

    out: dict[str, dict[str, Any]] = {}
    by_fs: dict[int, list[str]] = {}
    for m in methods:
        by_fs.setdefault(locs[m].fs, []).append(m)
    for fs, group in by_fs.items():
        alive = list(group)
        spent = dict.fromkeys(group, 0.0)
        try:
            n_mics = locs[group[0]].array.n_mics
            stream = FileBlockStream(audio, fs=fs, channels=channels, n_mics=n_mics, block_s=BLOCK_S,
                                     min_duration_s=max(locs[m].frame_len for m in group) / fs)
            for m in group:
                locs[m].reset()
            for block in stream:
                for m in list(alive):
                    t0 = time.perf_counter()
                    try:
                        locs[m].process(block)
                    except Exception as e:  # a method's failure fails its own row only
                        out[m] = _failed(e)
                        alive.remove(m)
                    spent[m] += time.perf_counter() - t0
        except Exception as e:  # missing, unreadable, corrupt file: every method of the row
            for m in alive:
                out[m] = _failed(e)
            continue
        for m in alive:
            t0 = time.perf_counter()
            try:
                res = locs[m].finish()
            except Exception as e:
                out[m] = _failed(e)
                continue
            spent[m] += time.perf_counter() - t0
            if res.azimuth_deg is None:
                out[m] = {"pred": None, "confidence": None, "status": NO_SOURCE}
            else:
                out[m] = {"pred": round(wrap_deg(float(res.azimuth_deg)), 3),
                          "confidence": round(float(res.confidence), 4), "status": "ok"}
            out[m]["time_s"] = round(spent[m], 5)
    return out


def _failed(e: BaseException) -> dict[str, Any]:
    msg = str(e) if isinstance(e, InputError) else f"{type(e).__name__}: {e}"
    msg = " ".join(msg.split()) or type(e).__name__
    return {"pred": None, "confidence": None, "status": f"error: {msg}", "time_s": None}


_WORKER: dict[str, Any] = {}


def _worker_init(cfg: EvalConfig, parent_pid: int) -> None:
    guard_worker(parent_pid)   # ends with the parent, even after kill -9
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER["cfg"] = cfg
    _WORKER["locs"] = build_localizers(cfg)
    torch = sys.modules.get("torch")   # only methods that use torch import it (seconds per worker)
    if torch is not None:
        torch.set_num_threads(1)


def _worker_task(i: int, audio: str, methods: list[str]) -> tuple[int, dict[str, dict[str, Any]]]:
    cfg = _WORKER["cfg"]
    return i, run_row(_WORKER["locs"], Path(audio), cfg.channels, methods)


# --- resume --------------------------------------------------------------------------------
def _load_previous(out_dir: Path, manifest: Manifest, fingerprints: dict[str, str],
                   csv_fp: dict[str, str], retry_failed: bool) -> dict[tuple[int, str], dict[str, Any]]:
    """Results already done: ``{(row index, method): {"pred", "confidence", "status", ...}}``.

    Only rows made by the same code are kept: a ``predictions.csv`` row when ``csv_fp`` (from
    run.json) matches the method's current fingerprint, a journal line when its own ``fp`` does.
    """
    done: dict[tuple[int, str], dict[str, Any]] = {}
    methods = [m for m in fingerprints if csv_fp.get(m) == fingerprints[m]]
    paths = [r["path"] for r in manifest.rows]
    pred_csv = out_dir / PREDICTIONS
    try:
        times = json.loads((out_dir / TIMES).read_text(encoding="utf-8"))
        times = times if isinstance(times, dict) else {}
    except (OSError, ValueError):
        times = {}
    if pred_csv.is_file():
        try:
            with open(pred_csv, newline="", encoding="utf-8") as f:
                seen: dict[str, int] = {}
                for row in csv.DictReader(f):
                    m = row.get("method")
                    i = seen.get(m, 0)
                    seen[m] = i + 1
                    if m in methods and i < len(paths) and row.get("path") == paths[i]:
                        done[(i, m)] = {"pred": _num(row.get("pred_azimuth_deg")),
                                        "confidence": _num(row.get("confidence")),
                                        "status": row.get("status") or "error: unknown",
                                        "time_s": _num(times.get(f"{i}|{m}"))}
        except (OSError, csv.Error, UnicodeDecodeError):
            pass    # an unreadable old output is redone, not trusted
    journal = out_dir / JOURNAL
    if journal.is_file():
        with open(journal, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    i, m = int(rec["i"]), str(rec["method"])
                except (ValueError, KeyError, TypeError):
                    continue   # a line torn by a kill
                if (m in fingerprints and rec.get("fp") == fingerprints[m] and 0 <= i < len(paths)
                        and rec.get("path") == paths[i]):
                    done[(i, m)] = {k: rec.get(k) for k in ("pred", "confidence", "status", "time_s")}
    if retry_failed:
        done = {k: v for k, v in done.items() if v.get("status") == "ok"}
    return done


def _num(v: Any) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def _check_same_run(out_dir: Path, cfg: EvalConfig) -> dict[str, str]:
    """Refuse to resume a run made with other settings; return its method fingerprints."""
    info = out_dir / RUN_INFO
    if not info.is_file():
        return {}
    try:
        saved = json.loads(info.read_text(encoding="utf-8"))
        old = saved["config"]
        old_array = MicArray.from_dict(old["array"])
    except (OSError, ValueError, KeyError, TypeError, InputError):
        return {}
    problems = []
    if not old_array.same_geometry(cfg.array):
        problems.append(f"array {old_array.name} (now {cfg.array.name})")
    new = cfg.to_json()
    for key in ("channels", "model", "options"):
        if old.get(key) != new[key]:
            problems.append(f"{key} {old.get(key)} (now {new[key]})")
    if problems:
        raise InputError(f"--resume: {out_dir} was made with {'; '.join(problems)}; use the same "
                         "settings, or drop --resume (or pick another --out) to start afresh")
    fp = saved.get("fingerprints")
    return {str(k): str(v) for k, v in fp.items()} if isinstance(fp, dict) else {}


# --- the run -------------------------------------------------------------------------------
@dataclass
class EvalResult:
    """What a run produced: prediction rows (dicts, CSV columns + ``time_s``), metrics, counts."""

    out_dir: Path
    columns: list[str]
    rows: list[dict[str, Any]]
    metrics: dict[str, Any]
    methods: list[str]
    n_computed: int
    n_reused: int
    plots: list[Path]


def evaluate(manifest: str | Path | Manifest, array: str | Path | MicArray, methods: Sequence[str],
             out_dir: str | Path, workers: int = 1, resume: bool = False,
             group_by: Sequence[str] = (), channels: list[int] | None = None,
             model: str | None = None, options: dict[str, Any] | None = None,
             retry_failed: bool = False, limit: int | None = None, plots: bool = True,
             progress: bool = True, overwrite: bool = False,
             on_result: Callable[[int, str, dict[str, Any]], None] | None = None) -> EvalResult:
    """Evaluate ``methods`` on every row of ``manifest``; write the outputs to ``out_dir``.

    Args:
        manifest: manifest path (or a :class:`Manifest`).
        array: the microphone array (built-in name, JSON path or MicArray).
        methods: registered method names (built-ins or entry-point plug-ins).
        out_dir: output folder (created).
        workers: worker processes (1: in this process).
        resume: keep rows already done (module docstring).
        overwrite: delete the results of an earlier run in ``out_dir`` and start from scratch.
            Without ``resume`` or ``overwrite``, a folder holding results is refused.
        group_by: manifest columns to group metrics by (``snr_db`` is always used when present).
        channels: 0-based selection of file channels (``parse_channels``), or None.
        model: model file for learned methods (``model=`` option of the methods that take it).
        options: further keyword options for every localizer.
        retry_failed: with ``resume``, run failed rows again.
        limit: evaluate only the first ``limit`` manifest rows.
        plots: write the PNG plots.
        progress: show a progress bar on stderr.
        on_result: called with (row index, method, result) as each result arrives.

    The run owns ``out_dir`` (:func:`neuroaudio.ownership.own_output`): a second run into it while
    this one works is refused with an InputError naming this one.
    """
    if resume and overwrite:
        raise InputError("--resume keeps an earlier run's results and --overwrite deletes them; "
                         "give one of them")
    man = manifest if isinstance(manifest, Manifest) else read_manifest(manifest)
    methods = list(dict.fromkeys(m.strip() for m in methods if m.strip()))
    if not methods:
        raise InputError("--method: give at least one method, e.g. --method gcc-phat,srp-phat")
    for col in group_by:
        if col not in man.columns:
            raise InputError(f"--group-by {col}: no such manifest column (columns: "
                             f"{','.join(man.columns)})")
    if workers < 1:
        raise InputError(f"--workers {workers}: give 1 or more worker processes")
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit {limit}: give a positive number of rows")
        man = Manifest(man.path, man.columns, man.rows[:limit])
    cfg = EvalConfig(load_array(array), methods, channels, model, dict(options or {}))
    build_localizers(cfg)   # fail fast on an unknown method or bad option, before any work
    out = Path(out_dir)
    with own_output(out, "--out"):
        remove_stale_temps(out)   # of a run killed while writing (nobody else writes here now)
        journal = out / JOURNAL
        fingerprints = {m: method_fingerprint(m, model) for m in methods}
        csv_fp: dict[str, str] = {}   # fingerprints of the methods in the existing predictions.csv
        if resume:
            csv_fp = _check_same_run(out, cfg)
            done = _load_previous(out, man, fingerprints, csv_fp, retry_failed)
        else:
            earlier = [n for n in (PREDICTIONS, JOURNAL, METRICS) if (out / n).exists()]
            if earlier and not overwrite:
                raise InputError(f"--out {out}: holds the results of an earlier run ({', '.join(earlier)}); "
                                 "add --resume to keep its finished rows and run only the rest, or "
                                 "--overwrite to delete them and start afresh")
            for name in (JOURNAL, PREDICTIONS, METRICS, RUN_INFO, TIMES, *PLOTS):
                (out / name).unlink(missing_ok=True)
            done = {}
        info = {"manifest": str(man.path), "rows": len(man.rows), "config": cfg.to_json(),
                "fingerprints": csv_fp, "started_unix_s": round(time.time(), 3)}
        write_json_atomic(out / RUN_INFO, info)
        truth = [parse_azimuth(r["azimuth_deg"]) for r in man.rows]
        results: dict[tuple[int, str], dict[str, Any]] = dict(done)
        todo: list[tuple[int, list[str]]] = []
        for i in range(len(man.rows)):
            need = [m for m in methods if (i, m) not in done]
            if not need:
                continue
            if truth[i] is None:   # nothing to compare with: fail without computing
                msg = (f"error: manifest azimuth_deg '{man.rows[i]['azimuth_deg']}' is not a number; "
                       "give the true azimuth in degrees")
                for m in need:
                    results[(i, m)] = {"pred": None, "confidence": None, "status": msg, "time_s": None}
                continue
            todo.append((i, need))
        n_reused = len(done)
        n_tasks = sum(len(need) for _, need in todo)

        with open(journal, "a", encoding="utf-8") as jf:
            if jf.tell() > 0 and not journal.read_bytes().endswith(b"\n"):
                jf.write("\n")   # end a line torn by a kill, so the next record stays readable

            def record(i: int, res: dict[str, dict[str, Any]]) -> None:
                for m, r in res.items():
                    results[(i, m)] = r
                    jf.write(json.dumps({"i": i, "path": man.rows[i]["path"], "method": m,
                                         "fp": fingerprints[m], **r}) + "\n")
                    if on_result is not None:
                        on_result(i, m, r)
                jf.flush()
            _run_tasks(cfg, man, todo, workers, record, n_tasks, progress)

        rows = []
        for i, mrow in enumerate(man.rows):
            for m in methods:
                r = results[(i, m)]
                pred = r.get("pred") if r.get("status") == "ok" else None
                err = prediction_error(pred, truth[i])
                err = None if err is None else round(err, 3)
                rows.append({**mrow, "method": m, "pred_azimuth_deg": pred, "error_deg": err,
                             "confidence": r.get("confidence") if pred is not None else None,
                             "status": r.get("status") or "error: unknown", "time_s": r.get("time_s")})
        metrics = compute_metrics(rows, methods, group_by)
        columns = man.columns + PRED_COLUMNS
        write_predictions(out / PREDICTIONS, columns, rows)
        write_json_atomic(out / TIMES, {f"{i}|{m}": results[(i, m)].get("time_s")
                                        for i in range(len(man.rows)) for m in methods})
        write_json_atomic(out / METRICS, metrics)
        write_json_atomic(out / RUN_INFO, {**info, "fingerprints": fingerprints,
                                           "finished_unix_s": round(time.time(), 3)})
        written = []
        if plots:
            from .plots import error_histogram, mae_vs_snr

            if any("snr_db" in g for g in (v["groups"] for v in metrics.values())):
                written.append(mae_vs_snr(metrics, out / PLOTS[0]))
            written.append(error_histogram(rows, methods, out / PLOTS[1]))
        journal.unlink(missing_ok=True)
        return EvalResult(out, columns, rows, metrics, methods, n_tasks, n_reused, written)


def _run_tasks(cfg: EvalConfig, man: Manifest, todo: list[tuple[int, list[str]]], workers: int,
               record: Callable[[int, dict[str, dict[str, Any]]], None], n_tasks: int,
               progress: bool) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("evaluate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=Console(stderr=True), disable=not progress,
                   transient=False)
    with bar:
        task = bar.add_task("evaluate", total=n_tasks)
        if workers == 1 or len(todo) <= 1:
            locs = build_localizers(cfg)
            for i, need in todo:
                record(i, run_row(locs, man.audio_path(i), cfg.channels, need))
                bar.advance(task, len(need))
            return
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), initializer=_worker_init,
                                 initargs=(cfg, os.getpid())) as pool:
            pending: set[Future] = set()
            queue = iter(todo)
            try:
                # keep a bounded number of tasks queued, so huge manifests stay light on memory
                for i, need in queue:
                    pending.add(pool.submit(run_task, _worker_task, i, str(man.audio_path(i)), need))
                    if len(pending) >= 4 * workers:
                        break
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        i, res = fut.result()
                        record(i, res)
                        bar.advance(task, len(res))
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending.add(pool.submit(run_task, _worker_task, nxt[0],
                                                    str(man.audio_path(nxt[0])), nxt[1]))
            except BaseException:   # Ctrl-C, SIGTERM, a failure: end the workers now
                stop_pool(pool)
                raise


def write_predictions(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Write ``predictions.csv`` atomically (UTF-8; empty cells for missing values)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(columns)
            for r in rows:
                w.writerow(["" if r.get(c) is None else _fmt(r[c]) for c in columns])


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e6 else repr(v)
    return str(v)
