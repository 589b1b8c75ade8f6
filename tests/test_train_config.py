"""The config checks shared by `train maa` and `train gcc-phat-sm` (neuroaudio/train/config_io.py)."""

from pathlib import Path

import pytest

from neuroaudio.errors import InputError
from neuroaudio.gcc_phat_sm.config import make_config as gcc_phat_sm_config
from neuroaudio.maa.config import make_config as maa_config

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


@pytest.mark.parametrize("make", [maa_config, gcc_phat_sm_config])
@pytest.mark.parametrize("bad, message", [({"data": {"val_clips": 0}}, "data.val_clips=0"),
                                          ({"train": {"batch_size": 0}}, "train.batch_size must")])
def test_bad_values_are_refused(make, bad, message):
    with pytest.raises(InputError, match=message):
        make(bad)


@pytest.mark.parametrize("make", [maa_config, gcc_phat_sm_config])
def test_sim_path_and_cache_default(make, tmp_path):
    cfg = make({"out_dir": str(tmp_path / "run"), "data": {"sim": "sim_maa_train.yaml"}}, base_dir=PIPELINES)
    assert Path(cfg["data"]["sim"]) == PIPELINES / "sim_maa_train.yaml"     # relative to the pipeline file
    assert Path(cfg["data"]["cache_dir"]) == tmp_path / "run" / "cache"
    cfg = make({"data": {"sim": "missing.yaml", "cache_dir": "c"}}, base_dir=PIPELINES)
    assert cfg["data"]["sim"] == "missing.yaml" and cfg["data"]["cache_dir"] == "c"   # left for the loader
