"""The model's forward maps (encoder, decoder, reconstruction error) and their row chunks.

A2 = f(X W1ᵀ + b1) and X̂ = g(A2 W2ᵀ + b2) with the logistic sigmoid written
as ½·tanh(z/2) + ½, for arrays of any namespace: in place on NumPy buffers,
new arrays elsewhere. What :meth:`transform`, :meth:`inverse_transform` and
:meth:`score_samples` compute, and the chunk sizes the objective's passes
use too.
"""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
from sklearn import get_config
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

from ._array_api import (
    chunk_mib,
    matmul,
    row_squared_norms,
    set_at,
    smallest_positions,
    space_of,
)
from ._kernels import tanh_

# Target bytes of per-chunk temporaries: chunks that fit in the L2 cache keep
# the several elementwise passes over a chunk in cache...
_CACHE_BYTES = 1 << 20

# ...but not fewer rows than this: with wide rows (784 features, 196 hidden
# units) cache-sized chunks of ~130 rows made the products 15% slower, more
# than the cache saved (60 000 x 784 float32: 1.49x the products' floor per
# iteration at 133 rows, 1.29x at 1066; the UFLDL case did not change).
_MIN_CHUNK_ROWS = 1024

# Chunks of a compiled whole pass (which holds no GIL, see _kernels._numba)
# are cut smaller where they fit the budget, so that a chunk stays in L2
# between its products and elementwise steps: on the UFLDL exercise (Intel
# Xeon, AVX-512, 2 MiB of L2 per core), 500-row chunks made an evaluation
# 11% (float64) and 7% (float32) faster than 1000- and 1250-row ones. The
# step-by-step passes, which take the GIL at every step, keep larger chunks.
_WHOLE_PASS_ROWS = 512


def _tanh(a, space):
    """tanh(a): in place on NumPy (in the form fastest on this CPU, see
    :func:`skl_sparse_ae._kernels.tanh_`), a new array elsewhere."""
    return tanh_(a) if space.is_numpy else space.xp.tanh(a)


def _sigmoid_of_half(half_z, space):
    """sigmoid(z) as ½·tanh(z/2) + ½, given z/2; in place on NumPy.

    The same function as :func:`scipy.special.expit` (and overflow-free), but
    faster because ``tanh`` is one vectorised kernel where expit makes several
    passes; it returns exact 0 or 1 only where expit rounds to within 1e-16.
    """
    half_z = _tanh(half_z, space)
    half_z *= 0.5
    half_z += 0.5
    return half_z


def _affine_sigmoid(A, W, b, out=None):
    """sigmoid(A Wᵀ + b), into ``out`` if given. The halving of z is done on
    the small W and b instead of on the result: exact, since ×0.5 is exact
    in binary."""
    Z = matmul(A, (0.5 * W).T, out=out)
    Z += 0.5 * b
    return _sigmoid_of_half(Z, space_of(A))


def chunk_rows(n_features, n_components, itemsize, n_samples, whole_pass=False):
    """Rows per chunk of NumPy arrays: the per-chunk temporaries fit the L2
    cache (with at least ``_MIN_CHUNK_ROWS`` rows) and scikit-learn's
    ``working_memory`` (MiB), whichever is smaller; for a kernel's compiled
    ``whole_pass``, ``_WHOLE_PASS_ROWS`` where that many rows fit the cache."""
    row_bytes = (2 * n_features + 2 * n_components) * itemsize
    cache_rows = max(_CACHE_BYTES // row_bytes, _MIN_CHUNK_ROWS)
    if whole_pass and _WHOLE_PASS_ROWS * row_bytes <= _CACHE_BYTES:
        cache_rows = _WHOLE_PASS_ROWS
    memory_rows = int(get_config()["working_memory"] * 2**20) // row_bytes
    return max(1, min(cache_rows, memory_rows, n_samples))


def _rows_per_chunk(X, n_components, space, whole_pass=False):
    """Rows per chunk of X: :func:`chunk_rows` for NumPy; elsewhere, about
    four rows of X̂ and two of A2 within :func:`skl_sparse_ae._array_api.chunk_mib`
    (one chunk in most cases on a GPU, where fewer kernel launches win)."""
    m, n = X.shape
    itemsize = space.xp.finfo(X.dtype).bits // 8
    if space.is_numpy:
        return chunk_rows(n, n_components, itemsize, m, whole_pass)
    row_bytes = (4 * n + 2 * n_components) * itemsize
    return get_chunk_n_rows(
        row_bytes=row_bytes, max_n_rows=m, working_memory=chunk_mib(X, space.xp)
    )


def _affine_relu(A, W, b, out=None):
    """max(A Wᵀ + b, 0), into ``out`` if given."""
    Z = matmul(A, W.T, out=out)
    Z += b
    space = space_of(A)
    if space.is_numpy:
        return np.maximum(Z, 0.0, out=Z)
    return space.xp.clip(Z, min=0.0)


def hidden_activations(X, W1, b1, out=None, k=None, activation="sigmoid"):
    """A2 = f(X W1ᵀ + b1), f the logistic sigmoid or the ReLU
    (``activation``), written into ``out`` if given; ``k``: only the k
    largest of each row kept, the others 0 (k-sparse codes)."""
    space = space_of(X)
    if out is None and space.is_numpy:
        out = np.empty((X.shape[0], W1.shape[0]), dtype=np.result_type(X, W1))
    affine = _affine_relu if activation == "relu" else _affine_sigmoid
    out = affine(X, W1, b1, out)
    if k is not None and k < out.shape[1]:
        dropped = smallest_positions(out, out.shape[1] - k, 1, space)
        out = set_at(out, dropped, 0.0, 1, space)
    return out


def reconstruct(A2, W2T, b2, decoder, out=None):
    """X̂ = g(A2 W2ᵀ + b2) with g the logistic sigmoid or the identity."""
    if out is None and space_of(A2).is_numpy:
        out = np.empty((A2.shape[0], W2T.shape[1]), dtype=np.result_type(A2, W2T))
    if decoder == "logistic":
        return _affine_sigmoid(A2, W2T.T, b2, out)
    out = matmul(A2, W2T, out=out)
    out += b2
    return out


def squared_error_rows(X, params, decoder, k=None, activation="sigmoid"):
    """½‖X̂ − X‖² for each row of X, chunked so X̂ is never held for all rows
    (``k``: from k-sparse codes; ``activation``: of the hidden units)."""
    space = space_of(X)
    m = X.shape[0]
    step = _rows_per_chunk(X, params.W1.shape[0], space)
    result = space.empty((m,), X.dtype)
    for rows in gen_batches(m, step):
        Xc = X[rows, ...]
        diff = hidden_activations(Xc, params.W1, params.b1, k=k, activation=activation)
        diff = reconstruct(diff, params.W2T, params.b2, decoder)
        diff -= Xc
        result[rows] = 0.5 * row_squared_norms(diff, space)
    return result
