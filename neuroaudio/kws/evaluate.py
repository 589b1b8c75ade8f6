"""Evaluating a keyword model on labelled clips: accuracy, confusion matrix, firing rates, energy.

Firing rate of a spiking layer = spikes / (neurons × time steps), averaged over clips; the
network's mean rate is the mean over its spiking layers. Energy is the SOP estimate of
:meth:`KWSNet.energy_pj` (E_AC = 0.9 pJ, E_MAC = 4.6 pJ), per clip.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..io_utils import atomic_path, write_json_atomic
from .checkpoint import KWSModel, load_model
from .config import DataConfig
from .data import FSDD_NAME, Item, load_folder, load_fsdd, make_batch


@torch.no_grad()
def evaluate_items(model: KWSModel, items: list[Item], batch_size: int = 64) -> dict[str, Any]:
    """Run ``model`` on ``items`` (clips placed as the model's ``data.placement`` says). Returns
    metrics and per-item predictions (``predictions``, ``scores``, and ``probs [n, K]`` the class
    probabilities). Runs on the device of the model's parameters."""
    model.eval()
    dev = next(model.net.parameters()).device
    k = len(model.labels)
    cm = np.zeros((k, k), np.int64)
    preds, scores, probs = [], [], []
    rate_sum: np.ndarray | None = None
    energy = {"mac": 0.0, "ac": 0.0, "energy_pj": 0.0, "energy_dense_pj": 0.0}
    t0 = time.perf_counter()
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        x, y = make_batch(chunk, model.fs, model.clip_samples, placement=model.cfg.data.placement)
        feats = model.frontend(torch.from_numpy(x).to(dev))
        logits, spikes = model.net(feats)
        prob = logits.softmax(-1).cpu()
        p = prob.argmax(-1).numpy()
        for a, b in zip(y, p, strict=True):
            cm[a, b] += 1
        preds += p.tolist()
        scores += prob.max(-1).values.tolist()
        probs.append(prob.numpy())
        r = np.array([float(s.mean()) for s in spikes]) * len(chunk)
        rate_sum = r if rate_sum is None else rate_sum + r
        e = model.net.energy_pj(feats.shape[1], feats.shape[2], spikes)
        for key in energy:
            energy[key] += e[key] * len(chunk)
    n = len(items)
    if n == 0:
        raise InputError("no clips to evaluate: check the folder and its labels")
    rates = (rate_sum / n).tolist()
    return {
        "n": n,
        "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
        "confusion": cm.tolist(),
        "labels": list(model.labels),
        "firing_rates": rates,
        "mean_firing_rate": float(np.mean(rates)) if rates else 0.0,
        **{f"{key}_per_clip": v / n for key, v in energy.items()},
        "seconds": time.perf_counter() - t0,
        "predictions": [model.labels[p] for p in preds],
        "scores": scores,
        "probs": np.concatenate(probs),
    }


def plot_confusion(cm: np.ndarray | list, labels: list[str], path: str | Path, title: str = "") -> None:
    """Confusion matrix (rows: true, columns: predicted), counts in the cells, PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(1.0 + 0.45 * len(labels), 0.8 + 0.45 * len(labels)))
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=90 if max(map(len, labels)) > 3 else 0)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title} accuracy {100 * acc:.1f}% (n={cm.sum()})".strip())
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def folder_items(folder: str | Path, model: KWSModel) -> list[Item]:
    """Labelled clips from a folder, labels mapped to the model's: an FSDD-style flat folder
    (``{digit}_{speaker}_{index}.wav``) or ``label/*.wav``."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"'{folder}' is not a folder: give a folder of label/*.wav or FSDD recordings")
    cfg = DataConfig(root=str(root), sample_rate_hz=model.fs, val_fraction=0.0)
    if any(FSDD_NAME.match(p.name) for p in root.glob("*.wav")):
        sp = load_fsdd(cfg)
    else:
        sp = load_folder(cfg)
    items = sp.train + sp.val + sp.test
    index = {name: i for i, name in enumerate(model.labels)}
    unknown = sorted({sp.labels[it.label] for it in items} - set(index))
    if unknown:
        raise InputError(f"labels {unknown} of '{folder}' are not the model's ({', '.join(model.labels)}): "
                         "evaluate on a folder with the model's labels")
    return [Item(index[sp.labels[it.label]], it.speaker, it.path, it.audio) for it in items]


def seen_speakers(model: KWSModel, items: list[Item]) -> list[str]:
    """The speakers of ``items`` whose voices the model was trained (or validated) on, from the
    checkpoint's ``train_speakers`` (empty when the checkpoint does not record them)."""
    return sorted({it.speaker for it in items} & set(model.train_speakers))


def evaluate_folder(model_path: str | Path, folder: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Evaluate a checkpoint on a labelled folder; writes ``predictions.csv``, ``metrics.json``,
    ``confusion.png`` under ``out_dir``. Returns the metrics (without per-item lists)."""
    model = load_model(model_path)
    items = folder_items(folder, model)
    res = evaluate_items(model, items)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "predictions.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "speaker", "label", "predicted", "score", "correct"])
        for it, p, s in zip(items, res["predictions"], res["scores"], strict=True):
            true = model.labels[it.label]
            w.writerow([it.path, it.speaker, true, p, f"{s:.4f}", int(p == true)])
    metrics = {k: v for k, v in res.items() if k not in ("predictions", "scores", "probs")}
    metrics["model"] = str(model_path)
    metrics["folder"] = str(folder)
    heard = seen_speakers(model, items)
    metrics["seen_speakers"] = heard
    metrics["speaker_independent"] = None if not model.train_speakers else not heard
    write_json_atomic(out / "metrics.json", metrics)
    plot_confusion(res["confusion"], model.labels, out / "confusion.png", title=Path(folder).name)
    return metrics
