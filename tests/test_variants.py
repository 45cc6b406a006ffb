"""The objective of the sparse autoencoder family: L1 penalty, k-sparse codes,
tied weights and a corrupted (denoising) input, in every combination."""

import itertools

import numpy as np
import pytest
from sklearn import config_context

from skl_sparse_ae import _objective

from ._reference import reference_loss
from .test_objective import _central_differences

# Every test runs once with each kernel (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_kernel")

N_FEATURES, N_COMPONENTS, K = 7, 5, 3

COMBINATIONS = [
    pytest.param(
        decoder,
        _objective.Variant(penalty, k, tied),
        corrupted,
        id=f"{decoder}-{penalty}-k{k}-{'tied' if tied else 'untied'}-"
        + ("noisy" if corrupted else "clean"),
    )
    for decoder, penalty, k, tied, corrupted in itertools.product(
        ("logistic", "identity"), ("kl", "l1"), (None, K), (False, True), (False, True)
    )
]

# ReLU units, with the L1 penalty (the KL penalty needs means in (0, 1)).
RELU_COMBINATIONS = [
    pytest.param(
        decoder,
        _objective.Variant("l1", k, tied, "relu"),
        corrupted,
        id=f"relu-{decoder}-l1-k{k}-{'tied' if tied else 'untied'}-"
        + ("noisy" if corrupted else "clean"),
    )
    for decoder, k, tied, corrupted in itertools.product(
        ("logistic", "identity"), (None, K), (False, True), (False, True)
    )
]


