import json

import numpy as np
import pytest

from neuroaudio import SPEED_OF_SOUND_M_S
from neuroaudio.arrays import MicArray, builtin_array_names, load_array
from neuroaudio.errors import InputError

from .conftest import run_cli


def test_builtins_load_and_have_documented_geometry():
    assert set(builtin_array_names()) >= {"respeaker4", "respeaker6", "uma8", "linear4", "binaural"}
    r4 = load_array("respeaker4")
    assert r4.n_mics == 4 and len(r4.pairs()) == 6
    np.testing.assert_allclose(np.linalg.norm(r4.mics_m, axis=1), 0.032)
    assert r4.aperture_m == pytest.approx(0.064)
    # largest delay ≈ 3 samples at 16 kHz (methods.md)
    assert r4.max_delay_s().max() * 16000 == pytest.approx(0.064 / SPEED_OF_SOUND_M_S * 16000)
    assert load_array("uma8").n_mics == 7
    np.testing.assert_allclose(np.linalg.norm(load_array("respeaker6").mics_m, axis=1), 0.0463, rtol=1e-5)
    assert load_array("binaural").aperture_m == pytest.approx(0.18)
    assert load_array("linear4").is_linear and not r4.is_linear


def test_tdoa_sign_convention():
    r4 = load_array("respeaker4")
    # source at azimuth 0 (+x): mic 0 at +x hears it first, so tau_02 = t_2 - t_0 > 0
    tau = r4.tdoa_s(0.0)
    pairs = [tuple(p) for p in r4.pairs()]
    assert tau[pairs.index((0, 2))] == pytest.approx(0.064 / SPEED_OF_SOUND_M_S)
    assert tau[pairs.index((1, 3))] == pytest.approx(0.0, abs=1e-12)
    # 90 deg (+y): mic 1 first
    assert r4.tdoa_s(90.0)[pairs.index((1, 3))] == pytest.approx(0.064 / SPEED_OF_SOUND_M_S)


def test_json_round_trip_keeps_unknown_keys(tmp_path):
    d = {"name": "mine", "mics_m": [[0.05, 0, 0], [-0.05, 0, 0]], "owner": "lab"}
    p = tmp_path / "mine.json"
    p.write_text(json.dumps(d))
    a = load_array(p)
    assert a.name == "mine" and a.sample_rate_hz is None and a.extra == {"owner": "lab"}
    assert a.to_dict()["owner"] == "lab"
    assert a.same_geometry(MicArray("x", a.mics_m + 0.0009))
    assert not a.same_geometry(MicArray("x", a.mics_m + 0.002))


@pytest.mark.parametrize("content, message", [
    pytest.param('{"name": "x"}', "missing 'mics_m'", id="no-mics"),
    pytest.param('{"mics_m": [[0, 0, 0]]}', "at least 2 mics", id="one-mic"),
    pytest.param('{"mics_m": [[0, 0], [1, 0]]}', "at least 2 mics", id="2-d-positions"),
    pytest.param('{"mics_m": [[0, 0, 0], [0, 0, 0]]}', "share one position", id="same-position"),
    pytest.param('{"mics_m": [[30, 0, 0], [0, 0, 0]]}', "metres", id="30-m-apart"),
    pytest.param('not json', "cannot read array file", id="not-json"),
])
def test_bad_geometry_is_refused(tmp_path, content, message):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(InputError, match=message):
        load_array(p)


def test_cli_arrays(tmp_path):
    r = run_cli("arrays")
    assert r.returncode == 0 and "respeaker4" in r.stdout
    r = run_cli("arrays", "show", "respeaker4", "--json", "--plot", tmp_path / "l.png")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert max(d["max_delay_samples"]) == pytest.approx(2.985, abs=0.01)
    assert (tmp_path / "l.png").stat().st_size > 1000
    r = run_cli("arrays", "show", "nosuch")
    assert r.returncode == 2 and "unknown array 'nosuch'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
