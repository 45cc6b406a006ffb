"""Fit time of skl-sparse-ae against its peers, side by side, in one run.

Usage: python benchmarks/bench_fit.py [--case ufldl|large|all] [--quick]

Same data, same initial weights, same number of L-BFGS iterations for:
skl-sparse-ae (float64, float32); a straightforward NumPy port of the UFLDL
cost driven by scipy's L-BFGS-B; PyTorch's torch.optim.LBFGS on the same
objective (if torch is installed); scikit-learn's MLPRegressor fitted X -> X
(less work: no sparsity term, so its J is not comparable); and the floor, the
time of the five matrix products of one evaluation times the iterations.
"""

import argparse
import time
import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.neural_network import MLPRegressor

from skl_sparse_ae import SparseAutoencoder, _objective
from skl_sparse_ae.datasets import load_natural_image_patches

CASES = {
    # name: (patch side, n_samples, dtype of the data, h, rho, beta, lam, iterations)
    "ufldl": (8, 10_000, np.float64, 25, 0.01, 3.0, 1e-4, 400),
    "large": (28, 60_000, np.float32, 196, 0.1, 3.0, 3e-3, 10),
}


def ufldl_numpy_port(theta, X, h, rho, beta, lam):
    """The vectorised UFLDL sparseAutoencoderCost as a student writes it."""
    m, n = X.shape
    W1 = theta[: h * n].reshape(h, n)
    W2 = theta[h * n : 2 * h * n].reshape(h, n).T
    b1, b2 = theta[2 * h * n : 2 * h * n + h], theta[2 * h * n + h :]
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
    return J, grad


def fit_ours(X, h, rho, beta, lam, n_iter):
    model = SparseAutoencoder(
        h, rho=rho, beta=beta, lam=lam, max_iter=n_iter, tol=0.0, random_state=0
    )
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start, model.n_iter_, model.loss_


def fit_numpy_port(X, theta0, h, rho, beta, lam, n_iter):
    start = time.perf_counter()
    result = minimize(
        ufldl_numpy_port,
        theta0,
        args=(X, h, rho, beta, lam),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": n_iter, "gtol": 0, "ftol": 0},
    )
    return time.perf_counter() - start, result.nit, result.fun


def fit_torch(X, theta0, h, rho, beta, lam, n_iter):
    import torch

    torch.set_num_threads(2)
    n = X.shape[1]
    dtype = torch.float64 if X.dtype == np.float64 else torch.float32
    p = _objective.unpack(theta0, n, h)
    Xt = torch.from_numpy(X)
    W1, W2T = (torch.tensor(w, dtype=dtype, requires_grad=True) for w in (p.W1, p.W2T))
    b1, b2 = (torch.zeros(k, dtype=dtype, requires_grad=True) for k in (h, n))
    opt = torch.optim.LBFGS(
        [W1, W2T, b1, b2],
        lr=1,
        max_iter=n_iter,
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_grad=0,
        tolerance_change=0,
    )

    def closure():
        opt.zero_grad()
        A2 = torch.sigmoid(Xt @ W1.T + b1)
        X_hat = torch.sigmoid(A2 @ W2T + b2)
        rho_hat = A2.mean(0)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        J = ((X_hat - Xt) ** 2).sum() / (2 * len(Xt))
        J = J + lam / 2 * ((W1**2).sum() + (W2T**2).sum()) + beta * kl.sum()
        J.backward()
        return J

    start = time.perf_counter()
    opt.step(closure)
    elapsed = time.perf_counter() - start
    return elapsed, opt.state[opt._params[0]]["n_iter"], closure().item()


def fit_mlp(X, h, lam, n_iter):
    model = MLPRegressor(
        hidden_layer_sizes=(h,),
        activation="logistic",
        solver="lbfgs",
        max_iter=n_iter,
        tol=0,
        alpha=lam,
        random_state=0,
    )
    start = time.perf_counter()
    model.fit(X, X)
    return time.perf_counter() - start, model.n_iter_, float("nan")


