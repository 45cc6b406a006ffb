"""
=============================
The sparse autoencoder family
=============================

:class:`~skl_sparse_ae.SparseAutoencoder` fits UFLDL's model by default (a
KL-divergence sparsity penalty, separate encoder and decoder weights, clean
input) and, through a few parameters, its best-known relatives:

- ``sparsity_penalty="l1"``: an L1 penalty on the hidden activations instead
  of the KL term;
- ``k`` (and ``transform_k``): the k-sparse autoencoder of Makhzani and Frey
  (2013), which keeps only the k largest activations of each sample;
- ``corruption="masking"`` or ``"gaussian"``: the denoising autoencoder of
  Vincent et al. (2008), which reconstructs the clean input from a corrupted
  copy;
- ``tied_weights=True``: one weight matrix for the encoder and the decoder;
- ``activation="relu"``: ReLU codes, the units of today's sparse-autoencoder
  libraries, here with the L1 penalty and with k-sparse codes, their dead
  units resampled during training (``resample_every``, on by default for
  ReLU codes).

This example trains each of them on the natural image patches of the UFLDL
exercise, to compare their filters, and on the digits, to compare their
codes as features for a logistic regression. For each it reports what
:func:`~skl_sparse_ae.diagnostics.sparsity_report` measures: the dead units
(never active), L0 (active units per sample) and the fraction of variance
unexplained (FVU) by the reconstruction. See :ref:`family` for the objective
of each variant.

In short (the tables below): on the patches, the UFLDL model, Gaussian noise
and tied weights learn the familiar oriented edges, tied weights the
cleanest and with every unit active on some patches; the L1 penalty,
k-sparse codes and masking noise learn noisier filters, and masking noise
leaves 13 of the 25 units never active. On the digits, the UFLDL model and
tied weights give the best codes for a logistic regression (test accuracy
0.978–0.980, against 0.969 on the pixels); denoising and L1 reach
0.971–0.973, k-sparse codes 0.960, with a fifth of their units dead. ReLU
codes, their dead units resampled, lose at most one unit on the patches and
at most two on the digits, where they give the best codes for a logistic
regression (0.982 and 0.984).
"""

# SPDX-License-Identifier: BSD-3-Clause

# sphinx_gallery_thumbnail_number = 1

import os
import time
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler
from threadpoolctl import threadpool_limits

from skl_sparse_ae import SparseAutoencoder
from skl_sparse_ae.datasets import load_natural_image_patches
from skl_sparse_ae.diagnostics import sparsity_report
from skl_sparse_ae.plotting import plot_filters

# The test suite sets this to run every example in seconds on a small problem.
QUICK = os.environ.get("SKL_SPARSE_AE_EXAMPLES_QUICK") == "1"
N_PATCHES = 1000 if QUICK else 10_000
LBFGS_ITER = 20 if QUICK else 400  # L-BFGS iterations
PATCH_EPOCHS = 3 if QUICK else 50  # Adam epochs on the patches
DIGIT_EPOCHS = 3 if QUICK else 300  # on the digits (it stops earlier)


def fit_and_report(model, X_fit, X_report):
    """Fit ``model`` on X_fit: the seconds it took, its report on X_report."""
    start = time.perf_counter()
    # Every fit stops at its iteration budget or a little earlier, on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_fit)
    seconds = time.perf_counter() - start
    return seconds, sparsity_report(model, X_report)


def report_row(name, model, seconds, report):
    return (
        f"{name:<19} {model.n_iter_:>5} {seconds:>7.1f} "
        f"{int(report.dead_units.sum()):>4} {report.l0:>6.2f} "
        f"{report.fraction_of_variance_unexplained:>6.3f}"
    )


def family(
    settings, *, k, transform_k, adam_epochs, gaussian_level, relu_l1, relu_k
):
    """The variants compared here, each on top of the shared ``settings``."""
    lbfgs = dict(settings, max_iter=LBFGS_ITER)
    return {
        "UFLDL (KL)": SparseAutoencoder(**lbfgs),
        "L1, beta=0.003": SparseAutoencoder(
            **dict(lbfgs, beta=0.003), sparsity_penalty="l1"
        ),
        "k-sparse (Adam)": SparseAutoencoder(
            **dict(settings, beta=0),
            k=k,
            transform_k=transform_k,
            solver="adam",
            max_iter=adam_epochs,
        ),
        "masking noise 0.3": SparseAutoencoder(
            **lbfgs, corruption="masking", corruption_level=0.3
        ),
        f"Gaussian noise {gaussian_level}": SparseAutoencoder(
            **lbfgs, corruption="gaussian", corruption_level=gaussian_level
        ),
        "tied weights": SparseAutoencoder(**lbfgs, tied_weights=True),
        relu_l1_name(relu_l1): SparseAutoencoder(
            **dict(lbfgs, **relu_l1), activation="relu", sparsity_penalty="l1"
        ),
        f"ReLU k-sparse, k={relu_k}": SparseAutoencoder(
            **dict(lbfgs, beta=0),
            activation="relu",
            k=relu_k,
            transform_k=2 * relu_k,
        ),
    }


