"""`neuroaudio evaluate` through the command line: table, exit codes, kill -9 and --resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import REPO, run_cli
from .test_eval_runner import TINY, make_manifest, read_csv

pytestmark = pytest.mark.usefixtures("test_localizers")


def test_bad_manifest_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("path,snr_db\na.wav,10\n", encoding="utf-8")
    r = run_cli("evaluate", bad, "--array", "respeaker4", "--method", TINY, "--out", tmp_path / "o")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "azimuth_deg" in lines[0] and "add it" in lines[0]
    r = run_cli("evaluate", tmp_path / "nope.csv", "--array", "respeaker4", "--method", TINY,
                "--out", tmp_path / "o")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no such file" in r.stderr


def test_kill_9_then_resume_finishes_without_redoing_rows(tmp_path, rng):
    import numpy as np

    man = make_manifest(tmp_path, rng)          # 8 rows: 6 clips, a corrupt and a missing file
    out = tmp_path / "out"
    counter = tmp_path / "count.txt"
    env = {**os.environ, "NEUROAUDIO_TEST_COUNTER": str(counter), "NEUROAUDIO_TEST_SLOW_S": "0.3"}
    args = [sys.executable, str(REPO / "cli.py"), "evaluate", str(man), "--array", "respeaker4",
            "--method", TINY, "--out", str(out), "--quiet"]
    proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    journal = out / "predictions.journal.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    journaled = [json.loads(ln) for ln in journal.read_text().splitlines()]
    done = len(journaled)
    left = {f"clip{k}.wav" for k in range(6)} - {j["path"] for j in journaled}
    assert 2 <= done < 8 and not (out / "predictions.csv").exists()
    computed = len(counter.read_text().splitlines())
    env["NEUROAUDIO_TEST_SLOW_S"] = "0"
    r = subprocess.run(args[:-1] + ["--resume", "--group-by", "room"], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"{8 - done} computed, {done} reused" in r.stderr
    # exactly the clips not journaled when the kill came ran on resume, no others
    assert len(counter.read_text().splitlines()) - computed == len(left)
    header, rows = read_csv(out / "predictions.csv")
    assert len(rows) == 8 and header[-5:] == ["method", "pred_azimuth_deg", "error_deg",
                                                "confidence", "status"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 6 and max(float(r["error_deg"]) for r in ok) <= 2.0
    assert np.isfinite([float(r["pred_azimuth_deg"]) for r in ok]).all()
    # the terminal table: per method x SNR, and per room
    assert "SNR (dB)" in r.stdout and "ACC@10" in r.stdout and "room" in r.stdout
    assert not journal.exists()
