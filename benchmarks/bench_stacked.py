"""Stacked autoencoders on the nudged digits: fine-tuned vs greedy vs an MLP from random weights.

Usage: python benchmarks/bench_stacked.py [--pretrain-max-iter K] [--max-iter K] [--float64]

The setup of scikit-learn's example "Restricted Boltzmann Machine features for
digit classification": the 8×8 digits nudged by one pixel in 4 directions (5× the
data), min-max scaled to [0, 1], 80/20 train_test_split with random_state=0. Three
models with the same two hidden layers of logistic units:

- fine-tuned: StackedAutoencoderClassifier (greedy pretraining, softmax, fine-tuning);
- greedy: the same two SparseAutoencoder layers (clones of the stack's, with its seeds)
  in a Pipeline + LogisticRegression;
- MLP: MLPClassifier(activation="logistic", solver="lbfgs") from random weights, for
  as many L-BFGS iterations as the fine-tuning.

It prints the CPU model, then one row per model: test accuracy and fit time.
With ``--one-thread`` every fit runs with one BLAS/OpenMP thread (threadpoolctl):
scikit-learn's L-BFGS models alternate between NumPy's and SciPy's OpenBLAS, whose
idle threads busy-wait, which on busy cores made a LogisticRegression fit 100×
slower than with one thread.
"""

import argparse
import contextlib
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from bench_adam import cpu_model  # noqa: E402

from skl_sparse_ae import StackedAutoencoderClassifier
from skl_sparse_ae.datasets import load_nudged_digits

HIDDEN = (200, 100)
RHO, BETA, LAM = (0.05, 0.1), (0.3, 3.0), 1e-4


def nudged_digits_split(dtype):
    """The RBM example's data and split: 80/20, ``random_state=0``."""
    X, y = load_nudged_digits(dtype=dtype, return_X_y=True)
    return train_test_split(X, y, test_size=0.2, random_state=0)


def stacked_model(pretrain_max_iter, max_iter):
    return StackedAutoencoderClassifier(
        HIDDEN,
        rho=RHO,
        beta=BETA,
        lam=LAM,
        pretrain_max_iter=pretrain_max_iter,
        max_iter=max_iter,
        random_state=0,
    )


def greedy_model(stacked):
    """Clones of the stack's autoencoders (same seeds: the same layers) + LogisticRegression."""
    layers = [clone(autoencoder) for autoencoder in stacked.autoencoders_]
    return make_pipeline(*layers, LogisticRegression(C=10, max_iter=1000))


def mlp_model(max_iter):
    return MLPClassifier(
        HIDDEN, activation="logistic", solver="lbfgs", max_iter=max_iter, random_state=0
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-max-iter", type=int, default=200)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--float64", action="store_true")
    parser.add_argument("--one-thread", action="store_true")
    args = parser.parse_args()
    X_train, X_test, y_train, y_test = nudged_digits_split(
        np.float64 if args.float64 else np.float32
    )
    threads = "one thread" if args.one_thread else "default threads"
    print(f"CPU: {cpu_model()}; X_train {X_train.shape} {X_train.dtype}; {threads}")
    print(f"{'model':<26}{'accuracy':>10}{'fit time':>10}")

    def fit_and_print(name, model):
        limit = threadpool_limits(1) if args.one_thread else contextlib.nullcontext()
        start = time.perf_counter()
        with limit, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        print(f"{name:<26}{model.score(X_test, y_test):>10.4f}{elapsed:>9.1f}s", flush=True)

    stacked = stacked_model(args.pretrain_max_iter, args.max_iter)
    fit_and_print("fine-tuned stack", stacked)
    fit_and_print("greedy stack + LogReg", greedy_model(stacked))
    fit_and_print("MLP from random weights", mlp_model(args.max_iter))


if __name__ == "__main__":
    main()
