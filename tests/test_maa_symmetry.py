"""MAA and the array's symmetries: the map on coincidence frames equals the encoding of the symmetric
scene, labels follow, training augmentation runs, and test-time averaging gives a valid posterior."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import load_array
from neuroaudio.encoding.config import RFPLCConfig
from neuroaudio.encoding.encoder import RFPLCEncoder
from neuroaudio.errors import InputError
from neuroaudio.localize.registry import make_localizer
from neuroaudio.maa.augment import FrameSymmetries
from neuroaudio.symmetry import array_symmetries

from .conftest import REPO, plane_wave

FS = 16000
SHIPPED_ENC = RFPLCConfig(n_neurons=512, n_bands=40, n_delays=51, frame_s=0.17, steps=4)
EXAMPLE = REPO / "data" / "examples" / "respeaker4_az120.wav"


@pytest.fixture(scope="module")
def enc() -> RFPLCEncoder:
    return RFPLCEncoder(load_array("respeaker4"), SHIPPED_ENC, FS)


def _frame(enc: RFPLCEncoder, az: float, sig: np.ndarray) -> np.ndarray:
    """One 170-ms coincidence frame ``[T, P, D, F]`` of a plane wave from ``az`` (int64 counts)."""
    x = plane_wave(enc.array, az, sig, FS)[None, 400:400 + enc.frame_len]
    return enc.encode_frames(x)[0].astype(np.int64)


def test_delay_grid_is_shared_and_centred(enc):
    d = np.asarray(enc.delays_samples)
    assert d.shape == (51,)
    np.testing.assert_allclose(d[::-1], -d, atol=1e-12)          # the reversal tau -> -tau is exact
    assert d[-1] == pytest.approx(0.064 / 343.0 * FS, rel=0.02)    # +-2.99 samples: the diagonal pairs


def test_symmetry_map_on_the_tensor_equals_the_symmetric_scene(enc):
    """Encode a plane wave from 23.4°, map the frame with each of the 8 symmetries, compare it with
    the encoding of the symmetric scene: equal count for count. The unmapped frame and the map
    without the delay reversal are far off (the test can tell)."""
    sym = FrameSymmetries(enc)
    assert len(sym) == 8
    assert sorted({(s.rot_deg, s.mirror) for s in sym.syms}) == [
        (r, m) for r in (0.0, 90.0, 180.0, 270.0) for m in (False, True)]
    sig = np.random.default_rng(3).standard_normal(4096)
    x = _frame(enc, 23.4, sig)
    total = x.sum()
    assert total > 5000
    xt = torch.from_numpy(x)[None]
    for g, s in enumerate(sym.syms):
        y = _frame(enc, float(s.azimuth(23.4)), sig)
        assert y.sum() == total                                      # same signals, permuted mics
        mapped = sym.apply(xt, g)[0].numpy()
        assert np.abs(mapped - y).sum() / total < 1e-3               # measured: 0 (exact)
        if g > 0:
            assert np.abs(x - y).sum() / total > 1.0                 # unmapped: 1.4-1.9
        if any(s.flip):                                              # pairs permuted, no reversal
            p, d = x.shape[1], x.shape[2]
            perm = x.reshape(x.shape[0], p * d, -1)[:, np.asarray(s.src)[:, None] * d + np.arange(d)]
            assert np.abs(perm.reshape(x.shape) - y).sum() / total > 0.5


def test_per_frame_symmetries_and_label_mapping(enc):
    sym = FrameSymmetries(enc)
    x = torch.randint(0, 9, (5, 4, 6, 51, 40), dtype=torch.uint8)
    g = np.array([0, 3, 7, 5, 1])
    got = sym.apply(x, g)
    for b in range(5):
        assert torch.equal(got[b], sym.apply(x[b:b + 1], int(g[b]))[0])
    az = np.array([10.0, 10.0, 10.0, 350.0, 359.5])
    # identity; 270° rotation; mirror then 270°; mirror then 90°; 90° rotation
    np.testing.assert_allclose(sym.azimuth(az, g), [10.0, 280.0, 260.0, 100.0, 89.5])
    for k, s in enumerate(sym.syms):                                 # the posterior table matches
        assert int(sym.az_idx[k, 40]) == int(round(float(s.azimuth(40.0)))) % 360


def test_off_centre_delay_grid_drops_the_flipping_symmetries():
    arr = load_array("respeaker4")
    d = np.linspace(-3.0, 2.5, 12)                                  # not symmetric about 0
    syms = array_symmetries(arr, d)
    assert len(syms) >= 1 and all(not any(s.flip) for s in syms)
    assert len(array_symmetries(arr, np.linspace(-3.0, 3.0, 12))) == 8


def test_symmetric_averaging_gives_a_valid_posterior_and_localizes_the_example():
    """The shipped model with the posterior averaged over the 8 symmetric scenes: each frame's
    spectrum sums to 1, and the example recording (truth 120°) is within 5°."""
    torch.set_num_threads(1)
    loc = make_localizer("maa", "respeaker4", symmetric=True)
    assert loc.n_symmetric == 8
    import soundfile as sf

    audio, _ = sf.read(EXAMPLE, dtype="float32")
    frames = loc.framer.push(audio)[:24]
    p = loc.frames_spectrum(frames)
    assert p.shape == (len(frames), 360) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    loc.framer.reset()
    res = loc.localize_file(EXAMPLE)
    assert circular_error_deg(res.azimuth_deg, 120.0) <= 5.0
    with pytest.raises(InputError, match="symmetric"):
        make_localizer("maa", "respeaker4", symmetric=9)


def test_training_with_symmetry_augmentation_runs_and_is_reproducible(tmp_path):
    from neuroaudio.maa.data import FrameSet
    from neuroaudio.maa.train import train

    enc = RFPLCConfig(n_neurons=64, n_bands=8, n_delays=11, frame_s=0.064, steps=4)
    arr = load_array("respeaker4")
    e = RFPLCEncoder(arr, enc, FS)
    rng = np.random.default_rng(0)
    x = np.stack([e.encode_frames(plane_wave(arr, az, rng.standard_normal(2048), FS)[None, :e.frame_len])[0]
                  for az in (0.0, 40.0, 100.0, 200.0) * 4]).clip(0, 255).astype(np.uint8)
    data = FrameSet(x, np.array([0.0, 40.0, 100.0, 200.0] * 4))
    cfg = {"model": {"channels": [2, 4]}, "encoder": enc.to_dict(),
           "train": {"epochs": 2, "batch_size": 8, "augment_symmetry": True}}
    w = []
    for k, aug in enumerate((True, True, False)):
        c = {**cfg, "out_dir": str(tmp_path / f"r{k}"), "train": {**cfg["train"], "augment_symmetry": aug}}
        r = train(c, data, data, arr, FS, progress=False)
        w.append(torch.cat([p.detach().flatten() for p in r["model"].parameters()]))
    assert torch.equal(w[0], w[1]) and not torch.equal(w[0], w[2])   # seeded; the augmentation acts
