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
    "maa": "maa:MAALocalizer",
    "gcc-phat-sm": "gcc_phat_sm:GccPhatSM",
    "gcc-phat-mlp": "gcc_phat_sm:GccPhatMLP",
}

DEFAULT_METHOD = "gcc-phat"
"""Method used when none is named (`neuroaudio localize` without --method). The learned
`gcc-phat-sm` is more accurate on both simulated benchmarks (README: 2.5 vs 4.9 deg MAE on
dev_bench, 7.3 vs 19.2 on heldout_bench), and the spiking `maa` is meant to take this place once
it beats them (issue 5; today it trails gcc-phat). gcc-phat stays the default because it needs no
training and no learned model here has been checked on real recordings yet. Change it only here."""


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


def method_options(name: str) -> dict[str, Any]:
    """Keyword options the method ``name`` accepts (its own and the Localizer's) → defaults."""
    import inspect

    out: dict[str, Any] = {}
    for klass in reversed(localizer_class(name).__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for p in list(inspect.signature(init).parameters.values())[2:]:
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
                out[p.name] = p.default
    return out


def make_localizer(name: str, array: Any, **options: Any) -> Localizer:
    """Build the localizer ``name`` for ``array`` with method ``options``.

    Unknown option names raise :class:`InputError` listing the valid ones.
    """
    cls = localizer_class(name)
    try:
        return cls(array, **options)
    except TypeError as e:
        if "unexpected keyword argument" not in str(e):
            raise
        unknown = sorted(set(options) - set(method_options(name)))
        raise InputError(f"method '{name}' has no option {', '.join(map(repr, unknown)) or str(e)}; "
                         f"its options: {', '.join(method_options(name))}") from None


def method_summaries() -> dict[str, str]:
    """name → one-line description, for `neuroaudio methods`."""
    return {n: localizer_class(n).summary for n in METHODS}
