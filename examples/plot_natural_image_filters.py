"""
==========================================================
Edge detectors from natural image patches (UFLDL exercise)
==========================================================

The sparse autoencoder exercise of the Stanford UFLDL tutorial, end to end:
8×8 patches of natural images, 25 hidden units, sparsity target ρ = 0.01,
sparsity weight β = 3, weight decay λ = 1e-4 and 400 iterations of L-BFGS.
The hidden units learn oriented edge detectors, like the simple cells of the
primary visual cortex.

The exercise used ten whitened photographs of nature (``IMAGES.mat``); here
seven CC0 or public-domain photographs that scikit-image ships (the
astronaut, the cameraman, Chelsea the cat, the coffee cup, the Pompeii coins,
grass and gravel; see :ref:`natural_image_data`) are whitened the same way,
so nothing is downloaded.
"""

# SPDX-License-Identifier: BSD-3-Clause

# sphinx_gallery_thumbnail_number = 2

import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skl_sparse_ae import SparseAutoencoder
from skl_sparse_ae.datasets import load_natural_image_patches
from skl_sparse_ae.diagnostics import sparsity_report
from skl_sparse_ae.plotting import plot_filters, tile_filters

# The test suite sets this to run every example in seconds on a small problem.
QUICK = os.environ.get("SKL_SPARSE_AE_EXAMPLES_QUICK") == "1"
N_PATCHES = 1000 if QUICK else 10_000
MAX_ITER = 20 if QUICK else 400

# %%
# The patches
# -----------
#
# :func:`~skl_sparse_ae.datasets.load_natural_image_patches` converts the
# photographs to grey levels, flattens their power spectrum (natural images
# have far more power at low frequencies; without this "whitening" the
# autoencoder learns smooth blobs instead of edges), samples patches at random
# positions, an equal share from each photograph, and applies the UFLDL
# normalisation: each patch loses its mean, values are clipped to ±3 standard
# deviations and mapped to [0.1, 0.9], the range a sigmoid output can
# reproduce.
#
# Left: patches of the plain grey photographs, in their grey levels. Right:
# the training patches. Each row of ``X`` is one patch, flattened row by row.
X = load_natural_image_patches(
    n_patches=N_PATCHES, patch_size=8, random_state=0
)
plain = load_natural_image_patches(
    n_patches=100, patch_size=8, whiten=False, normalize=False, random_state=1
)
print(f"X: {X.shape[0]} patches of {X.shape[1]} pixels")
print(f"values in [{X.min():.2f}, {X.max():.2f}]")

fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
# Centred on 0.5 and sharing one scale, the tiles show the pixels as they are.
axes[0].imshow(
    tile_filters(plain - 0.5, normalize=None), cmap="gray", vmin=-1, vmax=1
)
axes[0].set_title("Plain grey patches")
axes[1].imshow(
    tile_filters(X[:100] - 0.5, normalize=None), cmap="gray", vmin=-1, vmax=1
)
axes[1].set_title("Whitened, normalised patches")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()

# %%
# Training
# --------
#
# The settings of the exercise. ``verbose=1`` would print the loss after every
# iteration. The fit stops after ``max_iter`` iterations, or a little earlier
# once J decreases by less than ``tol`` (relative) over ``n_iter_no_change``
# iterations. Stopped at ``max_iter`` while the loss still creeps down, it
# would warn with a :class:`~sklearn.exceptions.ConvergenceWarning`; the
# filters no longer change visibly by then, so the warning is silenced.
ae = SparseAutoencoder(
    n_components=25,
    rho=0.01,
    beta=3,
    lam=1e-4,
    max_iter=MAX_ITER,
    random_state=0,
)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    ae.fit(X)
print(
    f"{ae.n_iter_} L-BFGS iterations in {time.perf_counter() - start:.1f} s, "
    f"final loss J = {ae.loss_:.4f}"
)

# %%
# The learned filters
# -------------------
#
# Row j of ``components_`` (the matrix W1 of the notes) holds the weights
# from the 64 pixels to hidden unit j. Drawn as an 8×8 image, it is the
# pattern the unit responds to. Left, each filter is stretched to full
# contrast (UFLDL's ``display_network``). Right, ``normalize="l2"`` divides
# each filter by its norm, which gives the input image of unit norm that
# activates the unit most (UFLDL notes, "Visualizing a trained autoencoder"),
# and draws all on one scale.
#
# The units are localized edges or bars, at all orientations and at
# different positions in the patch. A unit is dead when it never fires on the
# patches, its activation never above 0.5
# (:func:`~skl_sparse_ae.diagnostics.sparsity_report`, see
# :ref:`dead_units`). A run on an AMD EPYC counted 2 of 25 (1 and 0 for
# ``random_state`` 1 and 2): one whose weights have shrunk so far that its
# activation stays near ρ whatever the patch (stretched to full contrast, its
# filter is a smooth shading rather than an edge), and a weak edge detector
# that reaches 0.19 on its best patch, where the others reach 0.54 or more.
dead = sparsity_report(ae, X).dead_units
print(f"dead units: {dead.sum()} of {ae.n_components}")
best = np.sort(ae.transform(X).max(axis=0))
print(f"largest activation of each unit: {best.round(2)}")

fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
plot_filters(ae, ax=axes[0], title="Filters (each at full contrast)")
plot_filters(ae, ax=axes[1], normalize="l2", title="Maximal unit-norm inputs")
fig.tight_layout()

# %%
# Sparsity of the hidden activations
# ----------------------------------
#
# ``transform`` returns the hidden activations. With ρ = 0.01 most of them
# are close to zero for most patches: each unit fires for the few patches that
# contain its edge. The KL penalty holds the mean activation of every unit
# (``mean_activation_``, ρ̂ in the notes) near ρ.
H = ae.transform(X)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
axes[0].hist(H.ravel(), bins=50, log=True)
axes[0].set_xlabel("hidden activation")
axes[0].set_ylabel("count (log scale)")
axes[0].set_title("All activations on the training patches")
units = np.arange(1, ae.n_components + 1)
axes[1].bar(units, ae.mean_activation_, label="mean activation ρ̂")
axes[1].axhline(ae.rho, color="tab:red", linestyle="--", label=f"ρ = {ae.rho}")
axes[1].set_xlabel("hidden unit")
axes[1].set_ylim(0, 2 * ae.rho)
axes[1].set_title("Mean activation per unit")
axes[1].legend(loc="upper right")
fig.tight_layout()
print(f"mean activation: {ae.mean_activation_.mean():.4f} (rho = {ae.rho})")

# %%
# The loss curve
# --------------
#
# ``loss_curve_`` holds the objective J after every L-BFGS iteration: the
# reconstruction error plus weight decay plus the sparsity penalty. On log
# scales: the first few iterations remove most of the reconstruction error,
# the rest is slow refinement of the edges.
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(np.arange(1, len(ae.loss_curve_) + 1), ae.loss_curve_)
ax.set_xlabel("L-BFGS iteration (log scale)")
ax.set_ylabel("J (log scale)")
ax.set_title("Training loss")
fig.tight_layout()
plt.show()
