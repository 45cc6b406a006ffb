"""Fit time of skl-sparse-ae against its peers, side by side, in one run.

Usage: python benchmarks/bench_fit.py [--case ufldl|large|all] [--repeat K] [--rounds R]
                                      [--quick] [--baseline DIR] [--without PEER ...]

Same data, same initial weights (UFLDL init, r = sqrt(6)/sqrt(n+h+1)) and the same
number of L-BFGS iterations for: skl-sparse-ae with each of its kernels (numba, when
importable, and NumPy), and, with --baseline, the skl-sparse-ae of another checkout
(e.g. `git worktree add /tmp/main main`); a straightforward NumPy port of the
UFLDL sparseAutoencoderCost driven by scipy's L-BFGS-B; PyTorch's torch.optim.LBFGS
on the same objective (skipped if torch is missing); scikit-learn's MLPRegressor
fitted X -> X (no sparsity term, identity output: another objective); and the floor,
the five matrix products of one evaluation, once per iteration, back to back.

Before timing, every implementation's J (and gradient) at the initial weights is
checked against the float64 NumPy port, so no port computes another objective. Each
row runs in a fresh subprocess that loads the data, warms up, and reports the best
time of K fits and the peak memory growth during them, beyond the data (VmHWM reset
at the start: getrusage's ru_maxrss would start at the parent's memory). The final J
of every row is re-evaluated by the float64 NumPy port at the weights it returned, so
all J are comparable.

With --rounds R, all rows of a case run R times in turn; the table gives each row's
median time (and its range), and each ratio is the median of the R ratios of one
round's rows, so that a slow spell of the machine (other tenants of a virtual
machine) weighs on one round rather than on one row.

After each table, "evaluations alone": the median time of one evaluation of the
objective with each kernel (buffers kept between evaluations, as in a fit) against
that of the five products, measured in alternating blocks in one fresh process, so
that a change in the machine's speed hits both sides alike. It leaves out what a fit
adds per evaluation: L-BFGS-B's own work (its setulb alone 0.3 ms per evaluation for
the 3 289 parameters of the UFLDL case, profiled in a fit).
"""

import argparse
import json
import os
import platform
import resource
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from _child import run_child
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from skl_sparse_ae import SparseAutoencoder, _objective
from skl_sparse_ae.datasets import load_natural_image_patches


@dataclass(frozen=True)
class Case:
    side: int  # patch side: n = side²
    m: int  # samples
    h: int
    rho: float
    beta: float
    lam: float
    n_iter: int  # L-BFGS iterations
    dtypes: tuple  # dtypes the rows run in
    quick_m: int  # --quick sizes
    quick_iter: int


CASES = {
    "ufldl": Case(8, 10_000, 25, 0.01, 3.0, 1e-4, 400, ("float64", "float32"), 10_000, 20),
    "large": Case(28, 60_000, 196, 0.1, 3.0, 3e-3, 10, ("float32",), 10_000, 2),
}
OURS = "skl-sparse-ae"
PEERS = ("NumPy port", "PyTorch LBFGS", "MLPRegressor", "floor")
TORCH_THREADS = 2
LBFGS_HISTORY = 10  # scipy's default m
# skl_sparse_ae._kernels.KERNEL_VARIABLE (spelled out: a --baseline checkout may predate it)
KERNEL_VARIABLE = "SKL_SPARSE_AE_KERNEL"


# --- the objective, as a student ports it ------------------------------------------------


def split(theta, n, h):
    """W1 (h, n), W2 (n, h), b1, b2 from the flat vector [W1, W2ᵀ, b1, b2]."""
    W1 = theta[: h * n].reshape(h, n)
    W2 = theta[h * n : 2 * h * n].reshape(h, n).T
    return W1, W2, theta[2 * h * n : 2 * h * n + h], theta[2 * h * n + h :]


