"""Property-based tests (Hypothesis): what holds for any shape, dtype and hyperparameters."""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning

from skl_sparse_ae import SparseAutoencoder, ZCAWhitening, _objective

SETTINGS = settings(max_examples=25, deadline=None)

# Below these |z| the sigmoid (computed as ½·tanh(z/2) + ½) cannot round to
# exactly 0 or 1: it first does at |z| ≈ 17.3 in float32 and ≈ 37 in float64,
# where 0 or 1 is within rounding of the true value.
STRICTLY_INSIDE_BELOW = {np.float32: 15.0, np.float64: 35.0}

# How far the activations may be from the sigmoid computed in float64 from the
# same weights: the rounding of X W1ᵀ + b1 in the dtype of X.
ACTIVATION_ATOL = {np.float32: 1e-5, np.float64: 1e-12}


def _matrix(draw, dtype, n_samples, n_features, low, high):
    if np.issubdtype(dtype, np.integer):
        elements = st.integers(int(low), int(high))
    else:
        width = 32 if dtype == np.float32 else 64
        elements = st.floats(low, high, width=width, allow_subnormal=False)
    return draw(hnp.arrays(dtype, (n_samples, n_features), elements=elements))


def _computed_dtype(X):
    """float32 stays float32; everything else is computed in float64."""
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


