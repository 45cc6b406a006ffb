"""The numba kernel: each elementwise step of the objective as one fused loop.

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

import math
from types import SimpleNamespace

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

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


def _tanh_constants(dtype, int_type, mantissa_bits, clamp, ln2_hi, ln2_lo, degree):
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
        coefficients=tuple(f(1 / math.factorial(k)) for k in range(degree, -1, -1)),
    )


# Taylor polynomials of e^r on |r| ≤ ln 2 / 2, truncation error 4e-18
# (float64, degree 13) and 5e-9 (float32, degree 7).
_TANH_CONSTANTS = {
    types.float64: _tanh_constants(
        np.float64, np.int64, 52, 20.0, 6.93147180369123816490e-01, 1.90821492927058770002e-10, 13
    ),
    types.float32: _tanh_constants(np.float32, np.int32, 23, 10.0, 0.693359375, -2.12194440e-4, 7),
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
def _encode(T, b1_half):
    for j in range(T.shape[0]):
        row, b = T[j], b1_half[j]
        for i in range(row.size):
            row[i] = _tanh(row[i] + b)


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


class NumbaKernel:
    """The elementwise steps of :class:`skl_sparse_ae._objective.ElementwiseKernel`
    as compiled loops (``scratch`` buffers are not needed)."""

    name = "numba"

    def encode_(self, T, b1_half, t_sum):
        _encode(T, b1_half)
        if t_sum is not None:
            _sum_rows(T, t_sum)

    def output_delta_(self, d3, Xc, logistic, scratch):
        Xc = np.ascontiguousarray(Xc)
        if logistic:
            return _logistic_output_delta(d3, Xc)
        return _identity_output_delta(d3, Xc)

    def hidden_delta_(self, d2, T, coef, gb1, scratch):
        if coef is None:
            coef = np.zeros(d2.shape[0], dtype=d2.dtype)
        _hidden_delta(d2, T, coef)
        _sum_rows(d2, gb1)
