"""Numerical extremes, determinism and thread safety.

Training on awkward data either finishes with finite weights and a finite
loss or raises a clear ValueError: never NaN weights.
"""

import pickle
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy.special import expit
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skl_sparse_ae import SparseAutoencoder, ZCAWhitening, _objective, _parallel

from ._reference import reference_loss
from .test_objective import _central_differences

# Every test runs once with each kernel (tests/conftest.py).
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.usefixtures("each_kernel"),
]

# numpy's own warnings on the way to a "training diverged" error.
ignore_overflow = pytest.mark.filterwarnings(
    "ignore:overflow encountered:RuntimeWarning",
    "ignore:invalid value encountered:RuntimeWarning",
)

FITTED_ARRAYS = (
    "components_",
    "decoder_components_",
    "intercept_hidden_",
    "intercept_visible_",
    "mean_activation_",
    "loss_curve_",
)

DIVERGED = "training diverged: the weights or the loss are not finite"


def _data(n_samples=60, n_features=8, low=0.0, high=1.0):
    return np.random.RandomState(0).uniform(low, high, size=(n_samples, n_features))


def _model(solver="lbfgs", **params):
    return SparseAutoencoder(
        **{"n_components": 4, "solver": solver, "max_iter": 30, "random_state": 0, **params}
    )


def _assert_finite_model(model, X):
    for name in FITTED_ARRAYS:
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.isfinite(model.loss_)
    assert np.all(np.isfinite(model.transform(X)))
    assert np.all(np.isfinite(model.score_samples(X)))


def _fitted_state(model):
    params = model.get_params(deep=False)
    return {name: pickle.dumps(value) for name, value in vars(model).items() if name not in params}


SOLVERS = ["lbfgs", "adam"]


# Data outside [0, 1] with the logistic decoder: warned about, tested below.
ignore_range_warning = pytest.mark.filterwarnings("ignore:X has values outside:UserWarning")


@ignore_range_warning
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("decoder", ["logistic", "identity"])
@pytest.mark.parametrize("scale", [1e-6, 1e3, 1e6])
def test_tiny_and_huge_scales_train_to_finite_weights(solver, decoder, scale):
    X = _data() * scale
    model = _model(solver, decoder_activation=decoder).fit(X)
    _assert_finite_model(model, X)


@pytest.mark.parametrize("solver", SOLVERS)
def test_constant_features(solver):
    X = _data()
    X[:, ::2] = 0.3
    _assert_finite_model(_model(solver).fit(X), X)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_all_features_constant(solver, value):
    X = np.full((30, 5), value)
    _assert_finite_model(_model(solver).fit(X), X)


@pytest.mark.parametrize("solver", SOLVERS)
def test_duplicated_rows(solver):
    X = np.vstack([_data(), _data()])
    _assert_finite_model(_model(solver).fit(X), X)


@pytest.mark.parametrize("solver", SOLVERS)
def test_single_repeated_row(solver):
    X = np.tile(_data(n_samples=1), (40, 1))
    _assert_finite_model(_model(solver).fit(X), X)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("rho", [0.001, 0.5, 0.999])
def test_strong_sparsity_penalty(solver, rho):
    X = _data()
    _assert_finite_model(_model(solver, beta=100.0, rho=rho).fit(X), X)


@pytest.mark.parametrize("rho", [0.001, 0.999])
def test_strong_sparsity_penalty_pushes_mean_activation_to_the_edge(rho):
    model = _model(beta=100.0, rho=rho, max_iter=100).fit(_data())
    np.testing.assert_allclose(model.mean_activation_, rho, rtol=0.05)


@ignore_range_warning
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_float32_with_large_values(solver, decoder):
    X = _data(low=1e4, high=1e6).astype(np.float32)
    model = _model(solver, decoder_activation=decoder).fit(X)
    assert model.components_.dtype == np.float32
    _assert_finite_model(model, X)