def sparse_autoencoder_cost(theta, X, h, rho, beta, lam):
    """The vectorised UFLDL sparseAutoencoderCost, rows = samples, in X's dtype."""
    m, n = X.shape
    W1, W2, b1, b2 = split(theta.astype(X.dtype, copy=False), n, h)
    a2 = 1 / (1 + np.exp(-(X @ W1.T + b1)))
    a3 = 1 / (1 + np.exp(-(a2 @ W2.T + b2)))
    rho_hat = a2.mean(axis=0)
    kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    J = ((a3 - X) ** 2).sum() / (2 * m) + lam / 2 * ((W1**2).sum() + (W2**2).sum())
    J += beta * kl.sum()
    d3 = (a3 - X) * a3 * (1 - a3)
    d2 = (d3 @ W2 + beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))) * a2 * (1 - a2)
    grad = np.concatenate(
        [
            (d2.T @ X / m + lam * W1).ravel(),
            (a2.T @ d3 / m + lam * W2.T).ravel(),
            d2.mean(axis=0),
            d3.mean(axis=0),
        ]
    )
    return float(J), grad.astype(np.float64)


def torch_objective(Xt, params, case):
    """The same J on torch tensors (autograd gives the gradient)."""
    import torch

    W1, W2T, b1, b2 = params
    rho, m = case.rho, Xt.shape[0]
    A2 = torch.sigmoid(Xt @ W1.T + b1)
    X_hat = torch.sigmoid(A2 @ W2T + b2)
    rho_hat = A2.mean(0)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    J = ((X_hat - Xt) ** 2).sum() / (2 * m) + case.lam / 2 * ((W1**2).sum() + (W2T**2).sum())
    return J + case.beta * kl.sum()


def torch_params(theta, X, case):
    import torch

    blocks = _objective.unpack(theta, X.shape[1], case.h, X.dtype)
    return [torch.tensor(block).requires_grad_() for block in vars(blocks).values()]


def torch_flat(tensors):
    return np.concatenate([t.detach().numpy().astype(np.float64).ravel() for t in tensors])


# --- the implementations: fit(X, theta0, case, n_iter) -> dict ------------------------------
# Each returns iters, evals (None when unknown), own_loss (its own final J, or None) and
# theta (the final weights as the flat float64 vector, or None).


def fit_skl_sparse_ae(X, theta0, case, n_iter):
    start = _objective.unpack(theta0, X.shape[1], case.h, X.dtype).copy()
    # warm_start from the shared initial weights (the same UFLDL init the estimator draws)
    model = SparseAutoencoder(
        case.h,
        rho=case.rho,
        beta=case.beta,
        lam=case.lam,
        max_iter=n_iter,
        tol=0.0,
        warm_start=True,
    )
    model.components_, model.decoder_components_ = start.W1, start.W2T
    model.intercept_hidden_, model.intercept_visible_ = start.b1, start.b2
    with warnings.catch_warnings(), counting_evaluations() as evals:
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    theta = _objective.pack(
        _objective.Params(
            model.components_,
            model.decoder_components_,
            model.intercept_hidden_,
            model.intercept_visible_,
        )
    )
    return dict(iters=model.n_iter_, evals=evals[0] or None, own_loss=model.loss_, theta=theta)


