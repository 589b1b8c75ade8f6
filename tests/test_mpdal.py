"""MPD-AL: neuron simulation, the t* definitions, the MST gradient, learning the clue task, decoding."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaudio.errors import InputError
from neuroaudio.mpdal.clue_experiment import ClueTrainConfig, RuleSetting, run_clue_experiment
from neuroaudio.mpdal.clues import ClueTaskConfig, make_clue_dataset
from neuroaudio.mpdal.decoding import DynamicDecoder, max_count_decode
from neuroaudio.mpdal.encoder import EncoderConfig, SpikeEncoder
from neuroaudio.mpdal.learner import AggregateLearner
from neuroaudio.mpdal.rules import (
    critical_threshold,
    mpdal_t_star,
    mpdal_t_stars,
    mpdal_update,
    mst_gradient,
    spike_peaks,
)
from neuroaudio.neurons.srm import (
    SpikeInput,
    SRMParams,
    fire,
    free_potential,
    psp_at,
    reference_simulate,
    simulate,
)

P = SRMParams()


def random_trial(rng, n=60, duration=0.4, rate=20.0) -> SpikeInput:
    k = rng.poisson(n * rate * duration)
    return SpikeInput(rng.uniform(0, duration, k), rng.integers(0, n, k), n, duration)


def bumps(T: int, centres: list[int], heights: list[float], width: float = 4.0) -> np.ndarray:
    """A hand-made free potential: Gaussian bumps (grid units) with the given peak heights."""
    n = np.arange(T)
    return sum(h * np.exp(-0.5 * ((n - c) / width) ** 2) for c, h in zip(centres, heights, strict=True))


def test_simulation_equals_plain_reference_loop(rng):
    tr = random_trial(rng)
    W = rng.normal(0.08, 0.1, (60, 3))
    v, spikes = simulate([tr], W, P)
    assert sum(s.size for s in spikes) >= 3  # the case exercises resets
    for m in range(3):
        v_ref, s_ref = reference_simulate(tr, W[:, m], P)
        np.testing.assert_array_equal(spikes[m], s_ref)
        np.testing.assert_allclose(v[0, m], v_ref, atol=1e-10)


def test_free_potential_is_exact_at_grid_points_for_off_grid_spikes():
    tr = SpikeInput([0.0123], [0], 1, 0.1)
    v = free_potential([tr], np.array([1.0]), P)[0]
    t = np.arange(v.size) * P.dt
    np.testing.assert_allclose(v, P.kernel(t - 0.0123), atol=1e-12)
    assert abs(v.max() - 1.0) < 0.01  # unit weight -> PSP peak 1 (V0 normalisation)
    np.testing.assert_allclose(psp_at(tr, [0.02], P)[0, 0], P.kernel(0.02 - 0.0123))


def test_t_star_too_few_is_the_highest_subthreshold_peak():
    # peaks: 0.6 at 100, 0.9 at 250, 1.5 (a spike) at 400, 0.7 at 550
    vf = bumps(700, [100, 250, 400, 550], [0.6, 0.9, 1.5, 0.7])
    v, sp = fire(vf, P.theta, P)
    assert sp[0].size == 1 and 390 <= sp[0][0] <= 400
    assert mpdal_t_star(v, sp[0], P, too_few=True) == 250
    # two spikes missing ("mpdal_multi" reading): the two highest sub-threshold peaks, best first
    np.testing.assert_array_equal(mpdal_t_stars(v, sp[0], P, too_few=True, k=2), [250, 550])


def test_t_star_too_few_without_local_peak_is_the_highest_subthreshold_sample():
    v = np.linspace(0.0, 0.8, 50)  # monotone: the last sample is the (edge) maximum
    assert mpdal_t_star(v, np.array([], dtype=int), P, too_few=True) == 49


def test_t_star_too_many_is_the_peak_of_the_spike_closest_above_threshold():
    # three spikes whose free peaks are 1.5 (at 100), 1.05 (at 300), 1.3 (at 500): the 1.05 one is easiest
    vf = bumps(650, [100, 300, 500], [1.5, 1.05, 1.3])
    v, sp = fire(vf, P.theta, P)
    assert sp[0].size == 3
    peaks, margins = spike_peaks(v, sp[0], P)
    np.testing.assert_array_equal(peaks, [100, 300, 500])
    np.testing.assert_allclose(margins, [0.5, 0.05, 0.3], atol=1e-4)  # + residue of earlier resets
    assert mpdal_t_star(v, sp[0], P, too_few=False) == 300
    np.testing.assert_array_equal(mpdal_t_stars(v, sp[0], P, too_few=False, k=2), [300, 500])


def _one_update(rng, extra: int):
    """A random 80-afferent trial, random weights, the output (``v``, ``sp``) and the MPD-AL update
    ``(g, n_star)`` towards ``extra`` more output spikes (-1: one fewer)."""
    tr = random_trial(rng, n=80, duration=0.6)
    w = rng.normal(0.015, 0.08, 80)
    v, sp = simulate([tr], w, P)
    g, n_star = mpdal_update(tr, v[0], sp[0], sp[0].size + extra, P)
    return tr, w, v, sp, g, n_star


def test_one_spike_too_many_is_removed_by_one_update(rng):
    tr, w, v, sp, g, n_star = _one_update(rng, -1)
    n_out = sp[0].size
    assert 3 <= n_out <= 12
    _, margins = spike_peaks(v[0], sp[0], P)
    # step size: just enough to push the chosen peak 20% of its margin below threshold (the rule's
    # direction is fixed; only its length is chosen here)
    lr = 1.2 * margins.min() / float(g @ g)
    v2, sp2 = simulate([tr], w + lr * g, P)
    assert sp2[0].size == n_out - 1
    assert v2[0, n_star] < P.theta
    # the spikes that were not chosen are still there
    chosen = int(np.argmin(margins))
    kept = np.delete(sp[0], chosen)
    # (later spikes move a little: smaller weights delay the crossings)
    assert all(np.min(np.abs(sp2[0] - k)) <= 4 for k in kept)


def test_too_few_update_raises_the_chosen_peak_into_a_spike(rng):
    tr, w, v, sp, g, n_star = _one_update(rng, +1)
    assert 1 <= sp[0].size <= 12
    np.testing.assert_allclose(g, psp_at(tr, [n_star * P.dt], P)[0])  # dw_i = PSP_i(t*)
    assert np.min(np.abs(sp[0] - n_star)) >= 5  # t* was not at a spike
    gap = P.theta - v[0, n_star]
    lr = 1.2 * gap / float(g @ g)
    vf0 = free_potential([tr], w, P)[0]
    vf1 = free_potential([tr], w + lr * g, P)[0]
    np.testing.assert_allclose(vf1[n_star] - vf0[n_star], 1.2 * gap, rtol=1e-9)
    _, sp2 = simulate([tr], w + lr * g, P)
    assert np.min(np.abs(sp2[0] - n_star)) <= 3  # a spike is born at the pushed peak


@pytest.mark.parametrize("k", [1, 2])
def test_mst_critical_threshold_and_gradient(rng, k):
    p = SRMParams(dt=0.0002)
    tr = random_trial(rng, n=100, duration=0.4, rate=10.0)
    w = rng.normal(0.05, 0.1, 100)
    vf = free_potential([tr], w, p)[0]
    ct = critical_threshold(vf, k, p)
    assert ct is not None
    counts = [fire(vf, th, p)[1][0].size for th in (ct.theta * (1 - 1e-4), ct.theta * (1 + 1e-4))]
    assert counts[0] >= k > counts[1]
    g = mst_gradient(tr, w, ct, p)
    d = rng.normal(size=100)
    d /= np.linalg.norm(d)
    eps = 1e-4
    ct2 = critical_threshold(free_potential([tr], w + eps * d, p)[0], k, p)
    numeric = (ct2.theta - ct.theta) / eps
    assert abs(g @ d - numeric) < 0.1 * abs(numeric) + 0.01


def test_mpdal_learns_tiny_clue_task():
    task = ClueTaskConfig(n_afferents=500, n_features=5, n_targets=1, mean_occurrences=0.6, background_s=0.5,
                          n_train=120, n_test=60)
    train = ClueTrainConfig(epochs=2, eval_every=120, target_accuracy=0.9)
    runs, tr, te = run_clue_experiment(task, train, [RuleSetting("mpdal", 0.003)], P, seed=3)
    curve = runs[0].curve
    labels = np.array([t.label for t in te])
    majority = np.bincount(labels).max() / labels.size
    assert curve[0]["test_accuracy"] < 0.7  # untrained: far from the targets
    assert curve[-1]["test_accuracy"] >= 0.95 > majority
    # the trained neuron fires exactly the target count on (nearly) every training trial
    counts = runs[0].learner.counts([t.spikes for t in tr])[:, 0]
    assert np.mean(counts == np.array([t.label for t in tr])) >= 0.95


def test_mst_learns_tiny_clue_task():
    task = ClueTaskConfig(n_afferents=500, n_features=5, n_targets=1, mean_occurrences=0.6, background_s=0.5,
                          n_train=120, n_test=60)
    train = ClueTrainConfig(epochs=1, eval_every=120)
    runs, _, te = run_clue_experiment(task, train, [RuleSetting("mst", 0.003)], P, seed=3)
    assert runs[0].curve[-1]["test_accuracy"] >= 0.95


def test_clue_labels_count_target_occurrences():
    task = ClueTaskConfig(n_features=5, n_targets=2, n_train=20, n_test=5)
    tr, _ = make_clue_dataset(task, seed=1)
    for t in tr:
        assert t.label == int(np.sum(t.feature_ids < 2))
        assert abs(t.spikes.duration_s - (task.background_s + t.feature_ids.size * task.feature_s)) < 1e-9
        assert np.all(np.diff(np.sort(t.onsets_s)) >= task.feature_s - 1e-9)  # features never overlap


def test_dynamic_decoding_fixes_unequal_group_scales():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    # group 2 fires a lot on everything; groups 0/1 fire a little more on their own class
    base = np.array([0.0, 0.0, 6.0])
    counts = base + 3.0 * np.eye(3)[labels] + rng.poisson(0.5, (300, 3))
    dec = DynamicDecoder.fit(counts[:200], labels[:200])
    acc_max = np.mean(max_count_decode(counts[200:]) == labels[200:])
    acc_dyn = np.mean(dec.decode(counts[200:]) == labels[200:])
    assert acc_max < 0.5 and acc_dyn > 0.9


def test_max_count_ties_are_not_all_class_zero():
    pred = max_count_decode(np.zeros((200, 4)), seed=1)
    assert set(pred.tolist()) == {0, 1, 2, 3}


def test_encoder_spikes_in_the_tone_channel():
    fs = 8000
    t = np.arange(int(0.3 * fs)) / fs
    x = np.sin(2 * np.pi * 1000 * t) * np.hanning(t.size)
    enc = SpikeEncoder(EncoderConfig(), fs)
    s = enc.encode(x)
    channel = s.afferents // (2 * enc.cfg.n_levels)
    level = (s.afferents // 2) % enc.cfg.n_levels
    best = int(np.argmin(np.abs(enc.centres_hz - 1000)))
    # only the channels around the tone reach the top level (-5 dB re the loudest channel)
    assert set(channel[level == enc.cfg.n_levels - 1].tolist()) <= {best - 1, best, best + 1}
    assert best in channel[level == enc.cfg.n_levels - 1]
    assert np.all(level[np.abs(channel - best) > 6] < enc.cfg.n_levels - 2)
    up = s.afferents % 2 == 0
    assert s.times_s[up].mean() < s.times_s[~up].mean()  # onsets before offsets


def test_bad_inputs_raise_input_error():
    with pytest.raises(InputError):
        SRMParams(tau_m=0.005, tau_s=0.02)
    with pytest.raises(InputError):
        AggregateLearner(10, 1, P, rule="tdp9")
    with pytest.raises(InputError):
        SpikeInput([0.1], [5], 3, 1.0)
