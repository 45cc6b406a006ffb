"""The sparse autoencoder objective J and its gradient, written once for every array library.

Pure functions on arrays: nothing here knows about scikit-learn's
estimators. Rows of ``X`` are samples; the parameters are a flat vector
(:mod:`skl_sparse_ae._parameters`).

One evaluation does the five matrix products X W1ᵀ, A2 W2ᵀ, δ3 W2, δ3ᵀ A2 and
δ2ᵀ X in two passes over row chunks (:mod:`skl_sparse_ae._chunk_passes`);
everything else is elementwise work on one chunk at a time, done by a
kernel, so that no temporary grows with the number of samples. The
formulation is the Array API standard's, for NumPy, PyTorch, CuPy and
array-api-strict alike (see :mod:`skl_sparse_ae._array_api` for where they
differ): on NumPy arrays the steps run in place on buffers kept between
evaluations, on worker threads, with the NumPy or numba kernel; on other
namespaces, on X's device with the Array API kernel. This module turns the
passes' sums into J, its gradient and ρ̂, with the sparsity term.
"""

# SPDX-License-Identifier: BSD-3-Clause

import functools
import operator
from dataclasses import dataclass, replace

import numpy as np

from ._array_api import add, add_to_rows, multiply, space_of, squared_norm
from ._base import chunk_rows, hidden_activations, reconstruct, squared_error_rows
from ._buffers import EvaluationBuffers, hidden_buffer
from ._chunk_passes import (
    _DELTA3_SCALE,
    _SQUARED_ERROR_SCALE,
    _TAIL_ACTIVATION,
    ChunkWeights,
    Sums,
    _backward_pass,
    _balanced,
    _chunks,
    _dtype_name,
    _forward_pass,
    _n_tail,
    _Workspace,
    block_hidden_sums,
    block_sums,
)
from ._parallel import contiguous_runs, map_in_threads, n_threads
from ._parameters import (
    UFLDL,
    Params,
    Variant,
    fold_tied,
    initial_params,
    n_params,
    pack,
    unpack,
)

# The maths' one entry point for the solvers, the estimators and Dask: what
# they use of the layers below is named here too.
__all__ = [
    "UFLDL",
    "EvaluationBuffers",
    "Params",
    "Variant",
    "block_hidden_sums",
    "block_sums",
    "chunk_rows",
    "evaluate",
    "hidden_activations",
    "initial_params",
    "kl_divergence",
    "loss_and_grad",
    "loss_and_grad_from_sums",
    "mean_activation",
    "n_params",
    "pack",
    "reconstruct",
    "sparsity_term",
    "squared_error_rows",
    "unpack",
]

# ρ̂ must be known over all rows before δ2, so an evaluation makes two passes.
# The hidden activations of the first pass (m x (h + 1), see ChunkWeights) are kept
# for the second when they are small or at most half the size of X, which
# saves the encoder product and its tanh (measured: 15% of an evaluation on
# the UFLDL case); otherwise they are recomputed, so that memory stays
# bounded by a fraction of X.
_KEEP_HIDDEN_ALWAYS_BYTES = 32 << 20


def _guarded(rho_hat, rho_hat_complement):
    """ρ̂ and 1 − ρ̂ (given, or computed), kept at or above the smallest
    normal number of their dtype.

    1 − ρ̂ is passed in when it is known more accurately than by subtraction
    (a saturated unit, ρ̂ within rounding of 1).
    """
    space = space_of(rho_hat)
    xp = space.xp
    rho_hat = xp.astype(xp.asarray(rho_hat), space.sum_dtype, copy=False)
    if rho_hat_complement is None:
        rho_hat_complement = 1.0 - rho_hat
    tiny = _smallest_normal(space)
    return xp.clip(rho_hat, min=tiny), xp.clip(rho_hat_complement, min=tiny)


@functools.cache
def _smallest_normal(space):
    return float(space.xp.finfo(space.sum_dtype).smallest_normal)


def kl_divergence(rho, rho_hat, rho_hat_complement=None):
    """Σⱼ KL(ρ ‖ ρ̂ⱼ) for Bernoulli variables; finite for ρ̂ = 0 or 1."""
    q, q_c = _guarded(rho_hat, rho_hat_complement)
    xp = space_of(q).xp
    return xp.sum(rho * xp.log(rho / q) + (1.0 - rho) * xp.log((1.0 - rho) / q_c))


