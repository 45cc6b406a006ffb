"""Peak memory of a fit beyond X: 400 000 x 64 float32 (98 MiB), a few L-BFGS iterations.

Usage: python benchmarks/bench_memory.py

Each measurement runs in a fresh subprocess that builds X in float32 blocks
(so that building it leaves no higher high-water mark than X itself), fits,
and compares ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` before and after.
"""

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import resource, sys, warnings
    import numpy as np
    from skl_sparse_ae import SparseAutoencoder

    warnings.simplefilter("ignore")
    h = int(sys.argv[1])
    SparseAutoencoder(4, max_iter=2).fit(np.random.rand(2000, 64))  # imports, thread pool
    rng = np.random.RandomState(0)
    X = np.empty((400_000, 64), dtype=np.float32)
    for start in range(0, len(X), 10_000):
        X[start : start + 10_000] = rng.uniform(0.1, 0.9, size=(10_000, 64))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    SparseAutoencoder(h, max_iter=3, tol=0.0, random_state=0).fit(X)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(X.nbytes, after - before)
    """
)


def main():
    print(f"{'n_components':>12} {'X (MiB)':>8} {'peak growth (MiB)':>18} {'/ X':>6}")
    for h in (25, 64, 196):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(h)], capture_output=True, text=True, check=True
        )
        nbytes, growth = map(int, out.stdout.split())
        print(f"{h:12d} {nbytes / 2**20:8.0f} {growth / 2**20:18.1f} {growth / nbytes:6.2f}")


if __name__ == "__main__":
    main()
