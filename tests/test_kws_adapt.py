"""Test-speaker adaptation (AdaBN, `neuroaudio kws-adapt`): exact statistics, weights untouched, a
constant feature offset cancelled exactly, the adapted checkpoint safe to load, clear input errors."""

import numpy as np
import pytest
import torch
from torch import nn

from neuroaudio.audio import write_audio
from neuroaudio.errors import InputError
from neuroaudio.kws.adapt import adapt_bn, adapt_checkpoint, batchnorm_layers, fit_clips, predict
from neuroaudio.kws.checkpoint import KWSModel, load_model, read_checkpoint, save_checkpoint
from neuroaudio.kws.config import config_from_dict, config_to_dict

from .conftest import run_cli
from .test_kws import CFG, FS, chirp


def tiny_model(seed: int = 0) -> KWSModel:
    """An untrained 2-block D-RF network (width 8, 20 log-mel channels, 0.5 s clips), seeded."""
    torch.manual_seed(seed)
    cfg = config_from_dict({**CFG, "model": {**CFG["model"], "width": 8, "depth": 2}})
    ck = {"config": config_to_dict(cfg), "labels": ["up", "down"], "sample_rate_hz": FS,
          "clip_samples": int(cfg.data.clip_s * FS), "code_revision": "test", "metrics": {"x": 1.0},
          "epoch": 1}
    return KWSModel(ck).eval()


def clips(n: int, seed: int, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [scale * chirp(k % 2, rng) for k in range(n)]


def bn_stats(model: KWSModel) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.net.state_dict().items() if "running" in k}


def test_adabn_statistics_are_exact_and_independent_of_the_batch_size():
    m = tiny_model()
    audios = clips(13, 1)
    rep = adapt_bn(m, audios, batch_size=5)
    names = [n for n, _ in batchnorm_layers(m)]
    assert names == ["stem.1", "blocks.0.bn1", "blocks.0.bn2", "blocks.1.bn1", "blocks.1.bn2"]
    assert rep["n_clips"] == 13 and [r["name"] for r in rep["layers"]] == names
    # stem: the statistics of conv1x1(features) over clips x frames, by hand (population variance)
    x = fit_clips(audios, m)
    with torch.no_grad():
        z = m.net.stem[0](m.frontend(x)).double()                              # [13, 8, T]
    flat = z.transpose(0, 1).reshape(8, -1)
    assert torch.allclose(m.net.stem[1].running_mean.double(), flat.mean(1), atol=1e-5)
    assert torch.allclose(m.net.stem[1].running_var.double(), flat.var(1, unbiased=False), rtol=1e-4)
    # the whole network: what it computes in training mode on one batch of all 13 clips (no dropout)
    ref = tiny_model()
    ref.train()
    ref.net.dropout.eval()
    with torch.no_grad():
        want = ref(x)[0]
        got_logits = m(x)[0]
        unadapted = tiny_model()(x)[0]
    assert float((got_logits - want).abs().max()) < 1e-4
    assert float((got_logits - unadapted).abs().max()) > 0.05                # and not the unadapted net
    # another batch size: the same statistics
    got = bn_stats(m)
    m2 = tiny_model()
    adapt_bn(m2, audios, batch_size=64)
    for k, v in bn_stats(m2).items():
        assert torch.allclose(v, got[k], rtol=1e-6, atol=1e-7), k


class _Offset(nn.Module):
    """A front-end whose features are the original ones plus a constant per channel (a 'speaker')."""

    def __init__(self, frontend: nn.Module, offset: torch.Tensor):
        super().__init__()
        self.inner, self.offset = frontend, offset

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.inner(audio) + self.offset[None, :, None]


def test_adabn_follows_a_shifted_speaker_and_cancels_a_constant_feature_offset_exactly():
    src, tgt = clips(16, 2), clips(16, 3)
    m = tiny_model()
    adapt_bn(m, src)                                            # the "training speakers'" statistics
    weights = {k: v.clone() for k, v in m.net.state_dict().items() if "running" not in k}
    stats_src = bn_stats(m)
    plain = tiny_model()
    adapt_bn(plain, tgt)
    p_plain = predict(plain, tgt)                               # adapted to the new speaker, no offset
    # the new speaker seen through a constant per-mel-channel offset (a colouring the stem sees)
    offset = torch.linspace(-2.0, 2.0, m.frontend.n_features)
    frontend = m.frontend
    m.frontend = _Offset(frontend, offset)
    with torch.no_grad():
        before = m.net.stem(m.frontend(fit_clips(tgt, m)))                   # eval: source statistics
    p_before = predict(m, tgt)
    assert before.mean(dim=(0, 2)).abs().max() > 1.0                          # far from normalised
    rep = adapt_bn(m, tgt)
    assert rep["layers"][0]["mean_shift"] > 1.0 and abs(rep["layers"][0]["std_ratio"] - 1) < 0.2
    with torch.no_grad():
        after = m.net.stem(m.frontend(fit_clips(tgt, m)))
    assert after.mean(dim=(0, 2)).abs().max() < 1e-4                          # normalised on the speaker
    assert (after.var(dim=(0, 2), unbiased=False) - 1).abs().max() < 1e-3
    # weights and BN affine parameters untouched; only running statistics moved
    assert all(torch.equal(v, weights[k]) for k, v in m.net.state_dict().items() if k in weights)
    assert any(not torch.equal(v, stats_src[k]) for k, v in bn_stats(m).items())
    # the offset is cancelled exactly: the probabilities of the model adapted without it
    assert np.abs(p_before - p_plain).max() > 0.05
    assert np.abs(predict(m, tgt) - p_plain).max() < 1e-4
    # the statistics are recomputed from scratch: adapting again changes nothing, going back restores
    again = bn_stats(m)
    adapt_bn(m, tgt)
    assert all(torch.allclose(v, again[k], rtol=1e-6, atol=1e-7) for k, v in bn_stats(m).items())
    m.frontend = frontend
    adapt_bn(m, src)
    assert all(torch.allclose(v, stats_src[k], rtol=1e-5, atol=1e-6) for k, v in bn_stats(m).items())


