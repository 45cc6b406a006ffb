"""Optimisers that drive the objective of :mod:`skl_sparse_ae._objective`."""

# SPDX-License-Identifier: BSD-3-Clause

import contextlib
import copy
import math
import time
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np
from sklearn.utils import gen_batches

from . import _dead_units
from ._backends import NUMPY
from ._lbfgsb import scipy_lbfgsb
from ._objective import UFLDL, Params
from ._parallel import single_threaded_libraries

# Why a solver stopped: the values of ``SolverResult.stop_reason`` (and of the
# estimators' ``stop_reason_``).
STOP_REASONS = ("max_iter", "tol", "converged", "line_search", "max_fun", "partial_fit")

# The reasons a user did not ask for and should hear of (a ConvergenceWarning).
UNEXPECTED_STOPS = ("max_iter", "converged", "line_search", "max_fun")


@dataclass
class SolverResult:
    """What a solver hands back to the estimator."""

    params: object  # _objective.Params in the dtype, namespace and device of X
    loss: float  # J at ``params``
    loss_curve: list = field(default_factory=list)  # J after each iteration or epoch
    n_iter: int = 0
    stop_reason: str = "max_iter"  # one of STOP_REASONS
    message: str = ""  # scipy's message (L-BFGS), or a sentence of ours (Adam)
    rho_hat: object = None  # ρ̂ over all of X at ``params`` (an array like X's), when known
    batch_loss_curve: list | None = None  # Adam: the mean batch loss of each epoch
    n_resampled: int = 0  # dead units re-initialised during the run (see _dead_units)


def _progress_printer(name, verbose):
    """Callback body printing one line per iteration when ``verbose``."""
    last = [time.perf_counter()]

    def report(iteration, loss):
        if verbose:
            now = time.perf_counter()
            print(
                f"[{name}] Iteration {iteration}, loss = {loss:.8g}, time = {now - last[0]:.2f}s",
                flush=True,
            )
            last[0] = now

    return report


def stalled(loss_curve, tol, n_iter_no_change):
    """True when J fell by less than ``tol`` (relative) over the last
    ``n_iter_no_change`` iterations."""
    if len(loss_curve) <= n_iter_no_change:
        return False
    before, now = loss_curve[-1 - n_iter_no_change], loss_curve[-1]
    return before - now <= tol * max(abs(before), np.finfo(np.float64).tiny)


def stalled_on_average(loss_curve, tol, n_iter_no_change):
    """True when the mean of the last ``n_iter_no_change`` losses is less than
    ``tol`` (relative) below the mean of the ``n_iter_no_change`` before them.

    For the noisy epoch losses of minibatch training. On the UFLDL patches a
    comparison of two single epochs (:func:`stalled`) stopped Adam after
    42–48 epochs at 1–5% above L-BFGS's J; this one after 55–58 epochs, at
    1–3.4% above it.
    """
    n = n_iter_no_change
    if len(loss_curve) < 2 * n:
        return False
    before, now = np.mean(loss_curve[-2 * n : -n]), np.mean(loss_curve[-n:])
    return before - now <= tol * max(abs(before), np.finfo(np.float64).tiny)


def pack(backend, params, variant=UFLDL):
    """``backend.pack`` in the layout of ``variant`` (tied weights: W1 only)."""
    return backend.pack(params, tied=True) if variant.tied else backend.pack(params)


def unpack(backend, theta, n_features, n_components, dtype, variant=UFLDL):
    """``backend.unpack`` in the layout of ``variant``."""
    if variant.tied:
        return backend.unpack(theta, n_features, n_components, dtype, tied=True)
    return backend.unpack(theta, n_features, n_components, dtype)


def objective_options(variant=UFLDL, X_input=None):
    """Keyword arguments of ``backend.evaluate`` for a model beyond UFLDL's
    (none for UFLDL's own, which every backend computes)."""
    options = {} if variant == UFLDL else {"variant": variant}
    if X_input is not None:
        options["X_input"] = X_input
    return options


