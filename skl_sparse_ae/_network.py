"""The stacked classifier's network: parameter layout, forward pass, J and its gradient.

The network of :class:`~skl_sparse_ae.StackedAutoencoderClassifier`:
logistic hidden layers (the encoders of the pretrained autoencoders) and a
softmax output layer, trained on the mean cross-entropy plus weight decay on
the output layer's weights. Pure functions on arrays, written once with the
Array API standard only (no ``out=``, no in-place update of an input), for
NumPy, PyTorch, CuPy and array-api-strict alike: NumPy arrays run on the
objective's worker threads, the others in their namespace and on their
device (see :class:`skl_sparse_ae._array_api.Space`). On NumPy each step is
the operation the NumPy-only code did, so that NumPy fits keep their bits.

Weights are kept as in scikit-learn's MLP: ``coefs[i]`` of shape
(n_units[i], n_units[i + 1]) and ``intercepts[i]`` of shape (n_units[i + 1],).
"""

# SPDX-License-Identifier: BSD-3-Clause

from itertools import pairwise

from sklearn import get_config
from sklearn.utils import gen_batches

from . import _objective, _parallel
from ._array_api import space_of

# Rows per block of the network objective: enough that the products are
# efficient, few enough that a block's activations stay small.
_MIN_BLOCK_ROWS = 256


def layer_units(n_features, hidden_layer_sizes, n_classes):
    """The number of units of every layer, the input first."""
    return (n_features, *hidden_layer_sizes, n_classes)


def pack(coefs, intercepts):
    """One vector in scikit-learn's MLP layout, all coefs then all
    intercepts, of the sums' dtype (float64 where the device has it)."""
    space = space_of(coefs[0])
    xp = space.xp
    blocks = [*coefs, *intercepts]
    return xp.concat([xp.reshape(xp.astype(a, space.sum_dtype), (-1,)) for a in blocks])


def unpack(theta, units, dtype):
    """Lists of coefs (n_in, n_out) and intercepts (n_out,): views of theta
    cast once to ``dtype``."""
    xp = space_of(theta).xp
    theta = xp.astype(theta, dtype, copy=False)
    coefs, intercepts, start = [], [], 0
    for n_in, n_out in pairwise(units):
        coefs.append(xp.reshape(theta[start : start + n_in * n_out], (n_in, n_out)))
        start += n_in * n_out
    for n_out in units[1:]:
        intercepts.append(theta[start : start + n_out])
        start += n_out
    return coefs, intercepts


def _output_weights(units):
    """The slice of theta that holds the output layer's weights."""
    n_out = units[-2] * units[-1]
    start = sum(a * b for a, b in pairwise(units)) - n_out
    return slice(start, start + n_out)


def _hidden(A, coef, intercept):
    """sigmoid(A coef + intercept): the autoencoder's encoder, on every namespace."""
    return _objective.hidden_activations(A, coef.T, intercept)


def forward(X, coefs, intercepts):
    """Activations of every layer, the input first, and the output logits last."""
    activations = [X]
    for coef, intercept in zip(coefs[:-1], intercepts[:-1], strict=True):
        activations.append(_hidden(activations[-1], coef, intercept))
    return activations, activations[-1] @ coefs[-1] + intercepts[-1]


def log_softmax(logits, xp):
    """log P from the logits, without overflow."""
    z = logits - xp.max(logits, axis=1, keepdims=True)
    return z - xp.log(xp.sum(xp.exp(z), axis=1, keepdims=True))


def _block_sums(X, y, coefs, intercepts, space):
    """Σ cross-entropy over the rows of a block, and the gradient sums of the
    data term (not divided by m, no decay), in ``space.sum_dtype``."""
    xp, sum_dtype = space.xp, space.sum_dtype
    activations, logits = forward(X, coefs, intercepts)
    log_p = log_softmax(logits, xp)
    y = xp.reshape(y, (-1, 1))
    log_p_y = xp.reshape(xp.take_along_axis(log_p, y, axis=1), (-1,))
    cross_entropy = -xp.sum(log_p_y, dtype=sum_dtype)
    # P − Y, the softmax's δ: P − 1 at each row's class, P − 0 (exactly P) elsewhere.
    is_class = y == xp.arange(logits.shape[1], device=space.device)
    delta = xp.exp(log_p) - xp.astype(is_class, log_p.dtype)
    grad_coefs, grad_intercepts = [], []
    for layer in range(len(coefs) - 1, -1, -1):
        grad_coefs.append(activations[layer].T @ delta)
        grad_intercepts.append(xp.sum(delta, axis=0, dtype=sum_dtype))
        if layer:
            a = activations[layer]
            delta = (delta @ coefs[layer].T) * a * (1 - a)
    return cross_entropy, pack(grad_coefs[::-1], grad_intercepts[::-1])


def _block_rows(m, units, itemsize, n_runs):
    """Rows per block: one block per thread, within scikit-learn's working_memory."""
    row_bytes = 3 * sum(units) * itemsize
    memory_rows = int(get_config()["working_memory"] * 2**20) // row_bytes
    per_thread = -(-m // n_runs)
    return max(1, min(m, max(_MIN_BLOCK_ROWS, min(per_thread, memory_rows))))


def loss_and_grad(theta, X, y, units, lam, n_workers=None):
    """J and its gradient for the network ``theta`` on labeled rows.

    ``y`` holds class indices in ``range(units[-1])``; ``theta``, X and y are
    arrays of one namespace, on one device. ::

        J = −(1/m) Σᵢ log P(yᵢ | xᵢ) + (lam/2) ‖W_out‖²

    Only the output layer's weights are decayed. The rows are cut into
    blocks of fixed size; on NumPy the blocks run on the objective's worker
    threads (``n_workers``, default as many as BLAS may use). Their sums are
    added in block order, so that a result is repeatable. Returns J as a 0-d
    array (a NumPy scalar on NumPy) and the gradient, both of the sums'
    dtype (float64 where the device has it).
    """
    space = space_of(X)
    xp = space.xp
    m = X.shape[0]
    coefs, intercepts = unpack(theta, units, X.dtype)
    # Other libraries bring their own threads.
    n_threads = (n_workers or _parallel.n_threads()) if space.is_numpy else 1
    step = _block_rows(m, units, xp.finfo(X.dtype).bits // 8, n_threads)
    blocks = list(gen_batches(m, step))

    def run(run_blocks):
        sums = [_block_sums(X[b, ...], y[b], coefs, intercepts, space) for b in run_blocks]
        return sum((s[0] for s in sums), start=0.0), xp.sum(xp.stack([s[1] for s in sums]), axis=0)

    runs = _parallel.contiguous_runs(len(blocks), n_threads)
    results = _parallel.map_in_threads(run, [(blocks[r.start : r.stop],) for r in runs])
    cross_entropy, grad = results[0]
    for ce, g in results[1:]:
        cross_entropy = cross_entropy + ce
        grad = grad + g
    grad = grad / m
    out = _output_weights(units)
    W_out = xp.astype(theta[out], space.sum_dtype)
    grad = xp.concat([grad[: out.start], grad[out] + lam * W_out, grad[out.stop :]])
    return cross_entropy / m + 0.5 * lam * (W_out @ W_out), grad
