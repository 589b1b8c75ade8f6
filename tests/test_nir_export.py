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
