"""The sparse autoencoder objective J and its gradient.

Pure functions on arrays: nothing here knows about scikit-learn. Rows of ``X``
are samples. The parameters travel as one flat float64 vector ``theta`` (what
:func:`scipy.optimize.minimize` works on) laid out as
``[W1 (h, n), W2ᵀ (h, n), b1 (h,), b2 (n,)]``.

One evaluation does the five matrix products X W1ᵀ, A2 W2ᵀ, δ3 W2, δ3ᵀ A2 and
δ2ᵀ X. Everything else is elementwise work, done in place on buffers of one
row chunk so that no temporary grows with the number of samples.
"""

# SPDX-License-Identifier: BSD-3-Clause

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sklearn import get_config
from sklearn.utils import gen_batches
from threadpoolctl import ThreadpoolController

# ρ̂ is clipped into [_RHO_HAT_TINY, 1 - _RHO_HAT_TINY] before the logs of the
# KL term: a dead (or saturated) unit must give a large finite penalty, not NaN.
_RHO_HAT_TINY = 1e-12

# Upper bound on the bytes of per-chunk temporaries: chunks that fit in the L2
# cache keep the several elementwise passes over a chunk in cache.
_CACHE_BYTES = 1 << 20

# The hidden activations A2 (m, h) of the first pass are kept for the second
# when they are small, or at most half the size of X; otherwise they are
# recomputed (one more product per evaluation, but memory stays bounded by a
# fraction of X).
_KEEP_HIDDEN_ALWAYS_BYTES = 32 << 20


@dataclass(frozen=True)
class Params:
    """Views of the four parameter blocks in the dtype of the computation."""

    W1: np.ndarray  # (h, n) encoder weights
    W2T: np.ndarray  # (h, n) decoder weights, transposed
    b1: np.ndarray  # (h,)
    b2: np.ndarray  # (n,)

    def copy(self):
        """Own, contiguous copies of the blocks (so they outlive ``theta``)."""
        return Params(*(np.array(block, copy=True) for block in vars(self).values()))


def n_params(n_features, n_components):
    """Length of the flat parameter vector."""
    return 2 * n_components * n_features + n_components + n_features


def pack(params):
    """Flatten parameter blocks into one float64 vector."""
    return np.concatenate(
        [
            params.W1.ravel(),
            params.W2T.ravel(),
            params.b1.ravel(),
            params.b2.ravel(),
        ]
    ).astype(np.float64, copy=False)


def unpack(theta, n_features, n_components, dtype=np.float64):
    """Split a flat vector into :class:`Params` of ``dtype``.

    Views of ``theta`` when the dtype matches; one cast otherwise.
    """
    theta = np.asarray(theta).astype(dtype, copy=False)
    h, n = n_components, n_features
    hn = h * n
    return Params(
        W1=theta[:hn].reshape(h, n),
        W2T=theta[hn : 2 * hn].reshape(h, n),
        b1=theta[2 * hn : 2 * hn + h],
        b2=theta[2 * hn + h :],
    )


def initial_params(n_features, n_components, random_state, dtype=np.float64):
    """UFLDL initialisation: weights ~ U(-r, r), r = √6 / √(n + h + 1), biases 0."""
    r = np.sqrt(6.0) / np.sqrt(n_features + n_components + 1)
    W1 = random_state.uniform(-r, r, size=(n_components, n_features))
    W2T = random_state.uniform(-r, r, size=(n_components, n_features))
    return Params(
        W1=W1.astype(dtype),
        W2T=W2T.astype(dtype),
        b1=np.zeros(n_components, dtype=dtype),
        b2=np.zeros(n_features, dtype=dtype),
    )


def sigmoid_(z):
    """Logistic sigmoid in place, as ½·tanh(z/2) + ½.

    The same function as :func:`scipy.special.expit` (and overflow-free), but
    about three times faster here because ``tanh`` is a single vectorised
    kernel; it returns exact 0 or 1 only where expit rounds to within 1e-16.
    """
    z *= 0.5
    return _sigmoid_of_half_(z)


def _sigmoid_of_half_(half_z):
    """sigmoid(z) in place, given z/2 (saves sigmoid_'s first pass)."""
    np.tanh(half_z, out=half_z)
    half_z *= 0.5
    half_z += 0.5
    return half_z


def _affine_sigmoid(A, W, b, out):
    """sigmoid(A Wᵀ + b) into ``out``. The halving of z is done on the small
    W and b instead of on the result: exact, since ×0.5 is exact in binary."""
    np.matmul(A, (0.5 * W).T, out=out)
    out += 0.5 * b
    return _sigmoid_of_half_(out)


