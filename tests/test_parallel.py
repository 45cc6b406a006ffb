"""Worker threads and thread limits (skl_sparse_ae._parallel)."""

import multiprocessing
import os

import numpy as np
import pytest

from skl_sparse_ae import SparseAutoencoder, ZCAWhitening, _parallel

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data():
    return np.random.RandomState(0).uniform(0.1, 0.9, size=(3000, 16))


def _fit(X):
    model = SparseAutoencoder(6, max_iter=15, random_state=0).fit(X)
    return model.components_, ZCAWhitening().fit(X).whitening_


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
def test_fit_in_a_forked_child_works_and_agrees():
    X = _data()
    # The parent has made its worker threads and its limiter thread, which a
    # forked child does not inherit: the child must make its own.
    in_parent = _fit(X)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        in_child = pool.apply(_fit, (X,))
    for parent, child in zip(in_parent, in_child, strict=True):
        np.testing.assert_array_equal(child, parent)


def test_map_in_threads_returns_results_in_call_order():
    results = _parallel.map_in_threads(lambda k: k * k, [(k,) for k in range(5)])
    assert results == [0, 1, 4, 9, 16]


def test_the_limit_holds_inside_and_is_lifted_after():
    blas_before, threads_before = _parallel._blas_threads(), _parallel.n_threads()
    with _parallel.single_threaded_libraries():
        assert _parallel._blas_threads() == 1
        # Our own limit is not counted: the objective still gets the threads.
        assert _parallel.n_threads() == threads_before
    assert _parallel._blas_threads() == blas_before