def exact_loss(
    params, X, *, rho, beta, lam, decoder, backend=NUMPY, variant=UFLDL, X_input=None, **options
):
    """J and ρ̂ over all of X at ``params``: the loss an estimator stores.

    ``X_input`` is the encoder's input of a denoising autoencoder; ``options``
    go to ``backend.evaluate`` (the buffers of ``backend.solver_options()``,
    for a solver that computes J at every epoch).
    """
    loss, _, rho_hat = backend.evaluate(
        pack(backend, params, variant),
        X,
        params.W1.shape[0],
        rho,
        beta,
        lam,
        decoder,
        **objective_options(variant, X_input),
        **options,
    )
    return float(loss), rho_hat


def _libraries_limited(limit_threads):
    """:func:`single_threaded_libraries` if ``limit_threads``, else nothing."""
    return single_threaded_libraries() if limit_threads else contextlib.nullcontext()


def minimize_lbfgs(
    objective,
    theta0,
    *,
    max_iter,
    tol,
    n_iter_no_change,
    report,
    limit_threads=True,
    max_fun=None,
):
    """scipy's L-BFGS-B on ``objective(theta) -> (J, gradient)`` from ``theta0``
    (see :mod:`skl_sparse_ae._lbfgsb`).

    The driver of every full-batch fit: it stops after ``max_iter``
    iterations, when J has decreased by less than a fraction ``tol`` over the
    last ``n_iter_no_change`` iterations (:func:`stalled`), when scipy
    finds it converged to machine precision, when its line search fails or
    after ``max_fun`` evaluations (default ``max(15000, 2 * max_iter)``); see
    :func:`lbfgs_stop_reason`. ``report(iteration, J)`` is
    called after each iteration. ``limit_threads=False`` leaves the thread
    pools alone, for an objective that does not bring threads of its own.
    Returns scipy's result and the loss curve.
    """
    max_fun = max(15000, 2 * max_iter) if max_fun is None else max_fun
    loss_curve = []

    def callback(intermediate_result):
        loss_curve.append(float(intermediate_result.fun))
        report(len(loss_curve), loss_curve[-1])
        if stalled(loss_curve, tol, n_iter_no_change):
            raise StopIteration

    # With every library pool at one thread: the objectives bring their own
    # threads (which still count the BLAS threads allowed before this limit,
    # see _parallel.n_threads), and idle BLAS threads of scipy busy-wait.
    with _libraries_limited(limit_threads):
        result = scipy_lbfgsb(
            objective, theta0, maxiter=max_iter, maxfun=max_fun, callback=callback
        )
    return result, loss_curve


def lbfgs_stop_reason(result, max_iter):
    """Why :func:`minimize_lbfgs` stopped, one of :data:`STOP_REASONS`.

    Read off scipy's ``status`` rather than its message, whose words change
    between scipy versions: 99 is our ``tol`` rule (the callback's
    StopIteration); 0 scipy's own convergence test, J down by less than
    ``ftol`` (about 2.2e-9 of max(|J|, 1)) in one iteration, or a zero
    projected gradient; 1 the iteration or evaluation budget; 2 anything
    else, in practice its line search finding no lower J along the
    direction ("ABNORMAL", or rounding errors preventing progress).
    """
    if result.status == 99:
        return "tol"
    if result.status == 0:
        return "converged"
    if result.status == 1:
        return "max_iter" if result.nit >= max_iter else "max_fun"
    return "line_search"