def kl_divergence(rho, rho_hat):
    """Σⱼ KL(ρ ‖ ρ̂ⱼ) for Bernoulli variables, with ρ̂ clipped away from 0 and 1."""
    q = np.clip(rho_hat, _RHO_HAT_TINY, 1.0 - _RHO_HAT_TINY)
    return float(np.sum(rho * np.log(rho / q) + (1.0 - rho) * np.log((1.0 - rho) / (1.0 - q))))


def _kl_gradient(rho, rho_hat, beta):
    """β · ∂KL/∂ρ̂ = β(−ρ/ρ̂ + (1−ρ)/(1−ρ̂)), the term added to δ2."""
    q = np.clip(rho_hat, _RHO_HAT_TINY, 1.0 - _RHO_HAT_TINY)
    return beta * (-rho / q + (1.0 - rho) / (1.0 - q))


def chunk_rows(n_features, n_components, itemsize, n_samples):
    """Rows per chunk: the per-chunk temporaries fit the L2 cache and
    scikit-learn's ``working_memory`` (MiB), whichever is smaller."""
    row_bytes = (2 * n_features + 2 * n_components) * itemsize
    cache_rows = _CACHE_BYTES // row_bytes
    memory_rows = int(get_config()["working_memory"] * 2**20) // row_bytes
    return max(1, min(cache_rows, memory_rows, n_samples))


_blas = None  # threadpoolctl's view of numpy's BLAS, made on first use
_pool = None  # worker threads of the objective, made on first use


def _blas_controller():
    global _blas
    if _blas is None:
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def single_threaded_libraries():
    """Context in which every BLAS and OpenMP pool of the process uses one thread.

    A solver runs in it: the objective brings its own worker threads, and
    idle BLAS threads of other libraries (scipy's own OpenBLAS, used by
    L-BFGS-B between evaluations) busy-wait and take the cores from them.
    Measured on the UFLDL fit with another process busy: 10.1 s → 3.5 s
    (float64), 6.0 s → 1.5 s (float32).
    """
    return ThreadpoolController().limit(limits=1)


def n_threads():
    """Threads for the objective: as many as BLAS may use right now.

    Our threads take the place of BLAS's own, so a limit set by the caller
    (threadpoolctl, or joblib in its worker processes) is respected.
    """
    blas = _blas_controller()
    allowed = max((lib.num_threads for lib in blas.lib_controllers), default=1)
    return max(1, min(allowed, os.cpu_count() or 1))


def _map_in_threads(fn, args_per_call):
    """fn(*args) for each args on the worker threads with single-threaded
    BLAS; results in the order given."""
    global _pool
    n = len(args_per_call)
    if _pool is None or _pool._max_workers < n:
        _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="skl_sparse_ae")
    with _blas_controller().limit(limits=1):
        return [f.result() for f in [_pool.submit(fn, *args) for args in args_per_call]]


def hidden_activations(X, W1, b1, out=None):
    """A2 = f(X W1ᵀ + b1), written into ``out`` if given."""
    if out is None:
        out = np.empty((X.shape[0], W1.shape[0]), dtype=np.result_type(X, W1))
    return _affine_sigmoid(X, W1, b1, out)


def reconstruct(A2, W2T, b2, decoder, out=None):
    """X̂ = g(A2 W2ᵀ + b2) with g the logistic sigmoid or the identity."""
    if out is None:
        out = np.empty((A2.shape[0], W2T.shape[1]), dtype=np.result_type(A2, W2T))
    if decoder == "logistic":
        return _affine_sigmoid(A2, W2T.T, b2, out)
    np.matmul(A2, W2T, out=out)
    out += b2
    return out


def squared_error_rows(X, params, decoder):
    """½‖X̂ − X‖² for each row of X, chunked so X̂ is never held for all rows."""
    m, n = X.shape
    h = params.W1.shape[0]
    step = chunk_rows(n, h, X.dtype.itemsize, m)
    result = np.empty(m, dtype=X.dtype)
    for rows in gen_batches(m, step):
        Xc = X[rows]
        diff = hidden_activations(Xc, params.W1, params.b1)
        diff = reconstruct(diff, params.W2T, params.b2, decoder)
        diff -= Xc
        result[rows] = 0.5 * np.einsum("ij,ij->i", diff, diff)
    return result


@dataclass
class Sums:
    """Sums over rows that J and its gradient are made of.

    Partial sums over disjoint sets of rows (threads, Dask blocks) add up.
    """

    sq_error: float  # Σ‖X̂ − X‖²
    gW1: np.ndarray  # Σ δ2ᵀ X
    gW2T: np.ndarray  # Σ A2ᵀ δ3
    gb1: np.ndarray  # Σ δ2
    gb2: np.ndarray  # Σ δ3

    @classmethod
    def zeros(cls, n, h, dtype):
        return cls(0.0, *(np.zeros(shape, dtype) for shape in ((h, n), (h, n), h, n)))

    def __iadd__(self, other):
        self.sq_error += other.sq_error
        for name in ("gW1", "gW2T", "gb1", "gb2"):
            getattr(self, name).__iadd__(getattr(other, name))
        return self


