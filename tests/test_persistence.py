"""Saving and loading fitted models with pickle and joblib.

(SparseAutoencoder's basic round trip is in test_pipeline.py.)
"""

import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest

from skl_sparse_ae import SparseAutoencoder, ZCAWhitening

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = {
    "sae-lbfgs": lambda: SparseAutoencoder(5, max_iter=20, random_state=0),
    "sae-identity": lambda: SparseAutoencoder(
        5, decoder_activation="identity", max_iter=20, random_state=0
    ),
    "sae-adam": lambda: SparseAutoencoder(5, solver="adam", max_iter=3, random_state=0),
    "sae-relu-k": lambda: SparseAutoencoder(
        5, activation="relu", k=3, beta=0.0, max_iter=20, random_state=0
    ),
    "zca": lambda: ZCAWhitening(epsilon=0.1),
}


def _data(n_samples=200, n_features=12, seed=0):
    return np.random.RandomState(seed).uniform(size=(n_samples, n_features))


def _pickle_round_trip(estimator, tmp_path):
    return pickle.loads(pickle.dumps(estimator))


def _joblib_round_trip(estimator, tmp_path, compress=0, mmap_mode=None):
    path = tmp_path / "model.joblib"
    joblib.dump(estimator, path, compress=compress)
    return joblib.load(path, mmap_mode=mmap_mode)


ROUND_TRIPS = {
    "pickle": _pickle_round_trip,
    "joblib": _joblib_round_trip,
    "joblib-compressed": lambda estimator, tmp_path: _joblib_round_trip(estimator, tmp_path, 3),
    # Read-only memory-mapped weights, as joblib shares a model between workers.
    "joblib-mmap": lambda estimator, tmp_path: _joblib_round_trip(
        estimator, tmp_path, mmap_mode="r"
    ),
}


def _outputs(estimator, X):
    Z = estimator.transform(X)
    outputs = {"transform": Z, "inverse_transform": estimator.inverse_transform(Z)}
    if hasattr(estimator, "score_samples"):
        outputs["score_samples"] = estimator.score_samples(X)
    return outputs


@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_round_trip_gives_identical_outputs(name, round_trip, tmp_path):
    estimator = ESTIMATORS[name]().fit(_data())
    restored = ROUND_TRIPS[round_trip](estimator, tmp_path)
    X_new = _data(seed=1)
    expected = _outputs(estimator, X_new)
    got = _outputs(restored, X_new)
    for method, values in expected.items():
        np.testing.assert_array_equal(got[method], values, err_msg=method)
        assert got[method].dtype == values.dtype


@pytest.mark.parametrize("name", ESTIMATORS)
def test_round_trip_keeps_parameters_and_feature_names(name, tmp_path):
    pd = pytest.importorskip("pandas")
    columns = [f"pixel{i}" for i in range(12)]
    estimator = ESTIMATORS[name]().fit(pd.DataFrame(_data(), columns=columns))
    restored = _joblib_round_trip(estimator, tmp_path)
    assert restored.get_params() == estimator.get_params()
    assert list(restored.feature_names_in_) == columns
    assert list(restored.get_feature_names_out()) == list(estimator.get_feature_names_out())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_round_trip_keeps_the_dtype(name, dtype, tmp_path):
    X = _data().astype(dtype)
    restored = _pickle_round_trip(ESTIMATORS[name]().fit(X), tmp_path)
    assert restored.transform(X).dtype == dtype


@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
def test_partial_fit_continues_identically_after_round_trip(round_trip, tmp_path):
    chunks = np.array_split(_data(n_samples=300), 5)
    model = ESTIMATORS["sae-adam"]()
    for chunk in chunks[:2]:
        model.partial_fit(chunk)
    restored = ROUND_TRIPS[round_trip](model, tmp_path)
    # The optimiser's moments, step count, moving average of the activations
    # and the shuffling random state all travel with the model.
    for chunk in chunks[2:]:
        model.partial_fit(chunk)
        restored.partial_fit(chunk)
    np.testing.assert_array_equal(restored.components_, model.components_)
    np.testing.assert_array_equal(restored.decoder_components_, model.decoder_components_)
    assert restored.loss_curve_ == model.loss_curve_
    assert restored.n_iter_ == model.n_iter_ == 5


