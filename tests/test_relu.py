"""ReLU codes (activation="relu"): with the L1 penalty and k-sparse, never with KL."""

import numpy as np
import pytest

from skl_sparse_ae import SparseAutoencoder, _objective
from skl_sparse_ae._kernels import kernel_named

from ._reference import reference_loss_of

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).uniform(0.05, 0.95, size=(300, 10))


@pytest.mark.parametrize(
    "params",
    [dict(), dict(sparsity_penalty="kl", beta=3.0), dict(k=3, beta=1.0)],
    ids=["default-kl", "kl", "k-sparse-with-kl"],
)
def test_relu_with_the_kl_penalty_is_a_clear_error(X, params):
    model = SparseAutoencoder(4, activation="relu", **params)
    with pytest.raises(ValueError, match='activation="relu" does not go with the KL'):
        model.fit(X)
    assert not hasattr(model, "components_")


@pytest.mark.parametrize(
    "params",
    [
        dict(sparsity_penalty="l1", beta=0.01),
        dict(k=3, beta=0.0),
        dict(beta=0.0),  # the KL penalty off: a plain ReLU autoencoder
        dict(k=3, sparsity_penalty="l1", beta=0.01, solver="adam", max_iter=20),
        dict(sparsity_penalty="l1", beta=0.01, tied_weights=True, decoder_activation="identity"),
    ],
    ids=["l1", "k-sparse", "no-penalty", "adam-k-l1", "tied-identity"],
)
def test_loss_is_the_objective_of_relu_codes(X, params):
    model = SparseAutoencoder(4, activation="relu", random_state=0, **{"max_iter": 40, **params})
    model.fit(X)
    assert model.loss_ == pytest.approx(reference_loss_of(model, X), rel=1e-10)
    assert model.loss_ < model.loss_curve_[0]


def test_transform_is_relu_of_the_encoder(X):
    model = SparseAutoencoder(
        4, activation="relu", sparsity_penalty="l1", beta=0.01, max_iter=40, random_state=0
    ).fit(X)
    codes = model.transform(X)
    expected = np.maximum(X @ model.components_.T + model.intercept_hidden_, 0.0)
    np.testing.assert_allclose(codes, expected, rtol=1e-12, atol=1e-15)
    assert (codes == 0).any() and (codes > 0).any()
    np.testing.assert_allclose(model.mean_activation_, codes.mean(axis=0), rtol=1e-10)


def test_k_sparse_relu_codes_keep_at_most_k_per_row(X):
    model = SparseAutoencoder(
        6, activation="relu", k=2, transform_k=3, beta=0.0, max_iter=40, random_state=0
    ).fit(X)
    codes = model.transform(X)
    assert codes.min() >= 0.0
    assert ((codes > 0).sum(axis=1) <= 3).all()
    relu = np.maximum(X @ model.components_.T + model.intercept_hidden_, 0.0)
    top = np.sort(relu, axis=1)[:, -3:]
    np.testing.assert_allclose(np.sort(codes, axis=1)[:, -3:], top, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_kernels_agree_on_relu_codes(X, k, dtype):
    pytest.importorskip("numba")
    theta = _objective.pack(_objective.initial_params(10, 5, np.random.RandomState(1)))
    variant = _objective.Variant("l1", k, False, "relu")
    results = [
        _objective.evaluate(
            theta, X.astype(dtype), 5, 0.1, 0.5, 1e-3, "logistic",
            kernel=kernel_named(name), variant=variant,
        )
        for name in ("numpy", "numba")
    ]  # fmt: skip
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert results[0][0] == pytest.approx(results[1][0], rel=rtol)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=rtol)


def test_sigmoid_default_is_unchanged_by_the_option(X):
    default = SparseAutoencoder(4, max_iter=20, random_state=0).fit(X)
    explicit = SparseAutoencoder(4, activation="sigmoid", max_iter=20, random_state=0).fit(X)
    np.testing.assert_array_equal(default.components_, explicit.components_)
    assert default.loss_ == explicit.loss_
