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

from . import _backends, _dask
from ._array_api import chunk_mib
from ._parallel import contiguous_runs, map_in_threads, n_threads
from ._utils import VersionedPickleMixin, restore_state_on_error


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


def _moments_on_device(X, backend):
    """:func:`_moments` for an array of another Array API namespace, in it
    and on its device: the same two passes over chunks of rows (sized by
    :func:`~skl_sparse_ae._array_api.chunk_mib`), accumulated in
    ``backend.sum_dtype`` (float64 where the device has it)."""
    xp, dtype = backend.xp, backend.sum_dtype
    m, n = X.shape
    mean = xp.sum(X, axis=0, dtype=dtype) / m
    scatter = xp.zeros((n, n), dtype=dtype, device=backend.device)
    rows = get_chunk_n_rows(
        row_bytes=3 * xp.finfo(dtype).bits // 8 * n,
        max_n_rows=m,
        working_memory=chunk_mib(X, xp),
    )
    for batch in gen_batches(m, rows):
        centred = xp.astype(X[batch, ...], dtype) - mean
        scatter += centred.T @ centred
    return m, mean, scatter


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
        # The outer product, written so that it works in any namespace.
        scatter = scatter_a + scatter_b + delta[:, None] * (delta * (m_a * m_b / m))
    return m, mean, scatter


def _whiten(X, mean, whitening):
    """(X − mean) @ whitening, into new memory (for Dask blocks)."""
    return (X - mean) @ whitening


def _dewhiten(Z, mean, dewhitening):
    """Z @ dewhitening + mean."""
    X = Z @ dewhitening
    X += mean
    return X


def _in_dtype(array, dtype, backend):
    """A fitted array in the dtype of X: C-contiguous for NumPy (as before
    Array API support, so that results stay bit-for-bit the same)."""
    if backend.is_numpy:
        return np.ascontiguousarray(array, dtype=dtype)
    return backend.xp.astype(array, dtype)


def _too_large(dtype, xp):
    hint = ", or pass float64 data" if dtype == xp.float32 else ""
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
        ``working_memory``), whatever the dtype of X (in float32 on a device
        without float64).

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

    Notes
    -----
    With ``sklearn.set_config(array_api_dispatch=True)`` (and the environment
    variable ``SCIPY_ARRAY_API=1``), arrays of other Array API libraries, such
    as PyTorch tensors on a GPU, are whitened in their own namespace and on
    their device (the covariance accumulated in float64 where the device has
    it, and ``xp.linalg.eigh``), and the fitted attributes are arrays of that
    namespace and device. See :ref:`array_api` in the user guide.

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
        backend = _backends.for_input(X)
        if _dask.is_dask_array(X):
            X = _dask.validate_blocks(self, X, reset=True)
            moments = _dask.reduce_blocks(_moments, X, _merge_moments, checked=True)
        else:
            X = validate_data(self, X, dtype=backend.float_dtypes)
            moments = self._moments_of(X, backend)
        return self._whiten_from(moments, X.dtype, backend)

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
        if first:
            backend = _backends.for_input(X)
        else:  # the moments to add to are like X
            backend = self._backend_for(X, "partial_fit")
        X = validate_data(self, X, dtype=backend.float_dtypes, reset=first)
        moments = self._moments_of(X, backend)
        if not first:
            moments = _merge_moments(self._moments, moments)
        return self._whiten_from(moments, X.dtype, backend)

    @staticmethod
    def _moments_of(X, backend):
        return _moments(X) if backend.is_numpy else _moments_on_device(X, backend)

    def _whiten_from(self, moments, dtype, backend):
        """Set the fitted attributes from the moments of all rows seen."""
        xp = backend.xp
        m, mean, scatter = moments
        covariance = scatter / m
        if not (bool(xp.all(xp.isfinite(covariance))) and bool(xp.all(xp.isfinite(mean)))):
            # scipy would only say "array must not contain infs or NaNs".
            raise _too_large(dtype, xp)
        # scipy's eigh on NumPy arrays, as before Array API support.
        S, U = (linalg.eigh if backend.is_numpy else xp.linalg.eigh)(covariance)
        S, U = xp.flip(S, axis=0), xp.flip(U, axis=1)  # descending
        S = xp.clip(S, min=0.0)  # rounding can make null directions slightly negative
        root = xp.sqrt(S + self.epsilon)
        fitted = {
            "mean_": mean,
            "whitening_": (U / root) @ U.T,
            "dewhitening_": (U * root) @ U.T,
            "explained_variance_": S,
            "components_": U.T,
        }
        with np.errstate(over="ignore"):
            fitted = {name: _in_dtype(v, dtype, backend) for name, v in fitted.items()}
        if not all(bool(xp.all(xp.isfinite(v))) for v in fitted.values()):
            # Finite in float64, but the variances do not fit the dtype of X.
            raise _too_large(dtype, xp)
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
        backend = self._backend_for(X, "transform")
        X = validate_data(self, X, dtype=backend.float_dtypes, copy=self.copy, reset=False)
        if backend.is_numpy:
            X = _writable(X)
        xp = backend.xp
        X -= xp.astype(self.mean_, X.dtype, copy=False)
        return X @ xp.astype(self.whitening_, X.dtype, copy=False)

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
        backend = self._backend_for(X, "inverse_transform")
        X = validate_data(self, X, dtype=backend.float_dtypes, reset=False)
        xp = backend.xp
        return _dewhiten(
            X,
            xp.astype(self.mean_, X.dtype, copy=False),
            xp.astype(self.dewhitening_, X.dtype, copy=False),
        )

    def _backend_for(self, X, method):
        return _backends.for_fitted(self, X, attribute="mean_", method=method)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = True
        return tags
