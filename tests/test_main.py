import re
import subprocess
import sys

import numpy as np
import pytest

from skl_sparse_ae import SparseAutoencoder, _kernels
from skl_sparse_ae.__main__ import demo, main
from skl_sparse_ae.datasets import load_natural_image_patches
from skl_sparse_ae.diagnostics import sparsity_report

pytest.importorskip("skimage", reason="the demo's photographs are scikit-image's")


def test_demo_writes_filters_and_summary(tmp_path, capsys):
    from PIL import Image

    assert main(["demo", "--out", str(tmp_path), "--n-patches", "500", "--max-iter", "5"]) == 0
    out = capsys.readouterr().out
    assert "[SparseAutoencoder] Iteration 5, loss" in out
    summary = out.strip().splitlines()[-1]
    kernel = _kernels.default_kernel().name
    assert re.match(rf"Done in [\d.]+s \({kernel} kernel\): 5 iterations", summary)
    assert "rho = 0.01" in summary
    assert re.search(
        r"; on the patches: \d+ of 25 units dead \(never above 0.5\), [\d.]+ units above "
        r"it per patch \(L0\), [\d.]+ of the variance unexplained; filters written to",
        summary,
    )
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


def test_demo_rejects_a_negative_random_state(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--random-state", "-1"])
    assert "--random-state" in capsys.readouterr().err


def test_random_state_sets_the_patches_and_the_initial_weights(tmp_path, capsys):
    def fit(seed):
        return demo(tmp_path, n_patches=200, max_iter=2, random_state=seed, verbose=0)

    first, again, other = fit(3), fit(3), fit(4)
    np.testing.assert_array_equal(first.components_, again.components_)
    assert not np.allclose(first.components_, other.components_)
    assert first.random_state == 3


def test_random_state_option_reaches_the_demo(tmp_path, capsys, monkeypatch):
    seen = {}
    monkeypatch.setattr("skl_sparse_ae.__main__.demo", lambda out, **kwargs: seen.update(kwargs))
    assert main(["demo", "--out", str(tmp_path), "--random-state", "2"]) == 0
    assert seen["random_state"] == 2
    main(["demo", "--out", str(tmp_path)])
    assert seen["random_state"] == 0


def test_the_demo_counts_dead_units_with_sparsity_report(tmp_path, capsys, monkeypatch):
    fit = SparseAutoencoder.fit

    def fit_and_kill_two_units(self, X, y=None):
        fit(self, X, y)
        self.intercept_hidden_[[3, 7]] = -1e3  # never above 0.5: dead
        return self

    monkeypatch.setattr(SparseAutoencoder, "fit", fit_and_kill_two_units)
    model = demo(tmp_path, n_patches=300, max_iter=3, random_state=1, verbose=0)
    X = load_natural_image_patches(n_patches=300, patch_size=8, random_state=1)
    dead = sparsity_report(model, X).dead_units
    assert dead[[3, 7]].all()
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"on the patches: {dead.sum()} of 25 units dead (never above 0.5)" in summary
