"""Peak memory of a fit beyond X: 400 000 x 64 float32 (98 MiB), 3 L-BFGS iterations.

Usage: python benchmarks/bench_memory.py [--n-components 25 64 ...] [--n-samples M]
                                         [--kernel numba numpy]

Each measurement runs in a fresh subprocess that builds X block by block in place
(no temporary as large as X, so building it leaves the high-water mark at X),
records its resident memory, fits SparseAutoencoder(n_components=h, max_iter=3,
tol=0) and reads getrusage's ru_maxrss again. The growth is reported relative to
X's size; the target is at most 0.75. Each kernel (numba when importable, and
NumPy) is measured in processes of its own (SKL_SPARSE_AE_KERNEL).

ru_maxrss is a high-water mark that a child also inherits from its parent's memory
at exec, so the growth is max_rss_after - rss_baseline only when the fit raised the
mark; VmHWM (Linux, reset at the baseline) is printed as a cross-check.
"""

import argparse
import importlib.util
import textwrap

from _child import run_child

TARGET = 0.75  # peak growth / X.nbytes

CHILD = textwrap.dedent(
    """
    import json, resource, sys, warnings
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from skl_sparse_ae import SparseAutoencoder
    from skl_sparse_ae._testing import proc_status, reset_peak_rss

    h, m = int(sys.argv[1]), int(sys.argv[2])
    warnings.simplefilter("ignore", ConvergenceWarning)

    def max_rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    # imports, the objective's thread pool and first-call costs, before the baseline
    SparseAutoencoder(4, max_iter=2).fit(np.random.RandomState(0).rand(2000, 64))
    rng = np.random.default_rng(0)
    X = np.empty((m, 64), dtype=np.float32)
    for start in range(0, m, 10_000):
        block = X[start : start + 10_000]
        rng.random(out=block, dtype=np.float32)  # in place: every page of X is touched
        block *= 0.8
        block += 0.1
    rss_before, max_before = proc_status("VmRSS"), max_rss()
    hwm_reset = reset_peak_rss()
    SparseAutoencoder(h, max_iter=3, tol=0.0, random_state=0).fit(X)
    max_after, hwm_after = max_rss(), proc_status("VmHWM")
    print(json.dumps(dict(
        nbytes=X.nbytes,
        raised=max_after > max_before,
        growth=max_after - (rss_before or max_before),
        hidden=max_before - (rss_before or max_before),
        hwm_growth=hwm_after - rss_before if hwm_reset and rss_before else None,
    )))
    """
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-components", type=int, nargs="+", default=[25, 64])
    parser.add_argument("--n-samples", type=int, default=400_000)
    numba = importlib.util.find_spec("numba") is not None
    parser.add_argument(
        "--kernel", nargs="+", choices=["numba", "numpy"], default=["numba", "numpy"][not numba :]
    )
    args = parser.parse_args()
    mib = 2**20
    print(
        f"{'kernel':>6} {'n_components':>12} {'X (MiB)':>8} {'peak growth (MiB)':>18} {'/ X':>6} "
        f"{'VmHWM check':>12}  target <= {TARGET}"
    )
    for kernel, h in ((kernel, h) for kernel in args.kernel for h in args.n_components):
        r = run_child(["-c", CHILD, str(h), str(args.n_samples)], {"SKL_SPARSE_AE_KERNEL": kernel})
        if "failed" in r:
            print(f"{kernel:>6} {h:12d} failed: {r['failed']}")
            continue
        if r["raised"]:
            growth, ratio = f"{r['growth'] / mib:.1f}", f"{r['growth'] / r['nbytes']:.2f}"
            verdict = "ok" if r["growth"] <= TARGET * r["nbytes"] else "OVER"
        else:  # the fit stayed under an older high-water mark
            growth, ratio = f"<={r['hidden'] / mib:.1f}", f"<={r['hidden'] / r['nbytes']:.2f}"
            verdict = "ok" if r["hidden"] <= TARGET * r["nbytes"] else "unknown"
        check = "n/a" if r["hwm_growth"] is None else f"{r['hwm_growth'] / mib:.1f}"
        size = r["nbytes"] / mib
        print(f"{kernel:>6} {h:12d} {size:8.0f} {growth:>18} {ratio:>6} {check:>12}  {verdict}")


if __name__ == "__main__":
    main()
