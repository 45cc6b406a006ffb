"""StackedAutoencoderClassifier: estimator checks, the fine-tuning objective,
the -1 convention, solvers, export to MLPClassifier and ONNX."""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skl_sparse_ae import StackedAutoencoderClassifier
from skl_sparse_ae._network import loss_and_grad

from .test_common import EXTRA_CHECKS

ESTIMATORS = [
    StackedAutoencoderClassifier(
        hidden_layer_sizes=(4,),
        lam=1e-4,
        pretrain_max_iter=10,
        softmax_max_iter=50,
        max_iter=50,
        unlabeled=None,
        random_state=0,
    ),
    StackedAutoencoderClassifier(
        hidden_layer_sizes=(5, 4),
        lam=1e-4,
        decoder_activation="identity",
        pretrain_solver="adam",
        solver="adam",
        pretrain_max_iter=5,
        softmax_max_iter=20,
        max_iter=30,
        learning_rate_init=0.05,
        unlabeled=None,
        random_state=0,
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        # The checks fit with few iterations, and on data outside [0, 1].
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "X has values outside", UserWarning)
        check(estimator)


@pytest.mark.parametrize("check", EXTRA_CHECKS, ids=lambda check: check.__name__)
def test_checks_not_run_by_check_estimator(check):
    pytest.importorskip("pandas", reason="the pandas variants of the checks need pandas")
    estimator = ESTIMATORS[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "X has values outside", UserWarning)
        check(type(estimator).__name__, estimator)


def _data(n_classes=3, n_samples=60, n_features=6, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(n_classes, size=n_samples)
    centers = rng.uniform(0.2, 0.8, size=(n_classes, n_features))
    X = np.clip(centers[y] + rng.normal(scale=0.1, size=(n_samples, n_features)), 0, 1)
    return X, y


def _small(**params):
    defaults = dict(
        hidden_layer_sizes=(5, 4),
        lam=1e-4,
        pretrain_max_iter=20,
        softmax_max_iter=30,
        max_iter=30,
        random_state=0,
    )
    return StackedAutoencoderClassifier(**{**defaults, **params})


def _fit(estimator, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **kwargs)


def _n_params(units):
    return sum(a * b for a, b in zip(units[:-1], units[1:], strict=True)) + sum(units[1:])


# -- the fine-tuning objective -------------------------------------------------


@pytest.mark.parametrize("hidden", [(5,), (5, 4), (5, 4, 3)], ids=lambda h: f"{len(h)}layers")
@pytest.mark.parametrize("n_classes", [2, 3], ids=["binary", "multiclass"])
def test_gradient_matches_central_differences(hidden, n_classes):
    rng = np.random.RandomState(0)
    units = (6, *hidden, n_classes)
    theta = rng.normal(scale=0.5, size=_n_params(units))
    X = rng.uniform(size=(30, 6))
    y = rng.randint(n_classes, size=30)
    _, grad = loss_and_grad(theta, X, y, units, 0.1)
    eps = 1e-5
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        plus = loss_and_grad(theta + step, X, y, units, 0.1)[0]
        minus = loss_and_grad(theta - step, X, y, units, 0.1)[0]
        numeric[i] = (plus - minus) / (2 * eps)
    # UFLDL's criterion: ‖numeric − analytic‖ / ‖numeric + analytic‖.
    assert np.linalg.norm(numeric - grad) / np.linalg.norm(numeric + grad) < 1e-7
    assert_allclose(grad, numeric, rtol=1e-7, atol=1e-9)


def _independent_loss(coefs, intercepts, X, y, classes, lam):
    """J written out directly: sigmoid layers, softmax, one-hot cross-entropy."""
    A = X
    for W, b in zip(coefs[:-1], intercepts[:-1], strict=True):
        A = expit(A @ W + b)
    P = softmax(A @ coefs[-1] + intercepts[-1], axis=1)
    Y = (np.asarray(y)[:, None] == np.asarray(classes)[None, :]).astype(float)
    cross_entropy = -np.sum(Y * np.log(P)) / X.shape[0]
    return cross_entropy + lam / 2 * np.sum(coefs[-1] ** 2)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_loss_is_the_objective_at_the_fitted_weights(n_classes):
    X, y = _data(n_classes)
    clf = _fit(_small(softmax_lam=0.01), X, y)
    expected = _independent_loss(clf.coefs_, clf.intercepts_, X, y, clf.classes_, 0.01)
    assert clf.loss_ == pytest.approx(expected, rel=1e-12)
    assert clf.loss_curve_[-1] == pytest.approx(clf.loss_, rel=1e-12)
    assert len(clf.loss_curve_) == clf.n_iter_


def test_threads_and_blocks_do_not_change_the_objective():
    X, y = _data(3, n_samples=700)
    units = (6, 5, 3)
    theta = np.random.RandomState(0).normal(size=_n_params(units))
    one = loss_and_grad(theta, X, y, units, 1e-3, n_workers=1)
    two = loss_and_grad(theta, X, y, units, 1e-3, n_workers=2)
    assert one[0] == pytest.approx(two[0], rel=1e-13)
    assert_allclose(one[1], two[1], rtol=1e-12, atol=1e-15)


def test_fine_tuning_lowers_the_loss_of_the_greedy_network():
    X, y = _data(3)
    clf = _fit(_small(), X, y)
    greedy = _independent_loss(
        clf.pretrained_coefs_, clf.pretrained_intercepts_, X, y, clf.classes_, clf.softmax_lam
    )
    assert clf.loss_ < greedy
    for pretrained, ae in zip(clf.pretrained_coefs_[:-1], clf.autoencoders_, strict=True):
        assert_array_equal(pretrained, ae.components_.T)
    assert [c.shape for c in clf.coefs_] == [(6, 5), (5, 4), (4, 3)]
    assert [b.shape for b in clf.intercepts_] == [(5,), (4,), (3,)]


def test_max_iter_zero_keeps_the_greedy_network():
    X, y = _data(3)
    clf = _fit(_small(max_iter=0), X, y)
    assert clf.n_iter_ == 0 and clf.loss_curve_ == []
    for fine, greedy in zip(
        clf.coefs_ + clf.intercepts_,
        clf.pretrained_coefs_ + clf.pretrained_intercepts_,
        strict=True,
    ):
        assert_array_equal(fine, greedy)


def test_per_layer_pretraining_parameters():
    X, y = _data(3)
    clf = _fit(_small(rho=[0.05, 0.2], beta=1.0, lam=(1e-4, 1e-3)), X, y)
    assert [ae.rho for ae in clf.autoencoders_] == [0.05, 0.2]
    assert [ae.beta for ae in clf.autoencoders_] == [1.0, 1.0]
    assert [ae.lam for ae in clf.autoencoders_] == [1e-4, 1e-3]
    assert [ae.decoder_activation for ae in clf.autoencoders_] == ["logistic", "logistic"]
    with pytest.raises(ValueError, match="rho must be one number or one per hidden layer"):
        _small(rho=[0.1, 0.1, 0.1]).fit(X, y)
    with pytest.raises(
        ValueError, match=re.escape("Every value of rho must be a float in the range (0.0, 1.0)")
    ):
        _small(rho=[0.1, 1.5]).fit(X, y)
    with pytest.raises(ValueError, match="Every value of lam must be a float in the range"):
        _small(lam=[1e-4, -1.0]).fit(X, y)


# -- labels ------------------------------------------------------------------


def test_unlabeled_samples_are_used_for_pretraining_only():
    X, y = _data(3, n_samples=80)
    y_semi = y.copy()
    y_semi[20:] = -1
    clf = _fit(_small(), X, y_semi)
    assert_array_equal(clf.classes_, [0, 1, 2])
    # Layer 1 is the autoencoder of all the rows...
    ae = _fit(clone(clf.autoencoders_[0]), X, None)
    assert_array_equal(ae.components_, clf.autoencoders_[0].components_)
    # ...and the classifier is that of the labeled rows on these layers.
    expected = _independent_loss(clf.coefs_, clf.intercepts_, X[:20], y[:20], clf.classes_, 1e-4)
    assert clf.loss_ == pytest.approx(expected, rel=1e-12)


def test_all_unlabeled_is_an_error():
    X, _ = _data(3)
    with pytest.raises(ValueError, match="Every label is -1"):
        _small().fit(X, np.full(X.shape[0], -1))


def test_one_class_is_an_error():
    X, _ = _data(3)
    y = np.where(np.arange(X.shape[0]) < 10, 1, -1)
    with pytest.raises(ValueError, match="at least two classes; got one class"):
        _small().fit(X, y)


def test_string_labels_with_unlabeled_rows():
    X, y = _data(3)
    names = np.array(["cat", "dog", "eel"], dtype=object)[y]
    names[::3] = -1
    clf = _fit(_small(), X, names)
    assert_array_equal(clf.classes_, ["cat", "dog", "eel"])
    assert set(clf.predict(X)) <= {"cat", "dog", "eel"}


def test_unlabeled_none_makes_minus_one_a_class():
    X, y = _data(2)
    labels = np.array([-1, 1])[y]
    clf = _fit(_small(unlabeled=None), X, labels)
    assert_array_equal(clf.classes_, [-1, 1])
    with pytest.raises(ValueError, match="at least two classes"):
        _small().fit(X, labels)  # by default the -1 rows are unlabeled


def test_string_marker_for_unlabeled_rows():
    X, y = _data(3)
    names = np.array(["cat", "dog", "eel"])[y]
    names[::2] = "?"
    clf = _fit(_small(unlabeled="?"), X, names)
    assert_array_equal(clf.classes_, ["cat", "dog", "eel"])


def test_failed_fit_leaves_the_model_unchanged():
    X, y = _data(3)
    clf = _fit(_small(), X, y)
    coefs, loss = [c.copy() for c in clf.coefs_], clf.loss_
    with pytest.raises(ValueError, match="Every label is -1"):
        clf.fit(X[:, :4], np.full(X.shape[0], -1))
    assert clf.n_features_in_ == 6 and clf.loss_ == loss
    for before, after in zip(coefs, clf.coefs_, strict=True):
        assert_array_equal(before, after)


def test_transform_gives_the_top_codes():
    X, y = _data(3)
    clf = _fit(_small(), X, y)
    A = X
    for W, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1], strict=True):
        A = expit(A @ W + b)
    # The fast sigmoid (½·tanh(z/2) + ½) is exact to an absolute rounding error.
    assert_allclose(clf.transform(X), A, rtol=1e-12, atol=1e-15)
    assert_array_equal(
        clf.get_feature_names_out(), [f"stackedautoencoderclassifier{i}" for i in range(4)]
    )


