"""How sparse a fitted autoencoder's codes are, and how well it reconstructs.

The measures the sparse-autoencoder literature reports (dead units, L0, the
fraction of variance unexplained), for a fitted
:class:`~skl_sparse_ae.SparseAutoencoder` on data. :func:`sparsity_report` is
the package's one definition of a dead unit: the demo, the examples and the
user guide count them with it.
"""

# SPDX-License-Identifier: BSD-3-Clause

from numbers import Real

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["sparsity_report"]


@validate_params(
    {
        "estimator": [object],
        "X": ["array-like"],
        "threshold": [Interval(Real, 0, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def sparsity_report(estimator, X, *, threshold=None):
    """Dead units, active units per sample (L0) and unexplained variance.

    A hidden unit is *active* on a sample when its activation (its code in
    :meth:`~skl_sparse_ae.SparseAutoencoder.transform`) exceeds
    ``threshold``, and *dead* on X when it is active on no sample of X: it
    never fires. The default is a unit's activation for an input of 0 (0.5
    for logistic units, 0 for ReLU ones), so a unit is active when its input
    wⱼ·x + bⱼ is positive: the line between off and on of a ReLU unit, and
    that of a logistic one whatever the sparsity target ρ. A small threshold
    would not do for logistic units, which are never exactly 0: a unit that
    weight decay has stripped of its weights sits at ρ whatever the input,
    above any threshold below ρ. k-sparse codes are exactly 0 outside the kept
    units, so ``threshold=0`` counts the kept units. Why this definition:
    :ref:`dead_units` in the user guide.

    Measure on many samples (the training data, or thousands of held-out
    ones): a unit that fires on few samples is counted dead on a small X.

    Parameters
    ----------
    estimator : SparseAutoencoder
        A fitted autoencoder.

    X : array-like of shape (n_samples, n_features)
        The data to measure on.

    threshold : float >= 0, default=None
        Activations above it count as active. None: the activation of an
        input of 0 (0.5 for ``activation="sigmoid"``, 0 for ``"relu"``): the
        unit's input is positive.

    Returns
    -------
    report : :class:`~sklearn.utils.Bunch`
        With the attributes:

        dead_units : ndarray of bool, shape (n_components,)
            The units never active on X: dead.
        dead_fraction : float
            Their fraction of ``n_components``.
        l0 : float
            The mean number of active units per sample.
        fraction_of_variance_unexplained : float
            Σᵢ‖xᵢ − x̂ᵢ‖² / Σᵢ‖xᵢ − x̄‖², with x̂ᵢ the reconstruction
            (:meth:`~skl_sparse_ae.SparseAutoencoder.inverse_transform` of
            the codes) and x̄ the mean of the rows of X: the squared error
            relative to that of predicting the mean. 0 is a perfect
            reconstruction. (Some libraries divide per feature, or by the
            variance of each batch; this is the total over all of X.)
        threshold : float
            The threshold used.
        n_units_resampled : int
            The dead units the fit re-initialised on its way
            (``n_units_resampled_``, see ``resample_every``; 0 for a model
            without it).

    Examples
    --------
    >>> import numpy as np
    >>> from skl_sparse_ae import SparseAutoencoder
    >>> from skl_sparse_ae.diagnostics import sparsity_report
    >>> X = np.random.RandomState(0).uniform(size=(200, 16))
    >>> model = SparseAutoencoder(8, max_iter=50, random_state=0).fit(X)
    >>> report = sparsity_report(model, X)
    >>> report.dead_units.shape
    (8,)
    >>> bool(0 < report.fraction_of_variance_unexplained < 1)
    True
    """
    check_is_fitted(estimator)
    X = check_array(X, dtype=(np.float64, np.float32))
    if threshold is None:
        threshold = 0.0 if getattr(estimator, "activation", "sigmoid") == "relu" else 0.5
    codes = np.asarray(estimator.transform(X))
    active = codes > threshold
    dead = ~active.any(axis=0)
    squared_error = -2.0 * np.sum(estimator.score_samples(X), dtype=np.float64)
    centred = X - X.mean(axis=0, dtype=np.float64)
    total = float(np.sum(centred * centred, dtype=np.float64))
    return Bunch(
        dead_units=dead,
        dead_fraction=float(dead.mean()),
        l0=float(active.sum(axis=1).mean()),
        fraction_of_variance_unexplained=squared_error / total if total else np.nan,
        threshold=threshold,
        n_units_resampled=int(getattr(estimator, "n_units_resampled_", 0)),
    )
