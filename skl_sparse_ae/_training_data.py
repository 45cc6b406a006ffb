"""What a SparseAutoencoder trains on: X validated, its backend, the variant
of J the parameters ask for, and the noise of a denoising autoencoder."""

# SPDX-License-Identifier: BSD-3-Clause

import warnings

import numpy as np
from sklearn.utils import gen_batches
from sklearn.utils.validation import validate_data

from . import _backends, _dask, _objective
from ._array_api import space_of
from ._utils import outside_unit_interval


def validate(estimator, X, *, reset):
    """X validated for training, and its backend (see
    :mod:`skl_sparse_ae._backends`): a float NumPy array in C order, a Dask
    array of float blocks (``solver="lbfgs"`` only), or a float array of
    another Array API namespace under ``array_api_dispatch``.

    Warns where a logistic decoder cannot reconstruct X.
    """
    backend = _backends.for_input(X)
    if _dask.is_dask_array(X):
        if estimator.solver != "lbfgs":
            raise ValueError(
                f"solver={estimator.solver!r} does not train on Dask arrays; use "
                "solver='lbfgs', or call partial_fit on computed blocks."
            )
        X = _dask.validate_blocks(estimator, X, reset=True)
        X, out_of_range = _dask.validate_training_data(X, estimator.decoder_activation)
    else:
        X = validate_data(estimator, X, dtype=backend.float_dtypes, order="C", reset=reset)
        xp = backend.xp
        out_of_range = estimator.decoder_activation == "logistic" and outside_unit_interval(
            float(xp.min(X)), float(xp.max(X)), backend.numpy_dtype(X)
        )
    if out_of_range:
        warnings.warn(
            "X has values outside [0, 1], which a logistic (sigmoid) decoder cannot "
            "reconstruct. Scale the data into [0, 1] (e.g. MinMaxScaler) or use "
            'decoder_activation="identity".',
            UserWarning,
            # here ← fit or partial_fit ← two decorators ← the caller
            stacklevel=5,
        )
    return X, backend


def variant(estimator, X):
    """The objective's :class:`~skl_sparse_ae._objective.Variant`, after the
    checks the parameter constraints cannot make alone."""
    if estimator.transform_k is not None and estimator.k is None:
        raise ValueError("transform_k is the k of transform for a k-sparse model: set k too.")
    if estimator.corruption == "masking" and estimator.corruption_level >= 1:
        raise ValueError(
            f"corruption_level={estimator.corruption_level} must be below 1 for masking "
            "noise: it is the probability of masking each entry."
        )
    if estimator.corruption is not None and _dask.is_dask_array(X):
        raise ValueError(
            "corruption (a denoising autoencoder) does not train on Dask arrays; "
            "call partial_fit with solver='adam' on computed blocks instead."
        )
    if estimator.activation == "relu" and estimator.sparsity_penalty == "kl" and estimator.beta:
        raise ValueError(
            'activation="relu" does not go with the KL sparsity penalty: KL(rho || rho_hat) '
            "needs mean activations in (0, 1), and a ReLU's are not bounded. Use "
            'sparsity_penalty="l1", k-sparse codes (k) with beta=0, or beta=0.'
        )
    resample = estimator.resample_every
    if resample not in (None, "auto") and estimator.activation != "relu":
        raise ValueError(
            f"resample_every={resample} resamples dead ReLU units: set activation='relu' "
            "(a logistic unit's activation is never exactly 0, so none is ever found dead), "
            "or leave resample_every='auto'."
        )
    return _objective.Variant(
        estimator.sparsity_penalty, estimator.k, estimator.tied_weights, estimator.activation
    )


def generator_apart(rng):
    """A generator of its own, seeded from ``rng``'s state without drawing
    from it: what it draws leaves ``rng``'s stream, and so a training path
    that draws from ``rng``, as it is."""
    return np.random.RandomState(rng.get_state()[1])


def corrupt(X, *, corruption, level, rng):
    """A corrupted copy of X: entries masked to 0 with probability ``level``
    (``"masking"``) or Gaussian noise of standard deviation ``level`` added
    (``"gaussian"``).

    Drawn in chunks on the host from ``rng`` (the same noise for every
    namespace), so that no float64 temporary as large as X is made; on
    another namespace, each chunk's noise is moved to X's device.
    """
    space = space_of(X)
    corrupted = np.empty_like(X) if space.is_numpy else []
    for rows in gen_batches(X.shape[0], max(1, (16 << 20) // (8 * max(1, X.shape[1])))):
        chunk = X[rows, ...]
        shape = tuple(chunk.shape)
        if corruption == "masking":
            drawn = rng.uniform(size=shape) >= level  # the entries kept
        else:
            drawn = rng.normal(scale=level, size=shape)
        if not space.is_numpy:
            corrupted.append(_corrupted_on_device(chunk, drawn, corruption, space))
        elif corruption == "masking":
            np.multiply(chunk, drawn, out=corrupted[rows])
        else:
            np.add(chunk, drawn, out=corrupted[rows])
    return corrupted if space.is_numpy else space.xp.concat(corrupted)


def _corrupted_on_device(chunk, drawn, corruption, space):
    """``chunk`` corrupted by the host's ``drawn`` noise on its own device, as
    NumPy does it: masks multiply, Gaussian noise is added in the sums' dtype."""
    xp = space.xp
    if corruption == "masking":
        return chunk * xp.astype(xp.asarray(drawn, device=space.device), chunk.dtype)
    sum_dtype = np.float64 if space.sum_dtype == xp.float64 else np.float32
    drawn = xp.asarray(drawn.astype(sum_dtype), device=space.device)
    return xp.astype(xp.astype(chunk, space.sum_dtype) + drawn, chunk.dtype)
