"""Sparse autoencoder (UFLDL / CS294A) as a scikit-learn transformer."""

# SPDX-License-Identifier: BSD-3-Clause

import warnings
from functools import partial
from numbers import Integral, Real

from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _backends, _dask, _objective, _solvers, _training_data
from ._utils import VersionedPickleMixin, restore_state_on_error


class SparseAutoencoder(
    VersionedPickleMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Sparse autoencoder with a KL sparsity penalty (UFLDL / CS294A).

    A one-hidden-layer autoencoder that learns ``n_components`` sigmoid
    features by minimising the reconstruction error of ``X`` plus weight decay
    and a penalty that keeps the mean activation of each hidden unit near a
    small target ``rho``. With rows of ``X`` as samples::

        A2 = f(X W1ᵀ + b1)                      (transform)
        X̂  = g(A2 W2ᵀ + b2)                     (inverse_transform of A2)
        J  = 1/(2m) Σ‖X̂ − X‖² + lam/2 (‖W1‖² + ‖W2‖²) + beta Σⱼ KL(rho ‖ ρ̂ⱼ)

    where ``f`` is the logistic sigmoid (or the ReLU, ``activation``), ``g``
    the sigmoid or the identity (``decoder_activation``), ``m`` the number of
    samples and ``ρ̂`` the mean hidden activation over the training data.
    This is exactly the objective of
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

    activation : {"sigmoid", "relu"}, default="sigmoid"
        The hidden units' nonlinearity f. ``"sigmoid"`` is UFLDL's logistic
        function; ``"relu"`` is max(z, 0), the codes of today's sparse
        autoencoders, with the L1 penalty (``sparsity_penalty="l1"``),
        k-sparse codes (``k``) or no sparsity term (``beta=0``): the KL
        penalty compares each unit's mean activation with ``rho`` as
        Bernoulli means, which a ReLU's are not, and raises a
        :class:`ValueError` with it.

    decoder_activation : {"logistic", "identity"}, default="logistic"
        Output nonlinearity g. ``"logistic"`` needs data in [0, 1] (UFLDL
        sparse autoencoder); ``"identity"`` is the linear decoder for real
        valued data such as ZCA-whitened patches.

    sparsity_penalty : {"kl", "l1"}, default="kl"
        The sparsity term of J. ``"kl"`` is UFLDL's, β Σⱼ KL(ρ ‖ ρ̂ⱼ);
        ``"l1"`` is β Σⱼ ρ̂ⱼ, i.e. β/m times the sum of all the hidden
        activations (they are positive, so this is their L1 norm), which
        pushes every activation towards 0 rather than each unit's mean
        towards ``rho`` (``rho`` is then unused). With sigmoid units it needs
        a much smaller ``beta`` than the KL term: a unit pushed to 0
        saturates, its gradient vanishes and it stays dead (see
        :doc:`/family`).

    k : int, default=None
        k-sparse autoencoder (Makhzani & Frey, 2013): in each sample only the
        ``k`` largest hidden activations are kept and the others set to 0,
        in training (the gradient flows through the kept units only) and in
        :meth:`transform`. ``None``, or a ``k`` of at least ``n_components``,
        keeps all. The selection makes J
        piecewise smooth: ``"adam"`` is the better solver for it; L-BFGS
        works but its line search may stop it early where the kept units
        change. The sparsity penalty applies to the kept activations
        (``beta=0`` is the paper's setting).

    transform_k : int, default=None
        The number of activations :meth:`transform` keeps, when ``k`` is set;
        ``None`` is ``k``. The paper encodes with a few times ``k`` (αk).
        :meth:`score_samples` reconstructs from these codes too.

    corruption : {"masking", "gaussian"}, default=None
        Denoising autoencoder (Vincent et al., 2008): the encoder sees a
        corrupted copy of X and the decoder must reconstruct the clean X.
        ``"masking"`` sets each entry to 0 with probability
        ``corruption_level``; ``"gaussian"`` adds noise of standard deviation
        ``corruption_level``. With ``"lbfgs"`` the noise is drawn once per fit
        from ``random_state`` (one corrupted copy of X is held in memory), so
        that L-BFGS minimises a fixed, deterministic J; with ``"adam"`` it is
        drawn afresh for every batch. :meth:`transform` encodes the clean
        input. ``None``: no corruption.

    corruption_level : float, default=0.25
        The masking probability (in [0, 1)) or the Gaussian standard deviation
        of ``corruption``; unused without it.

    tied_weights : bool, default=False
        Whether the decoder's weights are the encoder's, W2ᵀ = W1 (half the
        weights; ``decoder_components_`` then equals ``components_``).

    resample_every : int, "auto" or None, default="auto"
        Dead-unit resampling of ReLU codes: every ``resample_every``
        iterations (epochs for ``"adam"``), the hidden units that fired on no
        training row since the last check are re-initialised towards a row
        the model reconstructs
        badly (Bricken et al., 2023), drawn from ``random_state``; with
        ``"lbfgs"`` the fit then runs in rounds of that many iterations,
        L-BFGS starting afresh after each resampling. ``"auto"`` is 50
        iterations (5 epochs) for ReLU codes, whose dead units have no
        gradient to come back by, and off for sigmoid units (UFLDL's model,
        unchanged; an integer raises a :class:`ValueError` with them: a
        logistic unit is never exactly 0); ``None`` turns it off.
        ``n_units_resampled_`` counts the units resampled. See
        :doc:`/family`.

    solver : {"lbfgs", "adam"}, default="lbfgs"
        Optimiser. ``"lbfgs"`` is full-batch L-BFGS-B, scipy's (that of
        :func:`scipy.optimize.minimize`), as in the UFLDL exercise: the best
        optimum for data that fit in memory (or in a memory map).
        ``"adam"`` is minibatch Adam, for large data and streams; it enables
        :meth:`partial_fit`.

    max_iter : int, default=400
        Maximum number of L-BFGS iterations, or of epochs (passes over the
        data) for ``"adam"``.

    tol : float, default=1e-4
        Relative tolerance on the loss: L-BFGS stops when J has decreased by
        less than ``tol`` times its value over the last ``n_iter_no_change``
        iterations (scipy's own tests may stop it first: see
        ``stop_reason_``). Adam reads the mean minibatch loss of each epoch
        (``batch_loss_curve_``), which is noisy: it compares the mean loss of
        the last ``n_iter_no_change`` epochs with that of the
        ``n_iter_no_change`` epochs before them; even ``tol=0`` stops it once
        J falls by less than that noise. Such a stall first divides the step
        (see ``learning_rate``). Set ``n_iter_no_change=max_iter`` to run
        exactly ``max_iter`` epochs.

    n_iter_no_change : int, default=10
        Number of iterations over which the decrease of J is measured for
        ``tol``; for ``"adam"``, the number of epochs in each of the two
        windows whose mean losses are compared.

    batch_size : int or "auto", default="auto"
        Minibatch size for ``"adam"``; ``"auto"`` is ``min(200, n_samples)``.
        Ignored by ``"lbfgs"``.

    learning_rate : {"adaptive", "constant"}, default="adaptive"
        The step schedule of ``"adam"``. ``"constant"`` keeps the step at
        ``learning_rate_init`` and stops training the first time the mean
        minibatch loss stalls (see ``tol``). ``"adaptive"`` divides the step
        by 10 at each of the first two stalls instead, the epochs after a
        division compared among themselves, and stops at the third: a
        constant step holds J a few per cent above its minimum by its noise
        (up to 6.2% above L-BFGS's on 54 sets of image patches, within 4.1%
        with the divided steps; see :ref:`adam`). As scikit-learn's
        ``"adaptive"`` for :class:`~sklearn.neural_network.MLPClassifier`,
        with another factor and end. Ignored by ``"lbfgs"``.

    learning_rate_init : float, default=1e-2
        The first step of ``"adam"`` (the only one with
        ``learning_rate="constant"``). Ignored by ``"lbfgs"``. On the UFLDL
        image patches (batches of 200) 1e-2 came within 2% of L-BFGS's J in
        60 epochs, where 1e-3 was still 7% above it.

    shuffle : bool, default=True
        Whether ``"adam"`` shuffles the samples in each epoch.

    activation_decay : float, default=0.99
        For ``"adam"`` only. The KL penalty needs ρ̂, the mean activation over
        *all* the data, which a minibatch does not have. The penalty and its
        gradient use instead a running estimate that remembers about
        ``1 / (1 − activation_decay)`` batches::

            estimate ← ρ̂(batch, W) + activation_decay·(estimate − ρ̂(batch, W_before))

        where ``W_before`` are the weights before the last step: the old
        estimate is carried to the current weights by the change of this
        batch's own mean, so it does not lag behind training as a plain moving
        average does (the STORM estimator, Cutkosky & Orabona 2019). ``0`` uses
        each batch's own mean, which is noisy when ``rho`` is small. The
        estimate costs one more pass of the encoder over each batch. See
        :ref:`adam`.

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
        The objective J at the fitted weights on the training data (for
        :meth:`partial_fit`, on the data of the last call), computed exactly
        whatever the solver. With ``corruption``, J of reconstructing the
        data from a corrupted copy: the copy L-BFGS minimised on, or for
        ``"adam"`` a fresh draw.

    loss_curve_ : list of float
        J on the training data after each L-BFGS iteration, or after each
        ``"adam"`` epoch, of the last call to fit: the objective of
        ``loss_`` for both solvers (``loss_`` is its last entry). For
        ``"adam"`` it costs one evaluation of J over X per epoch besides the
        training, and it is continued across :meth:`partial_fit` calls (each
        entry then J on the data of that call) and warm starts. With
        ``corruption``, each entry is J with a fresh draw of the noise.

    batch_loss_curve_ : list of float
        For ``"adam"`` only: the mean minibatch loss of each epoch, what the
        optimiser saw and what ``tol`` reads. It is not J: each minibatch
        loss has the running estimate of ρ̂ in its KL term and the epoch's
        mean is taken while the weights move, so it can be far from J while
        units die or revive (see :ref:`loss_curves`). Continued like
        ``loss_curve_``.

    n_units_resampled_ : int
        Hidden units re-initialised by dead-unit resampling during the last
        call to :meth:`fit` or :meth:`partial_fit` (``resample_every``).

    stop_reason_ : str
        Why the last call to fit or :meth:`partial_fit` stopped:

        - ``"max_iter"``: it ran ``max_iter`` iterations (epochs);
        - ``"tol"``: J (for ``"adam"`` the mean minibatch loss) decreased by
          less than ``tol`` over ``n_iter_no_change`` iterations (epochs),
          for ``"adam"`` after the divisions of its step (``learning_rate``);
        - ``"converged"``: scipy's own test, J down by less than about
          2.2e-9 × max(``|J|``, 1) in one L-BFGS iteration (or a zero gradient);
        - ``"line_search"``: L-BFGS-B's line search found no lower J;
        - ``"max_fun"``: L-BFGS-B spent its ``max(15000, 2 * max_iter)``
          evaluations of J;
        - ``"partial_fit"``: the one pass of :meth:`partial_fit`.

        fit warns with a :class:`~sklearn.exceptions.ConvergenceWarning` on
        every reason but ``"tol"`` (see :ref:`stop_reasons`).

    solver_message_ : str
        How the solver put it: scipy's L-BFGS-B message (as
        :func:`scipy.optimize.minimize` gives it) for ``"lbfgs"``, a sentence
        of ours for ``"adam"``.

    n_iter_ : int
        Number of iterations (``"adam"``: epochs) run by the last call to
        fit; :meth:`partial_fit` adds one per call.

    mean_activation_ : ndarray of shape (n_components,)
        Mean activation ρ̂ of each hidden unit on the training data at the
        fitted weights (the encoder's input of J: k-sparse codes, corrupted
        data); compare it with ``rho``.

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

    With ``sklearn.set_config(array_api_dispatch=True)`` (and the environment
    variable ``SCIPY_ARRAY_API=1``), arrays of other Array API libraries, such
    as PyTorch tensors on a GPU, are trained on and encoded in their own
    namespace and on their device, and the fitted attributes are arrays of
    that namespace and device. L-BFGS keeps its parameter vector on the host
    and moves the weights and the gradient once per evaluation; Adam runs
    entirely on the device. See :ref:`array_api` in the user guide.

    References
    ----------
    A. Ng, "Sparse autoencoder", CS294A lecture notes, Stanford University.
    UFLDL Tutorial, "Autoencoders and Sparsity",
    http://ufldl.stanford.edu/wiki/index.php/Autoencoders_and_Sparsity

    A. Makhzani and B. Frey, "k-Sparse Autoencoders", arXiv:1312.5663, 2013.

    P. Vincent, H. Larochelle, Y. Bengio and P.-A. Manzagol, "Extracting and
    composing robust features with denoising autoencoders", ICML 2008.

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
        "activation": [StrOptions({"sigmoid", "relu"})],
        "decoder_activation": [StrOptions({"logistic", "identity"})],
        "sparsity_penalty": [StrOptions({"kl", "l1"})],
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "transform_k": [Interval(Integral, 1, None, closed="left"), None],
        "corruption": [StrOptions({"masking", "gaussian"}), None],
        "corruption_level": [Interval(Real, 0, None, closed="left")],
        "tied_weights": ["boolean"],
        "resample_every": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
        "solver": [StrOptions({"lbfgs", "adam"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
        "activation_decay": [Interval(Real, 0, 1, closed="left")],
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
        activation="sigmoid",
        decoder_activation="logistic",
        sparsity_penalty="kl",
        k=None,
        transform_k=None,
        corruption=None,
        corruption_level=0.25,
        tied_weights=False,
        resample_every="auto",
        solver="lbfgs",
        max_iter=400,
        tol=1e-4,
        n_iter_no_change=10,
        batch_size="auto",
        learning_rate="adaptive",
        learning_rate_init=1e-2,
        shuffle=True,
        activation_decay=0.99,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.rho = rho
        self.beta = beta
        self.lam = lam
        self.activation = activation
        self.decoder_activation = decoder_activation
        self.sparsity_penalty = sparsity_penalty
        self.k = k
        self.transform_k = transform_k
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.tied_weights = tied_weights
        self.resample_every = resample_every
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.activation_decay = activation_decay
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    @restore_state_on_error
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

        Raises
        ------
        ValueError
            If X is not a finite 2-D array of numbers, or if training diverges
            (the weights or the loss stop being finite). The estimator is then
            left exactly as it was before the call.
        """
        X, backend = _training_data.validate(self, X, reset=True)
        variant = _training_data.variant(self, X)
        rng = check_random_state(self.random_state)
        continuing = self.warm_start and self._has_weights_for(X)
        if continuing:
            self._backend_for(X, "fit")  # the weights to continue from are like X
            params0 = self._params(X.dtype, backend)
        else:
            params0 = self._random_params(X, rng, backend)
        X_input = None
        if self.solver == "lbfgs":
            if self.corruption:  # one draw of the noise for the whole fit: a deterministic J
                X_input = self._corrupt(X, rng)
            result = _solvers.fit_lbfgs(
                self, X, params0, backend=backend, variant=variant, X_input=X_input, rng=rng
            )
            # An Adam state from an earlier fit no longer matches these weights.
            vars(self).pop("_adam_state", None)
        else:
            if not (continuing and hasattr(self, "_adam_state")):
                self._start_adam(params0, backend, variant)
            self._shuffle_rng = rng
            result = self._run_adam(X, backend, variant, max_epochs=self.max_iter)
        self._store(result, X, backend, variant, X_input)
        message = _solvers.stop_warning(self, result)
        if message:
            # fit ← restore_state_on_error ← _fit_context ← the caller
            warnings.warn(message, ConvergenceWarning, stacklevel=4)
        return self

    def _check_solver(self):
        if self.solver == "lbfgs":
            raise AttributeError(
                "partial_fit is only available for minibatch solvers (solver='adam'), "
                f"not for solver={self.solver!r}."
            )
        return True

    @available_if(_check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    @restore_state_on_error
    def partial_fit(self, X, y=None):
        """Update the weights with one pass of minibatch Adam over X.

        The first call initialises the weights (or starts from those of an
        earlier :meth:`fit`, e.g. with L-BFGS); later calls continue with the
        optimiser state (moments, step count, running estimate of ρ̂) of the
        previous ones, so a model can be trained on a stream of chunks that
        never fit in memory together.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.

        y : None
            Ignored. Present for API consistency by convention.

        Returns
        -------
        self : object
            The updated estimator.

        Raises
        ------
        ValueError
            If X is not a finite 2-D array of numbers with the number of
            features of the previous calls, if ``n_components`` has changed
            since the model was last trained, or if training diverges. The
            estimator is then left exactly as it was before the call.
        """
        fitted = hasattr(self, "components_")
        if fitted and self.components_.shape[0] != self.n_components:
            raise ValueError(
                f"n_components changed from {self.components_.shape[0]} to "
                f"{self.n_components} since the model was last trained; call fit to "
                "train a model of the new size from scratch."
            )
        if fitted:
            self._backend_for(X, "partial_fit")  # the weights to continue from are like X
        X, backend = _training_data.validate(self, X, reset=not fitted)
        variant = _training_data.variant(self, X)
        if not hasattr(self, "_adam_state"):
            self._shuffle_rng = check_random_state(self.random_state)
            if fitted:  # by an earlier fit with another solver: go on from there
                params0 = self._params(X.dtype, backend)
            else:
                params0 = self._random_params(X, self._shuffle_rng, backend)
            self._start_adam(params0, backend, variant)
            self.n_iter_ = 0
        n_iter = self.n_iter_ + 1
        # A stream has no end to settle at: its steps keep their size (that
        # of the state), where the adaptive schedule of fit divides them.
        result = self._run_adam(
            X, backend, variant, max_epochs=1, schedule="constant", streaming=True
        )
        result.n_iter = n_iter
        result.stop_reason, result.message = "partial_fit", "One pass over the data (partial_fit)."
        self._store(result, X, backend, variant)
        return self

    def _start_adam(self, params0, backend, variant):
        """A fresh Adam state at ``params0``, and empty loss curves."""
        self._adam_state = _solvers.AdamState.start(params0, backend, variant).to_dict()
        self.loss_curve_, self.batch_loss_curve_ = [], []

    def _run_adam(self, X, backend, variant, max_epochs, schedule=None, streaming=False):
        rng = self._shuffle_rng
        corrupt = corrupt_for_loss = None
        if self.corruption:
            corrupt = partial(self._corrupt, rng=rng)
            # The J of the epochs but the last: noise that leaves the training path alone.
            corrupt_for_loss = partial(self._corrupt, rng=_training_data.generator_apart(rng))
        # The solver updates the state and the loss curves in place: it works on
        # copies so that a call that fails leaves the previous ones intact.
        state = _solvers.AdamState.from_dict(self._adam_state)
        result = _solvers.run_adam(
            self,
            X,
            state,
            max_epochs=max_epochs,
            random_state=rng,
            backend=backend,
            variant=variant,
            schedule=schedule,
            streaming=streaming,
            loss_curve=list(self.loss_curve_),
            batch_loss_curve=list(getattr(self, "batch_loss_curve_", [])),
            corrupt=corrupt,
            corrupt_for_loss=corrupt_for_loss,
        )
        self._adam_state = state.to_dict()
        return result

    def _corrupt(self, X, rng):
        """A corrupted copy of X drawn from ``rng``: the encoder's input of a
        denoising autoencoder."""
        return _training_data.corrupt(
            X, corruption=self.corruption, level=self.corruption_level, rng=rng
        )

    def _codes_options(self):
        """Keyword arguments of the backend's encoder for this model's codes:
        ``k`` for k-sparse ones, ``activation`` for ReLU units."""
        k = self._transform_k()
        options = {} if k is None else {"k": k}
        if self.activation != "sigmoid":
            options["activation"] = self.activation
        return options

    def _transform_k(self):
        """The activations transform keeps (None: all)."""
        return self.k if self.transform_k is None else self.transform_k

    def _has_weights_for(self, X):
        return hasattr(self, "components_") and self.components_.shape == (
            self.n_components,
            X.shape[1],
        )

    def _random_params(self, X, rng, backend):
        """The UFLDL random initialisation, drawn on the host (the same
        weights in every namespace), in the dtype of X."""
        params = _objective.initial_params(
            X.shape[1], self.n_components, rng, backend.numpy_dtype(X)
        )
        return backend.params_from_host(params)

    def _params(self, dtype, backend=_backends.NUMPY):
        """The fitted weights as :class:`_objective.Params` of ``dtype``
        (arrays of ``backend``, where the fitted attributes are)."""
        xp = backend.xp
        return _objective.Params(
            W1=xp.astype(self.components_, dtype, copy=False),
            W2T=xp.astype(self.decoder_components_, dtype, copy=False),
            b1=xp.astype(self.intercept_hidden_, dtype, copy=False),
            b2=xp.astype(self.intercept_visible_, dtype, copy=False),
        )

    def _store(self, result, X, backend, variant, X_input=None):
        """Keep the solver's weights, with J and ρ̂ computed exactly on X
        (``X_input``: the encoder's input L-BFGS minimised J on).

        Raises rather than store weights that are not finite.
        """
        params, loss, rho_hat = _solvers.finished(
            self, result, X, backend=backend, variant=variant, X_input=X_input
        )
        self.components_ = params.W1
        W2T = params.W2T
        if self.tied_weights:  # equal to components_, but an array of its own
            W2T = backend.xp.asarray(W2T, copy=True)
        self.decoder_components_ = W2T
        self.intercept_hidden_ = params.b1
        self.intercept_visible_ = params.b2
        self.loss_ = loss
        self.loss_curve_ = result.loss_curve
        if result.batch_loss_curve is None:
            vars(self).pop("batch_loss_curve_", None)  # of an earlier Adam fit
        else:
            self.batch_loss_curve_ = result.batch_loss_curve
        self.n_iter_ = result.n_iter
        self.stop_reason_ = result.stop_reason
        self.solver_message_ = result.message
        self.n_units_resampled_ = result.n_resampled
        self.mean_activation_ = backend.xp.astype(rho_hat, X.dtype)

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
        if _dask.is_dask_array(X):
            X = _dask.validate_blocks(self, X, reset=False)
            params = self._params(X.dtype)
            encode = partial(
                _objective.hidden_activations, W1=params.W1, b1=params.b1, **self._codes_options()
            )
            return _dask.map_rows(encode, X, self._n_features_out)
        backend = self._backend_for(X, "transform")
        X = validate_data(self, X, dtype=backend.float_dtypes, reset=False)
        params = self._params(X.dtype, backend)
        return backend.hidden_activations(X, params.W1, params.b1, **self._codes_options())

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
        if _dask.is_dask_array(X):
            codes = _dask.validate_blocks(self, X, reset=False, n_features=self._n_features_out)
            params = self._params(codes.dtype)
            decode = partial(
                _objective.reconstruct,
                W2T=params.W2T,
                b2=params.b2,
                decoder=self.decoder_activation,
            )
            return _dask.map_rows(decode, codes, self.n_features_in_)
        backend = self._backend_for(X, "inverse_transform")
        codes = check_array(X, dtype=backend.float_dtypes, estimator=self, input_name="X")
        if codes.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {codes.shape[1]} features, but {type(self).__name__}."
                f"inverse_transform is expecting {self._n_features_out} "
                "features (one per hidden unit) as input."
            )
        params = self._params(codes.dtype, backend)
        return backend.reconstruct(codes, params.W2T, params.b2, self.decoder_activation)

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
        backend = self._backend_for(X, "score_samples")
        X = validate_data(self, X, dtype=backend.float_dtypes, reset=False)
        params = self._params(X.dtype, backend)
        errors = backend.squared_error_rows(
            X, params, self.decoder_activation, **self._codes_options()
        )
        return -errors

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
        scores = self.score_samples(X)
        return float(_backends.for_input(scores).xp.mean(scores))

    def _backend_for(self, X, method):
        return _backends.for_fitted(self, X, attribute="components_", method=method)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = True
        return tags
