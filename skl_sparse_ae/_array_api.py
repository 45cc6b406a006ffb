"""The array namespace of a computation, and the few operations the Array API standard lacks.

The objective is written once for every namespace (NumPy, PyTorch, CuPy,
array-api-strict). What differs between them is gathered here: where a
computation runs (:class:`Space`), the dtype of its sums, and the handful of
operations that NumPy does faster with its own functions (``out=`` buffers,
BLAS dot products, fancy-index scatters) than with the standard's. Each
helper gives the same values either way; on NumPy it is the form the NumPy
kernel always used, so that NumPy fits keep their bits.
"""

# SPDX-License-Identifier: BSD-3-Clause

from dataclasses import dataclass

import numpy as np
from scipy.special import expit as _scipy_expit
from sklearn import get_config
from sklearn.utils._array_api import _max_precision_float_dtype, get_namespace_and_device, move_to

# Temporaries of a chunk at most this large (MiB) when the arrays are in host
# memory: larger ones are fresh mappings of the allocator, paid in page faults
# at every pass (PyTorch on 2 CPU cores, 60 000 x 784 float32, h=196: 3.1 s
# an evaluation in one chunk of 1 GiB, 3.4 s in chunks of 64 MiB, 1.6 s in
# chunks of 16 or 4 MiB). On a GPU, fewer and larger chunks launch fewer
# kernels: there scikit-learn's ``working_memory`` alone decides.
_HOST_CHUNK_MIB = 16


@dataclass(frozen=True)
class Space:
    """Where a computation runs: its namespace ``xp``, its device, and
    ``sum_dtype``, the dtype of the sums J is made of (float64, or float32 on
    a device without it). ``is_numpy``: NumPy arrays, which take the
    in-place forms (``out=`` buffers, worker threads, the compiled kernel)."""

    xp: object
    device: object
    sum_dtype: object
    is_numpy: bool

    def zeros(self, shape, dtype=None):
        """Zeros of ``dtype`` (default ``sum_dtype``) on the device."""
        dtype = self.sum_dtype if dtype is None else dtype
        if self.is_numpy:
            return np.zeros(shape, dtype)
        return self.xp.zeros(shape, dtype=dtype, device=self.device)

    def empty(self, shape, dtype):
        if self.is_numpy:
            return np.empty(shape, dtype)
        return self.xp.empty(shape, dtype=dtype, device=self.device)

    def ones(self, shape, dtype):
        if self.is_numpy:
            return np.ones(shape, dtype)
        return self.xp.ones(shape, dtype=dtype, device=self.device)


class _NumPyNamespace:
    """NumPy under the standard's names: its own functions where they are the
    standard's, the compat namespace of scikit-learn for the rest.

    The compat layer checks its arguments at every call, which cost 0.4 ms an
    evaluation (more than the Python of the whole evaluation before): small
    problems and minibatches felt it. The functions here give the same values.
    """

    def __init__(self, compat):
        self._compat = compat
        self.__name__ = compat.__name__

    def __getattr__(self, name):
        return getattr(self._compat, name)

    abs = staticmethod(np.abs)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    minimum = staticmethod(np.minimum)
    nonzero = staticmethod(np.nonzero)
    finfo = staticmethod(np.finfo)
    float64, float32, int64 = np.float64, np.float32, np.int64

    @staticmethod
    def astype(x, dtype, /, *, copy=True, device=None):
        return x.astype(dtype, copy=copy)

    @staticmethod
    def asarray(x, /, *, dtype=None, device=None, copy=None):
        return np.array(x, dtype=dtype, copy=True) if copy else np.asarray(x, dtype=dtype)

    @staticmethod
    def clip(x, /, min=None, max=None):
        return np.maximum(x, min) if max is None else np.clip(x, min, max)

    @staticmethod
    def concat(arrays, /, *, axis=0):
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def reshape(x, /, shape, *, copy=None):
        return x.reshape(shape)

    @staticmethod
    def sum(x, /, *, axis=None, dtype=None, keepdims=False):
        return np.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)

    @staticmethod
    def take(x, indices, /, *, axis=None):
        return np.take(x, indices, axis=axis)


def _numpy_space():
    compat, _, device = get_namespace_and_device(np.zeros(0))
    return Space(_NumPyNamespace(compat), device, np.float64, True)


NUMPY = _numpy_space()


