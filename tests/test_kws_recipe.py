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



def test_cmvn_stays_bounded_on_zero_padding_and_is_padding_and_batch_invariant(monkeypatch):
    """A 0.45 s word in 3 s of zeros (85% padding): the padded frames sit at the floor, 80 dB down,
    i.e. tens of active-frame standard deviations below the mean in narrow channels; CMVN clamps them
    to -CVN_CLIP while the active frames keep zero mean and unit variance per channel, unchanged by the
    amount of padding or by the other clips in the batch (windows are batched freely when streaming)."""
    from neuroaudio.kws.frontend import CVN_CLIP

    fe = Frontend(config_from_dict({"frontend": {"cmn": True, "cvn": True}}).frontend, FS)
    hop = fe.cfg.hop
    word = chirp(0, np.random.default_rng(2), dur=0.45)
    word = word[:len(word) // hop * hop]
    pad = 80 * hop                                             # 0.8 s of zeros each side
    x = np.zeros(len(word) + 2 * pad + 40 * hop, np.float32)  # and another 0.4 s at the end
    x[pad:pad + len(word)] = word
    y = fe(torch.from_numpy(x)[None])[0]                       # [F, T]
    assert CVN_CLIP == 5.0 and y.abs().max() <= CVN_CLIP < 10
    spec = torch.stft(torch.from_numpy(x), fe.cfg.n_fft, hop, window=fe.window, center=False,
                      return_complex=True).abs().pow(2)
    frame_db = 10 / np.log(10) * (fe.mel @ spec + 1e-12).log().amax(0)   # [T], dB
    active = (frame_db - frame_db.max()) > -40
    assert 0.05 < active.float().mean() < 0.25                 # mostly padding
    ya = y[:, active]
    assert ya.mean(-1).abs().max() < 1e-4                      # zero mean per channel over active frames
    std = ya.std(-1, unbiased=False)
    assert ((std - 1).abs() < 0.05).float().mean() > 0.8       # unit variance (bar 1-dB-floored channels)
    assert y[:, :pad // hop - 2].max() < -1.0                  # padding stays well below the speech
    # without the clamp (the old CMVN) the padding of the narrowest channels falls below -10
    from neuroaudio.kws import frontend

    monkeypatch.setattr(frontend, "CVN_CLIP", float("inf"))
    unclamped = fe(torch.from_numpy(x)[None])[0]
    assert unclamped.min() < -10 and (unclamped[:, active] == ya).all()
    assert (y[:, ~active] == -CVN_CLIP).any()
    monkeypatch.undo()
    # the same word with 0.2 s of padding (and in a batch with another clip): same active frames
    x2 = np.zeros(len(word) + 2 * 20 * hop, np.float32)
    x2[20 * hop:20 * hop + len(word)] = word
    other = np.resize(chirp(1, np.random.default_rng(3)), len(x2))
    y2 = fe(torch.from_numpy(np.stack([other, x2])))[1]
    shift = pad // hop - 20
    torch.testing.assert_close(y2[:, active.nonzero()[:, 0] - shift], ya, atol=1e-4, rtol=0)
    torch.testing.assert_close(y2, fe(torch.from_numpy(x2)[None])[0], atol=1e-5, rtol=0)


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
