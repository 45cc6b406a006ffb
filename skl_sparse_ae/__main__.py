"""Command line: ``python -m skl_sparse_ae demo [--out DIR] [--random-state N]``."""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _kernels
from ._autoencoder import SparseAutoencoder
from .datasets import load_natural_image_patches
from .diagnostics import sparsity_report
from .plotting import tile_filters

# The UFLDL sparse autoencoder exercise on natural image patches.
DEMO_SETTINGS = dict(n_components=25, rho=0.01, beta=3.0, lam=1e-4, max_iter=400)


def _save_png(image, path, zoom):
    """Write a [-1, 1] grey image as an upscaled 8-bit PNG."""
    from PIL import Image  # available: scikit-image, which loaded the photographs, needs it

    pixels = np.round((image + 1.0) * 127.5).astype(np.uint8)
    pixels = np.kron(pixels, np.ones((zoom, zoom), dtype=np.uint8))
    Image.fromarray(pixels, mode="L").save(path)


def demo(out=".", n_patches=10000, max_iter=DEMO_SETTINGS["max_iter"], random_state=0, verbose=1):
    """Train the UFLDL natural-image model and write its filters to ``out/filters.png``.

    ``random_state`` sets both the patch positions and the initial weights.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X = load_natural_image_patches(n_patches=n_patches, patch_size=8, random_state=random_state)
    settings = {**DEMO_SETTINGS, "max_iter": max_iter}
    print(
        f"Training a sparse autoencoder on {X.shape[0]} natural image patches "
        f"of 8x8 pixels ({', '.join(f'{k}={v}' for k, v in settings.items())})",
        flush=True,
    )
    model = SparseAutoencoder(**settings, random_state=random_state, verbose=verbose)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Stopping at max_iter is the exercise's setting, reported in the summary.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    elapsed = time.perf_counter() - start
    kernel = _kernels.default_kernel().name
    stop = "max_iter reached" if model.n_iter_ >= max_iter else "converged"
    path = out / "filters.png"
    _save_png(tile_filters(model.components_), path, zoom=8)
    # Counted on the training patches: the more samples, the surer a unit never fires.
    report = sparsity_report(model, X)
    print(
        f"Done in {elapsed:.1f}s ({kernel} kernel): {model.n_iter_} iterations ({stop}), "
        f"loss J = {model.loss_:.6f}, "
        f"mean activation {model.mean_activation_.mean():.4f} (rho = {model.rho}); "
        f"on the patches: {int(report.dead_units.sum())} of {model.n_components} units "
        f"dead (never above {report.threshold}), "
        f"{report.l0:.3f} units above it per patch (L0), "
        f"{report.fraction_of_variance_unexplained:.3f} of the variance unexplained; "
        f"filters written to {path}",
        flush=True,
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m skl_sparse_ae",
        description="Sparse autoencoder (UFLDL) as a scikit-learn estimator.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "demo",
        help="learn edge filters from natural image patches and save filters.png",
        description="Train the UFLDL sparse autoencoder exercise (8x8 patches, 25 hidden "
        "units, rho=0.01, beta=3, lam=1e-4, 400 L-BFGS iterations) on patches of "
        "photographs that scikit-image ships and write the learned filters to "
        "DIR/filters.png.",
    )
    run.add_argument("--out", default=".", metavar="DIR", help="output folder (default: .)")
    run.add_argument(
        "--n-patches",
        type=int,
        default=10000,
        metavar="N",
        help="patches to train on (default: 10000)",
    )
    run.add_argument(
        "--max-iter",
        type=int,
        default=DEMO_SETTINGS["max_iter"],
        metavar="N",
        help="L-BFGS iterations (default: 400)",
    )
    run.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="N",
        help="seed of the patch positions and of the initial weights (default: 0)",
    )
    run.add_argument("--quiet", action="store_true", help="no per-iteration progress lines")
    args = parser.parse_args(argv)
    if args.n_patches < 1 or args.max_iter < 1:
        parser.error("--n-patches and --max-iter must be positive")
    if not 0 <= args.random_state < 2**32:
        parser.error("--random-state must be between 0 and 2**32 - 1")
    demo(
        args.out,
        n_patches=args.n_patches,
        max_iter=args.max_iter,
        random_state=args.random_state,
        verbose=0 if args.quiet else 1,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
