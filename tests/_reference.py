"""A straightforward, unchunked computation of the UFLDL objective, written
independently of skl_sparse_ae._objective so the tests can compare with it."""

import numpy as np
from scipy.special import expit


def reference_loss(X, W1, b1, W2T, b2, rho, beta, lam, decoder="logistic"):
    """J = (1/2m) Σ‖X̂ − X‖² + (λ/2)(‖W1‖² + ‖W2‖²) + β Σ KL(ρ ‖ ρ̂)."""
    X = np.asarray(X, dtype=np.float64)
    m = X.shape[0]
    Z2 = X @ W1.T + b1
    A2 = expit(Z2)
    Z3 = A2 @ W2T + b2
    X_hat = expit(Z3) if decoder == "logistic" else Z3
    reconstruction = np.sum((X_hat - X) ** 2) / (2 * m)
    decay = lam / 2 * (np.sum(W1**2) + np.sum(W2T**2))
    rho_hat = A2.mean(axis=0)
    # 1 − ρ̂ as its own mean, exact also for units that are almost always on.
    rho_hat_complement = expit(-Z2).mean(axis=0)
    kl = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / rho_hat_complement))
    return reconstruction + decay + beta * kl


def reference_loss_of(model, X):
    """J recomputed from a fitted SparseAutoencoder's attributes."""
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
    )
