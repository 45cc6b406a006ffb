import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from skl_sparse_ae import _kernels
from skl_sparse_ae.__main__ import _dead_units, demo, main

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
        r", \d+ of 25 units dead; on the patches: [\d.]+ units above 0.5 per patch \(L0\), "
        r"\d+ never above it, [\d.]+ of the variance unexplained; filters written to",
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


def test_dead_units_are_filters_far_weaker_than_the_median():
    rng = np.random.RandomState(0)
    filters = rng.normal(size=(6, 16))
    filters /= np.linalg.norm(filters, axis=1, keepdims=True)
    filters[[1, 4]] *= [[0.19], [0.21]]  # just below and just above 0.2 x the median norm
    assert np.flatnonzero(_dead_units(SimpleNamespace(components_=filters))).tolist() == [1]
