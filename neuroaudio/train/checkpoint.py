"""Checkpoints as plain dicts of tensors and JSON-able values, loadable with ``weights_only=True``.

A checkpoint never needs code from the file to be loaded: only tensors, numbers, strings, lists and
dicts. Writing is atomic (a crash never leaves a half-written ``last.pt``). Each kind of model has
one :class:`CheckpointFormat` (its ``format`` tag, the hint that ends every error message, and how
to build the model from a loaded dict): ``neuroaudio.maa.checkpoint.CHECKPOINT`` and its siblings.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError
from ..io_utils import atomic_path


def code_revision() -> str:
    """The git commit of the code (``+dirty`` when neuroaudio/ has local changes), or ``unknown``."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "neuroaudio"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (rev + ("+dirty" if dirty else "")) or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_copy(obj: Any) -> Any:
    """A copy of ``obj`` (nested dicts/lists/tuples of tensors and plain values) with every tensor
    detached and on the CPU: what a trainer saves (state dicts, optimizer state), so a checkpoint
    written on a GPU loads anywhere and later training steps do not change the saved values."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(cpu_copy(v) for v in obj)
    return obj


def save_checkpoint(path: str | Path, ckpt: dict[str, Any], fmt: str) -> None:
    """Write ``{"format": fmt, **ckpt}`` to ``path`` atomically (parent folders created)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"format": fmt, **ckpt}, tmp)


def load_checkpoint(path: str | Path, fmt: str, hint: str) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``: no code runs from the file).

    Args:
        path: the .pt file. fmt: the expected ``format`` tag. hint: how to make a valid one
            (ends the error message), e.g. "train one with `neuroaudio train maa`".

    Raises InputError when the file is missing, not loadable safely, or of another format.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model '{path}' not found: give a .pt checkpoint ({hint})")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        raise InputError(f"model '{path}' cannot be loaded safely ({type(e).__name__}): {hint}") from None
    if not isinstance(ck, dict) or ck.get("format") != fmt:
        raise InputError(f"'{path}' is not a {fmt} checkpoint: {hint}")
    return ck


@contextmanager
def checkpoint_contents(path: str | Path, hint: str) -> Iterator[None]:
    """Around the code that builds a model from a loaded checkpoint: a checkpoint with the right
    ``format`` tag but missing keys, values of the wrong type or tensors of the wrong shape (a
    damaged file, or one edited or written by other code) becomes one InputError naming the
    file and what is wrong, instead of a KeyError/RuntimeError traceback."""
    try:
        yield
    except KeyError as e:
        raise InputError(f"model '{path}' is incomplete (no {e} entry): {hint}") from None
    except (RuntimeError, TypeError, ValueError, IndexError, AttributeError) as e:
        first = " ".join(str(e).split())[:200]
        raise InputError(f"model '{path}' does not fit its network ({type(e).__name__}: {first}): "
                         f"{hint}") from None


def check_model_input(path: str | Path, array_ck: Any, fs_ck: int, array: Any,
                      fs: int | None) -> tuple[Any, int]:
    """Refuse an input the model at ``path`` was not trained for; return ``(input array, fs)``.

    Args:
        array_ck, fs_ck: the checkpoint's MicArray and sample rate (Hz).
        array: the input's array (name, JSON path or MicArray); ``fs``: its rate in Hz (None: the
            array file's rate).

    The same mic positions within 1 mm are the same array (:meth:`MicArray.same_geometry`);
    otherwise, or at another rate, an InputError says which and what to do.
    """
    from ..arrays import load_array

    arr_in = load_array(array)
    if not arr_in.same_geometry(array_ck):
        raise InputError(f"model '{path}' was trained for array '{array_ck.name}' ({array_ck.n_mics} "
                         f"mics), not this array '{arr_in.name}' ({arr_in.n_mics} mics, positions "
                         "differ by more than 1 mm): use a model trained for this array")
    fs_in = int(fs or arr_in.fs)
    if fs_in != int(fs_ck):
        raise InputError(f"model '{path}' was trained at {fs_ck} Hz, the input is at {fs_in} Hz: "
                         f"resample the input to {fs_ck} Hz or use a model trained at {fs_in} Hz")
    return arr_in, fs_in


def checkpoint_array(ck: dict[str, Any]) -> Any:
    """The MicArray stored in a checkpoint (``ck["array"]``, the geometry dict of conventions.md)."""
    from ..arrays import MicArray

    return MicArray.from_dict(ck["array"], where="checkpoint array")


@dataclass
class CheckpointFormat:
    """One kind of checkpoint: its ``format`` tag, the hint that ends its error messages, and how to
    build the model from a loaded dict.

    Args:
        format_id: the ``format`` entry written into and required of every file, e.g.
            ``"neuroaudio-maa-1"`` (the tags in shipped models never change).
        hint: how to get a valid file, e.g. "use a checkpoint written by `neuroaudio train maa`".
        build: checkpoint dict -> the model (any object: a network, a (network, front end) pair, ...),
            weights loaded, in eval mode; None when the format has no model to build.
    """

    format_id: str
    hint: str
    build: Callable[[dict[str, Any]], Any] | None = None

    def save(self, path: str | Path, ckpt: dict[str, Any]) -> None:
        """Write ``{"format": format_id, **ckpt}`` to ``path`` atomically."""
        save_checkpoint(path, ckpt, self.format_id)

    def read(self, path: str | Path) -> dict[str, Any]:
        """The checkpoint dict (safe load, format checked); InputError naming ``hint`` otherwise."""
        return load_checkpoint(path, self.format_id, self.hint)

    def contents(self, path: str | Path) -> Any:
        """:func:`checkpoint_contents` with this format's hint (around code that uses a loaded dict)."""
        return checkpoint_contents(path, self.hint)

    def load(self, path: str | Path) -> tuple[Any, dict[str, Any]]:
        """``(build(checkpoint), checkpoint dict)``; a damaged file is one InputError."""
        if self.build is None:
            raise TypeError(f"{self.format_id}: no build function given")
        ck = self.read(path)
        with self.contents(path):
            return self.build(ck), ck
