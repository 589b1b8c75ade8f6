"""The optional spiking 2-D convolution front of the KWS network (``model.stem: conv2d``)."""

import copy

import pytest
import torch

from neuroaudio.errors import InputError
from neuroaudio.kws.config import config_from_dict, load_config
from neuroaudio.kws.data import Splits
from neuroaudio.kws.model import KWSNet
from neuroaudio.kws.train import train

from .conftest import REPO
from .test_kws import CFG, FS, chirp_items

CONV = {"stem": "conv2d", "stem_channels": [4, 6], "stem_kernel": 3, "stem_freq_stride": 2}


def conv_net(seed: int = 0, gain: float = 1.0) -> KWSNet:
    """A tiny network with the 2-D front; ``gain`` scales the front's BatchNorm weights (an untrained
    front in eval mode barely fires: no spikes, nothing to compare)."""
    cfg = config_from_dict({**CFG, "model": {**CFG["model"], **CONV}})
    torch.manual_seed(seed)
    net = KWSNet(cfg.model, 20, 2)
    with torch.no_grad():
        for bn in net.front.bns:
            bn.weight.mul_(gain)
    return net


def test_stem_none_is_the_default_and_the_shipped_network_is_unchanged():
    cfg = load_config(REPO / "pipelines" / "kws_drf.yaml")
    assert cfg.model.stem == "none"
    net = KWSNet(cfg.model, 40, 10)
    assert net.front is None
    assert sum(p.numel() for p in net.parameters()) == 116106          # docs/kws.md: 116k
    conv = load_config(REPO / "pipelines" / "kws_drf_conv.yaml")
    assert conv.model.stem == "conv2d" and conv.model.stem_channels == [8, 16]
    cnet = KWSNet(conv.model, 40, 10)
    assert cnet.front.bands == [20, 10] and cnet.front.out_features == 160
    assert sum(p.numel() for p in cnet.parameters()) == 134338


def test_conv_stem_shapes_and_spike_list():
    net = conv_net()
    logits, spikes = net(torch.randn(3, 20, 25))
    assert logits.shape == (3, 2)
    # 20 bands -> 10 -> 5; front layers first, then the block's D-RF and LIF
    assert [tuple(s.shape) for s in spikes] == [(3, 40, 25), (3, 30, 25), (3, 16, 25), (3, 16, 25)]
    assert len(net.spiking_layers()) == len(spikes)
    assert set(torch.cat([s.flatten() for s in spikes]).unique().tolist()) <= {0.0, 1.0}


def test_conv_stem_is_causal_in_time():
    net = conv_net(gain=4.0).eval()
    x = 3 * torch.randn(2, 20, 30) + 1
    y = x.clone()
    y[..., 17:] = torch.randn(2, 20, 13)                      # change only the future of frame 16
    with torch.no_grad():
        a, sa = net.front(x)
        b, sb = net.front(y)
    assert sa[0].sum() > 10 and sa[1].sum() > 10               # both layers fire: spikes to compare
    torch.testing.assert_close(a[..., :17], b[..., :17], atol=0, rtol=0)
    assert (a[..., 17:] != b[..., 17:]).any()


def test_conv_stem_stream_in_blocks_equals_forward():
    net = conv_net(gain=4.0).eval()
    x = 3 * torch.randn(2, 20, 40) + 1
    with torch.no_grad():
        full, full_layers = net.front(x)
        state = net.front.init_state(2)
        outs, layers = [], [[], []]
        for a, b in [(0, 1), (1, 9), (9, 10), (10, 33), (33, 40)]:
            o, per, state = net.front.stream(x[..., a:b], state)
            outs.append(o)
            for i, s in enumerate(per):
                layers[i].append(s)
    assert full_layers[0].sum() > 10 and full.sum() > 10
    torch.testing.assert_close(torch.cat(outs, -1), full, atol=0, rtol=0)
    for i in range(2):
        torch.testing.assert_close(torch.cat(layers[i], -1), full_layers[i], atol=0, rtol=0)


