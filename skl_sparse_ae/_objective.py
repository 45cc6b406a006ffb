"""The sparse autoencoder objective J and its gradient, written once for every array library.

Pure functions on arrays: nothing here knows about scikit-learn's
estimators. Rows of ``X`` are samples. The parameters travel as one flat
vector ``theta`` (float64, what :func:`scipy.optimize.minimize` works on)
laid out as ``[W1 (h, n), W2ᵀ (h, n), b1 (h,), b2 (n,)]``.

One evaluation does the five matrix products X W1ᵀ, A2 W2ᵀ, δ3 W2, δ3ᵀ A2 and
δ2ᵀ X. Everything else is elementwise work on one row chunk at a time, done
by a kernel (:class:`ElementwiseKernel`), so that no temporary grows with the
number of samples. The formulation is the Array API standard's, for NumPy,
PyTorch, CuPy and array-api-strict alike (see :mod:`skl_sparse_ae._array_api`
for where they differ): on NumPy arrays the steps run in place on buffers
kept between evaluations, on worker threads, with the NumPy or numba kernel;
on other namespaces, on X's device with the Array API kernel.
"""

# SPDX-License-Identifier: BSD-3-Clause

import functools
import operator
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from sklearn import get_config
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

from ._array_api import (
    NUMPY,
    add_to_rows,
    chunk_mib,
    expit,
    matmul,
    row_squared_norms,
    set_at,
    set_rows,
    smallest_positions,
    space_of,
    squared_norm,
)
from ._buffers import EvaluationBuffers, hidden_buffer, hidden_rows, leading
from ._kernels import kernel_for, tanh_
from ._parallel import contiguous_runs, map_in_threads, n_threads

# ρ̂ and 1 − ρ̂ are kept at or above the smallest normal number of the sums'
# dtype (float64) in the KL term, the one guard needed so that a unit dead
# beyond its range (ρ̂ = 0 after underflow) gives a large finite penalty,
# not inf or NaN.
_RHO_HAT_TINY = np.finfo(np.float64).tiny

# The loops sum A2 = (1 + T)/2 with T = tanh(Z2/2): where A2 (or 1 − A2) is
# small, 1 ± T cancels and each row keeps an absolute error of about eps of
# the dtype, so ρ̂ has a relative error of eps/ρ̂ (1.7e-6 at ρ̂ = 2e-11 in
# float64). For the hidden units whose mean activation (or inactivation)
# over a thread's rows is below this bound, the sums, and the KL gradient of
# units whose ρ̂ is below it, are computed from expit(Z2) in float64 instead:
# exact to rounding, and rare enough (dying or saturated units) to cost
# little. The bounds keep the relative error of the fast form below ~2e-10
# (float64) and ~1e-3 (float32, whose J is good to ~1e-6 at best).
_TAIL_ACTIVATION = {"float64": 1e-6, "float32": 1e-4}

# Target bytes of per-chunk temporaries: chunks that fit in the L2 cache keep
# the several elementwise passes over a chunk in cache...
_CACHE_BYTES = 1 << 20
# ...but not fewer rows than this: with wide rows (784 features, 196 hidden
# units) cache-sized chunks of ~130 rows made the products 15% slower, more
# than the cache saved (60 000 x 784 float32: 1.49x the products' floor per
# iteration at 133 rows, 1.29x at 1066; the UFLDL case did not change).
_MIN_CHUNK_ROWS = 1024

# ρ̂ must be known over all rows before δ2, so an evaluation makes two passes.
# The hidden activations of the first pass (m x (h + 1), see ChunkWeights) are kept
# for the second when they are small or at most half the size of X, which
# saves the encoder product and its tanh (measured: 15% of an evaluation on
# the UFLDL case); otherwise they are recomputed, so that memory stays
# bounded by a fraction of X.
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
        if space_of(self.W1).is_numpy:
            return Params(*(np.array(block, copy=True) for block in vars(self).values()))
        xp = space_of(self.W1).xp
        return Params(*(xp.asarray(block, copy=True) for block in vars(self).values()))


