"""The numba kernel: each elementwise step of the objective as one fused loop,
and each worker thread's whole pass over its chunks as one compiled call
that calls NumPy's own ``gemm`` for the products (see :mod:`._blas`).

Compiled by numba (the optional ``numba`` extra) on first use, for the dtypes
used, and cached on disk, so the compile cost (seconds) is paid once per
machine. The loops release the GIL and run on the objective's worker
threads, as the NumPy kernel does; numba's own parallel layers are not used
(its OpenMP layer is not fork-safe, and its workqueue layer aborts when two
threads enter it at once).

tanh is computed here rather than called from libm so that the loops
vectorise: tanh(a) = 2 / (1 + e^(−2a)) − 1, with e^x from the range
reduction x = k·ln 2 + r, |r| ≤ ln 2 / 2, a polynomial for e^r, and 2^k
written into the exponent bits. Its absolute error is a few eps of the
dtype, as for ``np.tanh``. The loops are compiled with
``error_model="numpy"`` (Python's check of every division stops
vectorisation) and two fast-math flags only: ``contract`` (fused
multiply-adds) and ``reassoc`` (so that sums over a row vectorise); nothing
assumes infinities or NaN away.
"""

# SPDX-License-Identifier: BSD-3-Clause

import functools
import math
from types import SimpleNamespace

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .._buffers import hidden_rows, leading
from . import _blas

_JIT_OPTIONS = dict(nogil=True, cache=True, error_model="numpy", fastmath={"contract", "reassoc"})


@intrinsic
def _bits(typingctx, x):
    """The bits of a float as the integer of the same width."""
    integer = {types.float64: types.int64, types.float32: types.int32}.get(x)
    if integer is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(integer.bitwidth))

    return integer(x), codegen


@intrinsic
def _float_from_bits(typingctx, x):
    """The float whose bits are the integer ``x`` (the inverse of ``_bits``)."""
    target = {
        types.int64: (types.float64, ir.DoubleType()),
        types.int32: (types.float32, ir.FloatType()),
    }.get(x)
    if target is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], target[1])

    return target[0](x), codegen


def _tanh_constants(dtype, int_type, mantissa_bits, clamp, ln2_hi, ln2_lo, coefficients):
    """The constants of :func:`_tanh` for one float dtype, in that dtype."""
    f = np.dtype(dtype).type
    return SimpleNamespace(
        int_type=int_type,
        one=f(1),
        two=f(2),
        clamp=f(clamp),  # tanh(±clamp) rounds to ±1; clamping keeps e^x finite
        log2e=f(1 / math.log(2)),
        # Adding 1.5·2^mantissa_bits rounds x·log2(e) to the integer k and
        # leaves k in the low bits: shifted into the exponent field and added
        # to the bits of 1.0 they make the bits of 2^k.
        shifter=f(1.5 * 2.0**mantissa_bits),
        mantissa_bits=int_type(mantissa_bits),
        one_bits=int_type(np.array(1, dtype=dtype).view(int_type)),
        ln2_hi=f(ln2_hi),  # ln 2 = hi + lo, hi short enough that k·hi is exact
        ln2_lo=f(ln2_lo),
        coefficients=tuple(f(c) for c in coefficients),  # the highest degree first
    )


# Polynomials of e^r on |r| ≤ ln 2 / 2, the highest degree first: e^r
# interpolated at the Chebyshev nodes of degree 11 (float64) and 6 (float32),
# computed in long double and rounded to the dtype. Relative error 1.4e-17
# and 2.0e-8: smaller than that of the Taylor polynomials of degree 13 and 7
# they replace (4e-18 would do as well; 7e-9), for two and one fewer
# multiply-adds per tanh.
_EXP_FLOAT64 = (
    2.5110628766254416e-08, 2.7632670412038143e-07, 2.755723877792521e-06,
    2.4801485389689232e-05, 0.0001984126989304675, 0.0013888888952414277,
    0.008333333333317613, 0.04166666666648765, 0.16666666666666688,
    0.5000000000000019, 1.0, 1.0,
)  # fmt: skip
_EXP_FLOAT32 = (
    0.0013941108481958508, 0.00837512593716383, 0.04166635125875473,
    0.16666415333747864, 0.5, 1.0, 1.0,
)  # fmt: skip
_TANH_CONSTANTS = {
    types.float64: _tanh_constants(
        np.float64,
        np.int64,
        52,
        20.0,
        6.93147180369123816490e-01,
        1.90821492927058770002e-10,
        _EXP_FLOAT64,
    ),
    types.float32: _tanh_constants(
        np.float32, np.int32, 23, 10.0, 0.693359375, -2.12194440e-4, _EXP_FLOAT32
    ),
}


