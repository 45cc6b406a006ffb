"""Training and encoding on Dask arrays, block by block on the workers.

Dask is optional: nothing here imports it unless the caller passed a Dask
array, which means it is installed.
"""

# SPDX-License-Identifier: BSD-3-Clause

import functools
import operator
import sys

import numpy as np

from . import _objective
from ._utils import outside_unit_interval


def is_dask_array(X):
    """True for a ``dask.array.Array`` (without importing Dask)."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def as_float_blocks(X):
    """A lazy check of a Dask array's shape and dtype, as ``validate_data`` does.

    Returns it as float64 (float32 is kept) in blocks of whole rows. Nothing
    is computed, so :meth:`transform` stays lazy.
    """
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D array, got a {X.ndim}D Dask array of shape {X.shape} instead."
        )
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"Found array with shape {X.shape}: at least 1 sample and 1 feature are required."
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(f"Dask array of dtype {X.dtype} is not supported: it must be numeric.")
    if X.dtype != np.float32:
        X = X.astype(np.float64)
    return X.rechunk({1: -1})


def validate_blocks(estimator, X, *, reset, n_features=None):
    """:func:`as_float_blocks` with ``validate_data``'s bookkeeping of features.

    ``reset``: record ``n_features_in_`` (a Dask array carries no feature
    names, so names from an earlier fit are dropped). Otherwise check that X
    has ``n_features`` columns (default ``n_features_in_``).
    """
    X = as_float_blocks(X)
    if reset:
        estimator.n_features_in_ = X.shape[1]
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return X
    expected = estimator.n_features_in_ if n_features is None else n_features
    if X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{expected} features as input."
        )
    return X


def _on_a_cluster():
    """Whether a distributed client is active (its workers would hold X)."""
    try:
        from distributed import get_client

        get_client()
    except (ImportError, ValueError):
        return False
    return True


def validate_training_data(X, decoder):
    """Blocks from :func:`validate_blocks`, persisted on the workers and checked.

    Training reads every block twice per L-BFGS iteration, so on a cluster the
    blocks are kept in the workers' memory (the cluster's, not the client's)
    once. Without one, persisting would load all of X into this process, so
    the blocks are read from their source at each evaluation instead. One
    pass checks that X is finite and, with a logistic ``decoder``, whether it
    lies in [0, 1]; returns (X, out_of_range).
    """
    import dask
    import dask.array as da

    if _on_a_cluster():
        X = X.persist()
    checks = [da.isfinite(X).all()]
    if decoder == "logistic":
        checks += [X.min(), X.max()]
    results = dask.compute(*checks)
    if not results[0]:
        raise ValueError("Input X contains NaN or infinity.")
    return X, decoder == "logistic" and outside_unit_interval(results[1], results[2], X.dtype)


def evaluate(
    theta,
    X,
    n_components,
    rho,
    beta,
    lam,
    decoder,
    rho_hat_prior=None,
    keep_hidden=None,
    n_workers=None,
    kernel=None,
    variant=_objective.UFLDL,
    X_input=None,
):
    """J, its gradient and ρ̂ for a Dask array X, as :func:`_objective.evaluate`
    (full batch only: ``rho_hat_prior``, ``keep_hidden``, ``n_workers`` and
    ``kernel`` are accepted for the same signature and not used; the workers
    use their own kernel). ``X_input`` (a denoising autoencoder's corrupted
    input) is not supported on Dask arrays.

    Two passes over the blocks on the workers: the sums of the hidden
    activations first (ρ̂ must be known over all rows before δ2), then the
    squared error and gradient sums. The client adds the per-block sums in
    block order, so the result does not depend on scheduling.
    """
    if X_input is not None:
        raise NotImplementedError("A corrupted input (denoising) on Dask arrays")
    m, n = X.shape
    k, activation = variant.k, variant.activation
    params = _objective.unpack(theta, n, n_components, X.dtype, tied=variant.tied)
    hidden_sums = reduce_blocks(
        _objective.block_hidden_sums, X, operator.iadd, params, k, activation
    )
    rho_hat, rho_hat_c = hidden_sums.means(m)
    sparsity = _objective.sparsity_term(rho, rho_hat, beta, X.dtype, rho_hat_c, variant.penalty)
    sums = reduce_blocks(
        _objective.block_sums, X, operator.iadd, params, sparsity, decoder, k, activation
    )
    loss, grad = _objective.loss_and_grad_from_sums(
        sums, m, params, rho, beta, lam, rho_hat, rho_hat_c, sparsity, variant
    )
    return loss, grad, rho_hat


def reduce_blocks(function, X, combine, *args, checked=False):
    """``function(block, *args)`` on each block of rows of X on the workers,
    the results combined on the client in block order (so the result does
    not depend on scheduling). ``checked``: in the same pass, raise the
    ValueError of ``validate_data`` if X holds NaN or infinity."""
    import dask
    import dask.array as da
    from dask import delayed

    blocks = X.to_delayed(optimize_graph=False).ravel()
    tasks = [delayed(function)(block, *args) for block in blocks]
    if checked:
        tasks.append(da.isfinite(X).all())
    results = dask.compute(*tasks)
    if checked:
        *results, finite = results
        if not finite:
            raise ValueError("Input X contains NaN or infinity.")
    return functools.reduce(combine, results)


def map_rows(function, X, n_columns):
    """``function(block)`` for each block of rows of X (from
    :func:`as_float_blocks`), lazily, as a Dask array."""
    return X.map_blocks(
        function,
        dtype=X.dtype,
        chunks=(X.chunks[0], (n_columns,)),
        meta=np.empty((0, 0), dtype=X.dtype),
    )
