"""ZCA whitening (UFLDL) as a scikit-learn transformer."""

# SPDX-License-Identifier: BSD-3-Clause

import functools
import operator
from numbers import Real

import numpy as np
from scipy import linalg
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _dask
from ._parallel import contiguous_runs, map_in_threads, n_threads
from ._utils import VersionedPickleMixin, restore_state_on_error

_FLOAT_DTYPES = (np.float64, np.float32)


def _writable(X):
    """X itself when it may be centred in place, else a copy (e.g. a read-only memmap)."""
    return X if X.flags.writeable else X.copy()


# Temporaries of the covariance loop at most this large (MiB), and at most
# scikit-learn's working_memory: chunks of thousands of rows already run the
# product at full speed, and a fit on a memory map stays far below its size.
_MAX_CHUNK_MIB = 16


def _moments(X):
    """(m, mean, scatter) of the rows of X: the scatter Σ (x − mean)(x − mean)ᵀ.

    Accumulated in float64 over chunks of rows, so that float32 data lose no
    accuracy to float32 sums (at ε = 1e-5 that put the whitening matrix up to
    2e-2 off) and X is never copied whole. Two passes (mean, then centred
    products) avoid the cancellation of Σ xxᵀ − m·mean meanᵀ.
    """
    m, n = X.shape
    mean = X.mean(axis=0, dtype=np.float64)
    # Per thread, three float64 rows of temporaries: the chunk's cast, its
    # centring, and slack.
    threads = n_threads()
    working_memory = min(get_config()["working_memory"], _MAX_CHUNK_MIB) / threads
    rows = get_chunk_n_rows(row_bytes=3 * 8 * n, max_n_rows=m, working_memory=working_memory)
    batches = list(gen_batches(m, rows))
    # Contiguous runs of chunks on worker threads with one-thread BLAS (as
    # the objective does: a shared multi-threaded BLAS spun idle and took 40×
    # longer on a busy machine), added in run order so results repeat.
    runs = contiguous_runs(len(batches), threads)
    parts = map_in_threads(_scatter, [(X, batches[r.start : r.stop], mean) for r in runs])
    return m, mean, functools.reduce(operator.add, parts)


