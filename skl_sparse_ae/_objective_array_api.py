"""The objective J and its gradient on any Array API namespace (PyTorch, CuPy...).

The same J and gradient as :mod:`skl_sparse_ae._objective`, written with the
Array API standard only (no ``out=``, no einsum, no in-place update of an
input), so that they run in the namespace and on the device of X, e.g. on a
GPU. NumPy arrays keep the faster NumPy kernel; this module serves the arrays
that scikit-learn's ``array_api_dispatch`` leaves in their own namespace.

Rows are processed in chunks whose temporaries fit in scikit-learn's
``working_memory`` (one chunk in most cases on a GPU), or in
``_HOST_CHUNK_MIB`` in host memory.
The computation runs in the dtype of X; the sums that J and ρ̂ are made of,
and the optimiser's parameters, are float64 where the device has it, as in
the NumPy kernel.
"""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
from sklearn import get_config
from sklearn.utils import gen_batches
from sklearn.utils._array_api import (
    _matching_numpy_dtype,
    _max_precision_float_dtype,
    move_to,
    supported_float_dtypes,
)
from sklearn.utils._chunking import get_chunk_n_rows

from ._objective import Params

# Temporaries of a chunk at most this large (MiB) when the arrays are in host
# memory: larger ones are fresh mappings of the allocator, paid in page faults
# at every pass (PyTorch on 2 CPU cores, 60 000 x 784 float32, h=196: 3.1 s
# an evaluation in one chunk of 1 GiB, 3.4 s in chunks of 64 MiB, 1.6 s in
# chunks of 16 or 4 MiB). On a GPU, fewer and larger chunks launch fewer
# kernels: there scikit-learn's ``working_memory`` alone decides.
_HOST_CHUNK_MIB = 16


def unpack(theta, n_features, n_components, dtype, xp):
    """:class:`Params` of ``dtype`` from a flat vector, in the layout of
    :func:`skl_sparse_ae._objective.unpack` (slices of one cast of theta)."""
    theta = xp.astype(theta, dtype, copy=False)
    h, n = n_components, n_features
    hn = h * n
    return Params(
        W1=xp.reshape(theta[:hn], (h, n)),
        W2T=xp.reshape(theta[hn : 2 * hn], (h, n)),
        b1=theta[2 * hn : 2 * hn + h],
        b2=theta[2 * hn + h :],
    )


def pack(params, dtype, xp):
    """The blocks of :class:`Params` as one flat vector of ``dtype``."""
    blocks = (params.W1, params.W2T, params.b1, params.b2)
    return xp.concat([xp.astype(xp.reshape(block, (-1,)), dtype) for block in blocks])


def logistic_pair(Z, xp):
    """sigmoid(Z) and 1 − sigmoid(Z) = sigmoid(−Z), each accurate to rounding
    relative to its own size however small (the KL term divides by their
    means), and free of overflow: e = exp(−|Z|) is at most 1."""
    e = xp.exp(-xp.abs(Z))
    large = 1.0 / (1.0 + e)  # sigmoid(|Z|), in [1/2, 1]
    small = e * large  # sigmoid(−|Z|), in [0, 1/2]
    positive = Z >= 0
    return xp.where(positive, large, small), xp.where(positive, small, large)


def sigmoid(Z, xp):
    """sigmoid(Z) as ½·tanh(Z/2) + ½: free of overflow, accurate to rounding
    relative to 1 (all the decoder needs) and cheaper than :func:`logistic_pair`."""
    return 0.5 * xp.tanh(0.5 * Z) + 0.5


def hidden_activations(X, W1, b1, xp):
    """A2 = f(X W1ᵀ + b1)."""
    return logistic_pair(X @ W1.T + b1, xp)[0]


def reconstruct(A2, W2T, b2, decoder, xp):
    """X̂ = g(A2 W2ᵀ + b2) with g the logistic sigmoid or the identity."""
    Z3 = A2 @ W2T + b2
    return sigmoid(Z3, xp) if decoder == "logistic" else Z3


def in_host_memory(X, xp):
    """Whether X is in host memory: array-api-strict (NumPy inside, whatever
    its device), or a device named CPU (PyTorch, JAX)."""
    device = X.device
    return (
        "array_api_strict" in xp.__name__ or "cpu" in str(getattr(device, "type", device)).lower()
    )


def chunk_mib(X, xp):
    """The budget (MiB) of the temporaries of a chunk of rows of X."""
    working_memory = get_config()["working_memory"]
    return min(working_memory, _HOST_CHUNK_MIB) if in_host_memory(X, xp) else working_memory


