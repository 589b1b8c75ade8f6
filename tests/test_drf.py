"""D-RF neurons: parallel (FFT) == sequential recurrence == streaming; gradients; baselines."""

import math

import pytest
import torch

from neuroaudio.neurons.drf import DRF
from neuroaudio.neurons.fft_conv import causal_conv_taps, causal_fft_conv
from neuroaudio.neurons.layer import make_spiking_layer


def _drive(b=2, c=6, length=400, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(b, c, length, generator=g, dtype=torch.float64)


def test_fft_conv_equals_direct_convolution():
    x, k = _drive(2, 3, 50), _drive(1, 3, 80)[0]
    ref = torch.zeros_like(x)
    for s in range(50):
        ref[..., s:] += k[:, s, None] * x[..., :50 - s]
    torch.testing.assert_close(causal_fft_conv(x, k), ref)
    kc = torch.complex(k, _drive(1, 3, 80, seed=5)[0])            # a complex kernel (the RF neuron's p^n)
    ref = torch.zeros(2, 3, 50, dtype=torch.complex128)
    for s in range(50):
        ref[..., s:] += kc[:, s, None] * x[..., :50 - s]
    torch.testing.assert_close(causal_fft_conv(x, kc), ref)
    taps = _drive(1, 3, 4)[0]
    ref = torch.zeros_like(x)
    for lag in range(1, 5):
        ref[..., lag:] += taps[:, lag - 1, None] * x[..., :-lag]
    torch.testing.assert_close(causal_conv_taps(x, taps), ref)


@pytest.mark.parametrize("adaptive", [True, False])
def test_parallel_forward_equals_sequential_recurrence(adaptive):
    layer = DRF(6, branches=4, tau_range=(3, 40), adaptive=adaptive, seed=3).double()
    x = _drive()
    par, seq = layer(x), layer.forward_sequential(x)
    assert 0.02 < par.mean() < 0.6                    # the comparison is not vacuous
    assert torch.equal(par, seq)
    # the soma potential itself, against the explicit complex recurrence
    a = torch.exp(layer.log_a().detach())
    z = torch.zeros(2, 6, 4, dtype=torch.complex128)
    h = []
    for t in range(x.shape[-1]):
        z = a * z + layer.gamma.detach() * x[:, :, t, None]
        h.append((layer.soma.detach() * z.real).sum(-1))
    torch.testing.assert_close(layer.potential(x).detach(), torch.stack(h, -1), rtol=1e-9, atol=1e-9)


def test_adaptive_threshold_lowers_the_firing_rate():
    x = _drive(length=2000)
    fixed = DRF(6, branches=4, adaptive=False, seed=1).double()
    adapt = DRF(6, branches=4, adaptive=True, alpha_init=0.5, seed=1).double()
    assert adapt(x).mean() < 0.8 * fixed(x).mean()


@pytest.mark.parametrize("kind", ["drf", "rf", "lif", "brf", "alif"])
def test_streaming_equals_parallel(kind):
    layer = make_spiking_layer(kind, 5, seed=2).double()
    x = _drive(2, 5, 300, seed=1, scale=3.0)
    whole = layer(x)
    assert whole.sum() > 0
    state = layer.init_state(2, dtype=torch.float64)
    outs = []
    for blk in torch.split(x, [1, 1, 37, 100, 1, 60, 100], dim=-1):
        s, state = layer.stream(blk, state)
        outs.append(s)
    s, state = layer.step(_drive(2, 5, 1, seed=9)[..., 0], state)  # state stays usable after blocks
    assert s.shape == (2, 5)
    assert torch.equal(torch.cat(outs, -1), whole)


def test_potential_gradcheck_float64():
    """Exact gradients of the FFT path (input and every dendrite/soma parameter)."""
    layer = DRF(2, branches=2, tau_range=(2, 6), seed=0).double()
    names = ("log_tau", "omega", "gamma", "soma")

    def potential(x, *values):
        return torch.func.functional_call(_Potential(layer), dict(zip(names, values, strict=True)), (x,))

    x = _drive(1, 2, 12).requires_grad_(True)
    inputs = (x,) + tuple(getattr(layer, n).detach().clone().requires_grad_(True) for n in names)
    assert torch.autograd.gradcheck(potential, inputs, eps=1e-6, atol=1e-6)


class _Potential(torch.nn.Module):
    """The layer's soma potential as a module whose parameters sit at the top level."""

    def __init__(self, layer):
        super().__init__()
        self.__dict__["layer"] = layer
        for n in ("log_tau", "omega", "gamma", "soma"):
            self.register_parameter(n, getattr(layer, n))

    def forward(self, x):
        saved = {n: self.layer._parameters[n] for n in ("log_tau", "omega", "gamma", "soma")}
        try:
            for n in saved:
                self.layer._parameters[n] = getattr(self, n)
            return self.layer.potential(x)
        finally:
            self.layer._parameters.update(saved)


def test_parallel_gradients_equal_bptt_gradients():
    """Surrogate gradients through the FFT path equal those of the step-by-step recurrence."""
    grads = []
    for mode in ("parallel", "sequential"):
        layer = DRF(4, branches=3, seed=5).double()
        x = _drive(2, 4, 120, seed=4).requires_grad_(True)
        s = layer(x) if mode == "parallel" else layer.forward_sequential(x)
        w = torch.linspace(-1, 1, 120, dtype=torch.float64)
        (s * w).sum().backward()
        grads.append([x.grad] + [p.grad for p in (layer.log_tau, layer.omega, layer.gamma, layer.soma,
                                                  layer.alpha_raw)])
    for gp, gs in zip(*grads, strict=True):
        assert gp.abs().sum() > 0
        torch.testing.assert_close(gp, gs, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("adaptive", [True, False])
def test_scripted_recurrence_equals_the_python_loop_spikes_and_gradients(adaptive):
    """The TorchScript baseline of benchmarks/kws_speed.py is the same BPTT as forward_sequential."""
    out = []
    for mode in ("python", "scripted"):
        layer = DRF(4, branches=3, seed=5, adaptive=adaptive).double()
        x = _drive(2, 4, 120, seed=4).requires_grad_(True)
        s = layer.forward_sequential(x) if mode == "python" else layer.forward_sequential_scripted(x)
        w = torch.linspace(-1, 1, 120, dtype=torch.float64)
        (s * w).sum().backward()
        params = (layer.log_tau, layer.omega, layer.gamma, layer.soma)
        out.append([s.detach(), x.grad] + [p.grad for p in params])
    assert 0.02 < out[0][0].mean() < 0.6 and torch.equal(out[0][0], out[1][0])
    for gp, gs in zip(out[0][1:], out[1][1:], strict=True):
        assert gp.abs().sum() > 0
        torch.testing.assert_close(gp, gs, rtol=1e-7, atol=1e-9)


def test_branch_resonates_at_its_frequency():
    """A one-branch RF neuron responds most to a sine at its ω (band-pass), unit gain at resonance."""
    layer = DRF(1, branches=1, tau_range=(50, 50), freq_range=(0.1, 0.1), adaptive=False).double()
    with torch.no_grad():
        layer.soma.fill_(1.0)
    t = torch.arange(4000, dtype=torch.float64)
    amp = {}
    for f in (0.05, 0.1, 0.15):
        h = layer.potential(torch.cos(2 * math.pi * f * t)[None, None]).detach()[0, 0, 2000:]
        amp[f] = float(h.abs().max())
    assert amp[0.1] == pytest.approx(1.0, rel=0.05)
    assert amp[0.05] < 0.2 and amp[0.15] < 0.2


def test_brf_respects_divergence_boundary():
    layer = make_spiking_layer("brf", 3, seed=0)
    p = layer.divergence_boundary().detach()
    w = layer.omega.detach()
    torch.testing.assert_close(p, (-1 + torch.sqrt(1 - (0.01 * w) ** 2)) / 0.01)
    assert (p < 0).all()
