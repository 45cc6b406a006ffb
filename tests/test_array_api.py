"""Every estimator on other Array API namespaces, under scikit-learn's dispatch.

Every namespace, device and dtype scikit-learn tests with is tried:
array-api-strict (its CPU device in float64, ``device1`` in float32) and
PyTorch on the CPU run everywhere; CUDA, MPS and XPU devices and CuPy run
where they are present and are skipped with scikit-learn's reason otherwise.
array-api-strict's ``no_float64`` device stands in for a GPU without float64
(Apple MPS): sums and optimiser state are float32 there.

scikit-learn's dispatch requires SciPy's array API mode: ``SCIPY_ARRAY_API=1``
in the environment before SciPy is first imported. tests/conftest.py sets it;
without it these tests are skipped with that reason.
"""

import pickle
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pytest
from sklearn import config_context
from sklearn.utils._array_api import (
    _max_precision_float_dtype,
    get_namespace_and_device,
    move_estimator_to,
    move_to,
    yield_namespace_device_dtype_combinations,
)
from sklearn.utils._testing import _array_api_for_tests
from sklearn.utils.estimator_checks import check_array_api_input_and_values

from skl_sparse_ae import SparseAutoencoder, StackedAutoencoderClassifier, ZCAWhitening, _objective
from skl_sparse_ae._backends import ArrayAPIBackend
from skl_sparse_ae._network import loss_and_grad

from ._reference import reference_loss
from .test_objective import _central_differences

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# The bar for results equal to the NumPy path's.
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}

COMBINATIONS = [
    *yield_namespace_device_dtype_combinations(include_numpy_namespaces=False),
    ("array_api_strict", "no_float64", "float32"),
]


@dataclass(frozen=True)
class Namespace:
    """An available namespace, device and dtype, with conversions from and to NumPy."""

    xp: object
    device: object
    dtype: str  # "float64" or "float32"

    @property
    def tol(self):
        return TOLERANCE[self.dtype]

    def asarray(self, X):
        return self.xp.asarray(np.asarray(X, dtype=self.dtype), device=self.device)

    def to_numpy(self, array):
        with config_context(array_api_dispatch=True):
            return move_to(array, xp=np, device="cpu")

    def holds(self, array):
        """Whether ``array`` is an array of this namespace on this device."""
        return _namespace_and_device(array) == _namespace_and_device(self.asarray([0.0]))


def _namespace_and_device(array):
    with config_context(array_api_dispatch=True):
        xp, _, device = get_namespace_and_device(array)
    return xp, device


def _namespace(combination):
    name, device_name, dtype_name = combination
    xp, device = _array_api_for_tests(name, device_name, dtype_name)  # skips if unavailable
    try:  # CUDA built in, but no GPU (the reason is the library's)
        xp.asarray([0.0], device=device)
    except Exception as error:
        pytest.skip(f"{name} on {device_name} is not usable here: {error}")
    if dtype_name is None:
        max_float = _max_precision_float_dtype(xp, device)
        dtype_name = "float32" if max_float == xp.float32 else "float64"
    return Namespace(xp, device, dtype_name)


def _id(combination):
    return "-".join(str(part) for part in combination if part is not None)


@pytest.fixture(params=COMBINATIONS, ids=_id)
def ns(request):
    namespace = _namespace(request.param)
    with _one_torch_thread(namespace):
        yield namespace


@pytest.fixture(params=[c for c in COMBINATIONS if c[2] != "float32"], ids=_id)
def ns64(request):
    """The namespaces and devices with float64."""
    namespace = _namespace(request.param)
    if namespace.dtype != "float64":
        pytest.skip(f"{_id(request.param)} has no float64")
    with _one_torch_thread(namespace):
        yield namespace


@contextmanager
def _one_torch_thread(namespace):
    """PyTorch on one CPU thread: these arrays are tiny, and with pytest-xdist
    workers on every core more threads only wait for each other (fits took
    10x longer on 2 cores)."""
    if "torch" not in namespace.xp.__name__:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _data(dtype, m=200, n=12, seed=0):
    return np.random.RandomState(seed).uniform(0.05, 0.95, size=(m, n)).astype(dtype)


def _correlated(dtype, m=400, n=6):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(m, n)) @ rng.normal(size=(n, n)) + rng.normal(size=n)
    return X.astype(dtype)


def _fit_both(estimator, ns, X):
    """A copy of the estimator fitted on NumPy X, and the estimator fitted on
    X in ``ns``."""
    reference = pickle.loads(pickle.dumps(estimator)).fit(X)
    with config_context(array_api_dispatch=True):
        fitted = estimator.fit(ns.asarray(X))
    return reference, fitted


def _assert_close(ns, actual, expected, tol=None):
    tol = ns.tol if tol is None else tol
    np.testing.assert_allclose(ns.to_numpy(actual), expected, rtol=tol, atol=tol)


