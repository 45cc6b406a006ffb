"""sparsity_report: dead units, L0 and the fraction of variance unexplained."""

import copy

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from skl_sparse_ae import SparseAutoencoder
from skl_sparse_ae.diagnostics import sparsity_report

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def fitted():
    X = np.random.RandomState(0).uniform(0.1, 0.9, size=(300, 12))
    return SparseAutoencoder(6, max_iter=30, random_state=0).fit(X), X


def test_report_follows_its_definitions(fitted):
    model, X = fitted
    report = sparsity_report(model, X, threshold=0.2)
    codes = model.transform(X)
    active = codes > 0.2
    np.testing.assert_array_equal(report.dead_units, ~active.any(axis=0))
    assert report.dead_fraction == pytest.approx(np.mean(~active.any(axis=0)))
    assert report.l0 == pytest.approx(active.sum(axis=1).mean())
    X_hat = model.inverse_transform(codes)
    expected = np.sum((X - X_hat) ** 2) / np.sum((X - X.mean(axis=0)) ** 2)
    assert report.fraction_of_variance_unexplained == pytest.approx(expected, rel=1e-10)
    assert report.threshold == 0.2


def test_a_unit_with_a_large_negative_bias_is_dead(fitted):
    model, X = fitted
    model = copy.deepcopy(model)
    model.intercept_hidden_[2] = -50.0
    report = sparsity_report(model, X, threshold=0.0)
    assert report.dead_units[2] and report.dead_fraction >= 1 / 6


def test_by_default_a_unit_is_active_when_its_input_is_positive(fitted):
    model, X = fitted
    report = sparsity_report(model, X)
    inputs = X @ model.components_.T + model.intercept_hidden_
    assert report.threshold == 0.5
    assert report.l0 == pytest.approx((inputs > 0).sum(axis=1).mean())
    np.testing.assert_array_equal(report.dead_units, ~(inputs > 0).any(axis=0))


@pytest.mark.parametrize("rho", [0.01, 0.1, 0.3])
def test_a_unit_stripped_of_its_weights_is_dead_whatever_rho(fitted, rho):
    # What too much weight decay leaves: the bias alone holds the unit at rho.
    model, X = fitted
    model = copy.deepcopy(model)
    model.components_[4] = 0.0
    model.intercept_hidden_[4] = np.log(rho / (1 - rho))
    np.testing.assert_allclose(model.transform(X)[:, 4], rho)
    assert sparsity_report(model, X).dead_units[4]


def test_a_unit_with_large_weights_that_never_fires_is_dead(fitted):
    # A negative weight on every pixel of positive data: a strong filter,
    # and yet an input that is never positive.
    model, X = fitted
    model = copy.deepcopy(model)
    model.components_[1] = -np.abs(model.components_).max()
    model.intercept_hidden_[1] = 0.0
    assert sparsity_report(model, X).dead_units[1]


def test_a_unit_that_fires_on_one_sample_is_alive(fitted):
    model, X = fitted
    model = copy.deepcopy(model)
    model.components_[0] = X[17] - X.mean(axis=0)
    inputs = X @ model.components_[0]
    # Between the largest input and the next: positive on sample 17 alone.
    model.intercept_hidden_[0] = -np.mean(np.sort(inputs)[-2:])
    assert np.argmax(inputs) == 17 and (model.transform(X)[:, 0] > 0.5).sum() == 1
    assert not sparsity_report(model, X).dead_units[0]


def test_threshold_zero_counts_the_kept_units_of_k_sparse_codes():
    X = np.random.RandomState(1).uniform(0.1, 0.9, size=(200, 10))
    model = SparseAutoencoder(8, k=3, beta=0.0, max_iter=20, random_state=0).fit(X)
    assert sparsity_report(model, X, threshold=0.0).l0 == 3.0


def test_perfect_reconstruction_explains_all_variance(fitted):
    model, X = fitted

    class Identity(BaseEstimator):
        def fit(self, X):
            return self

        def transform(self, X):
            return X

        def score_samples(self, X):
            return np.zeros(X.shape[0])

        def __sklearn_is_fitted__(self):
            return True

    assert sparsity_report(Identity(), X).fraction_of_variance_unexplained == 0.0
    assert 0 < sparsity_report(model, X).fraction_of_variance_unexplained < 1.5


@pytest.mark.parametrize("threshold", [-0.1, -np.inf, "0.5"])
def test_bad_threshold_is_a_clear_error(fitted, threshold):
    model, X = fitted
    with pytest.raises(ValueError, match="'threshold' parameter of sparsity_report"):
        sparsity_report(model, X, threshold=threshold)


def test_unfitted_model_is_a_clear_error():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        sparsity_report(SparseAutoencoder(), np.ones((3, 2)))


def test_relu_units_are_active_above_zero_by_default():
    X = np.random.RandomState(0).uniform(0.1, 0.9, size=(300, 12))
    model = SparseAutoencoder(
        6, activation="relu", sparsity_penalty="l1", beta=0.01, max_iter=30, random_state=0
    ).fit(X)
    report = sparsity_report(model, X)
    assert report.threshold == 0.0
    assert report.n_units_resampled == model.n_units_resampled_
    codes = model.transform(X)
    np.testing.assert_array_equal(report.dead_units, ~(codes > 0).any(axis=0))
    assert report.l0 == pytest.approx((codes > 0).sum(axis=1).mean())
