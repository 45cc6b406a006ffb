"""
===========================================
Stacked autoencoders in a pipeline
===========================================

Autoencoders can be stacked: the hidden activations of one become the input
of the next, and each layer is trained in turn on the codes of the layer below
("greedy layer-wise" training, as in the UFLDL stacked autoencoder chapter).
In scikit-learn this is simply a :class:`~sklearn.pipeline.Pipeline` with two
:class:`~skl_sparse_ae.SparseAutoencoder` steps: ``fit`` trains each step on
the ``fit_transform`` output of the previous one. A logistic regression on the
last codes classifies the 8×8 digits.

UFLDL then fine-tunes all layers together with backpropagation of the
classification loss; a pipeline does not, so this is the greedy part only.
"""

# SPDX-License-Identifier: BSD-3-Clause

# sphinx_gallery_thumbnail_number = 2

import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skl_sparse_ae import SparseAutoencoder
from skl_sparse_ae.plotting import tile_filters

# The test suite sets this to run every example in seconds on a small problem.
QUICK = os.environ.get("SKL_SPARSE_AE_EXAMPLES_QUICK") == "1"
MAX_ITER = 20 if QUICK else 400
LOGISTIC_MAX_ITER = 100 if QUICK else 2000

X, y = load_digits(return_X_y=True)
X = X.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Three pipelines
# ---------------
#
# The first layer uses the parameters that won the grid search of
# :ref:`sphx_glr_auto_examples_plot_grid_search.py` (with 200 hidden units
# instead of 100). The second layer, 100 units on the 200 codes of the first,
# uses the UFLDL sparsity settings ρ = 0.1, β = 3 and a small weight decay.
# Its inputs are activations in (0, 1), so the default sigmoid decoder fits.


def first_layer():
    return SparseAutoencoder(
        n_components=200,
        rho=0.05,
        beta=0.3,
        lam=1e-4,
        max_iter=MAX_ITER,
        random_state=0,
    )


def second_layer(lam=1e-4):
    return SparseAutoencoder(
        n_components=100,
        rho=0.1,
        beta=3.0,
        lam=lam,
        max_iter=MAX_ITER,
        random_state=0,
    )


def classifier():
    return LogisticRegression(C=10.0, max_iter=LOGISTIC_MAX_ITER)


models = {
    "raw pixels": make_pipeline(MinMaxScaler(), classifier()),
    "one layer": make_pipeline(MinMaxScaler(), first_layer(), classifier()),
    "two layers": make_pipeline(
        MinMaxScaler(), first_layer(), second_layer(), classifier()
    ),
}
accuracies = {}
for name, model in models.items():
    # The autoencoders stop at max_iter on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    accuracies[name] = model.score(X_test, y_test)
    print(f"{name:>10}: test accuracy {accuracies[name]:.3f}")

stacked = models["two layers"]
print(
    "features of the two-layer encoder:",
    stacked[:-1].get_feature_names_out()[:3],
    "...",
)

# %%
# On the digits, one layer of learned features already lifts the logistic
# regression well above raw pixels; the second layer keeps that accuracy
# (the differences are a handful of test digits) with half as many features.
# Deeper features pay off on larger, harder data, and with the fine-tuning
# step UFLDL adds.
fig, ax = plt.subplots(figsize=(6, 3.5))
bars = ax.bar(list(accuracies), list(accuracies.values()), color="tab:blue")
ax.bar_label(bars, fmt="%.3f")
ax.set_ylim(0.9, 1.0)
ax.set_ylabel("test accuracy (from 0.9)")
ax.set_title("Logistic regression on the digits")
fig.tight_layout()

# %%
# What the second layer responds to
# ---------------------------------
#
# A second-layer unit has no filter on the pixels: it looks at the codes of
# the first layer. To see what it detects, average the training digits that
# activate it most. Each tile on the right is the mean of the 10 training
# digits with the highest activation of one of the first 36 second-layer
# units. The means are crisp: most units respond to one kind of digit, often
# one way of writing it, more selectively than the first-layer filters
# (left) that they combine.
codes = stacked[:-1].transform(X_train)
top = np.argsort(codes, axis=0)[-10:]  # (10, 100): the 10 best digits per unit
preferred = X_train[top[:, :36]].mean(axis=0)  # (36, 64)
fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
axes[0].imshow(
    tile_filters(stacked[1].components_[:36]), cmap="gray", vmin=-1, vmax=1
)
axes[0].set_title("First layer: filters")
axes[1].imshow(tile_filters(preferred, normalize=None), cmap="gray_r", vmin=0)
axes[1].set_title("Second layer: preferred digits")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()

# %%
# A pitfall: weight decay on a stacked layer
# ------------------------------------------
#
# The UFLDL weight decay for MNIST, λ = 3e-3, is too strong for the second
# layer here: its sparse inputs are small, and the cheapest way to meet the
# sparsity target is to drop the weights and hold every unit at activation ρ
# with its bias. Such dead units give the same output for every digit. After
# fitting a new layer, check the spread (standard deviation) of each unit's
# activation over the samples.
first_codes = stacked[:2].transform(X_train)
for lam in [1e-4, 3e-3]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        layer = second_layer(lam).fit(first_codes)
    spread = layer.transform(first_codes).std(axis=0).mean()
    print(f"second layer, lam={lam:g}: mean spread of a unit {spread:.4f}")
plt.show()
