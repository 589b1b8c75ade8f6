"""The code base stays `ruff` clean (rules in pyproject.toml)."""

import subprocess
import sys

from .conftest import REPO


def test_ruff_clean():
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
