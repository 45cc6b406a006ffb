"""The kernel of every namespace but NumPy's: the elementwise steps in Array API operations.

The same steps as the NumPy kernel (:mod:`._numpy`), in the same order, as
expressions of the Array API standard (no ``out=``, no ufunc in place), so
that they run on the namespace and device of X: PyTorch on a GPU, CuPy,
array-api-strict. The step that NumPy writes into a buffer returns a new
array here; the objective uses what a step returns either way.
"""

# SPDX-License-Identifier: BSD-3-Clause


class ArrayAPIKernel:
    """The steps of :class:`skl_sparse_ae._chunk_passes.ElementwiseKernel` for
    the namespace ``xp``; no whole passes, no scratch buffers."""

    name = "array_api"
    balanced_chunks = False

    def whole_passes(self, weights, *arrays):
        return False

    def __init__(self, xp):
        self.xp = xp

    def forward_chunks_(self, X_in, bounds, hidden, stored, weights, t_sum):
        return False

    def backward_chunks_(self, X, X_in, bounds, hidden, stored, weights, ws):
        return False

    def encode_(self, T, b1_enc, t_sum, activation):
        if activation == "relu":
            T = self.xp.clip(T + b1_enc[:, None], min=0.0)
        else:
            T = self.xp.tanh(T + b1_enc[:, None])
        if t_sum is not None:
            t_sum += self.xp.sum(T, axis=1, dtype=t_sum.dtype)
        return T

    def output_delta_(self, d3, Xc, logistic, scratch):
        xp = self.xp
        if logistic:
            t = xp.tanh(d3)
            s = t + 1.0 - 2.0 * Xc  # 2(X̂ − X)
            return s * (1.0 - t * t), xp.sum(s * s)  # δ3′, and 4 g′ = 1 − t²
        diff = d3 - Xc
        return diff, xp.sum(diff * diff)

    def hidden_delta_(self, d2, T, coef, gb1, scratch, activation):
        xp = self.xp
        if coef is not None:
            d2 = d2 + coef[:, None]
        if activation == "relu":
            d2 = xp.where(T > 0.0, d2, xp.zeros_like(d2))  # δ2′ = δ2: slope 1[A2 > 0]
        else:
            d2 = d2 * (1.0 - T * T)  # δ2′, with 4 A2(1 − A2) = 1 − T²
        gb1 += self.xp.sum(d2, axis=1, dtype=gb1.dtype)
        return d2
