import numpy as np
import pytest
import sklearn

from skl_sparse_ae import ZCAWhitening


@pytest.fixture
def X():
    rng = np.random.RandomState(0)
    mixing = rng.normal(size=(6, 6))
    return rng.normal(size=(2000, 6)) @ mixing + rng.normal(size=6)


def test_whitened_covariance_is_identity(X):
    Z = ZCAWhitening(epsilon=1e-10).fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(Z.T @ Z / len(Z), np.eye(6), atol=1e-8)


def test_matrices_follow_the_definition(X):
    zca = ZCAWhitening(epsilon=0.1).fit(X)
    Xc = X - X.mean(axis=0)
    covariance = Xc.T @ Xc / len(X)  # divisor m, as in UFLDL
    S, U = np.linalg.eigh(covariance)
    np.testing.assert_allclose(zca.explained_variance_, S[::-1], rtol=1e-10)
    np.testing.assert_allclose(zca.whitening_, U @ np.diag(1 / np.sqrt(S + 0.1)) @ U.T, atol=1e-12)
    np.testing.assert_allclose(zca.dewhitening_, U @ np.diag(np.sqrt(S + 0.1)) @ U.T, atol=1e-12)
    np.testing.assert_allclose(np.abs(zca.components_), np.abs(U[:, ::-1].T), atol=1e-10)
    np.testing.assert_allclose(zca.transform(X), Xc @ zca.whitening_, atol=1e-12)


def test_whitening_matrix_is_symmetric(X):
    zca = ZCAWhitening().fit(X)
    np.testing.assert_allclose(zca.whitening_, zca.whitening_.T, atol=1e-12)
    np.testing.assert_allclose(zca.dewhitening_, zca.dewhitening_.T, atol=1e-12)


def test_explained_variance_is_descending(X):
    variance = ZCAWhitening().fit(X).explained_variance_
    assert np.all(np.diff(variance) <= 0)


@pytest.mark.parametrize("epsilon", [1e-5, 0.1, 10.0])
def test_inverse_transform_round_trip(X, epsilon):
    zca = ZCAWhitening(epsilon=epsilon).fit(X)
    np.testing.assert_allclose(zca.inverse_transform(zca.transform(X)), X, atol=1e-9)


def test_rank_deficient_data_stays_finite():
    rng = np.random.RandomState(0)
    base = rng.normal(size=(300, 3))
    X = np.hstack([base, base @ rng.normal(size=(3, 3)), np.ones((300, 1))])  # rank 3 of 7
    zca = ZCAWhitening(epsilon=1e-5).fit(X)
    assert np.all(zca.explained_variance_ >= 0)
    assert np.all(np.isfinite(zca.whitening_))
    Z = zca.transform(X)
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(zca.inverse_transform(Z), X, atol=1e-8)


def test_float32_is_preserved(X):
    X32 = X.astype(np.float32)
    zca = ZCAWhitening().fit(X32)
    for name in ("mean_", "whitening_", "dewhitening_", "explained_variance_", "components_"):
        assert getattr(zca, name).dtype == np.float32
    Z = zca.transform(X32)
    assert Z.dtype == np.float32
    assert zca.inverse_transform(Z).dtype == np.float32
    np.testing.assert_allclose(Z, ZCAWhitening().fit_transform(X), rtol=1e-3, atol=1e-3)


def test_input_is_not_modified_by_default(X):
    original = X.copy()
    zca = ZCAWhitening().fit(X)
    zca.transform(X)
    zca.inverse_transform(X)
    np.testing.assert_array_equal(X, original)


def test_copy_false_centres_in_place_at_transform_only(X):
    X_fit = X.copy()
    zca = ZCAWhitening(copy=False).fit(X_fit)
    np.testing.assert_array_equal(X_fit, X)
    Z = zca.transform(X_fit)
    np.testing.assert_allclose(X_fit, X - zca.mean_)
    np.testing.assert_allclose(Z, ZCAWhitening().fit(X).transform(X))


def _float64_whitening(X, epsilon):
    """The UFLDL whitening matrix computed in float64, unchunked."""
    X = np.asarray(X, dtype=np.float64)
    centred = X - X.mean(axis=0)
    S, U = np.linalg.eigh(centred.T @ centred / X.shape[0])
    return (U / np.sqrt(np.maximum(S, 0) + epsilon)) @ U.T


@pytest.mark.parametrize("working_memory", [1024, 0.01])  # MiB: one chunk, many
def test_float32_covariance_is_accumulated_in_float64(working_memory):
    # Rank-3 signal plus noise of variance ~ε: a float32 covariance put the
    # whitening matrix 2e-2 off here.
    rng = np.random.RandomState(0)
    signal = rng.normal(size=(20000, 3)) @ rng.normal(size=(3, 16))
    X32 = (signal + 3e-3 * rng.normal(size=(20000, 16)) + 0.5).astype(np.float32)
    expected = _float64_whitening(X32, 1e-5)
    with sklearn.config_context(working_memory=working_memory):
        whitening = ZCAWhitening(epsilon=1e-5).fit(X32).whitening_
    error = np.linalg.norm(whitening - expected) / np.linalg.norm(expected)
    assert error < 1e-6


def test_copy_false_accepts_read_only_input(X):
    X.setflags(write=False)
    Z = ZCAWhitening(copy=False).fit(X).transform(X)
    assert np.all(np.isfinite(Z))


def test_feature_names_are_one_to_one(X):
    zca = ZCAWhitening().fit(X)
    assert list(zca.get_feature_names_out()) == [f"x{i}" for i in range(6)]
