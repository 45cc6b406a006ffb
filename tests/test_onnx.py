"""ONNX export of the estimators and of pipelines that contain them."""

import numpy as np
import pytest

pytest.importorskip("skl2onnx", reason="ONNX export needs the 'onnx' extra (skl2onnx)")
onnxruntime = pytest.importorskip("onnxruntime", reason="the ONNX tests run onnxruntime")

import skl2onnx  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

import skl_sparse_ae.onnx  # noqa: E402, F401  (registers the converters)
from skl_sparse_ae import (  # noqa: E402
    SparseAutoencoder,
    StackedAutoencoderClassifier,
    ZCAWhitening,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Agreement with the estimator's own output, per dtype.
TOLERANCE = {np.float32: 1e-6, np.float64: 1e-12}


def _data(dtype):
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(300, 10)) @ rng.uniform(size=(10, 10))
    y = (X[:, 0] + X[:, 1] > np.median(X[:, 0] + X[:, 1])).astype(int)
    return X.astype(dtype), y


def _run(model, X, output=0):
    no_zipmap = {"zipmap": False}  # probabilities as an array, not a list of dicts
    options = {LogisticRegression: no_zipmap, StackedAutoencoderClassifier: no_zipmap}
    onx = skl2onnx.to_onnx(model, X[:1], options=options)
    session = onnxruntime.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})[output]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_sparse_autoencoder_transform_matches_onnxruntime(dtype, decoder):
    X, _ = _data(dtype)
    X = np.clip(MinMaxScaler().fit_transform(X), 0, 1).astype(dtype)
    model = SparseAutoencoder(6, decoder_activation=decoder, max_iter=20, random_state=0).fit(X)
    codes = _run(model, X)
    assert codes.dtype == dtype
    np.testing.assert_allclose(codes, model.transform(X), rtol=0, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_autoencoder_transform_matches_onnxruntime(dtype):
    X, _ = _data(dtype)
    X = np.clip(MinMaxScaler().fit_transform(X), 0, 1).astype(dtype)
    model = SparseAutoencoder(
        6, activation="relu", sparsity_penalty="l1", beta=0.01, max_iter=20, random_state=0
    ).fit(X)
    codes = _run(model, X)
    expected = model.transform(X)
    assert (expected == 0).any()  # the Relu's zeros are tested too
    np.testing.assert_allclose(codes, expected, rtol=0, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zca_transform_matches_onnxruntime(dtype):
    X, _ = _data(dtype)
    zca = ZCAWhitening(epsilon=0.1).fit(X)
    expected = zca.transform(X)
    whitened = _run(zca, X)
    assert whitened.dtype == dtype
    scale = np.abs(expected).max()
    np.testing.assert_allclose(whitened, expected, rtol=0, atol=TOLERANCE[dtype] * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_pipeline_predict_proba_matches_onnxruntime(dtype, decoder):
    X, y = _data(dtype)
    pipe = make_pipeline(
        MinMaxScaler(),
        ZCAWhitening(epsilon=0.1),
        MinMaxScaler(),  # back into [0, 1] for the logistic decoder
        SparseAutoencoder(8, decoder_activation=decoder, max_iter=30, random_state=0),
        LogisticRegression(),
    ).fit(X, y)
    probabilities = _run(pipe, X, output=1)
    # Three float32 layers summed in another order: a few ulps (1.5e-6 at p ≈ 0.5).
    rtol = 1e-5 if dtype == np.float32 else 0.0
    np.testing.assert_allclose(
        probabilities, pipe.predict_proba(X), rtol=rtol, atol=TOLERANCE[dtype]
    )
    np.testing.assert_array_equal(_run(pipe, X, output=0), pipe.predict(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_stacked_classifier_in_a_pipeline_matches_onnxruntime(dtype, n_classes):
    X, _ = _data(dtype)
    y = np.digitize(X[:, 0], np.quantile(X[:, 0], np.linspace(0, 1, n_classes + 1)[1:-1]))
    pipe = make_pipeline(
        MinMaxScaler(clip=True),
        StackedAutoencoderClassifier((8, 5), pretrain_max_iter=20, max_iter=20, random_state=0),
    ).fit(X, y)
    np.testing.assert_array_equal(_run(pipe, X, output=0), pipe.predict(X))
    probabilities = _run(pipe, X, output=1)
    # Three float32 layers summed in another order: a few ulps (1.5e-6 at p ≈ 0.5).
    rtol = 1e-5 if dtype == np.float32 else 0.0
    np.testing.assert_allclose(
        probabilities, pipe.predict_proba(X), rtol=rtol, atol=TOLERANCE[dtype]
    )


def test_registering_again_replaces_the_converters():
    X, _ = _data(np.float64)
    zca = ZCAWhitening().fit(X)
    before = _run(zca, X)
    skl_sparse_ae.onnx.register_converters()
    np.testing.assert_array_equal(_run(zca, X), before)


def test_without_skl2onnx_the_import_error_names_the_extra():
    import subprocess
    import sys

    code = "import sys; sys.modules['skl2onnx'] = None; import skl_sparse_ae.onnx"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "skl-sparse-ae[onnx]" in result.stderr


def test_k_sparse_autoencoder_export_is_refused_rather_than_wrong():
    X = np.random.RandomState(0).uniform(size=(50, 6)).astype(np.float32)
    model = SparseAutoencoder(4, k=2, max_iter=5, tol=1e-2, random_state=0).fit(X)
    with pytest.raises(NotImplementedError, match="k-sparse codes"):
        skl2onnx.to_onnx(model, X[:1])
