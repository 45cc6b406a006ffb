"""Dead hidden units brought back: re-initialised towards the rows the model reconstructs worst.

A ReLU unit whose input is negative on every row has a zero gradient, and
nothing in J revives it: ReLU codes with the L1 penalty left 17 of 25 units
dead on the UFLDL patches. Every few iterations (epochs for Adam), the units
that fired on no row since the last check are resampled, as Bricken et al.
(2023, "Towards monosemanticity") do: each takes the direction of one
training row, drawn with probability proportional to the square of its
reconstruction error and centred on the mean row, as its encoder row (at the
live units' mean norm, with a zero bias: it fires on the rows like that one)
and as its decoder row (at the live rows' mean norm). Bricken et al. scale
the encoder row to a fifth of that: here the resampled units of k-sparse
codes then lost the race for the k kept places again (8 of 25 dead after 35
resamplings, Adam on the patches). The draws come from the fit's
``random_state``, so fits stay repeatable.

The work is on the host, in NumPy, on at most ``_SAMPLE_ROWS`` rows: it runs
a few times per fit.
"""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np

from ._array_api import space_of, to_numpy
from ._base import squared_error_rows
from ._dask import is_dask_array
from ._parameters import Params

# Rows whose reconstruction errors the draw weighs (a random subset of X).
_SAMPLE_ROWS = 10_000

# The new encoder rows' norm, as a fraction of the live units' mean norm.
_ENCODER_SCALE = 1.0


def dead_units(rho_hat):
    """The units whose mean activation is 0 (ReLU: not positive on any row)."""
    return np.flatnonzero(np.asarray(to_numpy(rho_hat), dtype=np.float64) <= 0.0)


def resampled(params, X, dead, rng, *, decoder, variant):
    """:class:`Params` (NumPy, in the dtype of ``params``) with the ``dead``
    units re-initialised (see the module's description); ``X`` the rows the
    encoder sees, ``rng`` a ``RandomState``."""
    host = Params(*(np.array(to_numpy(block), copy=True) for block in vars(params).values()))
    if variant.tied:
        host = Params(host.W1, host.W1, host.b1, host.b2)
    m = X.shape[0]
    rows = np.sort(rng.choice(m, size=min(m, _SAMPLE_ROWS), replace=False))
    sample = np.asarray(to_numpy(_rows_of(X, rows)), dtype=host.W1.dtype)
    errors = np.asarray(
        squared_error_rows(sample, host, decoder, variant.k, variant.activation),
        dtype=np.float64,
    )
    weights = errors**2
    total = weights.sum()
    p = weights / total if total > 0 and np.isfinite(total) else None
    chosen = sample[rng.choice(sample.shape[0], size=dead.size, p=p)].astype(np.float64)
    directions = chosen - sample.mean(axis=0, dtype=np.float64)
    norms = np.linalg.norm(directions, axis=1, keepdims=True)
    directions /= np.where(norms > 0, norms, 1.0)
    alive = np.setdiff1d(np.arange(host.W1.shape[0]), dead)
    encoder_norm = _mean_row_norm(host.W1, alive)
    host.W1[dead] = _ENCODER_SCALE * encoder_norm * directions
    host.b1[dead] = 0.0
    if not variant.tied:
        host.W2T[dead] = _mean_row_norm(host.W2T, alive) * directions
    return host


def _rows_of(X, rows):
    """The ``rows`` (a NumPy index) of X, for NumPy, Dask or another namespace."""
    if is_dask_array(X) or space_of(X).is_numpy:
        return X[rows, ...]
    space = space_of(X)
    return space.xp.take(X, space.xp.asarray(rows, device=space.device), axis=0)


def _mean_row_norm(W, rows):
    """The mean norm of the ``rows`` of W (1 where there are none or they are 0)."""
    if rows.size == 0:
        return 1.0
    norm = float(np.mean(np.linalg.norm(W[rows].astype(np.float64), axis=1)))
    return norm if norm > 0 else 1.0