def space_of(array):
    """The :class:`Space` of ``array`` (NumPy arrays and memory maps: :data:`NUMPY`)."""
    if isinstance(array, np.ndarray | np.generic):
        return NUMPY
    xp, _, device = get_namespace_and_device(array)
    return Space(xp, device, _max_precision_float_dtype(xp, device), False)


def to_numpy(array):
    """``array`` as a NumPy array: itself if it is one, else a copy on the host."""
    if isinstance(array, np.ndarray):
        return array
    if get_config()["array_api_dispatch"]:
        return move_to(array, xp=np, device="cpu")
    return np.asarray(array)


def in_host_memory(X, xp):
    """Whether X is in host memory: array-api-strict (NumPy inside, whatever
    its device), or a device named CPU (PyTorch, JAX)."""
    device = X.device
    return (
        "array_api_strict" in xp.__name__ or "cpu" in str(getattr(device, "type", device)).lower()
    )


def chunk_mib(X, xp):
    """The budget (MiB) of the temporaries of a chunk of rows of X, for a
    namespace other than NumPy's (NumPy's chunks are sized for the cache)."""
    working_memory = get_config()["working_memory"]
    return min(working_memory, _HOST_CHUNK_MIB) if in_host_memory(X, xp) else working_memory


def matmul(A, B, out=None):
    """A @ B, written into ``out`` when it is given (NumPy buffers)."""
    if out is None:
        return A @ B
    return np.matmul(A, B, out=out)


def add(a, b, out=None):
    """a + b, computed in their dtype and written into ``out`` when it is given."""
    if out is None:
        return a + b
    return np.add(a, b, out=out)


def multiply(a, b, out=None):
    """a · b, computed in their dtype and written into ``out`` when it is given."""
    if out is None:
        return a * b
    return np.multiply(a, b, out=out)


def expit(Z, space):
    """The logistic sigmoid, accurate to rounding relative to its own size
    however small (the KL term divides by its means), free of overflow.
    NumPy: :func:`scipy.special.expit`; elsewhere the same from exp(−|Z|),
    which SciPy cannot do on every device."""
    if space.is_numpy:
        return _scipy_expit(Z)
    xp = space.xp
    e = xp.exp(-xp.abs(Z))  # at most 1
    large = 1.0 / (1.0 + e)  # sigmoid(|Z|)
    return xp.where(Z >= 0, large, e * large)


def squared_norm(a, space):
    """Σ a², summed in the dtype of ``a`` (NumPy: BLAS's dot product), in
    the sums' dtype."""
    if space.is_numpy:
        flat = a.ravel()
        return float(np.dot(flat, flat))
    flat = space.xp.reshape(a, (-1,))
    return space.xp.astype(space.xp.vecdot(flat, flat), space.sum_dtype)


def row_squared_norms(a, space):
    """Σ of the squares of each row of a 2-D array."""
    if space.is_numpy:
        return np.einsum("ij,ij->i", a, a)
    return space.xp.vecdot(a, a)


def set_rows(array, indices, values, space):
    """``array[indices] = values`` along the first axis, in place."""
    if space.is_numpy:
        array[indices] = values
        return
    for j in range(indices.shape[0]):  # the standard has no scatter; few indices
        array[int(indices[j]), ...] = values[j, ...]


def add_to_rows(array, indices, values, space):
    """``array[indices] += values`` along the first axis (indices distinct), in place."""
    if space.is_numpy:
        array[indices] += values
        return
    for j in range(indices.shape[0]):
        array[int(indices[j]), ...] += values[j, ...]


def smallest_positions(A, count, axis, space):
    """Where the ``count`` smallest entries of A along ``axis`` are: indices
    for :func:`set_at` (ties broken the same way every time)."""
    if space.is_numpy:
        # In no particular order: argpartition is faster than a sort.
        return np.take(np.argpartition(A, count - 1, axis=axis), np.arange(count), axis=axis)
    xp = space.xp
    rank = xp.argsort(xp.argsort(A, axis=axis, stable=True), axis=axis, stable=True)
    return rank < count  # a mask: the standard has no put_along_axis


def set_at(A, positions, value, axis, space):
    """A with ``value`` at ``positions`` (from :func:`smallest_positions`):
    in place on NumPy, a new array elsewhere."""
    if space.is_numpy:
        np.put_along_axis(A, positions, value, axis=axis)
        return A
    return space.xp.where(positions, space.xp.asarray(value, dtype=A.dtype, device=A.device), A)