# --- ZCAWhitening ------------------------------------------------------------------


def test_zca_matches_numpy(ns):
    X = _correlated(ns.dtype)
    reference, zca = _fit_both(ZCAWhitening(epsilon=1e-3), ns, X)
    for name in ("mean_", "whitening_", "dewhitening_", "explained_variance_", "components_"):
        attribute = getattr(zca, name)
        assert ns.holds(attribute), name
        assert ns.to_numpy(attribute).dtype == ns.dtype, name
    for name in ("mean_", "whitening_", "dewhitening_", "explained_variance_"):
        _assert_close(ns, getattr(zca, name), getattr(reference, name))
    # Eigenvectors are defined up to their sign, which LAPACK drivers choose.
    _assert_close(ns, abs(zca.components_), np.abs(reference.components_))
    with config_context(array_api_dispatch=True):
        Z = zca.transform(ns.asarray(X))
        X_back = zca.inverse_transform(Z)
    assert ns.holds(Z) and ns.holds(X_back)
    _assert_close(ns, Z, reference.transform(X))
    _assert_close(ns, X_back, X, tol=10 * ns.tol)


def test_zca_partial_fit_matches_fit(ns):
    X = _correlated(ns.dtype)
    with config_context(array_api_dispatch=True):
        whole = ZCAWhitening().fit(ns.asarray(X))
        parts = ZCAWhitening().partial_fit(ns.asarray(X[:150])).partial_fit(ns.asarray(X[150:]))
    assert parts.n_samples_seen_ == len(X)
    _assert_close(ns, parts.mean_, ns.to_numpy(whole.mean_))
    _assert_close(ns, parts.whitening_, ns.to_numpy(whole.whitening_))


def test_zca_transform_does_not_modify_x(ns):
    X = _correlated(ns.dtype)
    with config_context(array_api_dispatch=True):
        X_xp = ns.asarray(X)
        zca = ZCAWhitening().fit(X_xp)
        zca.transform(X_xp)
        zca.inverse_transform(X_xp)
    np.testing.assert_array_equal(ns.to_numpy(X_xp), X)


# --- SparseAutoencoder ---------------------------------------------------------------

# L-BFGS magnifies rounding: on this data NumPy's own float32 and float64 fits
# are 5e-3 apart in the weights after 30 iterations (2e-5 after 10), so the
# L-BFGS comparisons stop at 10. Adam's steps do not magnify it here.
FITS = {
    "lbfgs-logistic": dict(max_iter=10),
    "lbfgs-identity": dict(max_iter=10, decoder_activation="identity"),
    "adam-shuffled": dict(solver="adam", max_iter=15),
    "adam-in-order-decay0": dict(solver="adam", max_iter=15, shuffle=False, activation_decay=0),
    # The family: every option of the one objective, on every namespace.
    "lbfgs-dying": dict(max_iter=10, rho=0.01, beta=30.0),  # the exact tails of ρ̂
    "lbfgs-l1": dict(max_iter=10, sparsity_penalty="l1", beta=0.01),
    # k = 4 of 5: every unit is kept in some rows. A unit never kept has ρ̂ = 0,
    # whose KL term is clipped at the smallest normal number of the sums' dtype:
    # J then differs (by design) on a device without float64.
    "lbfgs-k-sparse": dict(max_iter=10, k=4, transform_k=3),
    "lbfgs-tied": dict(max_iter=10, tied_weights=True),
    "lbfgs-masking": dict(max_iter=10, corruption="masking", corruption_level=0.3),
    "lbfgs-gaussian": dict(max_iter=10, corruption="gaussian", corruption_level=0.1),
    "adam-k-tied-l1": dict(
        solver="adam", max_iter=5, k=3, tied_weights=True, sparsity_penalty="l1", beta=0.01
    ),
    "adam-masking": dict(solver="adam", max_iter=5, corruption="masking"),
    # ReLU codes, with the L1 penalty and k-sparse.
    "lbfgs-relu-l1": dict(max_iter=10, activation="relu", sparsity_penalty="l1", beta=0.01),
    "adam-relu-k": dict(solver="adam", max_iter=5, activation="relu", k=3, beta=0.0),
    # L-BFGS in rounds of 3 iterations, dead units resampled between them
    "lbfgs-relu-resampled": dict(
        max_iter=10, activation="relu", sparsity_penalty="l1", beta=0.5, resample_every=3
    ),
}
WEIGHTS = ("components_", "decoder_components_", "intercept_hidden_", "intercept_visible_")