@ignore_overflow
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("decoder", ["logistic", "identity"])
# Scales at which (X̂ − X)² overflows the dtype. (At 1e19 in float32 only its
# sum over the elements does: the NumPy kernel's float32 sum overflows, the
# compiled kernel's float64 sum gives the finite J ≈ 1.3e38.)
@pytest.mark.parametrize(
    "dtype, scale", [(np.float32, 1e20), (np.float32, 1e30), (np.float64, 1e160)]
)
def test_overflowing_data_raises_instead_of_nan_weights(solver, decoder, dtype, scale):
    X = (_data() * scale).astype(dtype)
    model = _model(solver, decoder_activation=decoder, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the logistic decoder's range warning
        with pytest.raises(ValueError, match=DIVERGED):
            model.fit(X)
    assert not hasattr(model, "components_")


@ignore_overflow
@pytest.mark.parametrize("solver", SOLVERS)
def test_diverged_refit_keeps_the_fitted_model(solver):
    model = _model(solver, decoder_activation="identity", max_iter=5).fit(_data())
    state = _fitted_state(model)
    with pytest.raises(ValueError, match=DIVERGED):
        model.fit(_data() * 1e160)
    assert _fitted_state(model) == state


@ignore_overflow
def test_diverged_partial_fit_changes_nothing():
    X = _data()
    model = _model("adam", decoder_activation="identity").partial_fit(X)
    untouched = pickle.loads(pickle.dumps(model))
    with pytest.raises(ValueError, match=DIVERGED):
        model.partial_fit(X * 1e160)
    # The failed call left no trace: not in the weights, the Adam moments,
    # the loss curve nor the shuffling random state.
    model.partial_fit(X)
    untouched.partial_fit(X)
    assert model.loss_curve_ == untouched.loss_curve_
    np.testing.assert_array_equal(model.components_, untouched.components_)


@ignore_overflow
def test_zca_covariance_overflow_is_a_clear_error():
    X = (_data() * 1e20).astype(np.float32)
    with pytest.raises(ValueError, match="too large to whiten.*overflows float32"):
        ZCAWhitening().fit(X)


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_zca_tiny_and_huge_scales(scale):
    X = _data() * scale
    zca = ZCAWhitening().fit(X)
    for name in ("mean_", "whitening_", "dewhitening_", "explained_variance_", "components_"):
        assert np.all(np.isfinite(getattr(zca, name))), name
    np.testing.assert_allclose(zca.inverse_transform(zca.transform(X)), X, rtol=1e-6)


# The KL term with dead (ρ̂ = 0) and saturated (ρ̂ = 1) hidden units.


@pytest.mark.parametrize("rho", [0.001, 0.05, 0.999])
def test_kl_divergence_is_finite_at_zero_and_one(rho):
    kl = _objective.kl_divergence(rho, np.array([0.0, 1.0, 0.5]))
    assert np.isfinite(kl)
    assert kl > 0


@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_loss_and_gradient_are_finite_with_dead_and_saturated_units(decoder):
    X = _data(n_features=6)
    params = _objective.initial_params(6, 3, np.random.RandomState(0))
    params.b1[:] = [-1e3, 1e3, 0.0]  # a dead unit, a saturated one and a normal one
    loss, grad, rho_hat = _objective.evaluate(
        _objective.pack(params), X, 3, 0.05, 3.0, 1e-4, decoder
    )
    assert rho_hat[0] == 0.0 and rho_hat[1] == 1.0
    assert np.isfinite(loss)
    assert np.all(np.isfinite(grad))


# Units near death (b1 = −30: ρ̂ ≈ 1e-13) or saturation (b1 = +30): the KL
# push on b1 is what revives them, so it must be the exact derivative of J.

N_FEATURES, N_COMPONENTS = 6, 4


def _dying_problem(biases, dtype=np.float64):
    rng = np.random.RandomState(0)
    X = rng.uniform(0.1, 0.9, size=(300, N_FEATURES)).astype(dtype)
    params = _objective.initial_params(N_FEATURES, N_COMPONENTS, rng)
    params.b1[: len(biases)] = biases
    return X, _objective.pack(params)


EXTREME_BIASES = pytest.mark.parametrize(
    "biases", [[-30.0, -40.0], [30.0, 40.0]], ids=["dying", "saturated"]
)


@EXTREME_BIASES
@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_gradient_of_extreme_units_matches_central_differences(decoder, biases):
    X, theta = _dying_problem(biases)
    args = (X, N_COMPONENTS, 0.01, 3.0, 1e-4, decoder)
    _, grad = _objective.loss_and_grad(theta, *args)
    numeric = _central_differences(lambda t: _objective.loss_and_grad(t, *args)[0], theta)
    relative_error = np.linalg.norm(numeric - grad) / np.linalg.norm(numeric + grad)
    assert relative_error < 1e-7
    # The b1 entries of those units, which the KL term dominates, one by one.
    b1 = slice(2 * N_COMPONENTS * N_FEATURES, 2 * N_COMPONENTS * N_FEATURES + len(biases))
    np.testing.assert_allclose(grad[b1], numeric[b1], rtol=1e-7)


@EXTREME_BIASES
@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_loss_of_extreme_units_matches_independent_computation(decoder, biases):
    X, theta = _dying_problem(biases)
    loss, _ = _objective.loss_and_grad(theta, X, N_COMPONENTS, 0.01, 3.0, 1e-4, decoder)
    p = _objective.unpack(theta, N_FEATURES, N_COMPONENTS)
    expected = reference_loss(X, p.W1, p.b1, p.W2T, p.b2, 0.01, 3.0, 1e-4, decoder)
    assert loss == pytest.approx(expected, rel=1e-13)


def test_mean_activation_of_a_dying_unit_is_exact():
    X, theta = _dying_problem([-40.0])
    p = _objective.unpack(theta, N_FEATURES, N_COMPONENTS)
    _, _, rho_hat = _objective.evaluate(theta, X, N_COMPONENTS, 0.01, 3.0, 1e-4, "logistic")
    expected = expit(X @ p.W1.T + p.b1).mean(axis=0)
    assert rho_hat[0] < 1e-16
    np.testing.assert_allclose(rho_hat, expected, rtol=1e-13)


@pytest.mark.parametrize("n_workers", [1, 2])
def test_extreme_units_in_small_chunks_and_threads(n_workers):
    # Each chunk decides for itself which units need the exact form.
    X, theta = _dying_problem([-30.0, 30.0])
    args = (X, N_COMPONENTS, 0.01, 3.0, 1e-4, "logistic")
    loss, grad, _ = _objective.evaluate(theta, *args)
    with config_context(working_memory=0.001):
        chunked, chunked_grad, _ = _objective.evaluate(theta, *args, n_workers=n_workers)
    assert chunked == pytest.approx(loss, rel=1e-13)
    np.testing.assert_allclose(chunked_grad, grad, rtol=1e-10, atol=1e-15)


def test_float32_gradient_of_a_dying_unit_agrees_with_float64():
    X, theta = _dying_problem([-30.0, -40.0])
    args = (N_COMPONENTS, 0.01, 3.0, 1e-4, "logistic")
    loss64, grad64 = _objective.loss_and_grad(theta, X, *args)
    loss32, grad32 = _objective.loss_and_grad(theta, X.astype(np.float32), *args)
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    assert np.linalg.norm(grad32 - grad64) / np.linalg.norm(grad64) < 1e-4


def test_units_dead_beyond_float64_give_finite_loss_and_gradient():
    # expit(−800) underflows to 0: ρ̂ = 0 is guarded, not exact.
    X, theta = _dying_problem([-800.0, 800.0])
    loss, grad, rho_hat = _objective.evaluate(theta, X, N_COMPONENTS, 0.01, 100.0, 1e-4, "logistic")
    assert rho_hat[0] == 0.0 and rho_hat[1] == 1.0
    assert np.isfinite(loss) and np.all(np.isfinite(grad))


def test_training_with_saturated_units_stays_finite():
    # Inputs of 1e6 saturate the hidden units: some are 1 on every row.
    X = _data() * 1e6
    model = _model()
    with pytest.warns(UserWarning, match="outside"):
        model.fit(X)
    assert np.any((model.mean_activation_ == 0) | (model.mean_activation_ == 1))
    _assert_finite_model(model, X)


# The logistic decoder's range warning.

RANGE_WARNING = 'outside \\[0, 1\\].*Scale the data.*or use decoder_activation="identity"'


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("low, high", [(-0.5, 1.0), (0.0, 1.5), (-3.0, 3.0)])
def test_logistic_decoder_warns_on_data_outside_unit_interval(solver, low, high):
    with pytest.warns(UserWarning, match=RANGE_WARNING):
        _model(solver, max_iter=2).fit(_data(low=low, high=high))


def test_logistic_decoder_warns_in_partial_fit():
    with pytest.warns(UserWarning, match=RANGE_WARNING):
        _model("adam").partial_fit(_data(low=-1.0, high=1.0))


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_range_warning_points_at_the_callers_line(method):
    model = _model("adam", max_iter=1)
    with pytest.warns(UserWarning, match=RANGE_WARNING) as record:
        getattr(model, method)(_data(low=-1.0, high=1.0))
    assert [w.filename for w in record if "outside" in str(w.message)] == [__file__]


def test_convergence_warning_points_at_the_callers_line():
    with pytest.warns(ConvergenceWarning) as record:
        _model(max_iter=1, tol=0.0).fit(_data())
    assert [w.filename for w in record] == [__file__]


def _range_warnings(X, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _model(max_iter=2, **params).fit(X)
    return [w for w in caught if "outside [0, 1]" in str(w.message)]


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (0.1, 0.9)])
def test_logistic_decoder_does_not_warn_on_data_in_unit_interval(low, high):
    X = _data(low=low, high=high)
    X[0, 0], X[1, 1] = low, high  # the bounds themselves are fine
    assert _range_warnings(X) == []


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rounding_just_outside_the_unit_interval_is_not_warned_about(dtype):
    # MinMaxScaler can return 1 + 2⁻⁵² (or −2⁻⁵²) for the extreme rows.
    X = _data().astype(dtype)
    X[0, 0] = np.nextafter(dtype(1), dtype(2))
    X[1, 1] = -np.finfo(dtype).eps
    assert _range_warnings(X) == []
    X[0, 0] = 1 + 1e3 * np.finfo(dtype).eps  # but not more than rounding
    assert len(_range_warnings(X)) == 1


