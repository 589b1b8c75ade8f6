"""Worker processes that end with their parent, and a parent that stops them cleanly.

Batch commands (``evaluate``, ``simulate``) run tasks in a ``ProcessPoolExecutor``. Python does
not end those workers when the parent dies (``kill -9``) and, by default, a ``kill -TERM`` of the
parent skips all clean-up. So:

- :func:`guard_worker` (first thing in a pool's initializer, given the parent's pid): on Linux,
  ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` asks the kernel to send SIGTERM to the worker when its
  parent dies; everywhere, a daemon thread checks twice a second that the parent is still there
  (its parent pid unchanged and the parent's pid alive) and sends the same SIGTERM when not.
  The worker's SIGTERM handler raises :class:`WorkerTerminated` inside a task (so ``finally``
  blocks remove half-written temporary files) and the task wrapper :func:`run_task` then exits
  the process at once; an idle worker exits at once.
- :func:`stop_pool`: cancel queued tasks and terminate the workers (SIGTERM, then SIGKILL after
  a grace period), for a parent that is interrupted.
- :func:`sigterm_as_interrupt`: in the parent's main thread, turn SIGTERM (what ``kill``, systemd
  and docker send) into :class:`Terminated`, a ``KeyboardInterrupt``, so the same clean-up as
  Ctrl-C runs: journals flushed, workers stopped, locks released, temporary files removed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
PR_SET_PDEATHSIG = 1
WATCH_S = 0.5
"""How often (s) the fallback thread checks the parent."""


class WorkerTerminated(BaseException):
    """Raised in a worker's task when the worker is told to end (SIGTERM, parent gone)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM received by the parent: handled like Ctrl-C."""


_IN_TASK = False
_DEFERRED = 0        # > 0 while native code may call back into Python (termination_deferred)
_PENDING = False     # a termination arrived while deferred


_RAISED = False       # WorkerTerminated is already unwinding the task (the worker exits after it)


def _on_worker_term(signum: int, frame: Any) -> None:
    global _PENDING, _RAISED
    if _IN_TASK:
        if _DEFERRED or _RAISED:     # a second SIGTERM during the unwind must not raise in a finaliser
            _PENDING = True
            return
        _RAISED = True
        raise WorkerTerminated
    os._exit(128 + signum)


@contextlib.contextmanager
def termination_deferred() -> Iterator[None]:
    """Hold a worker's termination while native code runs Python callbacks (espeak-ng's synthesis
    callback): an exception raised inside a ctypes callback cannot propagate (ctypes prints it as
    "Exception ignored" and carries on), so it is raised when the block ends instead."""
    global _DEFERRED, _PENDING, _RAISED
    _DEFERRED += 1
    try:
        yield
    finally:
        _DEFERRED -= 1
    if not _DEFERRED and _PENDING:
        _PENDING = False
        if not _RAISED:              # raised once: a block ending during the unwind stays quiet
            _RAISED = True
            raise WorkerTerminated


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _set_pdeathsig(sig: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl: the thread still watches
        pass


def guard_worker(parent_pid: int) -> None:
    """End this worker process when its parent (``parent_pid``, or its direct parent) ends."""
    signal.signal(signal.SIGTERM, _on_worker_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C goes to the parent, which stops us
    _set_pdeathsig(signal.SIGTERM)
    ppid0 = os.getppid()
    if not _alive(parent_pid):     # the parent died before the kernel could be told
        os._exit(128 + signal.SIGTERM)

    def watch() -> None:
        while os.getppid() == ppid0 and _alive(parent_pid):
            time.sleep(WATCH_S)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10.0)           # the main thread is stuck in native code: give up on clean-up
        os._exit(128 + signal.SIGTERM)

    threading.Thread(target=watch, name="neuroaudio-parent-watch", daemon=True).start()


def run_task(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in a guarded worker; exit the process if told to end during it."""
    global _IN_TASK, _RAISED
    _IN_TASK, _RAISED = True, False
    try:
        return fn(*args)
    except WorkerTerminated:
        os._exit(128 + signal.SIGTERM)
    finally:
        _IN_TASK = False


def stop_pool(pool: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Cancel queued tasks and end the pool's workers (SIGTERM; SIGKILL after ``grace_s``).

    Also waits (bounded) for the pool's manager thread: ``shutdown(wait=False)`` forgets it, so a
    later ``shutdown(wait=True)`` (the ``with`` block's exit) no longer joins it, and at interpreter
    exit ``concurrent.futures`` would write to its wake-up pipe while the thread closes that pipe
    ("OSError: Bad file descriptor" printed after a killed batch job).
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1.0)
    if manager is not None and manager is not threading.current_thread():
        manager.join(max(1.0, deadline - time.monotonic()))


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) in this thread.

    Does nothing outside the main thread (where signal handlers cannot be set).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
