"""The project's development benchmark: every classical localizer on ``pipelines/dev_bench.yaml``.

Steps:

1. Simulate the scenes of ``pipelines/dev_bench.yaml`` (respeaker4, RT60 0.15-0.7 s, speech,
   SNR -5 … 30 dB, 40 clips per SNR, 1.2 s) with ``neuroaudio simulate`` into
   ``runs/dev_bench/clips_<hash of the config file>/``. The simulator skips complete clips, so
   reruns reuse the cache; an edited config gets a new folder.
2. ``neuroaudio evaluate`` (the library call) every method on the manifest into
   ``runs/dev_bench/eval_<hash>/`` with ``--resume``: rows already done are kept, except those of
   a method whose code changed since (evaluate's fingerprint check), which run again.
3. Print MAE, ACC@5° and ACC@10° per method × SNR, write them as markdown to
   ``runs/dev_bench/dev_bench.md`` and check the targets of issue 3: ``gcc-phat`` and ``srp-phat``
   each at least as accurate (MAE) as ``pra-srp`` at every SNR, and within 1° MAE of
   ``pra-normmusic`` at SNR >= 10 dB.

Other benches with ``--config`` and ``--root`` (e.g. ``pipelines/heldout_bench.yaml``,
``pipelines/realistic_bench.yaml``). When the manifest has a ``speech_kind`` column with more than
one value (realistic_bench: ``short`` utterances and ``sentence``), the tables are repeated for each
kind; on realistic_bench the targets of issue 18 are checked instead of issue 3's.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.dev_bench --workers 2
    # a quick timing check on a subset spread evenly over the SNRs:
    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.dev_bench --limit 12
    # the realistic bench, short utterances from FSDD digits (a folder of recordings):
    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.dev_bench --config pipelines/realistic_bench.yaml \
        --root runs/realistic_bench --set source.signal.0.folder=/ABSOLUTE/PATH/fsdd/recordings
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent

from neuroaudio.eval.metrics import compute_metrics  # noqa: E402
from neuroaudio.eval.report import wide_markdown_table  # noqa: E402
from neuroaudio.eval.runner import evaluate, read_manifest  # noqa: E402
from neuroaudio.localize.registry import method_names  # noqa: E402

CLASSICAL = ("gcc-phat", "srp-phat")
"""Our classical methods; every registered ``pra-*`` method joins them as a peer reference."""


def classical_methods() -> list[str]:
    names = method_names()
    return [m for m in names if m in CLASSICAL] + [m for m in names if m.startswith("pra-")]


def cache_tag(config: Path, sets: list[str]) -> str:
    """The 8 hex digits naming a bench's ``clips_<tag>/`` and ``eval_<tag>/`` folders: a hash of the
    config file's bytes and the ``--set`` items, so an edited config gets new clips instead of a refusal."""
    h = hashlib.sha1(config.read_bytes())
    for item in sets:
        h.update(b"\0" + item.encode())
    return h.hexdigest()[:8]


def simulate(config: Path, clips: Path, workers: int, limit: int | None = None,
             sets: list[str] | None = None) -> Path:
    """Run (or resume) the simulator (the first ``limit`` clips only, if given); the manifest."""
    manifest = clips / "manifest.csv"
    cmd = [sys.executable, str(REPO / "cli.py"), "simulate", str(config), "--out", str(clips),
           "--workers", str(workers)] + (["--limit", str(limit)] if limit else [])
    for item in sets or []:
        cmd += ["--set", item]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO)
    if r.returncode != 0 or not manifest.is_file():
        sys.exit(f"dev_bench: `{' '.join(cmd)}` failed (exit {r.returncode})")
    print(f"simulate: {time.perf_counter() - t0:.1f} s (cached clips are reused)", file=sys.stderr)
    return manifest


def subset_manifest(manifest: Path, limit: int) -> Path:
    """A manifest of about ``limit`` rows: the first rows of each SNR in turn (every SNR appears)."""
    man = read_manifest(manifest)
    by_snr: dict[str, list[int]] = {}
    for i, r in enumerate(man.rows):
        by_snr.setdefault(r.get("snr_db", ""), []).append(i)
    per = max(1, limit // len(by_snr))
    picked = sorted(i for rows in by_snr.values() for i in rows[:per])
    out = manifest.with_name(f"manifest_subset{limit}.csv")
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=man.columns)
        w.writeheader()
        w.writerows(man.rows[i] for i in picked)
    return out