@pytest.mark.parametrize("params", FITS.values(), ids=FITS.keys())
def test_autoencoder_matches_numpy(ns, params):
    X = _data(ns.dtype)
    model = SparseAutoencoder(5, random_state=0, **params)
    reference, model = _fit_both(model, ns, X)
    assert model.n_iter_ == reference.n_iter_
    assert model.loss_ == pytest.approx(reference.loss_, rel=ns.tol)
    np.testing.assert_allclose(model.loss_curve_, reference.loss_curve_, rtol=ns.tol)
    for name in (*WEIGHTS, "mean_activation_"):
        assert ns.holds(getattr(model, name)), name
        _assert_close(ns, getattr(model, name), getattr(reference, name))
    with config_context(array_api_dispatch=True):
        X_xp = ns.asarray(X)
        codes = model.transform(X_xp)
        X_hat = model.inverse_transform(codes)
        scores = model.score_samples(X_xp)
        score = model.score(X_xp)
    for result in (codes, X_hat, scores):
        assert ns.holds(result)
    _assert_close(ns, codes, reference.transform(X))
    _assert_close(ns, X_hat, reference.inverse_transform(reference.transform(X)))
    _assert_close(ns, scores, reference.score_samples(X))
    assert isinstance(score, float)
    assert score == pytest.approx(reference.score(X), rel=ns.tol)


def test_partial_fit_matches_numpy(ns):
    X = _data(ns.dtype)
    model = SparseAutoencoder(5, solver="adam", random_state=0)
    reference = pickle.loads(pickle.dumps(model))
    for chunk in (X[:120], X[120:]):
        reference.partial_fit(chunk)
        with config_context(array_api_dispatch=True):
            model.partial_fit(ns.asarray(chunk))
    assert model.n_iter_ == reference.n_iter_ == 2
    for name in WEIGHTS:
        _assert_close(ns, getattr(model, name), getattr(reference, name))
    # Adam's state stays where the data are.
    assert ns.holds(model._adam_state["theta"])
    assert ns.holds(model._adam_state["rho_hat_average"])


def test_adam_continues_from_lbfgs_weights_on_the_device(ns):
    X = _data(ns.dtype)
    model = SparseAutoencoder(5, max_iter=5, random_state=0)
    reference, model = _fit_both(model, ns, X)
    model.set_params(solver="adam")
    reference.set_params(solver="adam").partial_fit(X)
    with config_context(array_api_dispatch=True):
        model.partial_fit(ns.asarray(X))
    _assert_close(ns, model.components_, reference.components_)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_fit_does_not_modify_x(ns, solver):
    X = _data(ns.dtype)
    with config_context(array_api_dispatch=True):
        X_xp = ns.asarray(X)
        SparseAutoencoder(4, solver=solver, max_iter=3, random_state=0).fit(X_xp)
    np.testing.assert_array_equal(ns.to_numpy(X_xp), X)


# --- the objective ----------------------------------------------------------------


def _backend(ns):
    with config_context(array_api_dispatch=True):
        return ArrayAPIBackend(ns.xp, ns.device)


def _problem(n=6, h=4, m=80, biases=()):
    rng = np.random.RandomState(0)
    X = rng.uniform(0.1, 0.9, size=(m, n))
    params = _objective.initial_params(n, h, rng)
    params.b1[: len(biases)] = biases
    theta = _objective.pack(params) + rng.normal(scale=0.3, size=_objective.n_params(n, h))
    theta[2 * h * n : 2 * h * n + len(biases)] = biases  # keep the extreme biases
    return X, theta, h


def _evaluate_on(ns, theta, X, h, *args, **kwargs):
    """(J, gradient, ρ̂) of the generic objective on ``ns``, as NumPy."""
    backend = _backend(ns)
    with config_context(array_api_dispatch=True):
        loss, grad, rho_hat = backend.evaluate(
            backend.from_host(theta), ns.asarray(X), h, *args, **kwargs
        )
        return float(loss), backend.to_host(grad), backend.to_host(rho_hat)


OPTIONS = [
    pytest.param(decoder, beta, biases, id=f"{decoder}-beta{beta}-{label}")
    for decoder in ("logistic", "identity")
    for beta in (0.0, 3.0)
    for label, biases in (("normal", ()), ("dying", (-30.0, -40.0)), ("saturated", (30.0, 40.0)))
]


@pytest.mark.parametrize("decoder, beta, biases", OPTIONS)
def test_gradient_matches_central_differences(ns64, decoder, beta, biases):
    X, theta, h = _problem(biases=biases)
    args = (0.05, beta, 1e-3, decoder)
    _, grad, _ = _evaluate_on(ns64, theta, X, h, *args)
    numeric = _central_differences(lambda t: _evaluate_on(ns64, t, X, h, *args)[0], theta)
    # Central differences are themselves off by up to 1.2e-9 here (as for the
    # NumPy kernel, whose gradient the next test matches to 1e-10).
    assert np.linalg.norm(numeric - grad) / np.linalg.norm(numeric + grad) < 1e-8
    if beta:  # the biases of extreme units, which the KL term dominates, one by one
        b1 = slice(2 * h * X.shape[1], 2 * h * X.shape[1] + len(biases))
        np.testing.assert_allclose(grad[b1], numeric[b1], rtol=1e-7)