def relu_l1_name(options):
    solver = " (Adam)" if options.get("solver") == "adam" else ""
    return f"ReLU+L1 {options['beta']}{solver}"


# %%
# Natural image patches
# ---------------------
#
# The data and settings of the UFLDL exercise (see
# :ref:`sphx_glr_auto_examples_plot_natural_image_filters.py`): 10 000
# whitened 8×8 patches in [0.1, 0.9], 25 hidden units, ρ = 0.01, β = 3,
# λ = 1e-4, 400 iterations of L-BFGS. Each variant changes one thing:
#
# - **L1**: β Σⱼ ρ̂ⱼ pushes every activation towards 0 with the same force,
#   where the KL term stops pushing once a unit's mean activation reaches ρ
#   (and pulls a unit back up that falls below it). ``rho`` is unused. A
#   unit pushed to 0 saturates, where the sigmoid's slope, and with it the
#   unit's gradient, vanishes: it does not come back. Every β from UFLDL's 3
#   down to 0.03 shut all 25 units off, 0.01 shut 22; the example uses
#   β = 0.003.
# - **k-sparse**: k = 5 of the 25 units per patch in training, without any
#   other sparsity penalty (β = 0, as in the paper), and 10 units at
#   ``transform`` (the paper encodes with a few times k). The selection of
#   the k largest makes J piecewise smooth, so it trains with Adam: 50
#   epochs, after which its J hardly falls any more.
# - **masking noise**: each pixel of the encoder's input is set to 0 with
#   probability 0.3; the decoder must still reconstruct the clean patch. With
#   L-BFGS the noise is drawn once per fit, from ``random_state``: J stays a
#   fixed function that L-BFGS can minimise.
# - **Gaussian noise**: noise of standard deviation 0.1 added to each pixel,
#   a little below the pixels' own spread (0.12). It suits these patches
#   better than masking: they live around 0.5, and the 0 of masking noise is
#   far from any of their pixel values.
# - **tied weights**: the decoder uses the encoder's weights, W2ᵀ = W1.
# - **ReLU + L1** and **ReLU k-sparse**: ReLU hidden units
#   (``activation="relu"``, max(z, 0)) with the L1 penalty at β = 0.2 and
#   with k = 3 (6 at ``transform``), both trained by L-BFGS, their dead
#   units resampled every 50 iterations (``resample_every``, the default for
#   ReLU codes). β = 0.2 gave sparse codes with oriented edges, 0.1 denser
#   ones, 0.3 left 3 units dead; k = 5 gave filters that mix edges with
#   gratings, k = 3 localized edges.
X_patches = load_natural_image_patches(N_PATCHES, 8, random_state=0)
print(f"{X_patches.shape[0]} patches of {X_patches.shape[1]} pixels")

patch_models = family(
    dict(n_components=25, rho=0.01, beta=3, lam=1e-4, random_state=0),
    k=5,
    transform_k=10,
    adam_epochs=PATCH_EPOCHS,
    gaussian_level=0.1,
    relu_l1=dict(beta=0.2),
    relu_k=3,
)

print(
    f"{'variant':<19} {'iters':>5} {'fit (s)':>7} {'dead':>4} {'L0':>6} "
    f"{'FVU':>6}"
)
for name, model in patch_models.items():
    seconds, report = fit_and_report(model, X_patches, X_patches)
    print(report_row(name, model, seconds, report))

