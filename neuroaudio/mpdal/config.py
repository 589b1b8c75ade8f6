"""Pipeline configs for `neuroaudio train mpdal` (YAML), validated once with messages naming the field."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..errors import InputError
from ..neurons.srm import SRMParams
from .clue_experiment import ClueTrainConfig, RuleSetting
from .clues import ClueTaskConfig
from .learner import RULES

T = TypeVar("T")
TASKS = ("clues", "digits")


def build(cls: type[T], raw: Any, where: str) -> T:
    """Make dataclass ``cls`` from a mapping; unknown keys or wrong types -> InputError naming the key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(f"config section {where!r} must be a mapping of keys to values; fix the YAML")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(f'{where}.{k}' for k in unknown)}; "
                         f"allowed: {', '.join(fields)}")
    kwargs = {}
    for k, v in raw.items():
        default = fields[k].default
        if isinstance(default, bool) and not isinstance(v, bool):
            raise InputError(f"{where}.{k} must be true or false, got {v!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise InputError(f"{where}.{k} must be a number, got {v!r}")
            v = type(default)(v) if isinstance(default, float) or float(v).is_integer() else v
        if isinstance(default, tuple) and isinstance(v, list):
            v = tuple(v)
        kwargs[k] = v
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise InputError(f"config section {where!r}: {e}; fix the YAML") from e


@dataclasses.dataclass
class PipelineConfig:
    """A parsed pipeline: task, seed, neuron, and the task's own sections (kept raw for the task)."""

    task: str
    seed: int
    neuron: SRMParams
    sections: dict[str, Any]
    path: Path | None = None


def load_config(path: str | Path) -> PipelineConfig:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config {path} not found; pass e.g. --config pipelines/mpdal_clues.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise InputError(f"config {path} is not valid YAML ({str(e).splitlines()[0]}); fix the file") from e
    return parse_config(raw, path)


def parse_config(raw: Any, path: Path | None = None) -> PipelineConfig:
    if not isinstance(raw, dict):
        raise InputError("the config must be a YAML mapping with at least `task: clues` or `task: digits`")
    task = raw.get("task")
    if task not in TASKS:
        raise InputError(f"config task={task!r}; set `task:` to one of {', '.join(TASKS)}")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int):
        raise InputError(f"config seed={seed!r} must be an integer")
    neuron = build(SRMParams, raw.get("neuron"), "neuron")
    known = {"task", "seed", "neuron"}
    allowed = {"clues": {"clues", "train", "rules"},
               "digits": {"data", "encoder", "model", "train"}}[task]
    unknown = sorted(set(raw) - known - allowed)
    if unknown:
        raise InputError(f"unknown section(s) {', '.join(unknown)} for task {task}; "
                         f"allowed: {', '.join(sorted(known | allowed))}")
    sections = {k: raw.get(k) for k in allowed}
    cfg = PipelineConfig(task, seed, neuron, sections, path)
    if task == "clues":  # validate now, not after minutes of work
        clue_sections(cfg)
    return cfg


def clue_sections(cfg: PipelineConfig) -> tuple[ClueTaskConfig, ClueTrainConfig, list[RuleSetting]]:
    task = build(ClueTaskConfig, cfg.sections.get("clues"), "clues")
    train = build(ClueTrainConfig, cfg.sections.get("train"), "train")
    raw_rules = cfg.sections.get("rules") or [{"rule": "mpdal"}, {"rule": "mpdal_multi"}, {"rule": "mst"}]
    if not isinstance(raw_rules, list):
        raise InputError("config `rules` must be a list like "
                         "[{rule: mpdal, lr: 0.003}, {rule: mst, lr: 0.003}]")
    rules = [build(RuleSetting, r, f"rules[{i}]") for i, r in enumerate(raw_rules)]
    for i, r in enumerate(rules):
        if r.rule not in RULES:
            raise InputError(f"rules[{i}].rule={r.rule!r}; use one of {', '.join(RULES)}")
    return task, train, rules
