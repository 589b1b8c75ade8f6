"""Keyword-spotting pipeline configs: typed dataclasses, validated once from YAML/dicts.

A config is stored in every checkpoint as a plain JSON-able dict (:func:`config_to_dict`), so a
checkpoint can be loaded with ``torch.load(weights_only=True)`` and rebuilt from it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError


@dataclass
class DataConfig:
    """Where the audio comes from and how it is split.

    ``source``: ``fsdd`` (flat folder of ``{digit}_{speaker}_{index}.wav``), ``folder``
    (``label/*.wav``), ``speech_commands`` (Speech Commands v2 layout) or ``synthetic`` (espeak-ng).
    """

    source: str = "fsdd"
    root: str | None = None
    sample_rate_hz: int = 8000
    clip_s: float = 1.0
    test_speakers: list[str] = field(default_factory=list)
    """fsdd/folder: speakers held out for testing (speaker-independent evaluation)."""
    val_speakers: list[str] = field(default_factory=list)
    """fsdd/folder: speakers for validation; when empty, ``val_fraction`` of the training items."""
    val_fraction: float = 0.1
    test_fraction: float = 0.0
    """folder: fraction of items (by file-name hash) for testing when no test speakers are given."""
    words: list[str] = field(default_factory=list)
    """synthetic: the words; speech_commands: keep only these labels (others dropped)."""
    voices: list[str] = field(default_factory=lambda: ["en", "en-us", "en-gb-x-rp", "en-gb-scotland",
                                                       "en-us+f3", "en+m3", "en-029", "en-us-nyc"])
    rates_wpm: list[int] = field(default_factory=lambda: [130, 160, 190, 220])
    pitches: list[int] = field(default_factory=lambda: [30, 45, 60, 75])
    test_voices: list[str] = field(default_factory=list)
    max_items: int | None = None
    synth_words: list[str] = field(default_factory=list)
    """Any source: extra espeak-ng training clips, one word per label in label order (e.g. zero, one,
    …, nine for FSDD); added to the training split only (never to validation or test)."""
    synth_voices: list[str] = field(default_factory=lambda: ["en", "en-us", "en-gb-x-rp", "en-gb-scotland",
                                                             "en-029", "en-us-nyc"])
    synth_variants: list[str] = field(default_factory=lambda: ["", "m1", "m2", "m3", "m4", "m5", "m6",
                                                               "m7", "f1", "f2", "f3", "f4"])
    """espeak voice variants appended as ``voice+variant`` ('' = the voice itself)."""
    synth_rates_wpm: list[int] = field(default_factory=lambda: [120, 150, 180, 210])
    synth_pitches: list[int] = field(default_factory=lambda: [25, 40, 55, 70])
    synth_per_word: int = 0
    """synthetic clips per word, drawn (seeded) from voices × variants × rates × pitches; 0 = all."""
    filler_words: list[str] = field(default_factory=list)
    """Any source: espeak-ng words that are *not* keywords (e.g. hello, stop, water). When given, the
    labels get one more class, ``FILLER_LABEL`` ("_unknown_", last), trained on these words spoken by
    ``filler_per_word`` voice × variant × rate × pitch combinations of the ``synth_*`` lists; the
    detector never reports it, so speech that is not a keyword is rejected instead of being called
    the nearest keyword. A fraction ``val_fraction`` of the filler clips goes to validation; none to
    the test split (the speaker-independent accuracy stays the keywords')."""
    filler_per_word: int = 24
    """espeak-ng clips per filler word (voice × variant × rate × pitch combinations, seeded)."""
    filler_reversed: float = 0.0
    """Any source: this fraction of the keyword training clips (the source's, real voices), picked
    at random (seeded) and played backwards, joins the filler class as training data: speech of the
    training speakers' own voices that is not a keyword, so the filler cannot be learnt as "a voice
    the keywords never had" (espeak-ng filler words alone taught a model to reject synthetic
    keywords; docs/kws.md, 'Filler class')."""
    extra_train_folders: list[str] = field(default_factory=list)
    """Any source: folders of ``label/*.wav`` (label = one of the split's label names, e.g. '0'..'9'
    for FSDD) added to the training split only (never to validation or test), e.g. clips
    pre-synthesised by ``experiments/kws_synth_accent``. Read once, resampled to ``sample_rate_hz``."""
    placement: str = "centre"
    """Where the model's ``clip_s`` window sits on a clip (validation, test, evaluation, inference
    on files of at most one window): ``centre`` (the clip centred, zero-padded or cropped) or
    ``energy`` (centred on the clip's energetic part, ``neuroaudio.kws.augment.active_span``; needs
    ``train.augment.batch: true``, whose training views place the same part)."""


@dataclass
class FrontendConfig:
    """``raw`` (the waveform, peak-normalised, 1 channel) or ``logmel`` (n_mels channels, 1 per hop).

    In YAML and ``--set`` the hop is ``hop_s``, in seconds (whole samples at ``data.sample_rate_hz``);
    it is held, and stored in checkpoints, as ``hop`` in samples (:func:`hop_s_to_samples`). The old
    YAML key ``hop`` (samples) is still read."""

    kind: str = "logmel"
    n_mels: int = 40
    n_fft: int = 256
    hop: int = 80
    """samples between log-mel frames (YAML: ``hop_s``, seconds)."""
    fmin_hz: float = 20.0
    fmax_hz: float | None = None
    floor_db: float = 80.0
    cmn: bool = False
    """logmel: subtract each mel channel's mean over the clip's active frames (within 40 dB of its
    loudest frame): cepstral-mean-style normalisation against speaker and channel colouring."""
    mvn: bool = False
    """logmel: per-utterance mean and variance normalisation, after the floor (and ``cmn``): the
    clip's features minus their mean over all channels and frames, divided by their standard
    deviation (one mean and one deviation per clip; padding at the floor included)."""
    cvn: bool = False
    """logmel, with ``cmn``: also divide each mel channel by its standard deviation over the active
    frames (CMVN; floored at 1 dB) and clamp to ±``frontend.CVN_CLIP`` (5) standard deviations, so
    silent and zero-padded frames (at the floor) stay bounded."""


@dataclass
class ModelConfig:
    """Residual spiking network: stem 1×1 conv, ``depth`` blocks, time-mean readout."""

    neuron: str = "drf"
    neuron_kwargs: dict[str, Any] = field(default_factory=dict)
    spiking_neuron: str = "lif"
    """the neuron between the two 1×1 convs of a block (``lif``: parallel leaky integrator)."""
    width: int = 64
    depth: int = 2
    dropout: float = 0.1
    pool: int = 1
    """average-pool the stem output by this factor (raw audio: fewer steps for later blocks)."""
    stem: str = "none"
    """``none`` (the 1×1 conv stem on the features) or ``conv2d`` (logmel only: spiking 2-D
    convolutions over (mel, time), causal in time, before the 1×1 stem;
    :class:`neuroaudio.kws.model.ConvStem2d`)."""
    stem_channels: list[int] = field(default_factory=lambda: [8, 16])
    """conv2d: output channels of each 2-D convolution layer."""
    stem_kernel: int = 3
    """conv2d: kernel size (bands and frames), odd."""
    stem_freq_stride: int = 2
    """conv2d: stride over mel bands of every layer (time is never strided)."""
    stem_spiking: bool = True
    """conv2d: LIF spikes after each 2-D convolution (``false``: ReLU, real values into the 1×1
    stem; an ablation that separates the convolution from the spike coding)."""


@dataclass
class AugmentConfig:
    shift_s: float = 0.15
    gain_db: float = 6.0
    noise_snr_db: list[float] = field(default_factory=lambda: [10.0, 40.0])
    noise_prob: float = 0.5
    speed: list[float] = field(default_factory=lambda: [0.9, 1.1])
    freq_mask: int = 6
    time_mask: int = 10
    vtlp: list[float] = field(default_factory=lambda: [1.0, 1.0])
    """logmel: vocal-tract length perturbation (Jaitly & Hinton 2013): the mel filterbank's frequency
    axis is warped by a factor α ~ U(vtlp) per clip ([1, 1] = off)."""
    mixup: float = 0.0
    """mixup of feature sequences and one-hot targets, λ ~ Beta(mixup, mixup) (0 = off)."""
    batch: bool = False
    """Augment whole batches as tensors on the training device (``neuroaudio.kws.augment``) instead
    of clip by clip: the training clips are packed once (all of them in memory on the device: FSDD's
    1,350 training clips take 99 MB), speed/placement/gain/noise are one pass per batch, SpecAugment
    takes ``freq_masks`` × ``time_masks`` masks filled with the clip's mean.
    Needed by ``placement: uniform``, pink noise, mask counts other than 1 and
    ``data.placement: energy``. ``false`` keeps the per-clip path (bit-identical to before)."""
    placement: str = "shift"
    """batch: where a training view puts the clip's reference span (its energetic part with
    ``data.placement: energy``, else the whole clip): ``shift`` (centred ± ``shift_s``) or
    ``uniform`` (anywhere it fits in the window; a longer span is cropped at a random place)."""
    noise_colors: list[str] = field(default_factory=lambda: ["white"])
    """noise colour per noisy clip, drawn uniformly from this list: ``white``, ``pink`` (batch)."""
    freq_masks: int = 1
    """SpecAugment frequency masks per clip, each ≤ ``freq_mask`` channels (≠ 1 needs ``batch``)."""
    time_masks: int = 1
    """SpecAugment time masks per clip, each ≤ ``time_mask`` steps (≠ 1 needs ``batch``)."""
    resample: str = "linear"
    """batch: how speed perturbation resamples: ``linear`` interpolation (damps the top of the band
    by up to ~5 dB and aliases, in training views only) or ``sinc`` (band-limited, windowed sinc;
    ``sinc`` needs ``batch``). See :mod:`neuroaudio.kws.augment`."""


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-2
    schedule: str = "cosine"
    """learning rate per step (``neuroaudio.kws.schedule``): ``cosine`` (from ``lr`` down to 0) or
    ``onecycle`` (warm-up from lr/25 to ``lr`` over ``warmup_frac`` of the steps, then cosine down)."""
    warmup_frac: float = 0.3
    """onecycle: the fraction of the steps spent rising to ``lr``."""
    label_smoothing: float = 0.1
    rate_target: float = 0.05
    rate_weight: float = 1.0
    threads: int = 1
    """CPU threads of this run (torch.set_num_threads)."""
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda`` (``cuda:N``): where the network,
    the front-end and the loss run; clips are read and augmented on the CPU either way."""
    time_budget_s: float = 0.0
    """> 0: wall-clock seconds for this run's epochs. From the second epoch on, the number of epochs
    is lowered (never raised) to what fits at the measured speed, and the cosine schedule follows
    the lowered total, so the run still ends at a low learning rate; it also stops at once when the
    budget is spent. 0 = run ``epochs`` epochs."""
    average_last: int = 0
    """> 0: the saved model is the average of the weights of the last N epochs (checkpoint averaging;
    BatchNorm statistics re-estimated on the training clips) instead of the best-validation epoch."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class KWSConfig:
    name: str = "kws"
    seed: int = 0
    out_dir: str = "runs/kws"
    data: DataConfig = field(default_factory=DataConfig)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _build(cls, d: Any, where: str):
    if not isinstance(d, dict):
        raise InputError(f"config '{where}' must be a mapping, got {type(d).__name__}: fix the YAML")
    from ..train.config_io import check_type

    names = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    kwargs = {}
    for k, v in d.items():
        if k not in names:
            raise InputError(f"config '{where}.{k}' is not a known field: use one of "
                             f"{', '.join(names)}")
        sub = {"data": DataConfig, "frontend": FrontendConfig, "model": ModelConfig,
               "train": TrainConfig, "augment": AugmentConfig}.get(k)
        check_type(getattr(defaults, k), v, f"config '{where}.{k}'")
        kwargs[k] = _build(sub, v, f"{where}.{k}") if sub is not None and isinstance(v, dict) else v
    return cls(**kwargs)


def hop_s_to_samples(d: dict[str, Any]) -> dict[str, Any]:
    """A config dict with ``frontend.hop_s`` (seconds) turned into ``frontend.hop`` (whole samples at
    ``data.sample_rate_hz``); a dict with ``hop`` (samples: a checkpoint's, or an old YAML) as it is."""
    fe = d.get("frontend") if isinstance(d, dict) else None
    if not isinstance(fe, dict) or "hop_s" not in fe:
        return d
    if "hop" in fe:
        raise InputError("config 'frontend.hop' (samples, the old key) and 'frontend.hop_s' (seconds) "
                         "are the same setting: give only hop_s")
    from ..train.config_io import check_type

    hop_s = fe["hop_s"]
    check_type(0.0, hop_s, "config 'kws.frontend.hop_s'")
    data = d.get("data") if isinstance(d.get("data"), dict) else {}
    rate = data.get("sample_rate_hz", DataConfig.sample_rate_hz)
    n = float(hop_s) * rate if isinstance(rate, int | float) and not isinstance(rate, bool) else 0.0
    if n < 1 or abs(n - round(n)) > 1e-6:
        raise InputError(f"config 'frontend.hop_s: {hop_s}': give a whole number of samples at "
                         f"{rate} Hz, at least one (e.g. {128 / rate:g} s = 128 samples)")
    return {**d, "frontend": {**{k: v for k, v in fe.items() if k != "hop_s"}, "hop": int(round(n))}}


def config_from_dict(d: dict[str, Any]) -> KWSConfig:
    """Validate a nested dict (from YAML or a checkpoint) into a :class:`KWSConfig`."""
    cfg = _build(KWSConfig, hop_s_to_samples(d), "kws")
    from .datasets import check_dataset_name

    check_dataset_name(cfg.data.source)
    if cfg.frontend.kind not in ("raw", "logmel"):
        raise InputError(f"config 'frontend.kind: {cfg.frontend.kind}': use raw or logmel")
    from ..neurons.registry import LAYER_KINDS as NEURON_KINDS

    for key in ("neuron", "spiking_neuron"):
        if getattr(cfg.model, key) not in NEURON_KINDS:
            raise InputError(f"config 'model.{key}: {getattr(cfg.model, key)}': use one of "
                             f"{', '.join(NEURON_KINDS)}")
    if cfg.model.depth < 1 or cfg.model.width < 1:
        raise InputError("config 'model.depth' and 'model.width' must be >= 1")
    _check_stem(cfg)
    dev = cfg.train.device
    if dev not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d+", str(dev)):
        raise InputError(f"config 'train.device: {dev}': use auto, cpu, cuda or cuda:N")
    if cfg.train.time_budget_s < 0:
        raise InputError("config 'train.time_budget_s' must be >= 0 (0 = no budget)")
    for key in ("words", "synth_words", "filler_words"):
        bad = [w for w in getattr(cfg.data, key) if not isinstance(w, str)]
        if bad:
            raise InputError(f"config 'data.{key}' has entries that are not words: {bad} (YAML reads "
                             "yes/no/on/off as booleans and digits as numbers): quote them, e.g. 'yes'")
    if cfg.data.sample_rate_hz <= 0 or cfg.data.clip_s <= 0:
        raise InputError("config 'data.sample_rate_hz' and 'data.clip_s' must be > 0")
    _check_recipe(cfg)
    return cfg


def _check_stem(cfg: KWSConfig) -> None:
    """``model.stem`` and its conv2d options."""
    m = cfg.model
    if m.stem not in ("none", "conv2d"):
        raise InputError(f"config 'model.stem: {m.stem}': use none or conv2d")
    if m.stem == "conv2d":
        if cfg.frontend.kind != "logmel":
            raise InputError("config 'model.stem: conv2d' needs 'frontend.kind: logmel' (it convolves over "
                             "mel bands)")
        if not m.stem_channels or any(int(c) < 1 for c in m.stem_channels):
            raise InputError("config 'model.stem_channels' must be a non-empty list of channel counts >= 1")
        if m.stem_kernel < 1 or m.stem_kernel % 2 == 0 or m.stem_freq_stride < 1:
            raise InputError("config 'model.stem_kernel' must be odd and >= 1, 'model.stem_freq_stride' >= 1")


def _check_recipe(cfg: KWSConfig) -> None:
    """The options of the batched augmentation, placement, normalisation and schedule."""
    aug, tr = cfg.train.augment, cfg.train
    if cfg.data.placement not in ("centre", "energy"):
        raise InputError(f"config 'data.placement: {cfg.data.placement}': use centre or energy")
    if aug.placement not in ("shift", "uniform"):
        raise InputError(f"config 'train.augment.placement: {aug.placement}': use shift or uniform")
    bad = [c for c in aug.noise_colors if c not in ("white", "pink")]
    if bad or not aug.noise_colors:
        raise InputError(f"config 'train.augment.noise_colors: {aug.noise_colors}': give a non-empty list "
                         "of white, pink")
    if aug.freq_masks < 0 or aug.time_masks < 0:
        raise InputError("config 'train.augment.freq_masks' and 'time_masks' must be >= 0")
    if aug.speed[0] <= 0 or aug.speed[1] < aug.speed[0]:
        raise InputError(f"config 'train.augment.speed: {aug.speed}': give [lo, hi] with 0 < lo <= hi")
    if aug.resample not in ("linear", "sinc"):
        raise InputError(f"config 'train.augment.resample: {aug.resample}': use linear or sinc")
    if not aug.batch:
        needs = [k for k, on in (("data.placement: energy", cfg.data.placement == "energy"),
                                 ("train.augment.resample: sinc", aug.resample == "sinc"),
                                 ("train.augment.placement: uniform", aug.placement == "uniform"),
                                 ("pink noise", "pink" in aug.noise_colors),
                                 ("freq_masks/time_masks other than 1", (aug.freq_masks, aug.time_masks)
                                  != (1, 1))) if on]
        if needs:
            raise InputError(f"config: {', '.join(needs)} needs the batched augmentation: set "
                             "train.augment.batch: true")
    if tr.schedule not in ("cosine", "onecycle"):
        raise InputError(f"config 'train.schedule: {tr.schedule}': use cosine or onecycle")
    if not 0 < tr.warmup_frac < 1:
        raise InputError(f"config 'train.warmup_frac: {tr.warmup_frac}': give a fraction in (0, 1), e.g. 0.3")
    if cfg.frontend.mvn and cfg.frontend.kind != "logmel":
        raise InputError("config 'frontend.mvn' works on log-mel features: set frontend.kind: logmel")


def config_to_dict(cfg: KWSConfig) -> dict[str, Any]:
    """Plain JSON-able dict (stored in checkpoints)."""
    return dataclasses.asdict(cfg)


def load_config(path: str | Path, overrides: list[str] | None = None) -> KWSConfig:
    """Read a YAML pipeline config; ``overrides`` like ``train.epochs=5`` (YAML values) win."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError(f"config file '{path}' not found: give a path such as pipelines/kws_drf.yaml")
    try:
        d = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        first = str(e).splitlines()[0]
        raise InputError(f"config '{path}' is not valid YAML ({first}): fix the file") from None
    if not isinstance(d, dict):
        raise InputError(f"config '{path}' must be a mapping of sections (data, model, train, ...)")
    from ..train.config_io import deep_merge, parse_set

    sets = parse_set(overrides)
    fe_set = sets.get("frontend") if isinstance(sets.get("frontend"), dict) else {}
    if isinstance(d.get("frontend"), dict) and {"hop", "hop_s"} & set(fe_set):   # --set names the hop:
        d = {**d, "frontend": {k: v for k, v in d["frontend"].items() if k not in ("hop", "hop_s")}}
    return config_from_dict(deep_merge(d, sets))