def test_conv_stem_energy_counts_first_conv_as_macs_and_spikes_by_fan_out():
    net = conv_net()
    steps = 25
    zero = [torch.zeros(1, s, steps) for s in (40, 30, 16, 16)]
    e0 = net.energy_pj(20, steps, zero)
    first_conv = 4 * 10 * 1 * 9                                # C1 · F1 · C_in · k² per step
    dyn = sum(layer.dense_ops_per_step() * n for layer, n in zip(net.spiking_layers(), (40, 30, 16, 16),
                                                                   strict=True))
    assert e0["mac"] == pytest.approx(first_conv * steps + dyn * steps + 16 * 2)
    assert e0["ac"] == pytest.approx(2 * 16 * steps)            # residual additions and time-mean only
    one = copy.deepcopy(zero)
    one[0][0, 0, 0] = 1.0                                       # one stem-1 spike: 6 channels · 9 / 2
    one[1][0, 0, 0] = 1.0                                       # one stem-2 spike: the 1×1 stem's 16
    assert net.energy_pj(20, steps, one)["ac"] - e0["ac"] == pytest.approx(6 * 9 / 2 + 16)


def test_conv_stem_config_is_checked():
    for bad in ({"stem": "conv3d"}, {"stem": "conv2d", "stem_channels": []},
                {"stem": "conv2d", "stem_kernel": 2}, {"stem": "conv2d", "stem_freq_stride": 0}):
        with pytest.raises(InputError):
            config_from_dict({**CFG, "model": {**CFG["model"], **bad}})
    with pytest.raises(InputError, match="logmel"):
        config_from_dict({**CFG, "frontend": {"kind": "raw"}, "model": {**CFG["model"], "stem": "conv2d"}})


def test_conv_stem_trains_end_to_end(tmp_path):
    cfg = config_from_dict({**CFG, "model": {**CFG["model"], **CONV}, "out_dir": str(tmp_path),
                            "train": {**CFG["train"], "epochs": 12}})
    sp = Splits(["up", "down"], FS, train=chirp_items(96, 1), val=chirp_items(32, 2), test=chirp_items(40, 3))
    m = train(cfg, resume=False, progress=False, splits=sp)
    # rising vs falling chirp: 0.9 measured (0.5 at 6 epochs: a sparse untrained front starts slowly)
    assert m["test_accuracy"] >= 0.8
    assert len(m["test_firing_rates"]) == 4 and 0 < m["test_mean_firing_rate"] < 0.5
    assert m["test_energy_pj_per_clip"] > 0


def test_non_spiking_front_ablation_streams_and_counts_all_macs():
    cfg = config_from_dict({**CFG, "model": {**CFG["model"], **CONV, "stem_spiking": False}})
    torch.manual_seed(0)
    net = KWSNet(cfg.model, 20, 2).eval()
    x = torch.randn(2, 20, 30)
    with torch.no_grad():
        logits, spikes = net(x)
        full, none = net.front(x)
        state = net.front.init_state(2)
        a, _, state = net.front.stream(x[..., :11], state)
        b, _, _ = net.front.stream(x[..., 11:], state)
    assert none == [] and len(spikes) == 2 and len(net.spiking_layers()) == 2      # the block's only
    assert (full >= 0).all() and (full > 0).float().mean() > 0.2                    # ReLU values
    torch.testing.assert_close(torch.cat([a, b], -1), full, atol=1e-6, rtol=0)
    steps = 30
    zero = [torch.zeros(1, 16, steps)] * 2
    e = net.energy_pj(20, steps, zero)
    front = 4 * 10 * 1 * 9 + 6 * 5 * 4 * 9 + 30 * 16              # both convs and the 1×1 stem, per step
    dyn = sum(layer.dense_ops_per_step() * 16 for layer in net.spiking_layers())
    assert e["mac"] == pytest.approx(front * steps + dyn * steps + 16 * 2)
