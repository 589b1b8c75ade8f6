"""Inference-only fast path of the MAA network and step-level reuse of the RF-PLC encoding.

Neither changes results (tests/test_maa_fast.py checks both against the plain code paths):

- :class:`FastMAA` wraps a trained :class:`~neuroaudio.maa.model.MAANet` (its own modules and
  weights, no copy, no change to model.py) and runs the same operations in the same order under
  ``torch.inference_mode`` with a forward-only LIF: ``S = (U ≥ V_th)``, ``H = τ·U`` where no spike
  and ``V_reset`` where one — bit-for-bit what ``lif_step`` computes (``V_reset·S + τ·U·(1 − S)``
  is ``τ·U`` exactly for ``S = 0`` and ``V_reset`` for ``S = 1``), without the autograd Function,
  the ``(1 − S)`` product and the ``torch.stack`` of the time steps; it runs batch-first, so
  no transposed copies are made. Max-pooling 2×2 (ceil mode) is the pairwise maxima of strided
  views, rows then columns, an odd last row/column kept as is (ceil mode pads with −∞, which
  never wins a max): the same values, 2.5× faster than ``max_pool2d`` on CPU. On its first batch
  it compares itself with the plain model and falls back to it (with a warning) if they differ,
  a guard against model.py changing under this mirror of its forward. Measured alternatives
  (docs/profile.md, *Speed*): folding BatchNorm into the convolutions (``torch.jit.freeze``)
  changes the rounding of the membrane input, so a spike exactly at threshold may flip: not used.
- :class:`StepReuse`: the encoder's time steps do not share neuron state (each step's silent
  stage starts from rest, docs/encoder.md), so a step's coincidence map depends only on its own
  samples. With the default hop of half a frame, each step belongs to two consecutive frames;
  the localizer encodes every distinct step once and assembles the frames from the step maps.
  Whether two frames overlap is checked on the samples themselves (``array_equal`` of the
  overlapping halves), so frames that are not consecutive (silent frames dropped in between)
  are simply encoded in full.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _lif_reset(u: torch.Tensor, fired: torch.Tensor, tau: float, v_reset: float) -> torch.Tensor:
    """``H = V_reset·S + τ·U·(1 − S)`` for a boolean ``S``: ``τ·U`` where no spike, ``V_reset`` where one."""
    h = (u * tau).mul_(~fired)
    return h.add_(v_reset * fired) if v_reset != 0.0 else h


def _lif_forward(x: torch.Tensor, tau: float, v_th: float, v_reset: float,
                 h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One LIF step without gradients: ``(S[t], H[t])`` equal to :func:`neuroaudio.neurons.lif.lif_step`."""
    u = x if h is None else h + x
    fired = torch.ge(u, v_th)
    return fired.to(x.dtype), _lif_reset(u, fired, tau, v_reset)


def _lif_seq(x: torch.Tensor, tau: float, v_th: float, v_reset: float) -> torch.Tensor:
    """LIF over the time axis 1 of ``x [B, T, ...]`` → spikes ``[B, T, ...]`` (membrane from rest)."""
    out = torch.empty_like(x)
    h = None
    for t in range(x.shape[1]):        # the T time steps (e.g. 4)
        u = x[:, t] if h is None else h + x[:, t]
        fired = torch.ge(u, v_th)
        out[:, t] = fired
        h = _lif_reset(u, fired, tau, v_reset)
    return out


def _max_pairs(s: torch.Tensor, dim: int) -> torch.Tensor:
    """Max of neighbouring pairs along ``dim`` (-1 or -2), ceil mode: an odd last element stays."""
    n = s.shape[dim]
    half = n // 2
    shape = list(s.shape)
    shape[dim] = (n + 1) // 2
    out = s.new_empty(shape)
    if dim == -2:
        torch.maximum(s[..., 0:2 * half:2, :], s[..., 1:2 * half:2, :], out=out[..., :half, :])
    else:
        torch.maximum(s[..., 0:2 * half:2], s[..., 1:2 * half:2], out=out[..., :half])
    if n % 2:
        out.narrow(dim, half, 1).copy_(s.narrow(dim, n - 1, 1))
    return out


