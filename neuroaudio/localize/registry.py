"""Name → Localizer class registry.

Adding a method = one module with a :class:`~neuroaudio.localize.base.Localizer` subclass, plus
one line in :data:`METHODS` ("module:Class"). Modules are imported only when their method is
asked for, so a classical run never imports torch.

Third-party methods come from installed distributions that declare an entry point in the group
:data:`ENTRY_POINT_GROUP` (``name = package.module:Class``). A method name is looked up among the
built-ins, then among those entry points, and only the module of the entry point with that very
name is imported; no other module named on the command line or in a config is ever imported
(a ``module:Class`` method is refused), so an untrusted config cannot run code.
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

ENTRY_POINT_GROUP = "neuroaudio.localizers"
"""Entry-point group through which installed distributions register localizers (docs/localize.md)."""

DEFAULT_METHOD = "gcc-phat"
"""Method used when none is named (`neuroaudio localize` without --method). The learned
`gcc-phat-sm` is more accurate on both simulated benchmarks (README: 2.5 vs 4.9 deg MAE on
dev_bench, 7.3 vs 19.2 on heldout_bench), and the spiking `maa` is meant to take this place once
it beats them (today it trails gcc-phat). gcc-phat stays the default because it needs no
training and no learned model here has been checked on real recordings yet. Change it only here."""


def plugin_entry_points() -> dict[str, Any]:
    """Entry points of :data:`ENTRY_POINT_GROUP` by name (nothing is imported); built-ins win."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in METHODS}


def method_names() -> list[str]:
    """Registered method names: the built-ins in registration order, then installed plug-ins."""
    return list(METHODS) + sorted(plugin_entry_points())


def check_method_name(name: str) -> None:
    """InputError unless ``name`` is a built-in or an installed plug-in method (imports nothing)."""
    if name not in METHODS:
        _plugin(name)


def _plugin(name: str) -> Any:
    """The entry point registered as ``name``; InputError naming the choices if none."""
    plugins = plugin_entry_points()
    if name not in plugins:
        if ":" in name:
            raise InputError(f"method '{name}': module:Class names are not imported (a config could "
                             f"run any code); register the class as an entry point in the group "
                             f"'{ENTRY_POINT_GROUP}' of an installed package (docs/localize.md)")
        choices = ", ".join([*METHODS, *sorted(plugins)])
        raise InputError(f"unknown method '{name}': choose one of {choices} (see `neuroaudio methods`)")
    return plugins[name]


def localizer_class(name: str) -> type[Localizer]:
    """The class registered under ``name`` (built-in or entry point); InputError if unknown.

    Only the module of a registered method is imported; a ``module:Class`` name is refused.
    """
    if name in METHODS:
        module, cls = METHODS[name].split(":")
        return getattr(importlib.import_module(f"neuroaudio.localize.{module}"), cls)
    ep = _plugin(name)
    try:
        cls = ep.load()
    except Exception as e:
        raise InputError(f"method '{name}': its entry point {ep.value} failed to load "
                         f"({type(e).__name__}: {e}); fix or reinstall the package that provides "
                         "it") from None
    if not (isinstance(cls, type) and issubclass(cls, Localizer)):
        raise InputError(f"method '{name}': entry point {ep.value} is not a Localizer "
                         "subclass; fix the package that provides it")
    return cls


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
    """name → one-line description, for `neuroaudio methods` (plug-ins too)."""
    out = {n: localizer_class(n).summary for n in METHODS}
    for n in sorted(plugin_entry_points()):
        try:
            out[n] = f"{localizer_class(n).summary} (plug-in)"
        except InputError as e:
            out[n] = f"(broken plug-in: {e})"
    return out
