"""`python -m benchmarks`: the README's localization table is read from the bench runs' per-clip
results under a runs folder, never made up: missing or partial runs are shown as "-" with the
command that makes them, and rows computed by changed code are marked."""

import csv
import json
import subprocess
import sys

import pytest

from neuroaudio.eval.runner import method_fingerprint
from neuroaudio.sim.config import load_config

from .conftest import REPO

SNRS = (-5, 0, 5, 10, 20, 30)
FSDD = "/data/fsdd/recordings"


def cache_tag(config: str, sets: list[str]) -> str:
    from benchmarks.dev_bench import cache_tag as tag

    return tag(REPO / config, sets)


def write_run(folder, errors: dict[str, list[float | None]], fingerprints: dict[str, str]) -> None:
    """A fake evaluate output: predictions.csv (clip i at SNRS[i // (n / 6)]) and run.json."""
    folder.mkdir(parents=True)
    cols = ["path", "azimuth_deg", "snr_db", "method", "pred_azimuth_deg", "error_deg", "confidence",
            "status"]
    with open(folder / "predictions.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for m, errs in errors.items():
            per = len(errs) // len(SNRS) or 1
            for i, e in enumerate(errs):
                w.writerow({"path": f"clips/{i:06d}.wav", "azimuth_deg": 90, "snr_db": SNRS[min(i // per, 5)],
                            "method": m, "pred_azimuth_deg": "" if e is None else 90 + e,
                            "error_deg": "" if e is None else e, "confidence": 0.5,
                            "status": "error: no source detected (null azimuth)" if e is None else "ok"})
    (folder / "run.json").write_text(json.dumps({"fingerprints": fingerprints}), encoding="utf-8")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """dev: gcc-phat (one failed clip at -5 dB) and srp-phat (old code) complete; held-out: nothing;
    realistic on FSDD: gcc-phat on 100 clips only."""
    runs = tmp_path_factory.mktemp("runs")
    n = load_config(REPO / "pipelines/dev_bench.yaml").n_clips
    per = n // len(SNRS)
    gcc = [None] + [3.0] * (per - 1) + [float(k) for k in range(1, 6) for _ in range(per)]
    write_run(runs / "dev_bench" / f"eval_{cache_tag('pipelines/dev_bench.yaml', [])}",
              {"gcc-phat": gcc, "srp-phat": [10.0] * n},
              {"gcc-phat": method_fingerprint("gcc-phat"), "srp-phat": "older code"})
    tag = cache_tag("pipelines/realistic_bench.yaml", [f"source.signal.0.folder={FSDD}"])
    write_run(runs / "realistic_bench" / f"eval_{tag}", {"gcc-phat": [1.0] * 100},
              {"gcc-phat": method_fingerprint("gcc-phat")})
    return runs


def tables(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def test_table_cells_are_the_runs_numbers_and_the_rest_is_said_missing(runs):
    r = tables("--runs", str(runs), "--fsdd", FSDD, "-m", "gcc-phat,srp-phat")
    assert r.returncode == 1, r.stderr                                   # something is missing
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Localization MAE (degrees) at -5 / 0 / 5 / 10 / 20 / 30 dB")
    assert "| method | dev | held-out | realistic |" in lines
    # -5 dB: (39 x 3° + one failed clip at 180°) / 40 = 7.425°; all: (297 + 40 x 15) / 240 = 3.74°
    assert "| gcc-phat | 7.4 1.0 2.0 3.0 4.0 5.0 · **3.7** | - | - |" in lines
    assert "| srp-phat | 10.0 10.0 10.0 10.0 10.0 10.0 · **10.0** * | - | - |" in lines
    out = r.stdout
    assert "- held-out: not run: gcc-phat, srp-phat" in out
    assert "- realistic: 100 of 240 clips: gcc-phat; not run: srp-phat" in out
    assert "* computed by code or a model file that has changed since: dev: srp-phat" in out
    assert ("python -m benchmarks.dev_bench --workers 2 --methods gcc-phat,srp-phat --config "
            f"pipelines/heldout_bench.yaml --root {runs / 'heldout_bench'}") in out
    assert f"--config pipelines/realistic_bench.yaml --root {runs / 'realistic_bench'} --set " \
           f"source.signal.0.folder={FSDD}" in out


def test_json_numbers_and_a_complete_table_exits_0(runs):
    r = tables("--runs", str(runs), "--bench", "dev", "-m", "gcc-phat,srp-phat", "--json")
    assert r.returncode == 0, r.stderr
    dev = json.loads(r.stdout)["dev"]
    assert dev["mae_deg"]["gcc-phat"]["-5"] == pytest.approx(7.425)
    assert dev["mae_deg"]["gcc-phat"]["all"] == pytest.approx(897 / 240, abs=1e-3)
    assert dev["stale"] == ["srp-phat"] and dev["missing"] == {}


def test_realistic_without_fsdd_is_another_bench(runs):
    r = tables("--runs", str(runs), "--bench", "realistic", "-m", "gcc-phat")
    assert "| method | realistic (espeak-ng words) |" in r.stdout
    assert "| gcc-phat | - |" in r.stdout and "not used: " in r.stdout     # the FSDD run is not taken for it


def test_help_teaches():
    r = tables("--help")
    assert r.returncode == 0
    for word in ("--run", "--fsdd", "predictions.csv", "python -m benchmarks.dev_bench", "180°"):
        assert word in r.stdout