def floor(X, h, n_iter, repeats=20):
    """The five products of one evaluation, on preallocated arrays."""
    m, n = X.shape
    W = np.ones((h, n), X.dtype)
    A, D = np.ones((m, h), X.dtype), np.ones((m, n), X.dtype)
    out_h, out_n, out_w = np.empty((m, h), X.dtype), np.empty((m, n), X.dtype), np.empty_like(W)
    start = time.perf_counter()
    for _ in range(repeats):
        np.matmul(X, W.T, out=out_h)
        np.matmul(A, W, out=out_n)
        np.matmul(D, W.T, out=out_h)
        np.matmul(A.T, D, out=out_w)
        np.matmul(out_h.T, X, out=out_w)
    return (time.perf_counter() - start) / repeats * n_iter, n_iter, float("nan")


def run_case(name, quick):
    side, m, data_dtype, h, rho, beta, lam, n_iter = CASES[name]
    if quick:
        m, n_iter = m // 10, max(3, n_iter // 20)
    X64 = load_natural_image_patches(m, side, random_state=0)
    n = X64.shape[1]
    theta0 = _objective.pack(_objective.initial_params(n, h, np.random.RandomState(0)))
    # Every implementation starts from the same J: guards against a port
    # that computes another objective.
    J0 = _objective.loss_and_grad(theta0, X64, h, rho, beta, lam)[0]
    assert np.isclose(ufldl_numpy_port(theta0, X64, h, rho, beta, lam)[0], J0, rtol=1e-6)
    print(
        f"\n== {name}: {m} x {n} patches, h={h}, rho={rho}, beta={beta}, lam={lam}, "
        f"{n_iter} L-BFGS iterations, J at start {J0:.6f}"
    )
    dtypes = (np.float64, np.float32) if data_dtype == np.float64 else (np.float32,)
    rows = {}
    for dtype in dtypes:
        X = X64.astype(dtype)
        label = dtype.__name__
        rows[f"skl-sparse-ae {label}"] = fit_ours(X, h, rho, beta, lam, n_iter)
        try:
            rows[f"PyTorch LBFGS {label}"] = fit_torch(X, theta0, h, rho, beta, lam, n_iter)
        except ImportError:
            print("(torch is not installed: no PyTorch rows)")
        rows[f"floor (5 products) {label}"] = floor(X, h, n_iter)
    rows["NumPy port float64"] = fit_numpy_port(X64, theta0, h, rho, beta, lam, n_iter)
    rows["MLPRegressor float64"] = fit_mlp(X64.astype(data_dtype), h, lam, n_iter)
    print(f"{'implementation':<26} {'time (s)':>9} {'iters':>6} {'ms/iter':>9} {'final J':>10}")
    for label, (seconds, iters, J) in rows.items():
        print(
            f"{label:<26} {seconds:9.2f} {iters:6d} {seconds / max(iters, 1) * 1e3:9.2f} {J:10.6f}"
        )
    for dtype in dtypes:
        label = dtype.__name__
        ours, torch_row = rows[f"skl-sparse-ae {label}"], rows.get(f"PyTorch LBFGS {label}")
        per_iter = ours[0] / ours[1]
        print(
            f"{label}: per iteration / floor = "
            f"{per_iter / (rows[f'floor (5 products) {label}'][0] / n_iter):.2f}",
            end="",
        )
        if torch_row:
            print(
                f"; time / PyTorch = {ours[0] / torch_row[0]:.2f} (per iteration "
                f"{per_iter / (torch_row[0] / max(torch_row[1], 1)):.2f}); J vs PyTorch "
                f"{(ours[2] - torch_row[2]) / torch_row[2]:+.2%}",
                end="",
            )
        print(f"; time / MLPRegressor = {ours[0] / rows['MLPRegressor float64'][0]:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for name in CASES if args.case == "all" else [args.case]:
        run_case(name, args.quick)


if __name__ == "__main__":
    main()
