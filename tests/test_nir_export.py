"""NIR export round trip: export a shipped model, read it back with ``nir.read``, run it in snnTorch
(its NIR node converters on nirtorch's executor, :mod:`neuroaudio.export.reference`) and compare
every spiking layer and the task output with our own model on the same input (docs/nir.md).

Needs the ``[nir]`` extra (nir, nirtorch, snntorch), which ``[test]`` installs: CI runs these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from .conftest import REPO

nir = pytest.importorskip("nir", reason="pip install 'neuroaudio[nir]'")
pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")

from neuroaudio.export.maa_nir import level_steps, maa_input_spikes, maa_neuron_spikes, maa_to_nir  # noqa: E402
from neuroaudio.export.nir_common import write_graph  # noqa: E402
from neuroaudio.export.reference import ReferenceRun  # noqa: E402

MAA_MODEL = REPO / "data" / "models" / "maa_respeaker4.pt"


def _maa_counts(n_frames: int = 6) -> torch.Tensor:
    """RF-PLC counts ``[n, T, 6, 51, 40]`` of the example recording's first loud frames."""
    import soundfile as sf

    from neuroaudio.localize.maa import MAALocalizer

    loc = MAALocalizer("respeaker4")
    audio, _ = sf.read(REPO / "data" / "examples" / "respeaker4_az120.wav", dtype="float32")
    starts = range(8 * loc.hop, len(audio) - loc.frame_len, loc.hop)
    frames = np.stack([audio[s:s + loc.frame_len] for s in starts][:n_frames])
    counts = np.minimum(loc.encoder.encode_frames(frames), 255)
    return torch.from_numpy(counts.astype(np.int64))


@pytest.fixture(scope="module")
def maa_round_trip(tmp_path_factory) -> dict:
    from neuroaudio.maa.checkpoint import load_model

    net, _ = load_model(MAA_MODEL)
    path = write_graph(maa_to_nir(net, step_s=0.0425), tmp_path_factory.mktemp("nir") / "maa.nir")
    graph = nir.read(path)                                         # the file, not the object
    counts = _maa_counts()
    b, clipped = maa_input_spikes(counts, net.cfg.input_pool, int(graph.metadata["levels"]))
    ours, logits = maa_neuron_spikes(net, counts)
    names = [k for k in ours if k != "fsja_gated"] + ["fsja_gate"]
    out, theirs = ReferenceRun(graph)(b, record=names)
    return {"net": net, "graph": graph, "ours": ours, "theirs": theirs, "logits": logits,
            "out": out.flatten(2), "clipped": clipped, "path": Path(path)}


def test_maa_graph_is_nir_primitives_only_and_reads_back(maa_round_trip):
    g = maa_round_trip["graph"]
    kinds = {type(n).__name__ for n in g.nodes.values()}
    assert kinds <= {"Input", "Output", "Conv2d", "LIF", "Threshold"}, kinds
    assert sum(isinstance(n, nir.LIF) for n in g.nodes.values()) == 6        # FSJA, In, ST, 3 blocks
    assert ("stm_rec", "stm_st_lif") in g.edges and ("stm_st_lif", "stm_rec") in g.edges   # ST-M loop
    assert g.metadata["dt_s"] == pytest.approx(1e-4)
    assert maa_round_trip["path"].stat().st_size < 4e6


def test_maa_snntorch_reproduces_every_spike_and_the_output(maa_round_trip):
    r = maa_round_trip
    assert r["clipped"] == 0
    for name in ("fsja_lif", "stm_in_lif", "stm_st_lif", "block1_lif", "block2_lif", "block3_lif",
                 "block1_or", "block2_or", "block3_or"):
        ours, theirs = r["ours"][name], r["theirs"][name]
        assert ours.shape == theirs.shape, name
        assert 0.02 < float(ours.mean()) < 0.95, name                       # a layer that fires
        assert torch.equal(ours, theirs), f"{name}: {int((ours != theirs).sum())} spikes differ"
    # the gate as spikes: Σ_k Δ_k (b_k AND A) is our x·A
    g = r["theirs"]["fsja_gate"]
    steps = torch.as_tensor(level_steps(int(r["graph"].metadata["levels"])), dtype=torch.float64)
    gated = (g.double().unflatten(2, (len(steps), -1)) * steps.reshape(-1, 1, 1, 1)).sum(2)
    assert torch.allclose(gated, r["ours"]["fsja_gated"].double(), atol=1e-6)
    # the task output: per-step logits, then the frame's azimuth
    assert float((r["out"] - r["logits"]).abs().max()) < 1e-4
    p_ours = torch.softmax(r["logits"], -1).mean(1)
    p_theirs = torch.softmax(r["out"], -1).mean(1)
    assert torch.equal(p_ours.argmax(-1), p_theirs.argmax(-1))


KWS_MODEL = REPO / "data" / "models" / "kws_fsdd_drf.pt"


