"""The two passes over row chunks that one evaluation makes, and the kernel contract they run on.

ρ̂ must be known over all rows before δ2 is formed, so an evaluation of J
(:func:`skl_sparse_ae._objective.evaluate`) walks the rows twice: the first
pass sums the hidden activations (:class:`HiddenSums`), the second the
squared error and the gradient (:class:`Sums`). Each pass over a chunk is
matrix products and the elementwise steps of a kernel
(:class:`ElementwiseKernel`); the sums of disjoint chunks add up, which is
how threads and Dask blocks share the work.
"""

# SPDX-License-Identifier: BSD-3-Clause

import functools
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ._array_api import (
    NUMPY,
    expit,
    matmul,
    multiply,
    set_at,
    set_rows,
    smallest_positions,
    space_of,
)
from ._base import _rows_per_chunk
from ._buffers import hidden_buffer, hidden_rows, leading
from ._kernels import kernel_for

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

    def whole_passes(self, weights, *arrays):
        """Whether ``forward_chunks_`` and ``backward_chunks_`` do the passes
        over these arrays (X and the encoder's input): their chunks are then
        cut smaller (see :func:`skl_sparse_ae._base.chunk_rows`)."""

    def encode_(self, T, b1_enc, t_sum, activation):
        """T (h, c) holds Z2ᵀ/2 − b1/2: return tanh(Z2ᵀ/2) (for ReLU, T holds
        Z2ᵀ − b1: return max(Z2ᵀ, 0)) and add its sum over the chunk's rows
        to ``t_sum`` (h,), unless that is None."""

    def output_delta_(self, d3, Xc, logistic, scratch):
        """d3 (c, n) holds Z3/2 (logistic) or Z3 (identity): return δ3′ and
        the chunk's Σ s² (logistic) or Σ‖X̂ − X‖² (identity)."""

    def hidden_delta_(self, d2, T, coef, gb1, scratch, activation):
        """d2 (h, c) holds δ3′ (W2/8)ᵀ: return δ2′ = (d2 + coef)(1 − T²)
        (for ReLU, with T = A2: (d2 + coef)·1[T > 0]; ``coef`` (h,) may be
        None: no sparsity term) and add its sum over the chunk's rows to
        ``gb1`` (h,)."""

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

    ReLU units (``activation="relu"``) have no constants to fold: the passes
    keep A2 = max(X W1ᵀ + b1, 0) itself in T's place, V = [W2ᵀ ; b2] (halved
    for the logistic decoder), δ2 = (δ3 W2 + coef)·1[A2 > 0] =: δ2′, and a
    dropped unit's A2 is 0, its slope too. No unit is a tail.
    """

    W1_enc: np.ndarray  # (h, n)
    b1_enc: np.ndarray  # (h,)
    V: np.ndarray  # (h + 1, n)
    W2_scaled: np.ndarray  # (h, n): W2ᵀ · δ3's scale
    decoder: str
    W1: np.ndarray  # (h, n) in the sums' dtype (float64)
    b1: np.ndarray  # (h,) in the sums' dtype
    kernel: ElementwiseKernel
    space: object  # the skl_sparse_ae._array_api.Space of the arrays
    sparsity: object = None  # skl_sparse_ae._objective.Sparsity, or None: no sparsity term
    k: int | None = None
    activation: str = "sigmoid"  # or "relu"

    @classmethod
    def make(cls, params, decoder, sparsity=None, kernel=None, k=None, activation="sigmoid"):
        """From :class:`Params` in the dtype of X (float64 blocks are used as
        they are, float32 ones are widened for the exact encoder); ``kernel``
        defaults to that of the arrays' namespace."""
        space = space_of(params.W1)
        xp = space.xp
        half = 0.5 if decoder == "logistic" else 1.0  # logistic: tanh takes Z3/2
        sigmoid = activation == "sigmoid"
        code_scale = 0.5 if sigmoid else 1.0  # A2 = (1 + T)/2, or A2 itself
        bias = params.b2 + 0.5 * xp.sum(params.W2T, axis=0) if sigmoid else params.b2
        last = half * bias
        if space.is_numpy:  # the rows written in place, not concatenated
            V = np.empty((params.W2T.shape[0] + 1, params.W2T.shape[1]), params.W2T.dtype)
            multiply(params.W2T, code_scale * half, out=V[:-1])
            V[-1] = last
        else:
            V = xp.concat([multiply(params.W2T, code_scale * half), xp.reshape(last, (1, -1))])
        return cls(
            W1_enc=0.5 * params.W1 if sigmoid else params.W1,
            b1_enc=0.5 * params.b1 if sigmoid else params.b1,
            V=V,
            W2_scaled=params.W2T * _DELTA3_SCALE[decoder],
            decoder=decoder,
            W1=xp.astype(params.W1, space.sum_dtype, copy=False),
            b1=xp.astype(params.b1, space.sum_dtype, copy=False),
            kernel=kernel or kernel_for(space),
            space=space,
            sparsity=sparsity,
            k=k if k is not None and k < params.W1.shape[0] else None,
            activation=activation,
        )


