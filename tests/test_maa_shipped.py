"""The shipped MAA model (data/models/maa_respeaker4.pt): the default of `--method maa`, small,
safe to load, and it localizes the shipped example recording (truth 120°) within 5°."""

from __future__ import annotations

import torch

from neuroaudio.angles import circular_error_deg
from neuroaudio.localize.registry import make_localizer

from .conftest import REPO, run_cli

SHIPPED = REPO / "data" / "models" / "maa_respeaker4.pt"
EXAMPLE = REPO / "data" / "examples" / "respeaker4_az120.wav"


def test_shipped_model_is_the_default_and_describes_itself():
    from neuroaudio.localize import maa

    assert maa.DEFAULT_MODEL is not None and maa.DEFAULT_MODEL.resolve() == SHIPPED.resolve()
    assert SHIPPED.stat().st_size < 10 * 2 ** 20
    ck = torch.load(SHIPPED, weights_only=True)                      # tensors and plain values only
    assert ck["array"]["name"] == "respeaker4" and int(ck["sample_rate_hz"]) == 16000
    assert "optimizer" not in ck and ck["code_revision"]
    assert (SHIPPED.with_suffix(".md")).is_file()


def test_shipped_model_localizes_the_example_within_5_degrees():
    torch.set_num_threads(1)
    res = make_localizer("maa", "respeaker4").localize_file(EXAMPLE)
    assert res.azimuth_deg is not None and circular_error_deg(res.azimuth_deg, 120.0) <= 5.0


def test_localize_command_uses_the_shipped_model_without_model_flag():
    p = run_cli("localize", EXAMPLE, "--array", "respeaker4", "--method", "maa", "--format", "json")
    assert p.returncode == 0, p.stderr
    import json

    az = json.loads(p.stdout)["azimuth_deg"]
    assert circular_error_deg(az, 120.0) <= 5.0
