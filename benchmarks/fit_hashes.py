"""SHA-256 of fitted arrays and outputs, for proving a refactoring changed no bit.

Fits every family option with both solvers and both dtypes, the stacked
classifier and ZCA on a small data set (several row chunks, so the threads
and the chunk loop are exercised), and prints one line per case: its name
and the SHA-256 of all its fitted arrays and of transform, inverse_transform
and score_samples on the training data. Run it before and after a change,
under each kernel, and compare the outputs::

    SKL_SPARSE_AE_KERNEL=numpy python benchmarks/fit_hashes.py > before-numpy.txt
    SKL_SPARSE_AE_KERNEL=numba python benchmarks/fit_hashes.py > before-numba.txt
    ... change ...
    SKL_SPARSE_AE_KERNEL=numpy python benchmarks/fit_hashes.py | diff before-numpy.txt -

The hashes depend on the CPU (NumPy's and numba's vectorised paths differ
between AVX2 and AVX-512) and on the library versions: compare runs on one
machine only. Every parameter is given explicitly, so that a change of a
default does not show as a change of the computation.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import hashlib
import sys
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits

from skl_sparse_ae import SparseAutoencoder, StackedAutoencoderClassifier, ZCAWhitening

BASE = dict(
    n_components=25,
    rho=0.05,
    beta=3.0,
    lam=1e-4,
    decoder_activation="logistic",
    max_iter=25,
    tol=0.0,
    n_iter_no_change=10,
    batch_size=200,
    learning_rate_init=1e-2,
    activation_decay=0.99,
    shuffle=True,
    random_state=0,
)

VARIANTS = {
    "ufldl": {},
    "sparse-tail": dict(rho=0.01, beta=30.0),  # dying units: the exact float64 tail
    "identity": dict(decoder_activation="identity"),
    "no-sparsity": dict(beta=0.0),
    "l1": dict(sparsity_penalty="l1", beta=0.003),
    "k-sparse": dict(k=5, transform_k=8),
    "tied": dict(tied_weights=True),
    "masking": dict(corruption="masking", corruption_level=0.3),
    "gaussian": dict(corruption="gaussian", corruption_level=0.1),
    "k-tied-l1": dict(k=6, tied_weights=True, sparsity_penalty="l1", beta=0.01),
}


def data():
    """Digits in [0, 1] and a noisy copy: 3594 x 64, four row chunks."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    noisy = np.clip(X + np.random.RandomState(0).normal(scale=0.05, size=X.shape), 0, 1)
    return np.vstack([X, noisy]), np.concatenate([y, y])


def digest(arrays):
    sha = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        sha.update(str((array.dtype, array.shape)).encode())
        sha.update(array.tobytes())
    return sha.hexdigest()[:32]


# The fitted attributes hashed: the computation's results, named once so that
# an attribute added later (a stop reason, say) does not show as a change.
HASHED = {
    "SparseAutoencoder": (
        "components_",
        "decoder_components_",
        "intercept_hidden_",
        "intercept_visible_",
        "loss_",
        "loss_curve_",
        "mean_activation_",
        "n_iter_",
    ),
    "StackedAutoencoderClassifier": (
        "autoencoders_",
        "classes_",
        "coefs_",
        "intercepts_",
        "loss_",
        "loss_curve_",
        "n_iter_",
        "pretrained_coefs_",
        "pretrained_intercepts_",
    ),
    "ZCAWhitening": (
        "components_",
        "dewhitening_",
        "explained_variance_",
        "mean_",
        "whitening_",
    ),
}


SKIPPED = set()  # attributes left out (--skip)


def fitted_arrays(estimator):
    """The arrays of the :data:`HASHED` attributes; those of fitted sub-estimators too."""
    out = []
    for name in HASHED[type(estimator).__name__]:
        if name in SKIPPED:
            continue
        value = getattr(estimator, name)
        for part in value if isinstance(value, list | tuple) else [value]:
            if isinstance(part, BaseEstimator):
                out.extend(fitted_arrays(part))
            else:
                out.append(np.asarray(part))
    return out


def autoencoder_cases(X):
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        for solver in ("lbfgs", "adam"):
            for name, options in VARIANTS.items():
                params = {**BASE, **options, "solver": solver}
                if solver == "adam":
                    params["max_iter"] = 3
                model = SparseAutoencoder(**params).fit(Xd)
                codes = model.transform(Xd)
                outputs = [codes, model.inverse_transform(codes), model.score_samples(Xd)]
                yield (
                    f"ae {np.dtype(dtype).name} {solver} {name}",
                    fitted_arrays(model) + outputs,
                )


def other_cases(X, y):
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        clf = StackedAutoencoderClassifier(
            hidden_layer_sizes=(20, 10),
            pretrain_max_iter=15,
            softmax_max_iter=15,
            max_iter=15,
            random_state=0,
        ).fit(Xd, y)
        yield (
            f"classifier {np.dtype(dtype).name}",
            fitted_arrays(clf) + [clf.predict_proba(Xd), clf.transform(Xd)],
        )
        zca = ZCAWhitening(epsilon=0.1).fit(Xd)
        yield f"zca {np.dtype(dtype).name}", fitted_arrays(zca) + [zca.transform(Xd)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only the cases whose name contains this")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="ATTRIBUTE",
        help="leave this fitted attribute out (e.g. a curve whose meaning changed)",
    )
    args = parser.parse_args(argv)
    SKIPPED.update(args.skip)
    warnings.simplefilter("ignore")
    X, y = data()
    for name, arrays in [*autoencoder_cases(X), *other_cases(X, y)]:
        if args.only in name:
            print(f"{name:<40} {digest(arrays)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
