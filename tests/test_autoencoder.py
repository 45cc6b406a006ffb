import re

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skl_sparse_ae import SparseAutoencoder
from skl_sparse_ae.datasets import load_natural_image_patches
from skl_sparse_ae.diagnostics import sparsity_report

from ._reference import reference_loss_of

# Short fits that stop at max_iter are the point of many tests here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def X():
    return np.random.RandomState(0).uniform(0.1, 0.9, size=(120, 10))


# Whether tol stops it just before max_iter depends on rounding: not the point here.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_demo_settings_loss_is_exact_and_activation_near_rho():
    X = load_natural_image_patches(n_patches=10000, patch_size=8, random_state=0)
    model = SparseAutoencoder(25, rho=0.01, beta=3, lam=1e-4, max_iter=400, random_state=0)
    model.fit(X)
    assert model.loss_ == pytest.approx(reference_loss_of(model, X), rel=1e-6)
    assert model.rho / 1.5 <= model.mean_activation_.mean() <= model.rho * 1.5
    assert model.loss_ < model.loss_curve_[0]
    # The demo's photographs keep the units alive: 2 never fire here on an AMD
    # EPYC, where scikit-learn's two photographs gave 4. A 400-iteration
    # trajectory follows the CPU's rounding, so the bound leaves room for one more.
    assert sparsity_report(model, X).dead_units.sum() <= 3


@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_fitted_attributes(X, decoder):
    model = SparseAutoencoder(4, decoder_activation=decoder, max_iter=30, random_state=0).fit(X)
    assert model.components_.shape == (4, 10)
    assert model.decoder_components_.shape == (4, 10)
    assert model.intercept_hidden_.shape == (4,)
    assert model.intercept_visible_.shape == (10,)
    assert model.mean_activation_.shape == (4,)
    assert model.n_features_in_ == 10
    assert len(model.loss_curve_) == model.n_iter_
    assert model.loss_ == pytest.approx(model.loss_curve_[-1])
    assert model.loss_ == pytest.approx(reference_loss_of(model, X), rel=1e-10)
    np.testing.assert_allclose(model.mean_activation_, model.transform(X).mean(axis=0))


def test_transform_is_the_sigmoid_encoder(X):
    model = SparseAutoencoder(4, max_iter=10, random_state=0).fit(X)
    codes = model.transform(X)
    expected = 1 / (1 + np.exp(-(X @ model.components_.T + model.intercept_hidden_)))
    np.testing.assert_allclose(codes, expected, rtol=1e-12)
    assert np.all((codes > 0) & (codes < 1))


@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_inverse_transform_is_the_decoder(X, decoder):
    model = SparseAutoencoder(4, decoder_activation=decoder, max_iter=10, random_state=0).fit(X)
    codes = model.transform(X)
    z = codes @ model.decoder_components_ + model.intercept_visible_
    expected = 1 / (1 + np.exp(-z)) if decoder == "logistic" else z
    np.testing.assert_allclose(model.inverse_transform(codes), expected, rtol=1e-12)


def test_inverse_transform_rejects_codes_of_wrong_width(X):
    model = SparseAutoencoder(4, max_iter=5, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 3 features.*expecting 4"):
        model.inverse_transform(np.zeros((2, 3)))


def test_score_samples_is_negative_half_squared_error(X):
    model = SparseAutoencoder(4, max_iter=20, random_state=0).fit(X)
    X_hat = model.inverse_transform(model.transform(X))
    expected = -0.5 * np.sum((X_hat - X) ** 2, axis=1)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-12)
    assert model.score(X) == pytest.approx(expected.mean())


