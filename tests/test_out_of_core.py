"""Training on memory-mapped data without copying it into memory."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skl_sparse_ae import SparseAutoencoder
from skl_sparse_ae._testing import PeakAnonymousMemory, proc_status

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/status"
)

CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from skl_sparse_ae import SparseAutoencoder, ZCAWhitening
    from skl_sparse_ae._testing import PeakAnonymousMemory

    X = np.load(sys.argv[1], mmap_mode="r")
    fit = {
        "sae": lambda X: SparseAutoencoder(8, max_iter=2, tol=0.0, random_state=0).fit(X),
        "zca": lambda X: ZCAWhitening().fit(X),
    }[sys.argv[2]]
    # Warm up imports and the thread pool on a small slice first.
    fit(np.asarray(X[:1000]))
    with PeakAnonymousMemory() as anon:
        model = fit(X)
    assert model.components_.shape[1] == X.shape[1]
    print(anon.growth)
    """
)


@pytest.fixture(scope="module")
def patch_file(tmp_path_factory):
    """1 000 000 × 64 float32 (256 MB) in a .npy file, written in parts."""
    path = tmp_path_factory.mktemp("memmap") / "patches.npy"
    rng = np.random.RandomState(0)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(1_000_000, 64))
    for start in range(0, X.shape[0], 100_000):  # fill without holding it in memory
        X[start : start + 100_000] = rng.uniform(0.1, 0.9, size=(100_000, 64))
    X.flush()
    return path, X.nbytes


def _anonymous_memory_growth(path, estimator):
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), estimator],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.split()[-1])


@linux_only
def test_lbfgs_on_memmap_does_not_copy_X(patch_file):
    path, file_bytes = patch_file
    # Only the hidden activations kept between the two passes of an evaluation
    # (9 of 64 columns' worth here) and chunk buffers are ours; a copy of X
    # would be the whole file.
    anon_growth = _anonymous_memory_growth(path, "sae")
    assert anon_growth < 0.2 * file_bytes, (anon_growth, file_bytes)


@linux_only
def test_zca_fit_on_memmap_does_not_copy_X(patch_file):
    path, file_bytes = patch_file
    # Chunks of at most 16 MiB of float64 temporaries: a copy, or a float64
    # cast of X, would be 1 or 2 times the file.
    anon_growth = _anonymous_memory_growth(path, "zca")
    assert anon_growth < 0.25 * file_bytes, (anon_growth, file_bytes)


@linux_only
def test_anonymous_memory_counts_a_copy_of_a_memmap_but_not_reading_it(tmp_path):
    path = tmp_path / "X.npy"
    written = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(2**17, 64))
    written[:] = 1.0  # 64 MiB
    written.flush()
    del written
    X = np.load(path, mmap_mode="r")
    with PeakAnonymousMemory() as reading:
        total = float(X.sum(axis=0).sum())  # the file's pages: page cache, not ours
    with PeakAnonymousMemory() as copying:
        copy = np.array(X)
    assert total == X.size and copy.base is None
    assert reading.growth < 0.1 * X.nbytes, reading.growth
    assert copying.growth >= 0.9 * X.nbytes, copying.growth


def test_proc_status_is_none_for_a_field_it_does_not_have():
    assert proc_status("NoSuchField") is None


def test_peak_anonymous_memory_without_proc_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("skl_sparse_ae._testing.proc_status", lambda field: None)
    with pytest.raises(OSError, match="RssAnon"):
        with PeakAnonymousMemory():
            pass


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_lbfgs_accepts_read_only_memmap(tmp_path):
    X = np.random.RandomState(0).uniform(0.1, 0.9, size=(500, 16))
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    on_map = SparseAutoencoder(4, max_iter=20, random_state=0).fit(mapped)
    in_memory = SparseAutoencoder(4, max_iter=20, random_state=0).fit(X)
    np.testing.assert_array_equal(on_map.components_, in_memory.components_)
    np.testing.assert_array_equal(on_map.transform(mapped), in_memory.transform(X))


def test_partial_fit_streams_chunks_of_a_file(tmp_path):
    X = np.random.RandomState(0).uniform(0.1, 0.9, size=(1200, 16))
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    model = SparseAutoencoder(4, solver="adam", learning_rate_init=1e-2, random_state=0)
    losses = []
    for _ in range(5):
        for start in range(0, len(mapped), 300):
            model.partial_fit(mapped[start : start + 300])
        losses.append(-model.score(X))
    assert losses[-1] < losses[0]
