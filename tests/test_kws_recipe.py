"""KWS training-recipe options: VTLP warp, CMVN, espeak training voices, mixup, checkpoint averaging."""

import numpy as np
import pytest
import torch

from neuroaudio.kws.checkpoint import load_model, read_checkpoint
from neuroaudio.kws.config import config_from_dict
from neuroaudio.kws.data import Splits
from neuroaudio.kws.evaluate import evaluate_items
from neuroaudio.kws.frontend import Frontend, mel_points_hz, vtlp_warp
from neuroaudio.kws.train import train

from .test_kws import CFG, FS, chirp, chirp_items


def tone(f_hz, n=4000):
    return torch.from_numpy(np.sin(2 * np.pi * f_hz * np.arange(n) / FS).astype(np.float32))[None]


def test_vtlp_moves_a_tone_to_the_warped_mel_channel_and_keeps_the_band():
    fe = Frontend(config_from_dict({"frontend": {"n_mels": 40, "hop": 128}}).frontend, FS)
    torch.testing.assert_close(fe.warped_filterbank(torch.ones(1))[0], fe.mel, atol=1e-6, rtol=0)
    centres = mel_points_hz(40, FS)[1:-1]
    for alpha in (0.85, 1.15):
        y = fe(tone(1000.0), torch.tensor([alpha]))[0].mean(-1)
        want = int(np.argmin(np.abs(centres - 1000.0 * alpha)))
        assert abs(int(y.argmax()) - want) <= 1
    w = vtlp_warp(torch.linspace(0, 4000, 129, dtype=torch.float64), torch.tensor([0.85, 1.15]), 4000.0)
    assert (w[:, 0] == 0).all() and torch.allclose(w[:, -1], torch.full((2,), 4000.0, dtype=torch.float64))
    assert (w.diff(dim=-1) > 0).all()                          # monotonic: no bin folds back


def test_cmvn_gives_unit_variance_per_channel_over_active_frames():
    fe = Frontend(config_from_dict({"frontend": {"cmn": True, "cvn": True}}).frontend, FS)
    x = torch.from_numpy(np.concatenate([chirp(0, np.random.default_rng(1), dur=0.45)] * 2)[None])
    y = fe(x)
    torch.testing.assert_close(y, fe(7 * x), atol=1e-4, rtol=0)
    std = y.std(-1)                                            # all frames are active here
    assert ((std - 1).abs() < 0.05).float().mean() > 0.8


def test_espeak_training_voices_are_added_to_training_only(tmp_path):
    pytest.importorskip("espeakng_loader")
    from neuroaudio.kws.data import load_splits

    from .test_kws import write_audio
    root = tmp_path / "words"
    rng = np.random.default_rng(0)
    for d, word in enumerate(("nil", "uno")):
        (root / word).mkdir(parents=True)
        for spk in ("ann", "bob"):
            write_audio(root / word / f"{spk}_nohash_0.wav", chirp(d, rng)[:, None], FS)
    cfg = config_from_dict({"data": {"source": "folder", "root": str(root), "test_speakers": ["bob"],
                                     "val_fraction": 0.0,
                                     "max_items": None, "synth_words": ["zero", "one"],
                                     "synth_voices": ["en-us"], "synth_variants": ["", "f2"],
                                     "synth_rates_wpm": [150, 200], "synth_pitches": [50],
                                     "synth_per_word": 3}}).data
    sp = load_splits(cfg)
    synth = [it for it in sp.train if it.speaker.startswith("espeak:")]
    assert len(synth) == 6 and sorted(it.label for it in synth) == [0, 0, 0, 1, 1, 1]
    assert len(sp.test) == 2 and all(it.speaker == "bob" for it in sp.test)
    assert all(0.1 < len(it.audio) / FS < 1.0 for it in synth)
    bad = config_from_dict({"data": {"source": "folder", "root": str(root), "synth_words": ["zero"]}}).data
    with pytest.raises(Exception, match="one word per label"):
        load_splits(bad)


def test_mixup_vtlp_and_checkpoint_averaging_train_and_reload(tmp_path):
    cfg = config_from_dict({**CFG, "out_dir": str(tmp_path),
                            "train": {**CFG["train"], "epochs": 6, "average_last": 3,
                                      "augment": {"speed": [0.95, 1.05], "vtlp": [0.9, 1.1], "mixup": 0.2}}})
    sp = Splits(["up", "down"], FS, train=chirp_items(96, 1), val=chirp_items(24, 2), test=chirp_items(40, 3))
    metrics = train(cfg, resume=False, progress=False, splits=sp)
    ck = read_checkpoint(tmp_path / "model.pt")
    assert ck["metrics"]["averaged_epochs"] == 3 and ck["epoch"] == 6
    last = read_checkpoint(tmp_path / "last.pt")
    w = "blocks.0.conv1.weight"
    assert not torch.equal(ck["state_dict"][w], last["state_dict"][w])     # an average, not the last epoch
    assert metrics["test_accuracy"] >= 0.85
    ev = evaluate_items(load_model(tmp_path / "model.pt"), sp.test)
    assert ev["accuracy"] == pytest.approx(metrics["test_accuracy"]) and ev["probs"].shape == (40, 2)
