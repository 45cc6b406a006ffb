"""Minibatch Adam with its default settings against L-BFGS, by the exact J.

Usage: python benchmarks/bench_adam.py [--large-samples 2000000] [--large-lbfgs-iter 400]
                                       [--large-epochs 2] [--skip-large] [--skip-small]
                                       [--data-file X.npy]

1. UFLDL case: ``load_natural_image_patches(10000, 8)``, h=25, rho=0.01,
   beta=3, lam=1e-4; L-BFGS 400 iterations (tol=0) against
   ``solver="adam", max_iter=200`` with every other setting at its default,
   for random_state 0, 1, 2.
2. ``partial_fit``: 30 passes over the same 10 000 patches split in 10 chunks
   of 1000, each pass a call on each chunk in turn, for random_state 0, 1, 2.
3. Large case: the 2M x 64 float32 patches of ``bench_scaling.py``; L-BFGS
   for ``--large-lbfgs-iter`` iterations against ``partial_fit`` with default
   settings over chunks of 100 000 rows, J over all rows after every chunk
   (not timed), until ``--large-epochs`` epochs.

J is always the exact objective over all the training rows at the final
weights (``_objective.evaluate``), never the mean minibatch loss of an epoch.
"""

import argparse
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from skl_sparse_ae import SparseAutoencoder, _objective
from skl_sparse_ae.datasets import load_natural_image_patches

SETTINGS = dict(n_components=25, rho=0.01, beta=3.0, lam=1e-4)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def exact_loss(model, X):
    theta = _objective.pack(model._params(X.dtype))
    return _objective.evaluate(theta, X, 25, 0.01, 3.0, 1e-4, "logistic")[0]


def timed_fit(model, X):
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start


def ufldl(X, seeds):
    print("\n== UFLDL patches: L-BFGS 400 iterations vs Adam defaults, max_iter=200")
    print(
        f"{'seed':>4} {'L-BFGS J':>9} {'time':>6} {'Adam J':>8} {'epochs':>6} "
        f"{'time':>6} {'ratio':>6}"
    )
    references = {}
    for seed in seeds:
        lbfgs = SparseAutoencoder(**SETTINGS, max_iter=400, tol=0.0, random_state=seed)
        lbfgs_time = timed_fit(lbfgs, X)
        adam = SparseAutoencoder(**SETTINGS, solver="adam", max_iter=200, random_state=seed)
        adam_time = timed_fit(adam, X)
        j_lbfgs, j_adam = exact_loss(lbfgs, X), exact_loss(adam, X)
        references[seed] = j_lbfgs
        print(
            f"{seed:>4} {j_lbfgs:9.4f} {lbfgs_time:5.1f}s {j_adam:8.4f} {adam.n_iter_:>6} "
            f"{adam_time:5.1f}s {j_adam / j_lbfgs:6.3f}"
        )
    return references


def streamed(X, references):
    print("\n== partial_fit, defaults: 30 passes over 10 chunks of 1000 patches")
    print(f"{'seed':>4} {'L-BFGS J':>9} {'Adam J':>8} {'time':>6} {'ratio':>6}")
    chunks = np.array_split(X, 10)
    for seed, j_lbfgs in references.items():
        model = SparseAutoencoder(**SETTINGS, solver="adam", random_state=seed)
        start = time.perf_counter()
        for _ in range(30):
            for chunk in chunks:
                model.partial_fit(chunk)
        elapsed = time.perf_counter() - start
        j_adam = exact_loss(model, X)
        print(f"{seed:>4} {j_lbfgs:9.4f} {j_adam:8.4f} {elapsed:5.1f}s {j_adam / j_lbfgs:6.3f}")


def large(n_samples, lbfgs_iter, epochs):
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_scaling import make_data

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "patches.npy"
        make_data(path, n_samples)
        X = np.load(path)
    print(f"\n== {n_samples} x 64 float32 patches (bench_scaling.py's data), random_state 0")
    lbfgs = SparseAutoencoder(**SETTINGS, max_iter=lbfgs_iter, tol=0.0, random_state=0)
    lbfgs_time = timed_fit(lbfgs, X)
    j_lbfgs = exact_loss(lbfgs, X)
    print(f"L-BFGS {lbfgs_iter} iterations: J = {j_lbfgs:.4f} in {lbfgs_time:.1f} s")
    # loss_curve_ holds the exact J after each iteration.
    within = next(i for i, j in enumerate(lbfgs.loss_curve_, 1) if j <= 1.05 * j_lbfgs)
    print(
        f"L-BFGS itself first within 5% of that J at iteration {within} "
        f"(about {lbfgs_time * within / lbfgs.n_iter_:.1f} s)"
    )
    model = SparseAutoencoder(**SETTINGS, solver="adam", random_state=0)
    step, trained, first_within = 100_000, 0.0, None
    print(f"{'epoch':>5} {'rows seen':>10} {'train time':>10} {'J':>8} {'ratio':>6}")
    for epoch in range(epochs):
        for start in range(0, n_samples, step):
            begin = time.perf_counter()
            model.partial_fit(X[start : start + step])
            trained += time.perf_counter() - begin
            j = exact_loss(model, X)
            rows = epoch * n_samples + min(start + step, n_samples)
            if first_within is None and j <= 1.05 * j_lbfgs:
                first_within = (rows, trained, j)
            if start % (5 * step) == 0 or start + step >= n_samples:
                print(f"{epoch + 1:>5} {rows:>10} {trained:9.1f}s {j:8.4f} {j / j_lbfgs:6.3f}")
    if first_within:
        rows, seconds, j = first_within
        print(
            f"Adam first within 5% of L-BFGS's J after {rows} rows "
            f"({rows / n_samples:.2f} epochs) and {seconds:.1f} s of training (J = {j:.4f}), "
            f"against {lbfgs_time:.1f} s for L-BFGS"
        )
    else:
        print(f"Adam not within 5% of L-BFGS's J after {epochs} epoch(s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-samples", type=int, default=2_000_000)
    parser.add_argument("--large-lbfgs-iter", type=int, default=400)
    parser.add_argument("--large-epochs", type=int, default=2)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-small", action="store_true")
    parser.add_argument(
        "--data-file", help="a saved .npy array to use in place of the UFLDL patches"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"CPU: {cpu_model()}, {len(__import__('os').sched_getaffinity(0))} cores")
    if not args.skip_small:
        if args.data_file:
            X = np.load(args.data_file)
        else:
            X = load_natural_image_patches(10000, 8, random_state=0)
        references = ufldl(X, seeds=(0, 1, 2))
        streamed(X, references)
    if not args.skip_large:
        large(args.large_samples, args.large_lbfgs_iter, args.large_epochs)


if __name__ == "__main__":
    main()