def _tanh(a):
    """tanh(a) for a float32 or float64 scalar, inside compiled loops only."""
    raise NotImplementedError("compiled by numba through the overload below")


@overload(_tanh, inline="always")
def _tanh_overload(a):
    c = _TANH_CONSTANTS.get(a)
    if c is None:
        return None
    int_type, one, two, clamp, log2e = c.int_type, c.one, c.two, c.clamp, c.log2e
    shifter, mantissa_bits, one_bits = c.shifter, c.mantissa_bits, c.one_bits
    ln2_hi, ln2_lo, coefficients = c.ln2_hi, c.ln2_lo, c.coefficients

    def tanh(a):
        if a > clamp:
            a = clamp
        elif a < -clamp:
            a = -clamp
        x = -two * a
        shifted = x * log2e + shifter
        k = shifted - shifter
        r = x - k * ln2_hi - k * ln2_lo
        p = coefficients[0]
        for coefficient in coefficients[1:]:
            p = p * r + coefficient
        two_to_k = _float_from_bits(int_type((_bits(shifted) << mantissa_bits) + one_bits))
        return two / (one + p * two_to_k) - one

    return tanh


@njit(**_JIT_OPTIONS)
def _tanh_array(a, out):
    """tanh of a 1-D array into ``out`` (for the tests of the formula)."""
    for i in range(a.size):
        out[i] = _tanh(a[i])


# The loops that write a float32 result accumulate nothing in float64 (a
# float64 accumulator would halve their vector width): rows of the output
# are summed in the dtype and added in float64, or summed by a second loop.


@njit(**_JIT_OPTIONS)
def _sum_rows(A, out):
    """out += the sums of the rows of A, in float64."""
    for j in range(A.shape[0]):
        row = A[j]
        total = 0.0
        for i in range(row.size):
            total += row[i]
        out[j] += total


@njit(**_JIT_OPTIONS)
def _encode(T, b1_enc):
    for j in range(T.shape[0]):
        row, b = T[j], b1_enc[j]
        for i in range(row.size):
            row[i] = _tanh(row[i] + b)


@njit(**_JIT_OPTIONS)
def _encode_relu(A, b1):
    zero = A.dtype.type(0)
    for j in range(A.shape[0]):
        row, b = A[j], b1[j]
        for i in range(row.size):
            z = row[i] + b
            row[i] = z if z > zero else zero


@njit(**_JIT_OPTIONS)
def _logistic_output_delta(d3, Xc):
    one = d3.dtype.type(1)
    total = 0.0
    for i in range(d3.shape[0]):
        row, x = d3[i], Xc[i]
        sq = d3.dtype.type(0)
        for k in range(row.size):
            t = _tanh(row[k])
            s = t + one - x[k] - x[k]  # 2(X̂ − X)
            sq += s * s
            row[k] = s * (one - t * t)  # δ3′
        total += sq
    return total


@njit(**_JIT_OPTIONS)
def _identity_output_delta(d3, Xc):
    total = 0.0
    for i in range(d3.shape[0]):
        row, x = d3[i], Xc[i]
        sq = d3.dtype.type(0)
        for k in range(row.size):
            d = row[k] - x[k]  # X̂ − X
            sq += d * d
            row[k] = d
        total += sq
    return total


@njit(**_JIT_OPTIONS)
def _hidden_delta(d2, T, coef):
    one = d2.dtype.type(1)
    for j in range(d2.shape[0]):
        row, t, cj = d2[j], T[j], coef[j]
        for i in range(row.size):
            row[i] = (row[i] + cj) * (one - t[i] * t[i])  # δ2′


