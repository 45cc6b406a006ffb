"""Stacked sparse autoencoders fine-tuned for classification (UFLDL deep network)."""

# SPDX-License-Identifier: BSD-3-Clause

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._array_api import get_namespace_and_device, move_to
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _backends, _network, _network_solvers, _solvers
from ._array_api import to_numpy
from ._autoencoder import SparseAutoencoder
from ._classifier_checks import (
    check_two_classes,
    hidden_sizes,
    labeled_rows,
    per_layer,
    stream_classes,
)
from ._utils import VersionedPickleMixin, restore_state_on_error


def _training_backend(X):
    """The backend of the network's arrays for training input X. Dask arrays
    become NumPy ones in ``validate_data``: the network trains in memory."""
    backend = _backends.for_input(X)
    return _backends.NUMPY if backend.is_numpy else backend


def _rows(A, mask, backend):
    """The rows of A where the NumPy ``mask`` is true (A itself if all are)."""
    if mask.all():
        return A
    return backend.take_rows(A, backend.index(np.flatnonzero(mask)))


def _weights(theta, units, dtype, xp):
    """The coefs and intercepts of ``theta`` as own arrays of ``dtype``."""
    coefs, intercepts = _network.unpack(theta, units, dtype)
    return [xp.asarray(c, copy=True) for c in coefs], [xp.asarray(b, copy=True) for b in intercepts]


