"""solver="adam" and partial_fit."""

import re

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skl_sparse_ae import SparseAutoencoder, _objective, _solvers

from ._reference import reference_loss, reference_loss_of

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def X():
    return np.random.RandomState(0).uniform(0.1, 0.9, size=(300, 10))


def _adam(**params):
    return SparseAutoencoder(**{"n_components": 4, "solver": "adam", "random_state": 0, **params})


def test_adam_decreases_the_objective(X):
    model = _adam(max_iter=50, learning_rate_init=1e-2).fit(X)
    assert len(model.loss_curve_) == model.n_iter_
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    start = SparseAutoencoder(4, max_iter=1, random_state=0)
    initial = _objective.initial_params(10, 4, np.random.RandomState(0))
    initial_loss = reference_loss(
        X, initial.W1, initial.b1, initial.W2T, initial.b2, start.rho, start.beta, start.lam
    )
    assert model.loss_ < initial_loss


def test_adam_loss_is_exact_objective_on_the_training_data(X):
    model = _adam(max_iter=5).fit(X)
    expected = reference_loss_of(model, X)
    assert model.loss_ == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(model.mean_activation_, model.transform(X).mean(axis=0))


def test_batch_objective_uses_moving_average_of_rho_hat(X):
    rng = np.random.RandomState(0)
    theta = _objective.pack(_objective.initial_params(10, 4, rng))
    average = np.full(4, 0.3)
    _, _, rho_batch = _objective.evaluate(theta, X[:50], 4, 0.05, 3.0, 0.0, "logistic")
    loss, grad, _ = _objective.evaluate(
        theta, X[:50], 4, 0.05, 3.0, 0.0, "logistic", rho_hat_prior=(average, 0.9)
    )
    blended = 0.9 * average + 0.1 * rho_batch
    p = _objective.unpack(theta, 10, 4)
    without_kl = reference_loss(X[:50], p.W1, p.b1, p.W2T, p.b2, 0.05, 0.0, 0.0)
    kl = np.sum(0.05 * np.log(0.05 / blended) + 0.95 * np.log(0.95 / (1 - blended)))
    assert loss == pytest.approx(without_kl + 3.0 * kl, rel=1e-12)


def test_rho_hat_estimate_carries_across_batches(X):
    # One batch per call: after the second call the estimate is
    # ρ̂(batch 2, θ1) + decay·(ρ̂(batch 1, θ0) − ρ̂(batch 2, θ0)): the first
    # batch's mean carried to the new weights by the change of the second's.
    decay = 0.3
    model = _adam(batch_size=50, shuffle=False, activation_decay=decay)
    first, second = X[:50], X[50:100]
    model.partial_fit(first)
    theta0 = _objective.initial_params(10, 4, np.random.RandomState(0))
    rho_first = _objective.mean_activation(first, theta0)
    np.testing.assert_allclose(model._adam_state["rho_hat_average"], rho_first, rtol=1e-12)
    rho_second = model.transform(second).mean(axis=0)  # at θ1
    rho_second_before = _objective.mean_activation(second, theta0)
    model.partial_fit(second)
    np.testing.assert_allclose(
        model._adam_state["rho_hat_average"],
        rho_second + decay * (rho_first - rho_second_before),
        rtol=1e-10,
    )


def test_rho_hat_estimate_does_not_lag_behind_the_weights(X):
    # On the same batch over and over, the estimate is the batch's mean at the
    # weights of the step that used it, whatever its memory; a moving average
    # of past means would trail behind it while the weights move.
    batch = X[:50]
    model = _adam(batch_size=50, shuffle=False, activation_decay=0.99)
    for _ in range(20):
        at_these_weights = model.transform(batch).mean(axis=0) if _ else None
        model.partial_fit(batch)
    np.testing.assert_allclose(model._adam_state["rho_hat_average"], at_these_weights, rtol=1e-9)


def test_stalled_on_average_ignores_noise_around_a_falling_trend():
    epochs = np.arange(40)
    falling = 1.0 - 0.002 * epochs
    falling[-11] -= 0.02  # a lucky epoch ten epochs ago...
    falling[-1] += 0.02  # ...and an unlucky last one
    assert _solvers.stalled(list(falling), 1e-4, 10)  # one epoch against another: stops
    assert not _solvers.stalled_on_average(list(falling), 1e-4, 10)
    flat = 1.0 + 0.01 * (-1.0) ** epochs
    assert _solvers.stalled_on_average(list(flat), 1e-4, 10)
    assert not _solvers.stalled_on_average(list(flat[:19]), 1e-4, 10)  # too few epochs


