"""Keyword datasets by name: ``data.source`` in a KWS config → its loader.

A loader is a function ``(cfg: DataConfig, seed: int) -> Splits`` that lists a dataset's clips
as :class:`~neuroaudio.kws.data.Item` (label index, speaker, audio or a path read on demand),
split into train/val/test — by speaker wherever speakers are known, so the test set holds voices
the model never heard. Adding a dataset = one loader function plus one line here (CONTRIBUTING.md,
"Add a dataset"). Modules are imported only when their dataset is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import InputError

DATASETS: dict[str, str] = {
    # name: "module relative to neuroaudio.kws:function"
    "fsdd": "data:load_fsdd",
    "folder": "data:load_folder",
    "speech_commands": "data:load_speech_commands",
    "synthetic": "data:load_synthetic",
}


def check_dataset_name(name: str) -> None:
    """InputError naming the choices unless ``name`` is a registered dataset (imports nothing)."""
    if name not in DATASETS:
        raise InputError(f"config 'data.source: {name}': use one of {', '.join(DATASETS)}")


def load_dataset(cfg: Any, seed: int = 0) -> Any:
    """The :class:`~neuroaudio.kws.data.Splits` of ``cfg.source`` (a
    :class:`~neuroaudio.kws.config.DataConfig`): train/val/test items and label names."""
    check_dataset_name(cfg.source)
    module, func = DATASETS[cfg.source].split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), func)(cfg, seed)