@functools.cache
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
    """T = tanh(Z2/2) (ReLU: A2) (h, rows) of the rows Xc, written into the
    buffer T if given, with the units dropped by k-sparsity at −1 (ReLU: 0);
    its sum over the rows added to ``t_sum`` unless that is None."""
    space, activation = weights.space, weights.activation
    T = matmul(weights.W1_enc, Xc.T, out=T)
    if weights.k is None:
        return weights.kernel.encode_(T, weights.b1_enc, t_sum, activation)
    T = weights.kernel.encode_(T, weights.b1_enc, None, activation)
    T = set_at(T, _dropped(T, weights.k, space), _DROPPED_CODE[activation], 0, space)
    if t_sum is not None:
        t_sum += space.xp.sum(T, axis=1, dtype=t_sum.dtype)
    return T


# The code of a unit that k-sparsity drops from a row: A2 = 0.
_DROPPED_CODE = {"sigmoid": -1.0, "relu": 0.0}


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
    T = weights.kernel.encode_(weights.W1_enc @ Xc.T, weights.b1_enc, None, weights.activation)
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
    if weights.activation == "relu":  # Σ A2 itself, and no tails
        ws.hidden_sums += HiddenSums(t_sum, rows - t_sum)
        return
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
        d2 = kernel.hidden_delta_(
            d2, T, coef, sums.gb1, _columns(ws.hidden_scratch, c), weights.activation
        )

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


def _chunks(X, h, space, whole_pass=False):
    """Rows per chunk and the number of chunks (``whole_pass``: for a
    kernel's compiled whole passes, see :func:`chunk_rows`)."""
    step = _rows_per_chunk(X, h, space, whole_pass)
    return step, -(-X.shape[0] // step)


def _balanced(m, step, n_chunks, n_workers):
    """Rows per chunk and chunks, at most ``step`` rows each, so that each of
    ``n_workers`` threads gets as many chunks of near-equal rows: with 7
    chunks on 2 threads, one of them waited a chunk's time for the other at
    each pass (and with 20 chunks of 512 rows of 10 000, 240 rows' time)."""
    wanted = -(-n_chunks // n_workers) * n_workers
    if n_chunks < n_workers:
        return step, n_chunks
    new_step = -(-m // wanted)
    if -(-m // new_step) != wanted:  # too few rows to cut that finely
        return step, n_chunks
    return new_step, wanted


def block_hidden_sums(X, params, k=None, activation="sigmoid"):
    """:class:`HiddenSums` over the rows of one block (single thread)."""
    space = space_of(X)
    n, h = X.shape[1], params.W1.shape[0]
    step, n_chunks = _chunks(X, h, space)
    ws = _Workspace(step, n, h, X.dtype, "identity", space=space)
    weights = ChunkWeights.make(params, "identity", k=k, activation=activation)
    stored = None if space.is_numpy else [None] * n_chunks
    _forward_pass(X, X, range(n_chunks), weights, ws, step, stored)
    return ws.hidden_sums


def block_sums(X, params, sparsity, decoder, k=None, activation="sigmoid"):
    """:class:`Sums` over the rows of one block (single thread)."""
    space = space_of(X)
    n, h = X.shape[1], params.W1.shape[0]
    step, n_chunks = _chunks(X, h, space)
    ws = _Workspace(step, n, h, X.dtype, decoder, _n_tail(sparsity), space)
    weights = ChunkWeights.make(params, decoder, sparsity, k=k, activation=activation)
    _backward_pass(X, X, range(n_chunks), weights, ws, step, None)
    return ws.sums


def _n_tail(sparsity):
    return 0 if sparsity is None else sparsity.tail.shape[0]