# %%
# ``iters`` is the number of L-BFGS iterations (Adam: epochs), ``dead`` the
# number of units never active on the patches, ``L0`` the mean number of
# active units per patch (an activation above 0.5, the default threshold of
# :func:`~skl_sparse_ae.diagnostics.sparsity_report`) and ``FVU`` the
# fraction of variance unexplained. A run with the compiled kernel (see
# :ref:`compiled_kernel`) on two cores printed:
#
# .. code-block:: text
#
#     variant             iters fit (s) dead     L0    FVU
#     UFLDL (KL)            400     1.7    2   0.07  0.708
#     L1, beta=0.003        400     1.4    8   3.94  0.253
#     k-sparse (Adam)        50     3.1    2   0.54  0.408
#     masking noise 0.3     328     1.2   13   0.05  0.827
#     Gaussian noise 0.1    400     1.5    3   0.07  0.725
#     tied weights          387     1.3    0   0.09  0.683
#     ReLU+L1 0.2           400     1.6    0   2.79  0.578
#     ReLU k-sparse, k=3    400     3.1    1   6.00  0.400
#
# With ρ = 0.01 the KL models are very sparse: over all 25 units, about 7
# activations per 100 patches exceed 0.5 (L0 = 0.07), and the reconstruction
# from such codes leaves 70% of the variance of the whitened patches
# unexplained. The two dead units of the UFLDL model never fire, but they
# are weak edge detectors, not blank ones: their largest activations on the
# patches are 0.06 and 0.37, below the line of 0.5 (see :ref:`dead_units`).
# Tied weights lose none and explain a little more variance with half the
# weights.
#
# The L1 model is not sparse in the same sense: each of its 17 living units
# exceeds 0.5 on 14–29% of the patches (L0 = 3.95) and their mean activation
# is 0.43, so it reconstructs much better (FVU 0.25), while its 8 dead units
# saturated at activations below 0.02. The k-sparse model reconstructs from
# its 10 kept units (FVU 0.41); two of its units were never among the 5 kept
# in training, got no gradient, and weight decay shrank their weights to 0.
# Masking noise leaves 13 units dead: setting pixels to 0 is a gross
# corruption of patches that live around 0.5, and with ρ = 0.01 the model
# gives up on half its units. The two ReLU models lose none or one: every
# 50 iterations the units that fired on no patch are re-initialised towards
# a badly reconstructed patch (``resample_every``; without it, ReLU + L1 at
# β = 0.2 left all 25 units dead and ReLU k-sparse 16). ReLU + L1 is sparse
# (2.8 active units per patch, an activation above 0 for ReLU units) and
# reconstructs better than the UFLDL model (FVU 0.58 against 0.71); ReLU
# k-sparse reconstructs from its 6 kept units (FVU 0.40).
#
# The filters of each variant, each at full contrast: the UFLDL model,
# Gaussian noise and tied weights learn localized, oriented edges and bars,
# tied weights the crispest. The L1 filters are noisier, less localized
# blobs and gratings, and its dead units are uniform dark tiles (a negative
# weight on every pixel, which only lowers the activation). The k-sparse
# filters mix edges with higher-frequency gratings; its two dead units, with
# weights near 0 stretched to full contrast, are pure noise. Masking noise
# gives noisy, checkered filters. ReLU + L1 learns oriented edges and bars
# too, less localized than the UFLDL model's; ReLU k-sparse (k = 3)
# localized oriented edges.
fig, axes = plt.subplots(2, 4, figsize=(12, 6.4))
for ax, (name, model) in zip(axes.ravel(), patch_models.items(), strict=True):
    plot_filters(model, ax=ax, title=name)
fig.tight_layout()

# %%
# Digits
# ------
#
# The 1797 8×8 digits of :func:`~sklearn.datasets.load_digits`, scaled to
# [0, 1] by a :class:`~sklearn.preprocessing.MinMaxScaler` fitted on the
# training split (75%), 100 hidden units, ρ = 0.1, β = 3, λ = 1e-4 and 400
# iterations of L-BFGS. A logistic regression is trained on the codes of the
# training split and scored on those of the test split, where the
# diagnostics are measured too. The variants as above, with settings for
# these data: the L1 weight β = 0.003 again (β = 0.3 shut all 100 units off,
# 0.03 shut 68); k = 20 of the 100 units in training and 40 at
# ``transform``, with Adam for at most 300 epochs (the digits make only 7
# minibatches per epoch); masking noise, natural for digits, whose
# background is 0 (masking removes ink), with probability 0.3; Gaussian noise
# of standard deviation 0.2, about half the pixels' spread; ReLU + L1 at
# β = 0.01 with Adam for at most 300 epochs, and ReLU k-sparse codes with
# k = 30 (60 at ``transform``). The first row is
# the logistic regression on the scaled pixels themselves.
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)
if QUICK:
    X_train, y_train = X_train[:300], y_train[:300]
scaler = MinMaxScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
print(f"{len(X_train)} training and {len(X_test)} test digits")

digit_models = family(
    dict(n_components=100, rho=0.1, beta=3, lam=1e-4, random_state=0),
    k=20,
    transform_k=40,
    adam_epochs=DIGIT_EPOCHS,
    gaussian_level=0.2,
    relu_l1=dict(beta=0.01, solver="adam", max_iter=DIGIT_EPOCHS),
    relu_k=30,
)