@contextmanager
def counting_evaluations():
    """Counts the estimator's objective evaluations (fit looks the function up per call)."""
    original, count = _objective.evaluate, [0]

    def counted(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    _objective.evaluate = counted
    try:
        yield count
    finally:
        _objective.evaluate = original


def fit_numpy_port(X, theta0, case, n_iter):
    result = minimize(
        sparse_autoencoder_cost,
        theta0,
        args=(X, case.h, case.rho, case.beta, case.lam),
        jac=True,
        method="L-BFGS-B",
        options=dict(maxiter=n_iter, gtol=0, ftol=0),
    )
    return dict(iters=int(result.nit), evals=int(result.nfev), own_loss=result.fun, theta=result.x)


def fit_torch(X, theta0, case, n_iter):
    """torch.optim.LBFGS until n_iter iterations moved the weights.

    LBFGS.step ends early when its line search finds no decrease (step t = 0);
    it is then restarted with a fresh history, as long as the restart moves.
    """
    import torch

    torch.set_num_threads(TORCH_THREADS)
    Xt, params = torch.from_numpy(X), torch_params(theta0, X, case)
    evals, done, restarts = [0], 0, -1

    def closure():
        evals[0] += 1
        for p in params:
            p.grad = None
        J = torch_objective(Xt, params, case)
        J.backward()
        return J

    while done < n_iter:
        optimizer = torch.optim.LBFGS(
            params,
            lr=1,
            max_iter=n_iter - done,
            max_eval=25 * n_iter,  # the default, 1.25 max_iter, would cut the run short
            history_size=LBFGS_HISTORY,
            line_search_fn="strong_wolfe",
            tolerance_grad=0,
            tolerance_change=0,
        )
        optimizer.step(closure)
        state = optimizer.state[params[0]]
        moved = state["n_iter"] - int(float(state["t"]) == 0.0)
        restarts += 1
        if moved == 0:
            break
        done += moved
    with torch.no_grad():
        own_loss = float(torch_objective(Xt, params, case))
    note = f"{restarts} restart(s) after its line search stalled" if restarts else ""
    return dict(iters=done, evals=evals[0], own_loss=own_loss, theta=torch_flat(params), note=note)


class _MLPFromWeights(MLPRegressor):
    """MLPRegressor that starts from given weights instead of its Glorot init."""

    def _init_coef(self, fan_in, fan_out, dtype):
        coef, intercept = self.initial_weights.pop(0)
        return coef.astype(dtype), intercept.astype(dtype)

    def _loss_grad_lbfgs(self, *args, **kwargs):
        self.n_evaluations += 1
        return super()._loss_grad_lbfgs(*args, **kwargs)


def fit_mlp(X, theta0, case, n_iter):
    m, n = X.shape
    W1, W2, b1, b2 = split(theta0, n, case.h)
    model = _MLPFromWeights(
        hidden_layer_sizes=(case.h,),
        activation="logistic",
        solver="lbfgs",
        max_iter=n_iter,
        tol=0,
        # its loss is (1/n)·(1/2m)Σ‖X̂−X‖² + (alpha/2m)‖W‖²: this alpha gives UFLDL's λ
        alpha=case.lam * m / n,
    )
    model.initial_weights, model.n_evaluations = [(W1.T, b1), (W2.T, b2)], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, X)
    # n·loss_: UFLDL's J without the sparsity term, with an identity output layer
    note = f"own loss x n = {model.loss_ * n:.6f} (identity output, no sparsity term)"
    return dict(
        iters=model.n_iter_, evals=model.n_evaluations, own_loss=None, theta=None, note=note
    )


def five_products(X, h):
    """A function doing the five products of one evaluation, on preallocated arrays."""
    m, n = X.shape
    rng = np.random.RandomState(0)
    W1, W2T = (rng.uniform(-0.1, 0.1, (h, n)).astype(X.dtype) for _ in range(2))
    A2, delta2 = (rng.uniform(0, 1, (m, h)).astype(X.dtype) for _ in range(2))
    delta3 = rng.uniform(-0.1, 0.1, (m, n)).astype(X.dtype)
    out_mh, out_mn, out_hn = np.empty_like(A2), np.empty_like(delta3), np.empty_like(W1)

    def products():
        np.matmul(X, W1.T, out=out_mh)  # X W1ᵀ
        np.matmul(A2, W2T, out=out_mn)  # A2 W2ᵀ
        np.matmul(delta3, W2T.T, out=out_mh)  # δ3 W2
        np.matmul(A2.T, delta3, out=out_hn)  # (δ3ᵀ A2)ᵀ
        np.matmul(delta2.T, X, out=out_hn)  # δ2ᵀ X

    return products


def fit_floor(X, theta0, case, n_iter):
    """The five products of one evaluation on preallocated arrays, n_iter times in a row.

    Timed as a whole, as a fit is: the best single repetition is often 1.2-1.8x
    faster than the mean of a run on a shared virtual machine, so a floor made of
    it would compare a fit with moments that no fit gets. It is given in a note.
    """
    products = five_products(X, case.h)
    times, start = [], time.perf_counter()
    last = start
    for _ in range(n_iter):
        products()
        times.append(time.perf_counter() - last)
        last += times[-1]
    seconds = last - start
    note = f"best single repetition x {n_iter}: {min(times) * n_iter:.2f} s"
    return dict(iters=n_iter, evals=n_iter, own_loss=None, theta=None, seconds=seconds, note=note)


def keep_busy(call, seconds=0.1):
    """``call()`` untimed for ``seconds``, before a timed block that follows a pause.

    After a pause the calls run slow for a while here (the first ~50 ms of UFLDL
    evaluations at 1.8x their speed: the virtual CPUs waking up); a fit never
    pauses, so those calls are not counted.
    """
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        call()


def pause():
    """OpenBLAS's threads spin for a while after the products (~0.1 s): let them
    sleep before the next block, or they take its cores."""
    time.sleep(0.3)


