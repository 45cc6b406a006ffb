import subprocess
import sys

import pytest

from skl_sparse_ae.__main__ import main

pytest.importorskip("PIL", reason="the demo reads scikit-learn's sample images with Pillow")


def test_demo_writes_filters_and_summary(tmp_path, capsys):
    from PIL import Image

    assert main(["demo", "--out", str(tmp_path), "--n-patches", "500", "--max-iter", "5"]) == 0
    out = capsys.readouterr().out
    assert "[SparseAutoencoder] Iteration 5, loss" in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("Done in") and "5 iterations" in summary and "rho = 0.01" in summary
    image = Image.open(tmp_path / "filters.png")
    # 25 filters of 8x8 in a 5x5 grid with 1-pixel borders, zoomed 8 times.
    assert image.size == (8 * 46, 8 * 46)


def test_demo_runs_as_module(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "skl_sparse_ae",
            "demo",
            "--out",
            str(tmp_path),
            "--n-patches",
            "300",
            "--max-iter",
            "3",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Iteration" not in result.stdout
    assert (tmp_path / "filters.png").exists()


def test_demo_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--n-patches", "0"])
    assert "must be positive" in capsys.readouterr().err
