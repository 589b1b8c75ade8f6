"""Print the README's localization table from the per-clip results of the bench runs.

    python -m benchmarks                           # the table from what is under runs/
    python -m benchmarks --fsdd FSDD/recordings    # ... with the realistic bench on the FSDD digits
    python -m benchmarks --run --fsdd FSDD/recordings --workers 2   # make what is missing, then print

One row per method, one column per bench: the MAE in degrees at each SNR of the bench (−5 / 0 / 5 /
10 / 20 / 30 dB) and, in bold, over all its clips; a failed or null prediction counts as 180°.

Nothing is computed here but the averages: each cell is read from the ``predictions.csv`` that
``python -m benchmarks.dev_bench`` wrote for that bench, in ``RUNS/<bench>/eval_<tag>/`` (or another
folder under RUNS), where ``<tag>`` hashes the bench's config file and its ``--set`` values, so
results of an edited config are never shown as current. A method with no results, or with fewer
rows than the bench has clips, is shown as ``-`` and listed below the table with the command that
makes it (``--run`` runs those commands first, about 6 minutes a bench on 2 cores). A cell marked
``*`` was computed by code or a model file that has changed since (the method's fingerprint in the
run's ``run.json``); the same command recomputes only those rows.

The benches (``pipelines/``): ``dev`` (dev_bench.yaml: what the methods were tuned on), ``held-out``
(heldout_bench.yaml: other rooms, voices, languages and noises) and ``realistic``
(realistic_bench.yaml: short utterances in non-stationary directional noise). The README's
realistic column uses the FSDD digits (``--fsdd DIR``: the folder of FSDD's recordings, given as
``--set source.signal.0.folder=DIR`` to the bench, spelled exactly as in that run); without
``--fsdd`` the realistic bench's short utterances are espeak-ng words, a different set of clips.

Exit status: 0 when every cell is there, 1 when some are missing. Other figures (speed, energy,
keyword spotting) and their commands: docs/results.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuroaudio.eval.metrics import compute_metrics

from .dev_bench import cache_tag

REPO = Path(__file__).resolve().parent.parent
METHODS = ("gcc-phat", "srp-phat", "gcc-phat-sm", "gcc-phat-mlp", "maa", "rf-plc", "pra-srp", "pra-music",
           "pra-normmusic")
"""The README's rows, in its order."""
FSDD_SET = "source.signal.0.folder="
"""The realistic bench's override that takes its short utterances from a folder of recordings."""


@dataclass(frozen=True)
class Bench:
    """One column: ``name`` (its title) and ``config`` (the simulator config, relative to the repo)."""

    name: str
    config: str
    fsdd: bool = False
    """Whether ``--fsdd`` applies (the realistic bench's short utterances)."""

    @property
    def stem(self) -> str:
        return Path(self.config).stem


BENCHES = (Bench("dev", "pipelines/dev_bench.yaml"), Bench("held-out", "pipelines/heldout_bench.yaml"),
           Bench("realistic", "pipelines/realistic_bench.yaml", fsdd=True))


@dataclass
class Column:
    """What was found for one bench: the run folder, each present method's metrics, the rest."""

    bench: Bench
    sets: list[str]
    n_clips: int
    folder: Path | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    """method → why it has no cell"""
    stale: list[str] = field(default_factory=list)
    others: list[Path] = field(default_factory=list)
    """eval folders of this bench's root made with other ``--set`` values (not used)"""

    @property
    def title(self) -> str:
        return self.bench.name + (" (espeak-ng words)" if self.bench.fsdd and not self.sets else "")


def bench_sets(bench: Bench, fsdd: str | None) -> list[str]:
    """The bench's ``--set`` items: the FSDD folder for the realistic bench when given."""
    return [FSDD_SET + fsdd] if bench.fsdd and fsdd else []


def find_eval_folder(runs: Path, bench: Bench, tag: str) -> Path | None:
    """``RUNS/<bench>/eval_<tag>`` when it has results, else the first ``RUNS/*/eval_<tag>`` that does
    (e.g. a held-out run into ``runs/dev_bench``, dev_bench's default root)."""
    own = runs / bench.stem / f"eval_{tag}"
    if (own / "predictions.csv").is_file():
        return own
    return next((p.parent for p in sorted(runs.glob(f"*/eval_{tag}/predictions.csv"))), None)