@njit(**_JIT_OPTIONS)
def _hidden_delta_relu(d2, A, coef):
    zero = d2.dtype.type(0)
    for j in range(d2.shape[0]):
        row, a, cj = d2[j], A[j], coef[j]
        for i in range(row.size):
            row[i] = row[i] + cj if a[i] > zero else zero  # δ2 = (δ3 W2 + coef)·1[A2 > 0]


@njit(**_JIT_OPTIONS)
def _encode_any(T, b1_enc, relu):
    if relu:
        _encode_relu(T, b1_enc)
    else:
        _encode(T, b1_enc)


@njit(**_JIT_OPTIONS)
def _hidden_delta_any(d2, T, coef, relu):
    if relu:
        _hidden_delta_relu(d2, T, coef)
    else:
        _hidden_delta(d2, T, coef)


# --- whole passes over a thread's chunks, products included -----------------------------
# One compiled call per pass and thread holds no GIL from its first chunk to
# its last. Called step by step from Python, the two threads of the UFLDL
# exercise (float32, ~15 calls per chunk) lost a third of their time taking
# turns at the GIL (each chunk 0.9 ms on two threads against 0.6 ms on one).


@intrinsic
def _gemm(typingctx, address, ilp64, trans_a, trans_b, alpha, A, B, beta, C):
    """C = alpha·op(A)·op(B) + beta·C for C-contiguous 2-D arrays by the
    CBLAS ``?gemm`` at ``address`` (row-major; see :mod:`._blas`); ``ilp64``:
    its integers are 64-bit. The sizes and leading dimensions come from the
    shapes (an array of another layout does not compile)."""
    arrays = (A, B, C)
    if not all(
        isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C" and a.dtype == alpha
        for a in arrays
    ):
        return None
    signature = types.void(address, ilp64, trans_a, trans_b, alpha, A, B, beta, C)

    def codegen(context, builder, signature, args):
        address, ilp64, trans_a, trans_b, alpha, A, B, beta, C = args
        i8p, i32, i64 = ir.IntType(8).as_pointer(), ir.IntType(32), ir.IntType(64)
        real = context.get_value_type(signature.args[4])
        views = [
            context.make_array(signature.args[k])(context, builder, value)
            for k, value in ((5, A), (6, B), (8, C))
        ]
        (a0, a1), (_, b1), (c0, c1) = (cgutils.unpack_tuple(builder, v.shape, 2) for v in views)
        pointers = [builder.bitcast(v.data, i8p) for v in views]
        flags = [
            context.cast(builder, f, signature.args[k], types.boolean)
            for k, f in ((2, trans_a), (3, trans_b))
        ]
        K = builder.select(flags[0], a0, a1)  # op(A) is M × K
        mode = [
            builder.select(f, ir.Constant(i32, _blas.TRANS), ir.Constant(i32, _blas.NO_TRANS))
            for f in flags
        ]

        def call(index):
            sizes = (c0, c1, K, a1, b1, c1)
            if index.width < 64:
                sizes = [builder.trunc(x, index) for x in sizes]
            M, N, K_, lda, ldb, ldc = sizes
            a, b, c = pointers
            argument_types = (
                [i32] * 3 + [index] * 3 + [real, i8p, index, i8p, index, real, i8p, index]
            )
            function_type = ir.FunctionType(ir.VoidType(), argument_types)
            function = builder.inttoptr(address, function_type.as_pointer())
            order = ir.Constant(i32, _blas.ROW_MAJOR)
            builder.call(function, [order, *mode, M, N, K_, alpha, a, lda, b, ldb, beta, c, ldc])

        wide = context.cast(builder, ilp64, signature.args[1], types.boolean)
        with builder.if_else(wide) as (then, otherwise):
            with then:
                call(i64)
            with otherwise:
                call(i32)
        return context.get_dummy_value()

    return signature, codegen


_NO_TRANS, _TRANS = _blas.NO_TRANS, _blas.TRANS


