"""Batch evaluation on a small manifest of free-field clips written by the test."""

import csv
import json

import pytest

from neuroaudio.arrays import load_array
from neuroaudio.audio.io import write_audio
from neuroaudio.errors import InputError
from neuroaudio.eval.metrics import compute_metrics
from neuroaudio.eval.runner import JOURNAL, PRED_COLUMNS, evaluate, read_manifest

from .conftest import plane_wave

TINY = "tiny-srp"      # tests/eval_localizer.py, installed by the test_localizers fixture
BROKEN = "broken-test"
pytestmark = pytest.mark.usefixtures("test_localizers")
FS = 16000
AZIMUTHS = [0.0, 45.0, 130.0, 200.0, 300.0, 359.0]


def make_manifest(folder, rng, n=len(AZIMUTHS), dur_s=0.6):
    """Free-field plane waves (white noise) at two SNRs, a corrupt and a missing file."""
    arr = load_array("respeaker4")
    rows = []
    for k, az in enumerate(AZIMUTHS[:n]):
        snr = 20 if k % 2 == 0 else 5
        x = plane_wave(arr, az, 0.1 * rng.standard_normal(int(dur_s * FS)), FS)
        x = x + rng.standard_normal(x.shape) * 0.1 * 10 ** (-snr / 20)
        write_audio(folder / f"clip{k}.wav", x, FS)
        rows.append([f"clip{k}.wav", az, snr, "a" if k < 3 else "b"])
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEthis is not audio" * 4)
    rows.insert(2, ["corrupt.wav", 90, 20, "a"])
    rows.append(["missing.wav", 10, 5, "b"])
    path = folder / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "azimuth_deg", "snr_db", "room"])
        w.writerows(rows)
    return path


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        header = next(r)
        return header, [dict(zip(header, row, strict=True)) for row in r]


def test_evaluate_marks_bad_files_and_localizes_the_rest(tmp_path, rng):
    man = make_manifest(tmp_path, rng)
    out = tmp_path / "out"
    res = evaluate(man, "respeaker4", [TINY, BROKEN], out, group_by=["room"], progress=False)
    header, rows = read_csv(out / "predictions.csv")
    assert header == ["path", "azimuth_deg", "snr_db", "room", *PRED_COLUMNS]
    assert len(rows) == 8 * 2
    # manifest order, then method order
    assert [r["path"] for r in rows[::2]] == [r["path"] for r in read_manifest(man).rows]
    assert [r["method"] for r in rows[:4]] == [TINY, BROKEN, TINY, BROKEN]
    for r in rows:
        bad_file = r["path"] in ("corrupt.wav", "missing.wav")
        if r["method"] == TINY and not bad_file:
            assert r["status"] == "ok"
            assert float(r["error_deg"]) <= 2.0, r
            assert 0 <= float(r["pred_azimuth_deg"]) < 360 and 0 < float(r["confidence"]) <= 1
        else:
            assert r["status"].startswith("error: ") and "\n" not in r["status"]
            assert r["pred_azimuth_deg"] == r["error_deg"] == r["confidence"] == ""
        if r["path"] == "missing.wav":
            assert "no such file" in r["status"]
        if r["path"] == "corrupt.wav":
            assert "corrupt.wav" in r["status"]
        if r["method"] == BROKEN and not bad_file:
            assert r["status"] == "error: RuntimeError: deliberate failure"
    m = json.loads((out / "metrics.json").read_text())
    assert list(m) == [TINY, BROKEN]
    t = m[TINY]
    assert (t["n"], t["n_failed"]) == (8, 2)
    assert t["acc5"] == pytest.approx(6 / 8)
    assert t["mae_ok_deg"] <= 2.0
    assert set(t["groups"]) == {"snr_db", "room"}
    assert list(t["groups"]["snr_db"]) == ["5", "20"]
    assert t["groups"]["snr_db"]["20"]["n"] == 4 and t["groups"]["snr_db"]["20"]["n_failed"] == 1
    assert m[BROKEN]["n_failed"] == 8 and m[BROKEN]["mae_deg"] == 180.0
    # metrics.json is exactly what predictions.csv gives
    assert compute_metrics(rows, [TINY, BROKEN], ["room"])[TINY]["acc10"] == t["acc10"]
    assert {p.name for p in res.plots} == {"mae_vs_snr.png", "error_hist.png"}
    assert all(p.stat().st_size > 1000 for p in res.plots)
    assert not (out / JOURNAL).exists()
    assert not list(out.glob(".*.tmp"))


def test_workers_do_not_change_the_output(tmp_path, rng):
    man = make_manifest(tmp_path, rng, n=2)
    evaluate(man, "respeaker4", [TINY], tmp_path / "w1", workers=1, plots=False, progress=False)
    evaluate(man, "respeaker4", [TINY], tmp_path / "w2", workers=2, plots=False, progress=False)
    assert (tmp_path / "w1/predictions.csv").read_bytes() == (tmp_path / "w2/predictions.csv").read_bytes()
    # processing times differ run to run; everything else must not
    m1, m2 = (json.loads((tmp_path / w / "metrics.json").read_text()) for w in ("w1", "w2"))
    for m in (m1, m2):
        m[TINY].pop("time_per_clip_s")
        for g in m[TINY]["groups"]["snr_db"].values():
            g.pop("time_per_clip_s")
    assert m1 == m2


class Interrupt(BaseException):
    pass