def test_identity_decoder_does_not_warn_on_any_range():
    assert _range_warnings(_data(low=-5.0, high=5.0), decoder_activation="identity") == []


# Determinism.


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# 0.001 MiB: chunks of a few rows, summed on several worker threads.
@pytest.mark.parametrize("working_memory", [None, 0.001])
def test_same_data_and_random_state_give_identical_models(solver, dtype, working_memory):
    X = _data(n_samples=300).astype(dtype)
    with config_context(working_memory=working_memory):
        a = _model(solver).fit(X)
        b = _model(solver).fit(X)
    for name in FITTED_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.loss_ == b.loss_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))


# Chunk sizes and thread counts change the order of the sums over rows, so
# results agree to rounding only. L-BFGS amplifies rounding differences as it
# iterates (about 1e-13 after 10 iterations, 1e-9 after 30 here), hence the
# short fits.


def _assert_models_agree(a, b, rtol):
    for name in FITTED_ARRAYS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, err_msg=name)
    assert a.loss_ == pytest.approx(b.loss_, rel=rtol)


@pytest.mark.parametrize("solver", SOLVERS)
def test_working_memory_changes_fit_only_by_rounding(solver):
    # 0.001 MiB makes chunks of a few rows, and with them one block per thread.
    X = _data(n_samples=300)
    assert _objective.chunk_rows(8, 4, 8, 300) == 300
    a = _model(solver, max_iter=10).fit(X)
    with config_context(working_memory=0.001):
        assert _objective.chunk_rows(8, 4, 8, 300) < 10
        b = _model(solver, max_iter=10).fit(X)
    _assert_models_agree(a, b, rtol=1e-10)


