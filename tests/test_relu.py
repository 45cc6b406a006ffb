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


# --- dead-unit resampling -----------------------------------------------------------------


@pytest.fixture(scope="module")
def patches():
    from skl_sparse_ae.datasets import load_natural_image_patches

    return load_natural_image_patches(2000, 8, random_state=0)


def _dead(model, X):
    return int((model.transform(X) <= 0).all(axis=0).sum())


@pytest.mark.parametrize(
    "params",
    [
        dict(sparsity_penalty="l1", beta=0.1, max_iter=200),
        dict(k=5, beta=0.0, max_iter=200),
        dict(k=5, beta=0.0, solver="adam", max_iter=30),
    ],
    ids=["lbfgs-l1", "lbfgs-k", "adam-k"],
)
def test_resampling_revives_dead_relu_units(patches, params):
    options = dict(activation="relu", random_state=0, **params)
    without = SparseAutoencoder(25, resample_every=None, **options).fit(patches)
    with_resampling = SparseAutoencoder(25, **options).fit(patches)  # "auto"
    assert without.n_units_resampled_ == 0
    assert with_resampling.n_units_resampled_ > 0
    assert _dead(without, patches) >= 5  # the problem resampling is for
    assert _dead(with_resampling, patches) <= 1
    assert with_resampling.loss_ == pytest.approx(reference_loss_of(with_resampling, patches))


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_resampling_is_repeatable_under_random_state(patches, solver):
    params = dict(activation="relu", k=5, beta=0.0, solver=solver, random_state=3)
    params["max_iter"] = 120 if solver == "lbfgs" else 12
    a = SparseAutoencoder(25, **params).fit(patches)
    b = SparseAutoencoder(25, **params).fit(patches)
    assert a.n_units_resampled_ == b.n_units_resampled_ > 0
    np.testing.assert_array_equal(a.components_, b.components_)
    assert a.loss_ == b.loss_


def test_resampled_units_point_at_badly_reconstructed_rows(patches):
    from skl_sparse_ae import _dead_units
    from skl_sparse_ae._parameters import Variant

    model = SparseAutoencoder(
        10, activation="relu", sparsity_penalty="l1", beta=0.1, resample_every=None,
        max_iter=30, random_state=0,
    ).fit(patches)  # fmt: skip
    params = model._params(patches.dtype)
    dead = np.array([2, 7])
    variant = Variant("l1", None, False, "relu")
    new = _dead_units.resampled(
        params, patches, dead, np.random.RandomState(0), decoder="logistic", variant=variant
    )
    live = np.setdiff1d(np.arange(10), dead)
    np.testing.assert_array_equal(new.W1[live], params.W1[live])  # the others untouched
    np.testing.assert_array_equal(new.W2T[live], params.W2T[live])
    np.testing.assert_array_equal(new.b1[dead], 0.0)
    # Each new encoder row is a centred training row's direction at the live rows' norm.
    norms = np.linalg.norm(new.W1[dead], axis=1)
    np.testing.assert_allclose(norms, np.linalg.norm(params.W1[live], axis=1).mean(), rtol=1e-12)
    directions = (patches - patches.mean(axis=0)) / np.linalg.norm(
        patches - patches.mean(axis=0), axis=1, keepdims=True
    )
    cosines = directions @ (new.W1[dead] / norms[:, np.newaxis]).T
    assert np.allclose(cosines.max(axis=0), 1.0)
    np.testing.assert_array_equal(params.W1, model.components_)  # the input is not modified


def test_adam_resampling_zeroes_the_moments_of_resampled_units(patches, monkeypatch):
    from skl_sparse_ae import _solvers

    seen = []
    original = _solvers._resample_adam_state

    def recording(state, X, backend, variant, decoder, rng):
        count = original(state, X, backend, variant, decoder, rng)
        seen.append((count, state.first_moment.copy(), state.second_moment.copy()))
        return count

    monkeypatch.setattr(_solvers, "_resample_adam_state", recording)
    model = SparseAutoencoder(
        25, activation="relu", k=5, beta=0.0, solver="adam", max_iter=12, random_state=0
    ).fit(patches)
    assert sum(count for count, _, _ in seen) == model.n_units_resampled_ > 0
    n = patches.shape[1]
    for count, first, second in seen:
        W1_first = first[: 25 * n].reshape(25, n)
        zero_rows = np.flatnonzero(~W1_first.any(axis=1))
        assert zero_rows.size == count
        assert not second[: 25 * n].reshape(25, n)[zero_rows].any()


def test_partial_fit_resamples_on_the_epochs_of_the_stream(patches):
    model = SparseAutoencoder(25, activation="relu", k=5, beta=0.0, solver="adam", random_state=0)
    counts = [model.partial_fit(patches).n_units_resampled_ for _ in range(11)]
    assert all(count == 0 for i, count in enumerate(counts) if (i + 1) % 5)
    assert sum(counts) > 0  # after the 5th and 10th passes


def test_sigmoid_units_are_not_resampled_by_default(patches):
    model = SparseAutoencoder(25, sparsity_penalty="l1", beta=0.01, max_iter=30, random_state=0)
    assert model.fit(patches).n_units_resampled_ == 0


def test_resampling_sigmoid_units_is_a_clear_error(patches):
    model = SparseAutoencoder(5, resample_every=10, max_iter=30)
    with pytest.raises(ValueError, match="resample_every=10 resamples dead ReLU units"):
        model.fit(patches)
    assert not hasattr(model, "components_")