def _problem(variant, corrupted, m=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(0.05, 0.95, size=(m, N_FEATURES))
    # Masking noise: the encoder sees a copy of X with some entries zeroed.
    X_input = X * (rng.uniform(size=X.shape) >= 0.3) if corrupted else None
    params = _objective.initial_params(N_FEATURES, N_COMPONENTS, rng)
    theta = _objective.pack(params, tied=variant.tied)
    theta += rng.normal(scale=0.5, size=theta.size)
    return X, X_input, theta


def _args(X, variant, X_input, decoder, beta=3.0, lam=1e-2):
    return dict(
        X=X,
        n_components=N_COMPONENTS,
        rho=0.1,
        beta=beta,
        lam=lam,
        decoder=decoder,
        variant=variant,
        X_input=X_input,
    )


def _smallest_gap_at_k(X_in, params):
    """The smallest gap, over rows, between the k-th and (k+1)-th largest Z2:
    how far the weights can move before a row keeps other units."""
    Z2 = np.sort(X_in @ params.W1.T + params.b1, axis=1)[:, ::-1]
    return np.min(Z2[:, K - 1] - Z2[:, K])


@pytest.mark.parametrize("decoder, variant, corrupted", COMBINATIONS + RELU_COMBINATIONS)
def test_gradient_matches_central_differences(decoder, variant, corrupted):
    X, X_input, theta = _problem(variant, corrupted)
    args = _args(X, variant, X_input, decoder)
    p = _objective.unpack(theta, N_FEATURES, N_COMPONENTS, tied=variant.tied)
    X_in = X if X_input is None else X_input
    if variant.k is not None:  # the kept units must not change within the differences
        assert _smallest_gap_at_k(X_in, p) > 1e-3
    step = 1e-5
    if variant.activation == "relu":  # no input may cross the kink at 0 either
        assert np.min(np.abs(X_in @ p.W1.T + p.b1)) > 1e-4
        step = 1e-7
    loss, grad = _objective.loss_and_grad(theta, **args)
    assert (
        grad.shape == theta.shape == (_objective.n_params(N_FEATURES, N_COMPONENTS, variant.tied),)
    )
    numeric = _central_differences(lambda t: _objective.loss_and_grad(t, **args)[0], theta, step)
    relative_error = np.linalg.norm(numeric - grad) / np.linalg.norm(numeric + grad)
    assert relative_error < 1e-7


@pytest.mark.parametrize("decoder, variant, corrupted", COMBINATIONS + RELU_COMBINATIONS)
def test_loss_matches_reference_computation(decoder, variant, corrupted):
    X, X_input, theta = _problem(variant, corrupted)
    loss, _ = _objective.loss_and_grad(theta, **_args(X, variant, X_input, decoder))
    p = _objective.unpack(theta, N_FEATURES, N_COMPONENTS, tied=variant.tied)
    expected = reference_loss(
        X, p.W1, p.b1, p.W2T, p.b2, 0.1, 3.0, 1e-2, decoder, variant.penalty, variant.k, X_input,
        variant.activation,
    )  # fmt: skip
    assert loss == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("decoder, variant, corrupted", COMBINATIONS + RELU_COMBINATIONS)
def test_chunks_threads_and_recomputation_do_not_change_the_variants(decoder, variant, corrupted):
    X, X_input, theta = _problem(variant, corrupted, m=500)
    args = _args(X, variant, X_input, decoder)
    expected = _objective.evaluate(theta, **args)
    with config_context(working_memory=0.001):  # chunks of a few rows
        for keep_hidden, n_workers in ((True, 2), (False, 1)):
            result = _objective.evaluate(
                theta, **args, keep_hidden=keep_hidden, n_workers=n_workers
            )
            assert result[0] == pytest.approx(expected[0], rel=1e-12)
            np.testing.assert_allclose(result[1], expected[1], rtol=1e-11, atol=1e-14)
            np.testing.assert_allclose(result[2], expected[2], rtol=1e-12)


def test_tied_weights_are_the_untied_objective_with_W2_equal_to_W1():
    X, _, theta = _problem(_objective.Variant(tied=True), False)
    tied = _objective.unpack(theta, N_FEATURES, N_COMPONENTS, tied=True)
    assert tied.W2T is tied.W1
    untied_theta = _objective.pack(tied)
    loss_tied, grad_tied = _objective.loss_and_grad(
        theta, **_args(X, _objective.Variant(tied=True), None, "logistic")
    )
    loss, grad = _objective.loss_and_grad(
        untied_theta, **_args(X, _objective.UFLDL, None, "logistic")
    )
    assert loss_tied == loss
    g = _objective.unpack(grad, N_FEATURES, N_COMPONENTS)
    np.testing.assert_allclose(grad_tied, np.concatenate([(g.W1 + g.W2T).ravel(), g.b1, g.b2]))


def test_k_sparse_codes_keep_the_k_largest_activations_of_each_row():
    X, _, theta = _problem(_objective.UFLDL, False)
    p = _objective.unpack(theta, N_FEATURES, N_COMPONENTS)
    dense = _objective.hidden_activations(X, p.W1, p.b1)
    sparse = _objective.hidden_activations(X, p.W1, p.b1, k=K)
    assert np.all(np.count_nonzero(sparse, axis=1) == K)
    kept = sparse > 0
    np.testing.assert_array_equal(sparse[kept], dense[kept])
    # every kept activation is at least every dropped one of its row
    assert np.all(
        np.where(kept, dense, np.inf).min(axis=1) >= np.where(kept, -np.inf, dense).max(axis=1)
    )
    np.testing.assert_array_equal(
        _objective.hidden_activations(X, p.W1, p.b1, k=N_COMPONENTS), dense
    )


def test_k_sparse_mean_activation_is_that_of_the_sparse_codes():
    X, _, theta = _problem(_objective.UFLDL, False)
    p = _objective.unpack(theta, N_FEATURES, N_COMPONENTS)
    sparse = _objective.hidden_activations(X, p.W1, p.b1, k=K)
    np.testing.assert_allclose(
        _objective.mean_activation(X, p, k=K), sparse.mean(axis=0), rtol=1e-12
    )


@pytest.mark.parametrize("penalty", ["kl", "l1"])
def test_k_sparse_units_far_in_the_tail_are_exact(penalty):
    # Two units far below zero are always dropped (they are in the tail, ρ̂ <
    # 1e-6): their exact sums must count them as 0 in every row, not expit(Z).
    X, _, theta = _problem(_objective.UFLDL, False, m=200)
    p = _objective.unpack(theta.copy(), N_FEATURES, N_COMPONENTS)
    p.b1[:2] = -30.0
    theta = _objective.pack(p)
    variant = _objective.Variant(penalty=penalty, k=K)
    loss, grad, rho_hat = _objective.evaluate(theta, **_args(X, variant, None, "logistic"))
    assert np.all(rho_hat[:2] == 0.0)
    if penalty == "kl":  # ρ̂ = 0: the guarded KL term, finite
        assert np.isfinite(loss) and np.all(np.isfinite(grad))
    else:
        expected = reference_loss(
            X, p.W1, p.b1, p.W2T, p.b2, 0.1, 3.0, 1e-2, "logistic", penalty, K
        )
        assert loss == pytest.approx(expected, rel=1e-12)
    # No gradient through the dropped units: only the weight decay's.
    g = _objective.unpack(grad, N_FEATURES, N_COMPONENTS)
    assert np.all(g.b1[:2] == 0.0)
    np.testing.assert_allclose(g.W1[:2], 1e-2 * p.W1[:2], rtol=1e-14)