def lbfgs(
    X,
    params0,
    *,
    rho,
    beta,
    lam,
    decoder,
    max_iter,
    tol,
    n_iter_no_change,
    verbose=0,
    name="",
    backend=NUMPY,
    variant=UFLDL,
    X_input=None,
):
    """Full-batch L-BFGS-B (scipy) on J, starting from ``params0``.

    It stops after ``max_iter`` iterations, when J has decreased by less than
    a fraction ``tol`` over the last ``n_iter_no_change`` iterations, or when
    scipy finds it converged to machine precision. ``backend`` (see
    :mod:`skl_sparse_ae._backends`) computes (J, gradient, ρ̂) on X; scipy's
    parameter vector stays a float64 NumPy array on the host, moved to X's
    device and its gradient back once per evaluation. A gradient-norm test is
    not used: on sparse autoencoders the gradient becomes small on plateaus
    long before the filters have formed. ``variant`` and ``X_input`` (the
    encoder's input, for a denoising autoencoder) as for
    :func:`skl_sparse_ae._objective.evaluate`.
    """
    n_features = X.shape[1]
    n_components = params0.W1.shape[0]
    last = {}

    def objective(theta):
        # J and ρ̂ at the returned weights come from their own evaluation:
        # L-BFGS-B returns the point it evaluated last.
        loss, grad, rho_hat = backend.evaluate(
            backend.from_host(theta), X, n_components, rho, beta, lam, decoder, **options
        )
        loss = float(loss)
        last.update(theta=theta.copy(), loss=loss, rho_hat=rho_hat)
        return loss, backend.to_host(grad)

    options = {**objective_options(variant, X_input), **backend.solver_options()}
    result, loss_curve = minimize_lbfgs(
        objective,
        backend.to_host(pack(backend, params0, variant)),
        max_iter=max_iter,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        report=_progress_printer(name, verbose),
        limit_threads=backend.limit_threads,
    )
    known = np.array_equal(last.get("theta"), result.x)
    theta = backend.from_host(result.x)
    return SolverResult(
        params=backend.copy_params(
            unpack(backend, theta, n_features, n_components, X.dtype, variant)
        ),
        loss=float(result.fun),
        loss_curve=loss_curve,
        n_iter=int(result.nit),
        stop_reason=lbfgs_stop_reason(result, max_iter),
        message=str(result.message),
        rho_hat=last["rho_hat"] if known else None,
    )


