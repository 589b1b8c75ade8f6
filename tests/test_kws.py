"""Keyword spotting: a tiny D-RF network learns a two-word synthetic task; checkpoints, resume,
detection times, the CLI and folder evaluation."""

import csv
import json

import numpy as np
import pytest
import torch

from neuroaudio.audio import write_audio
from neuroaudio.kws.checkpoint import load_model, read_checkpoint
from neuroaudio.kws.config import config_from_dict, load_config
from neuroaudio.kws.data import Item, Splits, load_folder, load_fsdd
from neuroaudio.kws.evaluate import evaluate_items
from neuroaudio.kws.frontend import Frontend, mel_filterbank
from neuroaudio.kws.infer import StreamingDetector, detect
from neuroaudio.kws.train import train

from .conftest import REPO, run_cli

FS = 8000


def chirp(direction: int, rng, dur=0.3):
    """'Word' 0: rising chirp 500→1800 Hz; 'word' 1: falling. Random length, level and noise."""
    d = dur * rng.uniform(0.8, 1.2)
    t = np.arange(int(d * FS)) / FS
    f0, f1 = (500, 1800) if direction == 0 else (1800, 500)
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * d))
    x = np.sin(phase) * np.hanning(len(t)) * rng.uniform(0.05, 0.5)
    return (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def fake_fsdd(root, per_digit: int, seed: int = 0):
    """A folder of FSDD-named chirps (``{digit}_{speaker}_{index}.wav``, digits 0/1, speakers
    jackson and theo, 16-bit) standing in for the real recordings; returns the folder."""
    from scipy.io import wavfile

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for spk in ("jackson", "theo"):
        for d in (0, 1):
            for i in range(per_digit):
                wavfile.write(root / f"{d}_{spk}_{i}.wav", FS, (chirp(d, rng) * 2**14).astype(np.int16))
    return root


def chirp_items(n, seed):
    rng = np.random.default_rng(seed)
    return [Item(k % 2, f"s{k % 5}", None, chirp(k % 2, rng)) for k in range(n)]


CFG = {
    "name": "chirps", "seed": 0,
    "data": {"source": "folder", "sample_rate_hz": FS, "clip_s": 0.5},
    "frontend": {"kind": "logmel", "n_mels": 20, "n_fft": 256, "hop": 80},
    "model": {"neuron": "drf", "width": 16, "depth": 1,
              "neuron_kwargs": {"branches": 4, "tau_range": [2, 16], "freq_range": [0.0, 0.25]}},
    # 20 epochs: at 12 the tiny model classified every test clip right but scored a whole 'down' chirp
    # in a sliding window at only 0.58 (torch 2.13, numpy 2.4), too close to any threshold
    "train": {"epochs": 20, "batch_size": 16, "lr": 0.01, "augment": {"speed": [0.95, 1.05]}},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("kws")
    cfg = config_from_dict({**CFG, "out_dir": str(out)})
    sp = Splits(["up", "down"], FS, train=chirp_items(160, 1), val=chirp_items(40, 2),
                test=chirp_items(60, 3))
    metrics = train(cfg, resume=False, progress=False, splits=sp)
    return out, metrics, sp


def test_tiny_drf_model_learns_two_word_task(trained):
    out, metrics, sp = trained
    assert metrics["test_accuracy"] >= 0.9
    assert 0 < metrics["test_mean_firing_rate"] < 0.3
    assert metrics["test_energy_pj_per_clip"] < metrics["test_energy_dense_pj_per_clip"]
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert len(rows) == 20 and float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert (out / "curve.png").stat().st_size > 0 and (out / "confusion.png").stat().st_size > 0


def test_checkpoint_is_self_contained_and_safe(trained):
    out, metrics, sp = trained
    ck = torch.load(out / "model.pt", weights_only=True)           # no pickled code needed
    assert ck["labels"] == ["up", "down"] and ck["sample_rate_hz"] == FS and ck["clip_samples"] == 4000
    assert ck["config"]["model"]["neuron"] == "drf" and ck["code_revision"]
    json.dumps(ck["config"])
    assert ck["metrics"]["test_accuracy"] == metrics["test_accuracy"]
    m = load_model(out / "model.pt")
    ev = evaluate_items(m, sp.test)
    assert ev["accuracy"] == pytest.approx(metrics["test_accuracy"])


def test_resume_continues_from_last_epoch(tmp_path):
    cfg_d = {**CFG, "out_dir": str(tmp_path), "train": {**CFG["train"], "epochs": 1}}
    sp = Splits(["up", "down"], FS, train=chirp_items(32, 1), val=chirp_items(8, 2))
    train(config_from_dict(cfg_d), resume=True, progress=False, splits=sp)
    first = read_checkpoint(tmp_path / "last.pt")["history"]
    cfg_d["train"] = {**cfg_d["train"], "epochs": 2}
    train(config_from_dict(cfg_d), resume=True, progress=False, splits=sp)
    ck = read_checkpoint(tmp_path / "last.pt")
    assert ck["epoch"] == 2 and len(ck["history"]) == 2
    assert ck["history"][0] == first[0]                  # epoch 1 was not trained again
    cfg_d["model"] = {**CFG["model"], "width": 8}        # another model: starts afresh
    train(config_from_dict(cfg_d), resume=True, progress=False, splits=sp)
    assert read_checkpoint(tmp_path / "last.pt")["history"][0] != first[0]


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """Stopped while saving epoch 2 and resumed: the log and weights of an unbroken run (the epoch's
    data and masks are seeded by (seed, epoch); dropout continues from the saved generator state)."""
    from neuroaudio.kws.checkpoint import CHECKPOINT

    from .conftest import crash_when_saving_epoch

    cfg_d = {**CFG, "train": {**CFG["train"], "epochs": 3},
             "model": {**CFG["model"], "dropout": 0.3}}
    sp = Splits(["up", "down"], FS, train=chirp_items(32, 1), val=chirp_items(8, 2))

    def run(out):
        train(config_from_dict({**cfg_d, "out_dir": str(out)}), resume=True, progress=False, splits=sp)
        return read_checkpoint(out / "last.pt")

    whole = run(tmp_path / "a")
    real_save = crash_when_saving_epoch(monkeypatch, CHECKPOINT, 2)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b")
    monkeypatch.setattr(CHECKPOINT, "save", real_save)
    resumed = run(tmp_path / "b")
    drop = ("seconds", "cpu_seconds")
    assert ([{k: v for k, v in r.items() if k not in drop} for r in resumed["history"]]
            == [{k: v for k, v in r.items() if k not in drop} for r in whole["history"]])
    for k, v in whole["state_dict"].items():
        assert torch.equal(v, resumed["state_dict"][k]), k


def test_detect_finds_words_at_their_times(trained):
    out, _, _ = trained
    m = load_model(out / "model.pt")
    rng = np.random.default_rng(7)
    x = 0.003 * rng.standard_normal(3 * FS).astype(np.float32)
    for k, t0 in ((1, 0.5), (0, 2.0)):
        c = chirp(k, rng)
        x[int(t0 * FS):int(t0 * FS) + len(c)] += c
    # threshold 0.8: the words score 0.97; a window holding only a chirp's tail can also pass it
    # (0.73-0.88 on different CPUs: a closed-set model has no 'not a word' class to give a partial
    # word to), so the two best-scoring detections must be the words, in order, at their times
    dets = detect(m, x, threshold=0.8, hop_s=0.05)
    best = sorted(sorted(dets, key=lambda d: -d.score)[:2], key=lambda d: d.t_start_s)
    assert [d.label for d in best] == ["down", "up"] and min(d.score for d in best) > 0.95
    assert all(d.score < min(b.score for b in best) for d in dets if d not in best)
    for d, t0 in zip(best, (0.5, 2.0), strict=True):
        assert d.t_start_s - 0.05 <= t0 + 0.15 <= d.t_end_s + 0.05   # the chirp lies in the window
    # live path: the same detections whatever the blocks
    det = StreamingDetector(m, threshold=0.8, hop_s=0.05, min_level_dbfs=-45)
    rng_b = np.random.default_rng(3)
    got, i = [], 0
    while i < len(x):
        k = int(rng_b.integers(1, 3000))
        got += det.process(x[i:i + k, None])
        i += k
    got += det.flush()
    assert [(d.label, d.t_start_s) for d in got] == [(d.label, d.t_start_s) for d in dets]


def test_cli_kws_and_evaluate_folder(trained, tmp_path):
    out, _, _ = trained
    rng = np.random.default_rng(11)
    for k, name in enumerate(["up", "down"]):
        for i in range(6):
            write_audio(tmp_path / "clips" / name / f"spk{i}_nohash_{i}.wav", chirp(k, rng)[:, None], FS)
    # one good file and one missing: the good one is reported, the bad one keeps its place, exit 2
    r = run_cli("kws", tmp_path / "clips" / "down" / "spk0_nohash_0.wav", tmp_path / "missing.wav",
                "--model", out / "model.pt", "--format", "jsonl")
    assert r.returncode == 2 and "missing.wav" in r.stderr
    good, bad = (json.loads(line) for line in r.stdout.splitlines())
    assert good["detections"][0]["label"] == "down" and good["status"] == "ok"
    assert bad["status"].startswith("error") and bad["detections"] == []
    r = run_cli("kws-evaluate", tmp_path / "clips", "--model", out / "model.pt", "--out", tmp_path / "ev")
    assert r.returncode == 0, r.stderr
    met = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert met["n"] == 12 and met["accuracy"] >= 0.8 and len(met["firing_rates"]) == 2
    assert (tmp_path / "ev" / "confusion.png").is_file()
    assert met["seen_speakers"] == [] and met["speaker_independent"] is True   # spk0-5: never heard
    assert "not speaker-independent" not in r.stderr
    # clips of a training speaker (s1): said on stderr and in metrics.json
    for k, name in enumerate(["up", "down"]):
        write_audio(tmp_path / "seen" / name / f"s1_nohash_{k}.wav", chirp(k, rng)[:, None], FS)
    r = run_cli("kws-evaluate", tmp_path / "seen", "--model", out / "model.pt", "--out", tmp_path / "ev2")
    assert r.returncode == 0, r.stderr
    met = json.loads((tmp_path / "ev2" / "metrics.json").read_text())
    assert met["seen_speakers"] == ["s1"] and met["speaker_independent"] is False
    assert "trained on the voices of s1" in r.stderr and "not speaker-independent" in r.stderr
    from neuroaudio.errors import InputError

    with pytest.raises(InputError, match="not found"):
        load_model(tmp_path / "nope.pt")
    (tmp_path / "evil.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot be loaded safely"):
        load_model(tmp_path / "evil.pt")


def test_loaders_split_by_speaker(tmp_path):
    rng = np.random.default_rng(0)
    for d in range(3):
        for spk in ("ann", "bob", "cy"):
            for i in range(2):
                write_audio(tmp_path / "fsdd" / f"{d}_{spk}_{i}.wav", chirp(d % 2, rng)[:, None], FS)
                write_audio(tmp_path / "fold" / f"w{d}" / f"{spk}_nohash_{i}.wav", chirp(0, rng)[:, None],
                            FS)
    cfg = config_from_dict({"data": {"source": "fsdd", "root": str(tmp_path / "fsdd"),
                                     "test_speakers": ["cy"], "val_speakers": ["bob"]}}).data
    sp = load_fsdd(cfg)
    assert {it.speaker for it in sp.test} == {"cy"} and {it.speaker for it in sp.val} == {"bob"}
    assert {it.speaker for it in sp.train} == {"ann"} and len(sp.train) == 6
    assert sp.labels[:3] == ["0", "1", "2"]
    cfg = config_from_dict({"data": {"source": "folder", "root": str(tmp_path / "fold"),
                                     "test_speakers": ["ann"]}}).data
    sp = load_folder(cfg)
    assert sp.labels == ["w0", "w1", "w2"] and {it.speaker for it in sp.test} == {"ann"}
    assert len(sp.train) + len(sp.val) == 12
    from neuroaudio.errors import InputError

    with pytest.raises(InputError, match="speaker 'zed'"):
        load_fsdd(config_from_dict({"data": {"root": str(tmp_path / "fsdd"), "test_speakers": ["zed"]}}).data)


def test_synthetic_keywords_split_by_voice():
    pytest.importorskip("espeakng_loader")
    from neuroaudio.kws.data import load_synthetic

    cfg = config_from_dict({"data": {"source": "synthetic", "words": ["yes", "no"],
                                     "voices": ["en", "en-us+f3"], "rates_wpm": [150, 200], "pitches": [50],
                                     "test_voices": ["en-us+f3"],
                                     "val_fraction": 0.0}}).data
    sp = load_synthetic(cfg)
    assert sp.labels == ["yes", "no"] and len(sp.train) == 4 and len(sp.test) == 4
    assert {it.speaker for it in sp.test} == {"en-us+f3"}
    assert all(0.1 < len(it.audio) / 8000 < 1.0 for it in sp.train + sp.test)


def test_logmel_frontend_is_level_independent_and_mel_bank_covers_band():
    fb = mel_filterbank(256, 20, FS)
    assert fb.shape == (20, 129) and (fb.sum(0)[3:-3] > 0).all()
    fe = Frontend(config_from_dict({}).frontend, FS)
    x = torch.from_numpy(chirp(0, np.random.default_rng(0))[None])
    torch.testing.assert_close(fe(x), fe(10 * x), atol=1e-4, rtol=0)
    assert fe(x).shape == (1, 40, fe.n_frames(x.shape[-1]))
    cmn = Frontend(config_from_dict({"frontend": {"cmn": True}}).frontend, FS)
    y = cmn(x)
    torch.testing.assert_close(y, cmn(10 * x), atol=1e-4, rtol=0)
    # a fixed spectral colouring (a channel gain per mel band) is removed: filtered == unfiltered
    from scipy.signal import lfilter

    xc = torch.from_numpy(lfilter([1.0, -0.9], [1.0], x.numpy()[0]).astype(np.float32)[None])
    plain = fe(x) - fe(xc)
    normed = y - cmn(xc)
    assert normed.abs().mean() < 0.3 * plain.abs().mean()


def test_shipped_pipeline_config_is_valid():
    cfg = load_config(REPO / "pipelines" / "kws_drf.yaml", ["train.epochs=2"])
    assert cfg.model.neuron == "drf" and cfg.train.epochs == 2 and cfg.data.sample_rate_hz == 8000


@pytest.mark.parametrize("neuron", ["drf", "rf", "brf", "alif"])
def test_raw_audio_network_runs_every_neuron_kind(neuron):
    """The raw front-end feeds the waveform to the network (stem, here pooled by 4, then dendrites)."""
    from neuroaudio.kws.checkpoint import KWSModel
    from neuroaudio.kws.config import config_to_dict

    kw = {"branches": 4, "freq_range": [0.0, 0.5], "tau_range": [8, 64]} if neuron == "drf" else {}
    cfg = config_from_dict({"frontend": {"kind": "raw"},
                            "model": {"neuron": neuron, "neuron_kwargs": kw, "width": 4, "depth": 1,
                                      "pool": 4}})
    m = KWSModel({"config": config_to_dict(cfg), "labels": ["a", "b", "c"], "sample_rate_hz": FS,
                  "clip_samples": 800})
    audio = torch.from_numpy(chirp(0, np.random.default_rng(0))[None, :800])
    logits, spikes = m(audio)
    assert logits.shape == (1, 3) and len(spikes) == 2 and spikes[0].shape == (1, 4, 200)
    logits.sum().backward()
    assert m.net.stem[0].weight.grad.abs().sum() > 0


def test_shipped_model_loads_safely_with_its_card():
    path = REPO / "data" / "models" / "kws_fsdd_drf.pt"
    m = load_model(path)
    assert m.labels == [str(d) for d in range(10)] and m.fs == 8000 and m.clip_samples == 8000
    assert path.stat().st_size < 700_000
    card = (REPO / "data" / "models" / "kws_fsdd_drf.md").read_text()
    assert "CC BY-SA 4.0" in card and "Free Spoken Digit Dataset" in card
    logits, spikes = m(torch.zeros(1, 8000))
    assert logits.shape == (1, 10) and len(spikes) == 2 * m.cfg.model.depth


def test_dataset_registry_loads_by_name_and_names_the_choices(tmp_path):
    """data.source picks a registered loader; an unknown name is one line listing the registered ones."""
    from neuroaudio.errors import InputError
    from neuroaudio.kws.datasets import DATASETS, check_dataset_name, load_dataset

    assert set(DATASETS) == {"fsdd", "folder", "speech_commands", "synthetic"}
    with pytest.raises(InputError, match="use one of fsdd, folder, speech_commands, synthetic"):
        check_dataset_name("timit")
    for label in ("yes", "no"):
        (tmp_path / label).mkdir()
        for k in range(3):
            write_audio(tmp_path / label / f"spk{k}_nohash_0.wav", np.zeros((800, 1), np.float32), 8000)
    cfg = config_from_dict({"data": {"source": "folder", "root": str(tmp_path)}}).data
    sp = load_dataset(cfg, 0)
    assert sp.labels == ["no", "yes"]
    assert len(sp.train) + len(sp.val) + len(sp.test) == 6
