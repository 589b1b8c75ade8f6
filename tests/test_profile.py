"""Energy accounting (neuroaudio.energy) and `neuroaudio profile --method maa`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from neuroaudio.arrays import load_array
from neuroaudio.energy import E_AC_PJ, E_MAC_PJ, OpCounter, dense_macs, fan_out_ops
from neuroaudio.errors import InputError

from .conftest import plane_wave


def _brute_fan_out(conv: nn.Conv2d, x: torch.Tensor) -> int:
    """Σ over non-zero inputs of the number of (output position, output channel) they reach."""
    n, c, h, w = x.shape
    kh, kw = conv.kernel_size
    ph, pw = conv.padding
    with torch.no_grad():
        oh, ow = conv(x).shape[-2:]
    total = 0
    for _b, _c, i, j in torch.nonzero(x).tolist():
        for oi in range(oh):
            for oj in range(ow):
                di, dj = i + ph - oi * conv.stride[0], j + pw - oj * conv.stride[1]
                if 0 <= di < kh and 0 <= dj < kw:
                    total += conv.out_channels
    return total


def test_fan_out_counts_every_synapse_a_spike_reaches():
    torch.manual_seed(0)
    x = (torch.rand(2, 3, 7, 6) > 0.7).float()
    for conv in (nn.Conv2d(3, 5, 3, padding=1), nn.Conv2d(3, 4, 3, stride=2), nn.Conv2d(3, 2, (3, 1))):
        assert fan_out_ops(conv, x) == _brute_fan_out(conv, x)
    lin = nn.Linear(10, 7)
    xl = torch.tensor([[0.0, 1, 1, 0, 0, 0, 1, 0, 0, 0]])
    assert fan_out_ops(lin, xl) == 3 * 7
    # a dense input reaches every weight of every output: fan-out ops == dense MACs (no padding)
    conv = nn.Conv2d(3, 5, 3)
    ones = torch.ones(1, 3, 6, 6)
    assert fan_out_ops(conv, ones) == dense_macs(conv, conv(ones))


def test_counter_splits_spikes_and_real_inputs_and_leaves_outputs_alone():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3))
    spikes = (torch.rand(6, 2, 5, 5) > 0.8).float()
    with torch.no_grad():
        ref = net(spikes)
        with OpCounter(net) as c:
            out = net(spikes)
    assert torch.equal(out, ref)
    assert not net[0]._forward_hooks                                   # hooks removed
    rep = c.report(n_items=6)
    conv, lin = rep.layers
    assert conv["spiking_input"] and not lin["spiking_input"]           # ReLU output is real
    assert conv["acs"] == pytest.approx(_brute_fan_out(net[0], spikes) / 6)
    assert conv["dense_macs"] == 4 * 5 * 5 * 2 * 9 and lin["macs"] == lin["dense_macs"] == 100 * 3
    assert rep.energy_pj == pytest.approx(E_AC_PJ * rep.sops + E_MAC_PJ * rep.macs)
    assert rep.ann_energy_pj == pytest.approx(E_MAC_PJ * (4 * 5 * 5 * 2 * 9 + 300))
    assert rep.ratio > 1


def test_counter_agrees_with_the_kws_sop_estimate():
    """KWSNet.energy_pj = the weight layers' ops + the D-RF dynamics (both counted here by hooks)
    + the residual additions (which the hooks do not see)."""
    from neuroaudio.kws.config import ModelConfig
    from neuroaudio.kws.model import KWSNet

    torch.manual_seed(0)
    cfg = ModelConfig(width=16, depth=2)
    net = KWSNet(cfg, 12, 4).eval()
    x = torch.randn(3, 12, 40)
    layers = {f"l{i}": m for i, m in enumerate(net.spiking_layers())}
    with torch.no_grad():
        with OpCounter(net) as plain:              # weight layers only
            net(x)
        with OpCounter(net, layers) as c:
            _, spikes = net(x)
    e = net.energy_pj(12, 40, spikes)
    steps = spikes[0].shape[-1]
    adds = (cfg.depth + 1) * cfg.width * steps
    dyn = sum(layer.dense_ops_per_step() * cfg.width * steps for layer in net.spiking_layers())
    assert dyn > 0                                  # D-RF dendrites are MAC-costly
    for rep in (plain.report(3), c.report(3)):
        assert rep.sops > 0 and rep.sops == pytest.approx(e["ac"] - adds)
    assert plain.report(3).macs == pytest.approx(e["mac"] - dyn)
    rep = c.report(3)
    assert rep.macs == pytest.approx(e["mac"])
    assert rep.ann_macs == pytest.approx(e["mac"] + 2 * cfg.depth * cfg.width ** 2 * steps)
    assert rep.energy_pj == pytest.approx(e["energy_pj"] - 0.9 * adds)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from neuroaudio.encoding.config import RFPLCConfig
    from neuroaudio.maa import checkpoint as C
    from neuroaudio.maa.model import MAAConfig, MAANet

    torch.manual_seed(0)
    enc = RFPLCConfig(n_neurons=64, n_bands=8, n_delays=11, frame_s=0.064, steps=4)
    net = MAANet(MAAConfig(channels=(4, 8, 8)), 6, 11, 8).eval()
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.bias.data.uniform_(0.3, 0.9)
    path = tmp_path_factory.mktemp("prof") / "m.pt"
    C.save(path, {"state_dict": net.state_dict(), "model": net.cfg.to_dict(), "input_shape": [6, 11, 8],
                  "encoder": enc.to_dict(), "array": load_array("respeaker4").to_dict(),
                  "sample_rate_hz": 16000, "config": {}, "code_revision": "test", "metrics": {}, "epoch": 1})
    return path


def _wav(tmp_path, seconds=0.6):
    from neuroaudio.audio.io import write_audio

    arr = load_array("respeaker4")
    rng = np.random.default_rng(2)
    x = plane_wave(arr, 30.0, rng.standard_normal(int(seconds * 16000)) * 0.1, 16000).astype(np.float32)
    p = tmp_path / "clip.wav"
    write_audio(p, x, 16000)
    return p


def test_profile_maa_counts_the_frames_and_layers(tiny_model, tmp_path):
    from neuroaudio.profile.maa import profile_maa

    torch.set_num_threads(1)
    wav = _wav(tmp_path)
    res = profile_maa([wav], model=tiny_model)
    rep = res["report"]
    frame, hop = 1024, 512
    assert res["frames"] == 1 + (int(0.6 * 16000) - frame) // hop          # every (audible) frame
    assert set(rep["firing_rates"]) == {"fsja.gate", "stm.in", "stm.st", "block1.lif", "block2.lif"}
    assert all(0 <= v <= 1 for v in rep["firing_rates"].values())
    assert rep["firing_rates"]["stm.in"] > 0
    names = [la["name"] for la in rep["layers"]]
    assert "stm.conv_rec.0" in names and "readout" in names
    by = {la["name"]: la for la in rep["layers"]}
    assert by["blocks.0.conv.0"]["spiking_input"] and not by["stm.conv_in.0"]["spiking_input"]
    assert 0 < rep["energy_pj"] < rep["ann_energy_pj"]
    assert rep["energy_nonzero_pj"] <= rep["energy_pj"]
    # the counted network is the model itself: its result is that of the localizer
    assert res["clips"] == 1


def test_profile_cli_writes_json_and_refuses_bad_input(tiny_model, tmp_path, cli):
    wav = _wav(tmp_path)
    out = tmp_path / "p.json"
    r = cli("profile", str(wav), "--model", str(tiny_model), "--json", str(out), "-q")
    assert r.returncode == 0, r.stderr
    assert "ANN/SNN" in r.stdout and "block1.lif" in r.stdout
    d = json.loads(out.read_text())
    assert d["report"]["ann_over_snn"] > 1 and d["frames"] > 0
    r = cli("profile", str(tmp_path / "missing.wav"), "--model", str(tiny_model))
    assert r.returncode == 2 and "no such file" in r.stderr
    r = cli("profile", str(wav), "--method", "nope", "--model", str(tiny_model))
    assert r.returncode == 2 and "no profiler" in r.stderr


def test_profile_without_model_is_an_input_error(monkeypatch):
    from neuroaudio.localize import maa as maa_mod
    from neuroaudio.profile.maa import profile_maa

    monkeypatch.setattr(maa_mod, "DEFAULT_MODEL", None)
    with pytest.raises(InputError, match="--model"):
        profile_maa([])


def test_profile_kws_matches_the_kws_estimate(tmp_path, cli):
    """`profile --method kws` on word clips: per-clip numbers equal KWSNet.energy_pj's but for the
    residual additions."""
    from neuroaudio.audio.io import write_audio
    from neuroaudio.kws.checkpoint import KWSModel, save_checkpoint
    from neuroaudio.kws.config import config_from_dict, config_to_dict
    from neuroaudio.kws.data import place, read_mono
    from neuroaudio.profile.kws import profile_kws

    torch.manual_seed(0)
    cfg = config_to_dict(config_from_dict({"model": {"width": 8, "depth": 1}}))
    meta = {"config": cfg, "labels": ["a", "b"], "sample_rate_hz": 16000, "clip_samples": 8000}
    m = KWSModel(meta).eval()
    path = tmp_path / "kws.pt"
    save_checkpoint(path, {**meta, "state_dict": m.net.state_dict(), "code_revision": "test", "metrics": {},
                           "epoch": 1})
    rng = np.random.default_rng(0)
    clips = tmp_path / "words"
    clips.mkdir()
    for k in range(3):
        write_audio(clips / f"w{k}.wav", (0.1 * rng.standard_normal(6000)).astype(np.float32), 16000)
    res = profile_kws([clips], model=path)
    rep = res["report"]
    assert res["clips"] == 3 and set(rep["firing_rates"]) == {"block1.drf", "block1.lif"}
    x = np.stack([place(read_mono(f, 16000), 8000) for f in sorted(clips.glob("*.wav"))]).astype(np.float32)
    with torch.no_grad():
        feats = m.frontend(torch.from_numpy(x))
        _, spikes = m.net(feats)
    e = m.net.energy_pj(feats.shape[1], feats.shape[2], spikes)
    adds = 2 * 8 * spikes[0].shape[-1]
    assert rep["sops"] == pytest.approx(e["ac"] - adds) and rep["macs"] == pytest.approx(e["mac"])
    r = cli("profile", str(clips), "--method", "kws", "--model", str(path), "-q")
    assert r.returncode == 0 and "block1.drf.dynamics" in r.stdout
    r = cli("profile", str(tmp_path / "nothing"), "--method", "kws", "--model", str(path))
    assert r.returncode == 2 and "no such file or folder" in r.stderr
    # the log-mel front end per clip (16 kHz default config: n_fft 256 hop 80 -> 1 + (8000-256)//80
    # = 97 frames, 129 bins, 40 mels) and the total = network + front end
    fe, tot = res["front_end_report"], res["total"]
    stages = {s["name"]: s for s in fe["stages"]}
    assert stages["frontend.fft"]["macs"] == 256 * 8 * 97 and stages["frontend.mel"]["macs"] == 40 * 129 * 97
    assert res["front_end"]["energy_pj"] == pytest.approx(fe["energy_pj"])
    assert tot["energy_pj"] == pytest.approx(rep["energy_pj"] + fe["energy_pj"])
    assert "total per clip" in res["text"]


def _tiny_encoder():
    from neuroaudio.encoding.config import RFPLCConfig
    from neuroaudio.encoding.encoder import RFPLCEncoder

    # 8 neurons at k·1000 Hz (the 0-Hz one in no band: K' = 7), 2-ms frames of 4 steps of 8 samples
    return RFPLCEncoder("respeaker4", RFPLCConfig(n_neurons=8, n_bands=2, n_delays=3, frame_s=0.002))


def test_rfplc_encoder_ops_by_hand():
    """One step of a 4-mic encoder whose spikes are set by hand: the counts of the docstring."""
    from neuroaudio.encoding.encoder import StepOutput
    from neuroaudio.profile.frontend_ops import StageCounter, count_rfplc_steps

    enc = _tiny_encoder()
    assert enc.step_len == 8 and int((enc.neuron_band >= 0).sum()) == 7
    off = np.full((1, 4, 8), np.nan, np.float32)
    n = np.zeros((1, 4, 8), np.int32)
    off[0, 0, 1], n[0, 0, 1] = 0.5, 2          # mic 0, neuron 1: 2 spikes
    off[0, 1, 1], n[0, 1, 1] = 1.5, 3          # mic 1, neuron 1: 3 spikes
    off[0, 2, 3] = 7.9                         # mic 2, neuron 3: active, its first crossing too late
    coinc = np.zeros((1, 6, 3, 2), np.int16)
    coinc[0, 0, 1, 0], coinc[0, 3, 2, 1] = 1, 2
    c = StageCounter("t")
    count_rfplc_steps(c, enc, StepOutput(coinc, off, n, np.zeros((1, 4, 2), bool)))
    rep = c.report(1)
    got = {s["name"]: (s["acs"], s["macs"]) for s in rep["stages"]}
    assert got == {"encoder.silent_stage": (8 * 7 * 4, 4 * 8 * 7 * 4),      # L·K'·M ACs, 4·L·K'·M MACs
                   "encoder.activity": (7 * 4, 2 * 7 * 4),
                   "encoder.spike_stage": (0, 3 * 4 * 8),                  # 3 active neurons × 4·L
                   "encoder.coincidence": ((2 + 3) * 3 * 3, 0),            # spikes × 3 pairs a mic × D
                   "encoder.band_maps": (3, 0)}
    assert rep["spikes"] == 5 and rep["acs_first_spike"] == 2 * 3 * 3 and rep["coincidences"] == 3
    assert rep["energy_pj"] == pytest.approx(E_AC_PJ * 300 + E_MAC_PJ * 1048)


def test_logmel_ops_by_hand():
    from neuroaudio.kws.config import FrontendConfig
    from neuroaudio.profile.frontend_ops import logmel_ops

    cfg = FrontendConfig(n_mels=2, n_fft=8, hop=4)            # 16 samples: 3 frames, 5 bins, 6 values
    ops = logmel_ops(cfg, 16)
    assert ops == {"frontend.window": (0, 24), "frontend.fft": (72, 72), "frontend.power": (0, 30),
                   "frontend.mel": (0, 30), "frontend.log": (0, 6), "frontend.normalise": (6, 6)}
    cmn = logmel_ops(FrontendConfig(n_mels=2, n_fft=8, hop=4, cmn=True), 16)["frontend.normalise"]
    assert cmn == (18, 2 + 6)                                  # + masked sums, subtraction; ÷ per channel


def test_profile_maa_counts_the_encoder(tiny_model, tmp_path):
    """Per frame: the encoder's resonators run T steps of every in-band neuron on every mic, its
    spikes reach 3 pairs × D detectors; total = network + front end."""
    from neuroaudio.profile.maa import profile_maa

    torch.set_num_threads(1)
    res = profile_maa([_wav(tmp_path)], model=tiny_model)
    stages = {s["name"]: s for s in res["front_end_report"]["stages"]}
    k_in = 63                                                    # 64 neurons, the 0-Hz one in no band
    assert stages["encoder.silent_stage"]["macs"] == 4 * 256 * k_in * 4 * 4     # 4·L·K'·M per step, T = 4
    fe = res["front_end_report"]
    assert fe["spikes"] > 0 and stages["encoder.coincidence"]["acs"] == pytest.approx(fe["spikes"] * 3 * 11)
    assert stages["input.log1p"]["macs"] == 4 * 6 * 11 * 8                    # T × pairs × delays × bands
    assert res["total"]["energy_pj"] == pytest.approx(res["report"]["energy_pj"] + fe["energy_pj"])
    assert res["total_energy_uj_per_s"] > res["energy_uj_per_s"]