class _Workspace:
    """Buffers of one chunk and the running sums of one worker thread."""

    def __init__(self, rows, n, h, dtype):
        self.out = np.empty((rows, n), dtype=dtype)  # X̂, then X̂ − X, then δ3
        self.gprime = np.empty((rows, n), dtype=dtype)  # g′(Z3)
        self.hidden = np.empty((rows, h), dtype=dtype)  # A2 when not kept
        self.delta2 = np.empty((rows, h), dtype=dtype)
        self.fprime = np.empty((rows, h), dtype=dtype)  # f′(Z2) = A2(1 − A2)
        # Column sums as ones @ M: a BLAS matrix-vector product, 3-4x faster
        # than M.sum(axis=0) on chunks of this shape.
        self.ones = np.ones(rows, dtype=dtype)
        self.sums = Sums.zeros(n, h, dtype)
        self.hidden_sum = np.zeros(h, dtype=np.float64)


def _forward_hidden_pass(X, rows, params, ws, step, A2_all):
    """First pass over ``rows``: accumulate Σ A2 (and keep A2 if asked)."""
    for start in range(rows.start, rows.stop, step):
        stop = min(start + step, rows.stop)
        A2c = A2_all[start:stop] if A2_all is not None else ws.hidden[: stop - start]
        hidden_activations(X[start:stop], params.W1, params.b1, out=A2c)
        ws.hidden_sum += ws.ones[: stop - start] @ A2c


def _backward_pass(X, rows, params, ws, step, A2_all, sparsity, decoder):
    """Second pass over ``rows``: squared error and gradient sums."""
    sums = ws.sums
    for start in range(rows.start, rows.stop, step):
        stop = min(start + step, rows.stop)
        c = stop - start
        Xc = X[start:stop]
        if A2_all is not None:
            A2c = A2_all[start:stop]
        else:
            A2c = hidden_activations(Xc, params.W1, params.b1, out=ws.hidden[:c])

        # δ3 = (X̂ − X) · g′(Z3), with g′ = X̂(1 − X̂) for the sigmoid, 1 for identity.
        d3 = reconstruct(A2c, params.W2T, params.b2, decoder, out=ws.out[:c])
        if decoder == "logistic":
            gp = np.subtract(1.0, d3, out=ws.gprime[:c])
            gp *= d3
        d3 -= Xc
        flat = d3.ravel()
        sums.sq_error += float(np.dot(flat, flat))
        if decoder == "logistic":
            d3 *= gp

        # δ2 = (δ3 W2 + β KL′(ρ̂)) · A2(1 − A2)
        d2 = np.matmul(d3, params.W2T.T, out=ws.delta2[:c])
        if sparsity is not None:
            d2 += sparsity
        fprime = np.subtract(1.0, A2c, out=ws.fprime[:c])
        fprime *= A2c
        d2 *= fprime

        sums.gW2T += A2c.T @ d3
        sums.gb2 += ws.ones[:c] @ d3
        sums.gW1 += d2.T @ Xc
        sums.gb1 += ws.ones[:c] @ d2


def sparsity_term(rho, rho_hat, beta, dtype):
    """The vector added to δ2 (None when sparsity is off)."""
    return _kl_gradient(rho, rho_hat, beta).astype(dtype) if beta else None


def block_hidden_sum(X, params):
    """Σ A2 over the rows of one block (single thread), float64."""
    m, n = X.shape
    h = params.W1.shape[0]
    step = chunk_rows(n, h, X.dtype.itemsize, m)
    ws = _Workspace(step, n, h, X.dtype)
    _forward_hidden_pass(X, range(0, m), params, ws, step, None)
    return ws.hidden_sum


def block_sums(X, params, sparsity, decoder):
    """:class:`Sums` over the rows of one block (single thread)."""
    m, n = X.shape
    h = params.W1.shape[0]
    step = chunk_rows(n, h, X.dtype.itemsize, m)
    ws = _Workspace(step, n, h, X.dtype)
    _backward_pass(X, range(0, m), params, ws, step, None, sparsity, decoder)
    return ws.sums


def loss_and_grad_from_sums(sums, m, theta, params, rho, beta, lam, rho_hat):
    """J and its float64 gradient from the row sums over all m rows."""
    n, h = params.W1.shape[1], params.W1.shape[0]
    W1_sq = float(np.dot(params.W1.ravel(), params.W1.ravel()))
    W2_sq = float(np.dot(params.W2T.ravel(), params.W2T.ravel()))
    loss = sums.sq_error / (2 * m) + 0.5 * lam * (W1_sq + W2_sq)
    if beta:
        loss += beta * kl_divergence(rho, rho_hat)

    inv_m = 1.0 / m
    grad = np.empty(theta.shape[0], dtype=np.float64)
    g = unpack(grad, n, h)  # float64 views into grad
    for g_block, sum_block, w_block in (
        (g.W1, sums.gW1, params.W1),
        (g.W2T, sums.gW2T, params.W2T),
    ):
        np.multiply(sum_block, inv_m, out=g_block)
        g_block += lam * w_block
    np.multiply(sums.gb1, inv_m, out=g.b1)
    np.multiply(sums.gb2, inv_m, out=g.b2)
    return loss, grad


