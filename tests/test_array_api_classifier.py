"""StackedAutoencoderClassifier on other Array API namespaces, under scikit-learn's dispatch.

The namespaces, devices and dtypes are those of tests/test_array_api.py
(array-api-strict and PyTorch on the CPU everywhere; CUDA, MPS, XPU and CuPy
where present, skipped with scikit-learn's reason otherwise). Each result is
compared with the NumPy fit of the same model: to 1e-10 in float64 and 1e-4
in float32.
"""

import pickle
from itertools import pairwise

import numpy as np
import pytest
from sklearn import config_context
from sklearn.utils._array_api import _max_precision_float_dtype, move_estimator_to
from sklearn.utils.estimator_checks import check_array_api_input_and_values

from skl_sparse_ae import StackedAutoencoderClassifier
from skl_sparse_ae._network import loss_and_grad

from .test_array_api import COMBINATIONS, _assert_close, _id, _namespace, _one_torch_thread

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(params=COMBINATIONS, ids=_id)
def ns(request):
    namespace = _namespace(request.param)
    with _one_torch_thread(namespace):
        yield namespace


def _data(dtype, n_classes=3, m=120, n=8, seed=0):
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


def _fit_both(clf, ns, X, y):
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
LBFGS_ITERATIONS = {"float64": 10, "float32": 1}

FITS = {
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


@pytest.mark.parametrize("params", FITS.values(), ids=FITS.keys())
def test_fit_matches_numpy(ns, params):
    X, y = _data(ns.dtype)
    if params.get("solver", "lbfgs") == "lbfgs":
        n = LBFGS_ITERATIONS[ns.dtype]
        params = dict(params, pretrain_max_iter=n, softmax_max_iter=n, max_iter=n)
    reference, clf = _fit_both(_classifier(**params), ns, X, y)
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
def test_fine_tuning_from_the_same_weights_matches_numpy(ns, solver):
    # Fine-tuning alone, from one pretrained network.
    X, y = _data(ns.dtype)
    n_iter = LBFGS_ITERATIONS[ns.dtype] if solver == "lbfgs" else 10
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
def test_objective_matches_numpy(ns, n_classes):
    rng = np.random.RandomState(0)
    units = (8, 6, 5, n_classes)
    theta = rng.normal(scale=0.5, size=sum(a * b + b for a, b in pairwise(units)))
    X, y = _data(ns.dtype, n_classes=n_classes, m=700)
    # 100-row blocks: three on each of two threads on NumPy, seven in turn elsewhere.
    with config_context(working_memory=0.01):
        expected = loss_and_grad(theta, X, y, units, 0.1, n_workers=2)
        with config_context(array_api_dispatch=True):
            loss, grad = loss_and_grad(_theta(ns, theta), ns.asarray(X), _labels(ns, y), units, 0.1)
    assert ns.holds(grad)
    assert float(loss) == pytest.approx(expected[0], rel=ns.tol)
    atol = ns.tol * np.abs(expected[1]).max()
    np.testing.assert_allclose(ns.to_numpy(grad), expected[1], rtol=ns.tol, atol=atol)


def test_partial_fit_matches_numpy_and_keeps_adam_on_the_device(ns):
    X, y = _data(ns.dtype)
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


def test_classes_follow_y_and_predictions_follow_x(ns):
    X, y = _data(ns.dtype)
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


def test_string_labels_are_predicted_as_numpy_strings(ns):
    X, y = _data(ns.dtype)
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
def test_fit_does_not_modify_x(ns, solver):
    X, y = _data(ns.dtype)
    with config_context(array_api_dispatch=True):
        X_xp, y_xp = ns.asarray(X), _labels(ns, y)
        _classifier(solver=solver, pretrain_solver=solver).fit(X_xp, y_xp)
    np.testing.assert_array_equal(ns.to_numpy(X_xp), X)
    np.testing.assert_array_equal(ns.to_numpy(y_xp), y)


METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function", "transform"]


@pytest.mark.parametrize("method", [*METHODS, "partial_fit", "fit"])
def test_numpy_input_to_a_model_fitted_elsewhere_is_a_clear_error(ns, method):
    X, y = _data(ns.dtype, m=40)
    clf = _classifier(solver="adam", warm_start=True)
    with config_context(array_api_dispatch=True):
        clf.fit(ns.asarray(X), _labels(ns, y))
    args = (X, y) if method in ("fit", "partial_fit") else (X,)
    with config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match=rf"StackedAutoencoderClassifier\.{method}\(\) must"):
            getattr(clf, method)(*args)
    with pytest.raises(ValueError, match="array_api_dispatch is off"):
        getattr(clf, method)(*args)


def test_pickle_move_to_numpy_and_export(ns):
    X, y = _data(ns.dtype, m=60)
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


def test_bad_input_gets_scikit_learn_errors(ns):
    X, y = _data(ns.dtype, m=30)
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


def test_integer_input_is_converted_to_the_widest_float(ns):
    X = np.random.RandomState(0).randint(0, 2, size=(40, 5))
    y = X[:, 0] + X[:, 1]
    with config_context(array_api_dispatch=True):
        clf = _classifier().fit(ns.xp.asarray(X, device=ns.device), _labels(ns, y))
        widest = _max_precision_float_dtype(ns.xp, ns.device)
    assert all(c.dtype == widest for c in clf.coefs_ + clf.intercepts_)


@pytest.mark.filterwarnings("ignore:X has values outside:UserWarning")  # the check's data
@pytest.mark.parametrize("combination", COMBINATIONS, ids=_id)
def test_scikit_learn_array_api_check_with_values(combination):
    name, device, dtype = combination
    estimator = _classifier()
    check_array_api_input_and_values(
        type(estimator).__name__, estimator, name, device_name=device, dtype_name=dtype
    )


# --- NumPy input is not affected by dispatch ---------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_input_gives_the_same_bits_with_dispatch_on(solver, dtype):
    X, y = _data(dtype)
    clf = _classifier(solver=solver, pretrain_solver=solver)
    off = pickle.loads(pickle.dumps(clf)).fit(X, y)
    with config_context(array_api_dispatch=True):
        on = clf.fit(X, y)
        outputs = [getattr(on, method)(X) for method in METHODS]
    for name in ("coefs_", "intercepts_", "pretrained_coefs_", "pretrained_intercepts_"):
        for a, b in zip(getattr(on, name), getattr(off, name), strict=True):
            assert isinstance(a, np.ndarray), name
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert isinstance(on.classes_, np.ndarray)
    assert on.loss_curve_ == off.loss_curve_
    for method, result in zip(METHODS, outputs, strict=True):
        np.testing.assert_array_equal(result, getattr(off, method)(X), err_msg=method)