def row_chunks(X, n_components, xp):
    """Slices of the rows of X whose temporaries (about four rows of X̂ and
    two of A2 each) fit in :func:`chunk_mib`."""
    m, n = X.shape
    row_bytes = (4 * n + 2 * n_components) * xp.finfo(X.dtype).bits // 8
    rows = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=m, working_memory=chunk_mib(X, xp))
    return list(gen_batches(m, rows))


def squared_error_rows(X, params, decoder, xp):
    """½‖X̂ − X‖² for each row of X."""
    parts = []
    for rows in row_chunks(X, params.W1.shape[0], xp):
        Xc = X[rows, ...]
        diff = reconstruct(
            hidden_activations(Xc, params.W1, params.b1, xp), params.W2T, params.b2, decoder, xp
        )
        diff = diff - Xc
        parts.append(0.5 * xp.vecdot(diff, diff))
    return xp.concat(parts)


def mean_activation(X, params, sum_dtype, xp):
    """ρ̂ (in ``sum_dtype``): the mean hidden activation over the rows of X."""
    total = 0.0
    for rows in row_chunks(X, params.W1.shape[0], xp):
        A2 = hidden_activations(X[rows, ...], params.W1, params.b1, xp)
        total = total + xp.sum(A2, axis=0, dtype=sum_dtype)
    return total / X.shape[0]


def kl_terms(rho, rho_hat, rho_hat_complement, beta, dtype, xp):
    """Σⱼ KL(ρ ‖ ρ̂ⱼ), and β(−ρ/ρ̂ + (1−ρ)/(1−ρ̂)) (the term of δ2) in ``dtype``.

    ρ̂ and 1 − ρ̂ are kept at or above the smallest normal number, as in the
    NumPy kernel, so that dead or saturated units give a large finite
    penalty. For the δ2 term they are also kept at or above β/(max/2) of
    ``dtype``, so that it stays within the range of ``dtype`` (times the null
    slope of a unit dead beyond that range it gives 0, not inf · 0) and is
    computed without overflow.
    """
    tiny = float(xp.finfo(rho_hat.dtype).smallest_normal)
    q = xp.clip(rho_hat, min=tiny)
    q_c = xp.clip(rho_hat_complement, min=tiny)
    kl = xp.sum(rho * xp.log(rho / q) + (1.0 - rho) * xp.log((1.0 - rho) / q_c))
    floor = max(beta / (float(xp.finfo(dtype).max) / 2), tiny)
    coef = (-beta * rho) / xp.clip(q, min=floor) + (beta * (1.0 - rho)) / xp.clip(q_c, min=floor)
    return kl, xp.astype(coef, dtype)


def blend(average, decay, rho_hat):
    """Moving average of ρ̂ over minibatches, as the NumPy kernel's ``blend``."""
    if average is None:
        return rho_hat
    return decay * average + (1.0 - decay) * rho_hat


def evaluate(theta, X, n_components, rho, beta, lam, decoder, sum_dtype, xp, rho_hat_prior=None):
    """J, its gradient and ρ̂ of the rows of X, all on X's device.

    As :func:`skl_sparse_ae._objective.evaluate`, for ``theta`` a flat vector
    on the device: returns J as a 0-d array, the gradient as a flat vector of
    ``sum_dtype``, and ρ̂(X). ``rho_hat_prior=(average, decay)`` puts
    ``decay·average + (1 − decay)·ρ̂(X)`` in ρ̂'s place in the KL term
    (minibatches). Two passes over the rows, as ρ̂ must be known over all of
    them before δ2 is formed; A2 and its slope are kept between them (h
    columns a row where X̂ has n).
    """
    m, n = X.shape
    h = n_components
    params = unpack(theta, n, h, X.dtype, xp)
    chunks = row_chunks(X, h, xp)

    hidden, active, inactive = [], 0.0, 0.0
    for rows in chunks:
        A2, A2_c = logistic_pair(X[rows, ...] @ params.W1.T + params.b1, xp)
        active = active + xp.sum(A2, axis=0, dtype=sum_dtype)
        inactive = inactive + xp.sum(A2_c, axis=0, dtype=sum_dtype)
        hidden.append((A2, A2 * A2_c))
    rho_hat, rho_hat_c = active / m, inactive / m
    rho_hat_used = rho_hat
    if rho_hat_prior is not None:
        average, decay = rho_hat_prior
        rho_hat_used = blend(average, decay, rho_hat)
        rho_hat_c = blend(None if average is None else 1.0 - average, decay, rho_hat_c)
    if beta:
        kl, coef = kl_terms(rho, rho_hat_used, rho_hat_c, beta, X.dtype, xp)

    squared_error, gW1, gW2T, gb1, gb2 = 0.0, 0.0, 0.0, 0.0, 0.0
    for rows, (A2, slope) in zip(chunks, hidden, strict=True):
        Xc = X[rows, ...]
        Z3 = A2 @ params.W2T + params.b2
        if decoder == "logistic":
            X_hat = sigmoid(Z3, xp)
            diff = X_hat - Xc
            delta3 = diff * (X_hat * (1.0 - X_hat))
        else:
            diff = delta3 = Z3 - Xc
        squared_error = squared_error + xp.sum(xp.vecdot(diff, diff), dtype=sum_dtype)
        back = delta3 @ params.W2T.T  # δ3 W2
        delta2 = (back + coef if beta else back) * slope
        gW2T = gW2T + A2.T @ delta3
        gb2 = gb2 + xp.sum(delta3, axis=0)
        gW1 = gW1 + delta2.T @ Xc
        gb1 = gb1 + xp.sum(delta2, axis=0)

    W1_sq = xp.sum(params.W1 * params.W1, dtype=sum_dtype)
    W2_sq = xp.sum(params.W2T * params.W2T, dtype=sum_dtype)
    loss = squared_error / (2 * m) + 0.5 * lam * (W1_sq + W2_sq)
    if beta:
        loss = loss + beta * kl
    grad = Params(
        W1=gW1 / m + lam * params.W1,
        W2T=gW2T / m + lam * params.W2T,
        b1=gb1 / m,
        b2=gb2 / m,
    )
    return loss, pack(grad, sum_dtype, xp), rho_hat