def _kl_gradient(rho, q, q_c, beta):
    """β · ∂KL/∂ρ̂ = β(−ρ/ρ̂ + (1−ρ)/(1−ρ̂)), the term added to δ2."""
    return beta * (-rho / q + (1.0 - rho) / q_c)


@dataclass(frozen=True)
class Sparsity:
    """The KL penalty's part of δ2, given ρ̂ over all rows.

    δ2 gets β KL′(ρ̂ⱼ)·A2(1 − A2) for each unit j. For most units the loops add
    ``coef`` (in the dtype of X) to δ2′ before the product with 1 − T². For a
    unit with ρ̂ or 1 − ρ̂ below ``_TAIL_ACTIVATION`` (the ``tail``), 1 − T²
    would lose the relative accuracy that the large KL′ needs (at b1 = −30
    the b1 gradient came out 10× too small), so its ``coef`` is 0 and the
    term is formed in float64 from expit(Z2) instead, as
    β(−ρ·A2(1−A2)/ρ̂ + (1−ρ)·A2(1−A2)/(1−ρ̂)): the ratios first, so that no
    1/ρ̂ ever overflows.
    """

    coef: np.ndarray  # (h,) in the dtype of X
    tail: np.ndarray  # (k,) indices of the units done in float64
    tail_q: np.ndarray  # (k,) ρ̂ of those units, guarded
    tail_q_c: np.ndarray  # (k,) 1 − ρ̂, guarded
    beta_rho: float  # βρ
    beta_rho_c: float  # β(1 − ρ)

    @classmethod
    def make(cls, rho, rho_hat, rho_hat_complement, beta, dtype):
        q, q_c = _guarded(rho_hat, rho_hat_complement)
        space = space_of(q)
        xp = space.xp
        in_tail = xp.minimum(q, q_c) < _TAIL_ACTIVATION[_dtype_name(dtype)]
        tail = xp.nonzero(in_tail)[0]
        if tail.shape[0]:
            fast = ~in_tail  # not q[tail]: 1/q there could overflow
            coef = space.zeros(q.shape, dtype)
            coef[fast] = xp.astype(_kl_gradient(rho, q[fast], q_c[fast], beta), dtype)
        else:
            coef = xp.astype(_kl_gradient(rho, q, q_c, beta), dtype)
        return cls(
            coef=coef,
            tail=tail,
            tail_q=xp.take(q, tail),
            tail_q_c=xp.take(q_c, tail),
            beta_rho=beta * rho,
            beta_rho_c=beta * (1.0 - rho),
        )


def sparsity_term(rho, rho_hat, beta, dtype, rho_hat_complement=None, penalty="kl"):
    """:class:`Sparsity` at ρ̂ (None when sparsity is off)."""
    if not beta:
        return None
    if penalty == "l1":  # ∂(β Σⱼ ρ̂ⱼ)/∂A2 = β/m for every unit: nothing to be exact about
        space = space_of(rho_hat)
        h = rho_hat.shape[0]
        no_tail = space.zeros(0, space.xp.int64)
        coef = space.xp.full((h,), beta, dtype=dtype, device=space.device)
        return Sparsity(coef, no_tail, space.zeros(0), space.zeros(0), 0, 0)
    return Sparsity.make(rho, rho_hat, rho_hat_complement, beta, dtype)


def penalty_value(rho, rho_hat, rho_hat_complement, penalty="kl"):
    """The sparsity term of J without its weight β."""
    if penalty == "l1":
        return space_of(rho_hat).xp.sum(rho_hat)
    return kl_divergence(rho, rho_hat, rho_hat_complement)


