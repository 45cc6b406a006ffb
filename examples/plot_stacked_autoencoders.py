"""
===================================================
Stacked autoencoders, greedy and fine-tuned
===================================================

Autoencoders can be stacked: the hidden activations of one become the input
of the next, and each layer is trained in turn on the codes of the layer below
("greedy layer-wise" training, as in the UFLDL stacked autoencoder chapter).
In scikit-learn the greedy part is simply a
:class:`~sklearn.pipeline.Pipeline` of
:class:`~skl_sparse_ae.SparseAutoencoder` steps with a classifier on top.

UFLDL then *fine-tunes* the whole network: the encoders and a softmax output
layer are trained together by backpropagation of the classification loss,
starting from the greedy weights. A pipeline cannot do that;
:class:`~skl_sparse_ae.StackedAutoencoderClassifier` does all three stages in
one ``fit`` (see :ref:`stacked`). This example compares, on the "nudged"
digits of scikit-learn's example `Restricted Boltzmann Machine features for
digit classification
<https://scikit-learn.org/stable/auto_examples/neural_networks/plot_rbm_logistic_classification.html>`_:

- the greedy pipeline: the same two pretrained layers + logistic regression;
- the fine-tuned stack;
- an :class:`~sklearn.neural_network.MLPClassifier` with the same hidden
  layers of logistic units, trained from random weights for as many L-BFGS
  iterations as the fine-tuning.
"""

# SPDX-License-Identifier: BSD-3-Clause

# sphinx_gallery_thumbnail_number = 1

import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from skl_sparse_ae import StackedAutoencoderClassifier
from skl_sparse_ae.datasets import load_nudged_digits
from skl_sparse_ae.plotting import tile_filters

# The test suite sets this to run every example in seconds on a small problem.
QUICK = os.environ.get("SKL_SPARSE_AE_EXAMPLES_QUICK") == "1"
PRETRAIN_MAX_ITER = 10 if QUICK else 100
MAX_ITER = 10 if QUICK else 100

# %%
# The nudged digits
# -----------------
#
# As in the RBM example: each 8×8 digit is also shifted by one pixel left,
# right, up and down (5× the data, 8 985 images), the pixels are scaled to
# [0, 1] (:func:`~skl_sparse_ae.datasets.load_nudged_digits`) and 20% of the
# images are held out.


X, y = load_nudged_digits(dtype=np.float32, return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, random_state=0
)
if QUICK:
    X_train, y_train = X_train[:600], y_train[:600]

# %%
# Three models with the same hidden layers
# ----------------------------------------
#
# Two layers of logistic units, 200 and 100. The first autoencoder uses the
# parameters that won :ref:`sphx_glr_auto_examples_plot_grid_search.py`
# (ρ = 0.05, β = 0.3); the second the UFLDL sparsity settings ρ = 0.1, β = 3.
# Both use a small weight decay λ = 1e-4 (see the pitfall below). The
# greedy pipeline is made of clones of the classifier's own autoencoders,
# with the same random seeds, so its two layers are exactly the pretrained
# layers of the classifier: the models differ only in what happens on top.

stacked = StackedAutoencoderClassifier(
    hidden_layer_sizes=(200, 100),
    rho=(0.05, 0.1),
    beta=(0.3, 3.0),
    lam=1e-4,
    pretrain_max_iter=PRETRAIN_MAX_ITER,
    max_iter=MAX_ITER,
    random_state=0,
)


def fit_timed(model):
    start = time.perf_counter()
    # One thread for every model, so that the times compare like for like
    # (on busy cores, idle BLAS threads made scikit-learn's L-BFGS fits many
    # times slower). Every model stops at its iteration budget on purpose.
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    return time.perf_counter() - start


results = {"fine-tuned stack": (stacked, fit_timed(stacked))}
greedy = make_pipeline(
    *(clone(autoencoder) for autoencoder in stacked.autoencoders_),
    LogisticRegression(C=10.0, max_iter=1000),
)
results["greedy stack + LogReg"] = (greedy, fit_timed(greedy))
mlp = MLPClassifier(
    hidden_layer_sizes=(200, 100),
    activation="logistic",
    solver="lbfgs",
    max_iter=MAX_ITER,
    random_state=0,
)
results["MLP from random weights"] = (mlp, fit_timed(mlp))

