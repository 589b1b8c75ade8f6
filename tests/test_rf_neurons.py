"""RF resonator bank (numpy), torch RF layer and LIF: equal to their plain definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroaudio.encoding.silent_stage import step_states
from neuroaudio.neurons.lif import LIF
from neuroaudio.neurons.rf import ResonatorBank, RFNeuron, dft_bank_freqs, resonator_reference


def test_undamped_bank_is_a_sliding_dft(rng):
    fs, k_neurons = 16000, 512
    n = 2 * k_neurons
    x = rng.standard_normal((2600, 2))
    z = ResonatorBank(dft_bank_freqs(k_neurons, fs), fs, decay=1.0, channels=2).process(x)
    for t in (n, 1500, 2599):
        win = x[t - n + 1:t + 1][::-1]                  # win[r] = x[t - r]
        sdft = np.conj(np.fft.fft(win, axis=0))[:k_neurons].T   # Σ_r x[t-r] e^{+iω_k r}
        err = np.abs((z[t] - z[t - n]) - sdft).max() / np.abs(sdft).max()
        assert err < 1e-6


@pytest.mark.parametrize("decay", [1.0, 0.995])
def test_bank_blocks_equal_whole_and_reference(rng, decay):
    x = rng.standard_normal((1500, 3))
    bank = ResonatorBank(dft_bank_freqs(64, 16000), 16000, decay=decay, channels=3)
    whole = bank.process(x)
    bank.reset()
    parts = np.concatenate([bank.process(x[a:b]) for a, b in [(0, 1), (1, 700), (700, 701), (701, 1500)]])
    ref = resonator_reference(x, bank.p)
    assert np.abs(parts - whole).max() < 1e-9 * np.abs(ref).max()
    assert np.abs(whole - ref).max() < 1e-9 * np.abs(ref).max()


@pytest.mark.parametrize("length,neurons,decay", [(680, 512, 1.0), (680, 64, 0.998), (100, 512, 0.99)])
def test_silent_stage_fft_equals_recursion(rng, length, neurons, decay):
    steps = rng.standard_normal((3, length, 2))
    z = step_states(steps, neurons, decay)
    bank = ResonatorBank(dft_bank_freqs(neurons, 16000), 16000, decay, channels=2)
    for s in range(3):
        bank.reset()
        ref = bank.process(steps[s])[-1]
        assert np.abs(z[s] - ref).max() < 1e-9 * np.abs(ref).max()


def test_torch_rf_parallel_equals_sequential():
    torch.manual_seed(0)
    layer = RFNeuron(6, fs=16000, decay_s=0.002, threshold=0.5)
    x = torch.randn(2, 300, 6)
    s_par, z_par = layer(x), layer.states(x)
    s_seq, z_seq = layer.forward_sequential(x)
    assert torch.allclose(z_par, z_seq, atol=1e-4, rtol=1e-4)
    near = (z_seq.real - 0.5).abs() < 1e-4          # float32 rounding can flip exact-threshold cases
    assert torch.equal(s_par[~near], s_seq[~near]) and s_seq.sum() > 50
    g_par = torch.autograd.grad((s_par * torch.linspace(0, 1, 300)[None, :, None]).sum(), layer.omega)[0]
    g_seq = torch.autograd.grad((s_seq * torch.linspace(0, 1, 300)[None, :, None]).sum(), layer.omega)[0]
    assert torch.allclose(g_par, g_seq, rtol=1e-3, atol=1e-3) and g_par.abs().sum() > 0


def test_lif_dynamics_reset_and_gradient():
    lif = LIF(tau=0.5, v_th=1.0, v_reset=0.0)
    x = torch.tensor([[0.6], [0.6], [0.6], [2.0], [0.1]], requires_grad=True)
    s = lif(x)
    # U: 0.6, 0.9, 1.05 (spike, H=0), 2.0 (spike), 0.1
    assert s[:, 0].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]
    s.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_lif_streaming_equals_whole():
    torch.manual_seed(1)
    x = torch.rand(8, 3, 5) * 1.5
    whole = LIF(tau=0.7)(x)
    stream = LIF(tau=0.7, stateful=True)
    parts = torch.cat([stream(x[:3]), stream(x[3:4]), stream(x[4:])])
    assert torch.equal(whole, parts) and whole.sum() > 0