def test_binary_decision_function_is_the_log_odds():
    X, y = _data(2)
    clf = _fit(_small(), X, np.array(["no", "yes"])[y])
    decision = clf.decision_function(X)
    assert decision.shape == (X.shape[0],)
    assert_allclose(clf.predict_proba(X)[:, 1], expit(decision), rtol=1e-12)
    assert_array_equal(clf.predict(X), clf.classes_[(decision > 0).astype(int)])
    assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X), rtol=1e-12)


# -- solvers, state and dtypes ---------------------------------------------------


def test_float32_is_kept():
    X, y = _data(3)
    clf = _fit(_small(), X.astype(np.float32), y)
    for array in [*clf.coefs_, *clf.intercepts_, *clf.pretrained_coefs_]:
        assert array.dtype == np.float32
    X32 = X.astype(np.float32)
    for method in ["predict_proba", "predict_log_proba", "decision_function", "transform"]:
        assert getattr(clf, method)(X32).dtype == np.float32


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_random_state_repeats_bit_for_bit(solver):
    X, y = _data(3)
    params = dict(solver=solver, pretrain_solver=solver, learning_rate_init=0.01)
    first = _fit(_small(**params), X, y)
    second = _fit(_small(**params), X, y)
    for a, b in zip(
        first.coefs_ + first.intercepts_, second.coefs_ + second.intercepts_, strict=True
    ):
        assert_array_equal(a, b)
    assert first.loss_curve_ == second.loss_curve_


