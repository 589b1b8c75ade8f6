"""Model cards for shipped keyword models: data, licence, config, metrics, from the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from ..io_utils import write_text_atomic
from .checkpoint import read_checkpoint
from .data import FILLER_LABEL

FSDD_ATTRIBUTION = (
    "Trained on the Free Spoken Digit Dataset (FSDD; Z. Jackson et al., "
    "https://github.com/Jakobovski/free-spoken-digit-dataset), licensed under "
    "Creative Commons Attribution-ShareAlike 4.0 International (CC BY-SA 4.0). These weights are "
    "derived from that data and are shared under the same licence, CC BY-SA 4.0.")


def model_card(model_path: str | Path, title: str, data_note: str, extra_metrics: dict | None = None) -> str:
    """Markdown model card for a checkpoint (config, labels, metrics, licence)."""
    ck = read_checkpoint(model_path)
    m = {k: v for k, v in ck["metrics"].items() if "confusion" not in k}
    size_kb = Path(model_path).stat().st_size / 1024
    lines = [
        f"# {title}", "",
        f"File: `{Path(model_path).name}` ({size_kb:.0f} KB), {m.get('n_params', '?')} parameters; "
        f"code revision `{ck['code_revision']}`; epoch {ck['epoch']}.", "",
        "## Use", "",
        "```", f"neuroaudio kws FILE.wav --model {model_path}", "```", "",
        f"Input: mono audio, resampled to {ck['sample_rate_hz']} Hz; windows of "
        f"{ck['clip_samples'] / ck['sample_rate_hz']:.2f} s. Labels: {', '.join(ck['labels'])}.", "",
        "## Data and licence", "", data_note, "", FSDD_ATTRIBUTION, "",
        "## Metrics", "", "```json", json.dumps({**m, **(extra_metrics or {})}, indent=1), "```", "",
        "## Config", "", "```json", json.dumps(ck["config"], indent=1), "```", "",
        "## Limits", "",
        "Four adult male speakers only (two US, one Belgian-French, one German accent): expect lower "
        "accuracy on other voices, children, far-field or noisy audio. " + _set_note(ck), "",
    ]
    return "\n".join(lines)


def _set_note(ck: dict) -> str:
    """How the model treats speech that is not a keyword (closed set, or a filler class)."""
    if FILLER_LABEL not in ck["labels"]:
        det = ck.get("detector")
        if det and det.get("reject"):
            return ("No 'unknown' class, but open set by default: `neuroaudio kws` reports a window only "
                    f"when its score is >= {det['threshold']:g}, a rejection head fitted on this model "
                    f"gives it a keyword probability >= {det['min_keyword_p']:g} and the same keyword "
                    f"wins {det['min_windows']} windows in a row (docs/kws.md, 'Open set': "
                    f"{det.get('test_fa_per_min', float('nan')):.2f} false alarms per minute on held-out "
                    "synthetic speech, at a cost in keyword hits). Override with --threshold, "
                    "--min-windows, --min-keyword-p.")
        return ("Closed set: every window is classified as one of the keywords (no 'unknown' class); "
                "use the score threshold and the level gate of `neuroaudio kws` to skip non-keywords "
                "and silence.")
    data = ck["config"]["data"]
    sources = []
    if data.get("filler_words"):
        sources.append(f"{len(data['filler_words'])} non-keyword words spoken by espeak-ng voices")
    if data.get("filler_reversed", 0) > 0:
        sources.append(f"{100 * data['filler_reversed']:.0f}% of the keyword training clips played backwards")
    if not sources:
        sources.append(f"the recordings of the training data's `{FILLER_LABEL}/` folder")
    return (f"Open set: a filler class `{FILLER_LABEL}`, learnt from {' and '.join(sources)}, takes "
            "the windows that hold no keyword, and `neuroaudio kws` never reports it. How well it "
            "rejects real non-keyword speech depends on that data (docs/kws.md, 'Filler class': "
            "measured there on synthetic non-keywords only).")


def write_model_card(model_path: str | Path, card_path: str | Path, **kw) -> None:
    write_text_atomic(card_path, model_card(model_path, **kw))
