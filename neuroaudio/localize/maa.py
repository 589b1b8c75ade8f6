"""`maa`: the trained MAA spiking network on RF-PLC coincidence frames (Zhang et al., NeurIPS 2024).

Each analysis frame (the checkpoint's frame length; 170 ms by default) is encoded by the RF-PLC
encoder with the checkpoint's encoder settings, the network runs its T steps, and the frame's
spatial spectrum is the softmax over the 360 one-degree bins averaged over the T steps. The
Localizer base class pools the spectra of the frames that carry the source for the file estimate.

The checkpoint is loaded with ``weights_only=True`` (no code runs from the file). A checkpoint
trained for another array (mic positions differing by more than 1 mm, :meth:`MicArray.same_geometry`)
or another sample rate is refused with an :class:`InputError`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError
from .base import Localizer, SpikeActivity

DEFAULT_MODEL: Path | None = Path(__file__).resolve().parents[2] / "data" / "models" / "maa_respeaker4.pt"
"""The shipped default model (respeaker4, 16 kHz; model card data/models/maa_respeaker4.md), used
when no ``--model`` is given."""


SYMMETRIC_DEFAULT: bool | int = False
"""Default of ``symmetric`` (posterior averaged over all the array's symmetric scenes; docs/maa.md)."""


def _symmetry_count(symmetric: bool | int, available: int) -> int:
    """``symmetric`` option → how many symmetries to average over (1 = none)."""
    if isinstance(symmetric, bool):
        return available if symmetric else 1
    if isinstance(symmetric, int | np.integer) and 1 <= int(symmetric) <= available:
        return int(symmetric)
    raise InputError(f"maa: symmetric={symmetric!r}: give true, false or a count 1..{available} of the "
                     "array's symmetries to average over")


class MAALocalizer(Localizer):
    """MAA spiking network read-out.

    Args:
        array: the input's microphone array (must match the checkpoint's geometry within 1 mm).
        model: path of a checkpoint from ``neuroaudio train maa`` (``--model``).
        fs: the input's rate (must equal the checkpoint's).
        frame_s: ignored when it differs from the checkpoint's frame (the network only knows the
            frame it was trained on; a warning is logged). hop_s, ...: see :class:`Localizer`
            (hop default: half the checkpoint's frame).
        batch_frames: frames per network call (bounds memory; 32 ran fastest on one core, 2.95 vs
            3.55 ms a frame at 64: docs/profile.md).
        fast: encode each step once and run the forward-only network (:mod:`neuroaudio.maa.fast`; the same
            results, about 1.5x faster); False runs the plain encoder and model (for comparison).
        symmetric: average each frame's posterior over the array's symmetric scenes
            (:mod:`neuroaudio.maa.augment`: the coincidence frame is permuted, the network runs once
            per scene, each posterior is mapped back; the encoding is done once). ``True``: all of
            them (8 on the ReSpeaker square), ``False`` or 1: none, an integer ``k``: the first
            ``k`` (identity, then the rotations, then the mirrors: 4 = the rotations). Costs one
            network pass per symmetry (RTF measured in docs/maa.md).
    """

    name: ClassVar[str] = "maa"
    summary: ClassVar[str] = ("MAA spiking network (FSJA attention + short-term memory, LIF) on RF-PLC "
                              "spikes; needs a trained checkpoint (-o model=PATH)")

    def __init__(self, array: Any, model: str | Path | None = None, fs: int | None = None,
                 frame_s: float | None = None, hop_s: float | None = None, batch_frames: int = 32,
                 fast: bool = True, symmetric: bool | int = SYMMETRIC_DEFAULT, **kwargs: Any):
        import torch

        from ..encoding.encoder import RFPLCEncoder
        from ..maa.augment import FrameSymmetries
        from ..maa.checkpoint import HINT, build_model, checkpoint_array, checkpoint_encoder, read
        from ..maa.fast import FastMAA, StepReuse
        from ..train.checkpoint import check_model_input, checkpoint_contents

        path = model or DEFAULT_MODEL
        if path is None:
            raise InputError("method 'maa' needs a trained model: give --model PATH, a checkpoint from "
                             "`neuroaudio train maa`")
        ck = read(path)
        with checkpoint_contents(path, HINT):
            ck_array, fs_ck = checkpoint_array(ck), int(ck["sample_rate_hz"])
            enc_cfg = checkpoint_encoder(ck)
            net = build_model(ck)
        arr_in, fs_ck = check_model_input(path, ck_array, fs_ck, array, fs)
        frame_ck = enc_cfg.frame_samples(fs_ck) / fs_ck
        if frame_s is not None and abs(frame_s - frame_ck) * fs_ck >= 1:
            logging.getLogger("neuroaudio").warning(
                "maa: frame %.4g s ignored; the model %s works on %.4g-s frames", frame_s, path, frame_ck)
        hop = frame_ck / 2 if hop_s is None else hop_s
        super().__init__(arr_in, fs=fs_ck, frame_s=frame_ck, hop_s=hop, **kwargs)
        self.encoder = RFPLCEncoder(self.array, enc_cfg, self.fs)
        self.net = net
        self.fast_net = FastMAA(self.net)                      # same outputs, forward-only (maa.fast)
        self.step_reuse = StepReuse(self.encoder, self.hop)    # each step encoded once (maa.fast)
        self.fast = bool(fast)
        self.model_path = str(path)
        self.meta = {k: ck.get(k) for k in ("code_revision", "metrics", "epoch")}
        self.batch_frames = max(1, int(batch_frames))
        if self.net.cfg.n_azimuth != len(self.grid_deg):
            raise InputError(f"model '{path}' has {self.net.cfg.n_azimuth} azimuth bins; use grid_step_deg="
                             f"{360 / self.net.cfg.n_azimuth:g}")
        self.symmetries = FrameSymmetries(self.encoder, self.net.cfg.n_azimuth)
        self.n_symmetric = _symmetry_count(symmetric, len(self.symmetries))
        self._torch = torch

    def reset_method_state(self) -> None:
        """A new stream: forget the last frame's step maps kept for reuse."""
        if hasattr(self, "step_reuse"):
            self.step_reuse.reset()

    def frames_spectrum(self, frames: np.ndarray) -> np.ndarray:
        """``[n, frame_len, mics]`` → time-averaged softmax ``[n, 360]``.

        Speed (docs/profile.md): steps shared by overlapping frames are encoded once
        (:class:`~neuroaudio.maa.fast.StepReuse`) and the network runs its forward-only path
        (:class:`~neuroaudio.maa.fast.FastMAA`); both give the plain path's results (tests/test_maa_fast.py).
        """
        torch = self._torch
        frames = np.asarray(frames, dtype=np.float32)
        coinc = self.step_reuse.encode_frames(frames) if self.fast else self.encoder.encode_frames(frames)
        predict = self.fast_net.predict_proba if self.fast else self.net.predict_proba
        out = []
        self.fast_net.record_rates = self.record_activity
        with torch.no_grad():
            for s in range(0, len(coinc), self.batch_frames):
                x = torch.from_numpy(np.minimum(coinc[s:s + self.batch_frames], 255).astype(np.uint8))
                p = self.symmetries.average(predict, x, self.n_symmetric) if self.n_symmetric > 1 \
                    else predict(x)
                out.append(p.numpy().astype(np.float64))
        if self.record_activity and len(coinc):    # the last batch's layer rates, the last frame's raster
            rates = self.fast_net.rates if self.fast else dict(self.net.stats.rates)
            self.last_activity = SpikeActivity.of_coincidence(coinc[-1], rates)
        return np.concatenate(out) if out else np.zeros((0, len(self.grid_deg)))
