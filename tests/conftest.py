import os

# scikit-learn's array API check (run for every estimator, with NumPy inputs
# for ours) skips itself unless SciPy's array API mode is switched on.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


import pytest  # noqa: E402

from skl_sparse_ae import _kernels  # noqa: E402


@pytest.fixture(params=["numpy", "numba"])
def each_kernel(request, monkeypatch):
    """Runs the test with each kernel in turn as the process's kernel.

    CI installs numba, so both run there. Where numba cannot be imported
    (tests/test_kernels.py runs the objective's tests so), the numba runs
    are skipped with the reason."""
    try:
        kernel = _kernels.kernel_named(request.param)
    except ImportError as error:
        pytest.skip(str(error))
    monkeypatch.setattr(_kernels, "default_kernel", lambda: kernel)
    return kernel
