"""``data.filler_words``: a non-keyword class (``_unknown_``) that the detector never reports."""

import numpy as np
import pytest

from neuroaudio.errors import InputError
from neuroaudio.kws.card import model_card
from neuroaudio.kws.checkpoint import load_model
from neuroaudio.kws.config import config_from_dict
from neuroaudio.kws.data import FILLER_LABEL, Item, Splits, load_splits
from neuroaudio.kws.infer import StreamingDetector, detect, keyword_scores
from neuroaudio.kws.train import train

from .conftest import REPO
from .test_kws import CFG, FS, chirp
from .test_kws_extra_data import _fsdd


def _filler_cfg(root, words, per_word=3, val_fraction=0.5):
    return config_from_dict({"data": {"source": "fsdd", "root": str(root), "test_speakers": ["cat"],
                                      "val_fraction": val_fraction, "filler_words": words,
                                      "filler_per_word": per_word,
                                      "synth_voices": ["en", "en-us"], "synth_variants": [""],
                                      "synth_rates_wpm": [150], "synth_pitches": [40, 60]}})


def test_filler_words_add_a_last_label_in_train_and_validation_only(tmp_path):
    _fsdd(tmp_path / "rec")
    cfg = _filler_cfg(tmp_path / "rec", ["hello", "water"], per_word=4)
    sp = load_splits(cfg.data)
    assert sp.labels == [str(d) for d in range(10)] + [FILLER_LABEL]
    filler = [it for it in sp.train + sp.val if it.label == 10]
    assert len(filler) == 8                                    # 2 words x 4 voice/rate/pitch combos
    assert {it.speaker for it in filler} <= {"espeak:en", "espeak:en-us"}
    assert sum(it.label == 10 for it in sp.val) == 4           # val_fraction 0.5 of the filler clips
    assert all(it.label != 10 for it in sp.test) and {it.speaker for it in sp.test} == {"cat"}
    assert all(len(it.audio) > 0.2 * FS and np.abs(it.audio).max() > 0.01 for it in filler)
    again = load_splits(cfg.data)                              # seeded: the same clips, same split
    assert [len(it.audio) for it in again.val] == [len(it.audio) for it in sp.val]


def test_filler_words_may_not_be_keywords(tmp_path):
    _fsdd(tmp_path / "rec")
    with pytest.raises(InputError, match=r"\['Seven'\].*NOT a keyword"):
        load_splits(_filler_cfg(tmp_path / "rec", ["hello", "Seven"]).data)


def test_keyword_scores_reject_windows_won_by_the_filler():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.45, 0.1, 0.45]])
    best, score = keyword_scores(probs, ["up", "down", FILLER_LABEL])
    assert best.tolist() == [0, 2, 0] and score.tolist() == [0.7, -1.0, 0.45]
    _, plain = keyword_scores(probs, ["up", "down", "left"])   # no filler class: nothing rejected
    assert plain.tolist() == [0.7, 0.6, 0.45]


