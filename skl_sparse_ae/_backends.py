"""Where a call computes, chosen once from its input by :func:`for_input`.

- NumPy arrays, and all that ``validate_data`` turns into them (lists,
  DataFrames, memory maps; any array when ``array_api_dispatch`` is off): the
  objective of :mod:`skl_sparse_ae._objective`, chunked and threaded, with
  the NumPy or numba kernel;
- Dask arrays: the same, block by block on the workers (L-BFGS);
- other Array API arrays under ``array_api_dispatch`` (PyTorch, CuPy,
  array-api-strict): the same objective again, in their namespace and on
  their device. What differs is only where the optimiser's parameters live
  and how they move (:meth:`ArrayAPIBackend.from_host`, ``to_host``).

A backend holds the objective and the few array operations the solvers and
the estimators need; they call through it and never test the type of X.
"""

# SPDX-License-Identifier: BSD-3-Clause

import operator

import numpy as np
from sklearn.utils._array_api import (
    _is_numpy_namespace,
    _matching_numpy_dtype,
    _max_precision_float_dtype,
    check_same_namespace,
    get_namespace_and_device,
    move_to,
    supported_float_dtypes,
)

from . import _dask, _objective


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


class ArrayAPIBackend(NumPyBackend):
    """Arrays of one other namespace and device: the same objective, run there.

    The optimiser's parameters and the gradient are flat vectors of
    ``sum_dtype`` on the device: float64, or float32 on a device without
    float64 (Apple MPS). L-BFGS keeps its own NumPy copy on the host
    (:meth:`from_host`, :meth:`to_host` once per evaluation); Adam's state
    stays on the device.
    """

    is_numpy = False
    limit_threads = False  # the library brings its own threads (BLAS, OpenMP, GPU)
    solver_options = staticmethod(dict)  # no buffers kept between evaluations

    def __init__(self, xp, device):
        self.xp = xp
        self.device = device
        self.sum_dtype = _max_precision_float_dtype(xp, device)
        supported = supported_float_dtypes(xp, device)
        self.float_dtypes = tuple(d for d in (xp.float64, xp.float32) if d in supported)

    def numpy_dtype(self, X):
        """The NumPy dtype that matches X's."""
        return np.dtype(_matching_numpy_dtype(X, xp=self.xp))

    def from_host(self, array, dtype=None):
        """A NumPy array as a new array of ``dtype`` (default ``sum_dtype``)
        on the device."""
        dtype = self.sum_dtype if dtype is None else dtype
        # Cast on the host: the device may not hold float64 at all.
        host = np.asarray(array, dtype=np.float64 if dtype == self.xp.float64 else np.float32)
        return self.xp.asarray(host, device=self.device, copy=True)

    def to_host(self, array):
        """A device array as a float64 NumPy array."""
        return np.asarray(move_to(array, xp=np, device="cpu"), dtype=np.float64)

    def params_from_host(self, params):
        """:class:`Params` of NumPy arrays as device arrays of the same dtype."""
        return _objective.Params(
            *(
                self.from_host(block, self.xp.float32 if block.dtype == np.float32 else None)
                for block in vars(params).values()
            )
        )

    def index(self, order):
        """A NumPy permutation of rows as indices on the device."""
        return self.xp.asarray(order, device=self.device)

    def take_rows(self, X, rows):
        """The rows of X at a slice or at device indices."""
        return X[rows, ...] if isinstance(rows, slice) else self.xp.take(X, rows, axis=0)


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