def current_fingerprints(methods: list[str]) -> dict[str, str | None]:
    """Each method's fingerprint now (None for a name the registry does not know)."""
    from neuroaudio.eval.runner import method_fingerprint

    out: dict[str, str | None] = {}
    for m in methods:
        try:
            out[m] = method_fingerprint(m)
        except Exception:  # noqa: BLE001 - an unknown or broken method: no staleness check, not a crash
            out[m] = None
    return out


def read_column(runs: Path, bench: Bench, methods: list[str], fsdd: str | None,
                fingerprints: dict[str, str | None]) -> Column:
    """The metrics of ``methods`` on ``bench`` from its run's ``predictions.csv`` (module docstring)."""
    from neuroaudio.sim.config import load_config

    sets = bench_sets(bench, fsdd)
    col = Column(bench, sets, load_config(REPO / bench.config).n_clips)
    tag = cache_tag(REPO / bench.config, sets)
    col.folder = find_eval_folder(runs, bench, tag)
    col.others = sorted(p for p in (runs / bench.stem).glob("eval_*")
                        if p.is_dir() and p.name != f"eval_{tag}" and "_subset" not in p.name)
    if col.folder is None:
        col.missing = {m: "not run" for m in methods}
        return col
    with open(col.folder / "predictions.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    info_path = col.folder / "run.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    for m in methods:
        mine = [r for r in rows if r["method"] == m]
        if not mine:
            col.missing[m] = "not run"
        elif len(mine) != col.n_clips:
            col.missing[m] = f"{len(mine)} of {col.n_clips} clips"
        else:
            col.metrics[m] = compute_metrics(mine, [m])[m]
            then = info.get("fingerprints", {}).get(m)
            if fingerprints.get(m) is not None and then != fingerprints[m]:
                col.stale.append(m)
    return col


def cell(m: dict[str, Any], stale: bool) -> str:
    """``"12.5 4.5 … · **4.4**"``: MAE per SNR group in the bench's order, then over all clips."""
    per = " ".join(f"{g['mae_deg']:.1f}" for g in m["groups"].get("snr_db", {}).values())
    return f"{per} · **{m['mae_deg']:.1f}**" + (" *" if stale else "")


def bench_command(col: Column, methods: list[str], runs: Path, workers: int) -> list[str]:
    """The command that makes (or completes, or refreshes) a bench's results for ``methods``. Every
    method is named: an evaluate run keeps only the methods it is given, and reuses their rows."""
    cmd = ["python", "-m", "benchmarks.dev_bench", "--workers", str(workers), "--methods", ",".join(methods)]
    root = runs / col.bench.stem
    if col.bench.stem != "dev_bench" or root.resolve() != (REPO / "runs" / "dev_bench").resolve():
        cmd += ["--config", col.bench.config, "--root", _show(root)]
    for s in col.sets:
        cmd += ["--set", s]
    return cmd


def _show(p: Path) -> str:
    """``p`` relative to the repository when it is inside it."""
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p)


