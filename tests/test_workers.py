"""stop_pool ends the workers and the pool's manager thread (a killed batch job exits cleanly)."""

import multiprocessing as mp
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from neuroaudio.workers import stop_pool


def _sleep(s: float) -> float:
    time.sleep(s)
    return s


def test_stop_pool_ends_workers_and_the_manager_thread():
    ex = ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn"))
    futs = [ex.submit(_sleep, 30.0) for _ in range(4)]
    while not any(f.running() for f in futs):
        time.sleep(0.05)
    procs = list(ex._processes.values())
    manager = ex._executor_manager_thread
    t0 = time.monotonic()
    stop_pool(ex, grace_s=2.0)
    assert time.monotonic() - t0 < 6.0
    assert not any(p.is_alive() for p in procs)
    # shutdown(wait=False) forgets the manager thread; left running, it races the interpreter's
    # exit hook on its wake-up pipe ("OSError: Bad file descriptor" after a killed `simulate`)
    assert manager is not None and not manager.is_alive()
    ex.shutdown(wait=True)


def test_stop_pool_waits_for_a_slow_manager_thread():
    """The race is timing-bound; a manager thread that needs 1 s to close makes it certain."""
    ex = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
    ex.submit(_sleep, 0.0).result()
    real = ex._executor_manager_thread
    slow = threading.Thread(target=time.sleep, args=(1.0,))
    slow.start()
    ex._executor_manager_thread = slow
    stop_pool(ex, grace_s=3.0)
    assert not slow.is_alive()
    real.join(5.0)
    assert not real.is_alive()
