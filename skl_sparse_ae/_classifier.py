"""Stacked sparse autoencoders fine-tuned for classification (UFLDL deep network)."""

# SPDX-License-Identifier: BSD-3-Clause

import warnings
from itertools import pairwise
from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import _objective, _parallel, _solvers
from ._autoencoder import SparseAutoencoder
from ._classifier_checks import (
    check_two_classes,
    hidden_sizes,
    labeled_rows,
    per_layer,
    unlabeled_mask,
)
from ._utils import VersionedPickleMixin, restore_state_on_error

_FLOAT_DTYPES = (np.float64, np.float32)

# Rows per block of the network objective: enough that the products are
# efficient, few enough that a block's activations stay small.
_MIN_BLOCK_ROWS = 256


# %% The network: parameter layout, forward pass, J and its gradient


def _layer_units(n_features, hidden_layer_sizes, n_classes):
    return (n_features, *hidden_layer_sizes, n_classes)


def _pack(coefs, intercepts):
    """One float64 vector in scikit-learn's MLP layout: all coefs, then all intercepts."""
    return np.concatenate([a.ravel() for a in [*coefs, *intercepts]]).astype(np.float64)


def _unpack(theta, layer_units, dtype):
    """Lists of coefs (n_in, n_out) and intercepts (n_out,): views of theta
    cast once to ``dtype``."""
    theta = np.asarray(theta).astype(dtype, copy=False)
    coefs, intercepts, start = [], [], 0
    for n_in, n_out in pairwise(layer_units):
        coefs.append(theta[start : start + n_in * n_out].reshape(n_in, n_out))
        start += n_in * n_out
    for n_out in layer_units[1:]:
        intercepts.append(theta[start : start + n_out])
        start += n_out
    return coefs, intercepts


def _hidden(A, coef, intercept):
    """sigmoid(A coef + intercept), with the autoencoder's fast sigmoid."""
    return _objective.hidden_activations(A, coef.T, intercept)


def _forward(X, coefs, intercepts):
    """Activations of every layer, the input first, and the output logits last."""
    activations = [X]
    for coef, intercept in zip(coefs[:-1], intercepts[:-1], strict=True):
        activations.append(_hidden(activations[-1], coef, intercept))
    logits = activations[-1] @ coefs[-1]
    logits += intercepts[-1]
    return activations, logits


def _log_softmax(logits):
    """log P in place, without overflow."""
    logits -= logits.max(axis=1, keepdims=True)
    logits -= np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return logits


def _block_sums(X, y, coefs, intercepts):
    """Σ cross-entropy over the rows of a block, and the gradient sums of
    the data term (not divided by m, no decay), as float64."""
    activations, logits = _forward(X, coefs, intercepts)
    rows = np.arange(X.shape[0])
    log_p = _log_softmax(logits)
    cross_entropy = -float(np.sum(log_p[rows, y], dtype=np.float64))
    delta = np.exp(log_p, out=log_p)  # P − Y: the softmax's δ, per row
    delta[rows, y] -= 1
    grad_coefs, grad_intercepts = [], []
    for layer in range(len(coefs) - 1, -1, -1):
        grad_coefs.append(activations[layer].T @ delta)
        grad_intercepts.append(delta.sum(axis=0, dtype=np.float64))
        if layer:
            a = activations[layer]
            delta = delta @ coefs[layer].T
            delta *= a
            delta *= 1 - a
    return cross_entropy, _pack(grad_coefs[::-1], grad_intercepts[::-1])