def test_working_memory_changes_outputs_only_by_rounding():
    X = _data(n_samples=300)
    model = _model().fit(X)
    with config_context(working_memory=0.001):
        codes, scores = model.transform(X), model.score_samples(X)
    np.testing.assert_allclose(codes, model.transform(X), rtol=1e-12)
    np.testing.assert_allclose(scores, model.score_samples(X), rtol=1e-12)


def test_number_of_threads_changes_fit_only_by_rounding():
    if _parallel.n_threads() < 2:
        pytest.skip("BLAS is limited to one thread here")
    X = _data(n_samples=2000)
    with config_context(working_memory=0.01):  # chunks small enough for a block per thread
        a = _model(max_iter=10).fit(X)
        with threadpool_limits(limits=1):
            b = _model(max_iter=10).fit(X)
    _assert_models_agree(a, b, rtol=1e-10)


# State: warm starts and refits.


def _assert_same_model(a, b):
    for name in FITTED_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.loss_ == b.loss_
    assert a.n_iter_ == b.n_iter_


def test_warm_start_adam_continues_exactly_where_it_stopped():
    # Without shuffling, two warm-started fits of 3 epochs are one fit of 6:
    # the weights, the optimiser state and the loss curve all carry over.
    # (For L-BFGS see test_autoencoder.py::test_warm_start_continues_from_previous_weights.)
    X = _data(n_samples=300)
    twice = _model("adam", max_iter=3, shuffle=False, tol=0.0, warm_start=True)
    twice.fit(X)
    twice.fit(X)
    once = _model("adam", max_iter=6, shuffle=False, tol=0.0).fit(X)
    for name in FITTED_ARRAYS:
        np.testing.assert_array_equal(getattr(twice, name), getattr(once, name), err_msg=name)


