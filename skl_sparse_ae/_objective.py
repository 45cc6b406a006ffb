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

import functools
import math
import operator
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from scipy.special import expit
from sklearn import get_config
from sklearn.utils import gen_batches

from ._kernels import default_kernel, tanh_
from ._parallel import contiguous_runs, map_in_threads, n_threads

# ρ̂ and 1 − ρ̂ are kept at or above the smallest normal float64 in the KL
# term, the one guard needed so that a unit dead beyond float64's range
# (ρ̂ = 0 after underflow) gives a large finite penalty, not inf or NaN.
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
_TAIL_ACTIVATION = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-4}

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
        return Params(*(np.array(block, copy=True) for block in vars(self).values()))


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


def pack(params, tied=False):
    """Flatten parameter blocks into one float64 vector (``tied``: without W2ᵀ)."""
    blocks = [params.W1, params.b1, params.b2] if tied else vars(params).values()
    return np.concatenate([block.ravel() for block in blocks]).astype(np.float64, copy=False)


def unpack(theta, n_features, n_components, dtype=np.float64, tied=False):
    """Split a flat vector into :class:`Params` of ``dtype``.

    Views of ``theta`` when the dtype matches; one cast otherwise. ``tied``:
    the vector holds W1, b1, b2, and W2ᵀ is W1 (the same array).
    """
    theta = np.asarray(theta).astype(dtype, copy=False)
    h, n = n_components, n_features
    hn = h * n
    W1 = theta[:hn].reshape(h, n)
    W2T, rest = (W1, hn) if tied else (theta[hn : 2 * hn].reshape(h, n), 2 * hn)
    return Params(W1=W1, W2T=W2T, b1=theta[rest : rest + h], b2=theta[rest + h :])