class ArrayAPIBackend:
    """The objective and the array operations of the solvers for the arrays
    of one namespace and device (see :mod:`skl_sparse_ae._backends`).

    The optimiser's parameters and the gradient are flat vectors of
    ``sum_dtype`` on the device: float64, or float32 on a device without
    float64 (Apple MPS). L-BFGS keeps its own NumPy copy on the host
    (:meth:`from_host`, :meth:`to_host` once per evaluation); Adam's state
    stays on the device.
    """

    is_numpy = False
    limit_threads = False  # the library brings its own threads (BLAS, OpenMP, GPU)
    solver_options = staticmethod(dict)  # no buffers kept between evaluations

    def __init__(self, xp, device):
        self.xp = xp
        self.device = device
        self.sum_dtype = _max_precision_float_dtype(xp, device)
        supported = supported_float_dtypes(xp, device)
        self.float_dtypes = tuple(d for d in (xp.float64, xp.float32) if d in supported)

    def numpy_dtype(self, X):
        """The NumPy dtype that matches X's."""
        return np.dtype(_matching_numpy_dtype(X, xp=self.xp))

    def from_host(self, array, dtype=None):
        """A NumPy array as a new array of ``dtype`` (default ``sum_dtype``)
        on the device."""
        dtype = self.sum_dtype if dtype is None else dtype
        # Cast on the host: the device may not hold float64 at all.
        host = np.asarray(array, dtype=np.float64 if dtype == self.xp.float64 else np.float32)
        return self.xp.asarray(host, device=self.device, copy=True)

    def to_host(self, array):
        """A device array as a float64 NumPy array."""
        return np.asarray(move_to(array, xp=np, device="cpu"), dtype=np.float64)

    def params_from_host(self, params):
        """:class:`Params` of NumPy arrays as device arrays of the same dtype."""
        return Params(
            *(
                self.from_host(block, self.xp.float32 if block.dtype == np.float32 else None)
                for block in vars(params).values()
            )
        )

    def copy_params(self, params):
        """Own, contiguous copies of the blocks (so they outlive ``theta``)."""
        return Params(*(self.xp.asarray(block, copy=True) for block in vars(params).values()))

    def unpack(self, theta, n_features, n_components, dtype):
        return unpack(theta, n_features, n_components, dtype, self.xp)

    def pack(self, params):
        return pack(params, self.sum_dtype, self.xp)

    def evaluate(self, theta, X, n_components, rho, beta, lam, decoder, rho_hat_prior=None):
        return evaluate(
            theta, X, n_components, rho, beta, lam, decoder, self.sum_dtype, self.xp, rho_hat_prior
        )

    def mean_activation(self, X, params):
        return mean_activation(X, params, self.sum_dtype, self.xp)

    def hidden_activations(self, X, W1, b1):
        return hidden_activations(X, W1, b1, self.xp)

    def reconstruct(self, A2, W2T, b2, decoder):
        return reconstruct(A2, W2T, b2, decoder, self.xp)

    def squared_error_rows(self, X, params, decoder):
        return squared_error_rows(X, params, decoder, self.xp)

    def index(self, order):
        """A NumPy permutation of rows as indices on the device."""
        return self.xp.asarray(order, device=self.device)

    def take_rows(self, X, rows):
        """The rows of X at a slice or at device indices."""
        return X[rows, ...] if isinstance(rows, slice) else self.xp.take(X, rows, axis=0)
