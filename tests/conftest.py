"""Shared test helpers: small synthetic data made on the fly (tests never need ../shared)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# One thread per test process keeps timings honest on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python cli.py ARGS` as a user would; returns the completed process (text)."""
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or REPO, timeout=timeout)


def fractional_delay(x: np.ndarray, delay_samples: float) -> np.ndarray:
    """Delay a 1-D signal by a (fractional) number of samples with an FFT phase ramp.

    Circular: pad the signal first if its ends matter.
    """
    n = len(x)
    f = np.fft.rfftfreq(n)
    return np.fft.irfft(np.fft.rfft(x) * np.exp(-2j * np.pi * f * delay_samples), n)


def plane_wave(array, azimuth_deg: float, signal: np.ndarray, fs: int,
               elevation_deg: float = 0.0) -> np.ndarray:
    """Free-field far-field scene: ``signal`` arriving from a direction, ``[samples, mics]``."""
    t = array.arrival_times_s(azimuth_deg, elevation_deg)
    pad = 256
    s = np.concatenate([signal, np.zeros(pad)])
    x = np.stack([fractional_delay(s, tk * fs) for tk in t], axis=1)[: len(signal)]
    return x.astype(np.float32)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def crash_when_saving_epoch(monkeypatch: pytest.MonkeyPatch, owner, epoch: int):
    """Make ``owner.save(path, ck)`` raise KeyboardInterrupt when it saves epoch ``epoch`` (an
    interrupted run); returns the real ``save``, to put back before resuming."""
    real_save = owner.save

    def crash(path, ck):
        if ck["epoch"] == epoch:
            raise KeyboardInterrupt
        real_save(path, ck)

    monkeypatch.setattr(owner, "save", crash)
    return real_save


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys):
    """``cli(*args)`` → result with returncode/stdout/stderr, through neuroaudio.cli.main in-process
    (faster than a subprocess; :func:`run_cli` runs the installed command)."""
    from neuroaudio.cli import main

    def run(*args):
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        out = capsys.readouterr()
        return _Result(code, out.out, out.err)
    return run


# --- localizer plug-ins: a real installed distribution, without pip -----------------------------
TEST_LOCALIZERS = {"tiny-srp": "tests.eval_localizer:TinySrp",
                   "broken-test": "tests.eval_localizer:Broken"}
"""Entry points of the test distribution (the evaluate tests' small localizers)."""


def install_distribution(root: Path, name: str, entry_points: dict[str, str],
                         group: str = "neuroaudio.localizers") -> Path:
    """Make ``root`` (a sys.path entry) hold an installed distribution ``name`` 0.1 whose
    ``entry_points.txt`` declares ``entry_points`` in ``group``: what pip would leave."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
                                   encoding="utf-8")
    lines = [f"[{group}]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def test_localizers(tmp_path_factory):
    """Install the test localizers (tiny-srp, broken-test) for this module's tests, in this
    process (sys.path) and in the commands it runs (PYTHONPATH)."""
    root = install_distribution(tmp_path_factory.mktemp("plugins"), "neuroaudio_test_localizers",
                                TEST_LOCALIZERS)
    old_env = os.environ.get("PYTHONPATH")
    with pytest.MonkeyPatch.context() as mp:      # undone when the module's tests are done
        mp.syspath_prepend(str(root))
        mp.setenv("PYTHONPATH", os.pathsep.join([str(root), *([old_env] if old_env else [])]))
        yield root
