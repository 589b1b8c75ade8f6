"""neuroaudio.angles: wrapping and circular error in degrees, numpy and torch alike."""

import numpy as np
import pytest
import torch

from neuroaudio.angles import circular_error_deg, circular_error_deg_torch, wrap_deg, wrap_pm180
from neuroaudio.eval.metrics import prediction_error


def test_wrap_deg_into_0_360():
    assert wrap_deg(-90.0) == 270.0 and type(wrap_deg(-90.0)) is float
    assert wrap_deg(720.5) == 0.5
    assert wrap_deg(360) == 0.0
    out = wrap_deg(np.array([-720.0, -0.5, 0.0, 359.5, 360.0, 725.0]))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [0.0, 359.5, 0.0, 359.5, 0.0, 5.0])


def test_wrap_pm180_into_minus180_180():
    np.testing.assert_array_equal(wrap_pm180([190.0, -190.0, 359.0, 0.0, 180.0, -180.0]),
                                  [-170.0, 170.0, -1.0, 0.0, -180.0, -180.0])
    assert float(wrap_pm180(350.0)) == -10.0


@pytest.mark.parametrize("a, b, err", [(359.0, 1.0, 2.0), (1.0, 359.0, 2.0), (0.0, 180.0, 180.0),
                                       (10.0, 730.0, 0.0), (-30.0, 30.0, 60.0), (90.0, 271.0, 179.0),
                                       (45.5, 45.5, 0.0)])
def test_circular_error_numpy_torch_and_eval_agree(a, b, err):
    assert float(circular_error_deg(a, b)) == pytest.approx(err, abs=1e-12)
    t = circular_error_deg_torch(torch.tensor([a], dtype=torch.float64),
                                 torch.tensor([b], dtype=torch.float64))
    assert float(t[0]) == pytest.approx(err, abs=1e-12)
    assert prediction_error(a, b) == pytest.approx(err, abs=1e-12)


def test_circular_error_broadcasts_and_stays_in_0_180():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-720, 720, 1000), rng.uniform(-720, 720, 1000)
    e = circular_error_deg(a, b)
    assert e.shape == (1000,) and e.min() >= 0 and e.max() <= 180
    # the circular error is the smallest rotation: |wrap_pm180(a - b)| (up to rounding)
    np.testing.assert_allclose(e, np.abs(wrap_pm180(a - b)), atol=1e-9)
    grid = circular_error_deg(np.arange(0, 360, 90.0)[:, None], np.array([0.0, 350.0])[None, :])
    np.testing.assert_array_equal(grid, [[0, 10], [90, 100], [180, 170], [90, 80]])
    et = circular_error_deg_torch(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(et, e, atol=1e-9)