def fits_against_the_floor(X, theta0, case, n_iter, rounds):
    """Whole fits of skl-sparse-ae (this process's kernel) and the five products
    of as many evaluations back to back, in turn, ``rounds`` times: each pair
    gives the fit's time per evaluation and per iteration over the floor's per
    evaluation, L-BFGS-B's own work included, from two runs seconds apart."""
    products = five_products(X, case.h)

    def small_fit():
        fit_skl_sparse_ae(X[:500], theta0, case, 2)

    small_fit()  # compiled, threads made
    per_evaluation, per_iteration = [], []
    for _ in range(rounds):
        pause()
        keep_busy(small_fit)
        start = time.perf_counter()
        result = fit_skl_sparse_ae(X, theta0, case, n_iter)
        fit_seconds = time.perf_counter() - start
        pause()
        keep_busy(products)
        start = time.perf_counter()
        for _ in range(result["evals"]):
            products()
        floor_per_evaluation = (time.perf_counter() - start) / result["evals"]
        per_evaluation.append(fit_seconds / result["evals"] / floor_per_evaluation)
        per_iteration.append(fit_seconds / result["iters"] / floor_per_evaluation)
    return dict(per_evaluation=per_evaluation, per_iteration=per_iteration, kernel=kernel_in_use())


def evaluations_against_the_floor(X, theta0, case, kernels, rounds, block):
    """Median time of one objective evaluation per kernel and of the five products,
    measured in alternating blocks of ``block`` calls over ``rounds`` rounds in this
    process: a drift of the machine's speed (other tenants) hits all alike. The
    evaluations run as in a fit (library pools held at one thread, the objective's
    own threads); the products with BLAS's threads. No L-BFGS-B bookkeeping."""
    from skl_sparse_ae._kernels import kernel_named
    from skl_sparse_ae._parallel import single_threaded_libraries

    def timed_block(call):
        keep_busy(call)
        out = []
        for _ in range(block):
            start = time.perf_counter()
            call()
            out.append(time.perf_counter() - start)
        return out

    def evaluations(kernel):
        buffers = _objective.EvaluationBuffers()  # kept between evaluations, as in a fit

        def evaluation():
            _objective.evaluate(
                theta0,
                X,
                case.h,
                case.rho,
                case.beta,
                case.lam,
                "logistic",
                kernel=kernel,
                buffers=buffers,
            )

        def run():
            with single_threaded_libraries():
                return timed_block(evaluation)

        return run

    products = five_products(X, case.h)
    runs = {
        "floor": lambda: timed_block(products),
        **{k: evaluations(kernel_named(k)) for k in kernels},
    }
    times = {name: [] for name in runs}
    for run in runs.values():
        run()  # compiled, threads made
    for _ in range(rounds):
        for name, run in runs.items():
            pause()
            times[name] += run()
    return {name: float(np.median(t)) for name, t in times.items()}


FITS = {
    "skl-sparse-ae": fit_skl_sparse_ae,
    "NumPy port": fit_numpy_port,
    "PyTorch LBFGS": fit_torch,
    "MLPRegressor": fit_mlp,
    "floor": fit_floor,
}


# --- one row, in a fresh process ---------------------------------------------------------


def status_bytes(field):
    """A field of /proc/self/status (Linux), e.g. VmRSS or VmHWM; None elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None


def reset_peak_rss():
    """Restart the high-water mark VmHWM from the current RSS; False if not possible.

    Needed because the child's getrusage ru_maxrss starts at the parent's RSS (Linux
    keeps the pre-exec high-water mark), which would hide the growth of a fit.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return status_bytes("VmHWM") is not None
    except OSError:
        return False


class PeakMemory:
    """Peak RSS growth over a block: VmHWM after a reset where the kernel allows it,
    otherwise getrusage's ru_maxrss (then only a lower bound, see reset_peak_rss)."""

    def __enter__(self):
        self.exact = reset_peak_rss()
        self.before = status_bytes("VmRSS") if self.exact else self.max_rss()
        return self

    def __exit__(self, *exc):
        after = status_bytes("VmHWM") if self.exact else self.max_rss()
        self.growth_mib = (after - self.before) / 2**20

    @staticmethod
    def max_rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def loaded(spec):
    """The case, X and theta0 of a :func:`child_spec`, in the child."""
    case = Case(**{**spec["case"], "dtypes": tuple(spec["case"]["dtypes"])})
    return case, np.load(spec["data"]), np.load(spec["theta0"])


