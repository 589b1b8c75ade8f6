"""``data.extra_train_folders``: pre-synthesised ``label/*.wav`` clips join the training split only."""

import numpy as np
import pytest

from neuroaudio.errors import InputError
from neuroaudio.kws.config import config_from_dict
from neuroaudio.kws.data import load_splits

from .test_kws import FS, chirp, write_audio


def _fsdd(root, speakers=("ann", "bob", "cat"), digits=(0, 1), n=2):
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for spk in speakers:
        for d in digits:
            for i in range(n):
                write_audio(root / f"{d}_{spk}_{i}.wav", chirp(d, rng)[:, None], FS)


def _extra(root, per_label):
    rng = np.random.default_rng(1)
    for label, n in per_label.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            write_audio(root / label / f"voice{i}.wav", chirp(1, rng)[:, None], FS)


def _tone16k(path, f_hz=1000.0, dur_s=0.25):
    """A tone written at 16 kHz (twice the data rate): 4000 samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(dur_s * 2 * FS)) / (2 * FS)
    write_audio(path, (0.5 * np.sin(2 * np.pi * f_hz * t)).astype(np.float32)[:, None], 2 * FS)


def test_extra_folders_add_training_items_only_with_fsdd_labels(tmp_path):
    _fsdd(tmp_path / "rec")
    _extra(tmp_path / "synth_a", {"1": 3, "7": 2})
    _tone16k(tmp_path / "synth_b" / "0" / "tone.wav")          # resampled to the data rate
    base = {"source": "fsdd", "root": str(tmp_path / "rec"), "sample_rate_hz": FS, "test_speakers": ["cat"],
            "val_speakers": ["bob"]}
    plain = load_splits(config_from_dict({"data": base}).data)
    cfg = config_from_dict({"data": {**base, "extra_train_folders": [str(tmp_path / "synth_a"),
                                                                     str(tmp_path / "synth_b")]}}).data
    sp = load_splits(cfg)
    extra = [it for it in sp.train if it.speaker.startswith("extra:")]
    assert len(plain.train) == 4 and len(sp.train) == 4 + 6
    assert sorted(it.label for it in extra) == [0, 1, 1, 1, 7, 7]
    assert [len(s) for s in (sp.val, sp.test)] == [len(plain.val), len(plain.test)] == [4, 4]
    assert all(it.speaker == "cat" for it in sp.test) and all(it.speaker == "bob" for it in sp.val)
    tone = next(it for it in extra if it.speaker == "extra:synth_b/tone")
    assert tone.label == 0 and tone.audio.dtype == np.float32 and len(tone.audio) == 2000   # 0.25 s at 8 kHz
    spec = np.abs(np.fft.rfft(tone.audio))
    assert abs(np.argmax(spec) * FS / len(tone.audio) - 1000.0) < 8                         # still 1 kHz
    assert abs(np.abs(tone.audio[200:-200]).max() - 0.5) < 0.02


def test_extra_folders_reject_unknown_labels_and_empty_folders(tmp_path):
    _fsdd(tmp_path / "rec")
    _extra(tmp_path / "words", {"seven": 1})
    (tmp_path / "empty").mkdir()
    base = {"source": "fsdd", "root": str(tmp_path / "rec"), "sample_rate_hz": FS, "test_speakers": ["cat"]}
    for folder, msg in ((tmp_path / "words", "not labels of the data"), (tmp_path / "empty", "no label"),
                        (tmp_path / "missing", "is not a folder")):
        cfg = config_from_dict({"data": {**base, "extra_train_folders": [str(folder)]}}).data
        with pytest.raises(InputError, match=msg):
            load_splits(cfg)


def test_checkpoints_written_before_the_option_still_resume():
    from neuroaudio.kws.config import config_to_dict
    from neuroaudio.kws.train import _same_run

    new = config_to_dict(config_from_dict({"data": {"root": "x"}}))
    old = {**new, "data": {k: v for k, v in new["data"].items() if k != "extra_train_folders"}}
    assert _same_run(old, new) and _same_run(new, old)
    other = {**new, "data": {**new["data"], "extra_train_folders": ["synth"]}}
    assert not _same_run(other, new)