@pytest.fixture()
def saved_model(tmp_path):
    m = tiny_model()
    adapt_bn(m, clips(16, 2))
    path = tmp_path / "model.pt"
    ck = {"config": config_to_dict(m.cfg), "labels": m.labels, "sample_rate_hz": FS,
          "clip_samples": m.clip_samples, "code_revision": "test", "metrics": {"test_accuracy": 0.5},
          "epoch": 1, "state_dict": m.net.state_dict()}
    save_checkpoint(path, ck)
    return path


def test_cli_kws_adapt_writes_a_safe_adapted_checkpoint(saved_model, tmp_path):
    rng = np.random.default_rng(5)
    user = tmp_path / "user"
    for i in range(8):                                   # recorded at 16 kHz: resampled to 8 kHz
        c = chirp(i % 2, rng)
        c16 = np.interp(np.arange(2 * len(c)) / 2, np.arange(len(c)), c).astype(np.float32)
        write_audio(user / "session" / f"w{i}.wav", (0.5 * c16)[:, None], 2 * FS)
    write_audio(user / "silence.wav", np.zeros((2000, 1), np.float32), FS)
    out = tmp_path / "adapted.pt"
    r = run_cli("kws-adapt", user, "--model", saved_model, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "8 clips" in r.stdout and "8 resampled" in r.stdout and "1 silent left out" in r.stdout
    assert "warning: only 8 clips" in r.stderr
    ck = torch.load(out, weights_only=True)
    src = read_checkpoint(saved_model)
    rec = ck["adaptation"]
    assert rec["method"] == "adabn" and rec["n_clips"] == 8 and rec["n_files"] == 9
    assert rec["n_resampled"] == 8 and rec["n_silent"] == 1 and rec["rates_hz"] == {"8000": 1, "16000": 8}
    assert rec["source_metrics"] == {"test_accuracy": 0.5} and ck["metrics"] == {} and rec["previous"] is None
    assert len(rec["layers"]) == 5 and ck["labels"] == src["labels"] and ck["config"] == src["config"]
    moved = [k for k in src["state_dict"] if not torch.equal(src["state_dict"][k], ck["state_dict"][k])]
    assert moved and all("running" in k for k in moved)
    assert load_model(out).labels == ["up", "down"]
    # adapting the adapted model again: the same statistics, the first record kept as "previous"
    r = run_cli("kws-adapt", user, "--model", out, "--out", tmp_path / "twice.pt")
    assert r.returncode == 0, r.stderr
    ck2 = torch.load(tmp_path / "twice.pt", weights_only=True)
    assert ck2["adaptation"]["previous"]["n_clips"] == 8
    assert ck2["adaptation"]["source_metrics"] == {"test_accuracy": 0.5}
    for k, v in ck["state_dict"].items():
        assert torch.allclose(v.float(), ck2["state_dict"][k].float(), rtol=1e-5, atol=1e-6), k


def test_cli_kws_adapt_bad_input_one_line_exit_2(saved_model, tmp_path):
    (tmp_path / "empty").mkdir()
    r = run_cli("kws-adapt", tmp_path / "empty", "--model", saved_model, "--out", tmp_path / "a.pt")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no .wav/.flac files" in r.stderr
    write_audio(tmp_path / "low" / "w.wav", chirp(0, np.random.default_rng(0))[::2, None], FS // 2)
    with pytest.raises(InputError, match="4000 Hz, below the model's 8000 Hz"):        # exit 2 in the CLI
        adapt_checkpoint(saved_model, tmp_path / "low", tmp_path / "a.pt")
    with pytest.raises(InputError, match="is the input model itself"):
        adapt_checkpoint(saved_model, tmp_path / "low", saved_model)
    with pytest.raises(InputError, match="not a folder"):
        adapt_checkpoint(saved_model, tmp_path / "nope", tmp_path / "a.pt")
    write_audio(tmp_path / "quiet" / "w.wav", np.zeros((800, 1), np.float32), FS)
    with pytest.raises(InputError, match="all 1 files .* are silent"):
        adapt_checkpoint(saved_model, tmp_path / "quiet", tmp_path / "a.pt")
    assert not (tmp_path / "a.pt").exists()
    r = run_cli("kws-adapt", "--help")      # the old name shows the help of `kws adapt`
    text = " ".join(r.stdout.split())
    assert r.returncode == 0 and "NOT speaker-independent" in text and "kws adapt my_words/" in text
