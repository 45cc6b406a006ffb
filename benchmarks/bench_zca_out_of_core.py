"""ZCA whitening, then a sparse autoencoder, on patches that stay on disk.

Usage: python benchmarks/bench_zca_out_of_core.py [--n-samples 2000000] [--max-iter 20]

The UFLDL linear-decoder pipeline (ZCA, then an identity-decoder autoencoder)
end to end on a read-only memory-mapped .npy file, each step in a fresh
subprocess that reports its wall time and the growth of its anonymous memory
(RssAnon, polled: file-backed pages of a memory map are cache, not a copy):

1. ``ZCAWhitening.fit`` on the memory map;
2. the same with ``partial_fit`` over chunks of 100 000 rows, and on a Dask
   array of the file's blocks;
3. ``transform`` chunk by chunk into a second memory-mapped file;
4. ``SparseAutoencoder(decoder_activation="identity").fit`` on that file.
"""

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _child import run_child  # noqa: E402
from bench_adam import cpu_model  # noqa: E402
from bench_scaling import make_data  # noqa: E402

CHILD = textwrap.dedent(
    """
    import json, sys, time, warnings
    import numpy as np
    from skl_sparse_ae import SparseAutoencoder, ZCAWhitening
    from skl_sparse_ae._testing import PeakAnonymousMemory

    step, path, whitened_path, max_iter = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    warnings.simplefilter("ignore")
    CHUNK = 100_000

    X = np.load(path, mmap_mode="r")
    ZCAWhitening().fit(np.asarray(X[:1000]))  # warm up imports and threads
    SparseAutoencoder(4, max_iter=2).fit(np.random.rand(500, 64))
    if step == "zca dask":
        import dask.array as da
        lazy = da.from_array(X, chunks=(250_000, 64))
    with PeakAnonymousMemory() as anon:
        start = time.perf_counter()
        if step == "zca fit":
            ZCAWhitening(epsilon=0.1).fit(X)
        elif step == "zca partial_fit":
            zca = ZCAWhitening(epsilon=0.1)
            for s in range(0, len(X), CHUNK):
                zca.partial_fit(X[s : s + CHUNK])
        elif step == "zca dask":
            ZCAWhitening(epsilon=0.1).fit(lazy)
        elif step == "transform":
            zca = ZCAWhitening(epsilon=0.1).fit(X)
            out = np.lib.format.open_memmap(whitened_path, mode="w+", dtype=X.dtype, shape=X.shape)
            for s in range(0, len(X), CHUNK):
                out[s : s + CHUNK] = zca.transform(X[s : s + CHUNK])
            out.flush()
            del out
        elif step == "autoencoder":
            W = np.load(whitened_path, mmap_mode="r")
            SparseAutoencoder(25, decoder_activation="identity", rho=0.035, beta=5.0, lam=3e-3,
                              max_iter=max_iter, tol=0.0, random_state=0).fit(W)
        elapsed = time.perf_counter() - start
    print(json.dumps(dict(seconds=elapsed, anon_mib=anon.growth / 2**20)))
    """
)

STEPS = ["zca fit", "zca partial_fit", "zca dask", "transform", "autoencoder"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=2_000_000)
    parser.add_argument("--max-iter", type=int, default=20, help="L-BFGS iterations")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}")
    with tempfile.TemporaryDirectory() as folder:
        path, whitened = Path(folder) / "patches.npy", Path(folder) / "whitened.npy"
        nbytes = make_data(path, args.n_samples)
        print(f"{args.n_samples} x 64 float32 patches ({nbytes / 2**20:.0f} MiB) on disk")
        print(f"{'step':<18} {'time (s)':>9} {'anon +MiB':>10} {'x file':>7}")
        for step in STEPS:
            row = run_child(["-c", CHILD, step, str(path), str(whitened), str(args.max_iter)])
            if "failed" in row:
                print(f"{step:<18} failed: {row['failed']}")
                continue
            ratio = row["anon_mib"] * 2**20 / nbytes
            print(f"{step:<18} {row['seconds']:>9.2f} {row['anon_mib']:>10.1f} {ratio:>7.3f}")


if __name__ == "__main__":
    main()
