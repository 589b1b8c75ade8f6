"""experiments/kws_recipe_gpu/kws_gpu_recipe.py end to end on the CPU with a tiny config: spawned runs,
per-run results, tables whose numbers are those of the runs, resuming, the time limit."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import REPO
from .test_kws import FS, fake_fsdd


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu_recipe")
    root = fake_fsdd(tmp / "fsdd", 8)
    with pytest.MonkeyPatch.context() as mp:   # the spawned runs import it too
        mp.syspath_prepend(str(REPO / "experiments" / "kws_recipe_gpu"))
        import kws_gpu_recipe

        out = tmp / "out"
        argv = ["--root", str(root), "--out", str(out), "--work", str(tmp / "work"), "--device", "cpu",
                "--epochs", "1", "--width", "4", "--max-per-digit", "6", "--kinds", "drf", "--arms",
                "recipe", "no_mvn", "shipped", "--speakers", "jackson", "theo", "--jobs", "4", "--limit",
                "900"]
        assert kws_gpu_recipe.main(argv) == 0
        yield kws_gpu_recipe, root, out, argv


def test_every_run_is_recorded_and_the_tables_are_its_numbers(bench):
    mod, _, out, _ = bench
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 10 and {r["status"] for r in rows} == {"ok"}   # recipe, shipped 2 x 2; ablation 2 x 1
    assert sorted((r["arm"], r["speaker"], r["seed"]) for r in rows if r["arm"] == "no_mvn") == [
        ("no_mvn", "jackson", "0"), ("no_mvn", "theo", "0")]
    runs = {(r["arm"], r["speaker"], int(r["seed"])): json.loads(
        (out / "runs" / r["arm"] / f"drf_{r['speaker']}_s{r['seed']}.json").read_text()) for r in rows}
    assert all(m["n_test"] == 12 and m["epochs"] == 1 for m in runs.values())   # 6 per digit, 2 digits
    summary = {(s["arm"], s["kind"]): s for s in json.loads((out / "summary.json").read_text())}
    rec, abl, old = summary[("recipe", "drf")], summary[("no_mvn", "drf")], summary[("shipped", "drf")]
    assert old["n_ok"] == 4 and old["delta_vs_recipe"] == pytest.approx(np.mean(
        [runs[("shipped", s, n)]["test_accuracy"] - runs[("recipe", s, n)]["test_accuracy"]
         for s in ("jackson", "theo") for n in (0, 1)]))
    from neuroaudio.kws.checkpoint import read_checkpoint

    work = Path(bench[3][bench[3].index("--work") + 1])
    hops = {arm: read_checkpoint(work / arm / "drf_theo_s1" / "model.pt")["config"]["frontend"]["hop"]
            for arm in ("recipe", "shipped")}
    assert hops == {"recipe": 80, "shipped": 128}         # each arm trained its own pipeline
    for spk in ("jackson", "theo"):
        assert rec[spk] == pytest.approx(np.mean([runs[("recipe", spk, s)]["test_accuracy"] for s in (0, 1)]))
    assert rec["seed0_mean"] == pytest.approx(np.mean([runs[("recipe", s, 0)]["test_accuracy"]
                                                       for s in ("jackson", "theo")]))
    assert abl["delta_vs_recipe"] == pytest.approx(np.mean([runs[("no_mvn", s, 0)]["test_accuracy"]
                                                            - runs[("recipe", s, 0)]["test_accuracy"]
                                                            for s in ("jackson", "theo")]))
    assert rec["ensemble_mean"] is None                      # 2 of the 4 speakers: no 4-fold ensemble
    z = [np.load(out / "probs" / f"recipe_drf_jackson_s{s}.npz") for s in (0, 1)]
    assert z[0]["probs"].shape == (12, 10)
    assert float((z[0]["probs"].argmax(-1) == z[0]["labels"]).mean()) == runs[("recipe", "jackson", 0)][
        "test_accuracy"]
    assert sorted(p.name for p in (out / "models").iterdir()) == [
        f"recipe_drf_{s}_s{n}.pt" for s in ("jackson", "theo") for n in (0, 1)]
    text = (out / "summary.txt").read_text()
    assert "no_mvn" in text and f"{100 * rec['mean_acc']:6.2f}%" in text
    assert (out / "runs" / "recipe" / "drf_theo_s1.log.csv").is_file()


def test_a_second_call_keeps_finished_runs_and_the_limit_stops_the_rest(bench, tmp_path):
    mod, root, out, argv = bench
    before = (out / "results.csv").read_text()
    assert mod.main(argv) == 0
    assert json.loads((out / "plan.json").read_text())["to_run"] == 0
    assert (out / "results.csv").read_text() == before
    late = [*argv[:argv.index("--out") + 1], str(tmp_path / "late"),
            *argv[argv.index("--out") + 2:-2], "--limit", "0", "--grace", "0"]
    assert mod.main(late) == 0
    rows = list(csv.DictReader(open(tmp_path / "late" / "results.csv")))
    assert len(rows) == 10 and {r["status"] for r in rows} == {"not started (time limit)"}
    assert "0/4" in (tmp_path / "late" / "summary.txt").read_text()


def test_bad_root_and_arm_are_one_line_errors(bench, tmp_path, capsys):
    mod = bench[0]
    assert mod.main(["--root", str(tmp_path), "--out", str(tmp_path / "o"), "--device", "cpu",
                     "--work", str(tmp_path / "w")]) == 2
    assert mod.main(["--root", str(tmp_path), "--out", str(tmp_path / "o"), "--arms", "no_such"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no FSDD files" in err[0] and "--arms ['no_such']" in err[1]


@pytest.mark.parametrize("extra", [[], ["data.filler_reversed=0.25"]])
def test_cached_recordings_give_the_splits_of_a_fresh_load(bench, tmp_path, extra):
    from neuroaudio.kws.config import load_config
    from neuroaudio.kws.data import load_splits

    mod, root = bench[0], bench[1]
    assert mod.read_fsdd_cache(str(root), tmp_path / "c.npz", FS, None) == 32
    cfg = load_config(REPO / "pipelines" / "kws_drf_recipe.yaml",
                      [f"data.root={root}", "data.test_speakers=[theo]", *extra])
    got, want = mod.cached_splits(tmp_path / "c.npz", cfg), load_splits(cfg.data, cfg.seed)
    assert got.labels == want.labels and len(got.labels) == (11 if extra else 10)
    for part in ("train", "val", "test"):
        a, b = getattr(got, part), getattr(want, part)
        assert [(i.label, i.speaker) for i in a] == [(i.label, i.speaker) for i in b] and a
        assert all(np.array_equal(x.audio, y.audio) for x, y in zip(a, b, strict=True))
    if extra:
        assert sum(it.label == 10 for it in got.train) == 4     # round(0.25 x 14): 16 clips, 2 to validation