def loss_and_grad(theta, X, n_components, rho, beta, lam, decoder="logistic", n_workers=None):
    """The objective J and its gradient at ``theta``.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters (see :func:`pack`); float64 as scipy passes them.
    X : ndarray of shape (n_samples, n_features)
        Training data; the computation runs in its dtype. Read only.
    n_components : int
        Number of hidden units h.
    rho, beta, lam : float
        Target activation ρ, sparsity weight β and weight decay λ.
    decoder : {"logistic", "identity"}
        Output nonlinearity g.
    n_workers : int, default=None
        Worker threads; default :func:`n_threads`.

    Returns
    -------
    loss : float
        J = (1/2m) Σ‖X̂ − X‖² + (λ/2)(‖W1‖² + ‖W2‖²) + β Σⱼ KL(ρ ‖ ρ̂ⱼ).
    grad : ndarray of shape (n_params,), float64
        ∂J/∂theta.
    """
    loss, grad, _ = evaluate(theta, X, n_components, rho, beta, lam, decoder, n_workers=n_workers)
    return loss, grad


def keep_hidden_activations(X, n_components):
    """Whether the first pass keeps A2 for the second (else it is recomputed)."""
    hidden_bytes = X.shape[0] * n_components * X.dtype.itemsize
    return hidden_bytes <= max(X.nbytes // 2, _KEEP_HIDDEN_ALWAYS_BYTES)


def evaluate(
    theta,
    X,
    n_components,
    rho,
    beta,
    lam,
    decoder,
    rho_hat_prior=None,
    keep_hidden=None,
    n_workers=None,
):
    """J, its gradient and the mean hidden activation of the rows of X.

    ``rho_hat_prior=(average, decay)`` is for minibatches: the KL term then
    uses ``decay·average + (1 − decay)·ρ̂(X)`` in place of ρ̂(X), a moving
    average that estimates ρ̂ over all the data (see the ``adam`` solver).
    The returned activation is always ρ̂(X) of these rows. ``keep_hidden``
    overrides :func:`keep_hidden_activations` (for tests); ``n_workers``
    overrides :func:`n_threads`.
    """
    m, n = X.shape
    h = n_components
    dtype = X.dtype
    params = unpack(theta, n, h, dtype)
    step = chunk_rows(n, h, dtype.itemsize, m)

    if keep_hidden is None:
        keep_hidden = keep_hidden_activations(X, h)
    A2_all = np.empty((m, h), dtype=dtype) if keep_hidden else None

    # Rows are split into one contiguous block per thread; each thread walks its
    # block in cache-sized chunks with single-threaded BLAS and its own sums,
    # and the sums are added in block order so results are repeatable.
    n_blocks = min(n_workers or n_threads(), max(1, m // step))
    # (sklearn's gen_even_slices validates its arguments: 0.2 ms, per call)
    bounds = np.linspace(0, m, n_blocks + 1).astype(int)
    blocks = [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    workspaces = [_Workspace(step, n, h, dtype) for _ in blocks]

    def run(fn, *args):
        calls = [
            (X, rows, params, ws, step, A2_all, *args)
            for rows, ws in zip(blocks, workspaces, strict=True)
        ]
        if n_blocks == 1:
            fn(*calls[0])
        else:
            _map_in_threads(fn, calls)

    run(_forward_hidden_pass)
    rho_hat = sum(ws.hidden_sum for ws in workspaces) / m
    rho_hat_used = rho_hat if rho_hat_prior is None else blend(*rho_hat_prior, rho_hat)
    run(_backward_pass, sparsity_term(rho, rho_hat_used, beta, dtype), decoder)

    sums = workspaces[0].sums
    for ws in workspaces[1:]:
        sums += ws.sums
    loss, grad = loss_and_grad_from_sums(sums, m, theta, params, rho, beta, lam, rho_hat_used)
    return loss, grad, rho_hat


def blend(average, decay, rho_hat):
    """Moving average of ρ̂ over minibatches (the first batch starts it)."""
    if average is None:
        return rho_hat
    return decay * average + (1.0 - decay) * rho_hat


def mean_activation(X, params):
    """ρ̂: the mean hidden activation over all rows of X."""
    return block_hidden_sum(X, params) / X.shape[0]