@pytest.mark.parametrize("solver", SOLVERS)
def test_refit_without_warm_start_is_a_fresh_fit(solver):
    X_first = _data(low=0.2, high=0.4)
    X = _data()
    refitted = _model(solver).fit(X_first).fit(X)
    _assert_same_model(refitted, _model(solver).fit(X))


@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize("solver", SOLVERS)
def test_refit_with_another_number_of_features(solver, warm_start):
    X = _data(n_features=8)
    X_new = _data(n_features=5)
    model = _model(solver, warm_start=warm_start).fit(X).fit(X_new)
    # Nothing of the old shape is kept: the same as a fresh fit on X_new.
    _assert_same_model(model, _model(solver, warm_start=warm_start).fit(X_new))
    assert model.n_features_in_ == 5
    with pytest.raises(ValueError, match="X has 8 features, but SparseAutoencoder is expecting 5"):
        model.transform(X)


def test_zca_refit_with_another_number_of_features():
    zca = ZCAWhitening().fit(_data(n_features=8)).fit(_data(n_features=5))
    fresh = ZCAWhitening().fit(_data(n_features=5))
    for name in ("mean_", "whitening_", "dewhitening_", "explained_variance_", "components_"):
        np.testing.assert_array_equal(getattr(zca, name), getattr(fresh, name), err_msg=name)
    assert zca.n_features_in_ == 5


# Thread safety.

CONCURRENT_CASES = {
    "SparseAutoencoder-transform": (
        lambda: SparseAutoencoder(16, max_iter=5, random_state=0),
        "transform",
    ),
    "SparseAutoencoder-score_samples": (
        lambda: SparseAutoencoder(16, max_iter=5, random_state=0),
        "score_samples",
    ),
    "SparseAutoencoder-inverse_transform": (
        lambda: SparseAutoencoder(16, max_iter=5, random_state=0),
        "inverse_transform",
    ),
    "ZCAWhitening-transform": (ZCAWhitening, "transform"),
    "ZCAWhitening-inverse_transform": (ZCAWhitening, "inverse_transform"),
}


@pytest.mark.parametrize("case", CONCURRENT_CASES)
def test_concurrent_calls_equal_serial_calls(case):
    make, method = CONCURRENT_CASES[case]
    X = _data(n_samples=4000, n_features=40)
    estimator = make().fit(X[:500])
    if method == "inverse_transform":
        X = estimator.transform(X)
    chunks = np.array_split(X, 8)
    serial = [getattr(estimator, method)(chunk) for chunk in chunks]
    # All threads start together and call repeatedly, so the calls overlap.
    start = threading.Barrier(len(chunks), timeout=60)

    def call_repeatedly(chunk):
        start.wait()
        return [getattr(estimator, method)(chunk) for _ in range(10)]

    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        concurrent = list(pool.map(call_repeatedly, chunks))
    for results, expected in zip(concurrent, serial, strict=True):
        for got in results:
            np.testing.assert_array_equal(got, expected)
