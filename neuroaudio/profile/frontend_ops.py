"""Operations of what runs before the spiking network: the RF-PLC encoder (MAA) and the log-mel
front-end (KWS), counted with the same per-op energies as the network (:mod:`neuroaudio.energy`:
an accumulate ``E_AC_PJ`` = 0.9 pJ, a multiply-accumulate ``E_MAC_PJ`` = 4.6 pJ).

The network's counter (:class:`~neuroaudio.energy.OpCounter`) sees weight layers only; this module
counts the stages in front of it from their sizes and from what they emitted, so ``neuroaudio
profile`` reports the network, the front end and their sum.

**RF-PLC encoder** (:mod:`neuroaudio.encoding`; per time step of ``L`` samples, ``M`` mics, ``K'``
neurons in a band, ``D`` detectors per pair; counted as the neuron model runs, not as our FFT
shortcut computes it):

- *resonators, silent stage*: every in-band neuron of every mic integrates the step from rest,
  ``z[t] = p·z[t−1] + I[t]``: a complex multiply (4 MACs, the convention of the D-RF and BRF
  neurons in :mod:`neuroaudio.neurons`) and the input added to ``Re z`` (1 AC) per sample:
  ``4·L·K'·M`` MACs and ``L·K'·M`` ACs. (Our implementation gets the same states from one FFT per
  mic and step, ~135x fewer MACs at 512 neurons; a DSP shortcut, not the neuron model.)
- *activity*: each in-band neuron's energy ``|z|²`` (2 MACs) summed into its band (1 AC):
  ``2·K'·M`` MACs, ``K'·M`` ACs. Comparisons and the per-band dB (B per mic) are not counted.
- *resonators, spike stage*: a neuron let through by the activity rule oscillates freely for the
  spike stage (``L`` samples, no input) and fires on each crossing of the locked phase: 4 MACs a
  sample (the rotation; the crossing test is a comparison, not counted), ``4·L`` per active
  neuron. Neurons the rule keeps silent are not run (they restart from rest next step).
- *coincidence detectors*: the SOP convention, each spike costs one AC per synapse it reaches.
  A spike of mic ``m``'s neuron ``k`` enters the ``D`` detectors of neuron ``k`` of every pair
  that contains ``m`` (a Jeffress delay line; the delays themselves are not counted, as a NIR
  ``Delay``): ``Σ_m spikes_m · pairs_m · D`` ACs. Also reported: the same with each active
  neuron's *first* spike only (``acs_first_spike``; what a one-spike-per-step code would cost —
  the detectors count a neuron once per step anyway).
- *band maps*: each coincidence adds one to its (pair, delay, band) count: ``Σ counts`` ACs.

**Network input of MAA** (inside ``MAANet.forward``, before its first layer): the sum of
neighbouring detectors (``input_pool``; one AC per input element beyond the first of its window)
and ``log1p`` (1 MAC per element: a table look-up plus one interpolation).

**Log-mel front-end** (:class:`neuroaudio.kws.frontend.Frontend`; per frame of ``N = n_fft``
samples, ``N/2 + 1`` bins, ``n_mels`` filters, per clip of ``n_frames`` frames):

- Hann window: ``N`` MACs;
- real FFT: radix-2, as an ``N/2``-point complex FFT plus the split of the real spectrum,
  ``(N/4)·log2 N`` butterflies of one complex multiply (4 MACs) and two complex additions
  (4 ACs): ``N·log2 N`` MACs and ``N·log2 N`` ACs;
- power ``re² + im²``: 2 MACs per bin;
- mel filterbank: ``n_mels × bins`` MACs, dense as it runs (a matrix product; the triangles'
  non-zero weights alone are far fewer: ``mel_nonzero_macs``);
- natural log: 1 MAC per mel value (look-up + interpolation);
- clip normalisation (per clip, all ``n_mels × n_frames`` values ``E``): minus the clip maximum
  (``E`` ACs; the maximum and the floor are comparisons); with ``cmn`` the masked channel sums
  (``E`` ACs), a division per channel (``n_mels`` MACs) and the subtraction (``E`` ACs); with
  ``cvn`` the squares (``E`` MACs), their sums (``E`` ACs), a square root and division per channel
  (``2·n_mels`` MACs) and the scaling (``E`` MACs); with ``mvn`` the mean (``E`` ACs), variance
  (``E`` MACs), ``E`` ACs + ``E`` MACs to apply; otherwise the scaling by 1/10 (``E`` MACs).

Not counted anywhere: reading and resampling the file, the host's framing and activity gate
(the same for every method), comparisons, and the delays of delay lines.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..energy import E_AC_PJ, E_MAC_PJ, Report, energy_pj


@dataclass
class StageOps:
    """Operations of one front-end stage, summed over everything counted.

    Attributes:
        name: stage (``encoder.silent_stage`` …, ``frontend.fft`` …).
        acs: accumulates. macs: multiply-accumulates.
        events: what the stage emitted or processed, where it helps (spikes, coincidences).
    """

    name: str
    acs: float = 0.0
    macs: float = 0.0
    events: float = 0.0

    def add(self, acs: float = 0.0, macs: float = 0.0, events: float = 0.0) -> None:
        self.acs += acs
        self.macs += macs
        self.events += events


class StageCounter:
    """Ordered ``{stage: StageOps}`` plus named totals (spikes, …), divided per item on report."""

    def __init__(self, title: str):
        self.title = title
        self.stages: dict[str, StageOps] = {}
        self.extra: dict[str, float] = {}

    def add(self, name: str, acs: float = 0.0, macs: float = 0.0, events: float = 0.0) -> None:
        self.stages.setdefault(name, StageOps(name)).add(acs, macs, events)

    def add_extra(self, key: str, value: float) -> None:
        self.extra[key] = self.extra.get(key, 0.0) + float(value)

    def report(self, n_items: int) -> dict[str, Any]:
        """Per-item rows and totals: ``{"title", "stages": [...], "acs", "macs", "energy_pj", **extra}``."""
        n = max(int(n_items), 1)
        rows = [{**asdict(s), "acs": s.acs / n, "macs": s.macs / n, "events": s.events / n,
                 "energy_pj": energy_pj(s.acs, s.macs) / n} for s in self.stages.values()]
        acs = sum(r["acs"] for r in rows)
        macs = sum(r["macs"] for r in rows)
        return {"title": self.title, "stages": rows, "acs": acs, "macs": macs,
                "energy_pj": energy_pj(acs, macs), **{k: v / n for k, v in self.extra.items()}}


# ---- RF-PLC encoder ----------------------------------------------------------------------------

def pairs_per_mic(pairs: np.ndarray, n_mics: int) -> np.ndarray:
    """``[mics]``: how many of the pairs ``[pairs, 2]`` each mic belongs to."""
    return np.bincount(np.asarray(pairs).reshape(-1), minlength=n_mics)


def count_rfplc_steps(counter: StageCounter, encoder: Any, out: Any) -> None:
    """Add the operations of one batch of encoded steps (module docstring).

    Args:
        counter: where to add them.
        encoder: the :class:`~neuroaudio.encoding.encoder.RFPLCEncoder` that encoded them.
        out: its :class:`~neuroaudio.encoding.encoder.StepOutput` (``spike_offset``/``n_spikes``
            ``[steps, mics, neurons]``, NaN offset = silent; ``coincidence [steps, pairs, delays,
            bands]``). With ``locking="band"`` the spike arrays are per band, not per neuron.
    """
    steps, mics = out.n_spikes.shape[:2]
    if steps == 0:
        return
    c = encoder.config
    length = encoder.step_len
    k_in = int((encoder.neuron_band >= 0).sum())
    n_del = len(encoder.delays_samples)
    per_mic = pairs_per_mic(encoder.pairs, mics)                           # [M]
    counter.add("encoder.silent_stage", acs=length * k_in * mics * steps,
                macs=4 * length * k_in * mics * steps)
    counter.add("encoder.activity", acs=k_in * mics * steps, macs=2 * k_in * mics * steps)
    if c.locking == "band":            # band-summed states: a complex add per in-band neuron
        counter.add("encoder.band_sum", acs=2 * k_in * mics * steps)
    active = np.isfinite(out.spike_offset)                                  # [S, M, K]
    n_active = int(active.sum())
    counter.add("encoder.spike_stage", macs=4 * length * n_active, events=n_active)
    spikes_mic = out.n_spikes.sum(axis=(0, 2)).astype(np.float64)          # [M]
    first_mic = (out.n_spikes > 0).sum(axis=(0, 2)).astype(np.float64)     # [M]
    n_spikes = float(spikes_mic.sum())
    counter.add("encoder.coincidence", acs=float((spikes_mic * per_mic).sum()) * n_del,
                events=n_spikes)
    n_coinc = float(np.asarray(out.coincidence, dtype=np.int64).sum())
    counter.add("encoder.band_maps", acs=n_coinc, events=n_coinc)
    counter.add_extra("spikes", n_spikes)
    counter.add_extra("coincidences", n_coinc)
    counter.add_extra("steps", steps)
    counter.add_extra("acs_first_spike", float((first_mic * per_mic).sum()) * n_del)


def count_maa_input(counter: StageCounter, net: Any, n_frames: int, steps: int) -> None:
    """Add the MAA network's input preparation for ``n_frames`` frames of ``steps`` time steps:
    detector pooling (ACs) and ``log1p`` (1 MAC per pooled element), both inside
    ``MAANet.forward`` before any layer."""
    p, d, f = net.input_shape
    pd, pf = net.pool_in or (1, 1)
    t = int(steps)
    d2, f2 = -(-d // pd), -(-f // pf)
    n_in, n_out = p * d * f, p * d2 * f2
    per_step_pool = n_in - n_out if net.pool_in is not None else 0
    counter.add("input.pool", acs=per_step_pool * t * n_frames)
    counter.add("input.log1p", macs=n_out * t * n_frames)


# ---- log-mel front-end -------------------------------------------------------------------------

def logmel_ops(cfg: Any, samples: int, mel_nonzero: int | None = None) -> dict[str, tuple[float, float]]:
    """``{stage: (ACs, MACs)}`` of one clip of ``samples`` through the log-mel front-end (module
    docstring). ``cfg``: :class:`~neuroaudio.kws.config.FrontendConfig` (``kind="logmel"``)."""
    n = int(cfg.n_fft)
    frames = max(0, 1 + (int(samples) - n) // int(cfg.hop))
    bins = n // 2 + 1
    e = cfg.n_mels * frames
    fft = n * math.log2(n) * frames
    ops: dict[str, tuple[float, float]] = {
        "frontend.window": (0.0, n * frames),
        "frontend.fft": (fft, fft),
        "frontend.power": (0.0, 2 * bins * frames),
        "frontend.mel": (0.0, cfg.n_mels * bins * frames),
        "frontend.log": (0.0, e),
    }
    acs, macs = float(e), 0.0                                      # minus the clip maximum
    if cfg.cmn:
        acs += 2 * e                                               # masked sums, subtraction
        macs += cfg.n_mels                                         # the divisions
        if cfg.cvn:
            acs += e
            macs += 2 * e + 2 * cfg.n_mels
    if cfg.mvn:
        acs += 2 * e
        macs += 2 * e
    elif not (cfg.cmn and cfg.cvn):
        macs += e                                                  # × 1/10
    ops["frontend.normalise"] = (acs, macs)
    if mel_nonzero is not None:
        ops["mel_nonzero_macs"] = (0.0, float(mel_nonzero) * frames)
    return ops


def count_logmel(counter: StageCounter, frontend: Any, batch: int, samples: int) -> None:
    """Add ``batch`` clips of ``samples`` through ``frontend`` (a ``Frontend``; ``raw`` adds its
    peak normalisation only: 1 MAC per sample)."""
    if frontend.cfg.kind != "logmel":
        counter.add("frontend.peak_normalise", macs=float(batch * samples))
        return
    nz = int((frontend.mel != 0).sum())
    for name, (acs, macs) in logmel_ops(frontend.cfg, samples, nz).items():
        if name == "mel_nonzero_macs":
            counter.add_extra(name, macs * batch)
        else:
            counter.add(name, acs=acs * batch, macs=macs * batch)


# ---- network + front end ----------------------------------------------------------------------

def totals(rep: Report, front: dict[str, Any]) -> dict[str, Any]:
    """The network's report and the front end's, side by side, and their sum (per item, pJ)."""
    acs = rep.sops + front["acs"]
    macs = rep.macs + front["macs"]
    return {"network": {"acs": rep.sops, "macs": rep.macs, "energy_pj": rep.energy_pj},
            "front_end": {"acs": front["acs"], "macs": front["macs"], "energy_pj": front["energy_pj"]},
            "total": {"acs": acs, "macs": macs, "energy_pj": energy_pj(acs, macs),
                      "ann_energy_pj": rep.ann_energy_pj + front["energy_pj"]},
            "e_ac_pj": E_AC_PJ, "e_mac_pj": E_MAC_PJ}


def format_totals(front: dict[str, Any], tot: dict[str, Any], item: str) -> str:
    """Text table: the front end's stages, then network / front end / total per ``item``."""
    lines = [f"{front['title']}, per {item}:",
             f"{'stage':<28}{'ACs':>12}{'MACs':>12}{'E (nJ)':>10}"]
    for r in front["stages"]:
        lines.append(f"{r['name']:<28}{r['acs']:12.4g}{r['macs']:12.4g}{r['energy_pj'] / 1e3:10.2f}")
    for key, label in (("network", "network"), ("front_end", "front end"), ("total", "total")):
        t = tot[key]
        lines.append(f"{label:<28}{t['acs']:12.4g}{t['macs']:12.4g}{t['energy_pj'] / 1e3:10.2f}")
    lines.append(f"total per {item}: {tot['total']['energy_pj'] / 1e6:.3f} uJ = network "
                 f"{tot['network']['energy_pj'] / 1e6:.3f} + front end "
                 f"{tot['front_end']['energy_pj'] / 1e6:.3f} "
                 f"(x {E_AC_PJ} pJ per AC, x {E_MAC_PJ} pJ per MAC)")
    return "\n".join(lines)
