"""neuroaudio.ownership: the output lock and the stale-temporary clean-up, on their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from neuroaudio.errors import InputError
from neuroaudio.ownership import LOCK_NAME, check_output_file, own_output, remove_stale_temps

from .conftest import REPO

HOLDER = """
import sys, time
from neuroaudio.ownership import own_output
with own_output(sys.argv[1], "--out"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_lock_is_reentrant_in_a_process_and_removed_after(tmp_path):
    out = tmp_path / "o"
    with own_output(out), own_output(out):       # a pipeline step inside the pipeline's lock
        assert (out / LOCK_NAME).is_file()
    assert not (out / LOCK_NAME).exists()
    with own_output(out):                         # free again
        pass


def test_other_process_is_refused_until_the_holder_dies_even_by_kill_9(tmp_path):
    out = tmp_path / "o"
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], cwd=REPO, stdout=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match=rf"in use by another run \(pid {p.pid} on "):
            with own_output(out):
                pass
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    assert (out / LOCK_NAME).exists()             # left by the kill, but no longer locked
    with own_output(out):
        pass


def test_stale_temporaries_are_recognised_by_name_only(tmp_path):
    names = [".predictions.csv.ab12_x9z.tmp", ".x.npz.k3j4h5g6.tmp", "notes.tmp", ".bashrc.settings",
             ".x.npz.lock"]
    for n in names:
        (tmp_path / n).write_text("x")
    (tmp_path / ".x.npz.q1w2e3r4").mkdir()        # an older encode's temporary folder
    (tmp_path / ".keepme.abcdefgh").mkdir()       # not ours to judge without a name
    assert remove_stale_temps(tmp_path, "x.npz") == 2
    assert remove_stale_temps(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".bashrc.settings", ".keepme.abcdefgh",
                                                          ".x.npz.lock", "notes.tmp"]


def test_output_file_checks(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_output_file(tmp_path / "f" / "x.png", "--plot")
    with pytest.raises(InputError, match="is a folder"):
        check_output_file(tmp_path, "--plot")
    assert check_output_file(tmp_path / "new" / "deeper" / "x.png", "--plot").name == "x.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]   # the check creates nothing


def test_worker_termination_waits_for_native_callbacks(monkeypatch):
    """SIGTERM inside espeak-ng's ctypes callback would be printed and lost ("Exception ignored"):
    inside termination_deferred it is held and raised when the block ends."""
    from neuroaudio import workers

    monkeypatch.setattr(workers, "_IN_TASK", True)
    monkeypatch.setattr(workers, "_RAISED", False)
    ran_on = []
    with pytest.raises(workers.WorkerTerminated):
        with workers.termination_deferred():
            workers._on_worker_term(signal.SIGTERM, None)     # held, not raised here
            ran_on.append("after the signal")
    assert ran_on == ["after the signal"] and workers._PENDING is False
    monkeypatch.setattr(workers, "_RAISED", False)             # a fresh task
    with pytest.raises(workers.WorkerTerminated):              # outside: at once
        workers._on_worker_term(signal.SIGTERM, None)
    workers._on_worker_term(signal.SIGTERM, None)              # a second SIGTERM during the unwind:
    assert workers._PENDING is True                            # noted, not raised in a finaliser
    with workers.termination_deferred():
        pass                                                   # nor when a deferred block ends
    monkeypatch.setattr(workers, "_PENDING", False)
