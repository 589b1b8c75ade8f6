"""pyroomacoustics' DOA algorithms as peer references, through the Localizer interface.

Each frame (0.17 s by default) is cut into STFT snapshots (``nfft``-point Hann windows, 50 %
overlap: the layout pyroomacoustics' own examples use), given to the algorithm's
``locate_sources`` with its default frequency range (:data:`PRA_FREQ_RANGE_HZ`, pyroomacoustics'
own default) and one source, and the algorithm's spatial spectrum on our azimuth grid
(``doa.grid.values``) becomes the frame's spectrum. Activity detection and pooling are the
shared ones of :class:`~neuroaudio.localize.base.Localizer`, so the comparison with our methods
differs only in the DOA algorithm.

These are references, not fast paths: pyroomacoustics loops over frames (one ``locate_sources``
per frame here) and, for SRP and TOPS, over grid directions in Python (pra-tops costs about
one second per frame). Measured on our scenes: all four meet 2 deg on free-field pure delays;
pra-tops misses a RT60 0.3-s room by 14 deg while the others stay within 5 (tests and
docs/localize.md).
"""

from __future__ import annotations

import numpy as np

from ..arrays import MicArray
from ..spectra import hann, stft_snapshots
from .base import Localizer

PRA_FREQ_RANGE_HZ = (500.0, 4000.0)
"""pyroomacoustics' default ``freq_range`` of ``locate_sources``."""


class PraDoa(Localizer):
    """Base of the pyroomacoustics wrappers; subclasses name the algorithm.

    Args:
        array: the microphone array.
        nfft: STFT snapshot length (samples); hop nfft/2.
        freq_range_hz: (low, high) band handed to ``locate_sources``.
        **options: frame, hop, grid and activity options of :class:`Localizer`.
    """

    algorithm: str = ""
    algo_options: dict = {}

    def __init__(self, array: MicArray | str, nfft: int = 512,
                 freq_range_hz: tuple[float, float] = PRA_FREQ_RANGE_HZ, **options):
        super().__init__(array, **options)
        import pyroomacoustics as pra

        from .. import SPEED_OF_SOUND_M_S

        self.nfft, self.freq_range = int(nfft), [float(freq_range_hz[0]), float(freq_range_hz[1])]
        self.window = hann(self.nfft)
        self.doa = pra.doa.algorithms[self.algorithm](
            self.array.mics_m.T.copy(), self.fs, self.nfft, c=SPEED_OF_SOUND_M_S, num_src=1,
            azimuth=np.deg2rad(self.grid_deg), dim=2, **self.algo_options)

    def frames_spectrum(self, frames: np.ndarray) -> np.ndarray:
        X = stft_snapshots(frames, self.nfft, self.nfft // 2, self.window)     # [n, S, F, M]
        X = np.transpose(X, (0, 3, 2, 1)).astype(np.complex128)                # [n, M, F, S]
        out = np.zeros((len(frames), len(self.grid_deg)))
        for k in range(len(frames)):                     # pyroomacoustics takes one frame at a time
            self.doa.locate_sources(X[k], num_src=1, freq_range=self.freq_range)
            out[k] = np.nan_to_num(np.real(self.doa.grid.values))
        return out


def _pra_method(cls_name: str, name: str, algorithm: str, summary: str) -> type[PraDoa]:
    """A :class:`PraDoa` subclass registered as ``name`` that runs pyroomacoustics' ``algorithm``."""
    return type(cls_name, (PraDoa,), {"name": name, "algorithm": algorithm, "summary": summary,
                                      "__doc__": f"{summary}.", "__module__": __name__,
                                      "__qualname__": cls_name})


PraSrp = _pra_method("PraSrp", "pra-srp", "SRP",
                     "pyroomacoustics SRP-PHAT (reference; 500-4000 Hz, 32-ms snapshots)")
PraMusic = _pra_method("PraMusic", "pra-music", "MUSIC",
                       "pyroomacoustics MUSIC (reference; 500-4000 Hz, 32-ms snapshots)")
PraNormMusic = _pra_method("PraNormMusic", "pra-normmusic", "NormMUSIC",
                           "pyroomacoustics NormMUSIC: MUSIC normalised per frequency (reference)")
PraTops = _pra_method("PraTops", "pra-tops", "TOPS",
                      "pyroomacoustics TOPS, test of orthogonality of projected subspaces (reference)")
