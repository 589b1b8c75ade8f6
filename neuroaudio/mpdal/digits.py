"""Spoken-digit classification with MPD-AL neuron groups, speaker-independent (leave one speaker out).

Data: a folder of ``{digit}_{speaker}_{index}.wav`` files (the Free Spoken Digit Dataset layout; FSDD
is CC BY-SA 4.0 -- credit it and keep the licence for anything derived). For each held-out speaker,
the model is trained on the other speakers' recordings and tested on that speaker's.

Model: ``neurons_per_class`` SRM neurons per class on the encoder's afferents. Aggregate labels: on a
recording of class c every neuron of group c should fire ``target_spikes`` spikes, every other
neuron none. Trained online by MPD-AL (or MST). Decisions: max-count vs dynamic decoding
(:mod:`.decoding`), learned on the training speakers only.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fsdd import FSDD_HINT, fsdd_folder
from ..io_utils import write_json_atomic
from ..neurons.srm import SpikeInput
from .config import PipelineConfig, build
from .decoding import DynamicDecoder, max_count_decode
from .encoder import EncoderConfig, SpikeEncoder
from .learner import RULES, AggregateLearner

log = logging.getLogger(__name__)
NAME = re.compile(r"^(\d+)_([A-Za-z0-9-]+)_(\d+)\.wav$")


@dataclass(frozen=True)
class DigitDataConfig:
    fsdd_dir: str = ""                   # FSDD recordings folder; empty: $NEUROAUDIO_FSDD (--data overrides)
    speakers: tuple = ()                 # empty: every speaker found
    held_out: tuple = ()                 # speakers to test on, one fold each; empty: every speaker
    max_per_class_speaker: int = 50      # cap recordings per (digit, speaker)


@dataclass(frozen=True)
class DigitModelConfig:
    neurons_per_class: int = 2
    target_spikes: int = 3
    rule: str = "mpdal"
    lr: float = 0.002
    momentum: float = 0.0
    init_mean: float = 0.0
    init_std: float = 0.01


@dataclass(frozen=True)
class DigitTrainConfig:
    epochs: int = 10


@dataclass
class Recording:
    path: Path
    digit: int
    speaker: str
    spikes: SpikeInput | None = None
    error: str | None = None


@dataclass
class FoldResult:
    held_out: str
    n_train: int
    n_test: int
    curve: list[dict] = field(default_factory=list)
    accuracy: dict = field(default_factory=dict)
    confusion_dynamic: list = field(default_factory=list)


def find_recordings(folder: Path, data: DigitDataConfig) -> list[Recording]:
    if not folder.is_dir():
        raise InputError(f"digit data folder {folder} not found; pass --data DIR with FSDD-style "
                         f"{{digit}}_{{speaker}}_{{index}}.wav files; {FSDD_HINT}")
    recs = []
    for p in sorted(folder.iterdir()):
        m = NAME.match(p.name)
        if m and (not data.speakers or m.group(2) in data.speakers):
            recs.append(Recording(p, int(m.group(1)), m.group(2)))
    if not recs:
        raise InputError(f"no {{digit}}_{{speaker}}_{{index}}.wav files in {folder}; "
                         f"point --data at FSDD recordings; {FSDD_HINT}")
    rng = np.random.default_rng(0)
    keep = []
    groups: dict[tuple[int, str], list[Recording]] = {}
    for r in recs:
        groups.setdefault((r.digit, r.speaker), []).append(r)
    for _, g in sorted(groups.items()):
        idx = rng.permutation(len(g))[: data.max_per_class_speaker]
        keep.extend(g[i] for i in sorted(idx))
    return keep


def encode_recordings(recs: list[Recording], enc_cfg: EncoderConfig,
                      on_progress: Callable[[str, int, int], None] | None = None) -> SpikeEncoder | None:
    """Encode each recording in place; a file that fails keeps its error and is skipped later."""
    import soundfile as sf
    from scipy.signal import resample_poly

    encoder: SpikeEncoder | None = None
    fs0 = None
    for i, r in enumerate(recs):
        try:
            x, fs = sf.read(str(r.path), dtype="float64", always_2d=True)
            x = x[:, 0]
            if fs0 is None:
                fs0 = fs
                encoder = SpikeEncoder(enc_cfg, fs)
            if fs != fs0:
                x = resample_poly(x, fs0, fs)
            assert encoder is not None
            r.spikes = encoder.encode(x)
            if r.spikes.times_s.size == 0:
                r.spikes, r.error = None, "silent: no spikes"
        except InputError:
            raise
        except Exception as e:  # a bad file must not stop the batch
            r.error = f"{type(e).__name__}: {e}"
            log.warning("skipping %s: %s", r.path.name, r.error)
        if on_progress is not None:
            on_progress("encode", i + 1, len(recs))
    return encoder


def digit_sections(cfg: PipelineConfig
                   ) -> tuple[DigitDataConfig, EncoderConfig, DigitModelConfig, DigitTrainConfig]:
    data = build(DigitDataConfig, cfg.sections.get("data"), "data")
    enc = build(EncoderConfig, cfg.sections.get("encoder"), "encoder")
    model = build(DigitModelConfig, cfg.sections.get("model"), "model")
    train = build(DigitTrainConfig, cfg.sections.get("train"), "train")
    if model.rule not in RULES:
        raise InputError(f"model.rule={model.rule!r}; use one of {', '.join(RULES)}")
    if model.neurons_per_class < 1 or model.target_spikes < 1 or train.epochs < 1:
        raise InputError("model.neurons_per_class, model.target_spikes and train.epochs must be >= 1")
    return data, enc, model, train


def group_counts(learner: AggregateLearner, trials: list[SpikeInput], n_classes: int) -> np.ndarray:
    """Summed spike count of each class's group ``[samples, classes]``."""
    c = learner.counts(trials, batch=16)
    return c.reshape(len(trials), n_classes, -1).sum(axis=2)


