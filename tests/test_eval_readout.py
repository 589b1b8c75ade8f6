"""neuroaudio.eval.readout (used by experiments/maa_readout): its sub-degree read-outs and signed-error
correlation table give the numbers they promise on spectra with a known peak."""

import numpy as np
import pytest

from neuroaudio.angles import wrap_pm180
from neuroaudio.eval import readout


def gaussian_spectra(peaks_deg: np.ndarray, width_deg: float = 4.0) -> np.ndarray:
    """``[n, 360]`` circular Gaussians centred on ``peaks_deg`` (1° grid)."""
    grid = np.arange(360.0)
    d = wrap_pm180(grid[None, :] - np.asarray(peaks_deg)[:, None])
    return np.exp(-0.5 * (d / width_deg) ** 2)


@pytest.mark.parametrize("name", ["parab", "cent2", "cent4"])
def test_sub_degree_readouts_find_an_off_grid_peak(name):
    peaks = np.array([10.3, 359.6, 181.45, 0.0])
    est = readout.READOUTS[name](gaussian_spectra(peaks))
    assert np.max(np.abs(wrap_pm180(est - peaks))) < 0.1
    # the 1° argmax is off by up to half a bin on the same spectra
    argmax = readout.READOUTS["argmax"](gaussian_spectra(peaks))
    assert np.max(np.abs(wrap_pm180(argmax - peaks))) > 0.3


def test_correlation_table_reads_shared_errors():
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 3, 200)
    lines = readout.error_correlation_table({"a": shared + rng.normal(0, 0.3, 200), "b": shared,
                                              "c": rng.normal(0, 3, 200)})
    cells = {row.split(" | ")[0].strip("| "): [float(v) for v in row.strip(" |").split(" | ")[1:]]
             for row in lines[2:]}
    assert cells["a"][0] == pytest.approx(1.0)
    assert cells["a"][1] > 0.98 and abs(cells["a"][2]) < 0.2
