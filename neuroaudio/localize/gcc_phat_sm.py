"""`gcc-phat-sm` and `gcc-phat-mlp`: GCC-PHAT features with (and without) a learned speech mask,
read by an MLP DOA classifier (Wang et al., ICRA 2021; docs/gcc_phat_sm.md).

Each analysis frame is cut into 32-ms STFT snapshots; the mask network turns the frame's
log-spectrogram into a time-frequency mask ``M`` in [0, 1] that keeps bins dominated by speech
(its harmonics) and drops noise; the PHAT cross-spectra of every mic pair, weighted by ``M``, are
evaluated at a grid of sub-sample lags over each pair's physical delay range; an MLP maps those
``pairs × lags`` features to a 360-bin posterior — the frame's spatial spectrum. ``gcc-phat-mlp``
is the same classifier trained on unmasked features (the ablation). The Localizer base class
detects active frames and pools their posteriors for the file estimate.

Checkpoints (``neuroaudio train gcc-phat-sm``) are loaded with ``weights_only=True``; one trained
for another array (mic positions more than 1 mm apart, :meth:`MicArray.same_geometry`), another
sample rate, or the other method (with vs without mask) is refused with an :class:`InputError`.
Any frame of at least one STFT snapshot works (the features are normalised by the mask's sum); the
default is the checkpoint's training frame (0.17 s).

Pooling option ``pool_weight`` (per frame, applied to its normalised posterior before the base
class sums them): ``"none"`` (every active frame counts the same), ``"mask"`` (the frame's mean
mask: frames the mask finds more speech in count more), ``"peak"`` (the posterior's peak
probability). docs/gcc_phat_sm.md measures them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError
from ..gcc_phat_sm.checkpoint import SHIPPED_MODEL
from .base import LocalizationResult, Localizer

_MODELS = Path(__file__).resolve().parents[2] / "data" / "models"
POOL_WEIGHTS = ("none", "mask", "peak")


class GccPhatSM(Localizer):
    """GCC-PHAT with a learned speech mask and an MLP DOA classifier.

    Args:
        array: the input's microphone array (must match the checkpoint's geometry within 1 mm).
        model: checkpoint path (``--model``); default :data:`DEFAULT_MODEL` of the module.
        fs: the input's rate (must equal the checkpoint's).
        frame_s: analysis frame (s); default the checkpoint's (0.17 s).
        hop_s: hop (s); default half the frame.
        pool_weight: ``none`` | ``mask`` | ``peak`` (module docstring).
        symmetric: average the posterior over the array's symmetric scenes (the 8 symmetries of
            the ReSpeaker square: the features are permuted, the mask is computed once).
        batch_frames: frames per network call (bounds memory).
        **kwargs: activity and pooling options of :class:`Localizer`.
    """

    name: ClassVar[str] = "gcc-phat-sm"
    summary: ClassVar[str] = ("GCC-PHAT-SM: learned speech mask on the PHAT cross-spectra, sub-sample lag "
                              "features of all pairs, MLP → 360 bins (shipped respeaker4 model)")
    uses_mask: ClassVar[bool] = True
    default_model: ClassVar[Path] = SHIPPED_MODEL

    def __init__(self, array: Any, model: str | Path | None = None, fs: int | None = None,
                 frame_s: float | None = None, hop_s: float | None = None, pool_weight: str = "none",
                 symmetric: bool = True, batch_frames: int = 128, **kwargs: Any):
        import torch

        from ..gcc_phat_sm.checkpoint import HINT, build_model, checkpoint_array, read
        from ..train.checkpoint import check_model_input, checkpoint_contents

        path = Path(model) if model else self.default_model
        ck = read(path)
        with checkpoint_contents(path, HINT):
            ck_array, fs_ck = checkpoint_array(ck), int(ck["sample_rate_hz"])
            has_mask = bool(ck["model"].get("use_mask", True))
            net, front = build_model(ck)
        arr_in, fs_ck = check_model_input(path, ck_array, fs_ck, array, fs)
        if has_mask != self.uses_mask:
            other = "gcc-phat-sm" if has_mask else "gcc-phat-mlp"
            raise InputError(f"model '{path}' is a {other} model ({'with' if has_mask else 'without'} "
                             f"a mask): use --method {other}, or give a {self.name} model")
        if pool_weight not in POOL_WEIGHTS:
            raise InputError(f"pool_weight={pool_weight!r}: choose one of {', '.join(POOL_WEIGHTS)}")
        if pool_weight == "mask" and not self.uses_mask:
            raise InputError("pool_weight='mask' needs a mask: use 'none' or 'peak' with gcc-phat-mlp")
        self.net, self.front = net, front
        frame = float(self.front.cfg.frame_s if frame_s is None else frame_s)
        if frame * fs_ck < self.front.cfg.nfft:
            raise InputError(f"frame_s={frame:g} s is shorter than the model's {self.front.cfg.nfft}-"
                             f"sample STFT ({self.front.cfg.nfft / fs_ck:g} s): give a longer --frame-s")
        super().__init__(arr_in, fs=fs_ck, frame_s=frame, hop_s=frame / 2 if hop_s is None else hop_s,
                         **kwargs)
        if self.net.cfg.n_azimuth != len(self.grid_deg):
            raise InputError(f"model '{path}' has {self.net.cfg.n_azimuth} azimuth bins; use "
                             f"grid_step_deg={360 / self.net.cfg.n_azimuth:g}")
        self.model_path = str(path)
        self.meta = {k: ck.get(k) for k in ("code_revision", "metrics", "epoch")}
        self.pool_weight = pool_weight
        self.symmetric = bool(symmetric)
        self.batch_frames = max(1, int(batch_frames))
        self._torch = torch
        self._weights: np.ndarray | None = None
        self._stash: list[tuple[np.ndarray, np.ndarray]] = []

    # --- the method ---------------------------------------------------------------------------
    def analyse(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Frames ``[n, frame_len, mics]`` → ``(posterior [n, 360], mask [n, S, K] or None,
        logpow [n, S, K])``."""
        torch = self._torch
        post, masks, lps = [], [], []
        with torch.no_grad():
            for s in range(0, len(frames), self.batch_frames):
                lp, cr, ci = self.front.analyse(frames[s:s + self.batch_frames])
                p, m = self.net.predict_proba(*(torch.from_numpy(a) for a in (lp, cr, ci)),
                                              symmetric=self.symmetric)
                post.append(p.numpy().astype(np.float64))
                lps.append(lp)
                if m is not None:
                    masks.append(m.numpy())
        if not post:
            k = len(self.front.bins)
            return np.zeros((0, len(self.grid_deg))), None, np.zeros((0, 0, k), np.float32)
        return (np.concatenate(post), np.concatenate(masks) if masks else None, np.concatenate(lps))

    def frames_spectrum(self, frames: np.ndarray) -> np.ndarray:
        """``[n, frame_len, mics]`` → posterior ``[n, 360]``."""
        post, mask, lp = self.analyse(np.asarray(frames, dtype=np.float32))
        if self.pool_weight == "mask" and mask is not None:
            self._weights = mask.mean(axis=(1, 2))
        elif self.pool_weight == "peak":
            self._weights = post.max(axis=1)
        else:
            self._weights = None
        if self.keep_frame_spectra:
            self._stash.append((lp, mask if mask is not None else np.ones_like(lp)))
        return post

    def normalise(self, spectra: np.ndarray) -> np.ndarray:
        """Base normalisation, then the frame weights of ``pool_weight`` (called right after
        :meth:`frames_spectrum` on the same frames)."""
        s = super().normalise(spectra)
        w, self._weights = self._weights, None
        if w is not None and len(w) == len(s):
            s = s * (w / max(float(np.mean(w)), 1e-12))[:, None]
        return s

    # --- keeping the masks for --plot -----------------------------------------------------------
    def reset_method_state(self) -> None:
        self._stash = []
        self._tf: list[tuple[float, np.ndarray, np.ndarray]] = []

    def process(self, block: np.ndarray):
        out = super().process(block)
        if self.keep_frame_spectra and self._stash:
            lp = np.concatenate([a for a, _ in self._stash])
            mk = np.concatenate([b for _, b in self._stash])
            heard = [f for f in out if f.spectrum is not None]
            self._tf.extend((f.t_s, lp[k], mk[k]) for k, f in enumerate(heard[:len(lp)]))
            self._stash = []
        return out

    def finish(self) -> LocalizationResult:
        res = super().finish()
        if self.keep_frame_spectra and self._tf:
            res.extra["plot_panels"] = [self._mask_panel()]
        return res

    def _mask_panel(self):
        """A callable drawing the spectrogram with the learned mask over it on a matplotlib axis."""
        cfg, fs = self.front.cfg, self.fs
        snap_s = cfg.hop / fs
        per_frame = max(1, int(np.ceil(self.hop / cfg.hop)))       # snapshots that tile one hop
        t_first = self._tf[0][0] - self.frame_len / 2 / fs
        t_last = self._tf[-1][0] + self.frame_len / 2 / fs
        n_cols = int(np.ceil((t_last - t_first) / snap_s)) + 1
        k = len(self.front.bins)
        spec = np.full((k, n_cols), np.nan, np.float32)
        mask = np.full((k, n_cols), np.nan, np.float32)
        for t, lp, mk in self._tf:
            start = t - self.frame_len / 2 / fs
            for s in range(min(per_frame + 1, len(lp))):   # one extra: no rounding gaps
                c = int(round((start + s * snap_s - t_first) / snap_s))
                if 0 <= c < n_cols:
                    spec[:, c], mask[:, c] = 10 * lp[s], mk[s]
        f = self.front.freqs_hz
        extent = (t_first, t_first + n_cols * snap_s, f[0], f[-1])
        title = "learned mask over the spectrogram" if self.uses_mask else "spectrogram (no mask)"

        def draw(ax) -> None:
            import matplotlib.colors as mcolors

            lo = np.nanpercentile(spec, 5) if np.isfinite(spec).any() else -100
            ax.imshow(spec, origin="lower", aspect="auto", cmap="gray_r", extent=extent,
                      vmin=lo, vmax=np.nanmax(spec) if np.isfinite(spec).any() else 0)
            rgba = np.zeros((*mask.shape, 4), np.float32)
            rgba[..., :3] = mcolors.to_rgb("tab:orange")
            rgba[..., 3] = np.nan_to_num(mask) * 0.75
            ax.imshow(rgba, origin="lower", aspect="auto", extent=extent)
            ax.set_xlabel("time (s)")
            ax.set_ylabel("frequency (Hz)")
            ax.set_title(f"{title} (orange = mask)", fontsize=10)

        return draw


class GccPhatMLP(GccPhatSM):
    """The same MLP classifier on plain (unmasked) GCC-PHAT features: the ablation of the mask."""

    name: ClassVar[str] = "gcc-phat-mlp"
    summary: ClassVar[str] = ("GCC-PHAT sub-sample lag features of all pairs → MLP → 360 bins, no mask "
                              "(ablation of gcc-phat-sm; shipped respeaker4 model)")
    uses_mask: ClassVar[bool] = False
    default_model: ClassVar[Path] = _MODELS / "gcc_phat_mlp_respeaker4.pt"


DEFAULT_MODEL: Path = GccPhatSM.default_model
"""The shipped gcc-phat-sm model (respeaker4, 16 kHz); data/models/gcc_phat_sm_respeaker4.md."""
DEFAULT_MODEL_MLP: Path = GccPhatMLP.default_model
"""The shipped gcc-phat-mlp model; data/models/gcc_phat_mlp_respeaker4.md."""