@pytest.mark.parametrize("decoder, beta, biases", OPTIONS)
def test_objective_matches_numpy_kernel_and_reference(ns, decoder, beta, biases):
    X, theta, h = _problem(biases=biases)
    args = (0.05, beta, 1e-3, decoder)
    expected = _objective.evaluate(theta, X.astype(ns.dtype), h, *args)
    loss, grad, rho_hat = _evaluate_on(ns, theta, X, h, *args)
    p = _objective.unpack(theta, X.shape[1], h)
    assert loss == pytest.approx(reference_loss(X, p.W1, p.b1, p.W2T, p.b2, *args), rel=ns.tol)
    assert loss == pytest.approx(expected[0], rel=ns.tol)
    np.testing.assert_allclose(grad, expected[1], rtol=ns.tol, atol=ns.tol * np.abs(grad).max())
    np.testing.assert_allclose(rho_hat, expected[2], rtol=ns.tol)


VARIANTS = {
    "l1": _objective.Variant(penalty="l1"),
    "k-sparse": _objective.Variant(k=3),
    "tied": _objective.Variant(tied=True),
    "k-tied-l1": _objective.Variant(penalty="l1", k=3, tied=True),
}


def _variant_problem(variant, corrupted):
    # A dying unit (the exact tail of ρ̂), except with k-sparse codes, which
    # would never keep it: ρ̂ = 0 then, clipped at the smallest normal number
    # of the sums' dtype, which makes J differ (by design) without float64.
    # Their filters are larger instead, so that every unit is kept somewhere.
    X, theta, h = _problem(biases=() if variant.k else (-30.0,))
    if variant.k:
        theta[: h * X.shape[1]] *= 10.0
    if variant.tied:  # W1, b1, b2 only
        n = X.shape[1]
        theta = np.concatenate([theta[: h * n], theta[2 * h * n :]])
    X_input = X * (np.random.RandomState(1).uniform(size=X.shape) > 0.3) if corrupted else None
    return X, theta, h, X_input


@pytest.mark.parametrize("corrupted", [False, True], ids=["clean", "masked"])
@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_variant_matches_numpy_and_central_differences(ns, variant, corrupted):
    X, theta, h, X_input = _variant_problem(variant, corrupted)
    args = (0.05, 0.5, 1e-3, "logistic")
    kwargs = {"variant": variant}
    expected = _objective.evaluate(
        theta,
        X.astype(ns.dtype),
        h,
        *args,
        X_input=None if X_input is None else X_input.astype(ns.dtype),
        **kwargs,
    )
    if X_input is not None:
        kwargs["X_input"] = ns.asarray(X_input)
    loss, grad, rho_hat = _evaluate_on(ns, theta, X, h, *args, **kwargs)
    assert loss == pytest.approx(expected[0], rel=ns.tol)
    np.testing.assert_allclose(grad, expected[1], rtol=ns.tol, atol=ns.tol * np.abs(grad).max())
    np.testing.assert_allclose(rho_hat, expected[2], rtol=ns.tol, atol=ns.tol)
    if ns.dtype == "float64" and variant.k is None:  # k-sparse J is only piecewise smooth
        numeric = _central_differences(
            lambda t: _evaluate_on(ns, t, X, h, *args, **kwargs)[0], theta
        )
        assert np.linalg.norm(numeric - grad) / np.linalg.norm(numeric + grad) < 1e-8


def test_minibatch_estimate_of_rho_hat_matches_numpy_kernel(ns):
    X, theta, h = _problem()
    prior = np.linspace(0.02, 0.2, h)
    args = (0.05, 3.0, 1e-3, "logistic")
    expected = _objective.evaluate(theta, X.astype(ns.dtype), h, *args, rho_hat_prior=(prior, 0.7))
    backend = _backend(ns)
    prior_xp = backend.from_host(prior)
    loss, grad, _ = _evaluate_on(ns, theta, X, h, *args, rho_hat_prior=(prior_xp, 0.7))
    assert loss == pytest.approx(expected[0], rel=ns.tol)
    np.testing.assert_allclose(grad, expected[1], rtol=ns.tol, atol=ns.tol * np.abs(grad).max())


def test_chunks_do_not_change_the_objective(ns):
    X, theta, h = _problem(m=300, biases=(-30.0,))
    args = (0.05, 3.0, 1e-3, "logistic")
    loss, grad, rho_hat = _evaluate_on(ns, theta, X, h, *args)
    with config_context(working_memory=0.01):  # ~200 rows per chunk
        chunked = _evaluate_on(ns, theta, X, h, *args)
    assert chunked[0] == pytest.approx(loss, rel=ns.tol)
    np.testing.assert_allclose(chunked[1], grad, rtol=ns.tol, atol=ns.tol * np.abs(grad).max())
    np.testing.assert_allclose(chunked[2], rho_hat, rtol=ns.tol)