@dataclass(frozen=True)
class Variant:
    """What the model computes beyond the UFLDL sparse autoencoder (the defaults).

    - ``penalty``: the sparsity term, "kl" (β Σⱼ KL(ρ ‖ ρ̂ⱼ)) or "l1"
      (β Σⱼ ρ̂ⱼ = (β/m) Σ |A2|, the activations being positive; ρ is unused);
    - ``k``: k-sparse codes: in each row only the k largest hidden activations
      are kept and the others set to 0, in the forward pass and so in the
      gradient, which flows through the kept units only;
    - ``tied``: W2ᵀ = W1; the flat vector then holds W1, b1, b2 only.
    """

    penalty: str = "kl"
    k: int | None = None
    tied: bool = False


UFLDL = Variant()


def n_params(n_features, n_components, tied=False):
    """Length of the flat parameter vector."""
    return (1 if tied else 2) * n_components * n_features + n_components + n_features


def _flat(blocks, space):
    """The blocks one after the other in one vector of ``space.sum_dtype``."""
    xp = space.xp
    flat = xp.concat([xp.reshape(block, (-1,)) for block in blocks])
    return xp.astype(flat, space.sum_dtype, copy=False)


def pack(params, tied=False):
    """Flatten parameter blocks into one vector of the sums' dtype (float64
    where the device has it; ``tied``: without W2ᵀ)."""
    blocks = [params.W1, params.b1, params.b2] if tied else vars(params).values()
    return _flat(blocks, space_of(params.W1))


def unpack(theta, n_features, n_components, dtype=np.float64, tied=False):
    """Split a flat vector into :class:`Params` of ``dtype``.

    Views of ``theta`` when the dtype matches; one cast otherwise. ``tied``:
    the vector holds W1, b1, b2, and W2ᵀ is W1 (the same array).
    """
    xp = space_of(theta).xp
    theta = xp.astype(xp.asarray(theta), dtype, copy=False)
    h, n = n_components, n_features
    hn = h * n
    W1 = xp.reshape(theta[:hn], (h, n))
    W2T, rest = (W1, hn) if tied else (xp.reshape(theta[hn : 2 * hn], (h, n)), 2 * hn)
    return Params(W1=W1, W2T=W2T, b1=theta[rest : rest + h], b2=theta[rest + h :])


def fold_tied(g, space):
    """The gradient in the tied layout from the gradient blocks ``g`` in the
    untied one: W1 serves as both W1 and W2ᵀ, so their gradients add up."""
    return _flat([g.W1 + g.W2T, g.b1, g.b2], space)


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
    tiny = float(xp.finfo(space.sum_dtype).smallest_normal)
    return xp.clip(rho_hat, min=tiny), xp.clip(rho_hat_complement, min=tiny)


def kl_divergence(rho, rho_hat, rho_hat_complement=None):
    """Σⱼ KL(ρ ‖ ρ̂ⱼ) for Bernoulli variables; finite for ρ̂ = 0 or 1."""
    q, q_c = _guarded(rho_hat, rho_hat_complement)
    xp = space_of(q).xp
    return xp.sum(rho * xp.log(rho / q) + (1.0 - rho) * xp.log((1.0 - rho) / q_c))


def _kl_gradient(rho, q, q_c, beta):
    """β · ∂KL/∂ρ̂ = β(−ρ/ρ̂ + (1−ρ)/(1−ρ̂)), the term added to δ2."""
    return beta * (-rho / q + (1.0 - rho) / q_c)


