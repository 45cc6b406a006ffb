"""Implementations of the objective's elementwise steps, and the choice of one.

The contract is :class:`skl_sparse_ae._chunk_passes.ElementwiseKernel`. For
NumPy arrays two kernels implement it: NumPy's ufuncs (always there; the
reference) and numba's compiled loops (the optional ``numba`` extra), which
is used when numba can be imported and also makes whole passes over chunks,
products included, in one call. Arrays of other namespaces take the Array
API kernel, the same steps in the standard's operations.

The environment variable ``SKL_SPARSE_AE_KERNEL`` overrides the choice:
``numpy`` forces the NumPy kernel, ``numba`` demands the compiled one (an
ImportError if numba is missing), ``auto`` (or unset) is the default. An
environment variable rather than a Python setting because the kernel also
runs in joblib's worker processes and on Dask workers, which inherit the
environment but not the caller's settings. It is read once per process, on
the first evaluation.
"""

# SPDX-License-Identifier: BSD-3-Clause

import functools
import os
import warnings

from ._array_api import ArrayAPIKernel
from ._numpy import NumpyKernel, tanh_

__all__ = ["KERNEL_VARIABLE", "default_kernel", "kernel_for", "kernel_named", "tanh_"]

KERNEL_VARIABLE = "SKL_SPARSE_AE_KERNEL"
_CHOICES = ("auto", "numpy", "numba")


def _import_numba_kernel():
    from ._numba import NumbaKernel

    return NumbaKernel


def kernel_named(name):
    """The kernel called ``name`` ("numpy" or "numba")."""
    if name == "numpy":
        return NumpyKernel()
    if name == "numba":
        try:
            NumbaKernel = _import_numba_kernel()
        except ImportError as error:
            raise ImportError(
                "The numba kernel needs numba: pip install 'skl-sparse-ae[numba]' "
                f"(or set {KERNEL_VARIABLE}=numpy). Importing it failed with: {error}"
            ) from error
        return NumbaKernel()
    raise ValueError(f"Unknown kernel {name!r}: expected one of {_CHOICES[1:]}.")


@functools.cache
def default_kernel():
    """The kernel of this process: see the module's docstring."""
    choice = os.environ.get(KERNEL_VARIABLE, "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise ValueError(
            f"{KERNEL_VARIABLE}={os.environ[KERNEL_VARIABLE]!r} is not one of {_CHOICES}."
        )
    if choice != "auto":
        return kernel_named(choice)
    try:
        return kernel_named("numba")
    except ImportError as error:
        if not isinstance(error.__cause__, ModuleNotFoundError) or error.__cause__.name != "numba":
            # numba is there but broken (e.g. a NumPy it does not support yet).
            warnings.warn(f"Using the NumPy kernel: {error}", RuntimeWarning, stacklevel=2)
        return NumpyKernel()


def kernel_for(space):
    """The kernel for arrays of ``space`` (a :class:`skl_sparse_ae._array_api.Space`):
    the process's own for NumPy, the Array API kernel of the namespace otherwise."""
    return default_kernel() if space.is_numpy else ArrayAPIKernel(space.xp)