def run_evaluations(spec):
    """:func:`evaluations_against_the_floor` in this (fresh) process."""
    case, X, theta0 = loaded(spec)
    return evaluations_against_the_floor(
        X, theta0, case, spec["kernels"], spec["rounds"], spec["block"]
    )


def run_fits(spec):
    """:func:`fits_against_the_floor` in this (fresh) process."""
    case, X, theta0 = loaded(spec)
    return fits_against_the_floor(X, theta0, case, spec["n_iter"], spec["rounds"])


def run_row(spec):
    """Best of `repeat` fits and the peak memory growth beyond X, in this process."""
    case, X, theta0 = loaded(spec)
    implementation = spec["implementation"]
    fit = FITS[OURS if implementation.startswith(OURS) else implementation]
    fit(X[:500], theta0, case, 2)  # imports, thread pools, first-call costs
    best, result = np.inf, None
    with PeakMemory() as peak:
        for _ in range(spec["repeat"]):
            start = time.perf_counter()
            result = fit(X, theta0, case, spec["n_iter"])
            best = min(best, result.pop("seconds", time.perf_counter() - start))
    theta = result.pop("theta")
    if theta is not None:
        np.save(spec["theta_out"], theta)
    if implementation.startswith(OURS):
        result["kernel"] = kernel_in_use()
    return dict(result, seconds=best, peak_mib=peak.growth_mib, peak_exact=peak.exact)


def kernel_in_use():
    """The kernel the fits of this process ran with, and where the package came from."""
    import skl_sparse_ae

    try:
        from skl_sparse_ae._kernels import default_kernel
    except ImportError:  # a checkout from before the kernels
        name = "numpy"
    else:
        name = default_kernel().name
    return f"{name} kernel of {Path(skl_sparse_ae.__file__).parent.parent}"


def child_spec(folder, case, dtype, **more):
    """What a child process is told: the case, where its data and initial weights are."""
    return dict(
        case=asdict(case),
        data=str(folder / f"X_{dtype}.npy"),
        theta0=str(folder / "theta0.npy"),
        **more,
    )


def spawn_row(spec, env=None):
    return run_child([__file__, "--child", json.dumps(spec)], env)


def print_evaluations(folder, case, dtype, kernels, quick):
    """The objective alone against the five products, interleaved, in a fresh process."""
    spec = child_spec(
        folder,
        case,
        dtype,
        kernels=kernels,
        rounds=3 if quick else (15 if case.m <= 10_000 else 4),
        block=20 if case.m <= 10_000 else 1,
    )
    result = run_child([__file__, "--evaluations", json.dumps(spec)])
    if "failed" in result:
        print(f"evaluations alone {dtype}: failed: {result['failed']}")
        return
    floor = result.pop("floor")
    text = ", ".join(f"{k} {1e3 * t:.2f} ms = {t / floor:.2f}x" for k, t in result.items())
    print(f"evaluations alone {dtype} (medians, interleaved): floor {1e3 * floor:.2f} ms; {text}")


def print_fits(folder, case, dtype, kernels, n_iter, quick):
    """Whole fits against the five products, interleaved, in a fresh process per kernel."""
    spec = child_spec(
        folder,
        case,
        dtype,
        n_iter=n_iter,
        rounds=2 if quick else (5 if case.m <= 10_000 else 3),
    )
    texts = []
    for kernel in kernels:
        result = run_child([__file__, "--fits", json.dumps(spec)], {KERNEL_VARIABLE: kernel})
        if "failed" in result:
            texts.append(f"{kernel} failed: {result['failed']}")
            continue
        text = (
            kernel
            if result["kernel"].startswith(kernel)
            else f"{kernel} (ran the {result['kernel']})"
        )
        for unit in ("evaluation", "iteration"):
            ratios = result[f"per_{unit}"]
            text += f", per {unit} {np.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
        texts.append(text)
    print(
        f"fits against the floor {dtype} (medians of {spec['rounds']} pairs, interleaved): "
        + "; ".join(texts)
    )


# --- the parent: data, checks, table, ratios ---------------------------------------------


