"""Name → Localizer class registry.

Adding a method = one module with a :class:`~neuroaudio.localize.base.Localizer` subclass, plus
one line in :data:`METHODS` ("module:Class"). Modules are imported only when their method is
asked for, so a classical run never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import InputError
from .base import Localizer

METHODS: dict[str, str] = {
    # name: "module path relative to neuroaudio.localize:ClassName"
    "gcc-phat": "gcc_phat:GccPhat",
    "srp-phat": "srp_phat:SrpPhat",
    "pra-srp": "pra:PraSrp",
    "pra-music": "pra:PraMusic",
    "pra-normmusic": "pra:PraNormMusic",
    "pra-tops": "pra:PraTops",
    "rf-plc": "rf_plc:RFPLCLocalizer",
}

DEFAULT_METHOD = "gcc-phat"
"""Method used when none is named (`neuroaudio localize` without --method): the best classical
one on our simulated scenes until the shipped MAA model replaces it. Change it only here."""


def method_names() -> list[str]:
    """Registered method names, in registration order."""
    return list(METHODS)


def localizer_class(name: str) -> type[Localizer]:
    """The class registered under ``name``; InputError naming the choices if unknown."""
    if name not in METHODS:
        raise InputError(f"unknown method '{name}': choose one of {', '.join(METHODS)} "
                         "(see `neuroaudio methods`)")
    module, cls = METHODS[name].split(":")
    return getattr(importlib.import_module(f"neuroaudio.localize.{module}"), cls)


def make_localizer(name: str, array: Any, **options: Any) -> Localizer:
    """Build the localizer ``name`` for ``array`` with method ``options``."""
    return localizer_class(name)(array, **options)


def method_summaries() -> dict[str, str]:
    """name → one-line description, for `neuroaudio methods`."""
    return {n: localizer_class(n).summary for n in METHODS}
