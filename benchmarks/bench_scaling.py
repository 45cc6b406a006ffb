"""Time and memory of the three ways to train on more data: in memory,
memory-mapped, streamed with partial_fit, and on a Dask cluster.

Usage: python benchmarks/bench_scaling.py [--n-samples 2000000] [--max-iter 20]

Each way runs in a fresh subprocess that reports its wall time, the growth of
its anonymous memory during training (RssAnon, polled; file-backed pages of a
memory map are cache, not a copy) and its peak resident memory (VmHWM, which
includes the memory-mapped pages it touched).
"""

import argparse
import tempfile
import textwrap
from pathlib import Path

import numpy as np
from _child import run_child

CHILD = textwrap.dedent(
    """
    import json, sys, time, warnings
    import numpy as np
    from skl_sparse_ae import SparseAutoencoder
    from skl_sparse_ae._testing import PeakAnonymousMemory, proc_status

    way, path, max_iter = sys.argv[1], sys.argv[2], int(sys.argv[3])
    warnings.simplefilter("ignore")

    settings = dict(n_components=25, rho=0.01, beta=3.0, lam=1e-4, random_state=0)
    SparseAutoencoder(4, max_iter=2).fit(np.random.rand(500, 64))  # warm up imports
    if way == "in memory":
        X = np.load(path)
    else:
        X = np.load(path, mmap_mode="r")
    if way == "dask":
        import dask.array as da
        from dask import delayed
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                               dashboard_address=None)
        client = Client(cluster)
        # Each worker maps its own rows from the file. (da.from_array of a
        # local array would pickle the whole array into every graph.)
        def load_rows(start, stop):
            return np.load(path, mmap_mode="r")[start:stop]
        step = 250_000
        X = da.concatenate([
            da.from_delayed(delayed(load_rows)(s, min(s + step, len(X))),
                            shape=(min(s + step, len(X)) - s, 64), dtype=X.dtype)
            for s in range(0, len(X), step)
        ])
    with PeakAnonymousMemory() as anon:
        start = time.perf_counter()
        if way == "partial_fit":
            model = SparseAutoencoder(**settings, solver="adam", batch_size=500,
                                      learning_rate_init=1e-2)
            for _ in range(max_iter):
                for rows in range(0, X.shape[0], 100_000):
                    model.partial_fit(X[rows : rows + 100_000])
        else:
            model = SparseAutoencoder(**settings, max_iter=max_iter, tol=0.0).fit(X)
        elapsed = time.perf_counter() - start
    print(json.dumps(dict(
        seconds=elapsed, loss=model.loss_, n_iter=model.n_iter_,
        anon_mib=anon.growth / 2**20, peak_rss_mib=proc_status("VmHWM") / 2**20,
    )))
    """
)

WAYS = ["in memory", "memmap", "partial_fit", "dask"]


def make_data(path, n_samples):
    from skl_sparse_ae.datasets import load_natural_image_patches

    # The photographs hold ~740 000 distinct 8x8 patches: the rest are the
    # same patches rotated and mirrored, a common augmentation.
    base = load_natural_image_patches(min(n_samples, 400_000), 8, random_state=0)
    base = base.astype(np.float32).reshape(-1, 8, 8)
    variants = [np.rot90(base, k, axes=(1, 2)) for k in range(4)]
    variants += [v[:, :, ::-1] for v in variants]
    X = np.concatenate(variants).reshape(-1, 64)[:n_samples]
    np.save(path, np.random.RandomState(0).permutation(X))
    return X.nbytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=2_000_000)
    parser.add_argument("--max-iter", type=int, default=20, help="L-BFGS iterations / epochs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "patches.npy"
        nbytes = make_data(path, args.n_samples)
        print(
            f"{args.n_samples} x 64 float32 patches ({nbytes / 2**20:.0f} MiB), h=25, "
            f"{args.max_iter} L-BFGS iterations (partial_fit: {args.max_iter} epochs)"
        )
        print(
            f"{'way':<12} {'time (s)':>9} {'s/iter':>7} {'J':>8} "
            f"{'anon +MiB':>10} {'peak RSS MiB':>13}"
        )
        for way in WAYS:
            r = run_child(["-c", CHILD, way, str(path), str(args.max_iter)])
            if "failed" in r:
                print(f"{way:<12} failed: {r['failed']}")
                continue
            print(
                f"{way:<12} {r['seconds']:9.1f} {r['seconds'] / args.max_iter:7.2f} "
                f"{r['loss']:8.4f} {r['anon_mib']:10.0f} {r['peak_rss_mib']:13.0f}"
            )


if __name__ == "__main__":
    main()
