"""One section of a model's config (``features``, ``model``, ``model.mask``, ...) as a frozen
dataclass that reads and writes itself as a plain dict: the form a checkpoint and a pipeline
YAML hold it in."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar, TypeVar

from ..errors import InputError

S = TypeVar("S", bound="ConfigSection")


class ConfigSection:
    """Mixin for a frozen dataclass: :meth:`to_dict` / :meth:`from_dict`, refusing unknown keys.

    A subclass sets :attr:`section`, the name its fields are written under in a config (it
    prefixes the error message), and checks its values in ``__post_init__``.
    """

    section: ClassVar[str] = ""
    __dataclass_fields__: ClassVar[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (JSON-able when the fields are)."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[S], d: dict[str, Any] | None) -> S:
        """Build from a dict (None or {}: the defaults); InputError naming unknown keys."""
        d = dict(d or {})
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"{cls.section}: unknown field(s) {sorted(unknown)}; known: "
                             f"{', '.join(cls.__dataclass_fields__)}")
        return cls(**d)  # type: ignore[call-arg]
