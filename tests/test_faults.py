"""Fault suite: batch commands killed, run twice into one folder, rerun; nothing lost, no orphans.

- ``kill -TERM`` and ``kill -KILL`` of the parent of ``evaluate --workers 2`` and of
  ``simulate --workers 2`` mid-run: no process of the run is left (its session, /proc), no
  temporary file is left beside the outputs, and finishing the run (``--resume``; ``simulate``
  resumes by itself) gives exactly the outputs of an uninterrupted run.
- Two runs into one ``--out``: the second is refused (exit 2, one line naming the first's pid)
  and the first finishes intact. A rerun without ``--resume`` into a folder holding results is
  refused; ``--overwrite`` starts afresh.
- ``encode`` stopped with ``kill -TERM`` or killed with ``kill -KILL`` on a long file leaves no
  temporary data; the next run removes what an older version or a kill during the final write
  left. ``pipeline run`` refuses an ``out_dir`` in use. Without prctl, the thread that watches
  the parent still ends the workers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neuroaudio.arrays import load_array
from neuroaudio.audio.io import write_audio
from neuroaudio.errors import InputError
from neuroaudio.eval.runner import JOURNAL, evaluate
from neuroaudio.ownership import LOCK_NAME, own_output

from .conftest import REPO, plane_wave, run_cli
from .sim_helpers import config_dict, write_config
from .test_eval_runner import TINY, make_manifest

pytestmark = pytest.mark.usefixtures("test_localizers")
N_SIM = 12
SIM = config_dict(duration_s=1.0, clips_per_snr=N_SIM // 2, room={"max_order": 40, "rt60_s": [0.6, 0.8]})
"""12 clips in 6 rooms, each room slow enough (~0.2 s) that a kill lands mid-run."""


def session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()     # state, ppid, pgrp, session, ...
        if int(fields[3]) == sid and fields[0] not in "ZX":
            out.append(int(d))
    return out


def wait_session_gone(sid: int, timeout_s: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := session_processes(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def end_of(p: subprocess.Popen) -> tuple[int, list[int], str]:
    """Wait for the killed command; return its exit status, the processes of its session still
    alive after 15 s (then killed, so a failing test leaves none), and its stderr."""
    rc = p.wait(timeout=30)
    left = wait_session_gone(p.pid)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, err = p.communicate(timeout=30)    # an orphan would hold the pipes open: after the kill
    return rc, left, err


def start(args: list[str], env: dict | None = None) -> subprocess.Popen:
    """Start the CLI in a session of its own (its id = its pid), so its workers can be found."""
    return subprocess.Popen([sys.executable, str(REPO / "cli.py"), *map(str, args)], cwd=REPO,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(cond, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


# --- workers ----------------------------------------------------------------------------------
FALLBACK = """
import os, sys, time
from concurrent.futures import ProcessPoolExecutor
import neuroaudio.workers as w

w._set_pdeathsig = lambda sig: None     # no prctl: only the watching thread is left


def init(pid):
    w.guard_worker(pid)


def task():
    time.sleep(60)


if __name__ == "__main__":
    ex = ProcessPoolExecutor(2, initializer=init, initargs=(os.getpid(),))
    futs = [ex.submit(w.run_task, task) for _ in range(2)]
    print("ready", flush=True)
    time.sleep(60)
