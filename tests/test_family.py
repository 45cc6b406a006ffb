"""SparseAutoencoder's family options: L1 penalty, k-sparse codes, denoising,
tied weights (the objective itself is tested in test_variants.py)."""

import numpy as np
import pytest
from sklearn import config_context
from sklearn.utils import check_random_state

from skl_sparse_ae import SparseAutoencoder, _objective

from ._reference import reference_loss_of

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SOLVERS = ["lbfgs", "adam"]
FAMILY = {
    "l1": dict(sparsity_penalty="l1"),
    "k-sparse": dict(k=3, beta=0.0),
    "k-sparse-kl": dict(k=3),
    "masking": dict(corruption="masking", corruption_level=0.3),
    "gaussian": dict(corruption="gaussian", corruption_level=0.1),
    "tied": dict(tied_weights=True),
    "all": dict(sparsity_penalty="l1", k=3, corruption="masking", tied_weights=True),
}


def _data(m=300, n=10, seed=0):
    return np.random.RandomState(seed).uniform(0.1, 0.9, size=(m, n))


def _model(solver="lbfgs", **params):
    return SparseAutoencoder(
        **{"n_components": 6, "solver": solver, "max_iter": 15, "random_state": 0, **params}
    )


def _corrupted_input(model, X):
    """The copy of X that an L-BFGS fit corrupted: the same draws from the
    same random state, after the initial weights."""
    rng = check_random_state(model.random_state)
    _objective.initial_params(X.shape[1], model.n_components, rng)
    return model._corrupt(X, rng)


@pytest.mark.parametrize("name", FAMILY)
@pytest.mark.parametrize("solver", SOLVERS)
def test_family_fits_are_finite_repeatable_and_lower_J(name, solver):
    X = _data()
    model = _model(solver, **FAMILY[name]).fit(X)
    again = _model(solver, **FAMILY[name]).fit(X)
    np.testing.assert_array_equal(model.components_, again.components_)
    assert model.loss_ == again.loss_
    assert np.isfinite(model.loss_) and np.all(np.isfinite(model.components_))
    start = _model(solver, **{**FAMILY[name], "max_iter": 1}).fit(X)
    assert model.loss_ < start.loss_


@pytest.mark.parametrize("name", [n for n in FAMILY if "corruption" not in FAMILY[n]])
def test_loss_is_the_objective_of_the_variant(name):
    X = _data()
    model = _model(**FAMILY[name]).fit(X)
    assert model.loss_ == pytest.approx(reference_loss_of(model, X), rel=1e-10)


@pytest.mark.parametrize("name", ["masking", "gaussian"])
def test_lbfgs_denoising_minimises_J_on_one_corrupted_copy(name):
    X = _data()
    model = _model(**FAMILY[name]).fit(X)
    X_input = _corrupted_input(model, X)
    assert not np.allclose(X_input, X)
    if name == "masking":
        assert 0.2 < np.mean(X_input == 0) < 0.4  # corruption_level=0.3 of the entries
    else:
        assert np.std(X_input - X) == pytest.approx(0.1, rel=0.1)
    assert model.loss_ == pytest.approx(reference_loss_of(model, X, X_input), rel=1e-10)
    # The clean model differs, and transform encodes the clean input.
    clean = _model().fit(X)
    assert not np.allclose(model.components_, clean.components_)
    expected = 1 / (1 + np.exp(-(X @ model.components_.T + model.intercept_hidden_)))
    np.testing.assert_allclose(model.transform(X), expected, rtol=1e-12)


def test_denoising_does_not_modify_X():
    X = _data()
    original = X.copy()
    _model(corruption="masking").fit(X)
    _model("adam", corruption="gaussian").partial_fit(X)
    np.testing.assert_array_equal(X, original)


def test_adam_draws_new_noise_for_every_batch(monkeypatch):
    X = _data()
    model = _model("adam", corruption="masking", batch_size=100, max_iter=2)
    seen = []
    original = SparseAutoencoder._corrupt

    def recording(self, batch, rng):
        corrupted = original(self, batch, rng)
        seen.append(corrupted == 0)
        return corrupted

    monkeypatch.setattr(SparseAutoencoder, "_corrupt", recording)
    model.fit(X)
    assert len(seen) >= 6  # 3 batches in each of 2 epochs
    masks = [mask for mask in seen if mask.shape == (100, 10)]
    assert not any(np.array_equal(masks[0], other) for other in masks[1:])


