"""Safe persistence with skops: round trips, and exactly our classes to trust."""

import numpy as np
import pytest

sio = pytest.importorskip("skops.io", reason="the skops tests need skops (the 'test' extra)")

from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

from skl_sparse_ae import (  # noqa: E402
    SparseAutoencoder,
    StackedAutoencoderClassifier,
    ZCAWhitening,
)

from .test_persistence import ESTIMATORS, _data  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

OUR_TYPES = {
    SparseAutoencoder: "skl_sparse_ae._autoencoder.SparseAutoencoder",
    ZCAWhitening: "skl_sparse_ae._whitening.ZCAWhitening",
    StackedAutoencoderClassifier: "skl_sparse_ae._classifier.StackedAutoencoderClassifier",
}

CLASSIFIERS = {
    "stacked-lbfgs": lambda: StackedAutoencoderClassifier(
        (6, 4), pretrain_max_iter=10, max_iter=10, random_state=0
    ),
    "stacked-adam": lambda: StackedAutoencoderClassifier(
        (6,), solver="adam", pretrain_max_iter=10, max_iter=3, random_state=0
    ),
}


def _round_trip(estimator):
    data = sio.dumps(estimator)
    return sio.loads(data, trusted=sio.get_untrusted_types(data=data))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_the_types_to_trust_are_exactly_our_estimator_class(name):
    estimator = ESTIMATORS[name]().fit(_data())
    untrusted = sio.get_untrusted_types(data=sio.dumps(estimator))
    assert untrusted == [OUR_TYPES[type(estimator)]]


@pytest.mark.parametrize("name", ESTIMATORS)
def test_round_trip_gives_identical_outputs(name):
    X = _data()
    estimator = ESTIMATORS[name]().fit(X)
    loaded = _round_trip(estimator)
    np.testing.assert_array_equal(loaded.transform(X), estimator.transform(X))
    np.testing.assert_array_equal(
        loaded.inverse_transform(estimator.transform(X)),
        estimator.inverse_transform(estimator.transform(X)),
    )


def test_adam_model_continues_with_partial_fit_after_loading():
    X = _data()
    model = SparseAutoencoder(5, solver="adam", max_iter=3, random_state=0).fit(X)
    loaded = _round_trip(model)
    model.partial_fit(X)
    loaded.partial_fit(X)
    assert loaded.loss_curve_ == model.loss_curve_
    np.testing.assert_array_equal(loaded.components_, model.components_)


def test_streamed_zca_continues_with_partial_fit_after_loading():
    X = _data()
    model = ZCAWhitening().partial_fit(X[:100])
    assert sio.get_untrusted_types(data=sio.dumps(model)) == [OUR_TYPES[ZCAWhitening]]
    loaded = _round_trip(model)
    np.testing.assert_array_equal(
        loaded.partial_fit(X[100:]).whitening_, model.partial_fit(X[100:]).whitening_
    )


def test_pipeline_needs_no_trust_beyond_our_classes():
    pipe = make_pipeline(MinMaxScaler(), ZCAWhitening(0.1), SparseAutoencoder(4, max_iter=10))
    pipe.fit(_data())
    untrusted = sio.get_untrusted_types(data=sio.dumps(pipe))
    assert sorted(untrusted) == sorted([OUR_TYPES[SparseAutoencoder], OUR_TYPES[ZCAWhitening]])


def _labels(n_samples=200):
    return np.random.RandomState(1).randint(3, size=n_samples)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_round_trip_needs_trust_in_its_class_and_autoencoders(name):
    X, y = _data(), _labels()
    model = CLASSIFIERS[name]().fit(X, y)
    untrusted = sio.get_untrusted_types(data=sio.dumps(model))
    assert sorted(untrusted) == sorted(
        [OUR_TYPES[StackedAutoencoderClassifier], OUR_TYPES[SparseAutoencoder]]
    )
    loaded = _round_trip(model)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_adam_classifier_continues_with_partial_fit_after_loading():
    X, y = _data(), _labels()
    model = CLASSIFIERS["stacked-adam"]().fit(X, y)
    loaded = _round_trip(model)
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