"""


def test_workers_end_with_the_parent_without_prctl(tmp_path):
    """The portable fallback (a thread watching the parent) alone ends the workers of a parent
    killed with kill -9, within a second or so."""
    script = tmp_path / "pool.py"
    script.write_text(FALLBACK, encoding="utf-8")
    p = subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.stdout.readline().strip() == "ready"
    wait_for(lambda: len(session_processes(p.pid)) >= 3, 30)
    os.kill(p.pid, signal.SIGKILL)
    t0 = time.monotonic()
    rc, left, _ = end_of(p)
    assert rc == -signal.SIGKILL and left == []
    assert time.monotonic() - t0 < 10


# --- evaluate ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def eval_case(tmp_path_factory, test_localizers):
    """A manifest and the outputs of an uninterrupted run over it."""
    d = tmp_path_factory.mktemp("eval")
    man = make_manifest(d, np.random.default_rng(5))
    evaluate(man, "respeaker4", [TINY], d / "reference", plots=False, progress=False)
    return man, d / "reference"


def eval_args(man, out, *extra):
    return ["evaluate", man, "--array", "respeaker4", "--method", TINY, "--out", out, "--quiet",
            "--no-plots", *extra]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_killed_evaluate_leaves_no_workers_and_resumes_to_the_same_result(tmp_path, eval_case, sig):
    man, ref = eval_case
    out = tmp_path / "out"
    p = start(eval_args(man, out, "--workers", "2"), {"NEUROAUDIO_TEST_SLOW_S": "0.4"})
    journal = out / JOURNAL
    wait_for(lambda: journal.exists() and len(journal.read_text().splitlines()) >= 2)
    assert len(session_processes(p.pid)) >= 3          # the parent and its 2 workers
    os.kill(p.pid, sig)
    rc, left, err = end_of(p)
    assert left == []                                  # no orphan worker
    if sig == signal.SIGTERM:                          # handled like Ctrl-C, with the hint
        assert rc == 130 and "add --resume" in err and "Traceback" not in err, err
        assert not (out / LOCK_NAME).exists()
    else:
        assert rc == -signal.SIGKILL
    done = len(journal.read_text().splitlines())
    assert 2 <= done < 8 and not (out / "predictions.csv").exists()
    assert temp_files(out) == []
    r = run_cli(*eval_args(man, out, "--workers", "2", "--resume"), timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"{8 - done} computed, {done} reused" in r.stderr
    assert (out / "predictions.csv").read_text() == (ref / "predictions.csv").read_text()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in ref.iterdir())


def test_second_run_into_the_same_out_is_refused_and_the_first_finishes(tmp_path, eval_case):
    man, ref = eval_case
    out = tmp_path / "out"
    gate = tmp_path / "go"
    first = start(eval_args(man, out), {"NEUROAUDIO_TEST_GATE": str(gate)})   # held on row 1
    wait_for(lambda: (out / LOCK_NAME).exists() and (out / LOCK_NAME).read_text().endswith("\n"))
    for extra in ([], ["--overwrite"]):
        r = run_cli(*eval_args(man, out, *extra), timeout=120)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert "in use by another run" in lines[0] and f"pid {first.pid} " in lines[0], lines[0]
        assert "evaluate" in lines[0]                  # the running command is named
    assert first.poll() is None
    gate.touch()
    assert first.wait(timeout=120) == 0, first.communicate()[1]
    assert (out / "predictions.csv").read_text() == (ref / "predictions.csv").read_text()
    assert not (out / LOCK_NAME).exists() and not (out / JOURNAL).exists()


def test_rerun_without_resume_is_refused_and_overwrite_starts_afresh(tmp_path, eval_case):
    man, ref = eval_case
    out = tmp_path / "out"
    evaluate(man, "respeaker4", [TINY], out, plots=False, progress=False)
    before = (out / "predictions.csv").read_bytes()
    (out / JOURNAL).write_text('{"i": 0}\n')            # an interrupted run's journal, too
    r = run_cli(*eval_args(man, out), timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "--resume" in lines[0] and "--overwrite" in lines[0] and "predictions.csv" in lines[0]
    assert (out / "predictions.csv").read_bytes() == before and (out / JOURNAL).exists()
    with pytest.raises(InputError, match="give one of them"):
        evaluate(man, "respeaker4", [TINY], out, resume=True, overwrite=True, progress=False)
    r = run_cli(*eval_args(man, out, "--overwrite"), timeout=120)
    assert r.returncode == 0 and "8 computed, 0 reused" in r.stderr, r.stderr
    assert (out / "predictions.csv").read_bytes() == before and not (out / JOURNAL).exists()


# --- simulate ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim_case(tmp_path_factory):
    """A simulator config and the files of an uninterrupted run (in this process, 1 worker)."""
    from neuroaudio.sim.config import load_config
    from neuroaudio.sim.run import simulate

    d = tmp_path_factory.mktemp("sim")
    cfg = write_config(d / "sim.yaml", SIM)
    simulate(load_config(cfg), d / "reference")
    return cfg, d / "reference"


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_killed_simulate_leaves_no_workers_and_resumes_to_the_same_files(tmp_path, sim_case, sig):
    cfg, ref = sim_case
    out = tmp_path / "out"
    p = start(["simulate", cfg, "--out", out, "--workers", "2", "-q"])
    wait_for(lambda: (out / "clips").is_dir() and any((out / "clips").glob("*.wav")))
    os.kill(p.pid, sig)
    rc, left, err = end_of(p)
    assert left == []                                  # workers (and the fork server) ended
    assert rc == (130 if sig == signal.SIGTERM else -signal.SIGKILL), err
    assert "Traceback" not in err
    written = sorted((out / "clips").glob("*.wav"))
    assert 1 <= len(written) < N_SIM                   # killed mid-run
    time.sleep(0.5)
    assert sorted((out / "clips").glob("*.wav")) == written    # nothing writes after the parent
    assert temp_files(out) == []
    r = run_cli("simulate", cfg, "--out", out, "-q", timeout=300)     # any --workers: same files
    assert r.returncode == 0, r.stderr
    assert f"{N_SIM - len(written)} clips written, {len(written)} already there" in r.stderr
    assert files_of(out) == files_of(ref)              # byte-identical to an uninterrupted run


def test_simulate_and_encode_refuse_an_output_in_use(tmp_path, sim_case):
    cfg, _ = sim_case
    with own_output(tmp_path / "sim", "--out"):
        r = run_cli("simulate", cfg, "--out", tmp_path / "sim", "-q", timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and f"pid {os.getpid()} " in lines[0], r.stderr
    assert sorted(p.name for p in (tmp_path / "sim").iterdir()) == []
    wav = tmp_path / "a.wav"
    write_audio(wav, np.zeros((8000, 4), np.float32), 16000)
    with own_output(tmp_path / "x.npz", "--out", is_dir=False):
        r = run_cli("encode", wav, "--out", tmp_path / "x.npz", timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "in use by another run" in lines[0], r.stderr
    assert not (tmp_path / "x.npz").exists()


def test_pipeline_refuses_an_out_dir_in_use(tmp_path):
    out = tmp_path / "pipe"
    with own_output(out, "out_dir"):
        r = run_cli("pipeline", "run", "pipelines/maa.yaml", "--set", f"out_dir={out}",
                    "--steps", "report", timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and f"pid {os.getpid()} " in lines[0], r.stderr
    assert sorted(p.name for p in out.iterdir()) == []        # no report written


# --- encode --------------------------------------------------------------------------------------
def test_killed_encode_leaves_no_temporary_data(tmp_path):
    rng = np.random.default_rng(2)
    long_wav = tmp_path / "long.wav"
    write_audio(long_wav, plane_wave(load_array("respeaker4"), 30.0,
                                     0.1 * rng.standard_normal(30 * 16000), 16000), 16000)
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def writing_rows(p) -> bool:      # the row files exist, open, with no name in the folder
        try:
            links = [os.readlink(f"/proc/{p.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{p.pid}/fd")]
        except OSError:
            return False
        return any(ln.startswith(str(out_dir)) and ln.endswith("(deleted)") for ln in links)

    p = start(["encode", long_wav, "--out", out_dir / "x.npz"])
    wait_for(lambda: writing_rows(p))
    os.kill(p.pid, signal.SIGTERM)                      # like Ctrl-C: a clean stop, nothing left
    rc, _, err = end_of(p)
    assert rc == 130 and "Traceback" not in err, err
    assert sorted(q.name for q in out_dir.iterdir()) == []
    p = start(["encode", long_wav, "--out", out_dir / "x.npz"])
    wait_for(lambda: writing_rows(p))
    os.kill(p.pid, signal.SIGKILL)
    end_of(p)
    assert sorted(q.name for q in out_dir.iterdir()) == [".x.npz.lock"]   # unlocked, harmless
    # what a kill during the final write, or an older version's temporary folder, leaves
    (out_dir / ".x.npz.a1b2c3d4.tmp").write_bytes(b"partial zip")
    (out_dir / ".x.npz.zz_9y8x7").mkdir()
    (out_dir / ".x.npz.zz_9y8x7" / "0.raw").write_bytes(b"\0" * 1000)
    (out_dir / "notes.tmp").write_text("a user's file: kept")
    short = tmp_path / "short.wav"
    write_audio(short, np.zeros((8000, 4), np.float32), 16000)
    r = run_cli("encode", short, "--out", out_dir / "x.npz", timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(q.name for q in out_dir.iterdir()) == ["notes.tmp", "x.npz"]
    with np.load(out_dir / "x.npz") as z:
        assert z["coincidence"].ndim == 5