def loss_and_grad_from_sums(
    sums,
    m,
    params,
    rho,
    beta,
    lam,
    rho_hat,
    rho_hat_complement=None,
    sparsity=None,
    variant=UFLDL,
):
    """J and its gradient (in the sums' dtype, in the layout of ``variant``)
    from the row sums over all m rows (``sparsity``: the :class:`Sparsity`
    the sums were made with)."""
    space = space_of(params.W1)
    W1_sq = squared_norm(params.W1, space)
    W2_sq = squared_norm(params.W2T, space)
    sq_error = _SQUARED_ERROR_SCALE[sums.decoder] * sums.sq
    loss = sq_error / (2 * m) + 0.5 * lam * (W1_sq + W2_sq)
    if beta:
        loss += beta * penalty_value(rho, rho_hat, rho_hat_complement, variant.penalty)

    # On NumPy the blocks are written straight into the flat vector (views).
    n, h = params.W1.shape[1], params.W1.shape[0]
    grad = np.empty(n_params(n, h)) if space.is_numpy else None
    out = unpack(grad, n, h) if space.is_numpy else Params(None, None, None, None)
    d3_scale = _DELTA3_SCALE[sums.decoder] / m
    if variant.activation == "relu":  # the sums are those of A2 and δ2 themselves
        gW2T = _widened(multiply(sums.G[:-1, ...], d3_scale, out=out.W2T), space)
        delta2_scale = 1.0 / m
    else:
        # A2 = (1 + T)/2: A2ᵀδ3 = (Tᵀδ3′ + 1ᵀδ3′)·scale/2, and 1ᵀδ3 is b2's gradient.
        gW2T = _widened(add(sums.G[:-1, ...], sums.G[-1, ...], out=out.W2T), space)
        gW2T *= 0.5 * d3_scale
        delta2_scale = 0.25 / m  # δ2 = δ2′/4
    gW2T += lam * params.W2T
    gb2 = _widened(multiply(sums.G[-1, ...], d3_scale, out=out.b2), space)
    gW1 = _widened(multiply(sums.gW1, delta2_scale, out=out.W1), space)
    gW1 += lam * params.W1
    gb1 = _widened(multiply(sums.gb1, delta2_scale, out=out.b1), space)
    if _n_tail(sparsity):
        add_to_rows(gW1, sparsity.tail, sums.tail_gW1 / m, space)
        add_to_rows(gb1, sparsity.tail, sums.tail_gb1 / m, space)
    g = Params(W1=gW1, W2T=gW2T, b1=gb1, b2=gb2)
    if variant.tied:
        return loss, fold_tied(g, space)
    return loss, grad if space.is_numpy else pack(g)


def _widened(a, space):
    """``a`` in the sums' dtype (a cast where it is not yet)."""
    return space.xp.astype(a, space.sum_dtype, copy=False)


