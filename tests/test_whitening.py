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


# Streaming: partial_fit on the parts of a data set is fit on all of it.


def _parts(X, n_parts):
    bounds = np.linspace(0, X.shape[0], n_parts + 1).astype(int)
    return [X[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


FITTED = ("mean_", "whitening_", "dewhitening_", "explained_variance_")


@pytest.mark.parametrize("n_parts", [2, 7])
def test_partial_fit_on_parts_equals_fit_on_all(X, n_parts):
    streamed = ZCAWhitening()
    for part in _parts(X + 1e3, n_parts):  # a large mean: merging must not cancel
        streamed.partial_fit(part)
    whole = ZCAWhitening().fit(X + 1e3)
    assert streamed.n_samples_seen_ == whole.n_samples_seen_ == X.shape[0]
    for name in FITTED:
        expected = getattr(whole, name)
        error = np.linalg.norm(getattr(streamed, name) - expected) / np.linalg.norm(expected)
        assert error < 1e-10, name


def test_partial_fit_of_float32_parts_accumulates_in_float64(X):
    streamed = ZCAWhitening()
    for part in _parts(X.astype(np.float32), 5):
        streamed.partial_fit(part)
    whole = ZCAWhitening().fit(X.astype(np.float32))
    assert streamed.whitening_.dtype == np.float32
    np.testing.assert_allclose(streamed.whitening_, whole.whitening_, rtol=1e-5, atol=1e-6)


def test_fit_after_partial_fit_starts_afresh(X):
    model = ZCAWhitening().partial_fit(X[:500] * 10)
    model.fit(X)
    assert model.n_samples_seen_ == X.shape[0]
    np.testing.assert_array_equal(model.whitening_, ZCAWhitening().fit(X).whitening_)


def test_partial_fit_checks_the_number_of_features(X):
    model = ZCAWhitening().partial_fit(X)
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:, :4])
    assert model.n_samples_seen_ == X.shape[0]


def test_failed_partial_fit_leaves_the_running_moments_alone(X):
    model = ZCAWhitening().partial_fit(X[:1000])
    bad = X[1000:].copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.partial_fit(bad)
    model.partial_fit(X[1000:])
    np.testing.assert_allclose(model.whitening_, ZCAWhitening().fit(X).whitening_, rtol=1e-10)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_chunks_on_threads_agree_with_one_pass(X, threads, monkeypatch):
    from skl_sparse_ae import _whitening

    whole = ZCAWhitening().fit(X)
    monkeypatch.setattr(_whitening, "n_threads", lambda: threads)
    with sklearn.config_context(working_memory=0.01):  # chunks of ~70 rows
        chunked = ZCAWhitening().fit(X)
        again = ZCAWhitening().fit(X)
    np.testing.assert_allclose(chunked.whitening_, whole.whitening_, rtol=1e-12)
    np.testing.assert_array_equal(again.whitening_, chunked.whitening_)
