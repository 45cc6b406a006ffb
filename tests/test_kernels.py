"""The kernels (NumPy and numba) and the choice between them.

The objective's own tests (test_objective.py, test_numerics.py) run with each
kernel; here both are compared on larger problems, and the choice, the
compiled tanh, threads and forks are tested.
"""

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sklearn import config_context

from skl_sparse_ae import SparseAutoencoder, _chunk_passes, _kernels, _objective
from skl_sparse_ae._kernels import _numpy

from ._reference import reference_loss

numba_kernel = pytest.importorskip(
    "skl_sparse_ae._kernels._numba", reason="the numba kernel needs numba (the test extra has it)"
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-4}
ALL_OPTIONS = [
    pytest.param(dtype, decoder, beta, id=f"{np.dtype(dtype).name}-{decoder}-beta{beta}")
    for dtype in (np.float64, np.float32)
    for decoder in ("logistic", "identity")
    for beta in (0.0, 3.0)
]


def _problem(m=3000, n=64, h=25, dtype=np.float64, seed=0, dying_units=0):
    """Patch-like data and weights away from the initial point; the first
    ``dying_units`` hidden units are pushed far into the tail (ρ̂ < 1e-6)."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(0.1, 0.9, size=(m, n)).astype(dtype)
    params = _objective.initial_params(n, h, rng)
    params.b1[:] = rng.normal(scale=1.0, size=h)
    params.b1[:dying_units] = -25.0
    params.b2[:] = rng.normal(scale=0.5, size=n)
    return X, _objective.pack(params)


def _evaluate(kernel_name, theta, X, h, decoder, beta, **options):
    return _objective.evaluate(
        theta, X, h, 0.01, beta, 1e-4, decoder, kernel=_kernels.kernel_named(kernel_name), **options
    )


def _assert_agree(result, expected, dtype):
    rtol = TOLERANCE[np.dtype(dtype)]
    assert result[0] == pytest.approx(expected[0], rel=rtol)
    scale = np.abs(expected[1]).max()
    np.testing.assert_allclose(result[1], expected[1], rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(result[2], expected[2], rtol=rtol, atol=1e-300)


# --- the compiled tanh -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_tanh_is_exact_to_an_absolute_rounding_error(dtype):
    a = np.concatenate([np.linspace(-400, 400, 200_001), [-1e-30, 0.0, 1e-30]]).astype(dtype)
    out = np.empty_like(a)
    numba_kernel._tanh_array(a, out)
    exact = np.tanh(a.astype(np.float64))
    np.testing.assert_allclose(out, exact, rtol=0, atol=2 * np.finfo(dtype).eps)
    assert out[0] == -1.0 and out[200_000] == 1.0
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_tanh_keeps_nan_and_infinities(dtype):
    a = np.array([np.nan, np.inf, -np.inf], dtype=dtype)
    out = np.empty_like(a)
    numba_kernel._tanh_array(a, out)
    assert np.isnan(out[0]) and out[1] == 1.0 and out[2] == -1.0


# --- the NumPy kernel's two tanh forms ---------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tanh_by_exp_matches_numpy_tanh(dtype):
    a = np.concatenate([np.linspace(-400, 400, 20001), [-1e-300, 0.0, 1e-300]]).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exp overflows silently to inf, then ±1
        result = _numpy._tanh_by_exp_(a.copy())
    np.testing.assert_allclose(result, np.tanh(a), rtol=0, atol=4 * np.finfo(dtype).eps)
    assert result[0] == -1.0 and result[20000] == 1.0


@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_evaluation_agrees_with_either_tanh_form(decoder, monkeypatch):
    X, theta = _problem(m=200, n=7, h=5)
    results = []
    for form in (lambda a: np.tanh(a, out=a), _numpy._tanh_by_exp_):
        monkeypatch.setitem(_numpy._TANH_, np.dtype(np.float64), form)
        results.append(_evaluate("numpy", theta, X, 5, decoder, 3.0))
    (loss_tanh, grad_tanh, _), (loss_exp, grad_exp, _) = results
    assert loss_exp == pytest.approx(loss_tanh, rel=1e-13)
    np.testing.assert_allclose(grad_exp, grad_tanh, rtol=1e-10, atol=1e-14)


# --- both kernels compute the same objective ---------------------------------------------


@pytest.mark.parametrize("dtype, decoder, beta", ALL_OPTIONS)
def test_kernels_agree(dtype, decoder, beta):
    X, theta = _problem(dtype=dtype)
    expected = _evaluate("numpy", theta, X, 25, decoder, beta)
    _assert_agree(_evaluate("numba", theta, X, 25, decoder, beta), expected, dtype)


@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_compiled_kernel_matches_the_reference_loss(decoder):
    X, theta = _problem(m=500)
    loss, _, _ = _evaluate("numba", theta, X, 25, decoder, 3.0)
    p = _objective.unpack(theta, 64, 25)
    expected = reference_loss(X, p.W1, p.b1, p.W2T, p.b2, 0.01, 3.0, 1e-4, decoder)
    assert loss == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("keep_hidden", [True, False])
@pytest.mark.parametrize("n_workers", [1, 2])
def test_kernels_agree_on_short_chunks_dying_units_and_threads(dtype, keep_hidden, n_workers):
    # Chunks of a few hundred rows with a short last one, units in the exact
    # tail, stored or recomputed hidden activations, one or two threads.
    X, theta = _problem(m=2111, dtype=dtype, dying_units=3)
    options = dict(keep_hidden=keep_hidden, n_workers=n_workers)
    with config_context(working_memory=0.1):
        assert _objective.chunk_rows(64, 25, X.dtype.itemsize, 2111) < 2111
        expected = _evaluate("numpy", theta, X, 25, "logistic", 3.0, **options)
        result = _evaluate("numba", theta, X, 25, "logistic", 3.0, **options)
    assert np.all(expected[2][:3] < 1e-6)  # the tail was exercised
    _assert_agree(result, expected, dtype)


def test_compiled_kernel_takes_read_only_and_strided_data():
    X, theta = _problem(m=1000)
    expected = _evaluate("numpy", theta, X, 25, "logistic", 3.0)
    read_only = X.copy()
    read_only.setflags(write=False)
    fortran = np.asfortranarray(X)
    for data in (read_only, fortran):
        _assert_agree(_evaluate("numba", theta, data, 25, "logistic", 3.0), expected, X.dtype)
    np.testing.assert_array_equal(read_only, X)  # not modified


# --- the whole passes: NumPy's gemm called from the compiled loops ------------------------


def _whole_passes_here():
    return all(numba_kernel._numpy_gemm(dtype) is not None for dtype in (np.float64, np.float32))


def test_numpys_gemm_is_found_on_linux():
    # NumPy's Linux wheels link scipy-openblas64, whose CBLAS names _blas
    # knows: where CI runs, the whole passes must be what is tested.
    if not sys.platform.startswith("linux"):
        pytest.skip("the lookup through NumPy's extension module is only asserted on Linux")
    single, double = (numba_kernel._numpy_gemm(dtype) for dtype in (np.float32, np.float64))
    assert single is not None and double is not None
    assert single[0] != double[0]  # sgemm and dgemm


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True)])
def test_compiled_gemm_gives_numpys_products(dtype, trans_a, trans_b):
    if not _whole_passes_here():
        pytest.skip("NumPy's gemm is not found on this platform: the loops are not used")
    blas = numba_kernel._numpy_gemm(dtype)
    rng = np.random.RandomState(0)
    M, N, K = 7, 5, 11
    A = rng.uniform(-1, 1, (K, M) if trans_a else (M, K)).astype(dtype)
    B = rng.uniform(-1, 1, (N, K) if trans_b else (K, N)).astype(dtype)
    C = rng.uniform(-1, 1, (M, N)).astype(dtype)
    expected = 2.0 * (A.T if trans_a else A) @ (B.T if trans_b else B) + 0.5 * C
    numba_kernel._gemm_for_tests(blas, trans_a, trans_b, dtype(2), A, B, dtype(0.5), C)
    np.testing.assert_allclose(C, expected, rtol=TOLERANCE[np.dtype(dtype)] * 10)


def test_compiled_gemm_refuses_arrays_that_are_not_c_contiguous():
    # Its leading dimensions come from the shapes: a strided array must not compile.
    if not _whole_passes_here():
        pytest.skip("NumPy's gemm is not found on this platform: the loops are not used")
    from numba.core.errors import TypingError

    blas = numba_kernel._numpy_gemm(np.float64)
    A, B, C = np.asfortranarray(np.ones((3, 4))), np.ones((4, 2)), np.zeros((3, 2))
    with pytest.raises(TypingError):
        numba_kernel._gemm_for_tests(blas, False, False, 1.0, A, B, 0.0, C)
    assert not C.any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_whole_passes_run_and_agree_with_the_step_by_step_ones(dtype, monkeypatch):
    if not _whole_passes_here():
        pytest.skip("NumPy's gemm is not found on this platform: the loops are not used")
    X, theta = _problem(m=2111, dtype=dtype, dying_units=2)
    kernel = numba_kernel.NumbaKernel()
    calls = []
    monkeypatch.setattr(
        numba_kernel, "_backward_chunks", _counted(numba_kernel._backward_chunks, calls)
    )
    with config_context(working_memory=0.1):
        whole = _objective.evaluate(theta, X, 25, 0.01, 3.0, 1e-4, "logistic", kernel=kernel)
        assert calls  # the whole passes ran
        monkeypatch.setattr(numba_kernel, "_whole_pass_gemm", lambda *args: None)
        steps = _objective.evaluate(theta, X, 25, 0.01, 3.0, 1e-4, "logistic", kernel=kernel)
    _assert_agree(whole, steps, dtype)


def _counted(function, calls):
    def counted(*args):
        calls.append(1)
        return function(*args)

    return counted


def test_compiled_kernel_without_numpys_gemm_does_the_passes_step_by_step(monkeypatch):
    X, theta = _problem(m=1000)
    expected = _evaluate("numpy", theta, X, 25, "logistic", 3.0)
    monkeypatch.setattr(numba_kernel._blas, "find_gemm", lambda: None)
    numba_kernel._numpy_gemm.cache_clear()
    try:
        assert numba_kernel._numpy_gemm(np.float64) is None
        _assert_agree(_evaluate("numba", theta, X, 25, "logistic", 3.0), expected, X.dtype)
    finally:
        numba_kernel._numpy_gemm.cache_clear()


def test_gemm_lookup_gives_up_when_unsure(monkeypatch):
    from skl_sparse_ae._kernels import _blas

    class NoSymbols:
        def __init__(self, path):
            pass

    monkeypatch.setattr(_blas.ctypes, "CDLL", NoSymbols)
    assert _blas.find_gemm() is None

    class PlainNames:  # 32-bit-integer names, but a build that says ILP64
        def __init__(self, path):
            self.cblas_sgemm = self.cblas_dgemm = _blas.ctypes.CFUNCTYPE(None)(lambda: None)

    monkeypatch.setattr(_blas.ctypes, "CDLL", PlainNames)
    monkeypatch.setattr(_blas, "_plain_names_are_ilp64", lambda: True)
    assert _blas.find_gemm() is None
    monkeypatch.setattr(_blas, "_plain_names_are_ilp64", lambda: False)
    assert _blas.find_gemm().ilp64 is False


@pytest.mark.parametrize("m, step, n_workers", [(10_000, 1472, 2), (2111, 300, 3), (1000, 400, 2)])
def test_balanced_chunks_give_each_thread_as_many(m, step, n_workers):
    before = -(-m // step)
    new_step, n_chunks = _chunk_passes._balanced(m, step, before, n_workers)
    assert new_step <= step and (n_chunks - 1) * new_step < m <= n_chunks * new_step
    assert n_chunks == -(-before // n_workers) * n_workers  # no more chunks than needed


def test_balanced_chunks_even_out_the_rows_of_as_many_chunks():
    assert _chunk_passes._balanced(10_000, 512, 20, 2) == (500, 20)  # not 19 × 512 + 272
    assert _chunk_passes._balanced(10_000, 1250, 8, 2) == (1250, 8)  # already even


def test_balanced_chunks_leave_what_cannot_be_evened_alone():
    assert _chunk_passes._balanced(100, 200, 1, 2) == (200, 1)  # fewer chunks than threads
    assert _chunk_passes._balanced(10, 2, 5, 4) == (2, 5)  # 8 chunks of 10 rows: not with one step


# --- determinism, threads, forks ---------------------------------------------------------


def test_compiled_kernel_is_deterministic():
    X, theta = _problem()
    first = _evaluate("numba", theta, X, 25, "logistic", 3.0)
    again = _evaluate("numba", theta, X, 25, "logistic", 3.0)
    assert again[0] == first[0]
    np.testing.assert_array_equal(again[1], first[1])
    a = SparseAutoencoder(25, max_iter=20, random_state=0).fit(X)
    b = SparseAutoencoder(25, max_iter=20, random_state=0).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert a.loss_ == b.loss_


def test_compiled_kernel_is_thread_safe():
    # Evaluations in several threads at once, each itself on worker threads.
    problems = [_problem(m=1500, seed=seed) for seed in range(4)]
    serial = [_evaluate("numba", theta, X, 25, "logistic", 3.0) for X, theta in problems]
    start = threading.Barrier(len(problems), timeout=60)

    def evaluate_repeatedly(problem):
        start.wait()
        X, theta = problem
        return [_evaluate("numba", theta, X, 25, "logistic", 3.0) for _ in range(5)]

    with ThreadPoolExecutor(max_workers=len(problems)) as pool:
        concurrent = list(pool.map(evaluate_repeatedly, problems))
    for results, expected in zip(concurrent, serial, strict=True):
        for got in results:
            assert got[0] == expected[0]
            np.testing.assert_array_equal(got[1], expected[1])


def _fit_in_child(X, queue):
    model = SparseAutoencoder(25, max_iter=10, tol=1e-2, random_state=0).fit(X)
    queue.put(model.components_)


@pytest.mark.skipif(sys.platform == "win32", reason="fork is not available on Windows")
def test_fit_with_the_compiled_kernel_works_in_a_forked_child(monkeypatch):
    X, _ = _problem(m=1500)
    kernel = _kernels.kernel_named("numba")
    monkeypatch.setattr(_kernels, "default_kernel", lambda: kernel)
    # In the parent first: compiled, worker threads made.
    parent = SparseAutoencoder(25, max_iter=10, tol=1e-2, random_state=0).fit(X)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (Python 3.12+)
        child = context.Process(target=_fit_in_child, args=(X, queue))
        child.start()
    components = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(components, parent.components_)


# --- which kernel runs ---------------------------------------------------------------------

# Interpreters in which `import numba` fails: what an install without the
# numba extra runs.
_BLOCK_NUMBA = "import sys; sys.modules['numba'] = None\n"
_REPORT_KERNEL = textwrap.dedent(
    """
    import numpy as np
    from skl_sparse_ae import SparseAutoencoder, _kernels
    SparseAutoencoder(3, max_iter=2).fit(np.random.RandomState(0).uniform(size=(50, 4)))
    print(_kernels.default_kernel().name)
    """
)


def _run(code):
    env = {k: v for k, v in os.environ.items() if k != _kernels.KERNEL_VARIABLE}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )


@pytest.fixture
def choose(monkeypatch):
    """The choice :func:`default_kernel` makes in a new process, made here
    with the environment variable set (None: unset) and numba importable
    or not."""

    def choose(variable, numba_importable=True):
        monkeypatch.delenv(_kernels.KERNEL_VARIABLE, raising=False)
        if variable is not None:
            monkeypatch.setenv(_kernels.KERNEL_VARIABLE, variable)
        if not numba_importable:
            monkeypatch.setitem(sys.modules, "numba", None)
            monkeypatch.delitem(sys.modules, "skl_sparse_ae._kernels._numba")
        return _kernels.default_kernel.__wrapped__()

    return choose


@pytest.mark.parametrize(
    "variable, numba_importable, expected",
    [
        (None, True, "numba"),
        ("auto", True, "numba"),
        ("", True, "numba"),
        ("numpy", True, "numpy"),
        (" NumPy ", True, "numpy"),
        ("numba", True, "numba"),
        (None, False, "numpy"),
        ("auto", False, "numpy"),
        ("numpy", False, "numpy"),
    ],
)
def test_kernel_is_chosen_automatically_or_by_the_environment(
    choose, variable, numba_importable, expected
):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numba merely missing is no reason to warn
        assert choose(variable, numba_importable).name == expected


def test_asking_for_numba_without_it_names_the_extra(choose):
    with pytest.raises(ImportError, match=r"needs numba: pip install 'skl-sparse-ae\[numba\]'"):
        choose("numba", numba_importable=False)


def test_unknown_kernel_name_is_a_clear_error(choose):
    with pytest.raises(ValueError, match=r"SKL_SPARSE_AE_KERNEL='cuda' is not one of"):
        choose("cuda")


def test_a_broken_numba_gives_a_warning_and_the_numpy_kernel(choose, monkeypatch):
    def broken():
        raise ImportError("Numba needs NumPy 2.5 or less")  # as numba says it

    monkeypatch.setattr(_kernels, "_import_numba_kernel", broken)
    with pytest.warns(RuntimeWarning, match="Using the NumPy kernel: .*Numba needs NumPy"):
        assert choose(None).name == "numpy"


def test_the_choice_is_made_once_per_process():
    assert _kernels.default_kernel() is _kernels.default_kernel()


def test_fit_where_numba_cannot_be_imported():
    result = _run(_BLOCK_NUMBA + _REPORT_KERNEL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy"]
    assert "RuntimeWarning" not in result.stderr


def test_objective_tests_pass_where_numba_cannot_be_imported():
    code = _BLOCK_NUMBA + textwrap.dedent(
        """
        import pytest
        sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                              "tests/test_objective.py"]))
        """
    )
    result = _run(code)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and " skipped" in summary and "failed" not in summary
