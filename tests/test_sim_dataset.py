"""The on-the-fly torch Dataset: deterministic per index, equal to the files of `simulate`."""

from __future__ import annotations

import csv

import numpy as np
import soundfile as sf
import torch

from neuroaudio.sim.config import parse_config
from neuroaudio.sim.dataset import SimulatedScenes
from neuroaudio.sim.run import simulate

from .sim_helpers import config_dict


def test_dataset_is_deterministic_and_matches_the_files(tmp_path):
    cfg = parse_config(config_dict())
    a = SimulatedScenes(cfg)
    assert len(a) == 4
    x3, lab3 = a[3]
    x0, lab0 = a[0]
    b = SimulatedScenes(cfg, cache_rooms=1)
    y0, _ = b[0]   # other order, other cache: same samples
    y3, _ = b[3]
    assert torch.equal(x0, y0) and torch.equal(x3, y3)
    assert x0.dtype == torch.float32 and x0.shape == (cfg.n_samples, 4)
    c = SimulatedScenes(cfg, seed=123)
    assert not torch.equal(c[0][0], x0)
    simulate(cfg, tmp_path, limit=4)
    rows = list(csv.DictReader((tmp_path / "manifest.csv").read_text().splitlines()))
    for x, lab, row in ((x0, lab0, rows[0]), (x3, lab3, rows[3])):
        w, _ = sf.read(tmp_path / row["path"], dtype="float32")
        assert np.abs(w - x.numpy()).max() <= 1.0 / 32768 + 1e-7  # 16-bit rounding only
        assert abs(lab["azimuth_deg"] - float(row["azimuth_deg"])) < 1e-3
        assert lab["snr_db"] == float(row["snr_db"])
        assert abs(lab["rt60_measured_s"] - float(row["rt60_measured_s"])) <= 5e-5  # rounded to 4 places
        assert abs(lab["snr_active_db"] - float(row["snr_active_db"])) <= 5e-5
        assert lab["speech_onset_s"] == float(row["speech_onset_s"])
    loader = torch.utils.data.DataLoader(a, batch_size=2)
    xb, lb = next(iter(loader))
    assert xb.shape == (2, cfg.n_samples, 4) and torch.equal(xb[0], x0)
    assert lb["azimuth_deg"].shape == (2,)