def check_start(X64, Xs, theta0, case, have_torch, kernels):
    """Every implementation's J (and gradient) at theta0 against the float64 port."""
    from skl_sparse_ae._kernels import kernel_named  # not in a --baseline checkout's children

    J_ref, g_ref = sparse_autoencoder_cost(theta0, X64, case.h, case.rho, case.beta, case.lam)
    for dtype, X in Xs.items():
        tol_g = 1e-9 if dtype == "float64" else 1e-3
        args = (theta0, X, case.h, case.rho, case.beta, case.lam)
        candidates = {
            f"{OURS} {kernel}": _objective.loss_and_grad(*args, kernel=kernel_named(kernel))
            for kernel in kernels
        }
        candidates["NumPy port"] = sparse_autoencoder_cost(*args)
        if have_torch:
            candidates["PyTorch LBFGS"] = torch_loss_and_grad(theta0, X, case)
        for name, (J, g) in candidates.items():
            assert abs(J - J_ref) <= 1e-6 * abs(J_ref), f"{name} {dtype}: J0 {J} != {J_ref}"
            g_err = np.linalg.norm(g - g_ref) / np.linalg.norm(g_ref)
            assert g_err <= tol_g, f"{name} {dtype}: gradient differs by {g_err:.1e}"
    return J_ref


def torch_loss_and_grad(theta, X, case):
    import torch

    torch.set_num_threads(TORCH_THREADS)
    params = torch_params(theta, X, case)
    J = torch_objective(torch.from_numpy(X), params, case)
    J.backward()
    return float(J.detach()), torch_flat([p.grad for p in params])


def prepare(case, quick, folder):
    """Save the data of each dtype and theta0 where the children load them."""
    m = case.quick_m if quick else case.m
    X64 = load_natural_image_patches(m, case.side, random_state=0)
    n = X64.shape[1]
    theta0 = _objective.pack(_objective.initial_params(n, case.h, np.random.RandomState(0)))
    Xs = {dtype: X64.astype(dtype) for dtype in case.dtypes}
    np.save(folder / "theta0.npy", theta0)
    for dtype, X in Xs.items():
        np.save(folder / f"X_{dtype}.npy", X)
    return X64, Xs, theta0


def run_case(name, args, have_torch):
    """The rows of one case, ``args.rounds`` times over; returns the rows of each round."""
    case = CASES[name]
    n_iter = case.quick_iter if args.quick else case.n_iter
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        X64, Xs, theta0 = prepare(case, args.quick, folder)
        kernels = ["numba", "numpy"] if args.numba else ["numpy"]
        J0 = check_start(X64, Xs, theta0, case, have_torch, kernels)
        m, n = X64.shape
        print(
            f"\n== {name}: {m} x {n} patches, h={case.h}, rho={case.rho}, beta={case.beta}, "
            f"lam={case.lam}, {n_iter} L-BFGS iterations, best of {args.repeat} fit(s) per "
            f"process, median of {args.rounds} round(s); "
            f"J at the initial weights {J0:.6f} (same for every implementation)"
        )
        rounds = []
        for _ in range(args.rounds):
            # Every row once per round, so that a slow spell of the machine
            # falls on the rows of one round and the ratios of that round.
            rows = {}
            for dtype in case.dtypes:
                for impl, env in implementations(args, have_torch):
                    spec = child_spec(
                        folder,
                        case,
                        dtype,
                        implementation=impl,
                        theta_out=str(folder / "theta_out.npy"),
                        n_iter=n_iter,
                        repeat=args.repeat,
                    )
                    row = spawn_row(spec, env)
                    if "failed" not in row and Path(spec["theta_out"]).exists():
                        row["J"] = final_J(folder / "theta_out.npy", X64, case)
                    rows[(impl, dtype)] = row
            rounds.append(rows)
        print_table(median_rows(rounds), n_iter)
        for dtype in case.dtypes:
            print_evaluations(folder, case, dtype, kernels, args.quick)
            print_fits(folder, case, dtype, kernels, n_iter, args.quick)
    return rounds


def median_rows(rounds):
    """One row per implementation: the median time over the rounds, with its
    range, the largest memory growth, and the rest from the first round."""
    rows = {}
    for key, first in rounds[0].items():
        runs = [rows_of_round[key] for rows_of_round in rounds]
        failed = next((run for run in runs if "failed" in run), None)
        if failed:
            rows[key] = failed
            continue
        seconds = [run["seconds"] for run in runs]
        row = dict(first, seconds=float(np.median(seconds)), spread=(min(seconds), max(seconds)))
        row["peak_mib"] = max(run["peak_mib"] for run in runs)
        Js = [run["J"] for run in runs if "J" in run]
        if Js and max(Js) != min(Js):
            row["note"] = "; ".join(
                filter(
                    None,
                    [row.get("note"), f"final J over the rounds {min(Js):.8g} to {max(Js):.8g}"],
                )
            )
        rows[key] = row
    return rows