def _scatter(X, batches, mean):
    """Σ (x − mean)(x − mean)ᵀ over the rows of ``batches``, float64."""
    scatter = np.zeros((X.shape[1], X.shape[1]), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # checked by the caller
        for batch in batches:
            centred = np.subtract(X[batch], mean, dtype=np.float64)
            scatter += centred.T @ centred
    return scatter


def _merge_moments(a, b):
    """The moments of two disjoint sets of rows together (Chan, Golub and
    LeVeque's pairwise update: no sums of raw squares, so no cancellation)."""
    m_a, mean_a, scatter_a = a
    m_b, mean_b, scatter_b = b
    m = m_a + m_b
    delta = mean_b - mean_a
    with np.errstate(over="ignore", invalid="ignore"):  # checked by the caller
        mean = mean_a + delta * (m_b / m)
        scatter = scatter_a + scatter_b + np.outer(delta, delta * (m_a * m_b / m))
    return m, mean, scatter


def _whiten(X, mean, whitening):
    """(X − mean) @ whitening, into new memory (for Dask blocks)."""
    return (X - mean) @ whitening


def _dewhiten(Z, mean, dewhitening):
    """Z @ dewhitening + mean."""
    X = Z @ dewhitening
    X += mean
    return X


def _too_large(dtype):
    hint = ", or pass float64 data" if dtype == np.float32 else ""
    return ValueError(
        f"X is too large to whiten: its covariance overflows {dtype}. "
        f"Scale X down (e.g. with StandardScaler){hint}."
    )


class ZCAWhitening(VersionedPickleMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """ZCA (zero-phase component analysis) whitening.

    Decorrelates the features of X while staying as close as possible to the
    original data: the covariance Σ = Xcᵀ Xc / m of the centred data (divisor
    m, as in the UFLDL notes) is eigendecomposed, Σ = U diag(S) Uᵀ, and the
    data are mapped by the symmetric matrix ``U diag(1/√(S + epsilon)) Uᵀ``.
    Unlike PCA whitening the result stays in the input space, so whitened
    image patches still look like images (with their edges enhanced).

    Parameters
    ----------
    epsilon : float, default=1e-5
        Regulariser added to every eigenvalue before the inverse square
        root. It keeps near-zero variance directions from being blown up.
        For image patches scaled to [0, 1] use about 0.1: a low-pass effect
        that suits reconstruction models such as a linear-decoder
        :class:`SparseAutoencoder` (the UFLDL colour exercise). Use 1e-5 or
        smaller for exact decorrelation (whitened covariance ≈ identity).

    copy : bool, default=True
        If False, :meth:`transform` centres a float array in place,
        overwriting the caller's data to save one copy of it. :meth:`fit`
        never modifies X nor copies it whole: it accumulates the mean and the
        covariance in float64 over chunks of rows (sized by scikit-learn's
        ``working_memory``), whatever the dtype of X.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data.

    whitening_ : ndarray of shape (n_features, n_features)
        Symmetric whitening matrix ``U diag(1/√(S + epsilon)) Uᵀ``;
        ``transform(X) = (X - mean_) @ whitening_``.

    dewhitening_ : ndarray of shape (n_features, n_features)
        Its inverse ``U diag(√(S + epsilon)) Uᵀ``;
        ``inverse_transform(Z) = Z @ dewhitening_ + mean_``.

    explained_variance_ : ndarray of shape (n_features,)
        Eigenvalues S of the covariance, in descending order.

    components_ : ndarray of shape (n_features, n_features)
        Eigenvectors of the covariance as rows (Uᵀ), in the order of
        ``explained_variance_``.

    n_samples_seen_ : int
        Number of rows the mean and covariance were computed from: those of
        :meth:`fit`, or of all :meth:`partial_fit` calls since.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.decomposition.PCA : PCA, with ``whiten=True`` for PCA whitening.
    SparseAutoencoder : A feature learner often fitted on whitened data.

    References
    ----------
    UFLDL Tutorial, "Whitening",
    http://ufldl.stanford.edu/wiki/index.php/Whitening

    Examples
    --------
    >>> import numpy as np
    >>> from skl_sparse_ae import ZCAWhitening
    >>> X = np.random.RandomState(0).normal(size=(500, 3)) @ [[2, 1, 0], [0, 1, 0], [0, 0, 3]]
    >>> zca = ZCAWhitening().fit(X)
    >>> Z = zca.transform(X)
    >>> np.allclose(Z.T @ Z / len(Z), np.eye(3), atol=1e-4)
    True
    >>> np.allclose(zca.inverse_transform(Z), X)
    True
    """

    _parameter_constraints: dict = {
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "copy": ["boolean"],
    }

    def __init__(self, epsilon=1e-5, *, copy=True):
        self.epsilon = epsilon
        self.copy = copy

    @_fit_context(prefer_skip_nested_validation=True)
    @restore_state_on_error
    def fit(self, X, y=None):
        """Compute the mean, the covariance eigenbasis and the whitening matrix.

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_features)
            Training data. A Dask array is reduced block by block on its
            workers (the client only adds the per-block moments).

        y : None
            Ignored. Present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted estimator.

        Raises
        ------
        ValueError
            If X is not a finite 2-D array of numbers, or if its values are so
            large that the covariance overflows the dtype of X. The estimator
            is then left exactly as it was before the call.
        """
        if _dask.is_dask_array(X):
            X = _dask.validate_blocks(self, X, reset=True)
            moments = _dask.reduce_blocks(_moments, X, _merge_moments, checked=True)
        else:
            X = validate_data(self, X, dtype=_FLOAT_DTYPES)
            moments = _moments(X)
        return self._whiten_from(moments, X.dtype)

    @_fit_context(prefer_skip_nested_validation=True)
    @restore_state_on_error
    def partial_fit(self, X, y=None):
        """Update the mean and covariance with a batch of rows, then refit.

        Streams data too large for memory: after ``partial_fit`` on each part
        of a data set the estimator is the one :meth:`fit` gives on all of it
        (to rounding: the moments of the parts are merged exactly, in
        float64). :meth:`fit` starts afresh.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training rows.

        y : None
            Ignored. Present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        first = not hasattr(self, "n_samples_seen_")
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=first)
        moments = _moments(X)
        if not first:
            moments = _merge_moments(self._moments, moments)
        return self._whiten_from(moments, X.dtype)

    def _whiten_from(self, moments, dtype):
        """Set the fitted attributes from the moments of all rows seen."""
        m, mean, scatter = moments
        covariance = scatter / m
        if not (np.isfinite(covariance).all() and np.isfinite(mean).all()):
            # scipy would only say "array must not contain infs or NaNs".
            raise _too_large(dtype)
        S, U = linalg.eigh(covariance)
        S, U = S[::-1], U[:, ::-1]
        S = np.maximum(S, 0.0)  # rounding can make null directions slightly negative
        root = np.sqrt(S + self.epsilon)
        fitted = {
            "mean_": mean,
            "whitening_": (U / root) @ U.T,
            "dewhitening_": (U * root) @ U.T,
            "explained_variance_": S,
            "components_": U.T,
        }
        with np.errstate(over="ignore"):
            fitted = {name: np.ascontiguousarray(v, dtype=dtype) for name, v in fitted.items()}
        if not all(np.isfinite(v).all() for v in fitted.values()):
            # Finite in float64, but the variances do not fit the dtype of X.
            raise _too_large(dtype)
        vars(self).update(fitted)
        self.n_samples_seen_ = m
        self._moments = moments  # float64, for partial_fit
        return self

    def transform(self, X):
        """Whiten X: ``(X - mean_) @ whitening_``.

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_features)
            Data to whiten. A Dask array gives a lazy Dask array.

        Returns
        -------
        X_new : {ndarray, dask array} of shape (n_samples, n_features)
            Whitened data.
        """
        check_is_fitted(self)
        if _dask.is_dask_array(X):
            X = _dask.validate_blocks(self, X, reset=False)
            whiten = functools.partial(_whiten, mean=self.mean_, whitening=self.whitening_)
            return _dask.map_rows(whiten, X, X.shape[1])
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, copy=self.copy, reset=False)
        X = _writable(X)
        X -= self.mean_.astype(X.dtype, copy=False)
        return X @ self.whitening_.astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Undo the whitening: ``X @ dewhitening_ + mean_``.

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_features)
            Whitened data. A Dask array gives a lazy Dask array.

        Returns
        -------
        X_original : {ndarray, dask array} of shape (n_samples, n_features)
            Data in the original space.
        """
        check_is_fitted(self)
        if _dask.is_dask_array(X):
            X = _dask.validate_blocks(self, X, reset=False)
            dewhiten = functools.partial(_dewhiten, mean=self.mean_, dewhitening=self.dewhitening_)
            return _dask.map_rows(dewhiten, X, X.shape[1])
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        return _dewhiten(
            X,
            self.mean_.astype(X.dtype, copy=False),
            self.dewhitening_.astype(X.dtype, copy=False),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
