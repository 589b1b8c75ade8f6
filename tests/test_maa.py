"""MAA network: shapes, ablation switches, loss, and a tiny network that learns directions.

The tiny set: free-field plane-wave noise bursts (tests.conftest.plane_wave) from 8 directions at
the respeaker4 array, encoded with small RF-PLC settings (64 neurons, 8 bands, 11 delays, 64-ms
frames), so encoding and training take a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import load_array
from neuroaudio.encoding.config import RFPLCConfig
from neuroaudio.encoding.encoder import RFPLCEncoder
from neuroaudio.errors import InputError
from neuroaudio.maa import checkpoint as C
from neuroaudio.maa.data import FrameSet, encode_clip, keep_frames
from neuroaudio.maa.model import MAAConfig, MAANet
from neuroaudio.maa.train import train
from neuroaudio.train.doa_loss import predict_azimuth_deg, soft_label_loss, soft_labels

from .conftest import crash_when_saving_epoch, plane_wave

FS = 16000
ENC = RFPLCConfig(n_neurons=64, n_bands=8, n_delays=11, frame_s=0.064, steps=4)
DIRECTIONS = np.arange(0.0, 360.0, 45.0)
TINY = {"channels": [4, 8], "fsja": True, "stm": True}


def _frames(array, n_clips_per_dir: int, seed: int) -> FrameSet:
    rng = np.random.default_rng(seed)
    enc = RFPLCEncoder(array, ENC, FS)
    xs, az, clip = [], [], []
    k = 0
    for a in DIRECTIONS:
        for _ in range(n_clips_per_dir):
            sig = rng.standard_normal(int(0.4 * FS)) * 0.1
            x = plane_wave(array, a, sig, FS) + 1e-3 * rng.standard_normal((len(sig), array.n_mics))
            f = encode_clip(enc, x.astype(np.float32))
            f = f[keep_frames(f, 1)]
            xs.append(f)
            az.append(np.full(len(f), a, np.float32))
            clip.append(np.full(len(f), k))
            k += 1
    return FrameSet(np.concatenate(xs), np.concatenate(az), np.concatenate(clip))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    array = load_array("respeaker4")
    tr, va = _frames(array, 4, seed=1), _frames(array, 1, seed=2)
    out = tmp_path_factory.mktemp("maa")
    cfg = {"out_dir": str(out), "encoder": ENC.to_dict(), "model": TINY,
           "train": {"epochs": 10, "batch_size": 32, "lr": 3e-3, "seed": 0}}
    res = train(cfg, train_set=tr, val_set=va, array=array, fs=FS, progress=False)
    return {"res": res, "out": out, "val": va, "array": array, "cfg": cfg, "train": tr}


def test_forward_shapes_and_proba():
    net = MAANet(MAAConfig(), 6, 51, 40)
    x = torch.randint(0, 5, (3, 4, 6, 51, 40), dtype=torch.uint8)
    y = net(x)
    assert y.shape == (4, 3, 360)
    p = net.eval().predict_proba(x)
    assert p.shape == (3, 360)
    assert torch.allclose(p.sum(1), torch.ones(3), atol=1e-5)
    assert set(net.stats.rates) == {"fsja", "stm", "block1", "block2", "block3"}
    assert all(0.0 <= r <= 1.0 for r in net.stats.rates.values())
    with pytest.raises(InputError, match="pairs, delays, bands"):
        net(torch.zeros(2, 4, 6, 50, 40))


def test_ablation_switches_change_the_parameter_set():
    def names(**kw):
        return {n: p.numel() for n, p in MAANet(MAAConfig(**kw), 6, 51, 40).named_parameters()}

    full, no_fsja, no_stm = names(), names(fsja=False), names(stm=False)
    fsja_only = set(full) - set(no_fsja)
    assert fsja_only and all(n.startswith("fsja.") for n in fsja_only)
    assert set(no_fsja) <= set(full)
    # FSJA: two 1-D convs (6·6·3) and two BatchNorms (2·6) over the 6 pair channels
    assert sum(full[n] for n in fsja_only) == 2 * 6 * 6 * 3 + 2 * 2 * 6
    stm_only = set(full) - set(no_stm)
    assert stm_only and all(n.startswith("stm.conv_rec.") for n in stm_only)
    # ST-M recurrent ConvBN: 6→6 conv3×3 + BatchNorm
    assert sum(full[n] for n in stm_only) == 6 * 6 * 9 + 2 * 6
    assert set(names(fsja=False, stm=False)) == set(full) - fsja_only - stm_only


def _stm(w_rec: float, memory: bool = True, rec_bias: float | None = 0.0):
    """An ST-M of 1 channel: In = input spike × 5; recurrent weight ``w_rec``; recurrent BN bias
    ``rec_bias`` (None: the default start)."""
    from neuroaudio.maa.model import STM

    stm = STM(1, 1, alpha=3 / 7, tau=0.5, v_th=1.0, surrogate="atan", memory=memory).eval()
    with torch.no_grad():
        stm.conv_in[0].weight.zero_()
        stm.conv_in[0].weight[0, 0, 1, 1] = 5.0
        if memory:
            stm.conv_rec[0].weight.zero_()
            stm.conv_rec[0].weight[0, 0, 1, 1] = w_rec
            if rec_bias is not None:
                stm.conv_rec[1].bias.fill_(rec_bias)
    return stm


def test_stm_follows_the_recurrence():
    """In fires at t=0..2; ST integrates (1−α)·In and fires at t=2; then α·w·ST[t−1] alone keeps it
    firing when the recurrent weight makes α·w ≥ threshold, and nothing does without memory."""
    x = torch.zeros(6, 1, 1, 3, 3)
    x[:3] = 1.0
    with torch.no_grad():
        s = _stm(3.0)(x)[:, 0, 0, 1, 1]
        assert s.tolist() == [0, 0, 1, 1, 1, 1]          # (1−α)=0.571: fires at the third step
        assert _stm(0.0)(x)[:, 0, 0, 1, 1].tolist() == [0, 0, 1, 0, 0, 0]
        assert _stm(0.0, memory=False)(x)[:, 0, 0, 1, 1].tolist() == [1, 1, 1, 0, 0, 0]
        # the default start of the recurrent bias (α·b + (1−α) = 1.043 V_th): a lone In spike fires
        # ST at once; the bias alone (0.471 V_th, leak 0.5) never fires it
        from neuroaudio.maa.model import stm_rec_bias

        assert stm_rec_bias(3 / 7, 1.0) == pytest.approx(1.1)
        assert _stm(0.0, rec_bias=None)(x)[:, 0, 0, 1, 1].tolist() == [1, 1, 1, 0, 0, 0]
        assert _stm(0.0, rec_bias=None)(torch.zeros(6, 1, 1, 3, 3)).sum() == 0


def test_soft_label_is_circular_gaussian():
    q = soft_labels(torch.tensor([359.0, 90.0]), 360, sigma_deg=5.0)
    assert torch.allclose(q.sum(1), torch.ones(2))
    assert int(q[0].argmax()) == 359 and int(q[1].argmax()) == 90
    assert q[0, 4] > 1e-3 and abs(float(q[0, 1] - q[0, 357])) < 1e-7   # wraps around 0°
    logits = torch.log(q + 1e-6).unsqueeze(0).repeat(4, 1, 1)
    assert float(soft_label_loss(logits, torch.tensor([359.0, 90.0]))) < float(
        soft_label_loss(logits.roll(20, -1), torch.tensor([359.0, 90.0])))
    assert predict_azimuth_deg(logits).tolist() == [359.0, 90.0]


def test_tiny_network_learns_directions(trained):
    hist = trained["res"]["history"]
    # the soft-label cross-entropy starts at ~log(360) = 5.9 and cannot go below the label's entropy
    # (~3.0 nats for sigma = 5 deg): a fall of 0.5 nats is a large part of the way
    assert hist[-1]["train_loss"] < hist[0]["train_loss"] - 0.5, hist
    assert hist[-1]["train_acc5"] >= 0.8, hist
    m = trained["res"]["metrics"]
    # 8 directions: chance ACC@10 is <= 1/8 even for a model that knows the 8 classes
    assert m["val_acc10"] >= 0.7, m
    assert m["val_clip_mae"] <= 5.0, m
    out = trained["out"]
    for f in ("last.pt", "model.pt", "log.csv", "curve.png", "metrics.json"):
        assert (out / f).is_file()
    assert len((out / "log.csv").read_text().strip().splitlines()) == 1 + len(hist)


def test_checkpoint_round_trip_and_contents(trained):
    ck = torch.load(trained["out"] / "last.pt", weights_only=True)
    for k in ("array", "sample_rate_hz", "encoder", "model", "config", "code_revision", "metrics",
              "input_shape", "optimizer", "history"):
        assert k in ck, k
    assert ck["sample_rate_hz"] == FS and ck["encoder"]["n_bands"] == 8
    net = C.build_model(C.read(trained["out"] / "last.pt"))
    ref = trained["res"]["model"]
    x = torch.from_numpy(trained["val"].x[:16])
    assert torch.equal(net(x), ref(x))


def test_resume_continues_from_last(trained, tmp_path):
    import shutil

    out = tmp_path / "r"
    shutil.copytree(trained["out"], out)
    cfg = {**trained["cfg"], "out_dir": str(out),
           "train": {**trained["cfg"]["train"], "epochs": 11}}
    res = train(cfg, train_set=trained["train"], val_set=trained["val"], array=trained["array"], fs=FS,
                progress=False)
    assert [r["epoch"] for r in res["history"]] == list(range(1, 12))
    assert res["history"][:10] == trained["res"]["history"]
    bad = {**cfg, "model": {**TINY, "stm": False}}
    with pytest.raises(InputError, match="another config"):
        train(bad, train_set=trained["train"], val_set=trained["val"], array=trained["array"], fs=FS,
              progress=False)


def test_maa_localizer_uses_checkpoint_and_refuses_mismatch(trained):
    from neuroaudio.localize.registry import make_localizer

    path = trained["out"] / "model.pt"
    array = trained["array"]
    loc = make_localizer("maa", array, model=str(path))
    rng = np.random.default_rng(7)
    x = plane_wave(array, 135.0, rng.standard_normal(int(0.6 * FS)) * 0.1, FS)
    res = loc.localize(x)
    assert res.azimuth_deg is not None and circular_error_deg(res.azimuth_deg, 135.0) <= 10.0
    # what `neuroaudio localize` passes (its --frame default): the checkpoint's frame is kept
    cli_like = make_localizer("maa", array, model=str(path), frame_s=0.17, hop_s=0.085)
    assert cli_like.frame_len == int(ENC.frame_s * FS)
    with pytest.raises(InputError, match="trained for array"):
        make_localizer("maa", "respeaker6", model=str(path))
    moved = load_array("respeaker4").to_dict()
    moved["mics_m"][0][0] += 0.002                                   # 2 mm off: another array
    from neuroaudio.arrays import MicArray

    with pytest.raises(InputError, match="trained for array"):
        make_localizer("maa", MicArray.from_dict(moved), model=str(path))
    close = load_array("respeaker4").to_dict()
    close["mics_m"][0][0] += 0.0005                                  # 0.5 mm: the same array
    make_localizer("maa", MicArray.from_dict(close), model=str(path))
    with pytest.raises(InputError, match="48000 Hz"):
        make_localizer("maa", array, model=str(path), fs=48000)
    import neuroaudio.localize.maa as maa_mod

    saved, maa_mod.DEFAULT_MODEL = maa_mod.DEFAULT_MODEL, None      # no shipped model: a clear error
    try:
        with pytest.raises(InputError, match="needs a trained model"):
            make_localizer("maa", array)
    finally:
        maa_mod.DEFAULT_MODEL = saved


def test_checkpoint_loading_is_safe(tmp_path):
    bad = tmp_path / "evil.pt"

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": C.FORMAT, "x": Evil()}, bad)
    with pytest.raises(InputError, match="cannot be loaded safely"):
        C.read(bad)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(InputError, match="not a neuroaudio-maa-1"):
        C.read(other)
    with pytest.raises(InputError, match="not found"):
        C.read(tmp_path / "missing.pt")


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """A run stopped after epoch 1 and resumed ends with exactly the weights of an unbroken run
    (the optimizer, schedule and sample order are restored)."""
    import neuroaudio.maa.train as T

    rng = np.random.default_rng(3)
    data = FrameSet(rng.integers(0, 4, (24, 4, 6, 11, 8)).astype(np.uint8),
                    rng.uniform(0, 360, 24).astype(np.float32))
    array = load_array("respeaker4")

    def run(out):
        cfg = {"out_dir": str(out), "encoder": ENC.to_dict(), "model": {"channels": [2, 4]},
               "train": {"epochs": 2, "batch_size": 8, "seed": 3}}
        return train(cfg, train_set=data, val_set=data, array=array, fs=FS, progress=False)

    whole = run(tmp_path / "a")["model"].state_dict()
    real_save = crash_when_saving_epoch(monkeypatch, T.C.CHECKPOINT, 2)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b")
    monkeypatch.setattr(T.C.CHECKPOINT, "save", real_save)
    resumed = run(tmp_path / "b")
    assert [r["epoch"] for r in resumed["history"]] == [1, 2]
    for k, v in resumed["model"].state_dict().items():
        assert torch.equal(v, whole[k]), k


def test_input_pool_sums_neighbouring_detectors():
    from neuroaudio.maa.model import sum_pool

    x = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)
    p = sum_pool(x, 2, 1)
    assert p.shape == (2, 3, 3)
    assert torch.equal(p[:, 0], x[:, 0] + x[:, 1]) and torch.equal(p[:, 2], x[:, 4])   # last: alone
    net = MAANet(MAAConfig(channels=(2, 4), input_pool=(2, 1)), 6, 11, 8)
    assert net.fsja.conv_f.in_channels == 6 and net.feature_shape == (4, 3, 4)
    y = net(torch.randint(0, 3, (3, 4, 6, 11, 8), dtype=torch.uint8))
    assert y.shape == (4, 3, 360)
    with pytest.raises(InputError, match="input_pool"):
        MAAConfig.from_dict({"input_pool": [0, 1]})