def test_activation_decay_changes_the_path(X):
    a = _adam(max_iter=2, batch_size=50, activation_decay=0.0).fit(X)
    b = _adam(max_iter=2, batch_size=50, activation_decay=0.9).fit(X)
    assert not np.array_equal(a.components_, b.components_)


def test_adam_verbose_prints_one_line_per_epoch(X, capsys):
    model = _adam(max_iter=4, tol=0.0, verbose=1).fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == model.n_iter_ == 4
    pattern = r"\[SparseAutoencoder\] Iteration (\d+), loss = ([\d.e+-]+), time = [\d.]+s"
    matches = [re.fullmatch(pattern, line) for line in lines]
    assert [int(match.group(1)) for match in matches] == [1, 2, 3, 4]
    # Each line reports that epoch's entry of loss_curve_.
    np.testing.assert_allclose(
        [float(match.group(2)) for match in matches], model.loss_curve_, rtol=1e-7
    )


def test_adam_stops_when_epoch_loss_stalls(X, recwarn):
    model = _adam(max_iter=500, tol=1e-2, n_iter_no_change=3, learning_rate_init=1e-2).fit(X)
    assert model.n_iter_ < 500
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


def test_constant_step_stops_at_the_first_stall(X):
    model = _adam(max_iter=500, tol=1e-2, n_iter_no_change=3, learning_rate="constant").fit(X)
    assert model.stop_reason_ == "tol"
    assert model._adam_state["step_divisions"] == 0
    assert _solvers.stalled_on_average(model.batch_loss_curve_, 1e-2, 3)


def test_adaptive_step_is_divided_at_each_stall_then_stops(X):
    options = dict(max_iter=500, tol=1e-2, n_iter_no_change=3)
    constant = _adam(**options, learning_rate="constant").fit(X)
    adaptive = _adam(**options, learning_rate="adaptive").fit(X)
    assert adaptive.stop_reason_ == "tol"
    divisions = adaptive._adam_state["step_divisions"]
    assert divisions == _solvers._ADAPTIVE_DIVISIONS
    # Each division restarts the rule's two windows of 3 epochs.
    assert adaptive.n_iter_ >= constant.n_iter_ + divisions * 2 * 3
    # Until the first stall the two paths are one.
    first = constant.n_iter_
    np.testing.assert_array_equal(adaptive.batch_loss_curve_[:first], constant.batch_loss_curve_)


def test_adaptive_step_is_learning_rate_init_divided(X, monkeypatch):
    # After the first stall, the steps are those of learning_rate_init / 10.
    options = dict(tol=1e-2, n_iter_no_change=3, shuffle=False)
    first = _adam(**options, max_iter=500, learning_rate="constant").fit(X).n_iter_
    adaptive = _adam(**options, max_iter=first + 1, learning_rate="adaptive").fit(X)
    rates = []
    original = _solvers._adam_step

    def recording(state, grad, learning_rate, **kwargs):
        rates.append(learning_rate)
        return original(state, grad, learning_rate, **kwargs)

    monkeypatch.setattr(_solvers, "_adam_step", recording)
    adaptive.set_params(warm_start=True, max_iter=1).fit(X)  # one more epoch
    assert adaptive._adam_state["step_divisions"] == 1
    assert set(rates) == {1e-2 / _solvers._ADAPTIVE_FACTOR}


def test_partial_fit_never_divides_the_step(X):
    options = dict(tol=1e-2, n_iter_no_change=3, shuffle=False)
    first = _adam(**options, max_iter=500, learning_rate="constant").fit(X).n_iter_
    streamed = _adam(**options, learning_rate="adaptive")
    for _ in range(first + 2 * 3):  # a fit would have divided it by now
        streamed.partial_fit(X)
    assert _solvers.stalled_on_average(streamed.batch_loss_curve_[:first], 1e-2, 3)
    assert streamed._adam_state["step_divisions"] == 0


