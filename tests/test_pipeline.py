import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skl_sparse_ae import SparseAutoencoder, ZCAWhitening

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def data():
    # Two classes that differ in which half of the features is bright.
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, size=200)
    X = rng.uniform(0.0, 0.5, size=(200, 12))
    X[y == 1, :6] += 0.5
    X[y == 0, 6:] += 0.5
    return X, y


def test_grid_search_over_whitening_autoencoder_classifier(data):
    X, y = data
    pipe = Pipeline(
        [
            ("zca", ZCAWhitening(epsilon=0.1)),
            (
                "sae",
                SparseAutoencoder(8, decoder_activation="identity", max_iter=30, random_state=0),
            ),
            ("clf", LogisticRegression()),
        ]
    )
    grid = {"sae__rho": [0.05, 0.2], "sae__beta": [0.0, 3.0], "sae__lam": [1e-4, 1e-2]}
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.9
    assert search.best_estimator_.named_steps["sae"].rho == search.best_params_["sae__rho"]


def test_unsupervised_grid_search_uses_score(data):
    X, _ = data
    search = GridSearchCV(
        SparseAutoencoder(max_iter=50, beta=0.0, random_state=0),
        {"n_components": [1, 8]},
        cv=3,
    ).fit(X)
    # More hidden units reconstruct better, and score is higher-is-better.
    assert search.best_params_ == {"n_components": 8}
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0]


@pytest.mark.parametrize("dump, load", [(pickle.dumps, pickle.loads), ("joblib", "joblib")])
def test_persistence_round_trip_gives_identical_transforms(data, tmp_path, dump, load):
    X, _ = data
    model = SparseAutoencoder(5, max_iter=20, random_state=0).fit(X)
    if dump == "joblib":
        joblib.dump(model, tmp_path / "model.joblib")
        restored = joblib.load(tmp_path / "model.joblib")
    else:
        restored = load(dump(model))
    np.testing.assert_array_equal(restored.transform(X), model.transform(X))
    np.testing.assert_array_equal(restored.score_samples(X), model.score_samples(X))


def test_clone_keeps_parameters():
    model = SparseAutoencoder(7, rho=0.2, beta=1.5, lam=0.01, decoder_activation="identity")
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert copy is not model