def test_resume_after_interruption_skips_done_rows(tmp_path, rng, monkeypatch):
    man = make_manifest(tmp_path, rng, n=4)   # clip0, clip1, corrupt, clip2, clip3, missing
    out = tmp_path / "out"
    counter = tmp_path / "count.txt"
    monkeypatch.setenv("NEUROAUDIO_TEST_COUNTER", str(counter))
    seen = []

    def stop_after_three(i, m, r):
        seen.append(i)
        if len(seen) == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        evaluate(man, "respeaker4", [TINY], out, plots=False, progress=False, on_result=stop_after_three)
    assert not (out / "predictions.csv").exists()
    lines = (out / JOURNAL).read_text().splitlines()
    assert len(lines) == 3
    assert len(counter.read_text().splitlines()) == 2    # the corrupt file never reaches finish
    with open(out / JOURNAL, "a") as f:
        f.write('{"i": 3, "path": "clip2.wav", "meth')   # a line torn by kill -9
    seen.clear()
    with pytest.raises(Interrupt):   # interrupted again after one more row
        evaluate(man, "respeaker4", [TINY], out, resume=True, plots=False, progress=False,
                 on_result=lambda i, m, r: (_ for _ in ()).throw(Interrupt()))
    res = evaluate(man, "respeaker4", [TINY], out, resume=True, plots=False, progress=False)
    assert (res.n_reused, res.n_computed) == (4, 2)   # the row after the torn line was kept
    assert not (out / JOURNAL).exists()
    # each remaining row ran once (one of them the missing file, which never reaches finish)
    assert len(counter.read_text().splitlines()) == 2 + 2
    fresh = evaluate(man, "respeaker4", [TINY], tmp_path / "fresh", plots=False, progress=False)
    assert res.rows == [{**r, "time_s": r2["time_s"]} for r, r2 in zip(fresh.rows, res.rows, strict=True)]
    # resuming a finished run computes nothing; adding a method computes only that method
    again = evaluate(man, "respeaker4", [TINY, BROKEN], out, resume=True, plots=False, progress=False)
    assert (again.n_reused, again.n_computed) == (6, 6)
    assert again.metrics[TINY]["time_per_clip_s"] > 0     # reused rows keep their timings
    # failed rows are kept unless asked to retry them
    retry = evaluate(man, "respeaker4", [TINY], out, resume=True, retry_failed=True, plots=False,
                     progress=False)
    assert (retry.n_reused, retry.n_computed) == (4, 2)
    # once a method's code changes, its old rows are not reused
    import neuroaudio.eval.runner as runner

    monkeypatch.setattr(runner, "method_fingerprint", lambda m, model=None: "edited")
    edited = evaluate(man, "respeaker4", [TINY], out, resume=True, plots=False, progress=False)
    assert (edited.n_reused, edited.n_computed) == (0, 6)


def test_resume_refuses_another_array(tmp_path, rng):
    man = make_manifest(tmp_path, rng, n=2)
    evaluate(man, "respeaker4", [TINY], tmp_path / "o", plots=False, progress=False)
    with pytest.raises(InputError, match="--resume"):
        evaluate(man, "linear4", [TINY], tmp_path / "o", resume=True, progress=False)
    with pytest.raises(InputError, match="unknown method 'nope'"):
        evaluate(man, "respeaker4", [TINY, "nope"], tmp_path / "o2", progress=False)
    with pytest.raises(InputError, match="--model"):
        evaluate(man, "respeaker4", [TINY], tmp_path / "o2", model="m.pt", progress=False)


@pytest.mark.parametrize("text, needle", [
    ("file,azimuth_deg\na.wav,10\n", "'path'"),
    ("path,snr_db\na.wav,10\n", "'azimuth_deg'"),
    ("path,azimuth_deg,method\na.wav,10,x\n", "'method'"),
    ("path,azimuth_deg\n", "no rows"),
    ("path,azimuth_deg\na.wav,10,3\n", "line 2"),
    ("", "empty"),
])
def test_bad_manifests_are_refused(tmp_path, text, needle):
    p = tmp_path / "m.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=needle):
        read_manifest(p)


def test_non_numeric_truth_fails_its_row(tmp_path, rng):
    man = make_manifest(tmp_path, rng, n=2)
    text = man.read_text().replace("clip1.wav,45.0", "clip1.wav,unknown")
    man.write_text(text)
    res = evaluate(man, "respeaker4", [TINY], tmp_path / "o", plots=False, progress=False)
    st = {r["path"]: r["status"] for r in res.rows}
    assert st["clip0.wav"] == "ok" and "not a number" in st["clip1.wav"]


def test_fingerprint_follows_the_model_file(tmp_path):
    """Replacing a learned method's model file (retraining) changes its fingerprint, so --resume
    does not reuse rows computed with the old model; classical methods have no model file."""
    from neuroaudio.eval.runner import method_fingerprint, method_model_file

    assert method_model_file("gcc-phat") is None
    assert method_model_file("gcc-phat-sm").name == "gcc_phat_sm_respeaker4.pt"
    assert method_model_file("gcc-phat-mlp").name == "gcc_phat_mlp_respeaker4.pt"
    model = tmp_path / "m.pt"
    model.write_bytes(b"first")
    a = method_fingerprint("gcc-phat-sm", model)
    assert method_fingerprint("gcc-phat-sm", model) == a
    model.write_bytes(b"retrained")
    assert method_fingerprint("gcc-phat-sm", model) != a
    assert method_fingerprint("gcc-phat-sm") != a