def chunk_rows(n_features, n_components, itemsize, n_samples):
    """Rows per chunk of NumPy arrays: the per-chunk temporaries fit the L2
    cache (with at least ``_MIN_CHUNK_ROWS`` rows) and scikit-learn's
    ``working_memory`` (MiB), whichever is smaller."""
    row_bytes = (2 * n_features + 2 * n_components) * itemsize
    cache_rows = max(_CACHE_BYTES // row_bytes, _MIN_CHUNK_ROWS)
    memory_rows = int(get_config()["working_memory"] * 2**20) // row_bytes
    return max(1, min(cache_rows, memory_rows, n_samples))


def _rows_per_chunk(X, n_components, space):
    """Rows per chunk of X: :func:`chunk_rows` for NumPy; elsewhere, about
    four rows of X̂ and two of A2 within :func:`skl_sparse_ae._array_api.chunk_mib`
    (one chunk in most cases on a GPU, where fewer kernel launches win)."""
    m, n = X.shape
    itemsize = space.xp.finfo(X.dtype).bits // 8
    if space.is_numpy:
        return chunk_rows(n, n_components, itemsize, m)
    row_bytes = (4 * n + 2 * n_components) * itemsize
    return get_chunk_n_rows(
        row_bytes=row_bytes, max_n_rows=m, working_memory=chunk_mib(X, space.xp)
    )


def hidden_activations(X, W1, b1, out=None, k=None):
    """A2 = f(X W1ᵀ + b1), written into ``out`` if given; ``k``: only the k
    largest of each row kept, the others 0 (k-sparse codes)."""
    space = space_of(X)
    if out is None and space.is_numpy:
        out = np.empty((X.shape[0], W1.shape[0]), dtype=np.result_type(X, W1))
    out = _affine_sigmoid(X, W1, b1, out)
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


def squared_error_rows(X, params, decoder, k=None):
    """½‖X̂ − X‖² for each row of X, chunked so X̂ is never held for all rows
    (``k``: from k-sparse codes)."""
    space = space_of(X)
    m = X.shape[0]
    step = _rows_per_chunk(X, params.W1.shape[0], space)
    result = space.empty((m,), X.dtype)
    for rows in gen_batches(m, step):
        Xc = X[rows, ...]
        diff = hidden_activations(Xc, params.W1, params.b1, k=k)
        diff = reconstruct(diff, params.W2T, params.b2, decoder)
        diff -= Xc
        result[rows] = 0.5 * row_squared_norms(diff, space)
    return result


class ElementwiseKernel(Protocol):
    """The kernel contract: the elementwise steps of one pass over a chunk.

    A pass over a chunk of rows (:func:`_forward_pass`, :func:`_backward_pass`)
    is matrix products and the three steps below, done by the kernel of the
    arrays (:func:`skl_sparse_ae._kernels.kernel_for`): for NumPy arrays the
    process's, NumPy ufuncs or numba's fused loops, in place on buffers of the
    chunk; for other namespaces the Array API kernel. Each step returns its
    result, which is its first argument where the kernel works in place, and
    adds to the sums it is given (arrays of the caller's, in place). Every
    NumPy array is C-contiguous and in the dtype of X, except the float64
    ``t_sum``; ``scratch`` is a buffer of the shape of the first argument
    that a kernel may use (None for the Array API kernel). The notation is
    that of :class:`ChunkWeights`.

    A kernel may also do a thread's whole pass over its chunks itself, the
    products included (``forward_chunks_``, ``backward_chunks_``: the same
    sums, from the same BLAS, in one call that holds no GIL); it returns
    False where it does not, and the step-by-step loop runs. ``bounds`` are
    the chunks' first and end rows (int64 arrays); ``hidden`` holds T of
    chunk i in ``hidden[i]`` (shape (chunks, h + 1, step)) if ``stored``,
    else ``hidden[0]`` is a buffer for T. ``balanced_chunks``: rows may be
    cut so that every thread gets as many chunks (which moves the chunk
    boundaries, hence the rounding, with the thread count).
    """

    name: str
    balanced_chunks: bool

    def encode_(self, T, b1_half, t_sum):
        """T (h, c) holds Z2ᵀ/2 − b1/2: return tanh(Z2ᵀ/2) and add its sum
        over the chunk's rows to ``t_sum`` (h,), unless that is None."""

    def output_delta_(self, d3, Xc, logistic, scratch):
        """d3 (c, n) holds Z3/2 (logistic) or Z3 (identity): return δ3′ and
        the chunk's Σ s² (logistic) or Σ‖X̂ − X‖² (identity)."""

    def hidden_delta_(self, d2, T, coef, gb1, scratch):
        """d2 (h, c) holds δ3′ (W2/8)ᵀ: return δ2′ = (d2 + coef)(1 − T²)
        (``coef`` (h,) may be None: no sparsity term) and add its sum over
        the chunk's rows to ``gb1`` (h,)."""

    def forward_chunks_(self, X_in, bounds, hidden, stored, weights, t_sum):
        """The encoding of :func:`_forward_pass` for these chunks: T into
        ``hidden``, its sum into ``t_sum``; False if left to the loop."""

    def backward_chunks_(self, X, X_in, bounds, hidden, stored, weights, ws):
        """The sums of :func:`_backward_pass` for these chunks, added to
        ``ws.sums`` (its tail terms aside); False if left to the loop."""


@dataclass(frozen=True)
class ChunkWeights:
    """The small arrays the chunk passes work with, derived once per evaluation.

    The passes keep T = tanh(Z2/2) rather than A2 = sigmoid(Z2) = (1 + T)/2 and
    fold the constants of that identity into these arrays, so that no pass over
    a chunk is spent on them (with n and h as small as in the UFLDL exercise,
    an elementwise pass over a chunk costs about a fifth of a product):

    - encoder: T = tanh(X (W1/2)ᵀ + b1/2);
    - decoder input: A2 W2ᵀ + b2 = [T, 1] V, V = [W2ᵀ/2 ; b2 + Σⱼ W2ᵀⱼ/2]
      (halved once more for the logistic decoder, whose tanh takes Z3/2). T is
      stored with a row of ones below it, so b2 and its gradient come out of
      the matrix products;
    - logistic decoder: with t = tanh(Z3/2), X̂ − X = s/2 for s = t + 1 − 2X and
      g′ = (1 − t²)/4, so δ3 = s(1 − t²)/8 =: δ3′/8 (identity decoder: δ3′ = δ3);
    - δ2 = (δ3 W2 + βKL′)·A2(1 − A2) = (δ3′ (W2/8) + βKL′)(1 − T²)/4 =: δ2′/4.

    :class:`Sums` holds the sums of δ3′ and δ2′; :func:`loss_and_grad_from_sums`
    scales them back once. The float64 encoder ``W1``, ``b1`` serves the rare
    hidden units whose activations are too small for the tanh form (see
    ``_TAIL_ACTIVATION`` and :class:`Sparsity`). ``kernel`` does the
    elementwise steps (:class:`ElementwiseKernel`). With ``k`` (k-sparse
    codes), T of the units dropped from a row is set to −1: A2 = 0 there, and
    so is 1 − T², the slope through which δ2 flows.
    """

    W1_half: np.ndarray  # (h, n)
    b1_half: np.ndarray  # (h,)
    V: np.ndarray  # (h + 1, n)
    W2_scaled: np.ndarray  # (h, n): W2ᵀ · δ3's scale
    decoder: str
    W1: np.ndarray  # (h, n) in the sums' dtype (float64)
    b1: np.ndarray  # (h,) in the sums' dtype
    kernel: ElementwiseKernel
    space: object  # the skl_sparse_ae._array_api.Space of the arrays
    sparsity: "Sparsity | None" = None
    k: int | None = None

    @classmethod
    def make(cls, params, decoder, sparsity=None, kernel=None, k=None):
        """From :class:`Params` in the dtype of X (float64 blocks are used as
        they are, float32 ones are widened for the exact encoder); ``kernel``
        defaults to that of the arrays' namespace."""
        space = space_of(params.W1)
        xp = space.xp
        half = 0.5 if decoder == "logistic" else 1.0  # logistic: tanh takes Z3/2
        last = half * (params.b2 + 0.5 * xp.sum(params.W2T, axis=0))
        V = xp.concat([params.W2T * (0.5 * half), xp.reshape(last, (1, -1))])
        return cls(
            W1_half=0.5 * params.W1,
            b1_half=0.5 * params.b1,
            V=V,
            W2_scaled=params.W2T * _DELTA3_SCALE[decoder],
            decoder=decoder,
            W1=xp.astype(params.W1, space.sum_dtype, copy=False),
            b1=xp.astype(params.b1, space.sum_dtype, copy=False),
            kernel=kernel or kernel_for(space),
            space=space,
            sparsity=sparsity,
            k=k if k is not None and k < params.W1.shape[0] else None,
        )


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
        fast = ~in_tail  # not q[tail]: 1/q there could overflow
        coef = space.zeros(q.shape, dtype)
        coef[fast] = xp.astype(_kl_gradient(rho, q[fast], q_c[fast], beta), dtype)
        return cls(
            coef=coef,
            tail=tail,
            tail_q=xp.take(q, tail),
            tail_q_c=xp.take(q_c, tail),
            beta_rho=beta * rho,
            beta_rho_c=beta * (1.0 - rho),
        )


def _dtype_name(dtype):
    """ "float64" or "float32", for a dtype of any namespace."""
    return "float32" if "32" in str(dtype) else "float64"


# δ3 = scale · δ3′ and Σ(X̂ − X)² = scale · Σ (what the loop squares), per decoder.
_DELTA3_SCALE = {"logistic": 0.125, "identity": 1.0}
_SQUARED_ERROR_SCALE = {"logistic": 0.25, "identity": 1.0}


@dataclass
class Sums:
    """Sums over rows that J and its gradient are made of (see :class:`ChunkWeights`).

    Partial sums over disjoint sets of rows (threads, Dask blocks) add up.
    """

    decoder: str
    sq: float  # Σ s² (logistic) or Σ‖X̂ − X‖² (identity)
    G: np.ndarray  # (h + 1, n): [T, 1]ᵀ δ3′
    gW1: np.ndarray  # (h, n): δ2′ᵀ X
    gb1: np.ndarray  # (h,): Σ δ2′
    tail_gW1: np.ndarray  # (k, n) float64: the KL part of δ2ᵀ X of the tail units
    tail_gb1: np.ndarray  # (k,) float64: its Σ over rows

    @classmethod
    def zeros(cls, n, h, dtype, decoder, n_tail=0, space=NUMPY):
        return cls(
            decoder,
            0.0,
            *(space.zeros(shape, dtype) for shape in ((h + 1, n), (h, n), h)),
            space.zeros((n_tail, n)),
            space.zeros(n_tail),
        )

    def __iadd__(self, other):
        self.sq += other.sq
        self.G += other.G
        self.gW1 += other.gW1
        self.gb1 += other.gb1
        self.tail_gW1 += other.tail_gW1
        self.tail_gb1 += other.tail_gb1
        return self


@dataclass
class HiddenSums:
    """Σ A2 and Σ (1 − A2) over rows, per hidden unit, float64: ρ̂ and 1 − ρ̂
    times m, each accurate on its own (see ``_TAIL_ACTIVATION``). Partial
    sums over disjoint sets of rows add up."""

    active: np.ndarray  # (h,)
    inactive: np.ndarray  # (h,)

    @classmethod
    def zeros(cls, h, space=NUMPY):
        return cls(space.zeros(h), space.zeros(h))

    def __iadd__(self, other):
        self.active += other.active
        self.inactive += other.inactive
        return self

    def means(self, m):
        """(ρ̂, 1 − ρ̂) over m rows."""
        return self.active / m, self.inactive / m


class _Workspace:
    """Buffers of one chunk and the running sums of one worker thread
    (NumPy arrays; elsewhere the steps make their own arrays, no buffers)."""

    def __init__(self, rows, n, h, dtype, decoder, n_tail=0, space=NUMPY):
        self.space = space
        if space.is_numpy:
            self.visible = np.empty((rows, n), dtype=dtype)  # Z3, then s, then δ3′
            self.visible_scratch = np.empty((rows, n), dtype=dtype)
            self.hidden = hidden_buffer((h + 1, rows), dtype)  # [T; 1] when not kept
            self.delta2 = np.empty((h, rows), dtype=dtype)
            self.hidden_scratch = np.empty((h, rows), dtype=dtype)
        else:
            self.visible = self.visible_scratch = self.hidden = None
            self.delta2 = self.hidden_scratch = None
        self.shape = (n, h, dtype, decoder)
        self.sums = Sums.zeros(n, h, dtype, decoder, n_tail, space)
        self.hidden_sums = HiddenSums.zeros(h, space)  # over the rows seen

    def restart(self):
        """Zero sums, and the row of ones again (a short last chunk wrote its
        leading elements over it): the buffers of another evaluation."""
        n, h, dtype, decoder = self.shape
        self.sums = Sums.zeros(n, h, dtype, decoder, 0, self.space)
        self.hidden_sums = HiddenSums.zeros(h, self.space)
        if self.hidden is not None:
            self.hidden[-1] = 1.0
        return self


def _columns(buffer, count):
    """The leading ``count`` columns of a (k, rows) NumPy buffer as a
    C-contiguous array (:func:`leading`); None where there are no buffers."""
    return None if buffer is None else leading(buffer, count)


def _rows(buffer, count):
    """The first ``count`` rows of a (rows, n) NumPy buffer; None where there are no buffers."""
    return None if buffer is None else buffer[:count]


def _encode_chunk(Xc, weights, T, t_sum):
    """T = tanh(Z2/2) (h, rows) of the rows Xc, written into the buffer T if
    given, with the units dropped by k-sparsity at −1; its sum over the rows
    added to ``t_sum`` unless that is None."""
    space = weights.space
    T = matmul(weights.W1_half, Xc.T, out=T)
    if weights.k is None:
        return weights.kernel.encode_(T, weights.b1_half, t_sum)
    T = weights.kernel.encode_(T, weights.b1_half, None)
    T = set_at(T, _dropped(T, weights.k, space), -1.0, 0, space)
    if t_sum is not None:
        t_sum += space.xp.sum(T, axis=1, dtype=t_sum.dtype)
    return T


def _dropped(T, k, space):
    """Where the units each row (column of T) drops are (see :func:`set_at`)."""
    return smallest_positions(T, T.shape[0] - k, 0, space)


def _kept(Xc, weights, units):
    """Whether each of the hidden ``units`` is kept in each row of Xc, as a
    (rows, len(units)) 0/1 array of the sums' dtype, or None when k-sparsity
    is off. The same choice as :func:`_encode_chunk` makes (the same
    computation)."""
    if weights.k is None:
        return None
    space = weights.space
    T = weights.kernel.encode_(weights.W1_half @ Xc.T, weights.b1_half, None)
    kept = set_at(
        space.ones(T.shape, space.sum_dtype), _dropped(T, weights.k, space), 0.0, 0, space
    )
    return space.xp.take(kept, units, axis=0).T


def _exact_encoder(Xc, weights, units):
    """Z2 of the rows Xc for the hidden ``units``, in the sums' dtype, (rows, k)."""
    xp = weights.space.xp
    Z = xp.astype(Xc, weights.space.sum_dtype, copy=False) @ xp.take(weights.W1, units, axis=0).T
    Z += xp.take(weights.b1, units)
    return Z


def _chunk_buffers(X, X_in, i, step, ws, stored):
    """Rows ``i``·step… of X (the target) and of X_in (the encoder's input),
    and the [T; 1] buffer for them (None where there are no buffers)."""
    rows = _chunk(i, step, X.shape[0])
    buffer = ws.hidden if stored is None else stored[i]
    T1 = (
        None
        if buffer is None or isinstance(stored, list)
        else hidden_rows(buffer, rows.stop - rows.start)
    )
    return X[rows, ...], X_in[rows, ...], T1


def _chunk(i, step, m):
    """The rows of chunk ``i`` (a slice within bounds, as the standard asks)."""
    return slice(i * step, min((i + 1) * step, m))


def _with_ones(T, T1, space):
    """[T; 1]: the buffer ``T1`` whose leading rows T is, or T and a row of ones."""
    if T1 is not None:
        return T1
    return space.xp.concat([T, space.ones((1, T.shape[1]), T.dtype)])


def _chunk_bounds(chunks, step, m):
    """First and end rows of ``chunks`` (int64 arrays), for the kernels' whole passes."""
    starts = np.arange(chunks.start, chunks.stop, dtype=np.int64) * step
    return starts, np.minimum(starts + step, m)


def _hidden_of(chunks, ws, stored):
    """The T buffers of ``chunks`` for the kernels' whole passes (None without buffers)."""
    if ws.hidden is None:
        return None
    return ws.hidden[np.newaxis] if stored is None else stored[chunks.start : chunks.stop]


def _forward_pass(X, X_in, chunks, weights, ws, step, stored):
    """First pass over ``chunks``: add their :class:`HiddenSums` to the
    workspace's (and keep T if ``stored``: NumPy buffers, or a list that
    gets T of each chunk)."""
    space = weights.space
    xp = space.xp
    t_sum = space.zeros(weights.W1.shape[0])
    bounds = _chunk_bounds(chunks, step, X.shape[0])
    rows = int(np.sum(bounds[1] - bounds[0]))
    hidden = _hidden_of(chunks, ws, stored)
    if not weights.kernel.forward_chunks_(X_in, bounds, hidden, stored is not None, weights, t_sum):
        for i in chunks:
            _, Xc_in, T1 = _chunk_buffers(X, X_in, i, step, ws, stored)
            T = _encode_chunk(Xc_in, weights, None if T1 is None else T1[:-1], t_sum)
            if isinstance(stored, list):
                stored[i] = T
    sums = HiddenSums(0.5 * (rows + t_sum), 0.5 * (rows - t_sum))
    # Units whose mean A2 or 1 − A2 over these rows is below the tail bound,
    # i.e. |Σ T| > rows·(1 − 2·bound): rare, and summed again exactly.
    bound = _TAIL_ACTIVATION[_dtype_name(X.dtype)]
    tail = xp.nonzero(xp.abs(t_sum) > rows * (1.0 - 2.0 * bound))[0]
    if tail.shape[0]:
        active_sum = space.zeros(tail.shape[0])
        inactive_sum = space.zeros(tail.shape[0])
        for i in chunks:
            Xc_in = X_in[_chunk(i, step, X.shape[0]), ...]
            Z = _exact_encoder(Xc_in, weights, tail)
            active, inactive = expit(Z, space), expit(-Z, space)
            kept = _kept(Xc_in, weights, tail)
            if kept is not None:  # a dropped unit is inactive: A2 = 0
                active *= kept
                inactive *= kept
                inactive += 1.0 - kept
            active_sum += xp.sum(active, axis=0)
            inactive_sum += xp.sum(inactive, axis=0)
        set_rows(sums.active, tail, active_sum, space)
        set_rows(sums.inactive, tail, inactive_sum, space)
    ws.hidden_sums += sums


def _backward_pass(X, X_in, chunks, weights, ws, step, stored):
    """Second pass over ``chunks``: squared error and gradient sums."""
    sums, kernel, sparsity, space = ws.sums, weights.kernel, weights.sparsity, weights.space
    coef = None if sparsity is None else sparsity.coef
    bounds = _chunk_bounds(chunks, step, X.shape[0])
    hidden = _hidden_of(chunks, ws, stored)
    if kernel.backward_chunks_(X, X_in, bounds, hidden, stored is not None, weights, ws):
        if sparsity is not None and sparsity.tail.shape[0]:
            for i in chunks:
                _add_tail_sparsity(X_in[_chunk(i, step, X.shape[0]), ...], weights, sums)
        return
    for i in chunks:
        Xc, Xc_in, T1 = _chunk_buffers(X, X_in, i, step, ws, stored)
        c = Xc.shape[0]
        if stored is None:
            T = _encode_chunk(Xc_in, weights, None if T1 is None else T1[:-1], None)
        else:  # its sum is known
            T = stored[i] if isinstance(stored, list) else T1[:-1]
        T1 = _with_ones(T, T1, space)

        d3 = matmul(T1.T, weights.V, out=_rows(ws.visible, c))  # Z3/2, or Z3
        d3, sq = kernel.output_delta_(
            d3, Xc, weights.decoder == "logistic", _rows(ws.visible_scratch, c)
        )  # δ3′
        sums.sq += sq if space.is_numpy else space.xp.astype(sq, space.sum_dtype)

        d2 = matmul(weights.W2_scaled, d3.T, out=_columns(ws.delta2, c))
        if sparsity is not None and sparsity.tail.shape[0]:
            _add_tail_sparsity(Xc_in, weights, sums)
        d2 = kernel.hidden_delta_(d2, T, coef, sums.gb1, _columns(ws.hidden_scratch, c))

        sums.G += T1 @ d3
        sums.gW1 += d2 @ Xc_in


def _add_tail_sparsity(Xc_in, weights, sums):
    """The KL part of δ2 for the tail units of :class:`Sparsity`, in the sums' dtype."""
    sparsity, space = weights.sparsity, weights.space
    xp = space.xp
    Z = _exact_encoder(Xc_in, weights, sparsity.tail)
    slope = expit(Z, space)
    slope *= expit(-Z, space)  # A2(1 − A2), accurate however small
    kept = _kept(Xc_in, weights, sparsity.tail)
    if kept is not None:
        slope *= kept  # no gradient through a dropped unit
    coef = (slope / sparsity.tail_q) * (-sparsity.beta_rho)
    coef += (slope / sparsity.tail_q_c) * sparsity.beta_rho_c
    sums.tail_gb1 += xp.sum(coef, axis=0)
    sums.tail_gW1 += coef.T @ xp.astype(Xc_in, space.sum_dtype, copy=False)


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


def _chunks(X, h, space):
    """Rows per chunk and the number of chunks."""
    step = _rows_per_chunk(X, h, space)
    return step, -(-X.shape[0] // step)


def _balanced(m, step, n_chunks, n_workers):
    """Rows per chunk and chunks, at most ``step`` rows each, so that each of
    ``n_workers`` threads gets as many chunks: with 7 chunks on 2 threads,
    one of them waited a chunk's time for the other at each pass."""
    wanted = -(-n_chunks // n_workers) * n_workers
    if n_chunks < n_workers or n_chunks == wanted:
        return step, n_chunks
    new_step = -(-m // wanted)
    if -(-m // new_step) != wanted:  # too few rows to cut that finely
        return step, n_chunks
    return new_step, wanted


def block_hidden_sums(X, params, k=None):
    """:class:`HiddenSums` over the rows of one block (single thread)."""
    space = space_of(X)
    n, h = X.shape[1], params.W1.shape[0]
    step, n_chunks = _chunks(X, h, space)
    ws = _Workspace(step, n, h, X.dtype, "identity", space=space)
    weights = ChunkWeights.make(params, "identity", k=k)
    stored = None if space.is_numpy else [None] * n_chunks
    _forward_pass(X, X, range(n_chunks), weights, ws, step, stored)
    return ws.hidden_sums


def block_sums(X, params, sparsity, decoder, k=None):
    """:class:`Sums` over the rows of one block (single thread)."""
    space = space_of(X)
    n, h = X.shape[1], params.W1.shape[0]
    step, n_chunks = _chunks(X, h, space)
    ws = _Workspace(step, n, h, X.dtype, decoder, _n_tail(sparsity), space)
    weights = ChunkWeights.make(params, decoder, sparsity, k=k)
    _backward_pass(X, X, range(n_chunks), weights, ws, step, None)
    return ws.sums


def _n_tail(sparsity):
    return 0 if sparsity is None else sparsity.tail.shape[0]


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
    xp, sum_dtype = space.xp, space.sum_dtype
    W1_sq = squared_norm(params.W1, space)
    W2_sq = squared_norm(params.W2T, space)
    sq_error = _SQUARED_ERROR_SCALE[sums.decoder] * sums.sq
    loss = sq_error / (2 * m) + 0.5 * lam * (W1_sq + W2_sq)
    if beta:
        loss += beta * penalty_value(rho, rho_hat, rho_hat_complement, variant.penalty)

    d3_scale = _DELTA3_SCALE[sums.decoder] / m
    # A2 = (1 + T)/2: A2ᵀδ3 = (Tᵀδ3′ + 1ᵀδ3′)·scale/2, and 1ᵀδ3 is b2's gradient.
    gW2T = xp.astype(sums.G[:-1, ...] + sums.G[-1, ...], sum_dtype)
    gW2T *= 0.5 * d3_scale
    gW2T += lam * params.W2T
    gb2 = xp.astype(sums.G[-1, ...] * d3_scale, sum_dtype)
    gW1 = xp.astype(sums.gW1 * (0.25 / m), sum_dtype)
    gW1 += lam * params.W1
    gb1 = xp.astype(sums.gb1 * (0.25 / m), sum_dtype)
    if _n_tail(sparsity):
        add_to_rows(gW1, sparsity.tail, sums.tail_gW1 / m, space)
        add_to_rows(gb1, sparsity.tail, sums.tail_gb1 / m, space)
    g = Params(W1=gW1, W2T=gW2T, b1=gb1, b2=gb2)
    return loss, fold_tied(g, space) if variant.tied else _flat(vars(g).values(), space)


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
    weights = ChunkWeights.make(params, decoder, kernel=kernel, k=variant.k)
    # Other libraries run their own threads (BLAS, OpenMP, a GPU's streams).
    n_workers = (n_workers or n_threads()) if space.is_numpy else 1
    step, n_chunks = _chunks(X, h, space)
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


def mean_activation(X, params, k=None):
    """ρ̂: the mean hidden activation over all rows of X (``k``: of the k-sparse codes)."""
    return block_hidden_sums(X, params, k).means(X.shape[0])[0]
