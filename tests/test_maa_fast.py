"""The MAA speed path gives the plain path's results: FastMAA == MAANet.predict_proba, StepReuse ==
RFPLCEncoder.encode_frames, and the `maa` localizer with fast=True == fast=False."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroaudio.arrays import load_array
from neuroaudio.encoding.config import RFPLCConfig
from neuroaudio.encoding.encoder import RFPLCEncoder
from neuroaudio.localize.base import Framer
from neuroaudio.maa import checkpoint as C
from neuroaudio.maa.fast import FastMAA, StepReuse, _pool2_binary
from neuroaudio.maa.model import MAAConfig, MAANet

from .conftest import plane_wave

FS = 16000
ENC = RFPLCConfig(n_neurons=64, n_bands=8, n_delays=11, frame_s=0.064, steps=4)


def _net(**kw) -> MAANet:
    torch.manual_seed(0)
    net = MAANet(MAAConfig(channels=(4, 8, 8), **kw), 6, 11, 8)
    for m in net.modules():                   # BN statistics that make the layers fire
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.bias.data.uniform_(0.3, 0.9)
    return net.eval()


@pytest.mark.parametrize("kw", [{}, {"fsja": False}, {"stm": False}, {"input_pool": (2, 1)}])
def test_fast_network_equals_the_model(kw):
    torch.set_num_threads(1)
    if "input_pool" in kw and "input_pool" not in MAAConfig.__dataclass_fields__:
        pytest.skip("this model has no input_pool")
    net = _net(**kw)
    x = torch.randint(0, 6, (10, 4, 6, 11, 8), dtype=torch.uint8)
    with torch.no_grad():
        ref = net.predict_proba(x)
    rates = net.stats.rates
    assert rates["stm"] > 0.02 and rates["block1"] > 0.02          # the spiking layers do fire
    fast = FastMAA(net)
    got = fast.predict_proba(x)
    assert not fast.use_plain
    assert torch.allclose(got, ref, rtol=1e-5, atol=1e-7)
    assert torch.equal(got.argmax(1), ref.argmax(1))
    got2 = fast.predict_proba(x[3:7])                               # after the first-batch check
    assert torch.allclose(got2, ref[3:7], rtol=1e-5, atol=1e-7)


def test_fast_network_falls_back_when_the_model_differs():
    class Doubled(MAANet):
        def forward(self, x):
            return 2 * super().forward(x)

    net = Doubled(MAAConfig(channels=(4, 8)), 6, 11, 8).eval()
    x = torch.randint(0, 6, (5, 4, 6, 11, 8), dtype=torch.uint8)
    fast = FastMAA(net)
    got = fast.predict_proba(x)
    assert fast.use_plain
    assert torch.allclose(got, net.predict_proba(x))


def test_binary_pool_equals_max_pool():
    for shape in [(3, 2, 51, 40), (2, 3, 13, 10), (1, 1, 1, 1), (2, 2, 7, 5)]:
        s = (torch.rand(*shape) > 0.6).float()
        assert torch.equal(_pool2_binary(s), torch.nn.functional.max_pool2d(s, 2, ceil_mode=True))


@pytest.mark.parametrize("hop_steps", [2, 1, 3])
def test_step_reuse_equals_the_encoder(monkeypatch, hop_steps):
    array = load_array("respeaker4")
    enc = RFPLCEncoder(array, ENC, FS)
    rng = np.random.default_rng(3)
    x = plane_wave(array, 60.0, rng.standard_normal(int(0.5 * FS)) * 0.1, FS).astype(np.float32)
    hop = hop_steps * enc.step_len
    framer = Framer(enc.frame_len, hop, array.n_mics)
    frames = framer.push(x)
    ref = enc.encode_frames(frames)
    assert ref.sum() > 0
    reuse = StepReuse(enc, hop)
    encoded = []
    real = enc.encode_steps
    monkeypatch.setattr(enc, "encode_steps", lambda s: encoded.append(len(s)) or real(s))
    got = np.concatenate([reuse.encode_frames(frames[:4]), reuse.encode_frames(frames[4:])])
    assert np.array_equal(got, ref)
    assert sum(encoded) == 4 + hop_steps * (len(frames) - 1)       # each step once
    reuse.reset()
    pick = [0, 2, 3, 5, 6]                                          # gaps: frames 1 and 4 dropped
    assert np.array_equal(reuse.encode_frames(frames[pick]), ref[pick])


def _checkpoint(path, net: MAANet) -> None:
    C.save(path, {"state_dict": net.state_dict(), "model": net.cfg.to_dict(), "input_shape": [6, 11, 8],
                  "encoder": ENC.to_dict(), "array": load_array("respeaker4").to_dict(),
                  "sample_rate_hz": FS, "config": {}, "code_revision": "test", "metrics": {}, "epoch": 1})


def test_localizer_fast_equals_plain(tmp_path):
    from neuroaudio.localize.registry import make_localizer

    torch.set_num_threads(1)
    path = tmp_path / "m.pt"
    _checkpoint(path, _net())
    array = load_array("respeaker4")
    rng = np.random.default_rng(5)
    x = plane_wave(array, 200.0, rng.standard_normal(int(0.8 * FS)) * 0.1, FS).astype(np.float32)
    res = {}
    for fast in (True, False):
        loc = make_localizer("maa", array, model=str(path), fast=fast)
        loc.keep_frame_spectra = True
        res[fast] = loc.localize(np.array_split(x, 3))              # blocks: reuse across calls
    a, b = res[True], res[False]
    assert a.azimuth_deg == b.azimuth_deg and len(a.frames) == len(b.frames) > 5
    for fa, fb in zip(a.frames, b.frames, strict=True):
        assert fa.azimuth_deg == fb.azimuth_deg
        if fa.spectrum is not None:
            assert np.allclose(fa.spectrum, fb.spectrum, rtol=1e-5, atol=1e-9)