print(f"{'model':<26}{'accuracy':>10}{'fit time':>10}")
for name, (model, seconds) in results.items():
    print(f"{name:<26}{model.score(X_test, y_test):>10.4f}{seconds:>9.1f}s")

# %%
# On a 2-core AMD EPYC (one thread per fit) this printed:
#
# ========================== ========== ==========
# model                       accuracy   fit time
# ========================== ========== ==========
# fine-tuned stack              0.9855      10.6s
# greedy stack + LogReg         0.9338       6.6s
# MLP from random weights       0.9566       4.5s
# ========================== ========== ==========
#
# Fine-tuning removes four fifths of the errors of the greedy stack (from
# 6.6% to 1.45% of the test digits), for 100 L-BFGS iterations on the labeled
# data, which cost about as much as the MLP's fit (the rest of the 10.6 s is
# the pretraining, which the greedy pipeline runs too). The MLP runs the same
# 100 iterations of the same network from random weights and makes three
# times as many errors as the fine-tuned stack: the pretrained weights are a
# much better starting point. The greedy stack is the weakest: features
# learned without the labels, and only a linear classifier that sees them.

# %%
# The first-layer filters before and after fine-tuning
# ----------------------------------------------------
#
# ``pretrained_coefs_`` holds the greedy network and ``coefs_`` the
# fine-tuned one, in :class:`~sklearn.neural_network.MLPClassifier`'s layout
# (``coefs_[0]`` has shape (64, 200)): the filters are its columns. Each tile
# is scaled by its own largest weight, as UFLDL's ``display_network`` does.
before = stacked.pretrained_coefs_[0].T
after = stacked.coefs_[0].T
fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
for ax, (filters, title) in zip(
    axes, [(before, "greedy (pretrained)"), (after, "fine-tuned")], strict=True
):
    ax.imshow(tile_filters(filters[:64]), cmap="gray", vmin=-1, vmax=1)
    ax.set_title(title)
    ax.set_axis_off()
fig.suptitle("First-layer filters (64 of 200)")
fig.tight_layout()

correlation = np.median(
    [np.corrcoef(b, a)[0, 1] for b, a in zip(before, after, strict=True)]
)
growth = np.median(
    np.linalg.norm(after, axis=1) / np.linalg.norm(before, axis=1)
)
print(
    f"filters after vs before: median correlation {correlation:.2f}, "
    f"norm ratio {growth:.1f}"
)

# %%
# Fine-tuning starts from the autoencoder's strokes and reshapes them for the
# labels: on the full run above each filter kept a correlation of about 0.67
# with its pretrained self, while its weights grew about 2.5-fold. The
# hidden weights are not decayed during fine-tuning (only the softmax
# weights are, see :ref:`stacked`), so nothing holds them at their
# pretrained scale; the sharper, higher-contrast filters are what separates
# the digits.

# %%
# The fine-tuning loss
# --------------------
#
# ``loss_curve_`` is the objective of fine-tuning after each iteration: the
# mean cross-entropy of the training digits plus the weight decay of the
# softmax weights.
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(np.arange(1, stacked.n_iter_ + 1), stacked.loss_curve_)
ax.set_yscale("log")
ax.set_xlabel("L-BFGS iteration")
ax.set_ylabel("J")
ax.set_title("Fine-tuning")
fig.tight_layout()

# %%
# A pitfall: weight decay on a stacked layer
# ------------------------------------------
#
# The UFLDL weight decay for MNIST, λ = 3e-3 (the default of ``lam``), is
# too strong for the second layer here: its sparse inputs are small, and the
# cheapest way to meet the sparsity target is to drop the weights and hold
# every unit at activation ρ with its bias. Such dead units give the same
# output for every digit. After pretraining, check the spread (standard
# deviation) of each unit's activation over the samples.
first_codes = stacked.autoencoders_[0].transform(X_train[:2000])
for lam in [1e-4, 3e-3]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        layer = (
            clone(stacked.autoencoders_[1])
            .set_params(lam=lam)
            .fit(first_codes)
        )
    spread = layer.transform(first_codes).std(axis=0).mean()
    print(f"second layer, lam={lam:g}: mean spread of a unit {spread:.4f}")
plt.show()