def train_fold(train_recs: list[Recording], test_recs: list[Recording], n_afferents: int, n_classes: int,
               cfg: PipelineConfig, model: DigitModelConfig, train: DigitTrainConfig, held_out: str,
               on_progress: Callable[[str, int, int], None] | None = None
               ) -> tuple[FoldResult, AggregateLearner]:
    g = model.neurons_per_class
    learner = AggregateLearner(n_afferents, n_classes * g, cfg.neuron, model.rule, model.lr, model.momentum,
                               model.init_mean, model.init_std, seed=cfg.seed)
    x_tr = [r.spikes for r in train_recs]
    y_tr = np.array([r.digit for r in train_recs])
    x_te = [r.spikes for r in test_recs]
    y_te = np.array([r.digit for r in test_recs])
    desired = np.zeros((len(x_tr), n_classes * g), dtype=np.int64)
    for b, y in enumerate(y_tr):
        desired[b, y * g:(y + 1) * g] = model.target_spikes
    rng = np.random.default_rng(cfg.seed + 1)
    res = FoldResult(held_out, len(x_tr), len(x_te))
    cpu = 0.0
    done = 0
    for epoch in range(1, train.epochs + 1):
        def tick() -> None:
            nonlocal done
            done += 1
            if on_progress is not None:
                on_progress(f"fold {held_out}", done, train.epochs * len(x_tr))

        st = learner.train_epoch(x_tr, desired, rng, on_trial=tick)  # type: ignore[arg-type]
        cpu += st.cpu_s
        c_te = group_counts(learner, x_te, n_classes)  # type: ignore[arg-type]
        res.curve.append({"held_out": held_out, "epoch": epoch, "train_errors": st.errors, "cpu_s": cpu,
                          "test_acc_max_count": float((max_count_decode(c_te, cfg.seed) == y_te).mean())})
    c_tr = group_counts(learner, x_tr, n_classes)  # type: ignore[arg-type]
    c_te = group_counts(learner, x_te, n_classes)  # type: ignore[arg-type]
    dec = DynamicDecoder.fit(c_tr, y_tr)
    pred_dyn = dec.decode(c_te, cfg.seed)
    res.accuracy = {
        "max_count": float((max_count_decode(c_te, cfg.seed) == y_te).mean()),
        "dynamic": float((pred_dyn == y_te).mean()),
        "template": float((dec.decode_template(c_te, cfg.seed) == y_te).mean()),
        "train_max_count": float((max_count_decode(c_tr, cfg.seed) == y_tr).mean()),
        "train_dynamic": float((dec.decode(c_tr, cfg.seed) == y_tr).mean()),
        "train_cpu_s": cpu,
    }
    cm = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(cm, (y_te, pred_dyn), 1)
    res.confusion_dynamic = cm.tolist()
    return res, learner


