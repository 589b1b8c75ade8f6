"""The neuron contract (neuroaudio.neurons.base.Neuron), checked with numbers for every registered neuron.

Stepping ``step`` from ``init_state`` over the sequence, ``stream`` on uneven blocks, ``forward`` and
``trace`` give the same spikes, and the membrane of each stepped state equals ``trace``'s. For the
parallel neurons (D-RF, RF, LIF layer, RF-Hz, SRM) this compares two different computations (FFT
convolution or lfilter + event rounds against the recurrence); for the recurrent ones it checks the
state, axis and block handling.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import numpy as np
import pytest
import torch

import neuroaudio.neurons
from neuroaudio.errors import InputError
from neuroaudio.neurons.base import Neuron
from neuroaudio.neurons.layer import SpikingLayer, make_spiking_layer
from neuroaudio.neurons.registry import LAYER_KINDS, make_neuron, neuron_class, neuron_names, neuron_summaries
from neuroaudio.neurons.srm import SpikeInput, SRMParams, simulate

from .conftest import REPO


def _randn(*shape, seed=0, scale=1.0):
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _srm_input(b=2, m=3, steps=300, seed=0):
    """Weighted on-grid input spike counts ``[b, m, steps]`` (about 60 afferents at 20 Hz, dt = 1 ms)."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((b, 60, steps), 0.02, dtype=torch.float64), generator=g)
    w = 0.08 + 0.1 * torch.randn(60, m, generator=g, dtype=torch.float64)
    return torch.einsum("bit,im->bmt", counts, w)


# name -> (neuron in float64, input with time on the neuron's time axis)
CASES = {
    "drf": lambda: (make_neuron("drf", 5, seed=1), _randn(2, 5, 300, scale=3.0)),
    "rf": lambda: (make_neuron("rf", 5, seed=1), _randn(2, 5, 300, scale=3.0)),
    "lif": lambda: (make_neuron("lif", 5, seed=1), _randn(2, 5, 300, scale=3.0)),
    "brf": lambda: (make_neuron("brf", 5, seed=1), _randn(2, 5, 300, scale=20.0)),
    "alif": lambda: (make_neuron("alif", 5, seed=1), _randn(2, 5, 300, scale=3.0)),
    "lif-reset": lambda: (make_neuron("lif-reset", tau=0.6, v_th=0.8), _randn(60, 2, 3, 4).abs()),
    "rf-hz": lambda: (make_neuron("rf-hz", 6, fs=16000, decay_s=0.002, threshold=0.5), _randn(2, 300, 6)),
    "srm": lambda: (make_neuron("srm"), _srm_input()),
}


@pytest.mark.parametrize("name", neuron_names())
def test_step_stream_forward_and_trace_agree(name):
    assert name in CASES, f"neuron '{name}' is registered but has no case here: add one to CASES"
    neuron, x = CASES[name]()
    neuron = neuron.double()
    assert isinstance(neuron, Neuron)
    td = neuron.time_dim
    steps = x.shape[td]
    with torch.no_grad():
        spikes, mem = neuron.trace(x)
        fwd = neuron(x)
        state = neuron.init_state(neuron.batch_shape(x), dtype=x.dtype)
        s_step, m_step = [], []
        for x_t in x.unbind(td):
            s, state = neuron.step(x_t, state)
            assert s.shape == x_t.shape and s.dtype == x.dtype
            s_step.append(s)
            m_step.append(neuron.membrane(state))
        s_step, m_step = torch.stack(s_step, td), torch.stack(m_step, td)
        state = neuron.init_state(neuron.batch_shape(x), dtype=x.dtype)
        blocks = []
        for blk in torch.split(x, [1, 37, 2, steps - 40], dim=td):
            s, state = neuron.stream(blk, state)
            blocks.append(s)
    assert spikes.shape == fwd.shape == mem.shape == x.shape
    assert 0.01 < float(spikes.mean()) < 0.7                    # the comparison is not vacuous
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(fwd, spikes)
    assert torch.equal(s_step, spikes)
    assert torch.equal(torch.cat(blocks, td), spikes)
    torch.testing.assert_close(m_step, mem, rtol=1e-9, atol=1e-9)
    assert float(mem.abs().max()) > 0.1


