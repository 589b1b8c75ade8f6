"""Which trainer a pipeline config's ``kind`` runs.

A trainer is a package with the interface the MAA and GCC-PHAT-SM trainers share:

- ``<package>.config.make_config(d, base_dir)`` → validated config dict (``out_dir``, ``data``,
  ``train.epochs``, ...);
- ``<package>.train.prepare_data(cfg, dist_info, progress)`` → simulates/encodes (cached) the
  training and validation data;
- ``<package>.train.train(cfg, resume=, progress=)`` → ``{"metrics", "epoch", "out_dir", "dist",
  ...}``, writing ``out_dir/model.pt``, ``last.pt``, ``log.csv``, ``curve.png``, ``metrics.json``
  (``{"best": ..., "last": {"epoch": ...}}``);
- ``method``: the localizer (registry name) that loads ``model.pt``.

``train.train`` runs a :class:`neuroaudio.train.loop.Task` through :func:`neuroaudio.train.loop.fit`
(CONTRIBUTING.md, "Add a trainer"). Adding a trainer is then one line in :data:`TRAINERS`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from ..errors import InputError


@dataclass(frozen=True)
class Trainer:
    """A trainer package and the localizer method that uses its models."""

    package: str
    method: str

    def config_module(self) -> ModuleType:
        return importlib.import_module(f"{self.package}.config")

    def train_module(self) -> ModuleType:
        return importlib.import_module(f"{self.package}.train")


TRAINERS: dict[str, Trainer] = {
    "maa": Trainer("neuroaudio.maa", "maa"),
    "gcc-phat-sm": Trainer("neuroaudio.gcc_phat_sm", "gcc-phat-sm"),
}
"""``kind`` → trainer. ``kind: maa`` is the default (``neuroaudio train maa`` configs)."""


def get_trainer(kind: str) -> Trainer:
    if kind not in TRAINERS:
        raise InputError(f"kind '{kind}': no such trainer; use one of {', '.join(TRAINERS)}")
    tr = TRAINERS[kind]
    try:
        tr.config_module()
    except ImportError as e:
        raise InputError(f"kind '{kind}': its trainer {tr.package} is not available ({e})") from None
    return tr
