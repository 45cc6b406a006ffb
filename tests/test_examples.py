"""Smoke test: every gallery example runs to the end on a small problem."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the examples draw with matplotlib")
pytest.importorskip("PIL", reason="some examples read scikit-learn's sample images with Pillow")
pytest.importorskip("skimage", reason="the natural image patches are scikit-image's photographs")

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))


def test_the_gallery_is_not_empty():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_runs(example, tmp_path):
    # Quick mode shrinks data and iterations; Agg draws without a display.
    env = {**os.environ, "MPLBACKEND": "Agg", "SKL_SPARSE_AE_EXAMPLES_QUICK": "1"}
    # One BLAS thread: the examples run next to other tests (pytest -n auto),
    # and on busy cores threaded BLAS makes small problems many times slower.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, str(example)],
        cwd=tmp_path,  # anything an example writes lands in a temporary folder
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{example.name} failed:\n{result.stdout}\n{result.stderr}"