# The buffers of the chunks' T (``hidden``, shape (chunks or 1, h + 1,
# step)) and of δ2 hold ``step`` rows; the shorter last chunk of X uses
# ``last_T1`` and ``last_delta2``, C-contiguous views of their leading
# elements made by NumPy (reshaping here would double the compile time).


@njit(**_JIT_OPTIONS)
def _forward_chunks(
    blas, X_in, starts, stops, hidden, last_T1, stored, W1_enc, b1_enc, relu, t_sum
):
    """The first pass over chunks (``_chunk_passes._forward_pass``): Σ T into
    ``t_sum``; T of chunk i kept in ``hidden[i]`` if ``stored``, else
    ``hidden[0]`` is scratch; ``relu``: T is A2 of ReLU units."""
    address, ilp64 = blas
    last = starts.size - 1
    one, zero = W1_enc.dtype.type(1), W1_enc.dtype.type(0)
    for i in range(starts.size):
        T1 = last_T1 if i == last else hidden[i if stored else 0]
        T = T1[:-1]  # T1 = [tanh(Xc_in (W1/2)ᵀ + b1/2)ᵀ ; 1] (ReLU: [A2ᵀ ; 1])
        _gemm(address, ilp64, False, True, one, W1_enc, X_in[starts[i] : stops[i]], zero, T)
        _encode_any(T, b1_enc, relu)
        T1[-1] = one
        _sum_rows(T, t_sum)


@njit(**_JIT_OPTIONS)
def _backward_chunks(
    blas, X, X_in, starts, stops, hidden, last_T1, stored, weights, logistic, relu, buffers, sums
):
    """The second pass over chunks (``_chunk_passes._backward_pass``): the
    chunks' sums added to ``sums = (G, gW1, gb1)``; returns their Σ s² (or
    Σ‖X̂ − X‖²). ``weights = (W1_enc, b1_enc, V, W2_scaled, coef)``,
    ``buffers = (visible, delta2, last_delta2)``; ``relu``: ReLU units."""
    W1_enc, b1_enc, V, W2_scaled, coef = weights
    visible, delta2, last_delta2 = buffers
    G, gW1, gb1 = sums
    address, ilp64 = blas
    one, zero = V.dtype.type(1), V.dtype.type(0)
    squares, last = 0.0, starts.size - 1
    for i in range(starts.size):
        Xc, Xc_in = X[starts[i] : stops[i]], X_in[starts[i] : stops[i]]
        T1 = last_T1 if i == last else hidden[i if stored else 0]
        if not stored:  # as in the first pass
            _gemm(address, ilp64, False, True, one, W1_enc, Xc_in, zero, T1[:-1])
            _encode_any(T1[:-1], b1_enc, relu)
            T1[-1] = one
        d3 = visible[: Xc.shape[0]]
        _gemm(address, ilp64, True, False, one, T1, V, zero, d3)  # Z3/2 (or Z3)
        if logistic:
            squares += _logistic_output_delta(d3, Xc)
        else:
            squares += _identity_output_delta(d3, Xc)
        d2 = last_delta2 if i == last else delta2
        _gemm(address, ilp64, False, True, one, W2_scaled, d3, zero, d2)
        _hidden_delta_any(d2, T1[:-1], coef, relu)
        _sum_rows(d2, gb1)
        _gemm(address, ilp64, False, False, one, T1, d3, one, G)
        _gemm(address, ilp64, False, False, one, d2, Xc_in, one, gW1)
    return squares


@functools.cache
def _numpy_gemm(dtype):
    """``(address, ilp64)`` of NumPy's gemm for ``dtype`` (see :mod:`._blas`)
    if it is found and encodes a small problem as NumPy does, else None;
    looked up once per process and dtype. The check runs the forward loop
    itself, which a fit compiles anyway."""
    gemm = _blas.find_gemm()
    if gemm is None:
        return None
    blas, dtype = (gemm.address(dtype), gemm.ilp64), np.dtype(dtype)
    rng = np.random.RandomState(0)
    X, W = rng.uniform(-1, 1, (7, 5)).astype(dtype), rng.uniform(-1, 1, (3, 5)).astype(dtype)
    b = rng.uniform(-1, 1, 3).astype(dtype)
    hidden, t_sum = np.full((1, 4, 7), np.nan, dtype=dtype), np.zeros(3)
    bounds = np.array([0], dtype=np.int64), np.array([7], dtype=np.int64)
    _forward_chunks(blas, X, *bounds, hidden, hidden[0], True, W, b, False, t_sum)
    if not np.allclose(hidden[0, :3], np.tanh(W @ X.T + b[:, np.newaxis]), rtol=1e-5, atol=1e-6):
        return None
    return blas