def test_warm_start_continues_fine_tuning():
    X, y = _data(3)
    clf = _fit(_small(max_iter=5, warm_start=True), X, y)
    pretrained, first_loss = clf.pretrained_coefs_, clf.loss_
    _fit(clf, X, y)
    assert clf.pretrained_coefs_ is pretrained  # not pretrained again
    assert clf.loss_ < first_loss
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X, np.where(y == 2, 3, y))


def test_partial_fit_is_for_adam_only():
    assert not hasattr(_small(), "partial_fit")
    assert hasattr(_small(solver="adam"), "partial_fit")


def test_partial_fit_streams_epochs():
    X, y = _data(3, n_samples=90)
    clf = _small(solver="adam", learning_rate_init=0.01)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(X[:30], y[:30], classes=[-1, 0, 1, 2])
    assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_iter_ == 1
    for start in (30, 60):
        clf.partial_fit(X[start : start + 30], y[start : start + 30])
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    with pytest.raises(ValueError, match="not the same"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, np.where(y == 2, 5, y))
    assert clf.n_iter_ == 3  # the failed calls changed nothing


def test_adam_fine_tuning_lowers_the_loss_of_the_greedy_network():
    X, y = _data(3)
    clf = _fit(_small(solver="adam", batch_size=10, learning_rate_init=0.02), X, y)
    greedy = _independent_loss(
        clf.pretrained_coefs_, clf.pretrained_intercepts_, X, y, clf.classes_, clf.softmax_lam
    )
    assert clf.loss_ < 0.9 * greedy
    assert clf.n_iter_ == len(clf.loss_curve_) == 30