def test_kws_drf_snntorch_reproduces_every_spike_and_the_output(tmp_path):
    import soundfile as sf
    from scipy.signal import resample_poly

    from neuroaudio.export.kws_nir import kws_neuron_spikes, kws_to_nir
    from neuroaudio.kws.checkpoint import load_model

    m = load_model(KWS_MODEL)
    graph = nir.read(write_graph(kws_to_nir(m.net), tmp_path / "kws.nir"))
    kinds = {type(n).__name__ for n in graph.nodes.values()}
    assert kinds <= {"Input", "Output", "Affine", "Linear", "Scale", "LI", "Threshold", "Delay"}, kinds
    assert ("block1_drf_rec", "block1_drf_state") in graph.edges          # the resonators' state loop
    audio, _ = sf.read(REPO / "data" / "examples" / "respeaker4_az120.wav", dtype="float32")
    speech = resample_poly(audio[:, 0], 1, 2).astype(np.float32)           # 8 kHz, a real talker
    clips = torch.from_numpy(np.stack([speech[:8000], speech[8000:16000]]))
    with torch.no_grad():
        feats = m.frontend(clips)                                          # [2, 40, 61]
    ours, logits = kws_neuron_spikes(m.net, feats)
    out, theirs = ReferenceRun(graph)(feats.transpose(1, 2), record=list(ours))
    assert len(ours) == 6
    for name, s in ours.items():
        assert 0.02 < float(s.mean()) < 0.3, name
        assert torch.equal(s, theirs[name]), f"{name}: {int((s != theirs[name]).sum())} spikes differ"
    assert float((out.mean(1) - logits).abs().max()) < 1e-4               # logits = mean of per-step read-out
    assert torch.equal(out.mean(1).argmax(-1), logits.argmax(-1))


def test_export_cli_writes_both_models_and_refuses_bad_input_in_one_line(tmp_path):
    from .conftest import run_cli

    ok = run_cli("export", "kws", "-o", tmp_path / "kws.nir", "--json")
    assert ok.returncode == 0, ok.stderr
    import json
    res = json.loads(ok.stdout)
    assert res["kind"] == "kws" and res["nodes"]["LI"] == 6 and (tmp_path / "kws.nir").is_file()
    ok = run_cli("export", "maa", "--format", "nir", "--out", tmp_path / "maa.nir", "--set", "levels=8")
    assert ok.returncode == 0, ok.stderr
    assert int(nir.read(tmp_path / "maa.nir").metadata["levels"]) == 8
    for bad in (["export", "maa", "-o", tmp_path / "m.nir", "-f", "onnx"],
                ["export", tmp_path / "none.pt", "-o", tmp_path / "m.nir"],
                ["export", REPO / "data" / "models" / "gcc_phat_sm_respeaker4.pt", "-o", tmp_path / "m.nir"],
                ["export", "maa", "-o", tmp_path]):
        r = run_cli(*bad)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, (bad, r.stderr)
        assert "Traceback" not in r.stderr


def _mpdal_layer(tmp_path: Path):
    """A 3-neuron MPD-AL layer on 40 afferents (saved as a checkpoint) and 4 trials of 0.5 s: one
    with spikes on the 1-ms grid, three with sub-grid spike times."""
    from neuroaudio.mpdal.checkpoint import save
    from neuroaudio.neurons.srm import SpikeInput, SRMParams

    rng = np.random.default_rng(0)
    p, n = SRMParams(), 40
    w = rng.normal(0.08, 0.1, (n, 3))
    trials = []
    for b in range(4):
        k = int(rng.integers(50, 200))
        t = rng.uniform(0, 0.5, k)
        trials.append(SpikeInput(np.round(t, 3) if b == 0 else t, rng.integers(0, n, k), n, 0.5))
    save(tmp_path / "mpdal.pt", w, p, "mpdal", "test")
    return w, p, trials


def test_mpdal_graph_reproduces_every_spike_and_the_counts(tmp_path):
    """The subtractive reset as a leaky trace of the output spikes on a recurrent edge: every spike
    equal, the potential within float32 rounding, the spike counts (the task output) equal."""
    from neuroaudio.export.api import export_model
    from neuroaudio.export.mpdal_nir import mpdal_input, mpdal_spikes
    from neuroaudio.neurons.srm import fire, free_potential

    w, p, trials = _mpdal_layer(tmp_path)
    res = export_model(str(tmp_path / "mpdal.pt"), tmp_path / "mpdal.nir", options={"dt_s": 1e-4})
    assert res["kind"] == "mpdal" and res["nodes"] == {"Input": 1, "Output": 1, "Linear": 2, "LI": 3,
                                                        "Threshold": 1}
    graph = nir.read(tmp_path / "mpdal.nir")
    assert ("fire", "reset") in graph.edges and ("reset", "fire") in graph.edges
    ours = torch.from_numpy(mpdal_spikes(w, p, trials))                       # [B, T, M]
    out, rec = ReferenceRun(graph)(torch.from_numpy(mpdal_input(trials, p)),
                                   record=("psp_m", "psp_s", "reset"))
    assert int(ours.sum()) >= 60 and int((ours.sum(1) >= 2).sum()) >= 6      # resets matter
    assert torch.equal(out, ours), f"{int((out != ours).sum())} spikes differ"
    assert torch.equal(out.sum(1), ours.sum(1))
    v, _ = fire(free_potential(trials, w, p, ours.shape[1]), p.theta, p)      # [B, M, T], with resets
    # nirtorch delays the reset → fire edge of the loop: fire at step n reads reset's step n−1 output
    reset = torch.cat([torch.zeros_like(rec["reset"][:, :1]), rec["reset"][:, :-1]], 1)
    v_graph = (rec["psp_m"] + rec["psp_s"] + reset).double().numpy().transpose(0, 2, 1)
    assert np.abs(v_graph - v).max() < 1e-4


def test_export_cli_mpdal_checkpoint(tmp_path):
    from .conftest import run_cli

    _mpdal_layer(tmp_path)
    ok = run_cli("export", tmp_path / "mpdal.pt", "-o", tmp_path / "m.nir", "--json")
    assert ok.returncode == 0, ok.stderr
    import json
    assert json.loads(ok.stdout)["metadata"]["model"] == "mpdal"
    r = run_cli("export", tmp_path / "mpdal.pt", "-o", tmp_path / "m2.nir", "--set", "levels=4")
    assert r.returncode == 2 and "takes dt_s" in r.stderr
