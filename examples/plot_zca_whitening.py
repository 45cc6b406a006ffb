"""
======================================
ZCA whitening of natural image patches
======================================

Neighbouring pixels of natural images are strongly correlated, and most of
the variance of a patch lies in its smooth, low-frequency components.
:class:`~skl_sparse_ae.ZCAWhitening` decorrelates the pixels and gives
every direction unit variance, while keeping the result as close as possible
to the original patch, so that whitened patches still look like images: their
edges are enhanced and their smooth shading removed.

This example shows patches before and after whitening, the covariance of the
pixels before and after, and what the regulariser ``epsilon`` does.
"""

# SPDX-License-Identifier: BSD-3-Clause

import os

import matplotlib.pyplot as plt
import numpy as np

from skl_sparse_ae import ZCAWhitening
from skl_sparse_ae.datasets import load_natural_image_patches
from skl_sparse_ae.plotting import tile_filters

# The test suite sets this to run every example in seconds on a small problem.
QUICK = os.environ.get("SKL_SPARSE_AE_EXAMPLES_QUICK") == "1"
N_PATCHES = 2000 if QUICK else 20_000

# %%
# Patches before and after whitening
# ----------------------------------
#
# 8×8 grey patches of the photographs that scikit-image ships (see
# :ref:`natural_image_data`), with pixel values in [0, 1]
# (``whiten=False, normalize=False``: the loader's own whitening of the images
# is switched off). As in the UFLDL whitening exercise, each patch
# first loses its mean brightness, which says nothing about its structure.
#
# ``epsilon`` is a variance, to be compared with the eigenvalues of the
# covariance (``explained_variance_``). For these patches they run from about
# 0.14 down to 5e-4, and ``epsilon=1e-3`` whitens all but the weakest, noisiest
# directions (see the last section). Each tile is drawn at full contrast.
X = load_natural_image_patches(
    n_patches=N_PATCHES,
    patch_size=8,
    whiten=False,
    normalize=False,
    random_state=0,
)
X -= X.mean(axis=1, keepdims=True)
zca = ZCAWhitening(epsilon=1e-3).fit(X)
Z = zca.transform(X)
S = zca.explained_variance_
print(f"Eigenvalues: {S[0]:.2g} down to {S[-2]:.2g}, then {S[-1]:.0g}")

fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
axes[0].imshow(tile_filters(X[:64]), cmap="gray")
axes[0].set_title("Patches (each patch's mean removed)")
axes[1].imshow(tile_filters(Z[:64]), cmap="gray")
axes[1].set_title("ZCA-whitened, epsilon = 1e-3")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()

# %%
# The covariance of the pixels
# ----------------------------
#
# Pixel i of a patch is correlated with its neighbours: the covariance
# matrix of the 64 pixels (left) has bands at distances 1 and 8 (the
# neighbours left/right and above/below), and the correlation decays slowly
# with distance. With ``epsilon=1e-3`` (right) the whitened covariance is
# close to the identity matrix; only the weakest directions are scaled up
# less than fully. With ``epsilon=0.1`` (middle), of the order of the largest
# eigenvalue and far above all the others, whitening does little more than
# multiply the data by a constant: the structure of the covariance stays.


def covariance(data):
    centred = data - data.mean(axis=0)
    return centred.T @ centred / len(data)


fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
panels = [
    ("Raw pixels", covariance(X)),
    (
        "Whitened, epsilon = 0.1",
        covariance(ZCAWhitening(epsilon=0.1).fit_transform(X)),
    ),
    ("Whitened, epsilon = 1e-3", covariance(Z)),
]
for ax, (title, cov) in zip(axes, panels, strict=True):
    limit = np.abs(cov).max()
    image = ax.imshow(cov, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()

# %%
# The whitening filters
# ---------------------
#
# Row i of ``whitening_`` is the filter that computes whitened pixel i from
# the centred patch. ZCA filters are centre-surround: a pixel keeps its own
# value and subtracts a weighted average of its neighbours, which is why
# whitening enhances edges. Shown for eight pixels along the diagonal, each
# scaled by its centre weight, with the colour scale clipped at ±0.2 so that
# the negative surround shows.
diagonal = [9 * k for k in range(8)]
fig, ax = plt.subplots(figsize=(8, 1.8))
image = ax.imshow(
    tile_filters(zca.whitening_[diagonal], n_cols=8),
    cmap="RdBu_r",
    vmin=-0.2,
    vmax=0.2,
)
fig.colorbar(image, ax=ax, shrink=0.8)
ax.set_title("Rows of whitening_ (epsilon = 1e-3) for pixels on the diagonal")
ax.set_axis_off()
fig.tight_layout()

# %%
# The effect of epsilon
# ---------------------
#
# Whitening divides the component of the data along eigenvector k of the
# covariance by √(S_k + ε), so the whitened data have variance
# S_k / (S_k + ε) in that direction: about 1 where S_k ≫ ε (whitened) and
# about S_k / ε where S_k ≪ ε (left small). ε is therefore a soft cut-off:
# the components with variance below ε, the high spatial frequencies that are
# mostly noise, are not amplified. A large ε acts as a low-pass filter and
# keeps the whitened patches smooth; a tiny ε amplifies the noise and the
# whitened patches look like static.
#
# UFLDL's ε = 0.1 for patches in [0, 1] is such a low-pass setting, meant for
# a reconstruction model: the linear decoder of :ref:`the colour example
# <sphx_glr_auto_examples_plot_color_features.py>` then spends no effort on
# noise. For exact decorrelation take ε well below the smallest eigenvalue
# you care about.
epsilons = [1e-5, 1e-3, 1e-2, 1e-1, 1.0]
fig, axes = plt.subplots(1, len(epsilons), figsize=(11, 2.6))
for ax, epsilon in zip(axes, epsilons, strict=True):
    whitened = ZCAWhitening(epsilon=epsilon).fit(X).transform(X[:16])
    ax.imshow(tile_filters(whitened), cmap="gray", vmin=-1, vmax=1)
    ax.set_title(f"epsilon = {epsilon:g}")
    ax.set_axis_off()
fig.tight_layout()

# The variance of the whitened data along each eigenvector, S_k / (S_k + ε),
# without the last eigenvalue: zero, the direction of the patch means.
fig, ax = plt.subplots(figsize=(7.5, 3.8))
components = np.arange(1, len(S))
for epsilon in epsilons:
    ax.semilogy(
        components, S[:-1] / (S[:-1] + epsilon), label=f"epsilon = {epsilon:g}"
    )
ax.set_xlabel("eigenvector of the covariance (by decreasing variance)")
ax.set_ylabel("variance after whitening")
ax.set_title("Which directions are whitened")
ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
fig.tight_layout()

plt.show()