def test_units_dead_beyond_the_dtype_give_finite_loss_and_gradient(ns):
    X, theta, h = _problem(biases=(-800.0, 800.0))
    loss, grad, rho_hat = _evaluate_on(ns, theta, X, h, 0.01, 100.0, 1e-4, "logistic")
    assert rho_hat[0] == 0.0 and rho_hat[1] == 1.0
    assert np.isfinite(loss) and np.all(np.isfinite(grad))


# --- persistence, moving, mixing namespaces -------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [SparseAutoencoder(4, solver="adam", max_iter=3, random_state=0), ZCAWhitening()],
    ids=["SparseAutoencoder", "ZCAWhitening"],
)
def test_pickle_and_move_to_numpy(ns, estimator):
    X = _data(ns.dtype, m=60)
    with config_context(array_api_dispatch=True):
        estimator.fit(ns.asarray(X))
        expected = ns.to_numpy(estimator.transform(ns.asarray(X)))
        restored = pickle.loads(pickle.dumps(estimator))
        _assert_close(ns, restored.transform(ns.asarray(X)), expected, tol=0)
        on_numpy = move_estimator_to(estimator, np, "cpu")
    # A moved model needs no dispatch, and trains on.
    np.testing.assert_allclose(on_numpy.transform(X), expected, rtol=ns.tol, atol=ns.tol)
    on_numpy.partial_fit(X)
    fitted = "mean_" if isinstance(estimator, ZCAWhitening) else "components_"
    assert isinstance(getattr(on_numpy, fitted), np.ndarray)


@pytest.mark.parametrize(
    "estimator, method",
    [
        (SparseAutoencoder(4, max_iter=3, random_state=0), "transform"),
        (SparseAutoencoder(4, max_iter=3, random_state=0), "score_samples"),
        (SparseAutoencoder(4, solver="adam", max_iter=3, random_state=0), "partial_fit"),
        (ZCAWhitening(), "transform"),
        (ZCAWhitening(), "partial_fit"),
    ],
    ids=repr,
)
def test_numpy_input_to_a_model_fitted_elsewhere_is_a_clear_error(ns, estimator, method):
    X = _data(ns.dtype, m=40)
    with config_context(array_api_dispatch=True):
        estimator.fit(ns.asarray(X))
        with pytest.raises(ValueError, match="must use the same namespace"):
            getattr(estimator, method)(X)
    with pytest.raises(ValueError, match="array_api_dispatch is off"):
        getattr(estimator, method)(X)


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("estimator", [SparseAutoencoder(3, max_iter=2), ZCAWhitening()], ids=repr)
def test_bad_input_gets_scikit_learn_errors(ns, estimator):
    X = _data(ns.dtype, m=30)
    with config_context(array_api_dispatch=True):
        X_nan = ns.asarray(np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X))
        with pytest.raises(ValueError, match="NaN"):
            estimator.fit(X_nan)
        with pytest.raises(ValueError, match="Expected 2D array"):
            estimator.fit(ns.asarray(X[:, 0]))
        estimator.fit(ns.asarray(X))
        with pytest.raises(ValueError, match="X has 11 features"):
            estimator.transform(ns.asarray(X[:, :11]))


@pytest.mark.parametrize("estimator", [SparseAutoencoder(3, max_iter=2), ZCAWhitening()], ids=repr)
def test_integer_input_is_converted_to_the_widest_float(ns, estimator):
    X = np.random.RandomState(0).randint(0, 2, size=(30, 5))
    with config_context(array_api_dispatch=True):
        estimator.fit(ns.xp.asarray(X, device=ns.device))
        _, _, device = get_namespace_and_device(ns.asarray([0.0]))
        widest = _max_precision_float_dtype(ns.xp, device)
    fitted = "mean_" if isinstance(estimator, ZCAWhitening) else "components_"
    assert getattr(estimator, fitted).dtype == widest


def test_logistic_decoder_warns_on_data_outside_unit_interval(ns):
    with config_context(array_api_dispatch=True):
        with pytest.warns(UserWarning, match="outside"):
            SparseAutoencoder(3, max_iter=2).fit(ns.asarray(_data(ns.dtype, m=30) * 2))


# --- NumPy input is not affected by dispatch ---------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [
        SparseAutoencoder(5, max_iter=20, random_state=0),
        SparseAutoencoder(5, solver="adam", max_iter=5, random_state=0),
        ZCAWhitening(),
    ],
    ids=["lbfgs", "adam", "ZCAWhitening"],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_input_gives_the_same_bits_with_dispatch_on(estimator, dtype):
    X = _data(dtype)
    off = pickle.loads(pickle.dumps(estimator)).fit(X)
    with config_context(array_api_dispatch=True):
        on = estimator.fit(X)
        transformed = on.transform(X)
    for name, value in vars(off).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(on, name), value, err_msg=name)
    np.testing.assert_array_equal(transformed, off.transform(X))


