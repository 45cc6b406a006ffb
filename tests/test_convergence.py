"""Why the solvers stop: stop_reason_, solver_message_, the ConvergenceWarning,
and the loss curves."""

import warnings
from functools import partial

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der
from sklearn.exceptions import ConvergenceWarning

from skl_sparse_ae import SparseAutoencoder, _objective, _solvers, _training_data

from ._reference import reference_loss_of


@pytest.fixture
def X():
    return np.random.RandomState(0).uniform(0.1, 0.9, size=(60, 5))


def _convergence_warnings_of_fit(model, X):
    """fit, and the ConvergenceWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X)
    return [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def _ignore(iteration, loss):
    pass


# -- the driver: scipy's result → a reason -----------------------------------


def _quadratic(theta):
    return float(theta @ theta), 2 * theta


def _minimize(objective, **options):
    options = {"max_iter": 50, "tol": 0.0, "n_iter_no_change": 10, **options}
    result, _ = _solvers.minimize_lbfgs(
        objective, np.ones(3), report=_ignore, limit_threads=False, **options
    )
    return result, _solvers.lbfgs_stop_reason(result, options["max_iter"])


def test_driver_reason_converged_at_a_zero_gradient():
    result, reason = _minimize(_quadratic)
    assert reason == "converged"
    assert result.status == 0 and result.nit < 50


def test_driver_reason_line_search_when_no_step_lowers_j():
    def uphill(theta):  # the gradient's sign flipped: every step goes up
        loss, grad = _quadratic(theta)
        return loss, -grad

    result, reason = _minimize(uphill)
    assert reason == "line_search"
    assert result.status == 2


def _rosenbrock(theta):  # far from its minimum at 3·(1, 1, 1): many iterations
    return rosen(3 * theta), 3 * rosen_der(3 * theta)


def test_driver_reason_max_fun_when_the_evaluations_run_out():
    result, reason = _minimize(_rosenbrock, max_fun=4)
    assert reason == "max_fun"
    assert result.nit < 50


def test_driver_reason_max_iter():
    result, reason = _minimize(_rosenbrock, max_iter=2)
    assert reason == "max_iter" and result.nit == 2


def test_driver_reason_tol_is_our_rule():
    result, curve = _solvers.minimize_lbfgs(
        _rosenbrock, np.ones(3), max_iter=50, tol=0.5, n_iter_no_change=1, report=_ignore
    )
    assert _solvers.lbfgs_stop_reason(result, 50) == "tol"
    assert _solvers.stalled(curve, 0.5, 1) and not _solvers.stalled(curve[:-1], 0.5, 1)


# -- the estimator: each reason on purpose, and who warns --------------------


def test_lbfgs_max_iter_warns(X):
    model = SparseAutoencoder(2, max_iter=3, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=3 iterations"):
        model.fit(X)
    assert model.stop_reason_ == "max_iter"
    assert "ITERATIONS" in model.solver_message_
    assert model.n_iter_ == 3


def test_lbfgs_tol_stops_without_a_warning(X):
    model = SparseAutoencoder(2, max_iter=400, tol=0.05, n_iter_no_change=2, random_state=0)
    assert _convergence_warnings_of_fit(model, X) == []
    assert model.stop_reason_ == "tol"
    assert model.n_iter_ < 400
    assert "StopIteration" in model.solver_message_  # scipy's own words for it


def test_lbfgs_converged_warns_when_tol_did_not_stop_it(X):
    # tol=0 asks for max_iter iterations; scipy's own test (J down by less
    # than ~2.2e-9 in one iteration) ends the fit at a minimum of this
    # smooth, small problem well before them.
    model = SparseAutoencoder(2, max_iter=3000, tol=0.0, random_state=0)
    caught = _convergence_warnings_of_fit(model, X)
    assert model.stop_reason_ == "converged"
    assert model.n_iter_ < 3000
    assert model.solver_message_.startswith("CONVERGENCE")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f"after {model.n_iter_} of max_iter=3000" in message
    assert model.solver_message_ in message


def _uphill_gradient(evaluate):
    """``evaluate`` with the gradient's sign flipped: L-BFGS-B's line search
    then finds no lower J along any direction it tries."""

    def flipped(*args, **kwargs):
        loss, grad, rho_hat = evaluate(*args, **kwargs)
        return loss, -grad, rho_hat

    return flipped


def test_lbfgs_line_search_failure_warns(X, monkeypatch):
    monkeypatch.setattr(_objective, "evaluate", _uphill_gradient(_objective.evaluate))
    model = SparseAutoencoder(2, max_iter=50, random_state=0)
    caught = _convergence_warnings_of_fit(model, X)
    assert model.stop_reason_ == "line_search"
    assert model.n_iter_ < 50
    assert len(caught) == 1 and "line search" in str(caught[0].message)


def test_lbfgs_line_search_failure_with_corruption_keeps_the_minimised_copy(X, monkeypatch):
    # scipy returns its best point, not the last one it evaluated: loss_ is
    # then computed afresh, on the corrupted copy L-BFGS minimised J on.
    losses = []
    uphill = _uphill_gradient(_objective.evaluate)

    def recorded(*args, **kwargs):
        loss, grad, rho_hat = uphill(*args, **kwargs)
        losses.append(float(loss))
        return loss, grad, rho_hat

    monkeypatch.setattr(_objective, "evaluate", recorded)
    model = SparseAutoencoder(2, corruption="masking", max_iter=50, random_state=0)
    _convergence_warnings_of_fit(model, X)
    assert model.stop_reason_ == "line_search" and len(losses) > 2
    # The start is the best point: its J, on the copy the fit drew.
    assert model.loss_ == pytest.approx(losses[0], rel=1e-12)


def test_lbfgs_max_fun_warns(X, monkeypatch):
    monkeypatch.setattr(_solvers, "minimize_lbfgs", partial(_solvers.minimize_lbfgs, max_fun=3))
    model = SparseAutoencoder(2, max_iter=50, tol=0.0, random_state=0)
    caught = _convergence_warnings_of_fit(model, X)
    assert model.stop_reason_ == "max_fun"
    assert model.n_iter_ < 50
    assert len(caught) == 1 and "evaluations" in str(caught[0].message)


def _adam(**params):
    return SparseAutoencoder(**{"n_components": 2, "solver": "adam", "random_state": 0, **params})


def test_adam_max_iter_warns(X):
    model = _adam(max_iter=2, tol=0.0)
    with pytest.warns(ConvergenceWarning, match="max_iter=2 epochs"):
        model.fit(X)
    assert model.stop_reason_ == "max_iter"
    assert "max_iter=2" in model.solver_message_


def test_adam_tol_stops_without_a_warning(X):
    model = _adam(max_iter=500, tol=1e-2, n_iter_no_change=3, learning_rate="constant")
    assert _convergence_warnings_of_fit(model, X) == []
    assert model.stop_reason_ == "tol"
    assert model.n_iter_ < 500
    # The rule reads the batch losses.
    assert _solvers.stalled_on_average(model.batch_loss_curve_, 1e-2, 3)
    assert not _solvers.stalled_on_average(model.batch_loss_curve_[:-1], 1e-2, 3)


def test_partial_fit_says_it_made_one_pass(X):
    model = _adam(max_iter=2, tol=0.0)
    _convergence_warnings_of_fit(model, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.partial_fit(X)
    assert model.stop_reason_ == "partial_fit"
    assert "partial_fit" in model.solver_message_


def test_a_later_lbfgs_fit_drops_the_batch_loss_curve(X):
    model = _adam(max_iter=2)
    _convergence_warnings_of_fit(model, X)
    assert hasattr(model, "batch_loss_curve_")
    _convergence_warnings_of_fit(model.set_params(solver="lbfgs"), X)
    assert not hasattr(model, "batch_loss_curve_")


# -- the loss curves ---------------------------------------------------------


def test_adam_loss_curve_is_exact_j_after_each_epoch(X):
    model = _adam(max_iter=3, tol=0.0, batch_size=20)
    _convergence_warnings_of_fit(model, X)
    assert len(model.loss_curve_) == len(model.batch_loss_curve_) == model.n_iter_ == 3
    assert model.loss_curve_[-1] == model.loss_
    for epochs in (1, 2):  # the same path, stopped earlier
        shorter = _adam(max_iter=epochs, tol=0.0, batch_size=20)
        _convergence_warnings_of_fit(shorter, X)
        expected = reference_loss_of(shorter, X)
        assert model.loss_curve_[epochs - 1] == pytest.approx(expected, rel=1e-10)


def test_adam_batch_loss_curve_is_the_mean_minibatch_loss(X):
    # One batch per epoch: its loss is J with the running estimate of ρ̂ in the
    # KL term, at the weights before the epoch's step.
    model = _adam(max_iter=2, tol=0.0, batch_size=60, shuffle=False, activation_decay=0.0)
    _convergence_warnings_of_fit(model, X)
    start = _adam(max_iter=1, tol=0.0, batch_size=60, shuffle=False, activation_decay=0.0)
    _convergence_warnings_of_fit(start, X)
    # With activation_decay=0 the estimate is the batch's own ρ̂, the whole
    # data's here: the batch loss is J at the weights the step started from.
    assert model.batch_loss_curve_[1] == pytest.approx(reference_loss_of(start, X), rel=1e-10)
    assert model.batch_loss_curve_ != model.loss_curve_


def test_adam_loss_curve_with_corruption_leaves_the_training_path_alone(X, monkeypatch):
    model = _adam(max_iter=3, tol=0.0, corruption="masking", corruption_level=0.3)
    _convergence_warnings_of_fit(model, X)
    # Another draw of the noise for the J of the epochs: the same weights.
    monkeypatch.setattr(_training_data, "generator_apart", lambda rng: np.random.RandomState(12345))
    again = _adam(max_iter=3, tol=0.0, corruption="masking", corruption_level=0.3)
    _convergence_warnings_of_fit(again, X)
    np.testing.assert_array_equal(model.components_, again.components_)
    assert model.loss_ == again.loss_  # the last J's noise is the training generator's
    assert model.loss_curve_[:2] != again.loss_curve_[:2]


def test_partial_fit_loss_curve_holds_j_on_each_call_data(X):
    model = _adam(batch_size=20)
    for chunk in np.array_split(X, 3):
        model.partial_fit(chunk)
        assert model.loss_curve_[-1] == model.loss_
        assert model.loss_ == pytest.approx(reference_loss_of(model, chunk), rel=1e-10)
    assert len(model.loss_curve_) == len(model.batch_loss_curve_) == 3


def test_lbfgs_loss_curve_is_exact_j_after_each_iteration(X):
    model = SparseAutoencoder(2, max_iter=5, tol=0.0, random_state=0)
    _convergence_warnings_of_fit(model, X)
    for iterations in (1, 3):
        shorter = SparseAutoencoder(2, max_iter=iterations, tol=0.0, random_state=0)
        _convergence_warnings_of_fit(shorter, X)
        expected = reference_loss_of(shorter, X)
        assert model.loss_curve_[iterations - 1] == pytest.approx(expected, rel=1e-10)
