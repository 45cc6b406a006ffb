"""Adam against L-BFGS on many patch sources, by the exact J.

Usage: python benchmarks/bench_adam_sources.py [--only NAME] [--seeds 0 1 2]
           [--set PARAM=VALUE ...] [--references FILE] [--json FILE]

For every patch source (the seven photographs of
``load_natural_image_patches`` together and one by one, the seven without
whitening, other images that scikit-image and scikit-learn ship, and
scikit-learn's digits), the UFLDL settings (8x8 patches, 10 000 of them,
h=25, rho=0.01, beta=3, lam=1e-4) are fitted with L-BFGS for 400 iterations
(tol=0, the reference) and with ``solver="adam", max_iter=200`` and every
other setting at its default, for each seed, and the table prints J_adam /
J_lbfgs (the goal: at most 1.05 everywhere). J is ``loss_``: the exact
objective over all the rows at the final weights.

``--set`` overrides Adam's parameters (to try other defaults); ``--references``
keeps the L-BFGS results in a JSON file, so that a second run with other
``--set`` values fits Adam only. Run one at a time: the fits use both cores.
"""

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_sample_image
from sklearn.feature_extraction.image import extract_patches_2d

from skl_sparse_ae import SparseAutoencoder
from skl_sparse_ae.datasets import (
    load_natural_image_patches,
    load_nudged_digits,
    normalize_patches,
    whiten_image,
)

sys.path.insert(0, str(Path(__file__).parent))
from bench_adam import cpu_model  # noqa: E402

SETTINGS = dict(n_components=25, rho=0.01, beta=3.0, lam=1e-4)
N_PATCHES, PATCH = 10_000, 8

# The seven photographs of load_natural_image_patches, and other images of
# scikit-image's data folder that are photographs (or close to them).
SEVEN = ("astronaut", "camera", "chelsea", "coffee", "coins", "grass", "gravel")
OTHERS = ("brick", "rocket", "moon", "motorcycle_left", "retina", "hubble_deep_field")


def _grey(image):
    image = np.asarray(image, dtype=np.float64) / 255.0
    return image[..., :3] @ np.array([0.299, 0.587, 0.114]) if image.ndim == 3 else image


def _skimage_file(name):
    """A grey image of scikit-image's installed data folder (never downloaded)."""
    import skimage
    from skimage.io import imread

    folder = Path(skimage.__file__).parent / "data"
    (path,) = [p for p in folder.iterdir() if p.stem == name and p.suffix in (".png", ".jpg")]
    return _grey(imread(path))


def patches_of(image):
    """The UFLDL patches of one image: whitened, 10 000 8x8 patches, normalised."""
    patches = extract_patches_2d(
        whiten_image(image), (PATCH, PATCH), max_patches=N_PATCHES, random_state=0
    )
    return normalize_patches(patches.reshape(N_PATCHES, PATCH * PATCH))


def sources():
    """Name → a function giving that source's rows."""
    out = {
        "seven": lambda: load_natural_image_patches(N_PATCHES, PATCH, random_state=0),
        "seven, not whitened": lambda: load_natural_image_patches(
            N_PATCHES, PATCH, whiten=False, random_state=0
        ),
    }
    for name in (*SEVEN, *OTHERS):
        out[name] = lambda name=name: patches_of(_skimage_file(name))
    for name in ("china.jpg", "flower.jpg"):  # scikit-learn's two sample photographs
        out[name] = lambda name=name: patches_of(_grey(load_sample_image(name)))
    # 8985 x 64 digits in [0, 1], each image a patch.
    out["digits (nudged)"] = lambda: load_nudged_digits().data
    return out


def fit(X, seed, **params):
    model = SparseAutoencoder(**SETTINGS, random_state=seed, **params)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return model, time.perf_counter() - start


def parse_value(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="only these sources")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--set", nargs="*", default=[], metavar="PARAM=VALUE")
    parser.add_argument("--references", help="a JSON file keeping the L-BFGS results")
    parser.add_argument("--json", help="write the rows to this JSON file")
    args = parser.parse_args()
    overrides = {k: parse_value(v) for k, v in (item.split("=", 1) for item in args.set)}
    adam_params = {"solver": "adam", "max_iter": 200, **overrides}
    references = {}
    if args.references and Path(args.references).exists():
        references = json.loads(Path(args.references).read_text())
    print(f"CPU: {cpu_model()}, {len(os.sched_getaffinity(0))} cores")
    print(f"Adam: {adam_params}, other parameters at their defaults; L-BFGS 400 iterations")
    print(
        f"{'source':<20} {'seed':>4} {'L-BFGS J':>9} {'stop':>10} {'Adam J':>9} "
        f"{'epochs':>6} {'time':>6} {'ratio':>6}",
        flush=True,
    )
    rows = []
    for name, load in sources().items():
        if args.only and name not in args.only:
            continue
        X = load()
        for seed in args.seeds:
            key = f"{name}/{seed}"
            if key not in references:
                lbfgs, _ = fit(X, seed, max_iter=400, tol=0.0)
                references[key] = {"loss": lbfgs.loss_, "stop": lbfgs.stop_reason_}
                if args.references:
                    Path(args.references).write_text(json.dumps(references, indent=1))
            reference = references[key]
            adam, seconds = fit(X, seed, **adam_params)
            ratio = adam.loss_ / reference["loss"]
            rows.append(
                dict(
                    source=name,
                    seed=seed,
                    lbfgs=reference["loss"],
                    adam=adam.loss_,
                    epochs=adam.n_iter_,
                    seconds=seconds,
                    ratio=ratio,
                )
            )
            print(
                f"{name:<20} {seed:>4} {reference['loss']:9.4f} {reference['stop']:>10} "
                f"{adam.loss_:9.4f} {adam.n_iter_:>6} {seconds:5.1f}s {ratio:6.3f}",
                flush=True,
            )
    worst = max(rows, key=lambda row: row["ratio"])
    print(
        f"worst: {worst['ratio']:.3f} ({worst['source']}, seed {worst['seed']}); "
        f"{sum(row['ratio'] > 1.05 for row in rows)} of {len(rows)} above 1.05"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"adam": adam_params, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