@dataclass
class AdamState:
    """Everything a minibatch run needs to continue where it stopped."""

    # Vectors of the backend's sum dtype (float64), in the namespace and on
    # the device of X.
    theta: np.ndarray  # parameters
    first_moment: np.ndarray
    second_moment: np.ndarray
    n_steps: int = 0
    rho_hat_average: np.ndarray | None = None  # running estimate of ρ̂ (see rho_hat_estimate)
    previous_theta: np.ndarray | None = None  # the parameters before the last step
    step_divisions: int = 0  # how often the adaptive schedule has divided the step
    window_start: int = 0  # the first epoch the stopping rule reads (after the last division)
    fired: np.ndarray | None = None  # units active in some batch since the last check
    epochs_since_check: int = 0  # for dead-unit resampling (resample_interval)

    @classmethod
    def start(cls, params0, backend=NUMPY, variant=UFLDL):
        """A fresh state at ``params0`` (:class:`Params` of ``backend``)."""
        xp = backend.xp
        theta = xp.asarray(pack(backend, params0, variant), copy=True)
        return cls(theta, xp.zeros_like(theta), xp.zeros_like(theta))

    # Estimators keep the state as a plain dict of arrays and numbers, so that
    # a saved model holds no type of ours beyond the estimator (skops asks a
    # user to trust every such type).
    def to_dict(self):
        """A deep copy of the fields as a dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, state):
        """A state from :meth:`to_dict`'s dict, deep-copied (the solver
        updates it in place)."""
        return cls(**copy.deepcopy(state))


# Adam's moment decays and denominator guard (Kingma & Ba, 2015), as in
# scikit-learn's MLP.
_ADAM_BETA1, _ADAM_BETA2, _ADAM_EPSILON = 0.9, 0.999, 1e-8

# The autoencoder's second-moment decay is 0.9: the first steps, which pull ρ̂
# from 0.5 down to ρ, have gradients a hundred times larger than those of the
# plateau that follows, and a memory of 1000 steps (0.999) kept √v̂ 120 times
# above the gradients there after 1000 steps (UFLDL patches), shrinking every
# step by as much: Adam sat on the plateau for thousands of steps.
_AUTOENCODER_BETA2 = 0.9

# The adaptive schedule: each time the batch losses stall, the step is divided
# by this factor, this many times; the next stall stops training.
_ADAPTIVE_FACTOR, _ADAPTIVE_DIVISIONS = 10, 2


def _adam_step(state, grad, learning_rate, beta2=_ADAM_BETA2, xp=np):
    state.n_steps += 1
    state.first_moment *= _ADAM_BETA1
    state.first_moment += (1 - _ADAM_BETA1) * grad
    state.second_moment *= beta2
    state.second_moment += (1 - beta2) * grad * grad
    t = state.n_steps
    # A Python float: some namespaces take no NumPy scalars.
    step = learning_rate * math.sqrt(1 - beta2**t) / (1 - _ADAM_BETA1**t)
    state.theta -= step * state.first_moment / (xp.sqrt(state.second_moment) + _ADAM_EPSILON)


def rho_hat_estimate(state, batch, n_components, decay, backend=NUMPY, variant=UFLDL):
    """Estimate of ρ̂ over all the data at the current weights, from one batch.

    ``estimate = ρ̂(batch, θ) + decay·(previous estimate − ρ̂(batch, θ_before))``,
    with θ_before the weights before the last step: a moving average whose
    old terms are carried to the current weights by the change of the batch's
    own mean (the STORM estimator of Cutkosky & Orabona, 2019). It remembers
    about ``1 / (1 − decay)`` batches without lagging behind training. A plain
    moving average of past means lags (its terms are means at older weights)
    and made the KL term oscillate: on the UFLDL patches, 1.16 with
    ``decay=0.9`` against 0.002 for L-BFGS. Returns the estimate and
    ρ̂(batch, θ). ``batch`` is the encoder's input (corrupted, for a
    denoising autoencoder).
    """
    n_features = batch.shape[1]
    h = n_components
    xp = backend.xp
    current = unpack(backend, state.theta, n_features, h, batch.dtype, variant)
    activation = variant.activation
    if variant.k is not None:  # k-sparse codes: each set of units keeps its own k
        mean = partial(backend.mean_activation, batch, k=variant.k, activation=activation)
    else:
        mean = partial(backend.mean_activation, batch, activation=activation)
    if state.rho_hat_average is None or decay == 0:
        rho_batch = mean(current)
        return rho_batch, rho_batch
    before = unpack(backend, state.previous_theta, n_features, h, batch.dtype, variant)
    if variant.k is not None:
        rho_batch, rho_batch_before = mean(current), mean(before)
    else:
        # Both means in one pass over the batch: the two sets of hidden units side by side.
        both = Params(
            W1=xp.concat([current.W1, before.W1]),
            W2T=xp.concat([current.W2T, before.W2T]),
            b1=xp.concat([current.b1, before.b1]),
            b2=current.b2,
        )
        both = mean(both)
        rho_batch, rho_batch_before = both[:h], both[h:]
    estimate = rho_batch + decay * (state.rho_hat_average - rho_batch_before)
    # The correction may not more than halve the batch's own ρ̂ or 1 − ρ̂, so
    # that the KL term stays finite wherever the batch's own mean keeps it so
    # (ReLU activations have no upper bound).
    upper = None if activation == "relu" else 1.0 - 0.5 * (1.0 - rho_batch)
    estimate = xp.clip(estimate, min=0.5 * rho_batch, max=upper)
    return estimate, rho_batch


def minibatch_epochs(
    step,
    m,
    *,
    batch_size,
    shuffle,
    random_state,
    max_epochs,
    tol,
    n_iter_no_change,
    loss_curve,
    report,
    backend=NUMPY,
    on_epoch=None,
    stalled=None,
):
    """Epochs of minibatch steps over m rows: the loop of every Adam fit.

    ``step(rows)`` takes one optimiser step on the rows ``rows`` (a slice,
    or an index array of ``backend`` when ``shuffle``) and returns their mean
    loss (a number, or a 0-d array of ``backend``: the epoch's sum then stays
    on the device until the epoch ends). Each epoch appends the mean batch
    loss to ``loss_curve`` and reports it; the loop stops after
    ``max_epochs`` or when that curve stalls (:func:`stalled_on_average`, or
    ``stalled(loss_curve)`` if given). ``on_epoch(last)``, if given, is
    called after each epoch with whether it is the last, and the loss it
    returns is reported in place of the mean batch loss. Returns the epochs
    run and whether ``max_epochs`` ended them.
    """
    epochs = 0
    # One limit on the libraries' threads for all batches, as in minimize_lbfgs.
    with _libraries_limited(backend.limit_threads):
        for _ in range(max_epochs):
            order = backend.index(random_state.permutation(m)) if shuffle else None
            epoch_loss = 0.0
            for rows in gen_batches(m, batch_size):
                epoch_loss += step(order[rows] if shuffle else rows) * (rows.stop - rows.start)
            epochs += 1
            loss_curve.append(float(epoch_loss / m))
            if stalled is None:
                stop = stalled_on_average(loss_curve, tol, n_iter_no_change)
            else:
                stop = stalled(loss_curve)
            reported = loss_curve[-1]
            if on_epoch is not None:
                reported = on_epoch(stop or epochs == max_epochs)
            report(len(loss_curve), reported)
            if stop:
                return epochs, False
    return epochs, epochs == max_epochs


def adam(
    X,
    state,
    *,
    n_components,
    rho,
    beta,
    lam,
    decoder,
    batch_size,
    learning_rate,
    activation_decay,
    shuffle,
    random_state,
    max_epochs,
    tol,
    n_iter_no_change,
    schedule="constant",
    resample_every=None,
    streaming=False,
    verbose=0,
    name="",
    loss_curve=None,
    batch_loss_curve=None,
    backend=NUMPY,
    variant=UFLDL,
    corrupt=None,
    corrupt_for_loss=None,
):
    """Minibatch Adam on J, continuing from ``state`` (updated in place).

    The KL penalty needs ρ̂ over all the data, which one batch does not have:
    it uses :func:`rho_hat_estimate` (``decay`` = ``activation_decay``) in
    ρ̂'s place. Each epoch appends the mean batch loss to
    ``batch_loss_curve``, and J over all of X at the epoch's end
    (:func:`exact_loss`) to ``loss_curve``; training stops after
    ``max_epochs`` or when the batch losses stall (see
    :func:`stalled_on_average`); with ``schedule="adaptive"`` the first
    ``_ADAPTIVE_DIVISIONS`` stalls divide the step by ``_ADAPTIVE_FACTOR``
    instead (kept in ``state``), the rule then reading the epochs after the
    division only. Every ``resample_every`` epochs (None: never) the units
    that fired in no batch since the last check are resampled
    (:func:`_resample_adam_state`), except after a fit's last epoch;
    ``streaming`` (``partial_fit``, one epoch per call): after that one too,
    the count of epochs going on in ``state``. ``state`` and X are in the namespace and on
    the device of ``backend`` (see :mod:`skl_sparse_ae._backends`): the whole
    loop runs there. ``variant`` as for
    :func:`skl_sparse_ae._objective.evaluate`; ``corrupt(batch)``, if given,
    makes the encoder's input of each batch (a denoising autoencoder: fresh
    noise for every batch) and of the last epoch's J, ``corrupt_for_loss(X)``
    that of the J of the other epochs.
    """
    m, n_features = X.shape
    loss_curve = [] if loss_curve is None else loss_curve
    batch_loss_curve = [] if batch_loss_curve is None else batch_loss_curve
    xp = backend.xp
    run_options = backend.solver_options()
    # J over all of X at each epoch's end keeps buffers of its own: in the
    # batches' ones, its shape would push out theirs at every epoch.
    loss_options = backend.solver_options()

    def step(rows):
        batch = backend.take_rows(X, rows)
        batch_in = None if corrupt is None else corrupt(batch)
        estimate, _ = rho_hat_estimate(
            state,
            batch if batch_in is None else batch_in,
            n_components,
            activation_decay,
            backend,
            variant,
        )
        loss, grad, rho_batch = backend.evaluate(
            state.theta,
            batch,
            n_components,
            rho,
            beta,
            lam,
            decoder,
            rho_hat_prior=(estimate, 1.0),  # the KL term at the estimate
            **objective_options(variant, batch_in),
            **run_options,
        )
        state.rho_hat_average = estimate
        if resample_every is not None:
            active = rho_batch > 0.0
            state.fired = active if state.fired is None else state.fired | active
        state.previous_theta = xp.asarray(state.theta, copy=True)
        rate = learning_rate / _ADAPTIVE_FACTOR**state.step_divisions
        _adam_step(state, grad, rate, beta2=_AUTOENCODER_BETA2, xp=xp)
        return loss

    def stalled(curve):
        # The rule reads the epochs since the step was last divided.
        if not stalled_on_average(curve[state.window_start :], tol, n_iter_no_change):
            return False
        if schedule == "constant" or state.step_divisions == _ADAPTIVE_DIVISIONS:
            return True
        state.step_divisions += 1
        state.window_start = len(curve)
        return False

    end = {}
    n_resampled = [0]

    def on_epoch(last):
        if resample_every is not None:
            state.epochs_since_check += 1
            if state.epochs_since_check >= resample_every:
                if streaming or not last:  # a fit's last epoch leaves no time to train them
                    n_resampled[0] += _resample_adam_state(
                        state, X, backend, variant, decoder, random_state
                    )
                state.fired, state.epochs_since_check = None, 0
        params = backend.copy_params(
            unpack(backend, state.theta, n_features, n_components, X.dtype, variant)
        )
        X_input = None
        if corrupt is not None:
            # The last J's noise comes from the batches' generator, as the
            # estimator's loss_ always did; the others' from one of their own,
            # so that computing them leaves the training path alone.
            X_input = corrupt(X) if last else corrupt_for_loss(X)
        loss, rho_hat = exact_loss(
            params,
            X,
            rho=rho,
            beta=beta,
            lam=lam,
            decoder=decoder,
            backend=backend,
            variant=variant,
            X_input=X_input,
            **loss_options,
        )
        loss_curve.append(loss)
        end.update(params=params, loss=loss, rho_hat=rho_hat)
        return loss

    epochs, hit_max_iter = minibatch_epochs(
        step,
        m,
        batch_size=batch_size,
        shuffle=shuffle,
        random_state=random_state,
        max_epochs=max_epochs,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        loss_curve=batch_loss_curve,
        report=_progress_printer(name, verbose),
        backend=backend,
        on_epoch=on_epoch,
        stalled=stalled,
    )
    if hit_max_iter:
        reason, message = "max_iter", f"Stopped after max_iter={max_epochs} epoch(s)."
    else:
        reason = "tol"
        message = (
            f"Stopped after {epochs} epoch(s): the mean batch loss of the last "
            f"{n_iter_no_change} epochs was less than tol={tol} (relative) below "
            f"that of the {n_iter_no_change} before them"
        )
        if schedule == "adaptive":
            message += f", the step divided by {_ADAPTIVE_FACTOR} {state.step_divisions} times"
        message += "."
    return SolverResult(
        params=end["params"],
        loss=end["loss"],
        loss_curve=loss_curve,
        n_iter=epochs,
        stop_reason=reason,
        message=message,
        rho_hat=end["rho_hat"],
        batch_loss_curve=batch_loss_curve,
        n_resampled=n_resampled[0],
    )


def _resample_adam_state(state, X, backend, variant, decoder, rng):
    """Resample the units of ``state`` that fired in no batch since the last
    check (:mod:`skl_sparse_ae._dead_units`), their Adam moments zeroed;
    returns how many."""
    n_features, h = X.shape[1], state.fired.shape[0]
    dead = np.flatnonzero(~np.asarray(backend.to_host(state.fired), dtype=bool))
    if dead.size == 0:
        return 0
    # The blocks of the flat vectors a unit owns (with tied weights W2ᵀ is W1).
    names = ("W1", "b1") if variant.tied else ("W1", "W2T", "b1")

    def host_blocks(vector):  # a float64 host copy, and views of its blocks
        vector = np.array(backend.to_host(vector), dtype=np.float64, copy=True)
        return vector, unpack(NUMPY, vector, n_features, h, np.float64, variant)

    theta, params = host_blocks(state.theta)
    new = _dead_units.resampled(params, X, dead, rng, decoder=decoder, variant=variant)
    for name in names:
        getattr(params, name)[dead] = getattr(new, name)[dead]
    state.theta = backend.from_host(theta)
    # The running estimate of ρ̂ starts afresh from the next batch's own mean.
    state.previous_theta = state.rho_hat_average = None
    for moment in ("first_moment", "second_moment"):
        values, blocks = host_blocks(getattr(state, moment))
        for name in names:
            getattr(blocks, name)[dead] = 0.0
        setattr(state, moment, backend.from_host(values))
    return int(dead.size)


# -- Driving the solvers with an autoencoder's parameters ---------------------


def _objective_of(estimator):
    """The parameters of J that the estimator's set."""
    return dict(
        rho=estimator.rho,
        beta=estimator.beta,
        lam=estimator.lam,
        decoder=estimator.decoder_activation,
    )


