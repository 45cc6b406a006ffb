"""L-BFGS and minibatch Adam on the stacked classifier's network objective.

The drivers of the softmax stage and of fine-tuning: the loops of
:mod:`skl_sparse_ae._solvers` (scipy's L-BFGS-B, the epochs of Adam) on J and
its gradient from :func:`skl_sparse_ae._network.loss_and_grad`. X, y (class
indices) and the parameters are arrays of one ``backend`` of
:mod:`skl_sparse_ae._backends`: L-BFGS keeps its float64 NumPy vector on the
host and moves it to X's device for each evaluation; Adam runs where X is.
"""

# SPDX-License-Identifier: BSD-3-Clause

from . import _solvers
from ._network import loss_and_grad


def lbfgs(X, y, units, theta0, *, lam, max_iter, tol, n_iter_no_change, report, backend):
    """Full-batch L-BFGS-B on J from ``theta0``, with the stopping rules of
    :func:`skl_sparse_ae._solvers.minimize_lbfgs`.

    Returns (theta, loss_curve, n_iter, hit_max_iter), theta where X is.
    """

    def objective(theta):
        loss, grad = loss_and_grad(backend.from_host(theta), X, y, units, lam)
        return float(loss), backend.to_host(grad)

    result, loss_curve = _solvers.minimize_lbfgs(
        objective,
        backend.to_host(theta0),
        max_iter=max_iter,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        report=report,
        limit_threads=backend.limit_threads,
    )
    return backend.from_host(result.x), loss_curve, int(result.nit), result.status == 1


def adam_state(theta0, xp):
    """A fresh :class:`~skl_sparse_ae._solvers.AdamState` at ``theta0``."""
    zeros = xp.zeros_like(theta0)
    return _solvers.AdamState(xp.asarray(theta0, copy=True), zeros, xp.zeros_like(zeros))


def adam(
    X,
    y,
    units,
    state,
    *,
    lam,
    max_epochs,
    batch_size,
    learning_rate,
    shuffle,
    random_state,
    tol,
    n_iter_no_change,
    loss_curve,
    report,
    backend,
):
    """Epochs of minibatch Adam on J, continuing from ``state`` (updated in place).

    Each epoch appends the mean batch loss to ``loss_curve``; training stops
    after ``max_epochs`` or when that curve stalls (see
    :func:`skl_sparse_ae._solvers.minibatch_epochs`). Returns the epochs run
    and whether ``max_epochs`` ended them.
    """

    def step(rows):
        X_batch, y_batch = backend.take_rows(X, rows), backend.take_rows(y, rows)
        loss, grad = loss_and_grad(state.theta, X_batch, y_batch, units, lam)
        _solvers._adam_step(state, grad, learning_rate, xp=backend.xp)
        return loss

    return _solvers.minibatch_epochs(
        step,
        X.shape[0],
        batch_size=batch_size,
        shuffle=shuffle,
        random_state=random_state,
        max_epochs=max_epochs,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        loss_curve=loss_curve,
        report=report,
        backend=backend,
    )