# --- StackedAutoencoderClassifier ----------------------------------------------
# Each result is compared with the NumPy fit of the same model: to 1e-10 in
# float64 and 1e-4 in float32.


def _classifier_data(dtype, n_classes=3, m=120, n=8, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(n_classes, size=m)
    centers = rng.uniform(0.2, 0.8, size=(n_classes, n))
    X = np.clip(centers[y] + rng.normal(scale=0.1, size=(m, n)), 0, 1)
    return X.astype(dtype), y


def _labels(ns, y):
    """y as integer labels in ``ns``."""
    return ns.xp.asarray(y, device=ns.device)


def _classifier(**params):
    defaults = dict(
        hidden_layer_sizes=(6, 5),
        pretrain_max_iter=3,
        softmax_max_iter=3,
        max_iter=3,
        tol=0.0,
        random_state=0,
    )
    return StackedAutoencoderClassifier(**{**defaults, **params})


def _fit_classifier_both(clf, ns, X, y):
    """A copy of ``clf`` fitted on NumPy X and y, and ``clf`` fitted on them in ``ns``."""
    reference = pickle.loads(pickle.dumps(clf)).fit(X, y)
    with config_context(array_api_dispatch=True):
        fitted = clf.fit(ns.asarray(X), _labels(ns, y))
    return reference, fitted


def _assert_same_network(ns, clf, reference):
    for name in ("coefs_", "intercepts_", "pretrained_coefs_", "pretrained_intercepts_"):
        for k, (array, expected) in enumerate(
            zip(getattr(clf, name), getattr(reference, name), strict=True)
        ):
            assert ns.holds(array), f"{name}[{k}]"
            assert ns.to_numpy(array).dtype == ns.dtype, f"{name}[{k}]"
            _assert_close(ns, array, expected)
    assert clf.n_iter_ == reference.n_iter_
    assert clf.loss_ == pytest.approx(reference.loss_, rel=ns.tol)
    np.testing.assert_allclose(clf.loss_curve_, reference.loss_curve_, rtol=ns.tol)


# L-BFGS magnifies rounding: in float32 its second iteration already parts
# from NumPy's by up to 1e-4 (PyTorch, from the same weights: the line search
# sees J to rounding only), so float32 L-BFGS fits are compared after one
# iteration a stage, float64 ones after ten. Adam's steps do not magnify it.
CLASSIFIER_LBFGS_ITERATIONS = {"float64": 10, "float32": 1}

CLASSIFIER_FITS = {
    "lbfgs": dict(),
    "adam": dict(
        solver="adam",
        pretrain_solver="adam",
        pretrain_max_iter=5,
        softmax_max_iter=10,
        max_iter=10,
        batch_size=32,
        learning_rate_init=0.01,
    ),
    "adam-in-order": dict(solver="adam", max_iter=10, shuffle=False, learning_rate_init=0.01),
    "lbfgs-one-layer-identity": dict(hidden_layer_sizes=(5,), decoder_activation="identity"),
}


@pytest.mark.parametrize("params", CLASSIFIER_FITS.values(), ids=CLASSIFIER_FITS.keys())
def test_classifier_fit_matches_numpy(ns, params):
    X, y = _classifier_data(ns.dtype)
    if params.get("solver", "lbfgs") == "lbfgs":
        n = CLASSIFIER_LBFGS_ITERATIONS[ns.dtype]
        params = dict(params, pretrain_max_iter=n, softmax_max_iter=n, max_iter=n)
    reference, clf = _fit_classifier_both(_classifier(**params), ns, X, y)
    _assert_same_network(ns, clf, reference)
    for ae, ae_reference in zip(clf.autoencoders_, reference.autoencoders_, strict=True):
        _assert_close(ns, ae.components_, ae_reference.components_)
    with config_context(array_api_dispatch=True):
        X_xp = ns.asarray(X)
        outputs = {
            method: getattr(clf, method)(X_xp)
            for method in ("decision_function", "predict_proba", "predict_log_proba", "transform")
        }
        predicted = clf.predict(X_xp)
        score = clf.score(X_xp, _labels(ns, y))
    for method, result in outputs.items():
        assert ns.holds(result), method
        expected = getattr(reference, method)(X)
        # The logits add up the weights' rounding: their errors grow with their size.
        atol = ns.tol * max(1.0, np.abs(expected).max())
        np.testing.assert_allclose(ns.to_numpy(result), expected, rtol=ns.tol, atol=atol)
    assert ns.holds(predicted)
    np.testing.assert_array_equal(ns.to_numpy(predicted), reference.predict(X))
    assert isinstance(score, float) and score == reference.score(X, y)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_classifier_fine_tuning_from_the_same_weights_matches_numpy(ns, solver):
    # Fine-tuning alone, from one pretrained network.
    X, y = _classifier_data(ns.dtype)
    n_iter = CLASSIFIER_LBFGS_ITERATIONS[ns.dtype] if solver == "lbfgs" else 10
    reference = _classifier(max_iter=0, warm_start=True).fit(X, y)
    with config_context(array_api_dispatch=True):
        clf = move_estimator_to(reference, ns.xp, ns.device)
        clf.set_params(solver=solver, max_iter=n_iter).fit(ns.asarray(X), _labels(ns, y))
    reference.set_params(solver=solver, max_iter=n_iter).fit(X, y)
    assert clf.n_iter_ == reference.n_iter_ == n_iter
    _assert_same_network(ns, clf, reference)


def _theta(ns, theta):
    """theta as a vector of the sums' dtype on the device of ``ns`` (float64
    where the device has it)."""
    with config_context(array_api_dispatch=True):
        widest = _max_precision_float_dtype(ns.xp, ns.device)
    dtype = "float64" if widest == ns.xp.float64 else "float32"
    return ns.xp.asarray(theta.astype(dtype), device=ns.device)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_classifier_objective_matches_numpy(ns, n_classes):
    rng = np.random.RandomState(0)
    units = (8, 6, 5, n_classes)
    theta = rng.normal(scale=0.5, size=sum(a * b + b for a, b in pairwise(units)))
    X, y = _classifier_data(ns.dtype, n_classes=n_classes, m=700)
    # 100-row blocks: three on each of two threads on NumPy, seven in turn elsewhere.
    with config_context(working_memory=0.01):
        expected = loss_and_grad(theta, X, y, units, 0.1, n_workers=2)
        with config_context(array_api_dispatch=True):
            loss, grad = loss_and_grad(_theta(ns, theta), ns.asarray(X), _labels(ns, y), units, 0.1)
    assert ns.holds(grad)
    assert float(loss) == pytest.approx(expected[0], rel=ns.tol)
    atol = ns.tol * np.abs(expected[1]).max()
    np.testing.assert_allclose(ns.to_numpy(grad), expected[1], rtol=ns.tol, atol=atol)


def test_classifier_partial_fit_matches_numpy_and_keeps_adam_on_the_device(ns):
    X, y = _classifier_data(ns.dtype)
    clf = _classifier(solver="adam", learning_rate_init=0.01)
    reference = pickle.loads(pickle.dumps(clf))
    for rows in (slice(0, 60), slice(60, 90), slice(90, None)):
        reference.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        with config_context(array_api_dispatch=True):
            clf.partial_fit(ns.asarray(X[rows]), _labels(ns, y[rows]), classes=[0, 1, 2])
    assert clf.n_iter_ == reference.n_iter_ == 3
    _assert_same_network(ns, clf, reference)
    for name in ("theta", "first_moment", "second_moment"):
        assert ns.holds(clf._adam_state[name]), name


# --- labels -------------------------------------------------------------------------


def test_classifier_classes_follow_y_and_predictions_follow_x(ns):
    X, y = _classifier_data(ns.dtype)
    y_semi = np.where(np.arange(y.shape[0]) % 4 == 0, -1, y)
    reference = _classifier().fit(X, y_semi)
    with config_context(array_api_dispatch=True):
        X_xp = ns.asarray(X)
        in_ns = _classifier().fit(X_xp, _labels(ns, y_semi))
        y_numpy = _classifier().fit(X_xp, y_semi)
        predictions = [clf.predict(X_xp) for clf in (in_ns, y_numpy)]
    # classes_ is in the namespace and on the device of y, as for scikit-learn's
    # classifiers; the unlabeled marker is not a class.
    assert ns.holds(in_ns.classes_)
    assert isinstance(y_numpy.classes_, np.ndarray)
    for clf, predicted in zip((in_ns, y_numpy), predictions, strict=True):
        np.testing.assert_array_equal(ns.to_numpy(clf.classes_), [0, 1, 2])
        assert ns.holds(predicted)
        np.testing.assert_array_equal(ns.to_numpy(predicted), reference.predict(X))


def test_classifier_string_labels_are_predicted_as_numpy_strings(ns):
    X, y = _classifier_data(ns.dtype)
    names = np.array(["cat", "dog", "eel"], dtype=object)[y]
    names[::5] = -1
    reference = _classifier().fit(X, names)
    with config_context(array_api_dispatch=True):
        clf = _classifier().fit(ns.asarray(X), names)
        predicted = clf.predict(ns.asarray(X))
        score = clf.score(ns.asarray(X[1::5]), names[1::5])
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog", "eel"])
    assert isinstance(predicted, np.ndarray)
    np.testing.assert_array_equal(predicted, reference.predict(X))
    assert score == reference.score(X[1::5], names[1::5])


# --- inputs, persistence, moving ------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_classifier_fit_does_not_modify_x(ns, solver):
    X, y = _classifier_data(ns.dtype)
    with config_context(array_api_dispatch=True):
        X_xp, y_xp = ns.asarray(X), _labels(ns, y)
        _classifier(solver=solver, pretrain_solver=solver).fit(X_xp, y_xp)
    np.testing.assert_array_equal(ns.to_numpy(X_xp), X)
    np.testing.assert_array_equal(ns.to_numpy(y_xp), y)


CLASSIFIER_METHODS = [
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
]


@pytest.mark.parametrize("method", [*CLASSIFIER_METHODS, "partial_fit", "fit"])
def test_classifier_numpy_input_to_a_model_fitted_elsewhere_is_a_clear_error(ns, method):
    X, y = _classifier_data(ns.dtype, m=40)
    clf = _classifier(solver="adam", warm_start=True)
    with config_context(array_api_dispatch=True):
        clf.fit(ns.asarray(X), _labels(ns, y))
    args = (X, y) if method in ("fit", "partial_fit") else (X,)
    with config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match=rf"StackedAutoencoderClassifier\.{method}\(\) must"):
            getattr(clf, method)(*args)
    with pytest.raises(ValueError, match="array_api_dispatch is off"):
        getattr(clf, method)(*args)


