"""Where a call computes, chosen once from its input by :func:`for_input`.

- NumPy arrays, and all that ``validate_data`` turns into them (lists,
  DataFrames, memory maps; any array when ``array_api_dispatch`` is off): the
  chunked, threaded NumPy kernel of :mod:`skl_sparse_ae._objective`;
- Dask arrays: the same kernel, block by block on the workers (L-BFGS);
- other Array API arrays under ``array_api_dispatch`` (PyTorch, CuPy,
  array-api-strict): :mod:`skl_sparse_ae._objective_array_api`, in their
  namespace and on their device.

A backend holds the objective and the few array operations the solvers and
the estimators need; they call through it and never test the type of X.
"""

# SPDX-License-Identifier: BSD-3-Clause

import operator

import numpy as np
from sklearn.utils._array_api import (
    _is_numpy_namespace,
    check_same_namespace,
    get_namespace_and_device,
)

from . import _dask, _objective
from ._objective_array_api import ArrayAPIBackend


def _same(x):
    return x


def _late(name):
    """``_objective.<name>``, looked up at each call as the estimators did
    before backends: patches of :mod:`skl_sparse_ae._objective` (the
    evaluation counter of ``benchmarks/bench_fit.py``) still take effect."""

    def call(*args, **kwargs):
        return getattr(_objective, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return staticmethod(call)


class NumPyBackend:
    """NumPy arrays, with the NumPy kernel. Parameters are float64 vectors."""

    is_numpy = True
    xp = np
    device = None
    sum_dtype = np.float64
    float_dtypes = (np.float64, np.float32)
    limit_threads = True  # the kernel runs its own threads (see _parallel)

    evaluate = _late("evaluate")
    unpack = _late("unpack")
    pack = _late("pack")
    mean_activation = _late("mean_activation")
    hidden_activations = _late("hidden_activations")
    reconstruct = _late("reconstruct")
    squared_error_rows = _late("squared_error_rows")
    copy_params = staticmethod(_objective.Params.copy)
    take_rows = staticmethod(operator.getitem)
    # Host and device are one: nothing to move.
    from_host = to_host = params_from_host = index = staticmethod(_same)

    @staticmethod
    def numpy_dtype(X):
        return X.dtype

    @staticmethod
    def solver_options():
        """Keyword arguments of ``evaluate`` for all the evaluations of one
        solver run: buffers kept from one evaluation to the next."""
        return {"buffers": _objective.EvaluationBuffers()}


class DaskBackend(NumPyBackend):
    """Dask arrays of NumPy blocks: the NumPy kernel on each block."""

    evaluate = staticmethod(_dask.evaluate)
    solver_options = staticmethod(dict)  # the blocks' buffers live on the workers


NUMPY = NumPyBackend()
DASK = DaskBackend()


def for_input(X):
    """The backend for X, an input not validated yet."""
    if _dask.is_dask_array(X):
        return DASK
    xp, _, device = get_namespace_and_device(X)
    if _is_numpy_namespace(xp):
        return NUMPY
    return ArrayAPIBackend(xp, device)


def for_fitted(estimator, X, *, attribute, method):
    """The backend for X, an input to ``estimator.method``: it must be that
    of the fitted ``attribute``, else a ValueError says how to move one of
    them (scikit-learn's own, under ``array_api_dispatch``)."""
    check_same_namespace(X, estimator, attribute=attribute, method=method)
    backend = for_input(X)
    if backend.is_numpy and not isinstance(getattr(estimator, attribute), np.ndarray):
        # Without dispatch, X became NumPy: the fitted arrays are not.
        raise ValueError(
            f"{type(estimator).__name__} was fitted on arrays of another namespace than "
            "NumPy (e.g. PyTorch), and array_api_dispatch is off, so the input of "
            f"{method}() is converted to NumPy. Turn dispatch on with "
            "sklearn.set_config(array_api_dispatch=True), or move the estimator to NumPy "
            "with sklearn.utils._array_api.move_estimator_to(estimator, numpy, 'cpu')."
        )
    return backend