def code_revision() -> str:
    """HEAD's short hash, noting uncommitted changes under neuroaudio/ (the numbers' code)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "neuroaudio"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes under neuroaudio/" if dirty else "")


def check_targets(metrics: dict) -> list[str]:
    """Lines stating each target of issue 3 and whether it holds, with the margin (degrees)."""
    lines = []
    snr = lambda m: m["groups"].get("snr_db", {})  # noqa: E731
    for ours in CLASSICAL:
        if ours not in metrics:
            continue
        for ref, rule in (("pra-srp", "all"), ("pra-normmusic", ">=10")):
            if ref not in metrics:
                lines.append(f"- {ours} vs {ref}: {ref} not registered, not checked")
                continue
            for key, g in snr(metrics[ours]).items():
                r = snr(metrics[ref]).get(key)
                if r is None or g["mae_deg"] is None or r["mae_deg"] is None:
                    continue
                if rule == "all":
                    ok = g["mae_deg"] <= r["mae_deg"]
                    margin = r["mae_deg"] - g["mae_deg"]
                    lines.append(f"- {'PASS' if ok else 'FAIL'} {ours} MAE {g['mae_deg']:.2f}° <= {ref} "
                                 f"{r['mae_deg']:.2f}° at {key} dB (margin {margin:+.2f}°)")
                else:
                    try:
                        if float(key) < 10:
                            continue
                    except ValueError:
                        continue
                    ok = g["mae_deg"] <= r["mae_deg"] + 1.0
                    lines.append(f"- {'PASS' if ok else 'FAIL'} {ours} MAE {g['mae_deg']:.2f}° <= {ref} "
                                 f"{r['mae_deg']:.2f}° + 1° at {key} dB "
                                 f"(margin {r['mae_deg'] + 1.0 - g['mae_deg']:+.2f}°)")
    return lines


ISSUE18_PRA = ("pra-music", "pra-normmusic", "pra-srp", "pra-tops", "pra-cssm", "pra-waves")


def check_targets_18(metrics: dict) -> list[str]:
    """Issue 18's targets on the realistic bench: ``gcc-phat`` below every ``pra-*`` method at every
    SNR >= 5 dB, ``gcc-phat-sm`` below every classical method at every SNR (MAE, margins in °)."""
    snr = lambda m: m["groups"].get("snr_db", {})  # noqa: E731
    lines = []
    rules = (("gcc-phat", [m for m in metrics if m.startswith("pra-")], 5.0),
             ("gcc-phat-sm", [m for m in metrics if m in CLASSICAL or m.startswith("pra-")], None))
    for ours, refs, lo in rules:
        if ours not in metrics or not refs:
            lines.append(f"- {ours}: not run (or no reference method run), not checked")
            continue
        for key, g in snr(metrics[ours]).items():
            try:
                if lo is not None and float(key) < lo:
                    continue
            except ValueError:
                continue
            best = min(((snr(metrics[r]).get(key, {}).get("mae_deg"), r) for r in refs
                        if snr(metrics[r]).get(key, {}).get("mae_deg") is not None), default=None)
            if best is None or g["mae_deg"] is None:
                continue
            ok = g["mae_deg"] < best[0]
            lines.append(f"- {'PASS' if ok else 'FAIL'} {ours} MAE {g['mae_deg']:.2f}° < best of "
                         f"{', '.join(refs)} ({best[1]} {best[0]:.2f}°) at {key} dB "
                         f"(margin {best[0] - g['mae_deg']:+.2f}°)")
    return lines


def kind_sections(res, methods: list[str], column: str = "speech_kind") -> list[str]:
    """MAE and ACC@10° per SNR for each value of ``column`` (none when it has fewer than 2 values)."""
    kinds = list(dict.fromkeys(r.get(column, "") for r in res.rows if r.get(column, "")))
    if len(kinds) < 2:
        return []
    parts = [f"## Split by `{column}`\n"]
    for k in kinds:
        rows = [r for r in res.rows if r.get(column) == k]
        m = compute_metrics(rows, methods)
        n = len(rows) // len(methods)
        parts += [f"### {column} = {k} ({n} clips): MAE (degrees) per SNR\n",
                  wide_markdown_table(m, "mae_deg"),
                  f"### {column} = {k}: ACC@10° (%) per SNR\n", wide_markdown_table(m, "acc10", scale=100)]
    return parts


def subset_section(full, subset_dir: Path) -> list[str]:
    """Markdown tables of every method on the clips of a subset run: the full run's rows for
    those clips plus the subset run's rows of methods the full run lacks."""
    pred = subset_dir / "predictions.csv"
    if not pred.is_file():
        return [f"(no subset run in {subset_dir})\n"]
    with open(pred, newline="", encoding="utf-8") as f:
        sub = list(csv.DictReader(f))
    paths = {r["path"] for r in sub}
    extra = [m for m in dict.fromkeys(r["method"] for r in sub) if m not in full.methods]
    rows = [r for r in full.rows if r["path"] in paths] + [r for r in sub if r["method"] in extra]
    m = compute_metrics(rows, full.methods + extra)
    sub_m = json.loads((subset_dir / "metrics.json").read_text(encoding="utf-8"))
    times = [f"Processing time per clip of {e}: {1000 * sub_m[e]['time_per_clip_s']:.0f} ms (one process)\n"
             for e in extra if sub_m.get(e, {}).get("time_per_clip_s") is not None]
    n = len(paths)
    return [f"## All methods on the {n}-clip subset ({', '.join(extra)} run on it only)\n",
            "MAE (degrees):\n", wide_markdown_table(m, "mae_deg"),
            "ACC@10° (%):\n", wide_markdown_table(m, "acc10", scale=100)] + times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "pipelines" / "dev_bench.yaml")
    ap.add_argument("--root", type=Path, default=REPO / "runs" / "dev_bench",
                    help="cache and output folder")
    ap.add_argument("--array", default="respeaker4")
    ap.add_argument("--methods", default="", help="comma-separated (default: gcc-phat, srp-phat, pra-*)")
    ap.add_argument("--workers", type=int, default=2, help="evaluate worker processes")
    ap.add_argument("--sim-workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None,
                    help="evaluate only this many clips, spread over the SNRs (timing check)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="simulator config override (neuroaudio simulate --set), e.g. "
                         "source.signal.0.folder=/data/fsdd/recordings; part of the cache key")
    ap.add_argument("--clips", type=Path, default=None,
                    help="folder of the simulated clips (default: ROOT/clips_<hash of config and --set>); "
                         "resumed and reused like the default")
    ap.add_argument("--with-subset", type=int, default=None, metavar="N",
                    help="also tabulate every method on the clips of an earlier `--limit N` run "
                         "(e.g. a slow method run on a subset only), side by side")
    args = ap.parse_args()

    methods = [m for m in args.methods.split(",") if m] or classical_methods()
    tag = cache_tag(args.config, args.sets)
    manifest = simulate(args.config, args.clips or args.root / f"clips_{tag}", args.sim_workers, args.limit,
                        args.sets)
    out = args.root / f"eval_{tag}"
    if args.limit:
        manifest = subset_manifest(manifest, args.limit)
        out = args.root / f"eval_{tag}_subset{args.limit}"
    t0 = time.perf_counter()
    res = evaluate(manifest, args.array, methods, out, workers=args.workers, resume=True)
    wall = time.perf_counter() - t0
    n_clips = len(res.rows) // len(methods)

    m = res.metrics
    out_name = out.relative_to(REPO) if out.is_relative_to(REPO) else out
    cfg_name = args.config.relative_to(REPO) if args.config.is_relative_to(REPO) else args.config
    bench = args.config.stem
    realistic = bench == "realistic_bench"
    parts = [f"# {bench}: {n_clips} clips of `{cfg_name}`"
             + (f" with `--set {' --set '.join(args.sets)}`" if args.sets else "")
             + f", array {args.array}\n",
             f"Code: {code_revision()}; method fingerprints in `{out_name}/run.json`.\n",
             "Failed rows (unreadable clip, method error, or no source detected) count as 180°.\n",
             "## MAE (degrees) per SNR\n", wide_markdown_table(m, "mae_deg"),
             "## ACC@5° (%) per SNR\n", wide_markdown_table(m, "acc5", scale=100),
             "## ACC@10° (%) per SNR\n", wide_markdown_table(m, "acc10", scale=100),
             "## Median error (degrees) per SNR\n", wide_markdown_table(m, "median_error_deg"),
             "## Failed rows\n", wide_markdown_table(m, "n_failed", digits=0),
             "## Processing time per clip (ms, one process)\n",
             wide_markdown_table(m, "time_per_clip_s", scale=1000, digits=1),
             *kind_sections(res, methods),
             *(["## Targets (issue 18)\n", "\n".join(check_targets_18(m)) + "\n"] if realistic else
               ["## Targets (issue 3)\n", "\n".join(check_targets(m)) + "\n"]),
             f"\nEvaluate wall time: {wall:.1f} s for {res.n_computed} computed rows "
             f"({res.n_reused} reused), {args.workers} workers.\n",
             "\nReproduce: `OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.dev_bench --workers 2"
             + (f" --config {cfg_name} --root {args.root}" if bench != "dev_bench" else "")
             + (f" --clips {args.clips}" if args.clips else "")
             + "".join(f" --set {x}" for x in args.sets)
             + (f" --limit {args.limit}" if args.limit else "")
             + (f" --methods {args.methods}" if args.methods else "")
             + (f" --with-subset {args.with_subset}" if args.with_subset else "") + "`\n"]
    if args.with_subset and not args.limit:
        parts += subset_section(res, args.root / f"eval_{tag}_subset{args.with_subset}")
    text = "\n".join(parts)
    print(text)
    name = bench + (f"_{tag}" if args.sets else "")  # runs with other --set values keep their own report
    report = args.root / (f"{name}_subset{args.limit}.md" if args.limit else f"{name}.md")
    from neuroaudio.io_utils import write_text_atomic

    write_text_atomic(report, text)
    print(f"wrote {report} and {out}/", file=sys.stderr)


if __name__ == "__main__":
    main()
