"""The README's two set-up commands stay true: CI runs the test one, the main job's files exist."""

import re

from .conftest import REPO


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README must open with a bash block of set-up commands"
    return [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    cmds = _setup_commands()
    assert len(cmds) == 2
    main_job, tests = cmds
    assert "pytest" in tests and "pip install" in tests
    assert tests in (REPO / ".ci" / "run").read_text(encoding="utf-8")
    # the main job localizes a shipped example that exists, with its truth recorded beside it
    wav = re.search(r"(data/examples/\S+\.wav)", main_job)
    assert wav and (REPO / wav.group(1)).is_file()
    assert (REPO / "data" / "examples" / "manifest.csv").is_file()
