"""Open-set keyword detection: persistence, the rejection head, the shipped model's stored setting
(docs/kws.md, "Open set"; benchmarks/kws_openset.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from benchmarks.kws_openset import Stream, make_stream, score_keywords
from neuroaudio.kws.checkpoint import DEFAULT_DETECTOR, load_model, read_checkpoint, reject_head_p
from neuroaudio.kws.data import read_mono
from neuroaudio.kws.infer import Detection, StreamingDetector, detect, run_lengths, stored_min_windows

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "data" / "models" / "kws_fsdd_drf.pt"
EXAMPLE = REPO / "data" / "examples" / "respeaker4_az120.wav"


def _fake(min_windows: int) -> SimpleNamespace:
    """A stand-in model for the decision rule: 3 labels, 1-s windows at 100 Hz."""
    return SimpleNamespace(labels=["a", "b", "c"], clip_samples=100, fs=100,
                           detector={**DEFAULT_DETECTOR, "min_windows": min_windows})


def _probs(seq: list[int], score: float = 0.9) -> np.ndarray:
    p = np.full((len(seq), 3), (1 - score) / 2)
    p[np.arange(len(seq)), seq] = score
    return p


def test_run_lengths_count_agreeing_windows_and_restart_on_a_change():
    r = run_lengths(np.array([1, 1, 1, 2, 2, 1, 1]), np.array([1, 1, 0, 1, 1, 1, 1], bool))
    assert r.tolist() == [1, 2, 0, 1, 2, 1, 2]


def test_persistence_needs_min_windows_of_one_keyword_in_a_row():
    starts = np.arange(12) * 10                                 # hop 0.1 s
    level = np.zeros(12)
    flips = [0, 1] * 6                                           # running speech: the class flips
    steady = [2] * 5 + [0] * 7                                  # 5 windows of c, then 7 of a
    for k, seq, want in [(1, flips, 3), (2, flips, 0), (5, steady, 2), (6, steady, 1), (8, steady, 0)]:
        det = StreamingDetector(_fake(k), hop_s=0.1, min_level_dbfs=-10)
        got = det.decide(starts, _probs(seq), level) + det.flush()
        assert len(got) == want, (k, seq, got)
    det = StreamingDetector(_fake(6), hop_s=0.1, min_level_dbfs=-10)
    got = det.decide(starts, _probs(steady), level) + det.flush()
    assert got[0].label == "a"                                  # the 5-window run of c is rejected
    det = StreamingDetector(_fake(1), hop_s=0.1, min_level_dbfs=-10, min_keyword_p=0.5)
    p_kw = np.where(np.arange(12) < 6, 0.1, 0.9)                # the head rejects the first 6
    got = det.decide(starts, _probs(steady), level, p_kw) + det.flush()
    assert [d.label for d in got] == ["a", "a"] and got[0].t_start_s == 0.6   # never c


def test_reject_head_is_a_standardised_mlp():
    head = {"mean": [1.0, 0.0], "std": [2.0, 1.0], "w1": [[1.0, 0.0], [0.0, -1.0]], "b1": [0.0, 0.5],
            "w2": [2.0, 1.0], "b2": -1.0}
    emb = torch.tensor([[3.0, 0.0], [1.0, 2.0]])
    # row 0: z = (1, 0) -> relu(1, 0.5) -> 2 + 0.5 - 1 = 1.5; row 1: z = (0, 2) -> relu(0, -1.5) -> -1
    assert torch.allclose(reject_head_p(head, emb), torch.sigmoid(torch.tensor([1.5, -1.0])))


def test_shipped_model_stores_its_rejection_setting():
    ck = read_checkpoint(SHIPPED)                               # weights_only load
    d = ck["detector"]
    assert d["threshold"] == 0.5 and d["min_windows"] == 6 and d["min_keyword_p"] == 0.05
    assert len(d["reject"]["w1"]) == 64 and len(d["reject"]["mean"]) == 128
    assert d["test_fa_per_min"] <= 2.0
    assert load_model(SHIPPED).detector["min_windows"] == 6


def test_example_sentence_gives_no_keyword_by_default_but_did_closed_set():
    m = load_model(SHIPPED)
    x = read_mono(EXAMPLE, m.fs)                                 # espeak-ng talker, no digit, 2.5 s
    assert detect(m, x) == []
    old = detect(m, x, threshold=0.5, min_windows=1)             # + head off: the closed-set detector
    m.detector["min_keyword_p"] = 0.0
    closed = detect(m, x, threshold=0.5, min_windows=1)
    assert [(d.label, round(d.score, 2)) for d in closed] == [("5", 0.84)]
    assert len(old) <= 1


def test_spoken_digits_are_still_detected_by_default():
    from neuroaudio.sim.speech import synthesize

    m = load_model(SHIPPED)
    rng = np.random.default_rng(0)
    found = {}
    for word, label in [("one", "1"), ("eight", "8"), ("nine", "9"), ("three", "3")]:
        x = synthesize(word, "en-us", 150, 50, m.fs)
        x = x * 0.05 / np.sqrt(np.mean(x ** 2))
        pad = np.zeros(m.fs, np.float32)
        y = np.concatenate([pad, x, pad]) + 5e-4 * rng.standard_normal(2 * m.fs + len(x)).astype(np.float32)
        found[label] = [d.label for d in detect(m, y)]
    assert found == {"1": ["1"], "8": ["8"], "9": ["9"], "3": ["3"]}, found


def test_keyword_stream_scoring_counts_hits_substitutions_insertions():
    pieces = [(np.ones(50, np.float32), "1"), (np.ones(50, np.float32), "2")]
    s: Stream = make_stream("k", pieces, 1.0, 100, 0)             # spans (100, 150), (250, 300)
    assert [sp[:2] for sp in s.spans] == [(100, 150), (250, 300)] and abs(s.minutes - 4 / 60) < 1e-9
    dets = [Detection("1", 0.9, 0.8, 1.8), Detection("1", 0.9, 2.2, 3.2), Detection("2", 0.9, 2.3, 3.3),
            Detection("3", 0.9, 3.3, 4.0)]
    assert score_keywords(dets, s) == {"clips": 2, "hits": 1, "subs": 1, "ins": 2}


def test_persistence_asks_for_the_same_time_at_another_hop():
    m = SimpleNamespace(detector={**DEFAULT_DETECTOR, "min_windows": 6, "hop_s": 0.1})
    assert [stored_min_windows(m, h) for h in (0.1, 0.05, 0.2, 1.0)] == [6, 12, 3, 1]
    assert stored_min_windows(SimpleNamespace(detector=DEFAULT_DETECTOR), 0.05) == 1


def test_open_set_streaming_in_blocks_equals_the_whole_signal():
    from neuroaudio.sim.speech import synthesize

    m = load_model(SHIPPED)
    word = synthesize("nine", "en-us", 150, 50, m.fs)
    word = word * 0.05 / np.sqrt(np.mean(word ** 2))
    x = np.concatenate([read_mono(EXAMPLE, m.fs), np.zeros(m.fs, np.float32), word,
                        np.zeros(m.fs, np.float32)])
    x = x + 5e-4 * np.random.default_rng(1).standard_normal(len(x)).astype(np.float32)
    whole = StreamingDetector(m, min_level_dbfs=-50)
    ref = whole.process(x) + whole.flush()
    blocks = StreamingDetector(m, min_level_dbfs=-50)
    got = [d for i in range(0, len(x), 1234) for d in blocks.process(x[i:i + 1234])] + blocks.flush()
    assert [d.to_dict() for d in got] == [d.to_dict() for d in ref]
    assert [d.label for d in ref] == ["9"] and ref[0].t_start_s > 2.5      # the sentence: nothing


def test_cli_refuses_bad_rejection_flags(tmp_path):
    from .conftest import run_cli

    for flag, value in (("--min-windows", "0"), ("--min-keyword-p", "1.5")):
        r = run_cli("kws", "detect", EXAMPLE, flag, value)
        assert r.returncode == 2 and flag in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run_cli("kws", "detect", EXAMPLE, "-f", "lines", "--threshold", "0.5", "--min-windows", "1",
                "--min-keyword-p", "0")
    assert r.returncode == 0 and r.stdout.strip().endswith("5 (0.84) 1.30-2.30 s"), r.stdout
    r = run_cli("kws", "detect", EXAMPLE, "-f", "lines")
    assert r.returncode == 0 and r.stdout.strip().endswith(": -"), r.stdout