def _stopping_of(estimator):
    """The stopping rule and progress output that the estimator's parameters set."""
    return dict(
        tol=estimator.tol,
        n_iter_no_change=estimator.n_iter_no_change,
        verbose=estimator.verbose,
        name=type(estimator).__name__,
    )


def fit_lbfgs(estimator, X, params0, *, backend, variant, X_input=None, rng=None):
    """:func:`lbfgs` from ``params0`` with a SparseAutoencoder's parameters.

    With dead-unit resampling (``resample_every``, see
    :func:`resample_interval`), L-BFGS runs in rounds of that many
    iterations: after each round but the last, the units that fired on no
    row are re-initialised (:mod:`skl_sparse_ae._dead_units`, drawing from
    ``rng``) and L-BFGS starts again from there, its curvature memory
    dropped: a resampled unit changes J's landscape. A round that stops on
    its own (``tol``, convergence) with no dead unit ends the fit.
    """
    options = dict(
        backend=backend,
        variant=variant,
        X_input=X_input,
        **_objective_of(estimator),
        **_stopping_of(estimator),
    )
    every = resample_interval(estimator, variant)
    if every is None:
        return lbfgs(X, params0, max_iter=estimator.max_iter, **options)
    X_in = X if X_input is None else X_input
    params, remaining, curve, n_iter, n_resampled = params0, estimator.max_iter, [], 0, 0
    while True:
        last_round = remaining < 2 * every
        result = lbfgs(X, params, max_iter=remaining if last_round else every, **options)
        curve += result.loss_curve
        n_iter += result.n_iter
        remaining -= result.n_iter
        if last_round or remaining <= 0:
            break
        rho_hat = result.rho_hat
        if rho_hat is None:
            rho_hat = backend.mean_activation(
                X_in, result.params, k=variant.k, activation=variant.activation
            )
        dead = _dead_units.dead_units(rho_hat)
        if dead.size == 0:
            if result.stop_reason != "max_iter":
                break
            params = result.params
            continue
        host = _dead_units.resampled(
            result.params, X_in, dead, rng, decoder=estimator.decoder_activation, variant=variant
        )
        params = backend.params_from_host(host)
        n_resampled += dead.size
    result.loss_curve, result.n_iter, result.n_resampled = curve, n_iter, n_resampled
    if remaining <= 0 and result.stop_reason != "max_iter":
        result.stop_reason = "max_iter"
    return result


