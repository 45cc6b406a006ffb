import sys

import numpy as np
import pytest

from skl_sparse_ae import datasets
from skl_sparse_ae.datasets import load_natural_image_patches, normalize_patches

pytest.importorskip("skimage", reason="the photographs are scikit-image's")


def test_shape_and_ufldl_range():
    X = load_natural_image_patches(n_patches=501, patch_size=6)
    assert X.shape == (501, 36)
    assert X.dtype == np.float64
    assert X.min() >= 0.1 and X.max() <= 0.9


def test_same_random_state_same_patches():
    a = load_natural_image_patches(n_patches=50, random_state=1)
    b = load_natural_image_patches(n_patches=50, random_state=1)
    c = load_natural_image_patches(n_patches=50, random_state=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_the_photographs_are_grey_and_distinct():
    images = datasets._load_photographs()
    assert len(images) == len(datasets._PHOTOGRAPHS) >= 7
    for image in images:
        assert image.ndim == 2 and min(image.shape) >= 300
        assert 0 <= image.min() < image.max() <= 1
    assert len({(image.shape, round(image.mean(), 6)) for image in images}) == len(images)


def test_every_photograph_gives_an_equal_share(monkeypatch):
    # Flat images of distinct grey levels tell which one each patch came from.
    images = [np.full((40 + 10 * i, 50), i / 10) for i in range(7)]
    monkeypatch.setattr(datasets, "_load_photographs", lambda: [i.copy() for i in images])
    X = load_natural_image_patches(n_patches=702, patch_size=4, whiten=False, normalize=False)
    assert X.shape == (702, 16)
    levels, counts = np.unique(X[:, 0], return_counts=True)
    np.testing.assert_allclose(levels, np.arange(7) / 10)
    assert sorted(counts) == [100] * 5 + [101] * 2


def test_raw_grey_patches_are_in_unit_interval():
    X = load_natural_image_patches(n_patches=100, whiten=False, normalize=False)
    assert X.min() >= 0 and X.max() <= 1
    # Neighbouring pixels of natural images are strongly correlated.
    assert np.corrcoef(X[:, 0], X[:, 1])[0, 1] > 0.8


def test_whitening_decorrelates_neighbouring_pixels():
    raw = load_natural_image_patches(n_patches=2000, whiten=False, normalize=False)
    white = load_natural_image_patches(n_patches=2000, whiten=True, normalize=False)

    def correlation(X, distance):
        return np.corrcoef(X[:, 27], X[:, 27 + distance])[0, 1]

    # The filter's roll-off above 0.4 cycles/pixel keeps some correlation
    # between direct neighbours; two pixels apart it is mostly gone.
    assert abs(correlation(white, 1)) < 0.7 * correlation(raw, 1)
    assert abs(correlation(white, 2)) < 0.3 * correlation(raw, 2)


def test_normalize_patches_follows_ufldl():
    rng = np.random.RandomState(0)
    patches = rng.normal(size=(400, 16))
    patches[0, 0] = 100.0  # an outlier is clipped at 3 standard deviations
    original = patches.copy()
    out = normalize_patches(patches)
    np.testing.assert_array_equal(patches, original)  # input untouched
    assert out.min() >= 0.1 and out.max() == pytest.approx(0.9)
    centred = original - original.mean(axis=1, keepdims=True)
    bound = 3 * centred.std()
    expected = (np.clip(centred, -bound, bound) / bound + 1) * 0.4 + 0.1
    np.testing.assert_allclose(out, expected)


def test_invalid_arguments_are_rejected():
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="n_patches"):
        load_natural_image_patches(n_patches=0)


def test_more_patches_than_the_images_hold_is_an_error():
    with pytest.raises(ValueError, match="more than the photographs hold"):
        load_natural_image_patches(n_patches=10_000_000, patch_size=8)


def test_without_scikit_image_the_error_names_the_examples_extra(monkeypatch):
    # None in sys.modules makes an import fail, as if scikit-image were absent.
    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.io", None)
    with pytest.raises(ImportError, match=r"scikit-image.*skl-sparse-ae\[examples\]"):
        load_natural_image_patches(n_patches=10)