def test_registry_lists_every_neuron_class_once():
    defined = set()
    for mod in pkgutil.iter_modules(neuroaudio.neurons.__path__):
        m = importlib.import_module(f"neuroaudio.neurons.{mod.name}")
        defined |= {c for _, c in inspect.getmembers(m, inspect.isclass)
                    if issubclass(c, Neuron) and not inspect.isabstract(c) and c.__module__ == m.__name__}
    registered = [neuron_class(n) for n in neuron_names()]
    assert len(registered) == len(set(registered))
    assert set(registered) == defined
    assert {"drf", "rf", "lif", "brf", "alif", "lif-reset", "rf-hz", "srm"} <= set(neuron_names())
    assert list(LAYER_KINDS) == [n for n in neuron_names() if issubclass(neuron_class(n), SpikingLayer)]
    summaries = neuron_summaries()
    assert list(summaries) == neuron_names() and all(10 < len(s) <= 100 for s in summaries.values())


def test_unknown_name_fails_with_one_clear_line():
    with pytest.raises(InputError) as e:
        make_neuron("lfi")
    msg = str(e.value)
    assert "\n" not in msg and "'lfi'" in msg and all(n in msg for n in neuron_names())
    with pytest.raises(InputError, match=r"unknown neuron kind 'srm': use one of drf, rf, lif, brf, alif$"):
        make_spiking_layer("srm", 4)                          # a neuron, but not a depth-wise layer


def test_layer_presets_are_drf_with_fixed_settings():
    rf, lif = make_neuron("rf", 3, branches=4, seed=0), make_neuron("lif", 3, seed=0)
    assert (rf.branches, rf.taps) == (1, 0)                    # one branch, fixed threshold
    assert lif.branches == 1 and torch.equal(lif.omega.detach(), torch.zeros(3, 1))
    assert not lif.omega.requires_grad
    assert lif.log_tau.exp().min() >= 2.0 and lif.log_tau.exp().max() <= 8.0


def test_srm_neuron_equals_the_event_driven_srm_for_on_grid_spikes():
    """The grid form (srm_neuron) and MPD-AL's event-driven form (srm.simulate) agree on grid times."""
    p = SRMParams()
    rng = np.random.default_rng(3)
    w = rng.normal(0.08, 0.1, (60, 3))
    trials, x = [], torch.zeros(2, 3, p.n_steps(0.4), dtype=torch.float64)
    for b in range(2):
        n = rng.integers(0, 400, 480)
        aff = rng.integers(0, 60, 480)
        trials.append(SpikeInput(n * p.dt, aff, 60, 0.4))
        np.add.at(x[b].numpy().T, n, w[aff])                   # x[b, m, n] += w[aff, m]
    v_ref, spikes_ref = simulate(trials, w, p)
    spikes, v = make_neuron("srm").trace(x)
    np.testing.assert_allclose(v.numpy(), v_ref, atol=1e-10)
    got = [np.flatnonzero(r) for r in spikes.reshape(-1, x.shape[-1]).numpy()]
    assert sum(len(s) for s in spikes_ref) >= 6
    for a, b in zip(got, spikes_ref, strict=True):
        np.testing.assert_array_equal(a, b)


def test_neurons_keep_their_parameter_names():
    """Checkpoints store state_dict keys: the restructured classes keep them."""
    assert list(make_neuron("drf", 2).state_dict()) == ["log_tau", "omega", "gamma", "soma", "alpha_raw"]
    assert list(make_neuron("brf", 2).state_dict()) == ["omega", "b_offset", "input_gain"]
    assert list(make_neuron("alif", 2).state_dict()) == ["log_tau_mem", "log_tau_adapt"]
    assert list(make_neuron("lif-reset").state_dict()) == []


def test_contributing_example_neuron_works():
    """The worked example of CONTRIBUTING.md ("Add a neuron") runs and keeps the contract."""
    text = (REPO / "CONTRIBUTING.md").read_text()
    section = text.split("## Add a neuron", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {"__name__": "contributing_example"}
    exec(compile(code, "CONTRIBUTING.md", "exec"), ns)
    neuron = ns["IF"]()
    x = torch.tensor([[0.6, 0.6, 0.6, 0.6, 0.1, 2.5]])
    s, v = neuron.trace(x)
    # v: 0.6, 1.2 (spike), 0.8, 1.4 (spike), 0.5, 3.0 (spike)
    assert s[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    torch.testing.assert_close(v[0], torch.tensor([0.6, 1.2, 0.8, 1.4, 0.5, 3.0]))
    assert torch.equal(neuron(x), s)
    assert torch.equal(neuron.stream(x[:, :2], neuron.init_state(1))[0], s[:, :2])