def test_adam_runs_max_iter_epochs_when_n_iter_no_change_is_max_iter(X):
    # The recipe of the docs for a fixed number of epochs: with a step this
    # large the epoch loss is noisy, and tol=0 alone stops early.
    noisy = dict(max_iter=40, tol=0.0, batch_size=10, learning_rate_init=0.5)
    assert _adam(**noisy, n_iter_no_change=3).fit(X).n_iter_ < 40
    assert _adam(**noisy, n_iter_no_change=40).fit(X).n_iter_ == 40


def test_adam_warns_at_max_iter(X):
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        _adam(max_iter=2, tol=0.0).fit(X)


def test_adam_is_repeatable(X):
    a = _adam(max_iter=3).fit(X)
    b = _adam(max_iter=3).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)


def test_shuffle_changes_the_path(X):
    a = _adam(max_iter=3, shuffle=True).fit(X)
    b = _adam(max_iter=3, shuffle=False).fit(X)
    assert not np.array_equal(a.components_, b.components_)


def test_partial_fit_only_for_minibatch_solvers(X):
    assert not hasattr(SparseAutoencoder(solver="lbfgs"), "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit") as error:
        SparseAutoencoder(solver="lbfgs").partial_fit(X)
    assert "solver='adam'" in str(error.value.__cause__)
    assert hasattr(_adam(), "partial_fit")


def test_partial_fit_first_call_initialises_and_returns_self(X):
    model = _adam()
    assert model.partial_fit(X) is model
    assert model.components_.shape == (4, 10)
    assert model.n_iter_ == 1
    assert len(model.loss_curve_) == 1
    # A fresh estimator with the same random_state makes the same first pass.
    again = _adam().partial_fit(X)
    np.testing.assert_array_equal(model.components_, again.components_)


def test_partial_fit_one_pass_equals_one_epoch_of_fit(X):
    streamed = _adam(shuffle=False).partial_fit(X)
    fitted = _adam(shuffle=False, max_iter=1).fit(X)
    np.testing.assert_array_equal(streamed.components_, fitted.components_)
    assert streamed.n_iter_ == 1


def test_partial_fit_keeps_optimizer_state_across_calls(X):
    chunked = _adam(shuffle=False, batch_size=50)
    for chunk in np.array_split(X, 3):
        assert chunked.partial_fit(chunk) is chunked
    whole = _adam(shuffle=False, batch_size=50).partial_fit(X)
    # Same batches in the same order with the optimiser state carried over:
    # three calls on consecutive chunks are one pass over the whole.
    np.testing.assert_allclose(chunked.components_, whole.components_, rtol=1e-12)
    assert chunked.n_iter_ == 3
    assert len(chunked.loss_curve_) == 3


def test_partial_fit_rejects_other_number_of_features(X):
    model = _adam().partial_fit(X)
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:, :5])


def test_partial_fit_after_fit_continues(X):
    model = _adam(max_iter=2).fit(X)
    before = model.components_.copy()
    model.partial_fit(X)
    assert not np.array_equal(before, model.components_)
    assert model.n_iter_ == 3


def test_warm_start_adam_continues_loss_curve(X):
    model = _adam(max_iter=3, tol=0.0, warm_start=True)
    model.fit(X)
    model.fit(X)
    assert len(model.loss_curve_) == 6


def test_adam_float32_stays_float32(X):
    model = _adam(max_iter=2).fit(X.astype(np.float32))
    assert model.components_.dtype == np.float32
    assert model.transform(X.astype(np.float32)).dtype == np.float32


def test_warm_start_adam_after_lbfgs_fit_starts_from_lbfgs_weights(X):
    # An Adam state left over from an earlier adam fit must not replace the
    # weights of a later L-BFGS fit.
    model = _adam(max_iter=2).fit(X)
    model.set_params(solver="lbfgs", max_iter=20).fit(X)
    lbfgs_loss = model.loss_
    model.set_params(solver="adam", warm_start=True, max_iter=1, learning_rate_init=1e-8)
    model.fit(X)
    assert model.loss_ == pytest.approx(lbfgs_loss, rel=1e-4)


def test_partial_fit_after_lbfgs_fit_starts_from_its_weights(X):
    # As scikit-learn's MLP: partial_fit goes on from the fitted weights.
    model = SparseAutoencoder(4, max_iter=30, random_state=0).fit(X)
    fitted_loss = model.loss_
    model.set_params(solver="adam", learning_rate_init=1e-8).partial_fit(X)
    assert model.loss_ == pytest.approx(fitted_loss, rel=1e-4)
    assert model.n_iter_ == 1
