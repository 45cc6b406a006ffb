"""
================================================
Colour features with a linear decoder (UFLDL)
================================================

The UFLDL "linear decoder" exercise in miniature: colour 8×8 patches are
ZCA-whitened, and a sparse autoencoder with a linear (identity) output layer
learns features from them. The whitened data are real-valued, not confined
to [0, 1], which a sigmoid output could not reproduce; hence the linear
decoder.

UFLDL trained 400 hidden units on 100 000 patches of the STL-10 images for
this; 100 units and 10 000 patches keep the example under a minute and
already give the typical result: grey edge detectors and colour-opponent
edges and blobs.
"""

# SPDX-License-Identifier: BSD-3-Clause

# sphinx_gallery_thumbnail_number = 2

import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_images
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.image import extract_patches_2d

from skl_sparse_ae import SparseAutoencoder, ZCAWhitening
from skl_sparse_ae.plotting import plot_filters

# The test suite sets this to run every example in seconds on a small problem.
QUICK = os.environ.get("SKL_SPARSE_AE_EXAMPLES_QUICK") == "1"
N_PATCHES = 1000 if QUICK else 10_000
N_COMPONENTS = 25 if QUICK else 100
MAX_ITER = 20 if QUICK else 400

# %%
# Colour patches
# --------------
#
# scikit-learn's two sample photographs, scaled to [0, 1]. They are large
# (427×640 pixels) and smooth at the scale of 8 pixels, so they are first
# reduced to a quarter of their size (averaging 4×4 blocks): their 8×8
# patches then hold as much structure as those of the 96×96 STL-10 images of
# the exercise. :func:`~sklearn.feature_extraction.image.extract_patches_2d`
# takes patches of shape (8, 8, 3); flattened, each is a row of 192 values,
# channel-last (R, G, B of the first pixel, then of the second...), the
# layout that :func:`~skl_sparse_ae.plotting.plot_filters` expects with
# ``patch_shape=(8, 8, 3)``.


def downscale(image, factor):
    """Average factor × factor blocks of an (H, W, 3) image."""
    h, w = image.shape[0] // factor, image.shape[1] // factor
    return (
        image[: h * factor, : w * factor]
        .reshape(h, factor, w, factor, 3)
        .mean(axis=(1, 3))
    )


rng = np.random.RandomState(0)
images = [downscale(image / 255.0, 4) for image in load_sample_images().images]
X = np.concatenate(
    [
        extract_patches_2d(
            image, (8, 8), max_patches=N_PATCHES // 2, random_state=rng
        )
        for image in images
    ]
).reshape(-1, 8 * 8 * 3)
X = X.astype(np.float32)  # the whole chain computes in float32, twice as fast
print(f"X: {X.shape[0]} RGB patches of {X.shape[1]} values in [0, 1]")

# %%
# ZCA whitening
# -------------
#
# ``epsilon=0.1`` is the UFLDL setting. It is larger than most eigenvalues
# of the covariance of these patches, so rather than equalising all
# directions it mostly scales down the few strong ones, the smooth shading
# and overall colour, and leaves the fine, noisy detail unamplified: a
# low-pass whitening that suits a reconstruction model. The whitened patches
# (right) are drawn with one common scale, zero as mid-grey.
zca = ZCAWhitening(epsilon=0.1).fit(X)
Z = zca.transform(X)

fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
plot_filters(
    X[:64] - 0.5, (8, 8, 3), ax=axes[0], normalize=None, title="Patches"
)
plot_filters(
    Z[:64], (8, 8, 3), ax=axes[1], normalize=None, title="ZCA-whitened patches"
)
fig.tight_layout()

# %%
# The linear-decoder autoencoder
# ------------------------------
#
# The settings of the exercise: ρ = 0.035, β = 5, λ = 3e-3 and an identity
# output, ``decoder_activation="identity"``. Like the exercise, training stops
# after 400 L-BFGS iterations, without the ``ConvergenceWarning``.
ae = SparseAutoencoder(
    n_components=N_COMPONENTS,
    rho=0.035,
    beta=5.0,
    lam=3e-3,
    decoder_activation="identity",
    max_iter=MAX_ITER,
    random_state=0,
)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    ae.fit(Z)
elapsed = time.perf_counter() - start
print(f"{ae.n_iter_} L-BFGS iterations in {elapsed:.1f} s, J = {ae.loss_:.3f}")
print(f"mean activation {ae.mean_activation_.mean():.4f} (rho = {ae.rho})")

# %%
# The features
# ------------
#
# A hidden unit computes f(w · z + b) of the whitened patch
# z = (x − mean) @ W, with W = ``zca.whitening_``. As a function of the
# original patch x its filter is therefore ``components_ @ whitening_``
# (``whitening_`` is symmetric): that is what UFLDL displays, left. Most
# units are edge detectors, in grey levels or between opposite colours
# (orange against blue, green against purple); some respond to the overall
# colour of a patch.
#
# Right, the raw ``components_``: the filters as seen in the whitened space.
# With ε = 0.1 the whitening leaves the many weak directions of the patches
# nearly untouched (up to a constant factor) and scales down the few strong
# ones, overall brightness most. So the two views differ mainly in the
# colour-blob units: mostly brightness, pale, on the right; pure colour on
# the left.
fig, axes = plt.subplots(1, 2, figsize=(9, 4.8))
plot_filters(
    ae.components_ @ zca.whitening_,
    (8, 8, 3),
    ax=axes[0],
    title="Filters on the pixels",
)
plot_filters(
    ae, (8, 8, 3), ax=axes[1], title="Filters on the whitened patches"
)
fig.tight_layout()
plt.show()