def _block_rows(m, layer_units, itemsize, n_runs):
    """Rows per block: one block per thread, within scikit-learn's working_memory."""
    row_bytes = 3 * sum(layer_units) * itemsize
    memory_rows = int(get_config()["working_memory"] * 2**20) // row_bytes
    per_thread = -(-m // n_runs)
    return max(1, min(m, max(_MIN_BLOCK_ROWS, min(per_thread, memory_rows))))


def network_loss_and_grad(theta, X, y, layer_units, lam, n_workers=None):
    """J and its gradient (float64) for the network ``theta`` on labeled rows.

    ``y`` holds class indices in ``range(layer_units[-1])``. ::

        J = −(1/m) Σᵢ log P(yᵢ | xᵢ) + (lam/2) ‖W_out‖²

    Only the output layer's weights are decayed. The rows are cut into
    blocks of fixed size, run on the objective's worker threads, and their
    sums are added in block order, so that a result is repeatable.
    """
    m = X.shape[0]
    coefs, intercepts = _unpack(theta, layer_units, X.dtype)
    n_threads = n_workers or _parallel.n_threads()
    step = _block_rows(m, layer_units, X.itemsize, n_threads)
    blocks = list(gen_batches(m, step))

    def run(run_blocks):
        sums = [_block_sums(X[b], y[b], coefs, intercepts) for b in blocks[run_blocks]]
        return sum(s[0] for s in sums), np.sum([s[1] for s in sums], axis=0)

    runs = _parallel.contiguous_runs(len(blocks), n_threads)
    results = _parallel.map_in_threads(run, [(slice(r.start, r.stop),) for r in runs])
    cross_entropy, grad = results[0]
    for ce, g in results[1:]:
        cross_entropy += ce
        grad += g
    grad /= m
    n_out = layer_units[-2] * layer_units[-1]
    start = sum(a * b for a, b in pairwise(layer_units)) - n_out
    W_out = np.asarray(theta[start : start + n_out], dtype=np.float64)
    grad[start : start + n_out] += lam * W_out
    return cross_entropy / m + 0.5 * lam * float(W_out @ W_out), grad


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
        Class labels, without the ``unlabeled`` marker.

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
        X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES, order="C", reset=True)
        labeled, y_labeled = labeled_rows(y, self.unlabeled)
        classes = np.unique(y_labeled)
        check_two_classes(classes, type(self).__name__)
        rng = check_random_state(self.random_state)
        units = _layer_units(X.shape[1], sizes, len(classes))
        continuing = (
            self.warm_start
            and hasattr(self, "coefs_")
            and tuple(c.shape[0] for c in self.coefs_) == units[:-1]
        )
        if continuing and not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start can only be used where y has the same classes as in the "
                f"previous call to fit. Previously got {self.classes_}, y has {classes}."
            )
        if self.solver != "adam" or not continuing:
            # An Adam state from an earlier fit no longer matches these weights.
            vars(self).pop("_adam_state", None)
        if not continuing:
            self.classes_ = classes
            self._pretrain(X, labeled, y_labeled, sizes, rng)
        self._report("Fine-tuning")
        Xl = X if labeled.all() else X[labeled]
        y_codes = np.searchsorted(self.classes_, y_labeled)
        theta, curve, n_iter, hit_max = self._minimise(
            Xl,
            y_codes,
            units,
            _pack(self.coefs_, self.intercepts_),
            self.max_iter,
            rng,
            network=True,
            curve=self._continued_curve(continuing),
        )
        self._store_network(theta, Xl, y_codes, units, curve, n_iter)
        if hit_max:
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
        if classes is not None:
            classes = column_or_1d(classes)
            classes = np.unique(classes[~unlabeled_mask(classes, self.unlabeled)])
            if fitted and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes} is not the same as on the first call to "
                    f"partial_fit: {self.classes_}."
                )
        elif not fitted:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES, order="C", reset=not fitted)
        labeled, y_labeled = labeled_rows(y, self.unlabeled)
        known = classes if not fitted else self.classes_
        unknown = np.setdiff1d(y_labeled, known)
        if unknown.size:
            raise ValueError(f"y has classes not in classes {known}: {unknown}.")
        if fitted:
            sizes = tuple(c.shape[1] for c in self.coefs_[:-1])
        else:
            sizes = hidden_sizes(self.hidden_layer_sizes)
        units = _layer_units(X.shape[1], sizes, len(known))
        if not fitted:
            check_two_classes(known, type(self).__name__)
            self.classes_ = known
            self._shuffle_rng = check_random_state(self.random_state)
            self._pretrain(X, labeled, y_labeled, sizes, self._shuffle_rng)
        elif not hasattr(self, "_shuffle_rng"):
            self._shuffle_rng = check_random_state(self.random_state)
        codes = np.searchsorted(self.classes_, y_labeled)
        Xl = X[labeled]
        theta0 = _pack(self.coefs_, self.intercepts_)
        n_iter = self.n_iter_ + 1 if fitted and hasattr(self, "_adam_state") else 1
        theta, curve, _, _ = self._minimise(
            Xl,
            codes,
            units,
            theta0,
            1,
            self._shuffle_rng,
            network=True,
            curve=self._continued_curve(True),
        )
        self._store_network(theta, Xl, codes, units, curve, n_iter)
        return self

    def _continued_curve(self, continuing):
        """The loss curve to continue: Adam's, when its state goes on."""
        if continuing and self.solver == "adam" and hasattr(self, "_adam_state"):
            return list(self.loss_curve_)
        return []

    def _report(self, message):
        if self.verbose:
            print(f"[{type(self).__name__}] {message}", flush=True)

    def _pretrain(self, X, labeled, y_labeled, sizes, rng):
        """Stages 1 and 2: the greedy layers and the softmax on their top codes."""
        n_layers = len(sizes)
        rhos, betas, lams = (
            per_layer(name, getattr(self, name), n_layers, self._parameter_constraints[name][1])
            for name in ("rho", "beta", "lam")
        )
        autoencoders, codes = [], X
        for k, size in enumerate(sizes):
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
        coefs = [ae.components_.T.copy() for ae in autoencoders]
        intercepts = [ae.intercept_hidden_.copy() for ae in autoencoders]

        self._report("Training the softmax layer")
        n_classes = len(self.classes_)
        top = codes[labeled]
        y_codes = np.searchsorted(self.classes_, y_labeled)
        softmax_units = (top.shape[1], n_classes)
        theta0 = np.zeros(top.shape[1] * n_classes + n_classes)
        theta, *_ = self._minimise(top, y_codes, softmax_units, theta0, self.softmax_max_iter, rng)
        (W_out,), (b_out,) = _unpack(theta, softmax_units, X.dtype)
        self.pretrained_coefs_ = [*coefs, W_out.copy()]
        self.pretrained_intercepts_ = [*intercepts, b_out.copy()]
        self.coefs_ = [c.copy() for c in self.pretrained_coefs_]
        self.intercepts_ = [b.copy() for b in self.pretrained_intercepts_]
        self.n_iter_ = 0
        self.loss_curve_ = []

    def _minimise(self, X, y, units, theta0, max_iter, rng, network=False, curve=None):
        """Minimise J over the network ``units`` from theta0 with ``solver``.

        Returns (theta, loss_curve, n_iter, hit_max_iter). For Adam on the
        full ``network``, the optimiser state is kept in ``_adam_state``.
        """
        curve = [] if curve is None else curve
        if max_iter == 0:
            return theta0, curve, 0, False
        report = _solvers._progress_printer(type(self).__name__, self.verbose)
        lam = self.softmax_lam
        if self.solver == "lbfgs":
            result, curve = _solvers.minimize_lbfgs(
                lambda theta: network_loss_and_grad(theta, X, y, units, lam),
                theta0,
                max_iter=max_iter,
                tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
                report=report,
            )
            return result.x, curve, int(result.nit), result.status == 1
        saved = getattr(self, "_adam_state", None) if network else None
        if saved is None or saved["theta"].shape != theta0.shape:
            state = _solvers.AdamState(theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0))
        else:
            # Updated in place: work on a copy so a failed call changes nothing.
            state = _solvers.AdamState.from_dict(saved)
        m = X.shape[0]
        batch_size = min(200 if self.batch_size == "auto" else self.batch_size, m)

        def step(rows):
            loss, grad = network_loss_and_grad(state.theta, X[rows], y[rows], units, lam)
            _solvers._adam_step(state, grad, self.learning_rate_init)
            return loss

        n_iter, hit_max = _solvers.minibatch_epochs(
            step,
            m,
            batch_size=batch_size,
            shuffle=self.shuffle,
            random_state=rng,
            max_epochs=max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            loss_curve=curve,
            report=report,
        )
        if network:
            self._adam_state = state.to_dict()  # plain arrays: see AdamState.to_dict
        return state.theta.copy(), curve, n_iter, hit_max

    def _store_network(self, theta, X, y, units, curve, n_iter):
        """Keep the fine-tuned weights and J computed exactly on (X, y).

        Raises rather than store weights or a loss that are not finite.
        """
        loss, _ = network_loss_and_grad(theta, X, y, units, self.softmax_lam)
        if not (np.isfinite(loss) and np.isfinite(theta).all()):
            raise ValueError(
                f"{type(self).__name__} training diverged: the weights or the loss are not "
                "finite. Scale X (e.g. into [0, 1]), use float64, or lower learning_rate_init."
            )
        coefs, intercepts = _unpack(theta, units, X.dtype)
        self.coefs_ = [c.copy() for c in coefs]
        self.intercepts_ = [b.copy() for b in intercepts]
        self.loss_ = float(loss)
        self.loss_curve_ = list(curve)
        self.n_iter_ = n_iter

    # -- prediction --------------------------------------------------------

    def _logits(self, X):
        """Top-layer codes and output logits of validated X."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        coefs = [c.astype(X.dtype, copy=False) for c in self.coefs_]
        intercepts = [b.astype(X.dtype, copy=False) for b in self.intercepts_]
        activations, logits = _forward(X, coefs, intercepts)
        return activations[-1], logits

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
        logits = self._logits(X)[1]
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
            The predicted classes.
        """
        logits = self._logits(X)[1]
        return self.classes_[np.argmax(logits, axis=1)]

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
        return _log_softmax(self._logits(X)[1])

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
        log_p = self.predict_log_proba(X)
        return np.exp(log_p, out=log_p)

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
        return super().score(X, y, sample_weight=sample_weight)

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
        return self._logits(X)[0]

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
            scikit-learn, so its training attributes are absent).
        """
        from sklearn.neural_network import MLPClassifier

        check_is_fitted(self)
        coefs = [c.copy() for c in self.coefs_]
        intercepts = [b.copy() for b in self.intercepts_]
        binary = len(self.classes_) == 2
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
        mlp.n_outputs_ = 1 if binary else len(self.classes_)
        mlp.out_activation_ = "logistic" if binary else "softmax"
        mlp._label_binarizer = LabelBinarizer().fit(self.classes_)
        mlp.classes_ = self.classes_.copy()
        mlp.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            mlp.feature_names_in_ = self.feature_names_in_.copy()
        mlp.n_iter_ = self.n_iter_
        mlp.loss_ = self.loss_
        return mlp

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
