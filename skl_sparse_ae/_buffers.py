"""The row-chunk buffers of an evaluation, shared by the objective and its kernels.

Layout only, no maths: the objective (:mod:`skl_sparse_ae._objective`) and
the compiled kernel (:mod:`skl_sparse_ae._kernels._numba`) both lay out and
read these buffers, so they live below both.
"""

# SPDX-License-Identifier: BSD-3-Clause

import math

import numpy as np


class EvaluationBuffers:
    """The large buffers of an evaluation (T of every chunk, each thread's
    workspace), kept from one evaluation to the next of a fit.

    Allocated anew, a buffer of a megabyte or more is a fresh mapping from
    the system whose pages fault in on first use, at every evaluation: with
    glibc's defaults that was a quarter of the float32 UFLDL fit's time in
    the benchmark's process (2.0–2.2 s against 1.5–1.6 s). The buffers of
    the two latest shapes of each kind are kept (minibatches: the full
    batches and the last one); a solver holds one of these for its run, and
    the memory goes with it.
    """

    _KEPT = 2

    def __init__(self):
        self._kept = {}  # kind -> {key: buffer}, oldest first

    def get(self, kind, key, make):
        """The buffer of this kind for ``key`` (its shapes), made by ``make()``
        if none is kept for it."""
        kept = self._kept.setdefault(kind, {})
        if key in kept:
            return kept[key]
        while len(kept) >= self._KEPT:  # the oldest goes before the new one is made
            del kept[next(iter(kept))]
        kept[key] = buffer = make()
        return buffer


def hidden_buffer(shape, dtype):
    """Room for T over ``shape[-1]`` rows with the row of ones below it."""
    buffer = np.empty(shape, dtype=dtype)
    buffer[..., -1, :] = 1.0
    return buffer


def leading(buffer, rows):
    """The first ``rows`` columns of a (k, rows_max) buffer as a C-contiguous
    (k, rows) array: its leading elements, not a strided slice (the kernels
    take contiguous arrays; the last chunk of X is usually shorter)."""
    if rows == buffer.shape[-1]:
        return buffer
    shape = (*buffer.shape[:-1], rows)
    return buffer.reshape(-1)[: math.prod(shape)].reshape(shape)


def hidden_rows(buffer, rows):
    """[T; 1] for ``rows`` rows in a buffer of :func:`hidden_buffer`."""
    T1 = leading(buffer, rows)
    if T1 is not buffer:
        T1[-1] = 1.0  # the leading elements held other rows before
    return T1
