"""Bad input through the installed command (issue 17): every error a user can fix is exactly one
non-empty line on stderr, exit status 2, no traceback, and nothing left behind.

Each case runs the installed `neuroaudio` script (tests/test_installed_cli.py finds it; PYTHONPATH
is this checkout) as a subprocess in an empty working folder; outputs are asked for inside that
folder, and afterwards the folder must hold exactly what it held before (nothing partial). The
input files are tiny and made once per session.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .test_installed_cli import REPO, cli_env, installed_script

FS = 16000
MODELS = REPO / "data" / "models"
EXAMPLE = REPO / "data" / "examples" / "respeaker4_az120.wav"


def _wav(path: Path, x: np.ndarray, fs: int = FS, subtype: str = "FLOAT") -> Path:
    sf.write(str(path), x.astype(np.float32), fs, subtype=subtype, format="WAV")
    return path


def _truncate(src: Path, dst: Path) -> Path:
    """A copy of ``src`` cut to half its data: the header still claims the whole length."""
    b = src.read_bytes()
    dst.write_bytes(b[:44 + (len(b) - 44) // 2])
    return dst


def _broken_checkpoints(d: Path) -> None:
    """Checkpoints with the right format tag but no state_dict / a mis-shaped tensor."""
    import torch

    for name, ship in (("maa", "maa_respeaker4.pt"), ("kws", "kws_fsdd_drf.pt"),
                       ("gcc_phat_sm", "gcc_phat_sm_respeaker4.pt")):
        ck = torch.load(MODELS / ship, map_location="cpu", weights_only=True)
        torch.save({k: v for k, v in ck.items() if k != "state_dict"}, d / f"nostate_{name}.pt")
        sd = dict(ck["state_dict"])
        first = next(iter(sd))
        sd[first] = torch.zeros(3, 3, 3)
        torch.save({**ck, "state_dict": sd}, d / f"shape_{name}.pt")
    torch.save({"format": "something-else", "state_dict": {}}, d / "wrongformat.pt")


@pytest.fixture(scope="session")
def bad(tmp_path_factory) -> Path:
    """A folder of bad inputs (and a few good ones to point at them)."""
    d = tmp_path_factory.mktemp("bad_inputs")
    rng = np.random.default_rng(17)
    noise4 = 0.1 * rng.standard_normal((FS // 2, 4))
    _wav(d / "good4.wav", noise4, subtype="PCM_16")
    _wav(d / "mono.wav", noise4[:, :1])
    _wav(d / "three.wav", noise4[:, :3])
    nan4 = noise4.copy()
    nan4[1234, 2] = np.nan
    _wav(d / "nan4.wav", nan4)
    inf1 = noise4[:, :1].copy()
    inf1[4000, 0] = np.inf
    _wav(d / "inf_mono.wav", inf1)
    _wav(d / "short4.wav", noise4[:160])                 # 10 ms
    _wav(d / "short_mono.wav", noise4[:160, :1])
    _wav(d / "empty.wav", np.zeros((0, 4)))
    _truncate(d / "good4.wav", d / "trunc4.wav")
    _truncate(_wav(d / "good1.wav", noise4[:, :1], subtype="PCM_16"), d / "trunc_mono.wav")
    (d / "text.wav").write_text("this is not audio\n", encoding="utf-8")
    (d / "dir.wav").mkdir()
    # manifests
    (d / "m_no_az.csv").write_text("path,snr_db\ngood4.wav,10\n", encoding="utf-8")
    (d / "m_empty.csv").write_text("", encoding="utf-8")
    (d / "m_no_rows.csv").write_text("path,azimuth_deg\n", encoding="utf-8")
    (d / "m_ok.csv").write_text("path,azimuth_deg\ngood4.wav,10\n", encoding="utf-8")
    (d / "m_cells.csv").write_text("path,azimuth_deg\ngood4.wav,10,3\n", encoding="utf-8")
    # simulator configs
    (d / "sim_yaml.yaml").write_text("room: [unclosed\n", encoding="utf-8")
    (d / "sim_room.yaml").write_text("room:\n  size_m: [[0.5, 6], [3, 5], [2.5, 3]]\n", encoding="utf-8")
    (d / "sim_field.yaml").write_text("roomz: {}\n", encoding="utf-8")
    (d / "sim_rt60.yaml").write_text("room:\n  rt60_s: [0.5, 0.2]\n", encoding="utf-8")
    (d / "nan_src").mkdir()
    _wav(d / "nan_src" / "a.wav", nan4[:, 2:3])
    (d / "sim_nan.yaml").write_text(
        "duration_s: 0.3\nsnr_db: [10]\nclips_per_snr: 1\nroom: {max_order: 1}\n"
        "source: {signal: {kind: folder, path: nan_src}}\n"
        "noise: [{placement: sensor, level_db: -10}]\n", encoding="utf-8")
    # pipeline YAMLs
    (d / "pl_list.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    (d / "pl_key.yaml").write_text("train: {epochz: 3}\n", encoding="utf-8")
    _broken_checkpoints(d)
    return d


def _case(name: str, *args: str, expect: str, pre: dict[str, str] | None = None):
    """One case: CLI args (``{bad}`` is the bad-input folder, ``{repo}`` this checkout), a piece
    of text the one stderr line must contain, and files to create in the working folder first."""
    return pytest.param(list(args), expect, pre or {}, id=name)


E = str(EXAMPLE)
CASES = [
    # --- usage (typer) -----------------------------------------------------------------------
    _case("unknown-option", "--bogus", expect="--bogus"),
    _case("unknown-command", "frobnicate", expect="frobnicate"),
    _case("workers-not-int", "simulate", "{bad}/sim_room.yaml", "--out", "o", "--workers", "abc",
          expect="--workers"),
    _case("evaluate-missing-option", "evaluate", "{bad}/m_no_az.csv", expect="--array"),
    _case("pipeline-run-no-config", "pipeline", "run", expect="Missing argument"),
    # --- localize ----------------------------------------------------------------------------
    _case("localize-missing-file", "localize", "{bad}/nope.wav", expect="no such file"),
    _case("localize-folder", "localize", "{bad}/dir.wav", expect="is a folder"),
    _case("localize-not-audio", "localize", "{bad}/text.wav", expect="not a readable audio file"),
    _case("localize-empty", "localize", "{bad}/empty.wav", expect="empty"),
    _case("localize-mono", "localize", "{bad}/mono.wav", expect="mono (1 channel)"),
    _case("localize-3ch", "localize", "{bad}/three.wav", expect="3 channels but the array has 4 mics"),
    _case("localize-nan", "localize", "{bad}/nan4.wav", expect="NaN or Inf sample at 0.077 s"),
    _case("localize-short", "localize", "{bad}/short4.wav", expect="shorter than"),
    _case("localize-truncated", "localize", "{bad}/trunc4.wav",
          expect="truncated: its header says 0.500 s of audio but the file holds 0.250 s"),
    _case("localize-channels-0", "localize", E, "--channels", "0,1,2,3", expect="start at 1"),
    _case("localize-channels-text", "localize", E, "--channels", "a,b", expect="--channels"),
    _case("localize-channels-beyond", "localize", E, "--channels", "2,3,4,5", expect="channel 5"),
    _case("localize-format", "localize", E, "--format", "xml", expect="--format xml"),
    _case("localize-unknown-method", "localize", E, "--method", "nosuch", expect="nosuch"),
    _case("localize-maa-no-state", "localize", E, "-m", "maa", "--model", "{bad}/nostate_maa.pt",
          expect="is incomplete (no 'state_dict' entry)"),
    _case("localize-maa-shape", "localize", E, "-m", "maa", "--model", "{bad}/shape_maa.pt",
          expect="does not fit its network"),
    _case("localize-gcc-phat-sm-shape", "localize", E, "-m", "gcc-phat-sm", "--model",
          "{bad}/shape_gcc_phat_sm.pt",
          expect="does not fit its network"),
    _case("localize-gcc_phat_sm-no-state", "localize", E, "-m", "gcc-phat-sm", "--model",
          "{bad}/nostate_gcc_phat_sm.pt", expect="is incomplete"),
    _case("localize-maa-wrong-format", "localize", E, "-m", "maa", "--model", "{bad}/wrongformat.pt",
          expect="is not a neuroaudio-maa-1 checkpoint"),
    # --- live (refused before any sound card is opened) ----------------------------------------
    _case("live-record-exists", "localize", "--live", "--record", "rec.wav", "--duration", "1",
          expect="rec.wav: the file exists; pass --overwrite", pre={"rec.wav": "an earlier recording"}),
    _case("live-threads-0", "localize", "--live", "--threads", "0", "--duration", "1",
          expect="--threads 0: give 1 or more"),
    _case("live-negative-duration", "localize", "--live", "--duration", "-3",
          expect="--duration must be positive"),
    # --- kws ---------------------------------------------------------------------------------
    _case("kws-missing-file", "kws", "{bad}/nope.wav", expect="no such file; check the path"),
    _case("kws-inf", "kws", "{bad}/inf_mono.wav", expect="NaN or Inf sample at 0.250 s"),
    _case("kws-short", "kws", "{bad}/short_mono.wav", expect="0.010 s long, shorter than the 0.100 s"),
    _case("kws-truncated", "kws", "{bad}/trunc_mono.wav", expect="truncated"),
    _case("kws-not-audio", "kws", "{bad}/text.wav", expect="not a readable audio file"),
    _case("kws-threshold", "kws", E, "--threshold", "2", expect="--threshold"),
    _case("kws-no-state", "kws", E, "--model", "{bad}/nostate_kws.pt", expect="is incomplete"),
    _case("kws-adapt-out-exists", "kws-adapt", "{bad}", "--out", "mine.pt",
          expect="mine.pt: the file exists; pass --overwrite", pre={"mine.pt": "an adapted model"}),
    _case("kws-shape", "kws", E, "--model", "{bad}/shape_kws.pt", expect="does not fit its network"),
    # --- encode ------------------------------------------------------------------------------
    _case("encode-not-npz", "encode", E, "--out", "spikes.txt", expect=".npz"),
    _case("encode-mono", "encode", "{bad}/mono.wav", "--out", "s.npz", expect="mono"),
    _case("encode-nan", "encode", "{bad}/nan4.wav", "--out", "s.npz", expect="NaN or Inf"),
    _case("encode-truncated", "encode", "{bad}/trunc4.wav", "--out", "s.npz", expect="truncated"),
    # --- profile -----------------------------------------------------------------------------
    _case("profile-method", "profile", E, "--method", "nosuch", expect="--method nosuch"),
    _case("profile-missing-file", "profile", "{bad}/nope.wav", expect="no such file"),
    _case("profile-maa-shape", "profile", E, "--model", "{bad}/shape_maa.pt",
          expect="does not fit its network"),
    _case("profile-truncated", "profile", "{bad}/trunc4.wav", expect="truncated"),
    _case("profile-kws-nan", "profile", "{bad}/inf_mono.wav", "--method", "kws", expect="NaN or Inf"),
    _case("profile-clips-0", "profile", "--clips", "0", expect="--clips 0"),
    # --- evaluate ----------------------------------------------------------------------------
    _case("evaluate-missing-manifest", "evaluate", "{bad}/nope.csv", "-a", "respeaker4", "-m", "gcc-phat",
          "--out", "ev", expect="no such file"),
    _case("evaluate-no-azimuth", "evaluate", "{bad}/m_no_az.csv", "-a", "respeaker4", "-m", "gcc-phat",
          "--out", "ev", expect="azimuth_deg"),
    _case("evaluate-empty-manifest", "evaluate", "{bad}/m_empty.csv", "-a", "respeaker4", "-m",
          "gcc-phat", "--out", "ev", expect="empty"),
    _case("evaluate-no-rows", "evaluate", "{bad}/m_no_rows.csv", "-a", "respeaker4", "-m", "gcc-phat",
          "--out", "ev", expect="no rows"),
    _case("evaluate-cells", "evaluate", "{bad}/m_cells.csv", "-a", "respeaker4", "-m", "gcc-phat",
          "--out", "ev", expect="cells"),
    _case("evaluate-unknown-array", "evaluate", "{bad}/m_ok.csv", "-a", "nosuch", "-m", "gcc-phat",
          "--out", "ev", expect="nosuch"),
    # --- simulate ----------------------------------------------------------------------------
    _case("simulate-missing-config", "simulate", "{bad}/nope.yaml", "--out", "sim", expect="nope.yaml"),
    _case("simulate-bad-yaml", "simulate", "{bad}/sim_yaml.yaml", "--out", "sim", expect="YAML"),
    _case("simulate-room-too-small", "simulate", "{bad}/sim_room.yaml", "--out", "sim",
          expect="room.size_m, x (the room's length) (low end)=0.5: must be at least 1.0"),
    _case("simulate-unknown-field", "simulate", "{bad}/sim_field.yaml", "--out", "sim", expect="roomz"),
    _case("simulate-range-order", "simulate", "{bad}/sim_rt60.yaml", "--out", "sim",
          expect="low 0.5 is above"),
    _case("simulate-nan-source", "simulate", "{bad}/sim_nan.yaml", "--out", "sim", "--quiet",
          expect="NaN or Inf sample at 0.077 s"),
    # --- train -------------------------------------------------------------------------------
    _case("train-ssl-missing-config", "train", "ssl", "--config", "{bad}/nope.yaml", expect="nope.yaml"),
    _case("train-maa-epochs-text", "train", "maa", "--config", "{repo}/pipelines/maa.yaml", "--set",
          "train.epochs=abc", expect="train.epochs: expected a number, got 'abc'"),
    _case("train-gcc_phat_sm-epochs-fraction", "train", "gcc-phat-sm", "--config",
          "{repo}/pipelines/gcc_phat_sm.yaml", "--set", "train.epochs=1.5",
          expect="train.epochs: expected a whole number"),
    _case("train-maa-set-syntax", "train", "maa", "--config", "{repo}/pipelines/maa.yaml", "--set",
          "epochs", expect="--set epochs"),
    _case("train-kws-epochs-text", "train", "kws", "--config", "{repo}/pipelines/kws_drf.yaml", "--set",
          "train.epochs=abc", expect="'kws.train.epochs': expected a number"),
    _case("train-maa-unknown-key", "train", "maa", "--config", "{bad}/pl_key.yaml", expect="epochz"),
    # --- pipeline ----------------------------------------------------------------------------
    _case("pipeline-missing-config", "pipeline", "run", "{bad}/nope.yaml", expect="nope.yaml"),
    _case("pipeline-not-mapping", "pipeline", "run", "{bad}/pl_list.yaml", expect="mapping"),
    _case("pipeline-bad-step", "pipeline", "run", "{repo}/pipelines/maa.yaml", "--steps", "cook",
          expect="cook"),
    _case("pipeline-epochs-text", "pipeline", "run", "{repo}/pipelines/maa.yaml", "--set",
          "train.epochs=abc", expect="train.epochs: expected a number"),
    # --- an existing output that must be kept --------------------------------------------------
    _case("encode-nan-keeps-old-out", "encode", "{bad}/nan4.wav", "--out", "keep.npz", expect="NaN or Inf",
          pre={"keep.npz": "an earlier result"}),
    _case("simulate-out-is-file", "simulate", "{repo}/pipelines/quick.yaml", "--out", "o.txt", "--quiet",
          expect="o.txt: is a file, not a folder", pre={"o.txt": "mine"}),
    _case("simulate-out-under-file", "simulate", "{repo}/pipelines/quick.yaml", "--out", "o.txt/sim",
          "--quiet", expect="o.txt is a file, not a folder", pre={"o.txt": "mine"}),
    _case("evaluate-out-is-file", "evaluate", "{bad}/m_ok.csv", "-a", "respeaker4", "-m", "gcc-phat",
          "--out", "ev", "--quiet", expect="ev: is a file, not a folder", pre={"ev": "mine"}),
    _case("encode-out-is-folder", "encode", E, "--out", "keep.npz",
          expect="keep.npz: is a folder; give a file path",
          pre={"keep.npz/notes.txt": "mine"}),
    _case("train-mpdal-out-is-file", "train", "mpdal", "--config", "{repo}/pipelines/mpdal_clues.yaml",
          "--out", "o.txt", expect="o.txt: a file is where", pre={"o.txt": "mine"}),
    _case("simulate-bad-room-keeps-folder", "simulate", "{bad}/sim_room.yaml", "--out", "sim",
          expect="room.size_m", pre={"sim/notes.txt": "mine"}),
]
CASE_BY_ID = {c.id: c for c in CASES}


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="session")
def results(bad, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, dict, dict]]:
    """Every case run once, each in its own process and empty working folder; the processes run
    side by side (one per core) to keep the suite fast. id -> (process, folder before, after)."""
    from concurrent.futures import ThreadPoolExecutor

    env = cli_env()
    script = installed_script()
    work = {}
    for c in CASES:
        cwd = tmp_path_factory.mktemp("case")
        for rel, text in c.values[2].items():
            (cwd / rel).parent.mkdir(parents=True, exist_ok=True)
            (cwd / rel).write_text(text, encoding="utf-8")
        work[c.id] = (cwd, [a.format(bad=bad, repo=REPO) for a in c.values[0]], _snapshot(cwd))

    def run(cid: str):
        cwd, argv, before = work[cid]
        r = subprocess.run([script, *argv], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
        return cid, (r, before, _snapshot(cwd))

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as ex:
        return dict(ex.map(run, list(work)))


@pytest.mark.parametrize("case_id", list(CASE_BY_ID))
def test_bad_input_is_one_line_exit_2(case_id, results):
    expect = CASE_BY_ID[case_id].values[1]
    r, before, after = results[case_id]
    lines = r.stderr.splitlines()
    assert r.returncode == 2, f"exit {r.returncode}; stderr:\n{r.stderr}"
    assert "Traceback" not in r.stderr
    assert len(lines) == 1 and lines[0].strip(), f"stderr is not one line:\n{r.stderr}"
    assert lines[0].startswith("neuroaudio: error: ")
    assert expect in lines[0], lines[0]
    assert after == before, "something was left behind in (or taken from) the working folder"


def test_case_count():
    """The issue asks for at least 40 cases across these commands."""
    assert len(CASES) >= 40
    commands = {c.values[0][0] for c in CASES}
    assert {"localize", "evaluate", "simulate", "encode", "kws", "profile", "train", "pipeline"} <= commands


def test_evaluate_keeps_a_truncated_file_as_a_failed_row(bad, tmp_path):
    """A truncated WAV in a manifest fails its own row (status names it), the others go on."""
    man = tmp_path / "m.csv"
    with open(man, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "azimuth_deg"])
        w.writerow([str(bad / "good4.wav"), 10])
        w.writerow([str(bad / "trunc4.wav"), 20])
    env = cli_env()
    r = subprocess.run([installed_script(), "evaluate", str(man), "-a", "respeaker4", "-m", "gcc-phat",
                        "--out", str(tmp_path / "ev"), "--quiet", "--no-plots"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    with open(tmp_path / "ev" / "predictions.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r_["status"] == "ok" for r_ in rows] == [True, False]
    assert "truncated" in rows[1]["status"] and rows[1]["pred_azimuth_deg"] == ""


def test_low_rate_input_warns_once(tmp_path):
    """An 8 kHz copy of the example: localize still answers, with one warning line naming the rates."""
    from scipy.signal import resample_poly

    x, fs = sf.read(str(EXAMPLE), dtype="float32", always_2d=True)
    low = _wav(tmp_path / "ex8k.wav", resample_poly(x, 1, 2, axis=0), fs // 2, subtype="PCM_16")
    env = cli_env()
    r = subprocess.run([installed_script(), "localize", str(low), "--format", "json"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    warn = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(warn) == 1 and "recorded at 8000 Hz, below the 16000 Hz" in warn[0], r.stderr
    import json

    az = json.loads(r.stdout)["azimuth_deg"]
    assert az is not None and math.isfinite(az)


def test_band_limited_input_warns(tmp_path, monkeypatch, caplog):
    """A 16 kHz file with nothing above 4 kHz (the example after a trip through 8 kHz) draws one
    band warning; the example as recorded draws none."""
    import logging

    from scipy.signal import resample_poly

    from neuroaudio.audio import io as aio

    x, fs = sf.read(str(EXAMPLE), dtype="float64", always_2d=True)
    up = _wav(tmp_path / "up.wav", resample_poly(resample_poly(x, 1, 2, axis=0), 2, 1, axis=0), fs,
              subtype="PCM_16")
    monkeypatch.setattr(aio, "_WARNED", set())
    with caplog.at_level(logging.INFO, logger="neuroaudio"):
        aio.read_audio(EXAMPLE, fs=16000)
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
        aio.read_audio(up, fs=16000)
        aio.read_audio(up, fs=16000)          # the second such file of a batch: INFO only
    warns = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warns) == 1 and "almost nothing above 4.4 kHz" in warns[0], warns
    assert sum("almost nothing above" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.parametrize("json_out", [False, True])
def test_devices_without_an_input_is_exit_2(json_out, monkeypatch, cli):
    """`neuroaudio devices` that finds no input device (only an output) says what to do, exit 2."""
    from types import SimpleNamespace

    from neuroaudio.audio import live

    only_speakers = SimpleNamespace(
        query_devices=lambda: [{"index": 0, "name": "speakers", "hostapi": 0, "max_input_channels": 0,
                                "default_samplerate": 48000.0}],
        query_hostapis=lambda: [{"name": "Fake API"}], default=SimpleNamespace(device=(-1, 0)))
    monkeypatch.setattr(live, "_sounddevice", lambda: only_speakers)
    r = cli("devices", *(["--json"] if json_out else []))
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "no audio input device found: connect" in lines[0], r.stderr
