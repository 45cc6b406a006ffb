import numpy as np
import pytest
from sklearn import config_context

from skl_sparse_ae import _objective

from ._reference import reference_loss

# Every test of the objective runs once with each kernel (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_kernel")

N_FEATURES, N_COMPONENTS = 7, 5


def _problem(seed=0, m=40, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.uniform(0.05, 0.95, size=(m, N_FEATURES)).astype(dtype)
    params = _objective.initial_params(N_FEATURES, N_COMPONENTS, rng)
    # Move away from zero biases so every block of the gradient is exercised.
    theta = _objective.pack(params) + rng.normal(
        scale=0.3, size=_objective.n_params(N_FEATURES, N_COMPONENTS)
    )
    return X, theta


def _central_differences(f, theta, eps=1e-4):
    grad = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        grad[i] = (f(theta + step) - f(theta - step)) / (2 * eps)
    return grad


OPTIONS = [
    pytest.param(decoder, beta, lam, id=f"{decoder}-beta{beta}-lam{lam}")
    for decoder in ("logistic", "identity")
    for beta in (0.0, 3.0)
    for lam in (0.0, 1e-2)
]


@pytest.mark.parametrize("decoder, beta, lam", OPTIONS)
def test_gradient_matches_central_differences(decoder, beta, lam):
    X, theta = _problem()
    args = (X, N_COMPONENTS, 0.1, beta, lam, decoder)
    _, grad = _objective.loss_and_grad(theta, *args)
    numeric = _central_differences(lambda t: _objective.loss_and_grad(t, *args)[0], theta)
    relative_error = np.linalg.norm(numeric - grad) / np.linalg.norm(numeric + grad)
    assert relative_error < 1e-7


@pytest.mark.parametrize("decoder, beta, lam", OPTIONS)
def test_loss_matches_reference_computation(decoder, beta, lam):
    X, theta = _problem()
    loss, _ = _objective.loss_and_grad(theta, X, N_COMPONENTS, 0.1, beta, lam, decoder)
    p = _objective.unpack(theta, N_FEATURES, N_COMPONENTS)
    expected = reference_loss(X, p.W1, p.b1, p.W2T, p.b2, 0.1, beta, lam, decoder)
    assert loss == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_chunking_does_not_change_results(decoder):
    X, theta = _problem(m=500)
    args = (X, N_COMPONENTS, 0.1, 3.0, 1e-3, decoder)
    loss_whole, grad_whole = _objective.loss_and_grad(theta, *args)
    # working_memory is in MiB: this forces chunks of a few rows.
    with config_context(working_memory=0.001):
        assert _objective.chunk_rows(N_FEATURES, N_COMPONENTS, 8, 500) < 10
        loss_chunked, grad_chunked = _objective.loss_and_grad(theta, *args)
    assert loss_chunked == pytest.approx(loss_whole, rel=1e-12)
    np.testing.assert_allclose(grad_chunked, grad_whole, rtol=1e-12, atol=1e-15)


def test_float32_gradient_agrees_with_float64():
    X, theta = _problem(m=300)
    loss64, grad64 = _objective.loss_and_grad(theta, X, N_COMPONENTS, 0.1, 3.0, 1e-3)
    loss32, grad32 = _objective.loss_and_grad(
        theta, X.astype(np.float32), N_COMPONENTS, 0.1, 3.0, 1e-3
    )
    assert grad32.dtype == np.float64  # what scipy's L-BFGS works on
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    assert np.linalg.norm(grad32 - grad64) / np.linalg.norm(grad64) < 1e-4


def test_objective_does_not_modify_X():
    X, theta = _problem()
    X.setflags(write=False)  # a write would raise
    original = X.copy()
    _objective.loss_and_grad(theta, X, N_COMPONENTS, 0.1, 3.0, 1e-3)
    np.testing.assert_array_equal(X, original)


def test_dead_hidden_units_give_finite_loss_and_gradient():
    X, theta = _problem()
    p = _objective.unpack(theta.copy(), N_FEATURES, N_COMPONENTS)
    p.b1[:] = -800.0  # sigmoid is exactly 0: ρ̂ = 0 would put log(0) in the KL term
    theta = _objective.pack(p)
    loss, grad = _objective.loss_and_grad(theta, X, N_COMPONENTS, 0.1, 3.0, 1e-3)
    assert np.isfinite(loss)
    assert np.all(np.isfinite(grad))


def test_sigmoid_matches_expit():
    from scipy.special import expit

    z = np.linspace(-50, 50, 10001)
    sigmoid = _objective.hidden_activations(z[:, np.newaxis], np.ones((1, 1)), np.zeros(1))
    np.testing.assert_allclose(sigmoid[:, 0], expit(z), rtol=1e-12, atol=1e-16)


def test_pack_and_unpack_are_inverse():
    rng = np.random.RandomState(0)
    params = _objective.initial_params(N_FEATURES, N_COMPONENTS, rng)
    params.b1[:] = rng.normal(size=N_COMPONENTS)
    params.b2[:] = rng.normal(size=N_FEATURES)
    back = _objective.unpack(_objective.pack(params), N_FEATURES, N_COMPONENTS)
    for name in ("W1", "W2T", "b1", "b2"):
        np.testing.assert_array_equal(getattr(back, name), getattr(params, name))


def test_initialisation_follows_ufldl():
    rng = np.random.RandomState(0)
    params = _objective.initial_params(64, 25, rng)
    r = np.sqrt(6) / np.sqrt(64 + 25 + 1)
    for weights in (params.W1, params.W2T):
        assert weights.shape == (25, 64)
        assert np.abs(weights).max() <= r
        assert np.abs(weights).max() > 0.9 * r  # uses the whole range
    assert not params.b1.any() and not params.b2.any()


def test_worker_threads_do_not_change_results(monkeypatch):
    X, theta = _problem(m=3000)
    args = (X, N_COMPONENTS, 0.1, 3.0, 1e-3, "logistic")
    with config_context(working_memory=0.01):  # several chunks per thread
        monkeypatch.setattr(_objective, "n_threads", lambda: 1)
        loss_one, grad_one = _objective.loss_and_grad(theta, *args)
        monkeypatch.setattr(_objective, "n_threads", lambda: 2)
        loss_two, grad_two = _objective.loss_and_grad(theta, *args)
        again = _objective.loss_and_grad(theta, *args)
    assert loss_two == pytest.approx(loss_one, rel=1e-12)
    np.testing.assert_allclose(grad_two, grad_one, rtol=1e-11, atol=1e-15)
    # With a fixed number of threads the sums are added in a fixed order.
    assert again[0] == loss_two
    np.testing.assert_array_equal(again[1], grad_two)


@pytest.mark.parametrize("decoder", ["logistic", "identity"])
def test_recomputing_hidden_activations_gives_same_result(decoder):
    X, theta = _problem(m=400)
    args = (X, N_COMPONENTS, 0.1, 3.0, 1e-3, decoder)
    kept = _objective.evaluate(theta, *args, keep_hidden=True)
    recomputed = _objective.evaluate(theta, *args, keep_hidden=False)
    assert recomputed[0] == kept[0]
    np.testing.assert_array_equal(recomputed[1], kept[1])


def test_hidden_activations_are_kept_only_when_small():
    assert _objective.keep_hidden_activations(np.empty((10, 64)), 25)
    big = np.lib.stride_tricks.as_strided(np.empty(1), shape=(10_000_000, 64), strides=(0, 0))
    assert _objective.keep_hidden_activations(big, 25)  # 0.4 × X
    assert not _objective.keep_hidden_activations(big, 64)  # as large as X


def test_fits_in_several_threads_leave_blas_threads_as_they_were():
    # threadpoolctl's limits are process-wide: overlapping fits that each set
    # and restore one could restore in the wrong order and leave BLAS limited.
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    from skl_sparse_ae import SparseAutoencoder

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    X = np.random.RandomState(0).uniform(size=(3000, 30))
    with pytest.warns(Warning), ThreadPoolExecutor(4) as pool:
        fits = [
            pool.submit(SparseAutoencoder(8, max_iter=15, random_state=seed).fit, X)
            for seed in range(8)
        ]
        models = [fit.result() for fit in fits]
    assert blas_threads() == before
    assert all(np.isfinite(model.loss_) for model in models)


def test_callers_thread_limits_still_work_after_a_fit():
    # threadpoolctl lets one thread at a time control OpenBLAS: the objective's
    # own limit must hand that control back when the fit ends.
    from threadpoolctl import threadpool_info, threadpool_limits

    from skl_sparse_ae import SparseAutoencoder

    def blas_threads():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    X = np.random.RandomState(0).uniform(size=(3000, 30))
    with pytest.warns(Warning):
        SparseAutoencoder(8, max_iter=5, random_state=0).fit(X)
    with threadpool_limits(limits=1, user_api="blas"):
        assert blas_threads() == {1}
    assert blas_threads() == before


@pytest.mark.parametrize("keep_hidden", [True, False])
@pytest.mark.parametrize("n_workers", [1, 2])
def test_buffers_kept_between_evaluations_change_nothing(keep_hidden, n_workers):
    # Several chunks with a short last one: its leading elements are written
    # over the row of ones of a full chunk's buffer, which must be whole again
    # at the next evaluation.
    X, theta = _problem(m=1003)
    other = theta + np.random.RandomState(1).normal(scale=0.1, size=theta.size)
    args = (X, N_COMPONENTS, 0.1, 3.0, 1e-3, "logistic")
    options = dict(keep_hidden=keep_hidden, n_workers=n_workers)
    buffers = _objective.EvaluationBuffers()
    with config_context(working_memory=0.05):
        assert _objective.chunk_rows(X.shape[1], N_COMPONENTS, 8, 1003) < 400
        for point in (theta, other, theta):
            shared = _objective.evaluate(point, *args, buffers=buffers, **options)
            fresh = _objective.evaluate(point, *args, **options)
            assert shared[0] == fresh[0]
            np.testing.assert_array_equal(shared[1], fresh[1])
            np.testing.assert_array_equal(shared[2], fresh[2])


def test_buffers_follow_the_shapes_and_keep_the_two_latest():
    buffers = _objective.EvaluationBuffers()
    made = []

    def get(key):
        return buffers.get("kind", key, lambda: made.append(key) or np.zeros(3))

    first, second = get((1,)), get((2,))
    assert get((1,)) is first and get((2,)) is second and made == [(1,), (2,)]
    get((3,))  # the oldest, (1,), goes
    assert get((2,)) is second and get((1,)) is not first
    assert made == [(1,), (2,), (3,), (1,)]


def test_solvers_reuse_the_buffers_of_their_evaluations(monkeypatch):
    from skl_sparse_ae import SparseAutoencoder

    X, _ = _problem(m=300)
    made = []
    original = _objective.EvaluationBuffers.get

    def counted(self, kind, key, make):
        return original(self, kind, key, lambda: made.append(kind) or make())

    monkeypatch.setattr(_objective.EvaluationBuffers, "get", counted)
    # L-BFGS: one shape. Adam: batches of 200 and 100 rows, and J on all rows
    # at the end of each epoch (loss_curve_), in buffers of its own; 2 kinds
    # of buffer per shape.
    for solver, evaluations, kinds in (("lbfgs", 6, 2), ("adam", 11, 6)):
        made.clear()
        model = SparseAutoencoder(N_COMPONENTS, solver=solver, max_iter=5, random_state=0)
        with pytest.warns(Warning):  # ConvergenceWarning: max_iter
            model.fit(X)
        assert len(made) == kinds < evaluations, solver  # made once per shape