def test_warm_start_fit_continues_identically_after_round_trip(tmp_path):
    X = _data()
    model = ESTIMATORS["sae-adam"]().set_params(warm_start=True).fit(X)
    restored = _joblib_round_trip(model, tmp_path)
    model.fit(X)
    restored.fit(X)
    np.testing.assert_array_equal(restored.components_, model.components_)
    assert restored.loss_curve_ == model.loss_curve_


@pytest.mark.parametrize("name", ESTIMATORS)
def test_saved_model_does_not_hold_the_training_data(name, tmp_path):
    X = _data(n_samples=5000, n_features=12)
    joblib.dump(ESTIMATORS[name]().fit(X), tmp_path / "model.joblib")
    assert (tmp_path / "model.joblib").stat().st_size < X.nbytes / 20


LOAD_AND_TRANSFORM = """
import sys
import joblib
import numpy as np

model = joblib.load(sys.argv[1])
X = np.load(sys.argv[2])
np.save(sys.argv[3], model.transform(X))
"""


def test_model_is_usable_in_a_new_process_without_the_training_data(tmp_path):
    # Saved here, loaded in a fresh interpreter that only has the model file
    # and new data, as in production.
    model = SparseAutoencoder(5, max_iter=20, random_state=0).fit(_data())
    X_new = _data(n_samples=50, seed=1)
    joblib.dump(model, tmp_path / "model.joblib")
    np.save(tmp_path / "new.npy", X_new)
    subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_AND_TRANSFORM,
            str(tmp_path / "model.joblib"),
            str(tmp_path / "new.npy"),
            str(tmp_path / "codes.npy"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    np.testing.assert_array_equal(np.load(tmp_path / "codes.npy"), model.transform(X_new))


# Versioned pickles: a model records the skl-sparse-ae version that saved it.

VERSIONED = list(ESTIMATORS)


@pytest.mark.parametrize("name", VERSIONED)
def test_pickle_records_the_package_version(name):
    import skl_sparse_ae

    state = ESTIMATORS[name]().fit(_data()).__getstate__()
    assert state["_skl_sparse_ae_version"] == skl_sparse_ae.__version__


@pytest.mark.parametrize("name", VERSIONED)
def test_loading_under_the_same_version_is_silent(name):
    import warnings

    saved = pickle.dumps(ESTIMATORS[name]().fit(_data()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = pickle.loads(saved)
    assert "_skl_sparse_ae_version" not in vars(loaded)


@pytest.mark.parametrize("name", VERSIONED)
def test_loading_under_another_version_warns(name, monkeypatch):
    import skl_sparse_ae
    from skl_sparse_ae.exceptions import InconsistentVersionWarning

    X = _data()
    estimator = ESTIMATORS[name]().fit(X)
    monkeypatch.setattr(skl_sparse_ae._version, "__version__", "0.0.1")
    saved = pickle.dumps(estimator)
    monkeypatch.undo()
    with pytest.warns(InconsistentVersionWarning, match="from skl-sparse-ae version 0.0.1") as w:
        loaded = pickle.loads(saved)
    assert w[0].message.original_version == "0.0.1"
    assert w[0].message.current_version == skl_sparse_ae.__version__
    np.testing.assert_array_equal(loaded.transform(X), estimator.transform(X))


@pytest.mark.parametrize("name", VERSIONED)
def test_pickles_from_before_versioning_warn_with_unknown(name):
    from skl_sparse_ae.exceptions import InconsistentVersionWarning

    estimator = ESTIMATORS[name]().fit(_data())
    state = estimator.__getstate__()
    del state["_skl_sparse_ae_version"]
    fresh = type(estimator).__new__(type(estimator))
    with pytest.warns(InconsistentVersionWarning, match="version unknown"):
        fresh.__setstate__(state)