def report(cols: list[Column], methods: list[str], runs: Path, workers: int) -> str:
    """The table and, below it, where each column was read from and what is missing or stale."""
    snrs = {c.title: " / ".join(next((list(m["groups"].get("snr_db", {})) for m in c.metrics.values()), []))
            for c in cols}
    found = {v for v in snrs.values() if v}
    head = (f"at {found.pop()} dB " if len(found) == 1 else
            "at each SNR of the bench (" + "; ".join(f"{k}: {v} dB" for k, v in snrs.items() if v) + ") "
            if found else "per SNR ")
    lines = [f"Localization MAE (degrees) {head}and over all clips; failed or null predictions count "
             "as 180°.", "",
             "| method | " + " | ".join(c.title for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in methods:
        cells = [cell(c.metrics[m], m in c.stale) if m in c.metrics else "-" for c in cols]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "Read from:"]
    for c in cols:
        where = f"{_show(c.folder)}/predictions.csv" if c.folder else "nothing yet"
        lines.append(f"- {c.title}: {where} (`{c.bench.config}`"
                     + "".join(f" --set {s}" for s in c.sets) + f", {c.n_clips} clips)")
        if c.folder is None and c.others:
            lines.append(f"  not used: {', '.join(_show(p) for p in c.others)} (another config text or "
                         "--set; each has a report beside it saying which"
                         + ("; the FSDD digits: --fsdd DIR" if c.bench.fsdd and not c.sets else "") + ")")
    todo = [c for c in cols if c.missing or c.stale]
    if any(c.missing for c in cols):
        lines += ["", "Missing (shown as -):"]
        for c in cols:
            by_reason: dict[str, list[str]] = {}
            for m, why in c.missing.items():
                by_reason.setdefault(why, []).append(m)
            if by_reason:
                lines.append(f"- {c.title}: " + "; ".join(f"{why}: {', '.join(ms)}"
                                                           for why, ms in by_reason.items()))
    if any(c.stale for c in cols):
        lines += ["", "* computed by code or a model file that has changed since: "
                  + "; ".join(f"{c.title}: {', '.join(c.stale)}" for c in cols if c.stale)]
    if todo:
        lines += ["", "Make them (or --run):"]
        lines += ["    OMP_NUM_THREADS=1 " + " ".join(bench_command(c, methods, runs, workers)) for c in todo]
    return "\n".join(lines) + "\n"


def as_json(cols: list[Column]) -> dict[str, Any]:
    """``{bench: {"folder", "sets", "n_clips", "mae_deg": {method: {snr: MAE, "all": MAE}}, "missing",
    "stale"}}``."""
    return {c.title: {"folder": str(c.folder) if c.folder else None, "sets": c.sets, "n_clips": c.n_clips,
                      "mae_deg": {m: {**{k: g["mae_deg"] for k, g in r["groups"].get("snr_db", {}).items()},
                                      "all": r["mae_deg"]} for m, r in c.metrics.items()},
                      "missing": c.missing, "stale": c.stale} for c in cols}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=REPO / "runs", metavar="DIR",
                    help="folder the bench runs write to (default: runs/ of the repository)")
    ap.add_argument("--fsdd", default=None, metavar="DIR",
                    help="FSDD recordings folder of the realistic bench, spelled as in its run (get FSDD: "
                         "git clone https://github.com/Jakobovski/free-spoken-digit-dataset D; DIR is "
                         "D/recordings)")
    names = [b.name for b in BENCHES]
    ap.add_argument("--bench", nargs="+", choices=names, default=names, help="columns to show (default: all)")
    ap.add_argument("-m", "--method", dest="methods", default=",".join(METHODS),
                    help="comma-separated rows (default: the README's nine methods)")
    ap.add_argument("--run", action="store_true",
                    help="first run the benches with missing or stale cells (python -m benchmarks.dev_bench)")
    ap.add_argument("-j", "--workers", type=int, default=2, help="with --run: evaluate worker processes")
    ap.add_argument("--json", action="store_true", help="print the numbers as JSON instead of the table")
    a = ap.parse_args(argv)
    methods = [m for m in a.methods.split(",") if m]
    benches = [b for b in BENCHES if b.name in a.bench]
    fps = current_fingerprints(methods)
    cols = [read_column(a.runs, b, methods, a.fsdd, fps) for b in benches]
    if a.run:
        for c in cols:
            if c.missing or c.stale:
                cmd = [sys.executable, *bench_command(c, methods, a.runs, a.workers)[1:]]
                print("running:", " ".join(cmd[1:]), file=sys.stderr, flush=True)
                rc = subprocess.run(cmd, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}).returncode
                if rc:
                    print(f"{c.title}: the bench run failed (exit {rc})", file=sys.stderr)
        cols = [read_column(a.runs, b, methods, a.fsdd, fps) for b in benches]
    if a.json:
        print(json.dumps(as_json(cols), indent=1))
    else:
        print(report(cols, methods, a.runs, a.workers), end="")
    return 1 if any(c.missing for c in cols) else 0


if __name__ == "__main__":
    sys.exit(main())
