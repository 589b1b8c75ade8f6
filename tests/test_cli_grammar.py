"""One command-line grammar (neuroaudio/cli/options.py, docs/conventions.md "Command line"): each short
flag means one thing in every command, help texts teach by example and keep their brackets, and the
old spellings still work as hidden aliases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuroaudio.audio.io import write_audio
from neuroaudio.cli import get_command
from neuroaudio.cli.options import LEGACY_FLAGS, SHORT_FLAGS
from neuroaudio.cli.profile_cmd import legacy_json_path

from .conftest import REPO

EXAMPLE_WAV = REPO / "data" / "examples" / "respeaker4_az120.wav"
KWS_MODEL = REPO / "data" / "models" / "kws_fsdd_drf.pt"


def _commands(cmd=None, path: str = ""):
    """(command path, click command, hidden) for every command and group of the app, hidden ones too."""
    cmd = cmd or get_command()
    yield path, cmd, bool(getattr(cmd, "hidden", False))
    for name, sub in getattr(cmd, "commands", {}).items():
        for p, c, hidden in _commands(sub, f"{path} {name}".strip()):
            yield p, c, hidden or bool(getattr(cmd.commands[name], "hidden", False))


def _options(cmd):
    return [p for p in cmd.params if getattr(p, "opts", None) and p.param_type_name == "option"]


def test_each_short_flag_means_one_long_name_across_the_app():
    seen: dict[str, set[str]] = {}
    for path, cmd, _ in _commands():
        for p in _options(cmd):
            shorts = [o for o in p.opts if len(o) == 2 and o[0] == "-" and o[1] != "-"]
            longs = [o for o in p.opts + p.secondary_opts if o.startswith("--")]
            if p.hidden:
                for o in p.opts:   # an old spelling: listed, and pointing at a flag of the command
                    new = LEGACY_FLAGS.get((path, o))
                    assert new is not None, f"`{path}`: hidden {o} is not in options.LEGACY_FLAGS"
                    assert any(new in q.opts for q in _options(cmd)), f"`{path}`: {o} -> {new}?"
                continue
            for s in shorts:
                seen.setdefault(s, set()).update(longs)
                assert s in SHORT_FLAGS, f"`{path}`: {s} is not in the grammar (options.SHORT_FLAGS)"
                assert SHORT_FLAGS[s] in longs, f"`{path}`: {s} is {longs}, not {SHORT_FLAGS[s]}"
            for s, long in SHORT_FLAGS.items():   # and a grammar flag always has its short form
                if long in longs:
                    assert s in shorts, f"`{path}`: {long} without {s}"
    assert all(len(longs) == 1 for longs in seen.values()), seen
    assert set(seen) == set(SHORT_FLAGS)   # every short flag of the grammar is used somewhere


def test_model_json_and_set_have_one_shape_everywhere():
    n_json = n_model = n_set = 0
    for path, cmd, _ in _commands():
        for p in _options(cmd):
            if p.hidden:
                continue
            if "--json" in p.opts:
                n_json += 1
                assert p.is_flag, f"`{path}`: --json takes a value"
            if "--model" in p.opts:
                n_model += 1
                assert p.opts == ["--model"], f"`{path}`: --model has a short flag {p.opts}"
            if "--set" in p.opts:
                n_set += 1
                assert p.multiple and p.opts == ["--set"], f"`{path}`: --set {p.opts}"
            for o in p.opts:   # times are in seconds and say so: --frame-s, --hop-s
                assert o not in ("--hop", "--frame", "--workers-n"), f"`{path}`: {o}"
    assert n_json >= 5 and n_model >= 7 and n_set >= 7


def test_every_command_and_group_help_has_an_example():
    for path, cmd, hidden in _commands():
        if hidden or path == "":
            continue
        assert "Example" in (cmd.help or ""), f"`neuroaudio {path} --help` has no example"


def test_help_texts_keep_their_brackets(cli):
    import typer
    from rich.text import Text

    from neuroaudio.cli import app

    raw = {path: cmd for path, cmd, _ in _commands(typer.main.get_command(app))}
    n = 0
    for path, cmd, _ in _commands():   # escaped once: rendered as markup they are the text again
        for obj, raw_obj in zip((cmd, *cmd.params), (raw[path], *raw[path].params), strict=True):
            text, raw_text = getattr(obj, "help", None), getattr(raw_obj, "help", None)
            if raw_text:
                assert Text.from_markup(text).plain == raw_text, f"`{path}`"
                n += "[" in raw_text
    assert n >= 5
    r = cli("encode", "--help")
    assert "coincidence [frames, steps, pairs, delays, bands]" in " ".join(r.stdout.split())
    r = cli("train", "kws", "--help")
    assert "data.test_speakers=[theo]" in r.stdout


# --- old spellings (hidden aliases) -------------------------------------------------------------

def test_localize_method_options_old_and_new_spellings_agree(cli):
    args = ("localize", EXAMPLE_WAV, "-m", "gcc-phat", "-f", "json")
    new = cli(*args, "--set", "fmin_hz=300", "--set", "fusion=tdoa")
    old_short = cli(*args, "-o", "fmin_hz=300", "-o", "fusion=tdoa")
    old_long = cli(*args, "--option", "fmin_hz=300", "--option", "fusion=tdoa")
    default = cli(*args)
    assert new.returncode == old_short.returncode == old_long.returncode == 0, new.stderr
    assert new.stdout == old_short.stdout == old_long.stdout
    assert old_short.stderr == new.stderr == ""   # nothing extra on stderr for an old spelling
    assert json.loads(new.stdout)["frames"] != json.loads(default.stdout)["frames"]   # the options act
    bad = cli(*args, "--set", "fmin_hz=abc")
    assert bad.returncode == 2 and "--set fmin_hz=abc" in bad.stderr


def test_localize_json_flag_is_format_json(cli):
    a = cli("localize", EXAMPLE_WAV, "--json")
    b = cli("localize", EXAMPLE_WAV, "--format", "json")
    assert a.returncode == 0 and a.stdout == b.stdout and json.loads(a.stdout)["azimuth_deg"] is not None
    r = cli("localize", EXAMPLE_WAV, "--json", "--format", "csv")
    assert r.returncode == 2 and "--json and --format csv" in r.stderr


@pytest.fixture(scope="module")
def digit_clips(tmp_path_factory):
    """Two 2-s noise-and-tone clips at 8 kHz (no keyword needed: the outputs are compared)."""
    d = tmp_path_factory.mktemp("kws_clips")
    rng = np.random.default_rng(3)
    t = np.arange(16000) / 8000
    for k in range(2):
        x = 0.3 * np.sin(2 * np.pi * (300 + 200 * k) * t) * (t % 1 < 0.5) + 0.01 * rng.standard_normal(len(t))
        write_audio(d / f"c{k}.wav", x.astype(np.float32)[:, None], 8000)
    return d


def test_kws_group_and_its_old_spellings(cli, digit_clips):
    files = [digit_clips / "c0.wav", digit_clips / "c1.wav"]
    closed = ("--threshold", "0.5", "--min-windows", "1", "--min-keyword-p", "0")   # detections to compare
    new = cli("kws", "detect", *files, "--model", KWS_MODEL, "--hop-s", "0.25", "--all", "-f", "jsonl",
              *closed)
    assert new.returncode == 0, new.stderr
    rows = [json.loads(line) for line in new.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(f) for f in files] and {r["status"] for r in rows} == {"ok"}
    # the old form: `kws FILE...`, -m for --model, --hop for --hop-s
    old = cli("kws", *files, "-m", KWS_MODEL, "--hop", "0.25", "--all", "--format", "jsonl", *closed)
    assert old.returncode == 0 and old.stdout == new.stdout and old.stderr == ""
    other_hop = cli("kws", "detect", *files, "--hop-s", "0.1", "--all", "-f", "jsonl", *closed)
    assert other_hop.stdout != new.stdout   # the hop is read (other windows, other times)
    assert cli("kws", files[0], "-m", digit_clips / "nope.pt").returncode == 2   # -m is read
    # an option first also routes to detect (the old `neuroaudio kws --live ...`)
    r = cli("kws", "--threshold", "2", files[0])
    assert r.returncode == 2 and "--threshold 2.0" in r.stderr
    r = cli("kws", "evalute", digit_clips)   # a typo of a subcommand is not taken for a file
    assert r.returncode == 2 and "No such command 'evalute'" in r.stderr
    bare = cli("kws")
    assert bare.returncode == 0 and "detect" in bare.stdout and "adapt" in bare.stdout


def test_kws_table_is_a_table_and_lines_are_the_old_plain_lines(cli, digit_clips, monkeypatch):
    monkeypatch.chdir(digit_clips)   # short paths: the table fits 80 columns
    f = "c0.wav"
    js = json.loads(cli("kws", "detect", f, "--json").stdout)
    lines = cli("kws", "detect", f, "-f", "lines")
    dets = ", ".join(f"{d['label']} ({d['score']:.2f}) {d['t_start_s']:.2f}-{d['t_end_s']:.2f} s"
                     for d in js["detections"]) or "-"
    assert lines.stdout == f"{f}: {dets}\n"
    table = cli("kws", "detect", f, "missing.wav")
    assert table.returncode == 2
    out = table.stdout
    assert "file" in out and "status" in out and "┃" in out and "missing.wav" in out and "error:" in out
    assert out.count("│ ok") == 1


def test_kws_train_lives_in_train_and_kws_train_is_its_alias(cli, tmp_path):
    for args in (("train", "kws"), ("kws", "train")):
        r = cli(*args, "-c", tmp_path / "nope.yaml")
        assert r.returncode == 2 and "nope.yaml" in r.stderr
    assert "train" not in cli("kws", "--help").stdout.split("Commands")[1]   # hidden


def test_simulate_old_workers_flag_is_read():
    sim = get_command().commands["simulate"]
    ctx = sim.make_context("simulate", ["cfg.yaml", "-o", "out", "-w", "3"])
    assert ctx.params["workers_old"] == 3 and ctx.params["workers"] == 1
    ctx = sim.make_context("simulate", ["cfg.yaml", "-o", "out", "-j", "2"])
    assert ctx.params["workers"] == 2 and ctx.params["workers_old"] is None


def test_profile_json_flag_out_path_and_the_old_json_path(cli, digit_clips, tmp_path):
    assert legacy_json_path(["a.wav", "--json", "p.json", "-q"]) == ["a.wav", "--json-path", "p.json", "-q"]
    assert legacy_json_path(["--json", "a.wav"]) == ["--json", "a.wav"]       # the flag, then an input
    assert legacy_json_path(["--json=x"]) == ["--json-path", "x"]
    base = ("profile", digit_clips, "--method", "kws", "-q")
    text = cli(*base, "-o", tmp_path / "new.json")
    assert text.returncode == 0, text.stderr
    numbers = json.loads((tmp_path / "new.json").read_text())
    as_json = cli(*base, "--json")
    assert json.loads(as_json.stdout) == numbers
    old = cli(*base, "--json", tmp_path / "old.json")
    assert old.returncode == 0 and old.stdout == text.stdout.replace("new.json", "old.json")
    assert json.loads((tmp_path / "old.json").read_text()) == numbers


# --- units: seconds in YAML as in flags ---------------------------------------------------------

def test_kws_hop_is_seconds_in_yaml_and_old_samples_still_load(tmp_path):
    from neuroaudio.errors import InputError
    from neuroaudio.kws.checkpoint import load_model
    from neuroaudio.kws.config import config_from_dict, load_config

    assert load_config(REPO / "pipelines" / "kws_drf.yaml").frontend.hop == 128          # hop_s: 0.016
    assert load_config(REPO / "pipelines" / "kws_drf_recipe.yaml").frontend.hop == 80    # hop_s: 0.01
    assert config_from_dict({"frontend": {"hop": 128}}).frontend.hop == 128              # old key, samples
    assert config_from_dict({"data": {"sample_rate_hz": 16000},
                             "frontend": {"hop_s": 0.01}}).frontend.hop == 160
    cfg = load_config(REPO / "pipelines" / "kws_drf.yaml", ["frontend.hop=64"])         # old key in --set
    assert cfg.frontend.hop == 64
    assert load_config(REPO / "pipelines" / "kws_drf.yaml", ["frontend.hop_s=0.004"]).frontend.hop == 32
    with pytest.raises(InputError, match="whole number of samples"):
        config_from_dict({"frontend": {"hop_s": 0.0123}})
    with pytest.raises(InputError, match="give only hop_s"):
        config_from_dict({"frontend": {"hop_s": 0.01, "hop": 80}})
    m = load_model(KWS_MODEL)     # a shipped checkpoint's stored config (hop in samples) still loads
    assert m.cfg.frontend.hop == 128 and m.frontend.hop_s == pytest.approx(0.016)


def test_evaluate_takes_method_options_with_set(cli, tmp_path):
    """`evaluate --set KEY=VALUE` gives every method the option, as `localize --set` does."""
    man = REPO / "data" / "examples" / "manifest.csv"
    args = ("evaluate", man, "-a", "respeaker4", "-m", "gcc-phat", "-q", "--no-plots")
    r = cli(*args, "-o", tmp_path / "ev", "--set", "fusion=tdoa", "--set", "fmin_hz=300")
    assert r.returncode == 0, r.stderr
    run = json.loads((tmp_path / "ev" / "run.json").read_text())
    assert run["config"]["options"] == {"fusion": "tdoa", "fmin_hz": 300}
    loc = json.loads(cli("localize", man.parent / "respeaker4_az120.wav", "-m", "gcc-phat", "--json",
                         "--set", "fusion=tdoa", "--set", "fmin_hz=300").stdout)
    pred = (tmp_path / "ev" / "predictions.csv").read_text().splitlines()[1].split(",")
    header = (tmp_path / "ev" / "predictions.csv").read_text().splitlines()[0].split(",")
    assert float(pred[header.index("pred_azimuth_deg")]) == pytest.approx(loc["azimuth_deg"], abs=0.05)
    bad = cli(*args, "-o", tmp_path / "ev2", "--set", "no_such_option=1")
    assert bad.returncode == 2 and "no_such_option" in bad.stderr
