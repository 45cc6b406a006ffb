"""The direct driver of scipy's L-BFGS-B against scipy.optimize.minimize."""

import numpy as np
import pytest
from scipy.optimize import minimize, rosen, rosen_der

from skl_sparse_ae import _lbfgsb


def _rosenbrock(x):
    return rosen(x), rosen_der(x)


def _theirs(fun, x0, maxiter, maxfun, callback=None):
    options = {"maxiter": maxiter, "maxfun": maxfun, "gtol": 0.0}
    return minimize(fun, x0, method="L-BFGS-B", jac=True, callback=callback, options=options)


def _assert_same(ours, theirs):
    np.testing.assert_array_equal(ours.x, theirs.x)
    assert ours.fun == theirs.fun
    assert (ours.nit, ours.nfev, ours.status) == (theirs.nit, theirs.nfev, theirs.status)
    assert ours.message == theirs.message


@pytest.fixture
def x0():
    return np.random.RandomState(0).uniform(-2, 2, 12)


def test_the_direct_loop_is_used_on_this_scipy():
    # The scipy of CI has the C setulb (1.15+); were the probe to reject it,
    # every fit would silently pay minimize's overhead again.
    assert _lbfgsb._setulb() is not None


@pytest.mark.parametrize("maxiter, maxfun", [(5, 15000), (60, 15000), (2000, 15000), (500, 30)])
def test_same_iterates_and_result_as_minimize(x0, maxiter, maxfun):
    ours = _lbfgsb.scipy_lbfgsb(_rosenbrock, x0, maxiter=maxiter, maxfun=maxfun, callback=None)
    theirs = _theirs(_rosenbrock, x0, maxiter, maxfun)
    _assert_same(ours, theirs)


def test_each_stop_has_the_status_minimize_gives(x0):
    statuses = set()
    for maxiter, maxfun in [(5, 15000), (2000, 15000), (500, 30)]:
        statuses.add(_lbfgsb.scipy_lbfgsb(_rosenbrock, x0, maxiter=maxiter, maxfun=maxfun,
                                          callback=None).status)  # fmt: skip
    assert statuses == {0, 1}  # converged; the iteration and evaluation budgets


def test_callback_stop_iteration_as_minimize(x0):
    def make_callback(seen):
        def callback(intermediate_result):
            seen.append(float(intermediate_result.fun))
            if len(seen) == 7:
                raise StopIteration

        return callback

    seen_ours, seen_theirs = [], []
    ours = _lbfgsb.scipy_lbfgsb(_rosenbrock, x0, maxiter=100, maxfun=15000,
                                callback=make_callback(seen_ours))  # fmt: skip
    theirs = _theirs(_rosenbrock, x0, 100, 15000, callback=make_callback(seen_theirs))
    _assert_same(ours, theirs)
    assert ours.status == 99 and seen_ours == seen_theirs


def test_the_objective_gets_a_copy_of_the_parameters(x0):
    # setulb writes its iterates in place: an objective that keeps the
    # vector it was given must not see it change afterwards.
    kept = []

    def keeping(x):
        kept.append((x, x.copy()))
        return _rosenbrock(x)

    _lbfgsb.scipy_lbfgsb(keeping, x0, maxiter=10, maxfun=15000, callback=None)
    assert all(np.array_equal(x, copy) for x, copy in kept)


def test_a_setulb_of_other_arguments_falls_back_to_minimize(x0, monkeypatch):
    def other_setulb(setulb, fun, x0, **options):
        raise TypeError("setulb() takes 18 arguments")  # what a new signature would raise

    _lbfgsb._setulb.cache_clear()
    monkeypatch.setattr(_lbfgsb, "_drive", other_setulb)
    try:
        assert _lbfgsb._setulb() is None
        ours = _lbfgsb.scipy_lbfgsb(_rosenbrock, x0, maxiter=60, maxfun=15000, callback=None)
    finally:
        _lbfgsb._setulb.cache_clear()
    _assert_same(ours, _theirs(_rosenbrock, x0, 60, 15000))


def test_an_older_scipy_falls_back_to_minimize(monkeypatch):
    _lbfgsb._setulb.cache_clear()
    monkeypatch.setattr(_lbfgsb.scipy, "__version__", "1.14.1")
    try:
        assert _lbfgsb._setulb() is None
    finally:
        _lbfgsb._setulb.cache_clear()
