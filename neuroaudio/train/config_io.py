"""Pipeline YAML files and ``--set`` overrides, shared by every trainer (`train maa`,
`train gcc-phat-sm`) and by `neuroaudio pipeline run`."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError


def parse_set(items: Sequence[str] | None) -> dict[str, Any]:
    """``["train.epochs=5", "model.stm=false"]`` → nested dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--set {item}: use SECTION.KEY=VALUE, e.g. --set train.epochs=5")
        key, val = item.split("=", 1)
        d = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            d = d.setdefault(p, {})
            if not isinstance(d, dict):
                raise InputError(f"--set {item}: {p} is not a section")
        d[parts[-1]] = yaml.safe_load(val)
    return out


def deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``a`` with ``b`` merged in, section by section (``b`` wins; no key checks).

    An empty mapping in ``b`` replaces the value instead of merging into it, so ``--set
    model.neuron_kwargs={}`` clears a mapping (e.g. a D-RF's keyword arguments before another neuron).
    """
    out = copy.deepcopy(a)
    for k, v in b.items():
        merge = isinstance(out.get(k), dict) and isinstance(v, dict) and len(v) > 0
        out[k] = deep_merge(out[k], v) if merge else copy.deepcopy(v)
    return out


def read_yaml_mapping(path: str | Path, example: str, sections: str) -> dict[str, Any]:
    """The mapping in the YAML file ``path``; InputError (naming ``example``, a shipped config, and
    the expected ``sections``) when the file is missing, not YAML or not a mapping."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such pipeline config; see {example}")
    try:
        d = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{p}: not valid YAML ({str(e).splitlines()[0]}); fix the syntax") from None
    if not isinstance(d, dict):
        raise InputError(f"{p}: expected a mapping ({sections})")
    return d


def check_type(default: Any, value: Any, name: str) -> None:
    """InputError when ``value`` cannot stand where the config's ``default`` stands: a number
    where a number is expected (an int accepted for a float), true/false for a flag. Other
    defaults (None, strings, lists, mappings) take any value; their users check them."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise InputError(f"{name}: expected true or false, got {value!r}")
    elif isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{name}: expected a number, got {value!r}")
        if isinstance(default, int) and not isinstance(value, int) and float(value) != int(value):
            raise InputError(f"{name}: expected a whole number, got {value!r}")


def merge_defaults(defaults: dict[str, Any], given: dict[str, Any],
                   checked: Sequence[str] = ("", "data", "train"), where: str = "") -> dict[str, Any]:
    """A copy of ``defaults`` with ``given`` merged in; a key unknown to ``defaults`` in a section
    named in ``checked`` ("" = the top level) is an InputError listing the known keys (a typo in a
    config must not be silently ignored). Sections not checked (e.g. a model's own config class,
    which validates itself) take any key."""
    out = copy.deepcopy(defaults)
    for k, v in given.items():
        if k not in defaults and where in checked:
            raise InputError(f"{where or 'config'}: unknown key '{k}'; known: {', '.join(defaults)}")
        sub = defaults.get(k)
        if where in checked and k in defaults:
            check_type(sub, v, f"{where + '.' if where else ''}{k}")
        out[k] = merge_defaults(sub, v, checked, k) if isinstance(sub, dict) and isinstance(v, dict) else v
    return out


def check_sim_training(cfg: dict[str, Any], base_dir: str | Path | None) -> None:
    """The checks and defaults every simulated-scene trainer config shares (``train maa``, ``train
    gcc-phat-sm``), in place: ``data.sim`` resolved against ``base_dir`` (the pipeline file's folder)
    when that file exists, ``data.cache_dir`` defaulting to ``<out_dir>/cache``, at least one training
    and one validation clip, ``train.epochs`` and ``train.batch_size`` at least 1."""
    data = cfg["data"]
    if base_dir is not None and data["sim"] and not Path(data["sim"]).is_absolute():
        cand = Path(base_dir) / data["sim"]
        if cand.is_file():
            data["sim"] = str(cand)
    if data["cache_dir"] is None:
        data["cache_dir"] = str(Path(cfg["out_dir"]) / "cache")
    for k in ("train_clips", "val_clips"):
        if int(data[k]) < 1:
            raise InputError(f"data.{k}={data[k]}: give at least 1 clip")
    t = cfg["train"]
    if int(t["epochs"]) < 1 or int(t["batch_size"]) < 1:
        raise InputError("train.epochs and train.batch_size must be at least 1")
