"""A straightforward, unchunked computation of the UFLDL objective, written
independently of skl_sparse_ae._objective so the tests can compare with it."""

import numpy as np
from scipy.special import expit


def reference_loss(
    X,
    W1,
    b1,
    W2T,
    b2,
    rho,
    beta,
    lam,
    decoder="logistic",
    penalty="kl",
    k=None,
    X_input=None,
    activation="sigmoid",
):
    """J = (1/2m) Σ‖X̂ − X‖² + (λ/2)(‖W1‖² + ‖W2‖²) + β Σ KL(ρ ‖ ρ̂), or + β Σ ρ̂
    for ``penalty="l1"``; ``k``: only the k largest activations of each row
    are kept; ``X_input``: the encoder's input in X's place (denoising);
    ``activation``: the hidden units', "sigmoid" or "relu"."""
    X = np.asarray(X, dtype=np.float64)
    X_in = X if X_input is None else np.asarray(X_input, dtype=np.float64)
    m = X.shape[0]
    Z2 = X_in @ W1.T + b1
    A2 = expit(Z2) if activation == "sigmoid" else np.maximum(Z2, 0.0)
    # 1 − A2 by itself, exact also for units that are almost always on.
    A2_complement = expit(-Z2) if activation == "sigmoid" else 1.0 - A2
    if k is not None:
        order = np.argsort(-Z2, axis=1, kind="stable")
        dropped = np.zeros(A2.shape, dtype=bool)
        np.put_along_axis(dropped, order[:, k:], True, axis=1)
        A2[dropped], A2_complement[dropped] = 0.0, 1.0
    Z3 = A2 @ W2T + b2
    X_hat = expit(Z3) if decoder == "logistic" else Z3
    reconstruction = np.sum((X_hat - X) ** 2) / (2 * m)
    decay = lam / 2 * (np.sum(W1**2) + np.sum(W2T**2))
    rho_hat = A2.mean(axis=0)
    if not beta:  # no sparsity term (the KL of a ReLU's means would not exist)
        return reconstruction + decay
    if penalty == "l1":
        return reconstruction + decay + beta * np.sum(rho_hat)
    rho_hat_complement = A2_complement.mean(axis=0)
    kl = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / rho_hat_complement))
    return reconstruction + decay + beta * kl


def reference_loss_of(model, X, X_input=None):
    """J recomputed from a fitted SparseAutoencoder's attributes (``X_input``:
    the corrupted input of a denoising one)."""
    return reference_loss(
        X,
        model.components_,
        model.intercept_hidden_,
        model.decoder_components_,
        model.intercept_visible_,
        model.rho,
        model.beta,
        model.lam,
        model.decoder_activation,
        model.sparsity_penalty,
        model.k,
        X_input,
        getattr(model, "activation", "sigmoid"),
    )