def tone(rng, dur=0.3):
    """The 'non-keyword': a steady tone at a random pitch (700-1600 Hz), random level."""
    t = np.arange(int(dur * rng.uniform(0.8, 1.2) * FS)) / FS
    x = np.sin(2 * np.pi * rng.uniform(700, 1600) * t) * np.hanning(len(t)) * rng.uniform(0.05, 0.5)
    return (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def items(n, seed):
    rng = np.random.default_rng(seed)
    return [Item(k % 3, f"s{k % 5}", None, chirp(k % 3, rng) if k % 3 < 2 else tone(rng))
            for k in range(n)]


def test_a_model_with_a_filler_class_detects_keywords_and_rejects_the_rest(tmp_path):
    # 12 epochs, as this test was written for (test_kws's CFG trains 20 for its closed-set detection test)
    cfg = config_from_dict({**CFG, "train": {**CFG["train"], "epochs": 12}, "out_dir": str(tmp_path)})
    sp = Splits(["up", "down", FILLER_LABEL], FS, train=items(240, 1), val=items(60, 2), test=items(90, 3))
    metrics = train(cfg, resume=False, progress=False, splits=sp)
    assert metrics["test_accuracy"] >= 0.9                     # the filler is learnt as a class
    m = load_model(tmp_path / "model.pt")
    rng = np.random.default_rng(5)
    x = 0.003 * rng.standard_normal(4 * FS).astype(np.float32)
    for t0, word in ((0.5, tone(rng)), (1.5, chirp(1, rng)), (2.5, tone(rng))):
        x[int(t0 * FS):int(t0 * FS) + len(word)] += word
    dets = detect(m, x, threshold=0.5, hop_s=0.05)
    assert [d.label for d in dets] == ["down"]                 # the two tones are not reported
    assert dets[0].t_start_s - 0.05 <= 1.65 <= dets[0].t_end_s + 0.05
    det = StreamingDetector(m, threshold=0.5, hop_s=0.05, min_level_dbfs=-45)
    got = det.process(x[:, None]) + det.flush()                # the live path rejects them too
    assert [d.label for d in got] == ["down"]
    card = model_card(tmp_path / "model.pt", title="t", data_note="chirps")
    assert "Open set" in card and FILLER_LABEL in card and "_unknown_/` folder" in card
    assert "Closed set" not in card
    shipped = model_card(REPO / "data" / "models" / "kws_fsdd_drf.pt", title="t", data_note="FSDD")
    # no filler class, open set through the stored rejection setting (docs/kws.md, "Open set")
    assert "Closed set" not in shipped and "rejection head" in shipped and "filler class" not in shipped


def test_unquoted_yaml_booleans_in_word_lists_are_refused():
    with pytest.raises(InputError, match=r"data.filler_words.*\[True, False\].*quote"):
        config_from_dict({"data": {"filler_words": ["stop", True, False]}})


def test_a_folder_named_unknown_is_the_filler_class_and_evaluates(tmp_path):
    from neuroaudio.audio import write_audio
    from neuroaudio.kws.evaluate import folder_items

    rng = np.random.default_rng(2)
    for label, make in (("up", lambda: chirp(0, rng)), ("down", lambda: chirp(1, rng)),
                        (FILLER_LABEL, lambda: tone(rng)), ("_background_noise_", lambda: tone(rng))):
        (tmp_path / label).mkdir()
        for i in range(3):
            write_audio(tmp_path / label / f"spk{i}_nohash_0.wav", make()[:, None], FS)
    sp = load_splits(config_from_dict({"data": {"source": "folder", "root": str(tmp_path),
                                                "sample_rate_hz": FS}}).data)
    assert sp.labels == ["down", "up", FILLER_LABEL]           # _background_noise_ still skipped
    assert sorted(it.label for it in sp.train + sp.val + sp.test) == [0, 0, 0, 1, 1, 1, 2, 2, 2]

    class Labels:                                              # folder_items only needs these
        labels, fs = ["up", "down", FILLER_LABEL], FS
    assert sorted(it.label for it in folder_items(tmp_path, Labels())) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_reversed_training_clips_join_the_filler_class(tmp_path):
    _fsdd(tmp_path / "rec", n=5)                               # 3 speakers x 2 digits x 5
    cfg = config_from_dict({"data": {"source": "fsdd", "root": str(tmp_path / "rec"),
                                     "test_speakers": ["cat"], "val_fraction": 0.0, "filler_reversed": 0.5}})
    sp = load_splits(cfg.data)
    assert sp.labels[-1] == FILLER_LABEL
    keys = [it for it in sp.train if it.label < 10]
    rev = [it for it in sp.train if it.label == 10]
    assert len(keys) == 20 and len(rev) == 10 and all(it.speaker.startswith("reversed:") for it in rev)
    originals = {it.audio.tobytes() for it in keys}
    assert all(it.audio[::-1].tobytes() in originals for it in rev)   # each one a training clip, backwards
    assert not sp.val and all(it.label < 10 for it in sp.test)
    with pytest.raises(InputError, match="filler_reversed"):
        load_splits(config_from_dict({"data": {**cfg.data.__dict__, "filler_reversed": 1.5}}).data)
