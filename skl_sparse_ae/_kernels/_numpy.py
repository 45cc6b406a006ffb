"""The NumPy kernel: the elementwise steps of the objective with NumPy ufuncs.

Always available, and the reference the compiled kernel is tested against.
Each step is a few in-place ufunc passes over a chunk that fits in the cache.
"""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np


def _tanh_by_exp_(a):
    """tanh(a) in place as 2 / (1 + e^(−2a)) − 1.

    Exact to an absolute rounding error, like ``np.tanh``; e^(−2a) = inf
    for a < −355 gives −1 exactly, never NaN.
    """
    np.multiply(a, -2.0, out=a)
    with np.errstate(over="ignore"):
        np.exp(a, out=a)
    a += 1.0
    np.divide(2.0, a, out=a)
    a -= 1.0
    return a


def _vectorised_float64_tanh():
    """Whether NumPy runs float64 ``tanh`` with AVX-512 on this CPU.

    Its float64 tanh is vectorised only for AVX-512; elsewhere it is scalar
    libm (AMD EPYC, AVX2: 13–21 ns per element against 9 ns for ``exp``),
    about half of an evaluation. NumPy's dispatch tables say which one runs.
    """
    try:
        from numpy.lib.introspect import opt_func_info  # NumPy >= 2.0
    except ImportError:
        from numpy.core._multiarray_umath import __cpu_features__  # NumPy 1.x

        return bool(__cpu_features__.get("AVX512_SKX"))
    target = opt_func_info(func_name="^tanh$").get("tanh", {}).get("dd", {}).get("current", "")
    return "AVX512" in target or "X86_V4" in target


# tanh in place per dtype, the faster form on this CPU (fixed per machine, so
# fits stay bit-for-bit repeatable). Measured on an AMD EPYC (AVX2), ms per
# evaluation, np.tanh → exp form: UFLDL case float64 24.4 → 17.4, 60 000 × 784
# float64 5080 → 4889; float32 is vectorised either way (7.9 → 7.5, 2265 →
# 2406), so it keeps np.tanh, as does float64 under AVX-512 (~1 ns).
_TANH_ = {
    np.dtype(np.float64): (lambda a: np.tanh(a, out=a))
    if _vectorised_float64_tanh()
    else _tanh_by_exp_,
    np.dtype(np.float32): lambda a: np.tanh(a, out=a),
}


def tanh_(a):
    """tanh in place, in the form that is fastest for ``a.dtype`` here."""
    return _TANH_[a.dtype](a)


class NumpyKernel:
    """The steps of :class:`skl_sparse_ae._chunk_passes.ElementwiseKernel` as
    NumPy ufunc passes (they use the ``scratch`` buffers); no whole passes."""

    name = "numpy"
    balanced_chunks = False  # its fits keep the chunk boundaries they always had

    def whole_passes(self, weights, *arrays):
        return False

    def forward_chunks_(self, X_in, bounds, hidden, stored, weights, t_sum):
        return False  # the products stay NumPy calls, step by step

    def backward_chunks_(self, X, X_in, bounds, hidden, stored, weights, ws):
        return False

    def encode_(self, T, b1_enc, t_sum, activation):
        T += b1_enc[:, np.newaxis]
        if activation == "relu":
            np.maximum(T, 0.0, out=T)
        else:
            tanh_(T)
        if t_sum is not None:
            t_sum += T.sum(axis=1)
        return T

    def output_delta_(self, d3, Xc, logistic, scratch):
        if logistic:
            t = tanh_(d3)
            gprime = np.square(t, out=scratch)
            np.subtract(1.0, gprime, out=gprime)  # 4 g′ = 1 − t²
            d3 += 1.0
            d3 -= Xc
            d3 -= Xc  # s = t + 1 − 2X = 2(X̂ − X)
        else:
            d3 -= Xc  # X̂ − X
        flat = d3.ravel()
        sq = float(np.dot(flat, flat))
        if logistic:
            d3 *= gprime  # δ3′
        return d3, sq

    def hidden_delta_(self, d2, T, coef, gb1, scratch, activation):
        if coef is not None:
            d2 += coef[:, np.newaxis]
        if activation == "relu":
            fprime = np.greater(T, 0.0, out=scratch)  # 1[A2 > 0], as 0.0 and 1.0
        else:
            fprime = np.square(T, out=scratch)
            np.subtract(1.0, fprime, out=fprime)  # 4 A2(1 − A2) = 1 − T²
        d2 *= fprime  # δ2′
        gb1 += d2.sum(axis=1)
        return d2
