import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from neuroaudio.audio import FileBlockStream, StreamingResampler, parse_channels, read_audio
from neuroaudio.errors import InputError


@pytest.mark.parametrize("fs_in, fs_out", [(48000, 16000), (44100, 16000), (8000, 16000), (16000, 16000)])
def test_streaming_resampler_equals_whole_signal(rng, fs_in, fs_out):
    x = rng.standard_normal((7001, 2))
    r = StreamingResampler(fs_in, fs_out, 2)
    ref = resample_poly(x, r.up, r.down, axis=0)
    out, i = [], 0
    while i < len(x):
        b = int(rng.integers(1, 700))
        out.append(r.push(x[i:i + b]))
        i += b
    out.append(r.flush())
    y = np.concatenate(out)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_channel_selection_and_resampling(tmp_path, rng):
    x = (0.1 * rng.standard_normal((48000, 6))).astype(np.float32)
    p = tmp_path / "six.wav"
    sf.write(p, x, 48000, subtype="FLOAT")
    y, fs = read_audio(p, fs=16000, channels=parse_channels("2,3,4,5"), n_mics=4)
    assert fs == 16000 and y.shape == (16000, 4)
    ref = resample_poly(x[:, 1:5], 1, 3, axis=0)
    np.testing.assert_allclose(y, ref, atol=1e-5)
    # blocks of any size give the same signal
    s = FileBlockStream(p, fs=16000, channels=[1, 2, 3, 4], block_s=0.0137)
    np.testing.assert_allclose(np.concatenate(list(s)), y, atol=1e-6)


def test_bad_audio_is_refused(tmp_path):
    p = tmp_path / "nan.wav"
    x = np.zeros((1600, 4), np.float32)
    x[800, 2] = np.nan
    sf.write(p, x, 16000, subtype="FLOAT")
    with pytest.raises(InputError, match="NaN"):
        read_audio(p)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 4), np.float32), 16000)
    with pytest.raises(InputError, match="empty"):
        read_audio(empty)
    txt = tmp_path / "notes.wav"
    txt.write_text("hello")
    with pytest.raises(InputError, match="not a readable audio file"):
        read_audio(txt)
    with pytest.raises(InputError, match="no such file"):
        read_audio(tmp_path / "missing.wav")
    good = tmp_path / "two.wav"
    sf.write(good, np.zeros((1600, 2), np.float32), 16000)
    with pytest.raises(InputError, match="2 channels but the array has 4 mics"):
        read_audio(good, n_mics=4)
    with pytest.raises(InputError, match="shorter than"):
        read_audio(good, min_duration_s=0.5)
    with pytest.raises(InputError, match="asks for channel 5"):
        read_audio(good, channels=parse_channels("5"))
    with pytest.raises(InputError, match="1-based"):
        parse_channels("a,b")