class NumbaKernel:
    """The steps of :class:`skl_sparse_ae._chunk_passes.ElementwiseKernel` as
    compiled loops (``scratch`` buffers are not needed), and whole passes
    over chunks, products included, when NumPy's BLAS can be called from
    them (see :mod:`._blas`) and the model has no k-sparse codes."""

    name = "numba"
    balanced_chunks = True

    def whole_passes(self, weights, *arrays):
        return _whole_pass_gemm(weights, *arrays) is not None

    def forward_chunks_(self, X_in, bounds, hidden, stored, weights, t_sum):
        blas = _whole_pass_gemm(weights, X_in)
        if blas is None:
            return False
        last_T1 = _last(hidden, stored, bounds)
        X_in = np.asarray(X_in)  # a memory map as the array it is
        encoder = weights.W1_enc, weights.b1_enc, weights.activation == "relu"
        _forward_chunks(blas, X_in, *bounds, hidden, last_T1, stored, *encoder, t_sum)
        return True

    def backward_chunks_(self, X, X_in, bounds, hidden, stored, weights, ws):
        blas = _whole_pass_gemm(weights, X, X_in)
        if blas is None:
            return False
        sparsity, sums = weights.sparsity, ws.sums
        coef = np.zeros(len(weights.b1), X.dtype) if sparsity is None else sparsity.coef
        arrays = (
            (weights.W1_enc, weights.b1_enc, weights.V, weights.W2_scaled, coef),
            weights.decoder == "logistic",
            weights.activation == "relu",
            (ws.visible, ws.delta2, leading(ws.delta2, _last_rows(bounds))),
            (sums.G, sums.gW1, sums.gb1),
        )
        X, X_in, last_T1 = np.asarray(X), np.asarray(X_in), _last(hidden, stored, bounds)
        sums.sq += _backward_chunks(blas, X, X_in, *bounds, hidden, last_T1, stored, *arrays)
        return True

    def encode_(self, T, b1_enc, t_sum, activation):
        _encode_any(T, b1_enc, activation == "relu")
        if t_sum is not None:
            _sum_rows(T, t_sum)
        return T

    def output_delta_(self, d3, Xc, logistic, scratch):
        Xc = np.ascontiguousarray(Xc)
        if logistic:
            return d3, _logistic_output_delta(d3, Xc)
        return d3, _identity_output_delta(d3, Xc)

    def hidden_delta_(self, d2, T, coef, gb1, scratch, activation):
        if coef is None:
            coef = np.zeros(d2.shape[0], dtype=d2.dtype)
        _hidden_delta_any(d2, T, coef, activation == "relu")
        _sum_rows(d2, gb1)
        return d2


def _last_rows(bounds):
    starts, stops = bounds
    return int(stops[-1] - starts[-1])


def _last(hidden, stored, bounds):
    """[T; 1] of the last of the chunks: the leading elements of its buffer."""
    return hidden_rows(hidden[-1 if stored else 0], _last_rows(bounds))


def _whole_pass_gemm(weights, *arrays):
    """NumPy's gemm (``(address, ilp64)``) if the whole-pass loops apply (no
    k-sparse codes, rows of X contiguous), else None: the step-by-step
    passes run instead."""
    if weights.k is not None or not all(a.flags.c_contiguous for a in arrays):
        return None
    return _numpy_gemm(arrays[0].dtype)


@njit(**_JIT_OPTIONS)
def _gemm_for_tests(blas, trans_a, trans_b, alpha, A, B, beta, C):
    """:func:`_gemm` called from Python (for the tests)."""
    _gemm(blas[0], blas[1], trans_a, trans_b, alpha, A, B, beta, C)