# Dead-unit resampling: every this many L-BFGS iterations or Adam epochs, for
# ReLU codes (resample_every="auto").
_RESAMPLE_EVERY = {"lbfgs": 50, "adam": 5}


def resample_interval(estimator, variant):
    """Iterations (Adam: epochs) between the checks for dead units, or None:
    no resampling. ``"auto"``: :data:`_RESAMPLE_EVERY` for ReLU codes, none
    for sigmoid units (the UFLDL model as it was)."""
    every = estimator.resample_every
    if every == "auto":
        return _RESAMPLE_EVERY[estimator.solver] if variant.activation == "relu" else None
    return every


def run_adam(
    estimator,
    X,
    state,
    *,
    max_epochs,
    random_state,
    backend,
    variant,
    schedule=None,
    streaming=False,
    **curves_and_noise,
):
    """:func:`adam` from ``state`` with a SparseAutoencoder's parameters for
    ``max_epochs``; ``schedule`` overrides its ``learning_rate``; ``streaming``
    as for :func:`adam`;
    ``curves_and_noise``: its ``loss_curve``, ``batch_loss_curve``,
    ``corrupt`` and ``corrupt_for_loss``."""
    batch_size = 200 if estimator.batch_size == "auto" else estimator.batch_size
    return adam(
        X,
        state,
        n_components=estimator.n_components,
        batch_size=min(batch_size, X.shape[0]),
        learning_rate=estimator.learning_rate_init,
        schedule=estimator.learning_rate if schedule is None else schedule,
        resample_every=resample_interval(estimator, variant),
        streaming=streaming,
        activation_decay=estimator.activation_decay,
        shuffle=estimator.shuffle,
        random_state=random_state,
        max_epochs=max_epochs,
        backend=backend,
        variant=variant,
        **curves_and_noise,
        **_objective_of(estimator),
        **_stopping_of(estimator),
    )


