"""Realistic scenes (issue 18): short utterances, hum / music / clatter noise, 1-N directional
sources, recorded-noise folders, and the manifest's active-part SNR and speech span."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.stats import kurtosis

from neuroaudio.errors import InputError
from neuroaudio.sim.activity import active_snr_db, speech_span
from neuroaudio.sim.config import apply_sets, parse_config, parse_signal
from neuroaudio.sim.render import render_clip, room_responses
from neuroaudio.sim.run import simulate
from neuroaudio.sim.scene import plan_clip, plan_room
from neuroaudio.sim.signals import plan_signal, render_signal

from .conftest import run_cli
from .sim_helpers import config_dict, write_config

FS = 16000


def _signal(d: dict, seed: int, seconds: float = 4.0) -> tuple[dict, np.ndarray]:
    cfg = parse_signal(d, "x", Path("."))
    r = plan_signal(cfg, np.random.default_rng(seed), seconds)
    return r, render_signal(r, int(seconds * FS), FS)


def _frame_db(x: np.ndarray, frame: int) -> np.ndarray:
    fr = x[:len(x) // frame * frame].reshape(-1, frame)
    return 10 * np.log10(np.mean(fr ** 2, axis=1))


# ------------------------------------------------------------------------------------------------
# noise kinds
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_impulsive_clatter_is_impulsive(seed):
    _, x = _signal({"kind": "impulsive", "events_per_s": [3, 12], "decay_ms": [10, 80]}, seed)
    _, pink = _signal({"kind": "pink"}, seed)
    crest_db = 20 * np.log10(np.abs(x).max() / np.sqrt(np.mean(x ** 2)))
    assert kurtosis(x) > 5 and crest_db > 16, (kurtosis(x), crest_db)   # Gaussian: 0 and ~13 dB
    assert abs(kurtosis(pink)) < 0.5 and 20 * np.log10(np.abs(pink).max()) < 15


@pytest.mark.parametrize("f0", [50.0, 60.0, 117.0])
def test_hum_has_harmonics_at_k_f0_and_a_slowly_modulated_level(f0):
    r, x = _signal({"kind": "hum", "f0_hz": f0, "harmonics": 6, "modulation_hz": 1.0, "depth": 0.5}, 3)
    assert (r["f0_hz"], r["harmonics"]) == (f0, 6)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1 / FS)
    floor = np.median(spec)
    bin_of = lambda hz: int(np.argmin(np.abs(f - hz)))  # noqa: E731
    peaks = [20 * np.log10(spec[bin_of(k * f0) - 2:bin_of(k * f0) + 3].max() / floor) for k in range(1, 7)]
    between = [20 * np.log10(spec[bin_of((k + 0.5) * f0)] / floor) for k in range(1, 7)]
    assert min(peaks) > 35, peaks          # every harmonic 1..6 stands out of the spectrum
    # ... by 20 dB over the (pink, -25 dB) floor half-way to the next harmonic
    assert all(p - b > 20 for p, b in zip(peaks, between, strict=True)), (peaks, between)
    # the 7th harmonic was not asked for: only the floor there
    seventh = 20 * np.log10(spec[bin_of(7 * f0) - 2:bin_of(7 * f0) + 3].max() / floor)
    assert seventh < peaks[-1] - 15, (seventh, peaks)
    # level: 1 + 0.5 sin(2 pi 1 Hz t): frame RMS swings (1.5 / 0.5) = 9.5 dB, once a second
    env = _frame_db(x, FS // 20)
    assert 8.0 < env.max() - env.min() < 10.5, env.max() - env.min()
    lin = 10 ** (env / 20)  # frame RMS ~ 1 + 0.5 sin(2 pi t + phi)
    t = (np.arange(len(lin)) + 0.5) / 20
    basis = np.stack([np.ones_like(t), np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, lin, rcond=None)
    resid = lin - basis @ coef
    assert 1 - resid.var() / lin.var() > 0.98                       # a 1 Hz sinusoid explains it
    assert np.hypot(coef[1], coef[2]) / coef[0] == pytest.approx(0.5, abs=0.05)  # depth 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_music_is_tonal_on_the_scale_and_rhythmic(seed):
    r, x = _signal({"kind": "music", "tempo_bpm": 120}, seed)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1 / FS)
    keep = f > 150  # above the kick drum's sweep
    s, fk = spec[keep], f[keep]
    top = []
    for i in np.argsort(s)[::-1]:  # the 5 strongest peaks, at least 20 Hz apart
        if all(abs(fk[i] - t) > 20 for t in top):
            top.append(fk[i])
        if len(top) == 5:
            break
    # on the equal-tempered grid (A4 = 440 Hz) up to octaves (partials 1, 2, 4): within 0.5 %
    semis = 12 * np.log2(np.array(top) / 440.0)
    assert np.all(np.abs(semis - np.round(semis)) < 12 * np.log2(1.005)), top
    env = _frame_db(x, FS // 100)
    _, pink = _signal({"kind": "pink"}, seed)
    p = _frame_db(pink, FS // 100)
    assert np.percentile(env, 90) - np.percentile(env, 10) > 2 * (np.percentile(p, 90) - np.percentile(p, 10))
    # rhythm: the 10 ms envelope repeats at the half beat (0.25 s) more than half-way between
    e = env - env.mean()
    ac = lambda lag: float(np.dot(e[:-lag], e[lag:]) / np.dot(e, e))  # noqa: E731
    assert ac(50) > ac(37), (ac(50), ac(37))


@pytest.mark.parametrize("kind", ["hum", "music", "impulsive"])
def test_new_kinds_are_deterministic(kind):
    a = _signal({"kind": kind}, 5)
    b = _signal({"kind": kind}, 5)
    c = _signal({"kind": kind}, 6)
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and not np.array_equal(a[1], c[1])


# ------------------------------------------------------------------------------------------------
# active part: the documented definition, in numbers
# ------------------------------------------------------------------------------------------------
def test_speech_span_and_active_snr_in_numbers():
    fs = 1000  # 20-sample frames
    dry = np.zeros(1000)
    dry[300:500] = 1.0          # frames 15..24: active
    dry[600:620] = 0.05         # -26 dB: within 30 dB of the loudest frame, active
    dry[700:720] = 0.01         # -40 dB: not active
    onset, dur, active = speech_span(dry, fs)
    assert (onset, dur, active) == (0.3, 0.32, 0.22)
    # images [n, 2 mics]: the source is 4 (power 16) on the active samples delayed by 5 samples,
    # the noise is 1 everywhere and 3 on samples 0..99 (outside the active part)
    from neuroaudio.sim.activity import active_mask

    mask = active_mask(dry, fs, delay_samples=5)
    assert mask.sum() == 220 and mask[305] and not mask[304] and mask[504] and not mask[505]
    img = np.zeros((1000, 2))
    img[mask] = 4.0
    noise = np.ones((1000, 2))
    noise[:100] = 3.0
    assert active_snr_db(img, noise, mask) == pytest.approx(10 * np.log10(16.0), abs=1e-12)
    p_clip = 16.0 * 220 / 1000
    p_noise = (9.0 * 100 + 900) / 1000
    assert 10 * np.log10(np.mean(img ** 2) / np.mean(noise ** 2)) == pytest.approx(
        10 * np.log10(p_clip / p_noise), abs=1e-12)
    assert np.isnan(speech_span(np.zeros(100), fs)[0])


# ------------------------------------------------------------------------------------------------
# scenes
# ------------------------------------------------------------------------------------------------
def _speech_folder(root: Path) -> tuple[Path, dict[str, float]]:
    """Six synthetic 'digits' at 8 kHz: 0.3-0.55 s of voiced harmonics between 0.1 s silences."""
    folder = root / "digits"
    folder.mkdir()
    rng = np.random.default_rng(0)
    lengths = {}
    for k in range(6):
        d = 0.3 + 0.05 * k
        t = np.arange(int(d * 8000)) / 8000
        ramp = np.minimum(1.0, np.minimum(t, d - t) / 0.01)  # 10 ms fades
        v = sum(np.sin(2 * np.pi * h * (110 + 20 * k) * t) / h for h in range(1, 8)) * ramp
        x = np.concatenate([np.zeros(800), v, np.zeros(800)]) + 1e-5 * rng.standard_normal(len(t) + 1600)
        sf.write(folder / f"{k}_synth_{k}.wav", 0.3 * x, 8000)
        lengths[f"{k}_synth_{k}.wav"] = d
    return folder, lengths


def _scene_config(folder: Path, **changes) -> dict:
    d = config_dict(duration_s=1.2, snr_db=[0, 10], clips_per_snr=4, seed=11,
                    source={"signal": [
                        {"kind": "speech", "label": "short", "utterances": 1, "folder": str(folder)},
                        {"kind": "speech", "label": "sentence"}]},
                    noise=[{"placement": "directional", "positions": [1, 3], "distance_m": [1.0, 2.0],
                            "signal": [{"kind": "impulsive"}, {"kind": "hum"}, {"kind": "music"}]},
                           {"placement": "diffuse", "positions": 3, "signal": "pink", "level_db": -6},
                           {"placement": "sensor", "level_db": -20}],
                    scene={"clips_per_room": 1, "sources_per_room": 1})
    d.update(changes)
    return d


def _independent_active_snr(dry, img, noise, delay, fs):
    """The documented definition, written again without the module: 20 ms frames, 30 dB."""
    hop = int(0.02 * fs)
    n = len(dry)
    p = np.array([np.mean(dry[i:i + hop] ** 2) for i in range(0, n, hop)])
    active = p >= p.max() * 1e-3
    mask = np.zeros(n, dtype=bool)
    for k in np.flatnonzero(active):
        mask[k * hop + delay:min((k + 1) * hop + delay, n)] = True
    return 10 * np.log10(np.mean(img[mask] ** 2) / np.mean(noise[mask] ** 2))


def test_short_utterances_noise_sources_and_manifest(tmp_path):
    folder, lengths = _speech_folder(tmp_path)
    cfg = parse_config(_scene_config(folder))
    out = tmp_path / "out"
    s = simulate(cfg, out)
    assert s.written == 8 and not s.failed
    rows = list(csv.DictReader((out / "manifest.csv").read_text().splitlines()))
    # clip i takes signal (i // 2) % 2: each SNR gets both kinds
    assert [r["speech_kind"] for r in rows] == ["short", "short", "sentence", "sentence"] * 2
    assert {(r["snr_db"], r["speech_kind"]) for r in rows} == {(a, b) for a in ("0.0", "10.0")
                                                               for b in ("short", "sentence")}
    counts = []
    for r in rows:
        room = plan_room(cfg, int(r["room"]))
        n_src = int(r["n_noise_sources"])
        azs = r["interferer_azimuths_deg"].split("|")
        assert 1 <= n_src <= 3 and len(azs) == n_src == len(room.noise_positions_m[0])
        assert float(r["interferer_azimuth_deg"]) == pytest.approx(float(azs[-1]), abs=1e-3)
        counts.append(n_src)
        kinds = r["noise"].split("+")[0].split(":")[1].split("|")
        assert set(kinds) <= {"impulsive", "hum", "music"} and len(kinds) <= n_src
        onset, dur = float(r["speech_onset_s"]), float(r["speech_duration_s"])
        assert 0 <= onset and onset + dur <= 1.2 + 1e-9
        if r["speech_kind"] == "short":
            name = r["source"].split(":")[-1]
            assert r["source"].startswith("speech:digits:") and name in lengths
            # the recording trimmed to where it sounds: its voiced part, to a 20 ms frame
            assert abs(dur - lengths[name]) <= 0.04 + 1e-9, (dur, lengths[name])
            # silence around it: the active-part SNR is above the clip's
            assert float(r["snr_active_db"]) > float(r["snr_db"]) + 2
        else:
            assert float(r["speech_active_s"]) > 0.7
    assert len(set(counts)) >= 2, counts  # the count is drawn per room
    # onsets are spread over the clip, not pinned to its start
    short_onsets = [float(r["speech_onset_s"]) for r in rows if r["speech_kind"] == "short"]
    assert max(short_onsets) - min(short_onsets) > 0.1, short_onsets

    # exact SNRs from the rendered parts, and the active-part SNR as documented
    for i in (0, 2, 5):
        plan = plan_clip(cfg, i)
        room = plan_room(cfg, plan.room)
        c = render_clip(cfg, room, room_responses(cfg, room, measure_rt60=False), plan)
        assert 10 * np.log10(np.mean(c.source_image ** 2) / np.mean(c.noise ** 2)) == pytest.approx(
            plan.snr_db, abs=1e-9)
        dry = render_signal(plan.source, cfg.n_samples, cfg.fs)
        delay = int(round(room.targets[0].distance_m / 343.0 * cfg.fs))
        ref = _independent_active_snr(dry, c.source_image, c.noise, delay, cfg.fs)
        assert c.stats["snr_active_db"] == pytest.approx(ref, abs=1e-9)
        assert float(rows[i]["snr_active_db"]) == pytest.approx(ref, abs=5e-5)
        w, _ = sf.read(out / rows[i]["path"])
        assert np.abs(w - c.mix).max() <= 1 / 32768 + 1e-9


def test_clip_lengths_drawn_per_clip(tmp_path):
    cfg = parse_config(config_dict(
        duration_s=[1.2, 4.0], snr_db=[10], clips_per_snr=3,
        source={"signal": {"kind": "speech", "label": "short", "utterances": [1, 2], "n_words": [1, 2]}},
        noise=[{"placement": "directional", "positions": [1, 2],
                "signal": [{"kind": "hum"}, {"kind": "music"}]},
               {"placement": "sensor", "level_db": -20}],
        scene={"clips_per_room": 3, "sources_per_room": 1}))
    assert cfg.n_samples == 4 * FS
    out = tmp_path / "out"
    assert simulate(cfg, out).written == 3
    rows = list(csv.DictReader((out / "manifest.csv").read_text().splitlines()))
    durs = [float(r["duration_s"]) for r in rows]
    assert len(set(durs)) == 3 and all(1.2 <= d <= 4.0 for d in durs), durs
    room = plan_room(cfg, 0)
    resp = room_responses(cfg, room, measure_rt60=False)
    for i, (r, d) in enumerate(zip(rows, durs, strict=True)):
        assert sf.info(str(out / r["path"])).frames == round(d * FS)
        assert float(r["speech_onset_s"]) + float(r["speech_duration_s"]) <= d + 1e-9
        plan = plan_clip(cfg, i)
        c = render_clip(cfg, room, resp, plan)  # noise folded over this clip's own length
        assert c.mix.shape == (round(d * FS), 4)
        snr = 10 * np.log10(np.mean(c.source_image ** 2) / np.mean(c.noise ** 2))
        assert snr == pytest.approx(10, abs=1e-9)
    assert resp.noise_spectra(resp.n) is resp.noise_fft
    assert simulate(cfg, out).skipped == 3  # resume knows each clip's length


def test_same_seed_same_clip_other_seed_other_clip(tmp_path):
    folder, _ = _speech_folder(tmp_path)

    def digest(seed: int, i: int) -> str:
        cfg = parse_config(_scene_config(folder, seed=seed))
        plan = plan_clip(cfg, i)
        room = plan_room(cfg, plan.room)
        c = render_clip(cfg, room, room_responses(cfg, room, measure_rt60=False), plan)
        return hashlib.sha256(c.mix.tobytes()).hexdigest()

    assert digest(11, 0) == digest(11, 0) and digest(11, 3) == digest(11, 3)
    assert digest(11, 0) != digest(12, 0)


def test_espeak_short_words_need_no_data():
    cfg = parse_config(config_dict(duration_s=1.2, snr_db=[10], clips_per_snr=3, source={"signal": {
        "kind": "speech", "label": "short", "utterances": [2, 2], "n_words": 1, "pause_s": [0.2, 0.2]}}))
    onsets = []
    for i in range(3):
        plan = plan_clip(cfg, i)
        assert plan.source["kind"] == "utterances" and len(plan.source["items"]) == 2
        assert plan.source["pauses_s"] == [0.2]
        dry = render_signal(plan.source, cfg.n_samples, cfg.fs)
        onset, dur, active = speech_span(dry, cfg.fs)
        assert 0 <= onset and onset + dur <= 1.2 and 0.3 < dur < 1.2 and active < dur  # a pause inside
        onsets.append(onset)
    assert len(set(onsets)) == 3


# ------------------------------------------------------------------------------------------------
# folders of recordings
# ------------------------------------------------------------------------------------------------
def test_folder_noise_reads_random_excerpts_resampled(tmp_path):
    folder = tmp_path / "household"
    folder.mkdir()
    t = np.arange(5 * 22050) / 22050
    sf.write(folder / "fridge.wav", 0.2 * np.sin(2 * np.pi * 440 * t), 22050)  # 5 s at 22.05 kHz
    cfg = parse_signal({"kind": "folder", "path": str(folder)}, "noise[0].signal", tmp_path)
    xs, offsets = [], set()
    for seed in range(4):
        r = plan_signal(cfg, np.random.default_rng(seed), 1.2)
        offsets.add(r["offset_s"])
        xs.append(render_signal(r, int(1.2 * FS), FS))
    assert len(offsets) == 4 and all(0 <= o <= 5 - 1.2 for o in offsets)  # random excerpts
    f = np.fft.rfftfreq(len(xs[0]), 1 / FS)
    assert all(abs(f[np.argmax(np.abs(np.fft.rfft(x)))] - 440) < 2 for x in xs)  # resampled to 16 kHz


@pytest.mark.parametrize("case", ["missing", "empty", "no_audio"])
def test_folder_noise_errors_in_one_line(tmp_path, case):
    folder = tmp_path / "noises"
    if case != "missing":
        folder.mkdir()
    if case == "no_audio":
        (folder / "readme.txt").write_text("no recordings here")
    d = config_dict(noise=[{"placement": "directional", "signal": {"kind": "folder", "path": str(folder)}}])
    with pytest.raises(InputError) as e:
        parse_config(d)
    msg = str(e.value)
    assert "noise[0].signal.path" in msg and "\n" not in msg and str(folder) in msg
    cfg = write_config(tmp_path / "bad.yaml", d)
    r = run_cli("simulate", cfg, "--out", tmp_path / "out")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "noise[0].signal.path" in r.stderr and not (tmp_path / "out" / "clips").exists()


def test_set_overrides_list_items_and_reports_bad_keys(tmp_path):
    folder, _ = _speech_folder(tmp_path)
    base = _scene_config(tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"source\.signal\.0\.folder"):
        parse_config(base)
    d = apply_sets(base, [f"source.signal.0.folder={folder}", "noise.1.level_db=-3", "seed=5"])
    cfg = parse_config(d)
    assert cfg.source.signal[0].folder == str(folder.resolve()) and cfg.noise[1].level_db == -3
    assert cfg.seed == 5 and base["seed"] == 11  # a copy
    for bad, words in (("source.signal.2.folder=x", "index 0..1"), ("seed", "KEY=VALUE"),
                       ("seed.x=1", "not a section"), ("noise..level_db=1", "empty name")):
        with pytest.raises(InputError, match=words):
            apply_sets(d, [bad])
    with pytest.raises(InputError, match="^noise: expected a list"):
        parse_config(apply_sets(d, ["noise=[]"]))
    # the CLI: the folder given on the command line
    yaml_path = write_config(tmp_path / "scene.yaml", {**base, "clips_per_snr": 1})
    r = run_cli("simulate", yaml_path, "--out", tmp_path / "out", "-q", "--limit", "1",
                "--set", f"source.signal.0.folder={folder}")
    assert r.returncode == 0, r.stderr
    row = next(csv.DictReader((tmp_path / "out/manifest.csv").read_text().splitlines()))
    assert row["source"].startswith("speech:digits:") and row["speech_kind"] == "short"


@pytest.mark.parametrize("change, field", [
    ({"noise": [{"placement": "directional", "positions": [3, 1]}]}, "noise[0].positions"),
    ({"noise": [{"placement": "directional", "positions": [1.5, 3]}]}, "noise[0].positions"),
    ({"source": {"signal": []}}, "source.signal"),
    ({"source": {"signal": {"kind": "pink", "utterances": 1}}}, "source.signal.utterances"),
    ({"source": {"signal": {"kind": "hum", "folder": "x"}}}, "source.signal.folder"),
    ({"source": {"signal": [{"kind": "speech"}, {"kind": "hum", "harmonics": [0, 3]}]}},
     "source.signal.1.harmonics"),
    ({"source": {"signal": {"kind": "speech", "label": "a,b"}}}, "source.signal.label"),
    ({"duration_s": [4, 1.2]}, "duration_s"),
    ({"duration_s": [0.001, 1.2]}, "duration_s"),
])
def test_bad_scene_fields_named(change, field):
    with pytest.raises(InputError) as e:
        parse_config(config_dict(**change))
    assert field in str(e.value) and "\n" not in str(e.value)


def test_resolved_config_reads_back_equal(tmp_path):
    folder, _ = _speech_folder(tmp_path)
    cfg = parse_config(_scene_config(folder))
    assert parse_config(cfg.to_dict()) == cfg


def test_realistic_bench_config_runs_from_a_clean_clone():
    from neuroaudio.sim.config import load_config

    path = Path(__file__).resolve().parent.parent / "pipelines" / "realistic_bench.yaml"
    assert "shared" not in path.read_text()  # no data outside the repo is needed
    cfg = load_config(path)
    assert cfg.array.name == "respeaker4" and cfg.room.rt60_s == (0.15, 0.7) and cfg.duration_s == 1.2
    assert cfg.snr_db == (-5, 0, 5, 10, 20, 30) and cfg.clips_per_snr == 40
    assert [s.label for s in cfg.source.signal] == ["short", "sentence"]
    assert cfg.source.signal[0].utterances == (1, 1) and cfg.source.signal[0].folder is None
    kinds = {n.placement: n for n in cfg.noise}
    assert kinds["directional"].positions == (1, 6) and "diffuse" in kinds and "sensor" in kinds
    assert {s.kind for s in kinds["directional"].signal} == {"impulsive", "hum", "babble", "music", "am"}
    labels = {}
    for i in range(cfg.n_clips):  # half short, half sentence at every SNR
        p = plan_clip(cfg, i)
        labels.setdefault(p.snr_db, []).append(p.source_label)
    assert all(v.count("short") == v.count("sentence") == 20 for v in labels.values())
    counts = {plan_room(cfg, r).n_point_sources for r in range(40)}
    assert counts == {1, 2, 3, 4, 5, 6}
    # the FSDD folder (or any folder of recordings) is given on the command line
    with pytest.raises(InputError, match=r"source\.signal\.0\.folder: /nonexistent/fsdd is not a folder"):
        load_config(path, sets=["source.signal.0.folder=/nonexistent/fsdd"])