def loss_and_grad(theta, X, n_components, rho, beta, lam, decoder="logistic", **options):
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
    **options
        Keyword arguments of :func:`evaluate`, among them:
    n_workers : int, default=None
        Worker threads; default :func:`n_threads`.
    kernel : ElementwiseKernel, default=None
        The elementwise steps; default the process's kernel.
    variant : Variant, default=UFLDL
        Sparsity penalty, k-sparse codes, tied weights (see :class:`Variant`).
    X_input : ndarray of shape (n_samples, n_features), default=None
        The encoder's input when it is not X: a corrupted copy of X for a
        denoising autoencoder, which reconstructs X from it.

    Returns
    -------
    loss : float
        J = (1/2m) Σ‖X̂ − X‖² + (λ/2)(‖W1‖² + ‖W2‖²) + β Σⱼ KL(ρ ‖ ρ̂ⱼ)
        (or + β Σⱼ ρ̂ⱼ with the L1 penalty).
    grad : ndarray of shape (n_params,), float64
        ∂J/∂theta.
    """
    loss, grad, _ = evaluate(theta, X, n_components, rho, beta, lam, decoder, **options)
    return loss, grad


def keep_hidden_activations(X, n_components):
    """Whether the first pass keeps T for the second (else it is recomputed)."""
    itemsize = space_of(X).xp.finfo(X.dtype).bits // 8
    hidden_bytes = X.shape[0] * (n_components + 1) * itemsize
    return hidden_bytes <= max(X.shape[0] * X.shape[1] * itemsize // 2, _KEEP_HIDDEN_ALWAYS_BYTES)


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
    kernel=None,
    variant=UFLDL,
    X_input=None,
    buffers=None,
):
    """J, its gradient and the mean hidden activation of the rows of X.

    ``variant`` and ``X_input`` as for :func:`loss_and_grad`.
    ``rho_hat_prior=(average, decay)`` is for minibatches: the KL term then
    uses ``decay·average + (1 − decay)·ρ̂(X)`` in place of ρ̂(X), a moving
    average that estimates ρ̂ over all the data (see the ``adam`` solver).
    The returned activation is always ρ̂(X) of these rows. ``keep_hidden``
    overrides :func:`keep_hidden_activations` (for tests); ``n_workers``
    overrides :func:`n_threads`; ``kernel`` (an :class:`ElementwiseKernel`)
    the kernel of X's namespace. ``buffers`` (:class:`EvaluationBuffers`)
    keeps the large buffers for the next evaluation (a solver passes the same
    one to all its evaluations); by default they are freed on return.

    On NumPy arrays, J and ρ̂ are float64 NumPy scalars and arrays; on other
    namespaces, 0-d and 1-d arrays of X's namespace and device (in the sums'
    dtype), which stay there until the caller moves them.
    """
    m, n = X.shape
    h = n_components
    dtype = X.dtype
    space = space_of(X)
    X_in = X if X_input is None else X_input
    params = unpack(theta, n, h, dtype, tied=variant.tied)
    weights = ChunkWeights.make(
        params, decoder, kernel=kernel, k=variant.k, activation=variant.activation
    )
    # Other libraries run their own threads (BLAS, OpenMP, a GPU's streams).
    n_workers = (n_workers or n_threads()) if space.is_numpy else 1
    step, n_chunks = _chunks(X, h, space, weights.kernel.whole_passes(weights, X, X_in))
    if weights.kernel.balanced_chunks:
        step, n_chunks = _balanced(m, step, n_chunks, n_workers)

    if keep_hidden is None:
        keep_hidden = keep_hidden_activations(X, h)
    buffers = EvaluationBuffers() if buffers is None else buffers
    stored = None
    if keep_hidden and not space.is_numpy:
        stored = [None] * n_chunks  # T of each chunk, as the steps return it
    elif keep_hidden:
        # T of each chunk in a contiguous block of its own (a view of rows of
        # one (h, m) array would be strided, and the elementwise passes
        # slower). Its rows of ones stay: only the last chunk's block is used
        # short, and that one is laid out (ones included) afresh each time.
        shape = (n_chunks, h + 1, step)
        stored = buffers.get("hidden", (shape, dtype), lambda: hidden_buffer(shape, dtype))

    # The chunks are split into one contiguous run per thread; each thread
    # has its own buffers and sums, with single-threaded BLAS, and the sums
    # are added in run order so results are repeatable.
    runs = contiguous_runs(n_chunks, n_workers)
    workspaces = buffers.get(
        "workspaces",
        (len(runs), step, n, h, dtype, decoder, space.device),
        lambda: [_Workspace(step, n, h, dtype, decoder, space=space) for _ in runs],
    )
    workspaces = [ws.restart() for ws in workspaces]

    def run(fn, weights):
        shares = zip(runs, workspaces, strict=True)
        map_in_threads(fn, [(X, X_in, chunks, weights, ws, step, stored) for chunks, ws in shares])

    run(_forward_pass, weights)
    # Added in run order (in place into the first run's sums): repeatable.
    hidden_sums = functools.reduce(operator.iadd, [ws.hidden_sums for ws in workspaces])
    rho_hat, rho_hat_c = hidden_sums.means(m)
    if rho_hat_prior is not None:
        average, decay = rho_hat_prior
        rho_hat_used = blend(average, decay, rho_hat)
        rho_hat_c = blend(None if average is None else 1.0 - average, decay, rho_hat_c)
    else:
        rho_hat_used = rho_hat
    sparsity = sparsity_term(rho, rho_hat_used, beta, dtype, rho_hat_c, variant.penalty)
    weights = replace(weights, sparsity=sparsity)
    if _n_tail(sparsity):  # room for the tail units' sums
        for ws in workspaces:
            ws.sums = Sums.zeros(n, h, dtype, decoder, _n_tail(sparsity), space)
    run(_backward_pass, weights)

    sums = functools.reduce(operator.iadd, [ws.sums for ws in workspaces])
    loss, grad = loss_and_grad_from_sums(
        sums, m, params, rho, beta, lam, rho_hat_used, rho_hat_c, sparsity, variant
    )
    return loss, grad, rho_hat


def blend(average, decay, rho_hat):
    """Moving average of ρ̂ over minibatches (the first batch starts it)."""
    if average is None:
        return rho_hat
    return decay * average + (1.0 - decay) * rho_hat


def mean_activation(X, params, k=None, activation="sigmoid"):
    """ρ̂: the mean hidden activation over all rows of X (``k``: of the k-sparse codes)."""
    return block_hidden_sums(X, params, k, activation).means(X.shape[0])[0]