def fold_tied(grad, n_features, n_components):
    """The gradient in the tied layout from the gradient in the untied one:
    W1 serves as both W1 and W2ᵀ, so their gradients add up."""
    g = unpack(grad, n_features, n_components)
    return np.concatenate([(g.W1 + g.W2T).ravel(), g.b1, g.b2])


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
    faster because ``tanh`` (:func:`tanh_`) is one vectorised kernel where
    expit makes several passes; it returns exact 0 or 1 only where expit
    rounds to within 1e-16.
    """
    z *= 0.5
    return _sigmoid_of_half_(z)


def _sigmoid_of_half_(half_z):
    """sigmoid(z) in place, given z/2 (saves sigmoid_'s first pass)."""
    tanh_(half_z)
    half_z *= 0.5
    half_z += 0.5
    return half_z


def _affine_sigmoid(A, W, b, out):
    """sigmoid(A Wᵀ + b) into ``out``. The halving of z is done on the small
    W and b instead of on the result: exact, since ×0.5 is exact in binary."""
    np.matmul(A, (0.5 * W).T, out=out)
    out += 0.5 * b
    return _sigmoid_of_half_(out)


def _guarded(rho_hat, rho_hat_complement):
    """ρ̂ and 1 − ρ̂ (given, or computed), kept at or above ``_RHO_HAT_TINY``.

    1 − ρ̂ is passed in when it is known more accurately than by subtraction
    (a saturated unit, ρ̂ within rounding of 1).
    """
    rho_hat = np.asarray(rho_hat, dtype=np.float64)
    if rho_hat_complement is None:
        rho_hat_complement = 1.0 - rho_hat
    return np.maximum(rho_hat, _RHO_HAT_TINY), np.maximum(rho_hat_complement, _RHO_HAT_TINY)


def kl_divergence(rho, rho_hat, rho_hat_complement=None):
    """Σⱼ KL(ρ ‖ ρ̂ⱼ) for Bernoulli variables; finite for ρ̂ = 0 or 1."""
    q, q_c = _guarded(rho_hat, rho_hat_complement)
    return float(np.sum(rho * np.log(rho / q) + (1.0 - rho) * np.log((1.0 - rho) / q_c)))


def _kl_gradient(rho, q, q_c, beta):
    """β · ∂KL/∂ρ̂ = β(−ρ/ρ̂ + (1−ρ)/(1−ρ̂)), the term added to δ2."""
    return beta * (-rho / q + (1.0 - rho) / q_c)


def chunk_rows(n_features, n_components, itemsize, n_samples):
    """Rows per chunk: the per-chunk temporaries fit the L2 cache (with at
    least ``_MIN_CHUNK_ROWS`` rows) and scikit-learn's ``working_memory``
    (MiB), whichever is smaller."""
    row_bytes = (2 * n_features + 2 * n_components) * itemsize
    cache_rows = max(_CACHE_BYTES // row_bytes, _MIN_CHUNK_ROWS)
    memory_rows = int(get_config()["working_memory"] * 2**20) // row_bytes
    return max(1, min(cache_rows, memory_rows, n_samples))


def hidden_activations(X, W1, b1, out=None, k=None):
    """A2 = f(X W1ᵀ + b1), written into ``out`` if given; ``k``: only the k
    largest of each row kept, the others 0 (k-sparse codes)."""
    if out is None:
        out = np.empty((X.shape[0], W1.shape[0]), dtype=np.result_type(X, W1))
    _affine_sigmoid(X, W1, b1, out)
    if k is not None and k < out.shape[1]:
        np.put_along_axis(out, _smallest(out, out.shape[1] - k, axis=1), 0.0, axis=1)
    return out


def _smallest(A, count, axis):
    """Indices of the ``count`` smallest entries of A along ``axis`` (in no
    particular order; ties broken the same way every time)."""
    return np.take(np.argpartition(A, count - 1, axis=axis), np.arange(count), axis=axis)


def reconstruct(A2, W2T, b2, decoder, out=None):
    """X̂ = g(A2 W2ᵀ + b2) with g the logistic sigmoid or the identity."""
    if out is None:
        out = np.empty((A2.shape[0], W2T.shape[1]), dtype=np.result_type(A2, W2T))
    if decoder == "logistic":
        return _affine_sigmoid(A2, W2T.T, b2, out)
    np.matmul(A2, W2T, out=out)
    out += b2
    return out


def squared_error_rows(X, params, decoder, k=None):
    """½‖X̂ − X‖² for each row of X, chunked so X̂ is never held for all rows
    (``k``: from k-sparse codes)."""
    m, n = X.shape
    h = params.W1.shape[0]
    step = chunk_rows(n, h, X.dtype.itemsize, m)
    result = np.empty(m, dtype=X.dtype)
    for rows in gen_batches(m, step):
        Xc = X[rows]
        diff = hidden_activations(Xc, params.W1, params.b1, k=k)
        diff = reconstruct(diff, params.W2T, params.b2, decoder)
        diff -= Xc
        result[rows] = 0.5 * np.einsum("ij,ij->i", diff, diff)
    return result


class ElementwiseKernel(Protocol):
    """The kernel contract: the elementwise steps of one pass over a chunk.

    A pass over a chunk of rows (:func:`_forward_pass`, :func:`_backward_pass`)
    is matrix products, done by NumPy's BLAS, and the three steps below, done
    in place on buffers of the chunk by the kernel of the process
    (:func:`skl_sparse_ae._kernels.default_kernel`): NumPy ufuncs, or numba's
    fused loops. Every array is C-contiguous and in the dtype of X, except
    the float64 ``t_sum``; ``scratch`` is a buffer of the shape of the first
    argument that a kernel may use. The notation is that of
    :class:`ChunkWeights`.

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
        """T (h, c) holds Z2ᵀ/2 − b1/2: make it tanh(Z2ᵀ/2) and add its sum
        over the chunk's rows to ``t_sum`` (h,), unless that is None."""

    def output_delta_(self, d3, Xc, logistic, scratch):
        """d3 (c, n) holds Z3/2 (logistic) or Z3 (identity): make it δ3′
        and return the chunk's Σ s² (logistic) or Σ‖X̂ − X‖² (identity)."""

    def hidden_delta_(self, d2, T, coef, gb1, scratch):
        """d2 (h, c) holds δ3′ (W2/8)ᵀ: make it δ2′ = (d2 + coef)(1 − T²)
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
    W1: np.ndarray  # (h, n) float64
    b1: np.ndarray  # (h,) float64
    kernel: ElementwiseKernel
    sparsity: "Sparsity | None" = None
    k: int | None = None

    @classmethod
    def make(cls, params, decoder, sparsity=None, kernel=None, k=None):
        """From :class:`Params` in the dtype of X (float64 blocks are used as
        they are, float32 ones are widened for the exact encoder); ``kernel``
        defaults to the process's."""
        dtype = params.W1.dtype
        half = 0.5 if decoder == "logistic" else 1.0  # logistic: tanh takes Z3/2
        V = np.empty((params.W2T.shape[0] + 1, params.W2T.shape[1]), dtype=dtype)
        np.multiply(params.W2T, 0.5 * half, out=V[:-1])
        V[-1] = half * (params.b2 + 0.5 * params.W2T.sum(axis=0))
        return cls(
            W1_half=0.5 * params.W1,
            b1_half=0.5 * params.b1,
            V=V,
            W2_scaled=params.W2T * _DELTA3_SCALE[decoder],
            decoder=decoder,
            W1=params.W1.astype(np.float64, copy=False),
            b1=params.b1.astype(np.float64, copy=False),
            kernel=kernel or default_kernel(),
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
        tail = np.flatnonzero(np.minimum(q, q_c) < _TAIL_ACTIVATION[np.dtype(dtype)])
        fast = slice(None)
        if tail.size:  # not q[tail]: 1/q there could overflow
            fast = np.ones(q.size, dtype=bool)
            fast[tail] = False
        coef = np.zeros(q.size, dtype=dtype)
        coef[fast] = _kl_gradient(rho, q[fast], q_c[fast], beta)
        return cls(
            coef=coef,
            tail=tail,
            tail_q=q[tail],
            tail_q_c=q_c[tail],
            beta_rho=beta * rho,
            beta_rho_c=beta * (1.0 - rho),
        )


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
    def zeros(cls, n, h, dtype, decoder, n_tail=0):
        return cls(
            decoder,
            0.0,
            *(np.zeros(shape, dtype) for shape in ((h + 1, n), (h, n), h)),
            np.zeros((n_tail, n)),
            np.zeros(n_tail),
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
    def zeros(cls, h):
        return cls(np.zeros(h), np.zeros(h))

    def __iadd__(self, other):
        self.active += other.active
        self.inactive += other.inactive
        return self

    def means(self, m):
        """(ρ̂, 1 − ρ̂) over m rows."""
        return self.active / m, self.inactive / m


class _Workspace:
    """Buffers of one chunk and the running sums of one worker thread."""

    def __init__(self, rows, n, h, dtype, decoder, n_tail=0):
        self.visible = np.empty((rows, n), dtype=dtype)  # Z3, then s, then δ3′
        self.visible_scratch = np.empty((rows, n), dtype=dtype)
        self.hidden = _hidden_buffer((h + 1, rows), dtype)  # [T; 1] when not kept
        self.delta2 = np.empty((h, rows), dtype=dtype)
        self.hidden_scratch = np.empty((h, rows), dtype=dtype)
        self.sums = Sums.zeros(n, h, dtype, decoder, n_tail)
        self.hidden_sums = HiddenSums.zeros(h)  # over the rows seen

    def restart(self):
        """Zero sums, and the row of ones again (a short last chunk wrote its
        leading elements over it): the buffers of another evaluation."""
        h, n = self.delta2.shape[0], self.visible.shape[1]
        self.sums = Sums.zeros(n, h, self.visible.dtype, self.sums.decoder)
        self.hidden_sums = HiddenSums.zeros(h)
        self.hidden[-1] = 1.0
        return self


class EvaluationBuffers:
    """The large buffers of :func:`evaluate` (T of every chunk, each thread's
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


def _hidden_buffer(shape, dtype):
    """Room for T over ``shape[-1]`` rows with the row of ones below it."""
    buffer = np.empty(shape, dtype=dtype)
    buffer[..., -1, :] = 1.0
    return buffer


def _leading(buffer, rows):
    """The first ``rows`` columns of a (k, rows_max) buffer as a C-contiguous
    (k, rows) array: its leading elements, not a strided slice (the kernels
    take contiguous arrays; the last chunk of X is usually shorter)."""
    if rows == buffer.shape[-1]:
        return buffer
    shape = (*buffer.shape[:-1], rows)
    return buffer.reshape(-1)[: math.prod(shape)].reshape(shape)


def _hidden_rows(buffer, rows):
    """[T; 1] for ``rows`` rows in a buffer of :func:`_hidden_buffer`."""
    T1 = _leading(buffer, rows)
    if T1 is not buffer:
        T1[-1] = 1.0  # the leading elements held other rows before
    return T1


def _encode_chunk(Xc, weights, T, t_sum):
    """T = tanh(Z2/2) of the rows Xc, written into T (h, rows), with the
    units dropped by k-sparsity at −1; its sum over the rows added to
    ``t_sum`` unless that is None."""
    np.matmul(weights.W1_half, Xc.T, out=T)
    if weights.k is None:
        weights.kernel.encode_(T, weights.b1_half, t_sum)
        return T
    weights.kernel.encode_(T, weights.b1_half, None)
    np.put_along_axis(T, _dropped(T, weights.k), -1.0, axis=0)
    if t_sum is not None:
        t_sum += T.sum(axis=1, dtype=np.float64)
    return T


def _dropped(T, k):
    """Indices (h − k, rows) of the units each row (column of T) drops."""
    return _smallest(T, T.shape[0] - k, axis=0)


def _kept(Xc, weights, units):
    """Whether each of the hidden ``units`` is kept in each row of Xc, as a
    (rows, len(units)) 0/1 float64 array, or None when k-sparsity is off.
    The same choice as :func:`_encode_chunk` makes (the same computation)."""
    if weights.k is None:
        return None
    T = np.empty((weights.W1.shape[0], Xc.shape[0]), dtype=weights.W1_half.dtype)
    np.matmul(weights.W1_half, Xc.T, out=T)
    weights.kernel.encode_(T, weights.b1_half, None)
    kept = np.ones(T.shape)
    np.put_along_axis(kept, _dropped(T, weights.k), 0.0, axis=0)
    return kept[units].T


def _exact_encoder(Xc, weights, units):
    """Z2 of the rows Xc for the hidden ``units``, in float64, (rows, k)."""
    Z = Xc.astype(np.float64, copy=False) @ weights.W1[units].T
    Z += weights.b1[units]
    return Z


def _chunk_buffers(X, X_in, i, step, ws, stored):
    """Rows ``i``·step… of X (the target) and of X_in (the encoder's input),
    and the [T; 1] buffer for them."""
    start, stop = i * step, min((i + 1) * step, X.shape[0])
    T1 = _hidden_rows(stored[i] if stored is not None else ws.hidden, stop - start)
    return X[start:stop], X_in[start:stop], T1


def _chunk_bounds(chunks, step, m):
    """First and end rows of ``chunks`` (int64 arrays), for the kernels' whole passes."""
    starts = np.arange(chunks.start, chunks.stop, dtype=np.int64) * step
    return starts, np.minimum(starts + step, m)


def _hidden_of(chunks, ws, stored):
    """The T buffers of ``chunks`` for the kernels' whole passes."""
    return ws.hidden[np.newaxis] if stored is None else stored[chunks.start : chunks.stop]


def _forward_pass(X, X_in, chunks, weights, ws, step, stored):
    """First pass over ``chunks``: add their :class:`HiddenSums` to the
    workspace's (and keep T if ``stored``)."""
    t_sum = np.zeros(weights.W1.shape[0])
    bounds = _chunk_bounds(chunks, step, X.shape[0])
    rows = int(np.sum(bounds[1] - bounds[0]))
    hidden = _hidden_of(chunks, ws, stored)
    if not weights.kernel.forward_chunks_(X_in, bounds, hidden, stored is not None, weights, t_sum):
        for i in chunks:
            _, Xc_in, T1 = _chunk_buffers(X, X_in, i, step, ws, stored)
            _encode_chunk(Xc_in, weights, T1[:-1], t_sum)
    sums = HiddenSums(0.5 * (rows + t_sum), 0.5 * (rows - t_sum))
    # Units whose mean A2 or 1 − A2 over these rows is below the tail bound,
    # i.e. |Σ T| > rows·(1 − 2·bound): rare, and summed again exactly.
    tail = np.flatnonzero(np.abs(t_sum) > rows * (1.0 - 2.0 * _TAIL_ACTIVATION[X.dtype]))
    if tail.size:
        sums.active[tail] = sums.inactive[tail] = 0.0
        for i in chunks:
            Xc_in = X_in[i * step : (i + 1) * step]
            Z = _exact_encoder(Xc_in, weights, tail)
            active, inactive = expit(Z), expit(-Z)
            kept = _kept(Xc_in, weights, tail)
            if kept is not None:  # a dropped unit is inactive: A2 = 0
                active *= kept
                inactive *= kept
                inactive += 1.0 - kept
            sums.active[tail] += active.sum(axis=0)
            sums.inactive[tail] += inactive.sum(axis=0)
    ws.hidden_sums += sums


def _backward_pass(X, X_in, chunks, weights, ws, step, stored):
    """Second pass over ``chunks``: squared error and gradient sums."""
    sums, kernel, sparsity = ws.sums, weights.kernel, weights.sparsity
    coef = None if sparsity is None else sparsity.coef
    bounds = _chunk_bounds(chunks, step, X.shape[0])
    hidden = _hidden_of(chunks, ws, stored)
    if kernel.backward_chunks_(X, X_in, bounds, hidden, stored is not None, weights, ws):
        if sparsity is not None and sparsity.tail.size:
            for i in chunks:
                _add_tail_sparsity(X_in[i * step : (i + 1) * step], weights, sums)
        return
    for i in chunks:
        Xc, Xc_in, T1 = _chunk_buffers(X, X_in, i, step, ws, stored)
        c = Xc.shape[0]
        if stored is None:
            _encode_chunk(Xc_in, weights, T1[:-1], None)  # its sum is known
        T = T1[:-1]

        d3 = np.matmul(T1.T, weights.V, out=ws.visible[:c])  # Z3/2, or Z3
        sums.sq += kernel.output_delta_(
            d3, Xc, weights.decoder == "logistic", ws.visible_scratch[:c]
        )  # d3 is δ3′ now

        d2 = np.matmul(weights.W2_scaled, d3.T, out=_leading(ws.delta2, c))
        if sparsity is not None and sparsity.tail.size:
            _add_tail_sparsity(Xc_in, weights, sums)
        kernel.hidden_delta_(d2, T, coef, sums.gb1, _leading(ws.hidden_scratch, c))

        sums.G += T1 @ d3
        sums.gW1 += d2 @ Xc_in


def _add_tail_sparsity(Xc_in, weights, sums):
    """The KL part of δ2 for the tail units of :class:`Sparsity`, in float64."""
    sparsity = weights.sparsity
    Z = _exact_encoder(Xc_in, weights, sparsity.tail)
    slope = expit(Z)
    slope *= expit(-Z)  # A2(1 − A2), accurate however small
    kept = _kept(Xc_in, weights, sparsity.tail)
    if kept is not None:
        slope *= kept  # no gradient through a dropped unit
    coef = np.multiply(slope / sparsity.tail_q, -sparsity.beta_rho)
    coef += (slope / sparsity.tail_q_c) * sparsity.beta_rho_c
    sums.tail_gb1 += coef.sum(axis=0)
    sums.tail_gW1 += coef.T @ Xc_in.astype(np.float64, copy=False)


def sparsity_term(rho, rho_hat, beta, dtype, rho_hat_complement=None, penalty="kl"):
    """:class:`Sparsity` at ρ̂ (None when sparsity is off)."""
    if not beta:
        return None
    if penalty == "l1":  # ∂(β Σⱼ ρ̂ⱼ)/∂A2 = β/m for every unit: nothing to be exact about
        h = np.shape(rho_hat)[0]
        no_tail = np.zeros(0, dtype=np.intp)
        return Sparsity(np.full(h, beta, dtype=dtype), no_tail, np.zeros(0), np.zeros(0), 0, 0)
    return Sparsity.make(rho, rho_hat, rho_hat_complement, beta, dtype)


def penalty_value(rho, rho_hat, rho_hat_complement, penalty="kl"):
    """The sparsity term of J without its weight β."""
    if penalty == "l1":
        return float(np.sum(rho_hat))
    return kl_divergence(rho, rho_hat, rho_hat_complement)


def _chunks(m, n, h, dtype):
    """Rows per chunk and the number of chunks."""
    step = chunk_rows(n, h, dtype.itemsize, m)
    return step, -(-m // step)


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
    m, n = X.shape
    h = params.W1.shape[0]
    step, n_chunks = _chunks(m, n, h, X.dtype)
    ws = _Workspace(step, n, h, X.dtype, "identity")
    weights = ChunkWeights.make(params, "identity", k=k)
    _forward_pass(X, X, range(n_chunks), weights, ws, step, None)
    return ws.hidden_sums


def block_sums(X, params, sparsity, decoder, k=None):
    """:class:`Sums` over the rows of one block (single thread)."""
    m, n = X.shape
    h = params.W1.shape[0]
    step, n_chunks = _chunks(m, n, h, X.dtype)
    ws = _Workspace(step, n, h, X.dtype, decoder, _n_tail(sparsity))
    weights = ChunkWeights.make(params, decoder, sparsity, k=k)
    _backward_pass(X, X, range(n_chunks), weights, ws, step, None)
    return ws.sums


def _n_tail(sparsity):
    return 0 if sparsity is None else sparsity.tail.size


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
    """J and its float64 gradient (in the layout of ``variant``) from the row
    sums over all m rows (``sparsity``: the :class:`Sparsity` the sums were
    made with)."""
    n, h = params.W1.shape[1], params.W1.shape[0]
    W1_sq = float(np.dot(params.W1.ravel(), params.W1.ravel()))
    W2_sq = float(np.dot(params.W2T.ravel(), params.W2T.ravel()))
    sq_error = _SQUARED_ERROR_SCALE[sums.decoder] * sums.sq
    loss = sq_error / (2 * m) + 0.5 * lam * (W1_sq + W2_sq)
    if beta:
        loss += beta * penalty_value(rho, rho_hat, rho_hat_complement, variant.penalty)

    grad = np.empty(n_params(n, h), dtype=np.float64)
    g = unpack(grad, n, h)  # float64 views into grad
    d3_scale = _DELTA3_SCALE[sums.decoder] / m
    # A2 = (1 + T)/2: A2ᵀδ3 = (Tᵀδ3′ + 1ᵀδ3′)·scale/2, and 1ᵀδ3 is b2's gradient.
    gW2T, gW1 = g.W2T, g.W1
    np.add(sums.G[:-1], sums.G[-1], out=gW2T)
    gW2T *= 0.5 * d3_scale
    gW2T += lam * params.W2T
    np.multiply(sums.G[-1], d3_scale, out=g.b2)
    np.multiply(sums.gW1, 0.25 / m, out=gW1)
    gW1 += lam * params.W1
    np.multiply(sums.gb1, 0.25 / m, out=g.b1)
    if _n_tail(sparsity):
        g.W1[sparsity.tail] += sums.tail_gW1 / m
        g.b1[sparsity.tail] += sums.tail_gb1 / m
    return loss, fold_tied(grad, n, h) if variant.tied else grad


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
    hidden_bytes = X.shape[0] * (n_components + 1) * X.dtype.itemsize
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
    the process's kernel. ``buffers`` (:class:`EvaluationBuffers`) keeps the
    large buffers for the next evaluation (a solver passes the same one to
    all its evaluations); by default they are freed on return.
    """
    m, n = X.shape
    h = n_components
    dtype = X.dtype
    X_in = X if X_input is None else X_input
    params = unpack(theta, n, h, dtype, tied=variant.tied)
    weights = ChunkWeights.make(params, decoder, kernel=kernel, k=variant.k)
    n_workers = n_workers or n_threads()
    step, n_chunks = _chunks(m, n, h, dtype)
    if weights.kernel.balanced_chunks:
        step, n_chunks = _balanced(m, step, n_chunks, n_workers)

    if keep_hidden is None:
        keep_hidden = keep_hidden_activations(X, h)
    # T of each chunk in a contiguous block of its own (a view of rows of one
    # (h, m) array would be strided, and the elementwise passes slower).
    buffers = EvaluationBuffers() if buffers is None else buffers
    stored = None
    if keep_hidden:
        shape = (n_chunks, h + 1, step)
        # Its rows of ones stay: only the last chunk's block is used short,
        # and that one is laid out (ones included) afresh each time.
        stored = buffers.get("hidden", (shape, dtype), lambda: _hidden_buffer(shape, dtype))

    # The chunks are split into one contiguous run per thread; each thread
    # has its own buffers and sums, with single-threaded BLAS, and the sums
    # are added in run order so results are repeatable.
    runs = contiguous_runs(n_chunks, n_workers)
    workspaces = buffers.get(
        "workspaces",
        (len(runs), step, n, h, dtype, decoder),
        lambda: [_Workspace(step, n, h, dtype, decoder) for _ in runs],
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
            ws.sums = Sums.zeros(n, h, dtype, decoder, _n_tail(sparsity))
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