@pytest.mark.parametrize("solver", SOLVERS)
def test_k_sparse_codes_keep_k_or_transform_k_units(solver):
    X = _data()
    model = _model(solver, k=2).fit(X)
    assert np.all(np.count_nonzero(model.transform(X), axis=1) == 2)
    wider = _model(solver, k=2, transform_k=4).fit(X)
    codes = wider.transform(X)
    assert np.all(np.count_nonzero(codes, axis=1) == 4)
    # score_samples reconstructs from the same codes
    X_hat = wider.inverse_transform(codes)
    np.testing.assert_allclose(wider.score_samples(X), -0.5 * np.sum((X_hat - X) ** 2, axis=1))


def test_k_of_at_least_n_components_keeps_all_units():
    X = _data()
    dense = _model().fit(X)
    capped = _model(k=6).fit(X)
    np.testing.assert_array_equal(capped.components_, dense.components_)
    np.testing.assert_array_equal(capped.transform(X), dense.transform(X))


@pytest.mark.parametrize("solver", SOLVERS)
def test_tied_weights_share_one_matrix(solver):
    X = _data()
    model = _model(solver, tied_weights=True).fit(X)
    np.testing.assert_array_equal(model.decoder_components_, model.components_)
    assert not np.shares_memory(model.decoder_components_, model.components_)
    # warm start and partial_fit continue in the tied layout
    model.set_params(warm_start=True).fit(X)
    np.testing.assert_array_equal(model.decoder_components_, model.components_)
    if solver == "adam":
        model.partial_fit(X)
        np.testing.assert_array_equal(model.decoder_components_, model.components_)


def test_l1_penalty_shrinks_activations_more_as_beta_grows():
    X = _data()
    weak = _model(sparsity_penalty="l1", beta=0.1, max_iter=50).fit(X)
    strong = _model(sparsity_penalty="l1", beta=3.0, max_iter=50).fit(X)
    assert strong.transform(X).mean() < 0.5 * weak.transform(X).mean()


def test_default_family_options_are_the_ufldl_model():
    X = _data()
    default = _model().fit(X)
    explicit = _model(
        sparsity_penalty="kl", k=None, transform_k=None, corruption=None, tied_weights=False
    ).fit(X)
    np.testing.assert_array_equal(default.components_, explicit.components_)


def test_family_on_dask_matches_numpy():
    da = pytest.importorskip("dask.array")
    X = _data()
    params = dict(sparsity_penalty="l1", k=3, tied_weights=True, max_iter=10)
    expected = _model(**params).fit(X)
    with config_context(assume_finite=False):
        model = _model(**params).fit(da.from_array(X, chunks=100))
    np.testing.assert_allclose(model.components_, expected.components_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(
        model.transform(da.from_array(X, chunks=100)).compute(), expected.transform(X), atol=1e-12
    )


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(transform_k=3), "transform_k is the k of transform for a k-sparse model"),
        (dict(corruption="masking", corruption_level=1.0), "must be below 1 for masking"),
        (dict(k=0), "The 'k' parameter of SparseAutoencoder must be"),
        (dict(sparsity_penalty="l2"), "The 'sparsity_penalty' parameter"),
        (dict(corruption="salt"), "The 'corruption' parameter"),
        (dict(corruption_level=-0.1), "The 'corruption_level' parameter"),
        (dict(tied_weights="yes"), "The 'tied_weights' parameter"),
    ],
)
def test_bad_family_options_are_clear_errors(params, message):
    X = _data()
    model = _model(**params)
    with pytest.raises(ValueError, match=message):
        model.fit(X)
    assert not hasattr(model, "components_")


def test_corruption_on_dask_is_a_clear_error():
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="does not train on Dask arrays"):
        _model(corruption="masking").fit(da.from_array(_data(), chunks=100))


def test_every_family_option_declares_array_api_support():
    # The one objective runs every option on every namespace (tests/test_array_api.py).
    for options in ({"k": 2}, {"tied_weights": True}, {"corruption": "masking"}, {}):
        assert _model(**options).__sklearn_tags__().array_api_support