def test_classifier_pickle_move_to_numpy_and_export(ns):
    X, y = _classifier_data(ns.dtype, m=60)
    with config_context(array_api_dispatch=True):
        clf = _classifier(solver="adam").fit(ns.asarray(X), _labels(ns, y))
        expected = ns.to_numpy(clf.predict_proba(ns.asarray(X)))
        restored = pickle.loads(pickle.dumps(clf))
        _assert_close(ns, restored.predict_proba(ns.asarray(X)), expected, tol=0)
        on_numpy = move_estimator_to(clf, np, "cpu")
        mlp = clf.to_mlp_classifier()
    # A moved model needs no dispatch, and trains on; the MLP is NumPy's.
    np.testing.assert_allclose(on_numpy.predict_proba(X), expected, rtol=ns.tol, atol=ns.tol)
    on_numpy.partial_fit(X, y)
    assert isinstance(on_numpy.coefs_[0], np.ndarray)
    assert all(isinstance(c, np.ndarray) for c in mlp.coefs_ + mlp.intercepts_)
    np.testing.assert_allclose(mlp.predict_proba(X), expected, rtol=ns.tol, atol=ns.tol)


def test_classifier_bad_input_gets_scikit_learn_errors(ns):
    X, y = _classifier_data(ns.dtype, m=30)
    clf = _classifier()
    with config_context(array_api_dispatch=True):
        X_nan = ns.asarray(np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X))
        with pytest.raises(ValueError, match="NaN"):
            clf.fit(X_nan, _labels(ns, y))
        with pytest.raises(ValueError, match="Expected 2D array"):
            clf.fit(ns.asarray(X[:, 0]), _labels(ns, y))
        clf.fit(ns.asarray(X), _labels(ns, y))
        with pytest.raises(ValueError, match="X has 7 features"):
            clf.predict(ns.asarray(X[:, :7]))


