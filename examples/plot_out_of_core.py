"""
=====================================================
Training on data larger than memory: memmap or stream
=====================================================

Two ways to train a :class:`~skl_sparse_ae.SparseAutoencoder` on patches that
live in a file rather than in memory:

1. full-batch L-BFGS directly on a read-only memory map
   (``np.load(..., mmap_mode="r")``): the objective walks the file in chunks
   and never copies it into memory;
2. minibatch Adam with :meth:`~skl_sparse_ae.SparseAutoencoder.partial_fit`
   over chunks of the file, as for a stream.

See the "Scaling up" page of the user guide for Dask and measured figures.
"""

# SPDX-License-Identifier: BSD-3-Clause

import os
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skl_sparse_ae import SparseAutoencoder
from skl_sparse_ae.datasets import load_natural_image_patches
from skl_sparse_ae.plotting import plot_filters

QUICK = os.environ.get("SKL_SPARSE_AE_EXAMPLES_QUICK") == "1"
N_PATCHES = 5_000 if QUICK else 20_000
N_PASSES = 3 if QUICK else 60

# %%
# Write the patches to a file
# ---------------------------
# Here the file is made from the photographs that scikit-image ships; in
# practice it is whatever large ``.npy`` file you have. float32 halves the file
# and the time.
# The rows are shuffled once when the file is written: streaming chunks in
# file order must not feed Adam one image after the other.
folder = Path(tempfile.mkdtemp())
path = folder / "patches.npy"
patches = load_natural_image_patches(N_PATCHES, 8, random_state=0)
order = np.random.RandomState(0).permutation(len(patches))
np.save(path, patches[order].astype(np.float32))
del patches
X = np.load(path, mmap_mode="r")  # nothing is read into memory yet
print(type(X).__name__, X.shape, X.dtype)

# %%
# 1. L-BFGS on the memory map
# ---------------------------
# ``fit`` validates the map without copying it and reads it chunk by chunk in
# every iteration.
settings = dict(n_components=25, rho=0.01, beta=3.0, lam=1e-4, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    lbfgs = SparseAutoencoder(**settings, max_iter=20 if QUICK else 400).fit(X)
print(f"L-BFGS: {lbfgs.n_iter_} iterations, J = {lbfgs.loss_:.4f}")

# %%
# 2. Streaming with partial_fit
# -----------------------------
# Each call makes one pass of minibatch Adam over the chunk it is given and
# keeps the optimiser state for the next one. ``loss_`` is J on the chunk of
# the last call: on shuffled rows, an estimate of J on the whole file.
stream = SparseAutoencoder(**settings, solver="adam")
chunk = max(1, len(X) // 10)
losses = []
for _ in range(N_PASSES):
    for start in range(0, len(X), chunk):
        stream.partial_fit(X[start : start + chunk])
    losses.append(stream.loss_)
print(
    f"partial_fit: {N_PASSES} passes, J on the last chunk = {stream.loss_:.4f}"
)

# %%
# The filters learned both ways
# -----------------------------
# Adam leaves the plateau where the hidden units have not yet specialised
# (J ≈ 0.48) within a few passes; its J on the last chunk then ends within
# 1–2% of L-BFGS's J (see the "Scaling up" page for measured figures). Its
# advantage is that its memory is one chunk, and it can learn from a stream.
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
plot_filters(lbfgs, ax=axes[0], title="L-BFGS on the memory map")
plot_filters(stream, ax=axes[1], title="partial_fit over chunks")
axes[2].plot(np.arange(1, N_PASSES + 1), losses)
axes[2].axhline(lbfgs.loss_, color="k", linestyle="--", label="L-BFGS J")
axes[2].set_xlabel("pass over the file")
axes[2].set_ylabel("J on the last chunk")
axes[2].legend()
fig.tight_layout()
plt.show()

del X  # release the map before removing its file
path.unlink()
folder.rmdir()
