"""The FSDD folder comes from the user (argument or NEUROAUDIO_FSDD), never from a path outside the repo."""

from __future__ import annotations

import pytest

from neuroaudio.cli import main
from neuroaudio.errors import InputError
from neuroaudio.fsdd import FSDD_ENV, fsdd_folder
from neuroaudio.kws.config import config_from_dict
from neuroaudio.kws.data import load_fsdd

from .conftest import REPO
from .test_kws import fake_fsdd


def test_folder_given_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(FSDD_ENV, str(tmp_path / "env"))
    assert fsdd_folder(tmp_path / "arg") == tmp_path / "arg"
    assert fsdd_folder("") == tmp_path / "env"
    monkeypatch.delenv(FSDD_ENV)
    assert fsdd_folder(None) is None


def test_kws_reads_fsdd_from_the_environment_and_says_how_to_get_it(tmp_path, monkeypatch):
    root = fake_fsdd(tmp_path / "rec", 2)
    monkeypatch.setenv(FSDD_ENV, str(root))
    sp = load_fsdd(config_from_dict({"data": {"source": "fsdd", "test_speakers": ["theo"]}}).data)
    assert len(sp.test) == 4 and {it.speaker for it in sp.test} == {"theo"}
    monkeypatch.delenv(FSDD_ENV)
    monkeypatch.chdir(tmp_path / "rec" / "..")          # no FSDD files in the working folder
    with pytest.raises(InputError, match="git clone https://github.com/Jakobovski/free-spoken-digit-dataset"):
        load_fsdd(config_from_dict({"data": {"source": "fsdd"}}).data)


def test_shipped_pipelines_point_at_no_data_outside_the_repo():
    for name in ("kws_drf.yaml", "kws_drf_recipe.yaml", "mpdal_digits.yaml"):
        assert "../" not in (REPO / "pipelines" / name).read_text(encoding="utf-8"), name


def test_mpdal_digits_without_a_folder_is_one_line_with_the_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(FSDD_ENV, raising=False)
    with pytest.raises(SystemExit) as e:
        main(["train", "mpdal", "--config", str(REPO / "pipelines" / "mpdal_digits.yaml"), "--out",
              str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1
    assert "--data DIR" in err[0] and FSDD_ENV in err[0]
