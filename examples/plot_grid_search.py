"""
===========================================
Tuning rho, beta and lam with a grid search
===========================================

A :class:`~skl_sparse_ae.SparseAutoencoder` is an ordinary scikit-learn
transformer, so its parameters can be tuned inside a
:class:`~sklearn.pipeline.Pipeline` by
:class:`~sklearn.model_selection.GridSearchCV`, with the usual ``step__param``
names. This example tunes the sparsity target ρ (``rho``), the sparsity weight
β (``beta``) and the weight decay λ (``lam``) of an autoencoder that feeds a
logistic regression on the 8×8 digits, then shows why the reconstruction
score alone cannot choose them.
"""

# SPDX-License-Identifier: BSD-3-Clause

import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skl_sparse_ae import SparseAutoencoder

# The test suite sets this to run every example in seconds on a small problem.
QUICK = os.environ.get("SKL_SPARSE_AE_EXAMPLES_QUICK") == "1"
MAX_ITER = 10 if QUICK else 100

# %%
# The pipeline and the grid
# -------------------------
#
# The pixels are scaled to [0, 1] for the sigmoid decoder, encoded by 100
# hidden units and classified. Each of the 18 grid points is scored by 3-fold
# cross-validated accuracy on the training split. 100 L-BFGS iterations per
# fit keep the 54 fits short; the comparison is what matters here, not the
# last digit of each optimum, so the ``ConvergenceWarning`` of each fit is
# silenced.
X, y = load_digits(return_X_y=True)
X = X.astype(np.float32)  # float32 computes about twice as fast as float64
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
if QUICK:
    X_train, y_train = X_train[:300], y_train[:300]

pipeline = make_pipeline(
    MinMaxScaler(),
    SparseAutoencoder(n_components=100, max_iter=MAX_ITER, random_state=0),
    LogisticRegression(C=10.0, max_iter=100 if QUICK else 1000),
)
rhos, betas, lams = [0.01, 0.05, 0.2], [0.3, 3.0], [1e-4, 1e-3, 1e-2]
if QUICK:
    rhos, lams = [0.05, 0.2], [1e-4, 1e-2]
CV = 2 if QUICK else 3
param_grid = {
    "sparseautoencoder__rho": rhos,
    "sparseautoencoder__beta": betas,
    "sparseautoencoder__lam": lams,
}
search = GridSearchCV(pipeline, param_grid, cv=CV, n_jobs=2)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(
    f"cross-validated accuracy {search.best_score_:.3f}, test accuracy "
    f"{search.score(X_test, y_test):.3f}"
)

# %%
# The results
# -----------
#
# One heat map per value of β, with the mean cross-validated accuracy for each
# (λ, ρ). The weight decay matters most. With λ = 1e-2 and ρ ≤ 0.05 the
# cheapest way to meet the sparsity target is to shrink the weights to almost
# nothing and let the biases hold the hidden units at activation ρ whatever
# the input ("dead" units): the features carry little or no information and
# the classifier is at or near chance level (0.10). A weaker sparsity weight β
# tolerates a lower ρ.
results = search.cv_results_
scores = np.empty((len(betas), len(lams), len(rhos)))
for params, score in zip(
    results["params"], results["mean_test_score"], strict=True
):
    panel = betas.index(params["sparseautoencoder__beta"])
    row = lams.index(params["sparseautoencoder__lam"])
    col = rhos.index(params["sparseautoencoder__rho"])
    scores[panel, row, col] = score

# A constrained layout leaves room for the shared colour bar without margins.
fig, axes = plt.subplots(
    1, len(betas), figsize=(9, 3.4), sharey=True, layout="constrained"
)
for ax, beta, grid_scores in zip(axes, betas, scores, strict=True):
    image = ax.imshow(grid_scores, vmin=0, vmax=1, cmap="viridis")
    for (row, col), value in np.ndenumerate(grid_scores):
        ax.text(
            col,
            row,
            f"{value:.3f}",
            ha="center",
            va="center",
            color="black" if value > 0.6 else "white",
        )
    ax.set_xticks(range(len(rhos)), [f"{rho:g}" for rho in rhos])
    ax.set_yticks(range(len(lams)), [f"{lam:g}" for lam in lams])
    ax.set_xlabel("rho")
    ax.set_title(f"beta = {beta:g}")
axes[0].set_ylabel("lam")
fig.colorbar(image, ax=axes, label="mean CV accuracy", shrink=0.9)

# %%
# Why not tune on the reconstruction?
# -----------------------------------
#
# Without labels, ``GridSearchCV`` can use the autoencoder's own
# :meth:`~skl_sparse_ae.SparseAutoencoder.score`, minus half the squared
# reconstruction error (higher is better). But sparsity and weight decay are
# constraints on the code, and constraints make the reconstruction worse: the
# score prefers the weakest regularisation, here the smallest β and λ. The
# reconstruction score is useful to choose what does not restrict the model,
# such as ``max_iter``, or to compare models of equal sparsity; the strength of
# the regularisation is best chosen by the task the features are for, as
# above.
X_scaled = MinMaxScaler().fit_transform(X_train)
unsupervised = GridSearchCV(
    SparseAutoencoder(
        n_components=100, rho=0.05, max_iter=MAX_ITER, random_state=0
    ),
    {"beta": [0.0, 3.0], "lam": lams},
    cv=CV,
    n_jobs=2,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    unsupervised.fit(X_scaled)
print("best by reconstruction:", unsupervised.best_params_)

fig, ax = plt.subplots(figsize=(6, 3.5))
results = unsupervised.cv_results_
for beta in [0.0, 3.0]:
    mask = results["param_beta"] == beta
    ax.plot(
        np.asarray(results["param_lam"][mask], dtype=float),
        results["mean_test_score"][mask],
        "o-",
        label=f"beta = {beta:g}",
    )
ax.set_xscale("log")
ax.set_xlabel("lam")
ax.set_ylabel("score: −½ squared error")
ax.set_title("Reconstruction score (rho = 0.05)")
ax.legend()
fig.tight_layout()
plt.show()
