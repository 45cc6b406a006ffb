"""Training and encoding on Dask arrays, and grid search on a Dask cluster."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="the Dask tests need the 'dask' extra")
distributed = pytest.importorskip("distributed", reason="the Dask tests need dask[distributed]")

import joblib  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skl_sparse_ae import SparseAutoencoder, ZCAWhitening  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture
def X():
    return np.random.RandomState(0).uniform(0.1, 0.9, size=(600, 12))


@pytest.mark.parametrize(
    "variant",
    [
        {},
        dict(activation="relu", sparsity_penalty="l1", beta=0.01),
        dict(activation="relu", sparsity_penalty="l1", beta=0.5, resample_every=10),
    ],
    ids=["sigmoid", "relu-l1", "relu-resampled"],
)
def test_dask_fit_matches_numpy_fit(client, X, variant):
    params = dict(n_components=5, max_iter=30, tol=0.0, random_state=0, **variant)
    on_numpy = SparseAutoencoder(**params).fit(X)
    on_dask = SparseAutoencoder(**params).fit(da.from_array(X, chunks=(150, 12)))
    for name in ("components_", "decoder_components_", "intercept_hidden_", "intercept_visible_"):
        np.testing.assert_allclose(getattr(on_dask, name), getattr(on_numpy, name), atol=1e-6)
    assert on_dask.loss_ == pytest.approx(on_numpy.loss_, rel=1e-9)
    assert on_dask.n_features_in_ == 12


def _task_names(stream):
    return [str(task["key"]) for task in stream.data]


def test_dask_fit_runs_blockwise_on_the_workers(client, X):
    X_dask = da.from_array(X, chunks=(100, 12))  # 6 blocks
    with distributed.get_task_stream(client) as stream:
        model = SparseAutoencoder(4, max_iter=3, tol=0.0, random_state=0).fit(X_dask)
    names = _task_names(stream)
    evaluations = sum("block_sums" in name for name in names) // 6
    assert evaluations >= model.n_iter_  # every evaluation ran as block tasks
    assert sum("block_hidden_sums" in name for name in names) == 6 * evaluations


def test_dask_fit_never_gathers_X_on_the_client(client, X, monkeypatch):
    def gather(self, *args, **kwargs):
        raise AssertionError("the Dask array was converted to NumPy on the client")

    X_dask = da.from_array(X, chunks=(150, 12))
    monkeypatch.setattr(da.Array, "__array__", gather)
    monkeypatch.setattr(da.Array, "compute", gather)
    with pytest.raises(AssertionError, match="converted"):
        np.asarray(X_dask)  # the trap works
    model = SparseAutoencoder(4, max_iter=3, random_state=0).fit(X_dask)
    assert isinstance(model.transform(X_dask), da.Array)
    assert np.isfinite(model.loss_)


def test_dask_transform_returns_a_dask_array(client, X):
    model = SparseAutoencoder(4, max_iter=10, random_state=0).fit(X)
    X_dask = da.from_array(X, chunks=(200, 12))
    codes = model.transform(X_dask)
    assert isinstance(codes, da.Array)
    assert codes.shape == (600, 4)
    np.testing.assert_allclose(codes.compute(), model.transform(X), rtol=1e-12)
    decoded = model.inverse_transform(codes)
    assert isinstance(decoded, da.Array)
    np.testing.assert_allclose(decoded.compute(), model.inverse_transform(model.transform(X)))


def test_dask_float32_stays_float32(client, X):
    model = SparseAutoencoder(4, max_iter=5, random_state=0)
    model.fit(da.from_array(X.astype(np.float32), chunks=(300, 12)))
    assert model.components_.dtype == np.float32
    assert model.transform(da.from_array(X.astype(np.float32))).dtype == np.float32


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.full((10, 3), np.nan), "NaN or infinity"),
        (np.ones(10), "2D"),
        (np.ones((0, 3)), "at least 1 sample"),
    ],
)
def test_dask_bad_input_is_rejected(client, bad, message):
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(2, max_iter=2).fit(da.from_array(bad))


def test_dask_transform_checks_number_of_features(client, X):
    model = SparseAutoencoder(4, max_iter=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="expecting 12 features"):
        model.transform(da.from_array(X[:, :5]))


def test_adam_refuses_dask_arrays(client, X):
    with pytest.raises(ValueError, match="Dask arrays"):
        SparseAutoencoder(2, solver="adam").fit(da.from_array(X))


def test_grid_search_runs_on_the_dask_cluster(client, X):
    pipe = make_pipeline(
        ZCAWhitening(epsilon=0.1),
        SparseAutoencoder(4, decoder_activation="identity", max_iter=10, random_state=0),
    )
    grid = {"sparseautoencoder__rho": [0.05, 0.2], "sparseautoencoder__lam": [1e-4, 1e-2]}
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_config(backend="dask"):
            search = GridSearchCV(pipe, grid, cv=2, n_jobs=-1).fit(X)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    # joblib sent the 4 × 2 fits to the cluster (in batches of tasks).
    assert any("fit_and_score" in name for name in _task_names(stream))


def test_without_a_cluster_X_is_not_loaded_into_the_process(X, monkeypatch):
    # persist() without a distributed client would compute every block here.
    monkeypatch.setattr(distributed, "get_client", _no_client)

    def refuse(*args, **kwargs):
        raise AssertionError("persist() loaded X into this process")

    monkeypatch.setattr(da.Array, "persist", refuse)
    lazy = da.from_array(X, chunks=(150, 12))
    on_dask = SparseAutoencoder(4, max_iter=10, random_state=0).fit(lazy)
    in_memory = SparseAutoencoder(4, max_iter=10, random_state=0).fit(X)
    np.testing.assert_allclose(on_dask.components_, in_memory.components_, rtol=1e-6, atol=1e-9)


def _no_client():
    raise ValueError("No clients found")


# ZCAWhitening on Dask arrays: blockwise moments, lazy transforms.


def test_zca_dask_fit_matches_numpy_fit(client, X):
    on_numpy = ZCAWhitening().fit(X)
    on_dask = ZCAWhitening().fit(da.from_array(X, chunks=(150, 12)))
    assert on_dask.n_samples_seen_ == X.shape[0]
    for name in ("mean_", "whitening_", "dewhitening_", "explained_variance_"):
        np.testing.assert_allclose(getattr(on_dask, name), getattr(on_numpy, name), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_zca_dask_transforms_are_lazy_and_match_numpy(client, X, dtype):
    X = X.astype(dtype)
    zca = ZCAWhitening().fit(X)
    lazy = da.from_array(X, chunks=(150, 12))
    Z = zca.transform(lazy)
    assert isinstance(Z, da.Array) and Z.dtype == dtype
    np.testing.assert_allclose(Z.compute(), zca.transform(X), rtol=1e-5, atol=1e-5)
    back = zca.inverse_transform(Z)
    assert isinstance(back, da.Array)
    np.testing.assert_allclose(back.compute(), X, rtol=1e-4, atol=1e-4)


def test_zca_dask_fit_refuses_nan_and_leaves_the_model_alone(client, X):
    zca = ZCAWhitening().fit(X)
    before = zca.whitening_.copy()
    bad = X.copy()
    bad[7, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        zca.fit(da.from_array(bad, chunks=(150, 12)))
    np.testing.assert_array_equal(zca.whitening_, before)


def test_zca_dask_transform_checks_number_of_features(client, X):
    zca = ZCAWhitening().fit(X)
    with pytest.raises(ValueError, match="expecting 12 features"):
        zca.transform(da.from_array(X[:, :5]))