@st.composite
def fits(draw):
    """A small problem and a short fit of it: (model, X)."""
    n_samples = draw(st.integers(1, 40))
    n_features = draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    decoder = draw(st.sampled_from(["logistic", "identity"]))
    # The logistic decoder is for data in [0, 1]; the identity one for any real data.
    low, high = (0.0, 1.0) if decoder == "logistic" else (-5.0, 5.0)
    X = _matrix(draw, dtype, n_samples, n_features, low, high)
    model = SparseAutoencoder(
        n_components=draw(st.integers(1, 8)),
        rho=draw(st.floats(0.001, 0.999)),
        beta=draw(st.floats(0.0, 10.0)),
        lam=draw(st.floats(0.0, 1.0)),
        decoder_activation=decoder,
        solver=draw(st.sampled_from(["lbfgs", "adam"])),
        max_iter=draw(st.integers(1, 5)),
        random_state=draw(st.integers(0, 2**31 - 1)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    return model, X


@SETTINGS
@given(fits())
def test_transform_shape_dtype_and_closed_unit_interval(fit):
    model, X = fit
    codes = model.transform(X)
    assert codes.shape == (X.shape[0], model.n_components)
    assert codes.dtype == _computed_dtype(X)
    assert np.all((codes >= 0) & (codes <= 1))


@SETTINGS
@given(fits())
def test_transform_is_the_sigmoid_of_the_encoder(fit):
    model, X = fit
    z = X.astype(np.float64) @ model.components_.T.astype(np.float64) + model.intercept_hidden_
    expected = 0.5 * np.tanh(0.5 * z) + 0.5
    codes = model.transform(X)
    np.testing.assert_allclose(
        codes, expected, rtol=0, atol=ACTIVATION_ATOL[_computed_dtype(X).type]
    )
    # Exact 0 or 1 only where the sigmoid really is that close to them.
    moderate = np.abs(z) < STRICTLY_INSIDE_BELOW[_computed_dtype(X).type]
    assert np.all((codes[moderate] > 0) & (codes[moderate] < 1))


@SETTINGS
@given(fits())
def test_inverse_transform_shape_dtype_and_range(fit):
    model, X = fit
    X_hat = model.inverse_transform(model.transform(X))
    assert X_hat.shape == X.shape
    assert X_hat.dtype == _computed_dtype(X)
    assert np.all(np.isfinite(X_hat))
    if model.decoder_activation == "logistic":
        assert np.all((X_hat >= 0) & (X_hat <= 1))


@SETTINGS
@given(fits())
def test_fitted_model_and_score_are_finite(fit):
    model, X = fit
    for name in ("components_", "decoder_components_", "intercept_hidden_", "intercept_visible_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.isfinite(model.loss_)
    assert np.isfinite(model.score(X))
    assert np.all(model.score_samples(X) <= 0)


def _central_differences(f, theta, kl_scale, eps=1e-4):
    """The gradient of f by central differences, and a bound on its rounding
    error: each quotient loses the rounding of f(θ ± ε) divided by 2ε.

    J is a sum of many terms: allow it 100 ulps of its size, and of
    ``kl_scale`` = β·h, because each KL term is a difference of logs of
    ratios near 1, rounded to about one ulp whatever the (small) KL value.
    """
    grad = np.empty_like(theta)
    rounding = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        plus, minus = f(theta + step), f(theta - step)
        grad[i] = (plus - minus) / (2 * eps)
        size = abs(plus) + abs(minus) + kl_scale
        rounding[i] = 100 * np.finfo(np.float64).eps * size / (2 * eps)
    return grad, rounding


@st.composite
def objectives(draw):
    """(theta, args of loss_and_grad) for a small float64 problem."""
    n_samples = draw(st.integers(1, 20))
    n_features = draw(st.integers(1, 5))
    n_components = draw(st.integers(1, 4))
    decoder = draw(st.sampled_from(["logistic", "identity"]))
    low, high = (0.0, 1.0) if decoder == "logistic" else (-1.0, 1.0)
    X = _matrix(draw, np.float64, n_samples, n_features, low, high)
    # Weights of the scale of the UFLDL initialisation and moderate biases keep
    # the hidden activations away from 0 and 1, where the KL term's third
    # derivative makes central differences themselves inaccurate.
    size = _objective.n_params(n_features, n_components)
    theta = draw(hnp.arrays(np.float64, size, elements=st.floats(-0.5, 0.5)))
    rho = draw(st.floats(0.001, 0.999))
    beta = draw(st.floats(0.0, 10.0))
    lam = draw(st.floats(0.0, 1.0))
    return theta, (X, n_components, rho, beta, lam, decoder)


@SETTINGS
@given(objectives())
def test_gradient_matches_central_differences(problem):
    theta, args = problem
    _, grad = _objective.loss_and_grad(theta, *args)
    _, n_components, _, beta, _, _ = args
    numeric, rounding = _central_differences(
        lambda t: _objective.loss_and_grad(t, *args)[0], theta, kl_scale=beta * n_components
    )
    # Relative error below 1e-6, unless the gradient is too small for central
    # differences to resolve (e.g. ~1e-139 when X = 0 and theta ≈ 0, or
    # ~1e-17 when ρ̂ = ρ: a found case of the rounding of the KL term).
    error = np.linalg.norm(numeric - grad)
    assert error <= 1e-6 * np.linalg.norm(numeric + grad) + np.linalg.norm(rounding)


@st.composite
def whitenings(draw):
    """ZCA whitening fitted on a small problem: (zca, X)."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    X = _matrix(draw, dtype, draw(st.integers(1, 40)), draw(st.integers(1, 10)), -5.0, 5.0)
    return ZCAWhitening(epsilon=draw(st.floats(1e-5, 1.0))).fit(X), X


@SETTINGS
@given(whitenings())
def test_zca_inverse_transform_undoes_transform(fitted):
    zca, X = fitted
    Z = zca.transform(X)
    assert Z.shape == X.shape
    assert Z.dtype == X.dtype
    # whitening_ @ dewhitening_ = I up to rounding amplified by their
    # condition numbers, √((S₀ + ε) / (S_min + ε)) each.
    S = zca.explained_variance_.astype(np.float64)
    amplification = np.sqrt((S[0] + zca.epsilon) / (S[-1] + zca.epsilon))
    unit = np.finfo(X.dtype).eps
    atol = 10 * (X.shape[1] + 1) * unit * amplification * (np.abs(X).max() + 1)
    np.testing.assert_allclose(zca.inverse_transform(Z), X, rtol=0, atol=atol)


@SETTINGS
@given(whitenings())
def test_zca_whitened_covariance_has_eigenvalues_in_unit_interval(fitted):
    # Cov(Z) = U diag(S / (S + ε)) Uᵀ: at most 1, and near 1 only where S ≫ ε.
    zca, X = fitted
    Z = zca.transform(X).astype(np.float64)
    Z -= Z.mean(axis=0)
    eigenvalues = np.linalg.eigvalsh(Z.T @ Z / len(Z))
    S = np.sort(zca.explained_variance_.astype(np.float64))
    # S itself is known to rounding of the covariance, about n·u·S₀, which
    # S / (S + ε) divides by ε (float32 on rank-deficient data: S = 1e-8 for 0).
    unit = np.finfo(X.dtype).eps
    atol = 1e-9 + 10 * X.shape[1] * unit * (S[-1] + zca.epsilon) / zca.epsilon
    np.testing.assert_allclose(eigenvalues, S / (S + zca.epsilon), rtol=0, atol=atol)