def accuracy(codes_train, codes_test):
    """Test accuracy of a logistic regression trained on the codes."""
    # One BLAS thread: the problem is small (see the digits example).
    with threadpool_limits(limits=1, user_api="blas"):
        classifier = LogisticRegression(max_iter=1000)
        classifier.fit(codes_train, y_train)
        return classifier.score(codes_test, y_test)


accuracies = {"raw pixels": accuracy(X_train, X_test)}
print(
    f"{'variant':<19} {'iters':>5} {'fit (s)':>7} {'dead':>4} {'L0':>6} "
    f"{'FVU':>6} {'accuracy':>8}"
)
print(
    f"{'raw pixels':<19} {'':>5} {'':>7} {'':>4} {'':>6} {'':>6} "
    f"{accuracies['raw pixels']:>8.3f}"
)
for name, model in digit_models.items():
    seconds, report = fit_and_report(model, X_train, X_test)
    accuracies[name] = accuracy(
        model.transform(X_train), model.transform(X_test)
    )
    print(
        report_row(name, model, seconds, report) + f" {accuracies[name]:>8.3f}"
    )

# %%
# The same run printed:
#
# .. code-block:: text
#
#     variant             iters fit (s) dead     L0    FVU accuracy
#     raw pixels                                              0.969
#     UFLDL (KL)            400     1.1    0   2.98  0.079    0.978
#     L1, beta=0.003        400     1.1   14  13.39  0.038    0.971
#     k-sparse (Adam)       132     3.6   22  30.60  0.192    0.960
#     masking noise 0.3     400     1.1    6   4.26  0.197    0.973
#     Gaussian noise 0.2    400     1.1    2   2.96  0.134    0.973
#     tied weights          400     0.9    0   4.49  0.077    0.980
#     ReLU+L1 0.01 (Adam)   300     2.3    0  39.24  0.046    0.982
#     ReLU k-sparse, k=30   400     2.1    2  42.29  0.048    0.984
#
# Fit times vary with the machine. The NumPy kernel rounds differently (to
# about 1e-15), and over hundreds of L-BFGS iterations the fits drift apart
# a little: with it the UFLDL model and tied weights both scored 0.980, the
# FVUs moved by up to 0.028 (the ReLU models on the patches; ReLU + L1 kept
# 1 dead unit there, ReLU k-sparse none), L0 by up to 0.16, and the masking,
# tied and ReLU k-sparse models on the patches stopped after 330, 363 and
# 268 iterations.
#
# Of the sigmoid models, the UFLDL model and tied weights give the best
# features, about 0.98, with no dead unit and 3 to 4.5 active units per
# digit. On 450 test digits one digit is 0.002 of accuracy, so the
# 0.971–0.973 of the L1 and denoising models is 3 to 4 digits fewer, and
# within the noise of one split. The
# denoising models reconstruct the clean digits worse (FVU 0.13–0.20
# against 0.08): they were trained on corrupted inputs. The L1 model
# reconstructs best (FVU 0.038) but with dense codes (13 active units per
# digit) and 14 dead units. The k-sparse codes (sigmoid units, Adam) do
# worse than the pixels: 22 of the units were never or almost never among
# the 20 kept in training, got no gradient and decayed to zero weights (the
# paper starts with a large k and lowers it; ``warm_start=True`` with a new
# ``k`` allows that schedule). The ReLU k-sparse codes (k = 30), trained
# with L-BFGS in rounds between which dead units are resampled, keep 2
# units dead and give the best codes of all, 0.984 (k = 20: none dead,
# 0.978; k = 10: 4 dead, 0.984). ReLU + L1 at β = 0.01, trained with Adam
# (its dead units resampled every 5 epochs), has no dead unit and scores
# 0.982, with dense codes (39 active units per digit); with L-BFGS it kept
# 5 units that died in its last round (0.978), 2 at β = 0.003 (0.976).
#
# The test accuracies (the axis starts at 0.95), and the filters of the
# first 25 units of each variant: strokes and loops, clearest with tied
# weights; the dead units of the L1 model are dark blobs (negative weights
# only), those of the k-sparse model high-contrast noise (weights near 0,
# stretched to full contrast).
fig, ax = plt.subplots(figsize=(7, 3.5))
bars = ax.barh(list(accuracies), list(accuracies.values()))
ax.bar_label(bars, fmt="%.3f")
ax.invert_yaxis()
ax.set_xlim(0.95, 1.0)
ax.set_xlabel("test accuracy of LogisticRegression on the codes")
fig.tight_layout()

fig, axes = plt.subplots(2, 4, figsize=(12, 6.4))
for ax, (name, model) in zip(axes.ravel(), digit_models.items(), strict=True):
    plot_filters(model.components_[:25], ax=ax, title=name)
fig.tight_layout()
plt.show()
