"""The matrix product NumPy calls, as an address a compiled loop can call.

The numba kernel runs a whole pass over a thread's chunks in one compiled
call that holds no GIL; its products must be as fast as NumPy's, so it calls
the very ``gemm`` of the BLAS that NumPy's ``matmul`` uses (whose thread
count threadpoolctl limits like NumPy's own). That BLAS is found through
NumPy's extension module, which links it, by the CBLAS names that NumPy's
BLAS builds export. When none is found, or its result is wrong, the kernel
keeps NumPy doing the products.
"""

# SPDX-License-Identifier: BSD-3-Clause

import ctypes
from dataclasses import dataclass

import numpy as np

# cblas_?gemm(order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

# CBLAS names of the builds NumPy ships or is built with, and whether their
# integers are 64-bit: NumPy's wheels (scipy-openblas64), NumPy 1.x wheels
# (openblas64_), and 32-bit-integer builds (scipy-openblas32, OpenBLAS,
# reference CBLAS, MKL, Accelerate).
_NAMES = (
    ("scipy_cblas_{}gemm64_", True),
    ("cblas_{}gemm64_", True),
    ("cblas_{}gemm_64", True),
    ("scipy_cblas_{}gemm", False),
    ("cblas_{}gemm", False),
)


@dataclass(frozen=True)
class Gemm:
    """Addresses of ``cblas_sgemm`` and ``cblas_dgemm`` and their integer width."""

    sgemm: int
    dgemm: int
    ilp64: bool  # 64-bit integer arguments

    def address(self, dtype):
        return self.sgemm if np.dtype(dtype) == np.float32 else self.dgemm


def _numpy_extension():
    try:
        from numpy._core import _multiarray_umath  # NumPy >= 2.0
    except ImportError:
        from numpy.core import _multiarray_umath  # NumPy 1.x
    return _multiarray_umath


def _plain_names_are_ilp64():
    """Whether NumPy's BLAS takes 64-bit integers under the plain CBLAS names
    (an ILP64 build that does not rename its symbols)."""
    blas = getattr(np.__config__, "CONFIG", {}).get("Build Dependencies", {}).get("blas", {})
    text = " ".join(str(value) for value in blas.values()).lower()
    return "ilp64" in text or "use64bitint" in text


def _address(function):
    return ctypes.cast(function, ctypes.c_void_p).value


def find_gemm():
    """:class:`Gemm` of NumPy's BLAS, or None if its names are not found.

    Symbols are looked up through NumPy's extension module: a shared
    library's lookup also searches the libraries it links, NumPy's BLAS
    among them (on Linux and macOS; on Windows it finds nothing).
    """
    try:
        library = ctypes.CDLL(_numpy_extension().__file__)
    except OSError:
        return None
    for pattern, ilp64 in _NAMES:
        try:
            sgemm, dgemm = (getattr(library, pattern.format(kind)) for kind in "sd")
        except AttributeError:
            continue
        if not ilp64 and _plain_names_are_ilp64():
            return None  # the width of its integers is not known for sure
        return Gemm(_address(sgemm), _address(dgemm), ilp64)
    return None