def implementations(args, have_torch):
    """(row label, environment of its process) of every row, in table order."""
    rows = [(f"{OURS} numba", {KERNEL_VARIABLE: "numba"})] if args.numba else []
    rows.append((f"{OURS} numpy", {KERNEL_VARIABLE: "numpy"}))
    if args.baseline:
        # The baseline checkout first on the path: its package, its kernel.
        path = os.pathsep.join(filter(None, [args.baseline, os.environ.get("PYTHONPATH")]))
        rows.append((f"{OURS} baseline", {KERNEL_VARIABLE: "numpy", "PYTHONPATH": path}))
    for peer in PEERS:
        if (peer != "PyTorch LBFGS" or have_torch) and peer not in args.without:
            rows.append((peer, {}))
    return rows


def final_J(path, X64, case):
    """J at the returned weights by the float64 port (one referee for every row)."""
    theta = np.load(path)
    path.unlink()
    return sparse_autoencoder_cost(theta, X64, case.h, case.rho, case.beta, case.lam)[0]


def print_table(rows, n_iter):
    print(
        f"{'implementation':<32} {'time (s)':>9} {'ms/iter':>9} {'ms/eval':>9} {'iters':>6} "
        f"{'evals':>6} {'final J':>10} {'peak +MiB':>10} {'time range (s)':>15}"
    )
    notes = []
    tolerance = {"float64": 1e-9, "float32": 1e-5}  # own J vs the float64 referee
    for (impl, dtype), row in rows.items():
        label = f"{impl} {dtype}"
        if "failed" in row:
            print(f"{label:<32} failed: {row['failed']}")
            continue
        evals = "-" if row["evals"] is None else str(row["evals"])
        per_eval = "-" if row["evals"] is None else f"{1e3 * row['seconds'] / row['evals']:.2f}"
        J = f"{row['J']:10.6f}" if "J" in row else f"{'' if impl == 'floor' else 'n/a':>10}"
        peak = ("" if row["peak_exact"] else ">=") + f"{row['peak_mib']:.1f}"
        print(
            f"{label:<32} {row['seconds']:9.2f} {1e3 * row['seconds'] / max(row['iters'], 1):9.2f} "
            f"{per_eval:>9} {row['iters']:6d} {evals:>6} {J} {peak:>10} "
            f"{row['spread'][0]:7.2f}-{row['spread'][1]:.2f}"
        )
        if row["iters"] != n_iter:
            notes.append(f"{label}: stopped after {row['iters']} of {n_iter} iterations")
        own = row.get("own_loss")
        if own is not None and "J" in row and abs(own - row["J"]) > tolerance[dtype] * row["J"]:
            notes.append(f"{label}: reports J = {own:.8g}, its weights give {row['J']:.8g}")
        if row.get("note"):
            notes.append(f"{label}: {row['note']}")
        if row.get("kernel"):
            notes.append(f"{label}: ran the {row['kernel']}")
    for note in notes:
        print(f"  note - {note}")


def ratio_line(label, pairs):
    """Time ratios, total, per iteration and per evaluation (which is what to
    compare when the other stopped early): the median over the rounds of each
    round's ratio, with their range when there are several."""
    if any(
        not ours or not theirs or "failed" in ours or "failed" in theirs for ours, theirs in pairs
    ):
        return f"{label}: n/a"
    ours, theirs = pairs[0]

    def ratio(per):
        values = [
            (o["seconds"] / (o[per] if per else 1)) / (t["seconds"] / (t[per] if per else 1))
            for o, t in pairs
        ]
        spread = f" [{min(values):.2f}-{max(values):.2f}]" if len(values) > 1 else ""
        return f"{np.median(values):.2f}{spread}"

    text = f"{label}: time {ratio(None)}"
    for unit, key in (("iteration", "iters"), ("evaluation", "evals")):
        if ours[key] and theirs[key]:
            text += f", per {unit} {ratio(key)}"
    if ours["iters"] != theirs["iters"]:
        text += f" (iterations differ: {ours['iters']} vs {theirs['iters']})"
    return text