def test_classifier_integer_input_is_converted_to_the_widest_float(ns):
    X = np.random.RandomState(0).randint(0, 2, size=(40, 5))
    y = X[:, 0] + X[:, 1]
    with config_context(array_api_dispatch=True):
        clf = _classifier().fit(ns.xp.asarray(X, device=ns.device), _labels(ns, y))
        widest = _max_precision_float_dtype(ns.xp, ns.device)
    assert all(c.dtype == widest for c in clf.coefs_ + clf.intercepts_)


@pytest.mark.filterwarnings("ignore:X has values outside:UserWarning")  # the check's data
@pytest.mark.parametrize("combination", COMBINATIONS, ids=_id)
def test_classifier_scikit_learn_array_api_check_with_values(combination):
    name, device, dtype = combination
    estimator = _classifier()
    check_array_api_input_and_values(
        type(estimator).__name__, estimator, name, device_name=device, dtype_name=dtype
    )


# --- NumPy input is not affected by dispatch ---------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_classifier_numpy_input_gives_the_same_bits_with_dispatch_on(solver, dtype):
    X, y = _classifier_data(dtype)
    clf = _classifier(solver=solver, pretrain_solver=solver)
    off = pickle.loads(pickle.dumps(clf)).fit(X, y)
    with config_context(array_api_dispatch=True):
        on = clf.fit(X, y)
        outputs = [getattr(on, method)(X) for method in CLASSIFIER_METHODS]
    for name in ("coefs_", "intercepts_", "pretrained_coefs_", "pretrained_intercepts_"):
        for a, b in zip(getattr(on, name), getattr(off, name), strict=True):
            assert isinstance(a, np.ndarray), name
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert isinstance(on.classes_, np.ndarray)
    assert on.loss_curve_ == off.loss_curve_
    for method, result in zip(CLASSIFIER_METHODS, outputs, strict=True):
        np.testing.assert_array_equal(result, getattr(off, method)(X), err_msg=method)