def test_more_iterations_reconstruct_better(X):
    short = SparseAutoencoder(8, beta=0, max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        short.fit(X)
    long = SparseAutoencoder(8, beta=0, max_iter=200, random_state=0).fit(X)
    assert long.score(X) > short.score(X)


def test_sparsity_pulls_mean_activation_to_rho(X):
    dense = SparseAutoencoder(6, beta=0, max_iter=200, random_state=0).fit(X)
    sparse = SparseAutoencoder(6, rho=0.05, beta=5, max_iter=200, random_state=0).fit(X)
    assert abs(sparse.mean_activation_.mean() - 0.05) < abs(dense.mean_activation_.mean() - 0.05)
    assert sparse.mean_activation_.mean() < 0.1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(X, dtype):
    X = X.astype(dtype)
    model = SparseAutoencoder(4, max_iter=10, random_state=0).fit(X)
    for name in ("components_", "decoder_components_", "intercept_hidden_", "intercept_visible_"):
        assert getattr(model, name).dtype == dtype
    assert model.mean_activation_.dtype == dtype
    assert model.transform(X).dtype == dtype
    assert model.inverse_transform(model.transform(X)).dtype == dtype
    assert model.score_samples(X).dtype == dtype


def test_integers_are_converted_to_float64():
    X = np.random.RandomState(0).randint(0, 2, size=(50, 6))
    model = SparseAutoencoder(3, max_iter=5, random_state=0).fit(X)
    assert model.components_.dtype == np.float64
    assert model.transform(X).dtype == np.float64


def test_input_is_not_modified(X):
    original = X.copy()
    model = SparseAutoencoder(4, max_iter=10, random_state=0).fit(X)
    model.transform(X)
    model.score_samples(X)
    model.inverse_transform(model.transform(X))
    np.testing.assert_array_equal(X, original)


def test_same_random_state_gives_identical_weights(X):
    a = SparseAutoencoder(4, max_iter=30, random_state=3).fit(X)
    b = SparseAutoencoder(4, max_iter=30, random_state=3).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.decoder_components_, b.decoder_components_)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_verbose_prints_one_line_per_iteration(X, capsys):
    model = SparseAutoencoder(4, max_iter=5, tol=0, verbose=1, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == model.n_iter_ == 5
    pattern = r"\[SparseAutoencoder\] Iteration (\d+), loss = [\d.e+-]+, time = [\d.]+s"
    assert [int(re.fullmatch(pattern, line).group(1)) for line in lines] == [1, 2, 3, 4, 5]


def test_max_iter_reached_warns(X):
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        SparseAutoencoder(4, max_iter=3, tol=0, random_state=0).fit(X)


def test_stops_when_loss_stalls(X, recwarn):
    tol, window = 0.05, 2
    model = SparseAutoencoder(4, max_iter=400, tol=tol, n_iter_no_change=window, random_state=0)
    model.fit(X)
    curve = model.loss_curve_
    assert model.n_iter_ == len(curve) < 400
    decrease = [
        (curve[k - window] - curve[k]) / curve[k - window] for k in range(window, len(curve))
    ]
    assert decrease[-1] <= tol  # stopped because of the stall ...
    assert all(d > tol for d in decrease[:-1])  # ... and not before it
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


def test_warm_start_continues_from_previous_weights(X):
    cold = SparseAutoencoder(4, max_iter=10, tol=0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        cold.fit(X)
    first_loss = cold.loss_
    cold.set_params(warm_start=True)
    with pytest.warns(ConvergenceWarning):
        cold.fit(X)
    # The second fit starts where the first ended, so its first iterate is
    # already better than where the first fit stopped.
    assert cold.loss_curve_[0] <= first_loss
    assert cold.loss_ < first_loss


def test_without_warm_start_refit_starts_afresh(X):
    model = SparseAutoencoder(4, max_iter=10, tol=0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        first = model.fit(X).components_.copy()
        second = model.fit(X).components_
    np.testing.assert_array_equal(first, second)


def test_refit_with_other_number_of_features_and_warm_start(X):
    model = SparseAutoencoder(4, max_iter=5, warm_start=True, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
        model.fit(X[:, :6])
    assert model.components_.shape == (4, 6)
    assert model.transform(X[:, :6]).shape == (120, 4)


def test_feature_names_out(X):
    model = SparseAutoencoder(3, max_iter=5, random_state=0).fit(X)
    names = model.get_feature_names_out()
    assert list(names) == ["sparseautoencoder0", "sparseautoencoder1", "sparseautoencoder2"]
