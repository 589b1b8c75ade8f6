"""MAA data path: simulated clips → encoded frame shards (resumable, checked) == on-the-fly frames;
and `neuroaudio train maa` end to end on a tiny simulated set."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from neuroaudio.encoding.config import RFPLCConfig
from neuroaudio.errors import InputError
from neuroaudio.maa.data import OnlineFrames, build_cache, collate_frames
from neuroaudio.sim.config import load_config

from .conftest import REPO, run_cli

ENC = RFPLCConfig(n_neurons=64, n_bands=8, n_delays=11, frame_s=0.064, steps=4)
SIM = REPO / "pipelines" / "quick.yaml"


def test_cache_shards_match_online_frames_and_resume(tmp_path):
    cache = tmp_path / "cache"
    fs = build_cache(SIM, 3, ENC, cache, seed=5, shard_clips=2, progress=False)
    shards = sorted(cache.glob("shard_*.npz"))
    assert [s.name for s in shards] == ["shard_00000.npz", "shard_00001.npz"]
    assert fs.frame_shape == (4, 6, 11, 8) and fs.x.dtype == np.uint8
    assert sorted(set(fs.clip.tolist())) == [0, 1, 2]
    online = OnlineFrames(SIM, 3, ENC, seed=5)
    x, az = collate_frames([online[i] for i in range(3)])
    assert torch.equal(x, torch.from_numpy(fs.x))
    assert np.allclose(az.numpy(), fs.azimuth_deg)
    # labels = the simulator's true azimuths (same seed → same clips)
    cfg = load_config(SIM, {"seed": 5})
    from neuroaudio.sim.dataset import SimulatedScenes

    truth = [SimulatedScenes(cfg, length=3)[i][1]["azimuth_deg"] for i in range(3)]
    assert np.allclose([fs.azimuth_deg[fs.clip == i][0] for i in range(3)], truth, atol=1e-4)
    # resume: a missing shard is rebuilt, the kept one is not rewritten
    t0 = shards[0].stat().st_mtime_ns
    shards[1].unlink()
    again = build_cache(SIM, 3, ENC, cache, seed=5, shard_clips=2, progress=False)
    assert shards[0].stat().st_mtime_ns == t0 and shards[1].is_file()
    assert np.array_equal(again.x, fs.x)
    with pytest.raises(InputError, match="other settings"):
        build_cache(SIM, 3, RFPLCConfig(n_neurons=64, n_bands=4, n_delays=11, frame_s=0.064), cache,
                    seed=5, shard_clips=2, progress=False)
    # online mode draws other clips each epoch
    online.set_epoch(1)
    assert not torch.equal(online[0][0][:1], x[:1]) or online[0][1][0] != az[0]


def test_cache_extends_to_more_clips_keeping_the_shards_built(tmp_path):
    """A larger clip count reuses every full shard (clip i depends only on the seed and i), rebuilds
    the partial last one, and gives exactly the frames of a fresh build; a smaller one drops the
    shards past the end. Other settings are still refused."""
    cache = tmp_path / "cache"
    small = build_cache(SIM, 3, ENC, cache, seed=5, shard_clips=2, progress=False)
    s0, s1 = cache / "shard_00000.npz", cache / "shard_00001.npz"
    t0, t1 = s0.stat().st_mtime_ns, s1.stat().st_mtime_ns
    big = build_cache(SIM, 6, ENC, cache, seed=5, shard_clips=2, progress=False)
    assert s0.stat().st_mtime_ns == t0 and s1.stat().st_mtime_ns != t1        # kept / rebuilt (partial)
    assert sorted(p.name for p in cache.glob("shard_*.npz")) == [f"shard_{k:05d}.npz" for k in range(3)]
    assert json.loads((cache / "meta.json").read_text())["n_clips"] == 6
    assert sorted(set(big.clip.tolist())) == list(range(6))
    fresh = build_cache(SIM, 6, ENC, tmp_path / "fresh", seed=5, shard_clips=2, progress=False)
    assert np.array_equal(big.x, fresh.x) and np.array_equal(big.azimuth_deg, fresh.azimuth_deg)
    first = big.clip < 3                                                       # the old clips unchanged
    assert np.array_equal(big.x[first], small.x) and np.array_equal(big.clip[first], small.clip)
    # resumable: an interrupted extension (a shard missing) is completed on the next call
    (cache / "shard_00002.npz").unlink()
    again = build_cache(SIM, 6, ENC, cache, seed=5, shard_clips=2, progress=False)
    assert s0.stat().st_mtime_ns == t0 and np.array_equal(again.x, fresh.x)
    shrunk = build_cache(SIM, 2, ENC, cache, seed=5, shard_clips=2, progress=False)
    assert sorted(p.name for p in cache.glob("shard_*.npz")) == ["shard_00000.npz"]
    assert sorted(set(shrunk.clip.tolist())) == [0, 1] and s0.stat().st_mtime_ns == t0
    with pytest.raises(InputError, match="other settings"):
        build_cache(SIM, 6, ENC, cache, seed=6, shard_clips=2, progress=False)   # another seed
    with pytest.raises(InputError, match="other settings"):
        build_cache(SIM, 6, ENC, cache, seed=5, shard_clips=3, progress=False)   # another shard size


def test_train_ssl_command_end_to_end(tmp_path):
    cfg = {"out_dir": str(tmp_path / "run"),
           "data": {"sim": str(SIM), "train_clips": 3, "val_clips": 2},
           "encoder": ENC.to_dict(), "model": {"channels": [2, 4]},
           "train": {"epochs": 1, "batch_size": 16}}
    path = tmp_path / "ssl.yaml"
    path.write_text(yaml.safe_dump(cfg))
    p = run_cli("train", "maa", "--config", path, "--quiet", "--set", "train.epochs=2")
    assert p.returncode == 0, p.stderr
    assert "validation MAE" in p.stdout
    run = tmp_path / "run"
    assert (run / "model.pt").is_file() and (run / "cache" / "train" / "meta.json").is_file()
    m = json.loads((run / "metrics.json").read_text())
    assert m["last"]["epoch"] == 2
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["config"]["train"]["epochs"] == 2 and ck["array"]["name"] == "respeaker4"


def test_bad_pipeline_settings_are_one_line_input_errors(tmp_path):
    from neuroaudio.maa.config import load_pipeline, parse_set

    with pytest.raises(InputError, match="unknown key"):
        load_pipeline(REPO / "pipelines" / "maa.yaml", parse_set(["model.x=1"]))
    with pytest.raises(InputError, match="unknown key 'epoch'"):
        load_pipeline(REPO / "pipelines" / "maa.yaml", parse_set(["train.epoch=1"]))
    with pytest.raises(InputError, match="SECTION.KEY=VALUE"):
        parse_set(["epochs"])
    with pytest.raises(InputError, match="cached"):
        load_pipeline(REPO / "pipelines" / "maa.yaml", parse_set(["data.mode=stream"]))
    cfg = load_pipeline(REPO / "pipelines" / "maa.yaml", parse_set(["model.stm=false"]))
    assert cfg["model"]["stm"] is False and cfg["data"]["sim"].endswith("sim_maa_train.yaml")


def test_online_mode_trains_on_fresh_clips(tmp_path):
    from neuroaudio.maa.train import train

    cfg = {"out_dir": str(tmp_path / "run"),
           "data": {"sim": str(SIM), "mode": "online", "train_clips": 2, "val_clips": 1},
           "encoder": ENC.to_dict(), "model": {"channels": [2, 4]},
           "train": {"epochs": 2, "batch_size": 2}}
    res = train(cfg, progress=False)
    assert [r["epoch"] for r in res["history"]] == [1, 2]
    assert all(np.isfinite(r["train_loss"]) for r in res["history"])
    assert not (tmp_path / "run" / "cache" / "train").exists()      # only validation is cached
    assert (tmp_path / "run" / "cache" / "val" / "shard_00000.npz").is_file()


def test_frame_levels_and_selection_numbers():
    from neuroaudio.maa.data import FrameSelection, frame_levels, select_frames

    n, frame, hop = 1000, 200, 100                       # frames start at 0, 100, ..., 800: 9 frames
    src = np.zeros((n, 2))
    src[500:] = 2.0                                      # the source starts at sample 500
    noise = np.full((n, 2), 1.0)
    src_db, snr = frame_levels(src, noise, frame, hop)
    assert len(src_db) == 9
    # frame 4 (400..600) holds the source in half of it: power 2 vs 4 → -3.01 dB; local SNR 10log10(2)
    assert src_db[4] == pytest.approx(-3.0103, abs=1e-3) and snr[4] == pytest.approx(3.0103, abs=1e-3)
    assert np.allclose(src_db[5:], 0.0) and np.allclose(snr[5:], 10 * np.log10(4.0), atol=1e-4)
    assert (src_db[:4] < -200).all()                      # noise alone
    rng = np.random.default_rng(0)
    assert select_frames(src_db, FrameSelection(active_db=6.0), rng).tolist() == [4, 5, 6, 7, 8]
    assert select_frames(src_db, FrameSelection(active_db=1.0), rng).tolist() == [5, 6, 7, 8]
    two = select_frames(src_db, FrameSelection(active_db=6.0, frames_per_clip=2), np.random.default_rng(3))
    assert len(two) == 2 and set(two.tolist()) <= {4, 5, 6, 7, 8} and two[0] < two[1]
    assert select_frames(src_db, FrameSelection(), rng).tolist() == list(range(9))


def test_cache_frame_selection_keeps_few_active_frames_equal_to_full_encoding(tmp_path):
    full = build_cache(SIM, 3, ENC, tmp_path / "full", seed=5, progress=False)
    sel = build_cache(SIM, 3, ENC, tmp_path / "sel", seed=5, progress=False, active_db=10.0,
                      frames_per_clip=3)
    assert (np.isfinite(full.src_db)).all() and (full.src_db <= 0).all() and (full.src_db == 0).any()
    assert (sel.src_db >= -10.0).all()
    for c in range(3):
        m = sel.clip == c
        assert 1 <= m.sum() <= 3
        for i in np.flatnonzero(m):                       # the kept frame is the full encoding's frame
            j = np.flatnonzero((full.clip == c) & (full.frame == sel.frame[i]))
            assert len(j) == 1 and np.array_equal(sel.x[i], full.x[j[0]])
            assert sel.local_snr_db[i] == full.local_snr_db[j[0]]
    assert len(sel) < len(full)
    # the selection is part of what made the cache: another selection in the same folder is refused
    with pytest.raises(InputError, match="other settings"):
        build_cache(SIM, 3, ENC, tmp_path / "sel", seed=5, progress=False, active_db=10.0, frames_per_clip=2)
    online = OnlineFrames(SIM, 3, ENC, seed=5, active_db=10.0, frames_per_clip=3)
    x, _ = collate_frames([online[i] for i in range(3)])
    assert torch.equal(x, torch.from_numpy(sel.x))


def test_frame_selection_settings_are_checked():
    from neuroaudio.maa.config import load_pipeline, parse_set

    ssl = REPO / "pipelines" / "maa.yaml"
    with pytest.raises(InputError, match="frames_per_clip"):
        load_pipeline(ssl, parse_set(["data.frames_per_clip=0"]))
    with pytest.raises(InputError, match="active_db"):
        load_pipeline(ssl, parse_set(["data.active_db=-3"]))
    cfg = load_pipeline(ssl)
    assert cfg["data"]["frames_per_clip"] == 4 and cfg["data"]["active_db"] == 15


def test_teacher_posteriors_are_stored_with_the_frames_and_follow_the_symmetries(tmp_path):
    """Distillation data (issue 19): gcc-phat-sm's posterior of every kept frame is stored beside its
    spikes (rows sum to 1, peaked near the true azimuth), the online path gives the same rows, and a
    symmetry moves a posterior exactly as it moves the label."""
    from neuroaudio.encoding.encoder import RFPLCEncoder
    from neuroaudio.maa.augment import FrameSymmetries
    from neuroaudio.train.doa_loss import soft_labels

    fs = build_cache(SIM, 2, ENC, tmp_path / "cache", seed=5, shard_clips=2, progress=False,
                     teacher="gcc-phat-sm")
    assert fs.teacher is not None and fs.teacher.shape == (len(fs), 360) and fs.teacher.dtype == np.float16
    assert np.allclose(fs.teacher.astype(np.float64).sum(1), 1, atol=2e-3)
    assert json.loads((tmp_path / "cache" / "meta.json").read_text())["teacher"] == "gcc-phat-sm"
    for c in (0, 1):   # the teacher's pooled posterior points at the true azimuth
        pooled = fs.teacher[fs.clip == c].astype(np.float64).mean(0)
        err = abs((np.argmax(pooled) - fs.azimuth_deg[fs.clip == c][0] + 180) % 360 - 180)
        assert err <= 10, (c, err)
    x, az, t = fs[0]
    assert t.shape == (360,) and t.dtype == torch.float32
    online = OnlineFrames(SIM, 2, ENC, seed=5, teacher="gcc-phat-sm")
    ox, oaz, ot = collate_frames([online[i] for i in range(2)])
    assert torch.equal(ox, torch.from_numpy(fs.x))
    assert np.allclose(ot.numpy(), fs.teacher.astype(np.float32), atol=1e-3)
    symm = FrameSymmetries(RFPLCEncoder(load_config(SIM).array.load(), ENC, 16000))
    g = np.arange(len(symm))
    a = np.full(len(g), 37.0, np.float32)
    moved = symm.posterior(soft_labels(torch.from_numpy(a)), g)
    want = soft_labels(torch.from_numpy(symm.azimuth(a, g).astype(np.float32)))
    assert len(symm) == 8 and torch.allclose(moved, want, atol=1e-6)


def test_distillation_trains_and_its_settings_are_checked(tmp_path):
    from neuroaudio.maa.config import load_pipeline, parse_set
    from neuroaudio.maa.train import train

    with pytest.raises(InputError, match="needs a teacher"):
        load_pipeline(REPO / "pipelines" / "maa.yaml", parse_set(["train.distill=0.5"]))
    with pytest.raises(InputError, match=r"weight in \[0, 1\]"):
        load_pipeline(REPO / "pipelines" / "maa.yaml",
                      parse_set(["train.distill=1.5", "data.teacher=gcc-phat-sm"]))
    cfg = {"out_dir": str(tmp_path / "run"),
           "data": {"sim": str(SIM), "train_clips": 2, "val_clips": 1, "teacher": "gcc-phat-sm"},
           "encoder": ENC.to_dict(), "model": {"channels": [2, 4]},
           "train": {"epochs": 1, "batch_size": 8, "distill": 0.5}}
    res = train(cfg, progress=False)
    loss = res["history"][0]["train_loss"]
    assert np.isfinite(loss) and loss > 0
    cfg["out_dir"], cfg["data"]["cache_dir"] = str(tmp_path / "hard"), str(tmp_path / "run" / "cache")
    cfg["train"]["distill"] = 0.0                    # same frames, same seed: only the target differs
    hard = train(cfg, progress=False)["history"][0]["train_loss"]
    assert abs(hard - loss) > 1e-3
    with pytest.raises(InputError, match="72"):
        from neuroaudio.maa.data import make_teacher

        make_teacher("gcc-phat-sm", load_config(SIM).array.load(), 16000, n_azimuth=72)