def test_convergence_warning_when_fine_tuning_hits_max_iter():
    X, y = _data(3)
    with pytest.warns(ConvergenceWarning, match="fine-tuning stopped after max_iter=2"):
        _small(max_iter=2, tol=0).fit(X, y)


def test_verbose_prints_the_stages_and_iterations(capsys):
    X, y = _data(3)
    _fit(_small(verbose=1, max_iter=3, tol=0), X, y)
    out = capsys.readouterr().out
    assert "[StackedAutoencoderClassifier] Pretraining layer 1 of 2: 6 → 5" in out
    assert "[SparseAutoencoder] Iteration 1, loss =" in out
    assert "[StackedAutoencoderClassifier] Training the softmax layer" in out
    assert re.search(r"\[StackedAutoencoderClassifier\] Iteration 3, loss = \S+, time = ", out)


# -- composition and export ------------------------------------------------------


def test_pipeline_and_grid_search():
    X, y = _data(3, n_samples=90)
    pipe = make_pipeline(MinMaxScaler(), _small())
    search = GridSearchCV(pipe, {"stackedautoencoderclassifier__softmax_lam": [1e-4, 1e-2]}, cv=2)
    _fit(search, X * 10, y)
    assert search.best_score_ > 0.8
    assert search.predict(X[:5] * 10).shape == (5,)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_export_to_mlp_classifier_is_exact(n_classes):
    X, y = _data(n_classes)
    labels = np.array(["a", "b", "c"])[y]
    clf = _fit(_small(hidden_layer_sizes=(5, 4, 3)), X, labels)
    mlp = clf.to_mlp_classifier()
    assert mlp.activation == "logistic"
    assert_allclose(mlp.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-12)
    assert_array_equal(mlp.predict(X), clf.predict(X))
    assert_array_equal(mlp.classes_, clf.classes_)


def test_exported_mlp_converts_to_onnx():
    pytest.importorskip("skl2onnx", reason="ONNX export needs skl2onnx (the onnx extra)")
    ort = pytest.importorskip("onnxruntime", reason="running the ONNX model needs onnxruntime")
    from skl2onnx import to_onnx

    X, y = _data(3)
    X = X.astype(np.float32)
    clf = _fit(_small(), X, y)
    onx = to_onnx(clf.to_mlp_classifier(), X[:1], options={"zipmap": False})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {session.get_inputs()[0].name: X})
    assert_allclose(proba, clf.predict_proba(X), atol=1e-5)
    assert_array_equal(labels, clf.predict(X))