class StackedAutoencoderClassifier(
    VersionedPickleMixin,
    ClassNamePrefixFeaturesOutMixin,
    ClassifierMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Stacked sparse autoencoders with a softmax layer, fine-tuned (UFLDL).

    The deep network of the UFLDL notes "Building deep networks for
    classification", trained in three stages:

    1. **Greedy pretraining.** One :class:`SparseAutoencoder` per hidden
       layer: the first on ``X``, layer k on the codes (hidden activations)
       of layer k − 1. Every sample is used, labeled or not.
    2. **Softmax.** A softmax (multinomial logistic) regression on the codes
       of the top layer, fitted on the labeled samples with the hidden layers
       fixed.
    3. **Fine-tuning.** All weights together (the encoders of the
       autoencoders and the softmax; the decoders are dropped), by
       backpropagation of the objective on the labeled samples::

           J = −(1/m) Σᵢ log P(yᵢ | xᵢ) + softmax_lam/2 ‖W_out‖²

       the mean cross-entropy plus weight decay on the weights ``W_out`` of
       the output (softmax) layer only, the objective of the notes' stacked
       autoencoder exercise. Stages 2 and 3 minimise the same J.

    Only ``W_out`` is decayed: the biases never are (as in the autoencoder:
    decaying them would only shift the class priors and the operating points
    of the units), and the hidden weights are not decayed again, because their
    scale was set by pretraining, with its own ``lam``, and fine-tuning is meant
    to adjust the pretrained features, not to shrink them towards zero.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers,) or int, default=(200, 200)
        Number of hidden units of each layer, from the input up; an int is
        one layer. The default is the UFLDL exercise (MNIST).

    rho : float or array-like of shape (n_layers,), default=0.1
        Sparsity target ρ of each layer's autoencoder, in (0, 1): one value
        for all layers or one per layer.

    beta : float or array-like of shape (n_layers,), default=3.0
        Weight β of the sparsity penalty of each layer's autoencoder.

    lam : float or array-like of shape (n_layers,), default=3e-3
        Weight decay λ of each layer's autoencoder (pretraining only).

    softmax_lam : float, default=1e-4
        Weight decay λ on the output layer's weights, in the softmax stage and
        in fine-tuning (the ``lambda`` of the UFLDL softmax and fine-tuning
        code).

    decoder_activation : {"logistic", "identity"}, default="logistic"
        Decoder of the first layer's autoencoder: ``"logistic"`` for data in
        [0, 1], ``"identity"`` for real-valued data (e.g. whitened). The
        layers above reconstruct codes in (0, 1) with a logistic decoder.

    pretrain_solver : {"lbfgs", "adam"}, default="lbfgs"
        Solver of the autoencoders (see :class:`SparseAutoencoder`).

    pretrain_max_iter : int, default=400
        ``max_iter`` of each autoencoder (the UFLDL exercise runs 400
        L-BFGS iterations per layer).

    solver : {"lbfgs", "adam"}, default="lbfgs"
        Solver of the softmax stage and of fine-tuning. ``"lbfgs"`` is
        full-batch L-BFGS-B from :func:`scipy.optimize.minimize`, as in the
        UFLDL exercise. ``"adam"`` is minibatch Adam; it enables
        :meth:`partial_fit`.

    softmax_max_iter : int, default=100
        Maximum number of iterations (epochs for ``"adam"``) of the softmax
        stage.

    max_iter : int, default=400
        Maximum number of fine-tuning iterations (epochs for ``"adam"``).
        ``max_iter=0`` skips fine-tuning: the network is then the greedy one.

    tol : float, default=1e-4
        Relative tolerance on the loss, for every stage: a stage stops when
        its loss has decreased by less than ``tol`` times its value over the
        last ``n_iter_no_change`` iterations (``"adam"``: when the mean loss
        of the last ``n_iter_no_change`` epochs is less than that below the
        mean of the ``n_iter_no_change`` epochs before them).

    n_iter_no_change : int, default=10
        Number of iterations (epochs) over which the decrease is measured.

    batch_size : int or "auto", default="auto"
        Minibatch size of the ``"adam"`` solvers (pretraining included);
        ``"auto"`` is ``min(200, n_samples)``.

    learning_rate_init : float, default=1e-3
        Step size of ``"adam"`` in the softmax stage and fine-tuning (the
        default of :class:`~sklearn.neural_network.MLPClassifier`). The
        autoencoders keep the Adam settings that :class:`SparseAutoencoder`
        tuned for its own objective.

    shuffle : bool, default=True
        Whether ``"adam"`` shuffles the samples in each epoch.

    unlabeled : int, str or None, default=-1
        The label of unlabeled samples, which only pretraining uses; ``-1`` is
        the convention of :mod:`sklearn.semi_supervised`. ``None``: every
        sample is labeled, and -1 can be a class.

    warm_start : bool, default=False
        When True and the model was fitted before on data with the same
        features and classes and with the same ``hidden_layer_sizes``,
        :meth:`fit` skips pretraining and the softmax stage and continues
        fine-tuning from the previous weights.

    random_state : int, RandomState instance or None, default=None
        Determines the initialisation of every autoencoder and the shuffling
        of ``"adam"``. Pass an int for results that are repeatable bit for
        bit (on the same machine and number of threads).
        See :term:`Glossary <random_state>`.

    verbose : int, default=0
        When positive, print the stages and the loss after every iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, without the ``unlabeled`` marker; under Array API
        dispatch, in the namespace and on the device of ``y``.

    autoencoders_ : list of SparseAutoencoder
        The pretrained autoencoders, one per hidden layer (their encoders are
        the pretrained hidden layers; fine-tuning does not change them).

    pretrained_coefs_ : list of ndarray
        Weights of the network before fine-tuning (greedy layers and softmax),
        in :class:`~sklearn.neural_network.MLPClassifier`'s layout:
        ``pretrained_coefs_[i]`` has shape (n_units[i], n_units[i + 1]), the
        last one is the softmax layer's (n_top, n_classes).

    pretrained_intercepts_ : list of ndarray
        Biases of the network before fine-tuning; ``[i]`` has shape
        (n_units[i + 1],).

    coefs_ : list of ndarray
        Fine-tuned weights, in the layout of ``pretrained_coefs_``.
        ``coefs_[0].T`` holds the fine-tuned first-layer filters.

    intercepts_ : list of ndarray
        Fine-tuned biases.

    loss_ : float
        The objective J at the fitted weights on the labeled training samples
        (for :meth:`partial_fit`, on those of the last call).

    loss_curve_ : list of float
        J after each fine-tuning iteration; for ``"adam"``, the mean
        minibatch loss of each epoch (continued across :meth:`partial_fit`
        calls and warm starts).

    n_iter_ : int
        Number of fine-tuning iterations (epochs) run by the last call to
        fit; :meth:`partial_fit` adds one per call.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    SparseAutoencoder : The autoencoder of each layer.
    sklearn.neural_network.MLPClassifier : The same network from random
        weights; see :meth:`to_mlp_classifier`.
    sklearn.semi_supervised.SelfTrainingClassifier : The same convention for
        unlabeled samples.

    Notes
    -----
    **Unlabeled samples.** By default rows whose label is -1 are unlabeled:
    they are used for pretraining only (UFLDL's self-taught learning, in one
    fit), as in :class:`~sklearn.semi_supervised.SelfTrainingClassifier`.
    Hence with numeric labels -1 cannot then be a class (labels in {-1, 1}
    need ``unlabeled=None``); string labels go in an object array in which
    the unlabeled rows hold the integer -1 (or pass ``unlabeled="?"``, any
    string marker). Samples of at least two classes must be labeled.

    **Export.** :meth:`to_mlp_classifier` returns the fitted network as an
    :class:`~sklearn.neural_network.MLPClassifier` with logistic hidden
    units, with the same predictions to rounding, for tools that know MLPs
    (e.g. skl2onnx).

    The computation runs in the dtype of ``X``: float32 input gives float32
    weights and outputs.

    **Array API.** With ``sklearn.set_config(array_api_dispatch=True)`` (and
    the environment variable ``SCIPY_ARRAY_API=1``), PyTorch, CuPy and
    array-api-strict arrays are trained on and predicted in their namespace
    and on their device; the fitted weights are arrays there, and ``predict``
    returns labels there (strings: a NumPy array). L-BFGS keeps its parameters
    on the host. See :ref:`stacked` in the user guide.

    References
    ----------
    UFLDL Tutorial, "Stacked Autoencoders" and "Fine-tuning Stacked AEs",
    http://ufldl.stanford.edu/wiki/index.php/Stacked_Autoencoders

    Y. Bengio, P. Lamblin, D. Popovici and H. Larochelle, "Greedy layer-wise
    training of deep networks", NIPS 2006.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skl_sparse_ae import StackedAutoencoderClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> clf = StackedAutoencoderClassifier(
    ...     hidden_layer_sizes=(32, 16), lam=1e-4, pretrain_max_iter=50,
    ...     max_iter=50, random_state=0,
    ... ).fit(X[:1000], y[:1000])
    >>> clf.predict_proba(X[1000:1002]).shape
    (2, 10)
    >>> clf.transform(X[1000:1002]).shape
    (2, 16)
    >>> bool(clf.score(X[1000:], y[1000:]) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "rho": ["array-like", Interval(Real, 0, 1, closed="neither")],
        "beta": ["array-like", Interval(Real, 0, None, closed="left")],
        "lam": ["array-like", Interval(Real, 0, None, closed="left")],
        "softmax_lam": [Interval(Real, 0, None, closed="left")],
        "decoder_activation": [StrOptions({"logistic", "identity"})],
        "pretrain_solver": [StrOptions({"lbfgs", "adam"})],
        "pretrain_max_iter": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"lbfgs", "adam"})],
        "softmax_max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
        "unlabeled": [None, Integral, str],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(200, 200),
        *,
        rho=0.1,
        beta=3.0,
        lam=3e-3,
        softmax_lam=1e-4,
        decoder_activation="logistic",
        pretrain_solver="lbfgs",
        pretrain_max_iter=400,
        solver="lbfgs",
        softmax_max_iter=100,
        max_iter=400,
        tol=1e-4,
        n_iter_no_change=10,
        batch_size="auto",
        learning_rate_init=1e-3,
        shuffle=True,
        unlabeled=-1,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.rho = rho
        self.beta = beta
        self.lam = lam
        self.softmax_lam = softmax_lam
        self.decoder_activation = decoder_activation
        self.pretrain_solver = pretrain_solver
        self.pretrain_max_iter = pretrain_max_iter
        self.solver = solver
        self.softmax_max_iter = softmax_max_iter
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.unlabeled = unlabeled
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ---------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    @restore_state_on_error
    def fit(self, X, y):
        """Pretrain the layers, fit the softmax, then fine-tune the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. With ``decoder_activation="logistic"`` it should
            lie in [0, 1].

        y : array-like of shape (n_samples,)
            Class labels; the ``unlabeled`` marker (-1 by default) marks an
            unlabeled sample, used for pretraining only.

        Returns
        -------
        self : object
            Fitted estimator.

        Raises
        ------
        ValueError
            If X or y is invalid, if fewer than two classes are labeled, if a
            per-layer parameter does not have one value per layer, or if
            training diverges. The estimator is then left as it was.
        """
        sizes = hidden_sizes(self.hidden_layer_sizes)
        X, y, backend = self._validate_training_data(X, y, reset=True)
        labeled, y_labeled = labeled_rows(to_numpy(y), self.unlabeled)
        classes = np.unique(y_labeled)
        check_two_classes(classes, type(self).__name__)
        rng = check_random_state(self.random_state)
        units = _network.layer_units(X.shape[1], sizes, len(classes))
        continuing = (
            self.warm_start
            and hasattr(self, "coefs_")
            and tuple(c.shape[0] for c in self.coefs_) == units[:-1]
        )
        if continuing:
            self._backend_for(X, "fit")  # the weights to continue from are like X
        if continuing and not np.array_equal(classes, to_numpy(self.classes_)):
            raise ValueError(
                "warm_start can only be used where y has the same classes as in the "
                f"previous call to fit. Previously got {to_numpy(self.classes_)}, y has "
                f"{classes}."
            )
        if self.solver != "adam" or not continuing:
            # An Adam state from an earlier fit no longer matches these weights.
            vars(self).pop("_adam_state", None)
        if not continuing:
            self._set_classes(classes, y)
            self._pretrain(X, labeled, y_labeled, units, rng, backend)
        self._report("Fine-tuning")
        if self._fine_tune(X, labeled, y_labeled, units, self.max_iter, rng, backend, continuing):
            warnings.warn(
                f"{type(self).__name__}: fine-tuning stopped after max_iter="
                f"{self.max_iter} {'iterations' if self.solver == 'lbfgs' else 'epochs'} "
                "before J stopped decreasing; increase max_iter (or tol).",
                ConvergenceWarning,
                # fit ← restore_state_on_error ← _fit_context ← the caller
                stacklevel=4,
            )
        return self

    def _check_solver(self):
        if self.solver != "adam":
            raise AttributeError(
                "partial_fit is only available for the minibatch solver (solver='adam'), "
                f"not for solver={self.solver!r}."
            )
        return True

    @available_if(_check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    @restore_state_on_error
    def partial_fit(self, X, y, classes=None):
        """Fine-tune the network with one epoch of minibatch Adam over X.

        The first call on an unfitted model first runs the greedy pretraining
        and the softmax stage on this chunk, exactly as :meth:`fit` does (so
        make the first chunk large and representative, or call :meth:`fit`
        first); later calls, or calls after :meth:`fit`, continue fine-tuning
        with the optimiser state of the previous ones. Unlabeled rows (see
        ``unlabeled``) are used only by that first pretraining.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.

        y : array-like of shape (n_samples,)
            Its labels; the ``unlabeled`` marker marks an unlabeled sample.

        classes : array-like of shape (n_classes,), default=None
            All the classes of the stream, e.g. ``np.unique(y_all)``; required
            by the first call, optional afterwards. The ``unlabeled`` marker
            in it, if any, is ignored.

        Returns
        -------
        self : object
            The updated estimator.

        Raises
        ------
        ValueError
            If ``classes`` is missing on the first call or differs from
            ``classes_`` later, if y has labels not in ``classes``, or if X
            does not have the features of the previous calls. The estimator
            is then left as it was.
        """
        fitted = hasattr(self, "coefs_")
        if fitted:
            self._backend_for(X, "partial_fit")  # the weights to continue from are like X
        known = stream_classes(classes, to_numpy(self.classes_) if fitted else None, self.unlabeled)
        X, y, backend = self._validate_training_data(X, y, reset=not fitted)
        labeled, y_labeled = labeled_rows(to_numpy(y), self.unlabeled)
        unknown = np.setdiff1d(y_labeled, known)
        if unknown.size:
            raise ValueError(f"y has classes not in classes {known}: {unknown}.")
        if fitted:
            sizes = tuple(c.shape[1] for c in self.coefs_[:-1])
        else:
            sizes = hidden_sizes(self.hidden_layer_sizes)
        units = _network.layer_units(X.shape[1], sizes, len(known))
        if not fitted:
            check_two_classes(known, type(self).__name__)
            self._set_classes(known, y)
            self._shuffle_rng = check_random_state(self.random_state)
            self._pretrain(X, labeled, y_labeled, units, self._shuffle_rng, backend)
        elif not hasattr(self, "_shuffle_rng"):
            self._shuffle_rng = check_random_state(self.random_state)
        n_iter = self.n_iter_ + 1 if fitted and hasattr(self, "_adam_state") else 1
        self._fine_tune(X, labeled, y_labeled, units, 1, self._shuffle_rng, backend, True)
        self.n_iter_ = n_iter
        return self

    def _validate_training_data(self, X, y, reset):
        """X (a float array in C order) and y validated, and X's backend (see
        :mod:`skl_sparse_ae._backends`)."""
        backend = _training_backend(X)
        X, y = validate_data(self, X, y, dtype=backend.float_dtypes, order="C", reset=reset)
        return X, y, backend

    def _set_classes(self, classes, y):
        """``classes_``: the NumPy ``classes`` in the namespace and on the
        device of y, as scikit-learn's classifiers keep them."""
        xp, _, device = get_namespace_and_device(y)
        self.classes_ = move_to(classes, xp=xp, device=device)

    def _class_indices(self, labels, backend):
        """Indices in ``classes_`` of the NumPy ``labels``, on X's device."""
        return backend.index(np.searchsorted(to_numpy(self.classes_), labels))

    def _continued_curve(self, continuing):
        """The loss curve to continue: Adam's, when its state goes on."""
        if continuing and self.solver == "adam" and hasattr(self, "_adam_state"):
            return list(self.loss_curve_)
        return []

    def _report(self, message):
        if self.verbose:
            print(f"[{type(self).__name__}] {message}", flush=True)

    def _pretrain(self, X, labeled, y_labeled, units, rng, backend):
        """Stages 1 and 2: the greedy layers and the softmax on their top codes."""
        n_layers = len(units) - 2
        rhos, betas, lams = (
            per_layer(name, getattr(self, name), n_layers, self._parameter_constraints[name][1])
            for name in ("rho", "beta", "lam")
        )
        autoencoders, codes = [], X
        for k, size in enumerate(units[1:-1]):
            self._report(f"Pretraining layer {k + 1} of {n_layers}: {codes.shape[1]} → {size}")
            ae = SparseAutoencoder(
                n_components=size,
                rho=rhos[k],
                beta=betas[k],
                lam=lams[k],
                decoder_activation=self.decoder_activation if k == 0 else "logistic",
                solver=self.pretrain_solver,
                max_iter=self.pretrain_max_iter,
                tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
                batch_size=self.batch_size,
                shuffle=self.shuffle,
                random_state=rng.randint(np.iinfo(np.int32).max),
                verbose=self.verbose,
            )
            # A fixed budget per layer is the UFLDL recipe, not a failure.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                codes = ae.fit_transform(codes)
            autoencoders.append(ae)
        self.autoencoders_ = autoencoders

        self._report("Training the softmax layer")
        softmax_units = units[-2:]
        theta0 = backend.from_host(np.zeros(softmax_units[0] * units[-1] + units[-1]))
        theta, *_ = self._minimise(
            _rows(codes, labeled, backend),
            self._class_indices(y_labeled, backend),
            softmax_units,
            theta0,
            self.softmax_max_iter,
            rng,
            backend,
        )
        (W_out,), (b_out,) = _network.unpack(theta, softmax_units, X.dtype)
        greedy = _network.pack(
            [*(ae.components_.T for ae in autoencoders), W_out],
            [*(ae.intercept_hidden_ for ae in autoencoders), b_out],
        )
        self.pretrained_coefs_, self.pretrained_intercepts_ = _weights(
            greedy, units, X.dtype, backend.xp
        )
        self.coefs_, self.intercepts_ = _weights(greedy, units, X.dtype, backend.xp)
        self.n_iter_ = 0
        self.loss_curve_ = []

    def _fine_tune(self, X, labeled, y_labeled, units, max_iter, rng, backend, continuing):
        """Stage 3 on the labeled rows of X: keep the fine-tuned weights and J
        computed exactly on those rows. Returns whether max_iter stopped it.

        Raises rather than store weights or a loss that are not finite.
        """
        X, y = _rows(X, labeled, backend), self._class_indices(y_labeled, backend)
        theta, curve, n_iter, hit_max = self._minimise(
            X,
            y,
            units,
            _network.pack(self.coefs_, self.intercepts_),
            max_iter,
            rng,
            backend,
            network=True,
            curve=self._continued_curve(continuing),
        )
        xp = backend.xp
        loss = float(_network.loss_and_grad(theta, X, y, units, self.softmax_lam)[0])
        if not (math.isfinite(loss) and bool(xp.all(xp.isfinite(theta)))):
            raise ValueError(
                f"{type(self).__name__} training diverged: the weights or the loss are not "
                "finite. Scale X (e.g. into [0, 1]), use float64, or lower learning_rate_init."
            )
        self.coefs_, self.intercepts_ = _weights(theta, units, X.dtype, xp)
        self.loss_ = loss
        self.loss_curve_ = list(curve)
        self.n_iter_ = n_iter
        return hit_max

    def _minimise(self, X, y, units, theta0, max_iter, rng, backend, network=False, curve=None):
        """Minimise J over the network ``units`` from theta0 with ``solver``.

        X, y (class indices) and theta0 are arrays of ``backend``. Returns
        (theta, loss_curve, n_iter, hit_max_iter). For Adam on the full
        ``network``, the optimiser state is kept in ``_adam_state``.
        """
        curve = [] if curve is None else curve
        if max_iter == 0:
            return theta0, curve, 0, False
        options = dict(
            lam=self.softmax_lam,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            report=_solvers._progress_printer(type(self).__name__, self.verbose),
            backend=backend,
        )
        if self.solver == "lbfgs":
            return _network_solvers.lbfgs(X, y, units, theta0, max_iter=max_iter, **options)
        saved = getattr(self, "_adam_state", None) if network else None
        if saved is None or saved["theta"].shape != theta0.shape:
            state = _network_solvers.adam_state(theta0, backend.xp)
        else:
            # Updated in place: work on a copy so a failed call changes nothing.
            state = _solvers.AdamState.from_dict(saved)
        n_iter, hit_max = _network_solvers.adam(
            X,
            y,
            units,
            state,
            max_epochs=max_iter,
            batch_size=min(200 if self.batch_size == "auto" else self.batch_size, X.shape[0]),
            learning_rate=self.learning_rate_init,
            shuffle=self.shuffle,
            random_state=rng,
            loss_curve=curve,
            **options,
        )
        if network:
            self._adam_state = state.to_dict()  # plain arrays: see AdamState.to_dict
        return backend.xp.asarray(state.theta, copy=True), curve, n_iter, hit_max

    # -- prediction --------------------------------------------------------

    @property
    def _first_coef(self):
        """The first layer's weights: where the fitted arrays are."""
        return self.coefs_[0]

    def _backend_for(self, X, method):
        """X's backend, after checking that X is where the fitted arrays are."""
        backend = _backends.for_fitted(self, X, attribute="_first_coef", method=method)
        return _backends.NUMPY if backend.is_numpy else backend

    def _forward(self, X, method):
        """Activations of every layer and output logits of X, validated for ``method``."""
        check_is_fitted(self)
        backend = self._backend_for(X, method)
        X = validate_data(self, X, dtype=backend.float_dtypes, reset=False)
        xp = backend.xp
        coefs = [xp.astype(c, X.dtype, copy=False) for c in self.coefs_]
        intercepts = [xp.astype(b, X.dtype, copy=False) for b in self.intercepts_]
        activations, logits = _network.forward(X, coefs, intercepts)
        return activations[-1], logits, xp

    def decision_function(self, X):
        """Logits of the softmax layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The softmax's inputs z (``predict_proba`` is softmax(z)); for two
            classes, z₁ − z₀, the log-odds of ``classes_[1]``, as scikit-learn's
            binary classifiers return.
        """
        logits = self._forward(X, "decision_function")[1]
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict(self, X):
        """Predict the class of each sample: the most probable one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The predicted classes: in the namespace and on the device of X,
            unless they are strings (then a NumPy array).
        """
        _, logits, xp = self._forward(X, "predict")
        xp_classes, _, device_classes = get_namespace_and_device(self.classes_)
        indices = move_to(xp.argmax(logits, axis=1), xp=xp_classes, device=device_classes)
        y_pred = xp_classes.take(self.classes_, indices, axis=0)
        if isinstance(y_pred[0], str):
            return y_pred
        return move_to(y_pred, xp=xp, device=get_namespace_and_device(logits)[2])

    def predict_log_proba(self, X):
        """Log of the class probabilities, computed without underflow.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            log P(class | x) for the classes in the order of ``classes_``.
        """
        _, logits, xp = self._forward(X, "predict_log_proba")
        return _network.log_softmax(logits, xp)

    def predict_proba(self, X):
        """Class probabilities: the softmax of the network's output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            P(class | x) for the classes in the order of ``classes_``.
        """
        _, logits, xp = self._forward(X, "predict_proba")
        return xp.exp(_network.log_softmax(logits, xp))

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` on X against y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.

        y : array-like of shape (n_samples,)
            True labels of X.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Fraction of correctly classified samples (weighted if
            ``sample_weight`` is given), as :func:`sklearn.metrics.accuracy_score`.
        """
        # On the host: accuracy_score sums in float64, which some devices lack.
        y_pred = to_numpy(self.predict(X))
        weights = None if sample_weight is None else to_numpy(sample_weight)
        return float(accuracy_score(to_numpy(y), y_pred, sample_weight=weights))

    def transform(self, X):
        """Top-layer codes of the fine-tuned network: the softmax's input.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, hidden_layer_sizes[-1])
            Activations of the last hidden layer, in (0, 1).
        """
        return self._forward(X, "transform")[0]

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.coefs_[-1].shape[0]

    def to_mlp_classifier(self):
        """The fitted network as a fitted scikit-learn ``MLPClassifier``.

        The network is an MLP with logistic hidden units and a softmax
        output, so the conversion is exact: the weights are copied, except
        that for two classes, where ``MLPClassifier`` has one logistic output
        unit, the softmax is replaced by the same function of the logit
        difference, weights ``w₁ − w₀`` and bias ``b₁ − b₀``. The
        probabilities then agree to rounding. The MLP runs in any tool that
        reads scikit-learn MLPs, e.g. ``skl2onnx.to_onnx``.

        Returns
        -------
        mlp : MLPClassifier
            An ``MLPClassifier(activation="logistic")`` with this model's
            fine-tuned ``coefs_``, ``intercepts_`` and ``classes_``, ready for
            ``predict`` and ``predict_proba`` (it was not trained by
            scikit-learn, so its training attributes are absent). Its arrays
            are NumPy arrays, wherever this model's are.
        """
        from sklearn.neural_network import MLPClassifier

        check_is_fitted(self)
        coefs = [np.array(to_numpy(c)) for c in self.coefs_]
        intercepts = [np.array(to_numpy(b)) for b in self.intercepts_]
        classes = np.array(to_numpy(self.classes_))
        binary = len(classes) == 2
        if binary:
            coefs[-1] = coefs[-1][:, 1:] - coefs[-1][:, :1]
            intercepts[-1] = intercepts[-1][1:] - intercepts[-1][:1]
        mlp = MLPClassifier(
            hidden_layer_sizes=tuple(c.shape[1] for c in coefs[:-1]),
            activation="logistic",
            solver=self.solver,
            alpha=0.0,
            max_iter=max(self.max_iter, 1),
            random_state=self.random_state,
        )
        mlp.coefs_, mlp.intercepts_ = coefs, intercepts
        mlp.n_layers_ = len(coefs) + 1
        mlp.n_outputs_ = 1 if binary else len(classes)
        mlp.out_activation_ = "logistic" if binary else "softmax"
        mlp._label_binarizer = LabelBinarizer().fit(classes)
        mlp.classes_ = classes
        mlp.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            mlp.feature_names_in_ = self.feature_names_in_.copy()
        mlp.n_iter_ = self.n_iter_
        mlp.loss_ = self.loss_
        return mlp

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = True
        return tags
