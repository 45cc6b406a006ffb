"""Worker threads and thread limits of BLAS and OpenMP: no maths here.

The objective (and the ZCA covariance, and the classifier's fine-tuning)
splits its rows into one contiguous run per thread and runs the runs with
:func:`map_in_threads`, every library pool limited to one thread; solvers
hold :func:`single_threaded_libraries` for their whole loop.
"""

# SPDX-License-Identifier: BSD-3-Clause

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_controller = None  # threadpoolctl's view of the process's thread pools
_pool = None  # worker threads of the objective, made on first use

# One limit for all overlapping users (fits in several threads at once):
# OpenBLAS's thread count is process-wide, so limits that overlap and restore
# in the wrong order would leave it single-threaded for good. threadpoolctl
# (3.8) lets only one "controlling" thread change it at a time, until that
# thread leaves its last limit; the shared limit is therefore entered and left
# in a thread of its own, which hands control back when the last user leaves.
_limit_lock = threading.Lock()
_limit_users = 0
_limit = None
_threads_before_limit = 1
_limiter = None  # that thread, made on first use


def _in_limiter_thread(fn, *args, **kwargs):
    global _limiter
    if _limiter is None:
        _limiter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skl_sparse_ae_limits")
    return _limiter.submit(fn, *args, **kwargs).result()


def _enter_limit():
    return _thread_pools().limit(limits=1).__enter__()


def _forget_threads():
    """A forked child has none of its parent's threads: make new ones on use."""
    global _pool, _limiter, _limit_lock, _limit_users, _limit
    _pool = _limiter = _limit = None
    _limit_lock, _limit_users = threading.Lock(), 0


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_forget_threads)


def _thread_pools():
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def _blas_threads():
    blas = _thread_pools().select(user_api="blas")
    return max((lib.num_threads for lib in blas.lib_controllers), default=1)


@contextmanager
def single_threaded_libraries():
    """Context in which every BLAS and OpenMP pool of the process uses one thread.

    A solver runs in it, and the objective's worker threads too: they bring
    their own parallelism, and idle BLAS threads of other libraries (scipy's
    own OpenBLAS, used by L-BFGS-B between evaluations) busy-wait and take the
    cores from them. Measured on the UFLDL fit with another process busy:
    10.1 s → 3.5 s (float64), 6.0 s → 1.5 s (float32). Overlapping users share
    one limit, lifted when the last one leaves.
    """
    global _limit_users, _limit, _threads_before_limit
    with _limit_lock:
        if _limit_users == 0:
            _threads_before_limit = _blas_threads()
            _limit = _in_limiter_thread(_enter_limit)
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                _in_limiter_thread(_limit.__exit__, None, None, None)
                _limit = None


@functools.cache
def _cpu_count():
    """os.cpu_count(), read once: it took 80 µs a call here (a tenth of a
    float32 UFLDL evaluation's overhead), and it is the same for the process."""
    return os.cpu_count() or 1


def n_threads():
    """Threads for the objective: as many as BLAS may use.

    Our threads take the place of BLAS's own, so a limit set by the caller
    (threadpoolctl, or joblib in its worker processes) is respected; our own
    limit (:func:`single_threaded_libraries`) is not counted.
    """
    with _limit_lock:
        allowed = _threads_before_limit if _limit_users else _blas_threads()
    return max(1, min(allowed, _cpu_count()))


def contiguous_runs(n_items, n_runs):
    """``range(n_items)`` cut into at most ``n_runs`` contiguous ranges of
    near-equal length: the share of each thread, in a fixed order."""
    n_runs = max(1, min(n_runs, n_items))
    bounds = [n_items * k // n_runs for k in range(n_runs + 1)]
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def map_in_threads(fn, args_per_call):
    """[fn(*args) for each args], the first in this thread and the others on
    worker threads, all with single-threaded libraries. A single call just
    runs here, with the libraries' threads as they are."""
    global _pool
    if len(args_per_call) == 1:
        return [fn(*args_per_call[0])]
    n_more = len(args_per_call) - 1
    if _pool is None or _pool._max_workers < n_more:
        _pool = ThreadPoolExecutor(max_workers=n_more, thread_name_prefix="skl_sparse_ae")
    with single_threaded_libraries():
        futures = [_pool.submit(fn, *args) for args in args_per_call[1:]]
        first = fn(*args_per_call[0])
        return [first, *(f.result() for f in futures)]
