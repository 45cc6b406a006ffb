"""scipy's L-BFGS-B, driven directly: its ``setulb`` step in a loop of our own.

:func:`scipy.optimize.minimize` wraps the objective in a ``ScalarFunction``
that copies the parameters, checks them against the last ones, counts and
caches, and builds a result object at every iteration: about 40 µs per
evaluation on the UFLDL exercise (3 289 parameters), where the evaluation
itself takes 2–3 ms. This loop asks ``setulb`` for its steps exactly as
``minimize`` does (same calls, same arrays, so the same iterates bit for bit,
which the tests check) and keeps only the bookkeeping the solvers use.

``setulb`` is scipy's own L-BFGS-B (its C translation since scipy 1.15), not
a public function: once per process, the loop is tried on a small problem
against :func:`scipy.optimize.minimize`, and with an older scipy, or if
``setulb`` ever takes other arguments or gives other iterates,
:func:`scipy_lbfgsb` is :func:`scipy.optimize.minimize`.
"""

# SPDX-License-Identifier: BSD-3-Clause

import functools

import numpy as np
import scipy
from scipy.optimize import OptimizeResult, minimize
from sklearn.utils.fixes import parse_version

# minimize's defaults for L-BFGS-B: history, ftol, line-search steps.
_HISTORY, _FTOL, _MAX_LINE_SEARCH = 10, 2.2204460492503131e-09, 20

# setulb's task codes (task[0]) and the reasons of its stops (task[1]).
_FG, _NEW_X, _CONVERGENCE, _STOP = 3, 1, 4, 5
_STOP_MAX_FUN, _STOP_MAX_ITER, _STOP_CALLBACK = 502, 504, 505

# The scipy whose setulb takes the arguments below (the C translation).
_SETULB_SCIPY = "1.15"


@functools.cache
def _setulb():
    """scipy's ``setulb`` if this loop drives it as ``minimize`` does, else None."""
    if parse_version(scipy.__version__) < parse_version(_SETULB_SCIPY):
        return None
    try:
        from scipy.optimize import _lbfgsb

        setulb = _lbfgsb.setulb
        scales = np.arange(1.0, 8.0)  # a quadratic with a minimum at 1 and its sines

        def fun(x):
            return 0.5 * scales @ (x - 1) ** 2 + np.sum(np.sin(x)), scales * (x - 1) + np.cos(x)

        options = dict(maxiter=5, maxfun=100, callback=None)
        ours = _drive(setulb, fun, np.zeros(7), **options)
    except Exception:  # an older or newer setulb: minimize drives it
        return None
    theirs = _minimize(fun, np.zeros(7), **options)
    same = (ours.nit, ours.nfev, ours.status) == (theirs.nit, theirs.nfev, theirs.status)
    return setulb if same and np.array_equal(ours.x, theirs.x) else None


def scipy_lbfgsb(fun, x0, *, maxiter, maxfun, callback):
    """``scipy.optimize.minimize(fun, x0, method="L-BFGS-B", jac=True,
    callback=callback, options={"maxiter": maxiter, "maxfun": maxfun,
    "gtol": 0.0})``, with the same iterates and result fields the solvers
    read: ``x``, ``fun``, ``nit``, ``nfev``, ``status`` (0 converged, 1 a
    budget, 2 anything else, 99 the callback's StopIteration) and
    ``message``. ``callback(OptimizeResult(x=..., fun=...))`` is called
    after each iteration."""
    setulb = _setulb()
    if setulb is not None:
        return _drive(setulb, fun, x0, maxiter=maxiter, maxfun=maxfun, callback=callback)
    return _minimize(fun, x0, maxiter=maxiter, maxfun=maxfun, callback=callback)


def _minimize(fun, x0, *, maxiter, maxfun, callback):
    return minimize(
        fun,
        x0,
        method="L-BFGS-B",
        jac=True,
        callback=callback,
        options={"maxiter": maxiter, "maxfun": maxfun, "gtol": 0.0},
    )


def _drive(setulb, fun, x0, *, maxiter, maxfun, callback):
    from scipy.optimize._lbfgsb_py import status_messages, task_messages

    n, m = x0.size, _HISTORY
    x = np.array(x0, dtype=np.float64).ravel()
    f, g = 0.0, np.zeros(n)
    unbounded = np.zeros(n, np.int32), np.zeros(n), np.zeros(n)  # nbd, lower, upper
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m)
    iwa = np.zeros(3 * n, np.int32)
    task, ln_task = np.zeros(2, np.int32), np.zeros(2, np.int32)
    lsave, isave, dsave = np.zeros(4, np.int32), np.zeros(44, np.int32), np.zeros(29)
    factr = _FTOL / np.finfo(float).eps
    nbd, lower, upper = unbounded
    n_iter = n_fev = 0
    stopped_by_callback = False
    last_x = None
    while True:
        setulb(m, x, lower, upper, nbd, f, g, factr, 0.0, wa, iwa, task, lsave, isave, dsave,
               _MAX_LINE_SEARCH, ln_task)  # fmt: skip
        if task[0] == _FG:
            # As minimize's ScalarFunction: the point asked again is not re-evaluated.
            if last_x is None or not np.array_equal(x, last_x):
                last_x = x.copy()
                f, g = fun(last_x.copy())
                f, g = float(f), np.asarray(g, dtype=np.float64)
                n_fev += 1
        elif task[0] == _NEW_X:
            n_iter += 1
            if callback is not None:
                try:
                    callback(OptimizeResult(x=x, fun=f))
                except StopIteration:
                    stopped_by_callback = True
                    task[:] = _STOP, _STOP_CALLBACK
            if n_iter >= maxiter:
                task[:] = _STOP, _STOP_MAX_ITER
            elif n_fev > maxfun:
                task[:] = _STOP, _STOP_MAX_FUN
        else:
            break
    if stopped_by_callback:
        status, message = 99, "`callback` raised `StopIteration`."
    else:
        status = 0 if task[0] == _CONVERGENCE else 1 if n_fev > maxfun or n_iter >= maxiter else 2
        message = status_messages[task[0]] + ": " + task_messages[task[1]]
    return OptimizeResult(
        x=x, fun=f, jac=g, nit=n_iter, nfev=n_fev, status=status, message=message,
        success=status == 0,
    )  # fmt: skip
