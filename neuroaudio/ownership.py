"""Owning an output: checked before the work, one run at a time, no stale temporary files.

- :func:`check_output_file` / :func:`check_output_dir`: refuse (InputError, one line) an output
  path that cannot be written — a folder where a file is wanted or the reverse, a parent that is
  a file, a read-only or permission-denied place — *before* any work is done. The check writes a
  probe file in the nearest existing folder and removes it, so it is true for root too.
- :func:`own_output`: a context manager that holds an OS lock (``fcntl.flock``) on a lock file for
  the output while a run writes it. A second run into the same output is refused with one line
  naming the running one (pid, host, start time, command). The kernel releases the lock when the
  holder dies, even by ``kill -9``, so a crashed run never blocks the next one. Inside, stale
  temporary files left by a killed earlier run (:func:`neuroaudio.io_utils.atomic_path` names:
  ``.NAME.XXXXXXXX.tmp``) can be removed safely (:func:`remove_stale_temps`): nobody else writes.

Lock file: ``DIR/.neuroaudio.lock`` for a folder output, ``.NAME.lock`` beside a file output; it
is removed when the run ends (a run killed by ``kill -9`` leaves it, unlocked and harmless).
Locks are re-entrant within one process (a pipeline owning a folder may call a step that owns
it too). Where ``fcntl`` does not exist (Windows) outputs are checked but not locked.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".neuroaudio.lock"
"""Lock file inside an owned output folder."""
_TEMP_FILE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
"""Names of :func:`~neuroaudio.io_utils.atomic_path` temporary files (``tempfile.mkstemp``)."""
_HELD: dict[str, tuple[int, int]] = {}
"""Locks this process holds: lock file path -> (fd, depth)."""


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _probe(path: Path, folder: Path, flag: str) -> None:
    """InputError (naming ``flag`` and ``path``) unless a file can be created in ``folder`` or, if
    it does not exist yet, in its nearest existing parent."""
    where = _nearest_existing(folder)
    if not where.is_dir():
        raise InputError(f"{flag} {path}: {where} is a file, not a folder; give a path in a "
                         "writable folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".neuroaudio-probe.", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise InputError(f"{flag} {path}: cannot write in {where} ({e.strerror or e}); give a "
                         "writable path") from None


def check_output_file(path: str | Path, flag: str) -> Path:
    """Refuse an output file that cannot be written (InputError naming ``flag``); return it."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{flag} {p}: is a folder; give a file path")
    _probe(p, p.parent, flag)
    return p


def refuse_existing(path: str | Path | None, flag: str, overwrite: bool) -> None:
    """Refuse to replace an existing output file unless ``overwrite`` (InputError naming ``flag``)."""
    if path is not None and Path(path).exists() and not overwrite:
        raise InputError(f"{flag} {path}: the file exists; pass --overwrite to replace it, or choose "
                         "another name")


def check_output_dir(path: str | Path, flag: str) -> Path:
    """Refuse an output folder that cannot be created or written (InputError naming ``flag``)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{flag} {p}: is a file, not a folder; give a folder (it is created)")
    _probe(p, p, flag)
    return p


def _describe_holder(lock_file: Path) -> str:
    try:
        info = json.loads(lock_file.read_text(encoding="utf-8"))
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(info["started_unix_s"])))
        return (f"pid {info['pid']} on {info['host']}, started {started}: "
                f"{info.get('command') or '?'}")
    except (OSError, ValueError, KeyError, TypeError):
        return "a run that is starting"


@contextlib.contextmanager
def own_output(path: str | Path, flag: str = "--out", is_dir: bool = True) -> Iterator[Path]:
    """Hold the lock on the output ``path`` (a folder, created; or a file) for the block.

    InputError (one line) when the output cannot be written or another run holds it.
    """
    p = Path(path)
    if is_dir:
        check_output_dir(p, flag)
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{flag} {p}: cannot create it ({e.strerror or e}); give a writable "
                             "folder") from None
        lock_file = p / LOCK_NAME
    else:
        check_output_file(p, flag)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{flag} {p}: cannot create its folder ({e.strerror or e}); give a "
                             "writable path") from None
        lock_file = p.parent / f".{p.name}.lock"
    key = os.path.realpath(lock_file)
    if key in _HELD:                     # re-entrant: this process owns it already
        fd, depth = _HELD[key]
        _HELD[key] = (fd, depth + 1)
        try:
            yield p
        finally:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth - 1)
        return
    fd = _acquire(lock_file, p, flag)
    _HELD[key] = (fd, 1)
    try:
        yield p
    finally:
        del _HELD[key]
        _release(fd, lock_file)


def _acquire(lock_file: Path, target: Path, flag: str) -> int:
    if fcntl is None:  # pragma: no cover - Windows: checked, not locked
        return -1
    while True:
        try:
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise InputError(f"{flag} {target}: cannot write there ({e.strerror or e}); give a "
                             "writable path") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(f"{flag} {target}: in use by another run ({_describe_holder(lock_file)}); "
                             f"wait for it to finish, or give another {flag}") from None
        try:   # the holder before us may have removed the file we opened: lock the current one
            same = os.stat(lock_file).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started_unix_s": round(time.time(), 3),
            "command": " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]])}
    os.ftruncate(fd, 0)
    os.write(fd, (json.dumps(info) + "\n").encode())
    return fd


def _release(fd: int, lock_file: Path) -> None:
    if fd < 0:  # pragma: no cover - Windows
        return
    with contextlib.suppress(OSError):
        os.unlink(lock_file)       # while still locked, so nobody locks a file about to vanish
    os.close(fd)                   # releases the lock


def remove_stale_temps(folder: str | Path, name: str | None = None) -> int:
    """Remove temporary files (and folders) a killed earlier run left in ``folder``.

    Only names that :func:`~neuroaudio.io_utils.atomic_path` makes are touched: files
    ``.NAME.XXXXXXXX.tmp`` (for one output ``name``, or for any when ``name`` is None) and, for a
    named output only, folders ``.NAME.XXXXXXXX`` (``tempfile.TemporaryDirectory``, what older
    versions of ``encode`` used). Call this only while owning the output (:func:`own_output`).
    Returns how many were removed.
    """
    d = Path(folder)
    if not d.is_dir():
        return 0
    n = 0
    temp_dir = re.compile(rf"^\.{re.escape(name)}\.[a-z0-9_]{{8}}$") if name is not None else None
    for entry in d.iterdir():
        nm = entry.name
        if name is not None and not nm.startswith(f".{name}."):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                if temp_dir is not None and temp_dir.match(nm):
                    shutil.rmtree(entry)
                    n += 1
            elif _TEMP_FILE.match(nm):
                entry.unlink()
                n += 1
    return n