def run_digits(cfg: PipelineConfig, out_dir: Path, on_progress: Callable[[str, int, int], None] | None = None,
               data_dir: Path | None = None, plots: bool = True) -> dict:
    from ..io_utils import write_csv_atomic
    from .plots import plot_confusion, plot_raster, plot_trace_with_t_star
    from .rules import mpdal_t_star

    data, enc_cfg, model, train = digit_sections(cfg)
    folder = Path(data_dir) if data_dir is not None else fsdd_folder(data.fsdd_dir)
    if folder is None:
        raise InputError(f"no digit data folder: pass --data DIR (or set data.fsdd_dir); {FSDD_HINT}")
    recs = find_recordings(folder, data)
    t0 = time.process_time()
    encode_recordings(recs, enc_cfg, on_progress)
    enc_cpu = time.process_time() - t0
    ok = [r for r in recs if r.spikes is not None]
    failed = [{"path": str(r.path), "error": r.error} for r in recs if r.spikes is None]
    speakers = sorted({r.speaker for r in ok})
    held = list(data.held_out) or speakers
    missing = [s for s in held if s not in speakers]
    if missing or len(speakers) < 2:
        raise InputError(f"held-out speaker(s) {missing or held} not usable (found {speakers}); "
                         "need >= 2 speakers and data.held_out among them")
    n_classes = max(r.digit for r in ok) + 1
    out_dir.mkdir(parents=True, exist_ok=True)
    folds, rows = [], []
    for s in held:
        tr = [r for r in ok if r.speaker != s]
        te = [r for r in ok if r.speaker == s]
        fold, learner = train_fold(tr, te, enc_cfg.n_afferents, n_classes, cfg, model, train, s, on_progress)
        folds.append(fold)
        rows.extend(fold.curve)
        write_csv_atomic(out_dir / "log.csv", rows)  # partial results survive an interruption
        if plots:
            plot_confusion(out_dir / f"confusion_dynamic_{s}.png", np.array(fold.confusion_dynamic),
                           f"held-out {s}: dynamic decoding, acc {fold.accuracy['dynamic']:.3f}")
            demo = te[0]
            assert demo.spikes is not None
            v, sp = learner.trace(demo.spikes)
            plot_raster(out_dir / f"raster_{s}.png", demo.spikes, sp, cfg.neuron,
                        f"{demo.path.name}: input spikes and the {learner.n_neurons} output neurons",
                        max_afferents=enc_cfg.n_afferents)
            g = model.neurons_per_class
            m = demo.digit * g
            n_star = mpdal_t_star(v[m], sp[m], cfg.neuron, too_few=True) if sp[m].size < model.target_spikes \
                else (mpdal_t_star(v[m], sp[m], cfg.neuron, too_few=False)
                      if sp[m].size > model.target_spikes else None)
            plot_trace_with_t_star(out_dir / f"trace_{s}.png", v[m], sp[m], n_star, cfg.neuron,
                                   f"{demo.path.name}: neuron {m} (class {demo.digit}), {sp[m].size} spikes, "
                                   f"target {model.target_spikes}"
                                   + ("" if n_star is None else "; t* marked"))
    accs = {k: float(np.mean([f.accuracy[k] for f in folds])) for k in ("max_count", "dynamic", "template")}
    result = {
        "task": "digits", "seed": cfg.seed, "data_dir": str(folder), "n_recordings": len(ok),
        "failed": failed, "speakers": speakers, "encode_cpu_s": enc_cpu,
        "config": {"data": vars(data), "encoder": vars(enc_cfg), "model": vars(model), "train": vars(train),
                   "neuron": vars(cfg.neuron)},
        "folds": [{"held_out": f.held_out, "n_train": f.n_train, "n_test": f.n_test, **f.accuracy,
                   "confusion_dynamic": f.confusion_dynamic} for f in folds],
        "mean_accuracy": accs,
        "summary": {"mean_accuracy": accs,
                    "per_speaker": {f.held_out: {k: round(f.accuracy[k], 4) for k in ("max_count", "dynamic",
                                                                                     "template")}
                                    for f in folds}},
    }
    write_json_atomic(out_dir / "results.json", result)
    return result
