"""Optimisers that drive the objective of :mod:`skl_sparse_ae._objective`."""

# SPDX-License-Identifier: BSD-3-Clause

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from ._objective import loss_and_grad, pack, unpack


@dataclass
class SolverResult:
    """What a solver hands back to the estimator."""

    params: object  # _objective.Params in the dtype of X
    loss: float  # J at ``params``
    loss_curve: list = field(default_factory=list)
    n_iter: int = 0
    hit_max_iter: bool = False
    message: str = ""


def _progress_printer(name, verbose):
    """Callback body printing one line per iteration when ``verbose``."""
    last = [time.perf_counter()]

    def report(iteration, loss):
        if verbose:
            now = time.perf_counter()
            print(
                f"[{name}] Iteration {iteration}, loss = {loss:.8g}, time = {now - last[0]:.2f}s",
                flush=True,
            )
            last[0] = now

    return report


def stalled(loss_curve, tol, n_iter_no_change):
    """True when J fell by less than ``tol`` (relative) over the last
    ``n_iter_no_change`` iterations."""
    if len(loss_curve) <= n_iter_no_change:
        return False
    before, now = loss_curve[-1 - n_iter_no_change], loss_curve[-1]
    return before - now <= tol * max(abs(before), np.finfo(np.float64).tiny)


def lbfgs(
    X, params0, *, rho, beta, lam, decoder, max_iter, tol, n_iter_no_change, verbose=0, name=""
):
    """Full-batch L-BFGS-B (scipy) on J, starting from ``params0``.

    It stops after ``max_iter`` iterations, when J has decreased by less than
    a fraction ``tol`` over the last ``n_iter_no_change`` iterations, or when
    scipy finds it converged to machine precision. A gradient-norm test is
    not used: on sparse autoencoders the gradient becomes small on plateaus
    long before the filters have formed.
    """
    n_features = X.shape[1]
    n_components = params0.W1.shape[0]
    loss_curve = []
    report = _progress_printer(name, verbose)

    def callback(intermediate_result):
        loss_curve.append(float(intermediate_result.fun))
        report(len(loss_curve), loss_curve[-1])
        if stalled(loss_curve, tol, n_iter_no_change):
            raise StopIteration

    result = minimize(
        loss_and_grad,
        pack(params0),
        args=(X, n_components, rho, beta, lam, decoder),
        method="L-BFGS-B",
        jac=True,
        callback=callback,
        options={"maxiter": max_iter, "maxfun": max(15000, 2 * max_iter), "gtol": 0.0},
    )
    return SolverResult(
        params=unpack(result.x, n_features, n_components, X.dtype).copy(),
        loss=float(result.fun),
        loss_curve=loss_curve,
        n_iter=int(result.nit),
        hit_max_iter=result.status == 1,
        message=str(result.message),
    )