def _pool2_binary(s: torch.Tensor) -> torch.Tensor:
    """2×2 max-pool with ceil mode of ``[N, C, H, W]`` (pairwise maxima of strided views; an odd
    last row/column is its own window's maximum, as ceil mode's padding never wins a max)."""
    return _max_pairs(_max_pairs(s, -2), -1)


class FastMAA(nn.Module):
    """Forward-only MAA: ``predict_proba(x [B, T, pairs, delays, bands])`` → ``[B, n_azimuth]``.

    Equal to ``net.predict_proba`` (same modules, same op order; see module docstring). The
    network's ``stats`` (firing rates) are not updated; with :attr:`record_rates` on, the fast
    path keeps its own in :attr:`rates` (the same layers and definitions as
    ``MAANet.stats.rates``, over the last batch), e.g. for the live view of ``neuroaudio serve``.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval()
        self.checked = False
        self.use_plain = False
        self.record_rates = False
        self.rates: dict[str, float] = {}

    def _self_check(self, x: torch.Tensor) -> None:
        """On the first batch, compare with the plain model; fall back to it if they differ.

        A guard against the model's code changing under this mirror of its forward: the check
        costs one plain forward per model, once.
        """
        self.checked = True
        with torch.no_grad():
            ref = self.net.predict_proba(x)
        got = torch.softmax(self._logits(x), dim=-1).mean(dim=0)
        if not torch.allclose(got, ref, rtol=1e-4, atol=1e-6):
            import logging

            logging.getLogger("neuroaudio").warning(
                "maa: the fast inference path disagrees with the model (max |diff| %.3g); using the "
                "plain model", float((got - ref).abs().max()))
            self.use_plain = True

    def _lif(self, sn: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return _lif_seq(x, sn.tau, sn.v_th, sn.v_reset)

    @torch.inference_mode()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, P, D, F]`` counts → logits ``[T, B, n_azimuth]`` (as ``MAANet.forward``)."""
        if not self.checked:
            self._self_check(x)
        if self.use_plain:
            out = self.net(x)
            self.rates = dict(self.net.stats.rates) if self.record_rates else {}
            return out
        return self._logits(x)

    @torch.inference_mode()
    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """The fast path of :meth:`logits`.

        Runs batch-first (``[B, T, ...]``, images ``B·T``) so no transposed copies are made; every
        operation is per image or element-wise, so the order of the images does not matter.
        """
        net = self.net
        if x.ndim != 5 or tuple(x.shape[2:]) != net.input_shape:
            net(x)                        # the model's own InputError for a wrong shape
        b, t = x.shape[:2]
        x = x.float().clamp_min(0)
        if getattr(net, "pool_in", None) is not None:                  # sum of neighbouring detectors
            from ..maa.model import sum_pool

            x = sum_pool(x, *net.pool_in)
        x = torch.log1p(x)                                             # [B, T, P, D, F]

        def images(z: torch.Tensor) -> torch.Tensor:                  # [B, T, ...] → [B·T, ...]
            return z.reshape(b * t, *z.shape[2:])

        def steps(z: torch.Tensor) -> torch.Tensor:                   # [B·T, ...] → [B, T, ...]
            return z.reshape(b, t, *z.shape[1:])

        rates: dict[str, float] = {}
        if net.fsja is not None:
            fa = net.fsja
            f_prof = steps(fa.bn_f(fa.conv_f(images(x.mean(dim=3)))))     # [B, T, P, F]
            d_prof = steps(fa.bn_d(fa.conv_d(images(x.mean(dim=4)))))     # [B, T, P, D]
            joint = d_prof.unsqueeze(-1) + f_prof.unsqueeze(-2)
            gate = self._lif(fa.sn, joint)
            if self.record_rates:
                rates["fsja"] = float(gate.mean())
            x = x * gate
        stm = net.stm
        inp = self._lif(stm.sn_in, steps(stm.conv_in(images(x))))
        if stm.memory:
            s = torch.empty_like(inp)
            st = torch.zeros_like(inp[:, 0])
            h = torch.zeros_like(inp[:, 0])
            for k in range(t):
                drive = stm.alpha * stm.conv_rec(st) + (1 - stm.alpha) * inp[:, k]
                st, h = _lif_forward(drive, stm.tau, stm.v_th, 0.0, h)
                s[:, k] = st
        else:
            s = inp
        if self.record_rates:
            rates["stm"] = float(s.mean())
        for i, blk in enumerate(net.blocks):
            sp = self._lif(blk.sn, steps(blk.conv(images(s))))
            s = steps(_pool2_binary(images(sp)))
            if self.record_rates:
                rates[f"block{i + 1}"] = float(s.mean())
        self.rates = rates
        return net.readout(net.dropout(s.transpose(0, 1).reshape(t, b, -1)))

    @torch.inference_mode()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax over the azimuth bins averaged over the T steps, ``[B, n_azimuth]``."""
        return torch.softmax(self.logits(x), dim=-1).mean(dim=0)


class StepReuse:
    """Encode audio frames through their distinct steps (see module docstring).

    Args:
        encoder: an :class:`~neuroaudio.encoding.encoder.RFPLCEncoder`.
        hop: the frame hop of the caller (samples); reuse needs a whole number of steps.
    """

    def __init__(self, encoder, hop: int):
        self.encoder = encoder
        self.t = encoder.config.steps
        self.step_len = encoder.step_len
        self.h = hop // self.step_len if hop % self.step_len == 0 and 0 < hop < encoder.frame_len else 0
        self.reset()

    def reset(self) -> None:
        """Forget the previous call's last frame (a new stream)."""
        self._last_audio: np.ndarray | None = None
        self._last_maps: np.ndarray | None = None

    def encode_frames(self, frames: np.ndarray) -> np.ndarray:
        """``[n, frame_len, mics]`` → ``[n, T, pairs, delays, bands]``, equal to ``encoder.encode_frames``."""
        n = len(frames)
        if self.h == 0 or n == 0:
            return self.encoder.encode_frames(frames)
        t, h, sl = self.t, self.h, self.step_len
        ov = (t - h) * sl                               # overlapping samples of consecutive frames
        prev = np.concatenate([self._last_audio[None], frames[:-1]]) if self._last_audio is not None \
            else None
        shared = np.zeros(n, bool)                      # frame i starts with frame i-1's last t-h steps
        if prev is not None:
            shared = np.all(prev[:, h * sl:] == frames[:, :ov], axis=(1, 2))
        else:
            shared[1:] = np.all(frames[:-1, h * sl:] == frames[1:, :ov], axis=(1, 2))
        # the steps to encode: all of a frame that shares nothing, the last h of one that does
        need = np.ones((n, t), bool)
        need[shared, : t - h] = False
        steps = frames.reshape(n, t, sl, frames.shape[2])[need]
        maps = self.encoder.encode_steps(steps).coincidence   # need holds >= h steps a frame
        out = np.empty((n, t, *maps.shape[1:]), maps.dtype)
        out[need] = maps
        for i in np.flatnonzero(shared):                # copy the shared steps, in frame order
            out[i, : t - h] = out[i - 1, h:] if i > 0 else self._last_maps[h:]
        self._last_audio = np.array(frames[-1])
        self._last_maps = out[-1].copy()
        return out
    def _map_shape(self, maps: np.ndarray | None) -> tuple[int, ...]:
        if maps is not None:
            return maps.shape[1:]
        return self._last_maps.shape[1:]
