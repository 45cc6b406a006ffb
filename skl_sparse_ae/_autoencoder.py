"""Sparse autoencoder (UFLDL / CS294A) as a scikit-learn transformer."""

# SPDX-License-Identifier: BSD-3-Clause

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _objective, _solvers

_FLOAT_DTYPES = (np.float64, np.float32)


class SparseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Sparse autoencoder with a KL sparsity penalty (UFLDL / CS294A).

    A one-hidden-layer autoencoder that learns ``n_components`` sigmoid
    features by minimising the reconstruction error of ``X`` plus weight decay
    and a penalty that keeps the mean activation of each hidden unit near a
    small target ``rho``. With rows of ``X`` as samples::

        A2 = f(X W1ᵀ + b1)                      (transform)
        X̂  = g(A2 W2ᵀ + b2)                     (inverse_transform of A2)
        J  = 1/(2m) Σ‖X̂ − X‖² + lam/2 (‖W1‖² + ‖W2‖²) + beta Σⱼ KL(rho ‖ ρ̂ⱼ)

    where ``f`` is the logistic sigmoid, ``g`` the sigmoid or the identity
    (``decoder_activation``), ``m`` the number of samples and ``ρ̂`` the mean
    hidden activation over the training data. This is exactly the objective of
    the UFLDL sparse autoencoder notes: the reconstruction term sums over
    features and averages over samples, the biases are not decayed and ``lam``
    is not divided by ``m``.

    Parameters
    ----------
    n_components : int, default=100
        Number of hidden units (h, ``hiddenSize`` in the UFLDL code).

    rho : float, default=0.05
        Sparsity target ρ: the desired mean activation of each hidden unit,
        in (0, 1). Called ``sparsityParam`` in the UFLDL code.

    beta : float, default=3.0
        Weight β of the KL sparsity penalty. ``beta=0`` turns sparsity off.

    lam : float, default=1e-4
        Weight decay λ on both weight matrices (biases are not decayed).
        Named ``lam`` because ``lambda`` is a Python keyword.

    decoder_activation : {"logistic", "identity"}, default="logistic"
        Output nonlinearity g. ``"logistic"`` needs data in [0, 1] (UFLDL
        sparse autoencoder); ``"identity"`` is the linear decoder for real
        valued data such as ZCA-whitened patches.

    solver : {"lbfgs"}, default="lbfgs"
        Optimiser. ``"lbfgs"`` is full-batch L-BFGS-B from
        :func:`scipy.optimize.minimize`, as in the UFLDL exercise.

    max_iter : int, default=400
        Maximum number of L-BFGS iterations.

    tol : float, default=1e-4
        Relative tolerance on the loss: training stops when J has decreased
        by less than ``tol`` times its value over the last
        ``n_iter_no_change`` iterations (L-BFGS also stops when J stops
        decreasing to machine precision).

    n_iter_no_change : int, default=10
        Number of iterations over which the decrease of J is measured for
        ``tol``.

    warm_start : bool, default=False
        When True, reuse the weights of the previous call to fit as the
        starting point instead of a fresh random initialisation.

    random_state : int, RandomState instance or None, default=None
        Determines the random weight initialisation. Pass an int for
        reproducible results across multiple function calls.
        See :term:`Glossary <random_state>`.

    verbose : int, default=0
        When positive, print the loss after every iteration.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Encoder weights W1. Each row is the filter of one hidden unit: the
        images usually plotted to see what the autoencoder learned.

    intercept_hidden_ : ndarray of shape (n_components,)
        Hidden biases b1.

    decoder_components_ : ndarray of shape (n_components, n_features)
        Decoder weights W2ᵀ: row j is what hidden unit j adds to the
        reconstruction.

    intercept_visible_ : ndarray of shape (n_features,)
        Visible (output) biases b2.

    loss_ : float
        The objective J at the fitted weights.

    loss_curve_ : list of float
        J after each iteration of the last call to fit.

    n_iter_ : int
        Number of iterations run by the last call to fit.

    mean_activation_ : ndarray of shape (n_components,)
        Mean activation ρ̂ of each hidden unit on the training data at the
        fitted weights; compare it with ``rho``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    ZCAWhitening : Whitening to apply before a linear-decoder autoencoder.
    sklearn.neural_network.BernoulliRBM : Another unsupervised feature learner.
    sklearn.decomposition.PCA : Linear dimensionality reduction.

    Notes
    -----
    The computation runs in the dtype of ``X``: float32 input gives float32
    weights and outputs, at about twice the speed of float64.

    References
    ----------
    A. Ng, "Sparse autoencoder", CS294A lecture notes, Stanford University.
    UFLDL Tutorial, "Autoencoders and Sparsity",
    http://ufldl.stanford.edu/wiki/index.php/Autoencoders_and_Sparsity

    Examples
    --------
    >>> import numpy as np
    >>> from skl_sparse_ae import SparseAutoencoder
    >>> X = np.random.RandomState(0).uniform(size=(100, 16))
    >>> ae = SparseAutoencoder(n_components=4, max_iter=50, random_state=0)
    >>> codes = ae.fit_transform(X)
    >>> codes.shape
    (100, 4)
    >>> ae.inverse_transform(codes).shape
    (100, 16)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="neither")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "lam": [Interval(Real, 0, None, closed="left")],
        "decoder_activation": [StrOptions({"logistic", "identity"})],
        "solver": [StrOptions({"lbfgs"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=100,
        *,
        rho=0.05,
        beta=3.0,
        lam=1e-4,
        decoder_activation="logistic",
        solver="lbfgs",
        max_iter=400,
        tol=1e-4,
        n_iter_no_change=10,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.rho = rho
        self.beta = beta
        self.lam = lam
        self.decoder_activation = decoder_activation
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the encoder and decoder weights from X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. With ``decoder_activation="logistic"`` it should
            lie in [0, 1].

        y : None
            Ignored. Present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, order="C")
        params0 = self._initial_params(X)
        result = _solvers.lbfgs(
            X,
            params0,
            rho=self.rho,
            beta=self.beta,
            lam=self.lam,
            decoder=self.decoder_activation,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            name=type(self).__name__,
        )
        self._store(result, X)
        if result.hit_max_iter:
            warnings.warn(
                f"{type(self).__name__} stopped after max_iter={self.max_iter} "
                "iterations before J stopped decreasing; increase max_iter (or tol).",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _initial_params(self, X):
        """Previous weights under ``warm_start``, else the UFLDL random init."""
        n_features = X.shape[1]
        if self.warm_start and hasattr(self, "components_"):
            if self.components_.shape == (self.n_components, n_features):
                return self._params(X.dtype)
        rng = check_random_state(self.random_state)
        return _objective.initial_params(n_features, self.n_components, rng, X.dtype)

    def _params(self, dtype):
        """The fitted weights as :class:`_objective.Params` of ``dtype``."""
        return _objective.Params(
            W1=self.components_.astype(dtype, copy=False),
            W2T=self.decoder_components_.astype(dtype, copy=False),
            b1=self.intercept_hidden_.astype(dtype, copy=False),
            b2=self.intercept_visible_.astype(dtype, copy=False),
        )

    def _store(self, result, X):
        """Keep the solver's weights and the statistics derived from them."""
        params = result.params
        self.components_ = params.W1
        self.decoder_components_ = params.W2T
        self.intercept_hidden_ = params.b1
        self.intercept_visible_ = params.b2
        self.loss_ = result.loss
        self.loss_curve_ = result.loss_curve
        self.n_iter_ = result.n_iter
        self.mean_activation_ = _objective.mean_activation(X, params).astype(X.dtype)

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.components_.shape[0]

    def transform(self, X):
        """Encode X as hidden activations A2 = f(X W1ᵀ + b1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Hidden activations, in (0, 1).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        params = self._params(X.dtype)
        return _objective.hidden_activations(X, params.W1, params.b1)

    def inverse_transform(self, X):
        """Decode hidden activations into the input space, X̂ = g(A2 W2ᵀ + b2).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Hidden activations (codes), e.g. the output of :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Reconstruction in the input space.
        """
        check_is_fitted(self)
        codes = check_array(X, dtype=_FLOAT_DTYPES)
        if codes.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {codes.shape[1]} features, but {type(self).__name__}."
                f"inverse_transform is expecting {self._n_features_out} "
                "features (one per hidden unit) as input."
            )
        params = self._params(codes.dtype)
        return _objective.reconstruct(codes, params.W2T, params.b2, self.decoder_activation)

    def score_samples(self, X):
        """Negative half squared reconstruction error of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to reconstruct.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            −½‖X̂ − X‖² per row: higher is better.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        errors = _objective.squared_error_rows(X, self._params(X.dtype), self.decoder_activation)
        return np.negative(errors, out=errors)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`: −½ mean squared reconstruction error.

        Higher is better, so an unsupervised
        :class:`~sklearn.model_selection.GridSearchCV` can use it directly.
        It is the reconstruction term of J, without the penalties.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to reconstruct.

        y : None
            Ignored. Present for API consistency by convention.

        Returns
        -------
        score : float
            Mean of −½‖X̂ − X‖² over the rows of X.
        """
        return float(np.mean(self.score_samples(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
