import pytest
import torch

from neuroaudio.neurons.surrogate import spike, surrogate_grad


@pytest.mark.parametrize("kind", ["atan", "sigmoid", "rect", "double_gaussian"])
def test_spike_forward_is_heaviside_and_backward_is_the_surrogate(kind):
    x = torch.linspace(-2, 2, 401, dtype=torch.float64, requires_grad=True)
    s = spike(x, kind)
    assert torch.equal(s.detach(), (x >= 0).double())
    s.sum().backward()
    g = surrogate_grad(x.detach(), kind)
    torch.testing.assert_close(x.grad, g)
    # peaked at threshold, and integrates to about 1 (a smoothed delta)
    assert g[200] == g.max()
    area = torch.trapezoid(surrogate_grad(torch.linspace(-30, 30, 60001, dtype=torch.float64), kind),
                           dx=0.001)
    assert area == pytest.approx(1.0, abs=0.05 if kind != "double_gaussian" else 0.2)