def finished(estimator, result, X, *, backend, variant, X_input=None):
    """The weights, J and ρ̂ on X of a solver's ``result``, J and ρ̂
    computed afresh where the solver does not know them (L-BFGS-B returned
    a point other than the last it evaluated; ``X_input``: the encoder's
    input it minimised J on).

    Raises rather than return weights or a J that are not finite.
    """
    loss, rho_hat = result.loss, result.rho_hat
    if rho_hat is None:
        loss, rho_hat = exact_loss(
            result.params,
            X,
            backend=backend,
            variant=variant,
            X_input=X_input,
            **_objective_of(estimator),
        )
    loss = float(loss)
    xp = backend.xp
    finite = all(bool(xp.all(xp.isfinite(b))) for b in vars(result.params).values())
    if not (math.isfinite(loss) and finite):
        raise ValueError(
            f"{type(estimator).__name__} training diverged: the weights or the loss are "
            "not finite. Scale X (e.g. into [0, 1] or to unit variance), use float64, "
            "or lower learning_rate_init."
        )
    return result.params, loss, rho_hat


def stop_warning(estimator, result):
    """The text of the ConvergenceWarning for a stop of ``fit`` that the
    estimator's parameters did not ask for (:data:`UNEXPECTED_STOPS`), or None."""
    name, max_iter = type(estimator).__name__, estimator.max_iter
    reason = result.stop_reason
    if reason not in UNEXPECTED_STOPS:
        return None
    if reason == "max_iter":
        unit = "iterations" if estimator.solver == "lbfgs" else "epochs"
        return (
            f"{name} stopped after max_iter={max_iter} {unit} before J stopped "
            "decreasing; increase max_iter (or tol)."
        )
    stopped = f"{name} stopped after {result.n_iter} of max_iter={max_iter} iterations"
    not_smooth = "solver='adam' copes better with a J that is not smooth."
    if reason == "converged":
        return (
            f"{stopped}, before tol stopped it: scipy's L-BFGS-B declared convergence "
            f"({result.message!r}), J having fallen by less than about 2.2e-9 x max(|J|, 1) "
            "in one iteration. J may be at its minimum, or L-BFGS stuck where J is not "
            f"smooth (k-sparse codes); loss_curve_ shows how J fell. {not_smooth}"
        )
    if reason == "line_search":
        return (
            f"{stopped}: the line search of scipy's L-BFGS-B found no lower J along its "
            f"direction ({result.message!r}), and J may still be far from its minimum. "
            "This happens where J is not smooth (k-sparse codes, the L1 penalty) or "
            f"where rounding hides its decrease (float32: try float64). {not_smooth}"
        )
    return (
        f"{stopped}: scipy's L-BFGS-B spent its budget of evaluations of J "
        f"({result.message!r}), its line searches needing many per iteration; J may "
        f"still decrease. Scale X, use float64, or solver='adam'."
    )
