"""KWS training on a chosen device: config, vectorised SpecAugment masks equal the per-clip loop,
epochs fitted to a time budget, WAV reading without soundfile, the benchmark's parallel runs."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neuroaudio.errors import InputError
from neuroaudio.kws.checkpoint import read_checkpoint
from neuroaudio.kws.config import config_from_dict
from neuroaudio.kws.data import Splits, _read_wav_scipy, read_mono
from neuroaudio.kws.folds import fold_config, train_folds
from neuroaudio.kws.train import resolve_device, spec_mask, train
from neuroaudio.train.budget import fit_epochs as _fit_epochs

from .test_kws import CFG, FS, chirp, chirp_items, fake_fsdd


def spec_mask_loop(feats, freq_mask, time_mask, gen):
    """The per-clip reference (the implementation before it was vectorised)."""
    b, f, t = feats.shape
    out = feats.clone()
    low = feats.amin(dim=(1, 2))
    for i in range(b):
        if freq_mask > 0 and f > freq_mask:
            w = int(torch.randint(0, freq_mask + 1, (1,), generator=gen))
            s = int(torch.randint(0, f - w + 1, (1,), generator=gen))
            out[i, s:s + w] = low[i]
        if time_mask > 0 and t > time_mask:
            w = int(torch.randint(0, time_mask + 1, (1,), generator=gen))
            s = int(torch.randint(0, t - w + 1, (1,), generator=gen))
            out[i, :, s:s + w] = low[i]
    return out


@pytest.mark.parametrize("masks", [(6, 6), (0, 10), (6, 0), (50, 3)])
def test_vectorised_spec_mask_equals_per_clip_loop(masks):
    x = torch.randn(32, 40, 61)
    want = spec_mask_loop(x, *masks, torch.Generator().manual_seed(3))
    got = spec_mask(x, *masks, torch.Generator().manual_seed(3))
    assert torch.equal(got, want)
    assert (got != x).any() or masks == (50, 3)


def test_device_config_is_validated_and_resolved():
    assert config_from_dict({}).train.device == "auto"
    with pytest.raises(InputError, match="train.device"):
        config_from_dict({"train": {"device": "tpu"}})
    with pytest.raises(InputError, match="time_budget_s"):
        config_from_dict({"train": {"time_budget_s": -1}})
    config_from_dict({"train": {"device": "cuda:1"}})
    assert resolve_device("cpu") == torch.device("cpu")
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(InputError, match="no CUDA device"):
            resolve_device("cuda")


def test_fit_epochs_lowers_the_total_to_the_budget():
    rows = [{"seconds": s} for s in (9.0, 2.0, 2.0, 2.0)]
    assert _fit_epochs(100.0, 10.0, 0, 0, rows[:1], 80) == 80        # first epoch: warm-up, no estimate
    assert _fit_epochs(100.0, 11.0, 1, 0, rows[:2], 80) == 2 + 44     # 89 s left at 2 s per epoch
    assert _fit_epochs(100.0, 15.0, 3, 0, rows, 30) == 30              # fits: never raised
    assert _fit_epochs(100.0, 101.0, 3, 0, rows, 80) == 4              # spent: stop after this epoch


def test_time_budget_cuts_a_run_and_a_cut_run_stays_cut(tmp_path):
    cfg_d = {**CFG, "out_dir": str(tmp_path), "train": {**CFG["train"], "epochs": 5, "time_budget_s": 1e-6}}
    sp = Splits(["up", "down"], FS, train=chirp_items(32, 1), val=chirp_items(8, 2), test=chirp_items(8, 3))
    m = train(config_from_dict(cfg_d), resume=True, progress=False, splits=sp)
    ck = read_checkpoint(tmp_path / "last.pt")
    assert m["epochs"] == 1 and ck["epochs_fitted"] == 1 and m["device"] == "cpu"
    assert all(v.device.type == "cpu" for v in ck["state_dict"].values())
    cfg_d["train"] = {**cfg_d["train"], "time_budget_s": 0.0}             # same run, resumed: stays cut
    assert train(config_from_dict(cfg_d), resume=True, progress=False, splits=sp)["epochs"] == 1


def test_wav_is_read_the_same_without_soundfile(tmp_path, monkeypatch):
    from scipy.io import wavfile

    x = (chirp(0, np.random.default_rng(0)) * 2**15).astype(np.int16)
    wavfile.write(tmp_path / "a.wav", FS, np.stack([x, x // 2], 1))
    with_sf = read_mono(tmp_path / "a.wav", FS)
    monkeypatch.setitem(sys.modules, "soundfile", None)                  # import soundfile -> ImportError
    without = read_mono(tmp_path / "a.wav", FS)
    np.testing.assert_array_equal(without, with_sf)
    assert _read_wav_scipy(tmp_path / "a.wav")[0].shape == (len(x), 2)
    (tmp_path / "bad.wav").write_bytes(b"not a wav")
    with pytest.raises(InputError, match="cannot read audio"):
        read_mono(tmp_path / "bad.wav", FS)


def test_parallel_folds_equal_sequential_runs(tmp_path):
    """train_folds(jobs=2) (spawned processes, as `python -m benchmarks.kws_fsdd --jobs 2`) gives the
    runs of an in-process train()."""
    import yaml
    root = fake_fsdd(tmp_path / "fsdd", 6)
    conf = {**CFG, "data": {**CFG["data"], "source": "fsdd", "val_fraction": 0.2},
            "train": {**CFG["train"], "batch_size": 8}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(conf))
    out = tmp_path / "bench"
    train_folds(str(tmp_path / "c.yaml"), str(root), ["drf"], ["jackson"], [0, 1], 1, out,
                ["train.device=cpu"], jobs=2)
    fold = json.loads((out / "summary.json").read_text())["drf"]["jackson"]
    for k, seed in enumerate((0, 1)):
        cfg = fold_config(str(tmp_path / "c.yaml"), str(root), "drf", "jackson", seed, 1, tmp_path / "seq",
                          [])
        m = train(cfg, resume=False, progress=False)
        assert fold["seeds"][k]["test_accuracy"] == m["test_accuracy"]
        assert fold["seeds"][k]["val_accuracy"] == m["val_accuracy"]
    probs = np.load(out / "probs_drf_jackson.npz")
    assert probs["probs"].shape == (2, 12, 10) and "ensemble_accuracy" in fold


@pytest.mark.parametrize("config", ["kws_drf.yaml", "kws_drf_recipe.yaml"])
def test_baseline_folds_clear_the_drf_keyword_arguments(config, tmp_path):
    """`benchmarks.kws_fsdd --kinds alif brf` on a D-RF config: the baselines get their own defaults
    (``model.neuron_kwargs={}`` clears the D-RF's branches/tau/freq instead of merging into them) and
    build; D-RF runs keep them."""
    from neuroaudio.kws.model import KWSNet
    from neuroaudio.train.config_io import deep_merge

    assert deep_merge({"m": {"a": 1}, "n": 2}, {"m": {}}) == {"m": {}, "n": 2}
    assert deep_merge({"m": {"a": 1}}, {"m": {"b": 2}}) == {"m": {"a": 1, "b": 2}}
    path = str(Path(__file__).resolve().parents[1] / "pipelines" / config)
    for kind in ("alif", "brf"):
        cfg = fold_config(path, str(tmp_path), kind, "theo", 0, 1, tmp_path, [])
        assert cfg.model.neuron == kind and cfg.model.neuron_kwargs == {}
        assert sum(p.numel() for p in KWSNet(cfg.model, 40, 10).parameters()) > 0
    drf = fold_config(path, str(tmp_path), "drf", "theo", 0, 1, tmp_path, [])
    assert drf.model.neuron_kwargs["branches"] == 4