def print_ratios(results):
    print(
        "\n== ratios: skl-sparse-ae / the other, same dtype unless named (below 1: skl-sparse-ae"
        " is faster);"
        " median of the rounds' ratios [their range]"
    )
    for name, rounds in results.items():
        labels = list(dict.fromkeys(label for label, _ in rounds[0]))
        ours_labels = [label for label in labels if label.startswith(OURS)]
        for dtype in CASES[name].dtypes:
            for label in ours_labels:
                # Each of our rows against the peers and the rows of ours below it.
                for other in labels[labels.index(label) + 1 :]:
                    line = f"{name} {dtype} {label.removeprefix(OURS).strip()} vs {other}"
                    pairs = [
                        (rows.get((label, dtype)), rows.get((other, dtype))) for rows in rounds
                    ]
                    print(ratio_line(line, pairs))
                if dtype != "float64" and "float64" in CASES[name].dtypes:
                    # float32 fits against the float64 reference (an acceptance line)
                    short = label.removeprefix(OURS).strip()
                    line = f"{name} {dtype} {short} vs PyTorch LBFGS float64"
                    pairs = [
                        (rows.get((label, dtype)), rows.get(("PyTorch LBFGS", "float64")))
                        for rows in rounds
                    ]
                    print(ratio_line(line, pairs))
                ours, theirs = (
                    rounds[0].get((label, dtype)),
                    rounds[0].get(("PyTorch LBFGS", dtype)),
                )
                if ours and theirs and "J" in ours and "J" in theirs:
                    diff = (ours["J"] - theirs["J"]) / theirs["J"]
                    print(f"{name} {dtype} final J, {label} vs PyTorch: {diff:+.3%}")


def machine_line():
    """The CPU, its SIMD level, and what NumPy and numba make of it."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
    except (OSError, StopIteration):
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__
    simd = next(
        (
            level
            for level in ("AVX512_SKX", "AVX2", "SSE42", "ASIMD")
            if __cpu_features__.get(level)
        ),
        "baseline",
    )
    text = f"CPU: {model}, {os.cpu_count()} logical cores, SIMD: {simd}"
    try:
        from numpy.lib.introspect import opt_func_info

        target = opt_func_info(func_name="^tanh$")["tanh"]["dd"]["current"]
        text += f", NumPy float64 tanh: {target}"
    except (ImportError, KeyError):
        pass
    try:
        import llvmlite.binding

        text += f", numba/LLVM target: {llvmlite.binding.get_host_cpu_name()}"
    except ImportError:
        pass
    return text


def importable(module, rows):
    """Whether ``module`` imports; if not, says which rows are skipped."""
    try:
        __import__(module)
    except Exception as error:  # a broken install counts as missing, too
        print(f"note: {module} is not importable ({error}): {rows} are skipped")
        return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--repeat", type=int, default=1, help="best of K fits per row")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every row R times, in turn; times and ratios are medians over the rounds",
    )
    parser.add_argument("--quick", action="store_true", help="fewer iterations: a smoke run")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also time the skl-sparse-ae of this checkout (its NumPy kernel), e.g. main's",
    )
    parser.add_argument(
        "--without",
        nargs="+",
        default=[],
        choices=[peer for peer in PEERS if peer != "floor"],
        metavar="PEER",
        help=f"leave out these peers' rows (of {', '.join(PEERS[:-1])})",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--evaluations", help=argparse.SUPPRESS)
    parser.add_argument("--fits", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_row(json.loads(args.child))))
        return
    if args.evaluations:
        print(json.dumps(run_evaluations(json.loads(args.evaluations))))
        return
    if args.fits:
        print(json.dumps(run_fits(json.loads(args.fits))))
        return
    if args.baseline and not (Path(args.baseline) / "skl_sparse_ae" / "__init__.py").exists():
        parser.error(f"--baseline {args.baseline}: no skl_sparse_ae package in it")
    print(machine_line())
    args.numba = importable("numba", "the numba kernel's rows")
    have_torch = importable("torch", "the PyTorch rows")
    results = {}
    for name in CASES if args.case == "all" else [args.case]:
        results[name] = run_case(name, args, have_torch)
    print_ratios(results)


if __name__ == "__main__":
    main()
