import importlib.util
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import minmax_scale
from sklearn.utils._param_validation import InvalidParameterError

from skl_sparse_ae import datasets
from skl_sparse_ae.datasets import (
    load_natural_image_patches,
    load_nudged_digits,
    normalize_patches,
)

# Only the tests that read the photographs need scikit-image.
needs_photographs = pytest.mark.skipif(
    importlib.util.find_spec("skimage") is None, reason="the photographs are scikit-image's"
)


@needs_photographs
def test_shape_and_ufldl_range():
    X = load_natural_image_patches(n_patches=501, patch_size=6)
    assert X.shape == (501, 36)
    assert X.dtype == np.float64
    assert X.min() >= 0.1 and X.max() <= 0.9


@needs_photographs
def test_same_random_state_same_patches():
    a = load_natural_image_patches(n_patches=50, random_state=1)
    b = load_natural_image_patches(n_patches=50, random_state=1)
    c = load_natural_image_patches(n_patches=50, random_state=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@needs_photographs
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


@needs_photographs
def test_raw_grey_patches_are_in_unit_interval():
    X = load_natural_image_patches(n_patches=100, whiten=False, normalize=False)
    assert X.min() >= 0 and X.max() <= 1
    # Neighbouring pixels of natural images are strongly correlated.
    assert np.corrcoef(X[:, 0], X[:, 1])[0, 1] > 0.8


@needs_photographs
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
    with pytest.raises(InvalidParameterError, match="n_patches"):
        load_natural_image_patches(n_patches=0)


@needs_photographs
def test_more_patches_than_the_images_hold_is_an_error():
    with pytest.raises(ValueError, match="more than the photographs hold"):
        load_natural_image_patches(n_patches=10_000_000, patch_size=8)


def test_without_scikit_image_the_error_names_the_examples_extra(monkeypatch):
    # None in sys.modules makes an import fail, as if scikit-image were absent.
    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.io", None)
    with pytest.raises(ImportError, match=r"scikit-image.*skl-sparse-ae\[examples\]"):
        load_natural_image_patches(n_patches=10)


# --- load_nudged_digits ---------------------------------------------------------------


def test_nudged_digits_are_five_blocks_of_the_digits():
    bunch = load_nudged_digits()
    digits = load_digits()
    assert bunch.data.shape == (8985, 64) and bunch.images.shape == (8985, 8, 8)
    assert bunch.data.dtype == np.float64
    np.testing.assert_array_equal(bunch.target, np.tile(digits.target, 5))
    np.testing.assert_array_equal(bunch.images.reshape(8985, 64), bunch.data)
    assert bunch.feature_names == digits.feature_names
    np.testing.assert_array_equal(bunch.target_names, np.arange(10))
    assert bunch.nudges == ("up", "left", "right", "down")
    assert "8985 images" in bunch.DESCR


def test_nudged_digits_are_the_shifts_of_the_originals():
    images = load_nudged_digits(scale=False).images.reshape(5, 1797, 8, 8)
    original = load_digits().images
    np.testing.assert_array_equal(images[0], original)
    up, left, right, down = images[1:]
    # Each copy holds the original moved by one pixel, a zero row or column
    # where the image came from.
    np.testing.assert_array_equal(up[:, :-1], original[:, 1:])
    np.testing.assert_array_equal(left[:, :, :-1], original[:, :, 1:])
    np.testing.assert_array_equal(right[:, :, 1:], original[:, :, :-1])
    np.testing.assert_array_equal(down[:, 1:], original[:, :-1])
    for edge in (up[:, -1], left[:, :, -1], right[:, :, 0], down[:, 0]):
        assert not edge.any()


def test_nudged_digits_are_scaled_per_pixel_after_the_shifts():
    raw, y_raw = load_nudged_digits(scale=False, return_X_y=True)
    X, y = load_nudged_digits(return_X_y=True)
    assert raw.min() == 0 and raw.max() == 16
    np.testing.assert_array_equal(raw, np.round(raw))  # grey levels 0 to 16
    np.testing.assert_array_equal(X, minmax_scale(raw))
    np.testing.assert_array_equal(y, y_raw)
    assert X.min() == 0.0 and X.max() == 1.0
    # Every pixel that is not always 0 reaches 1 on some image.
    np.testing.assert_array_equal(X.max(axis=0), raw.max(axis=0) > 0)


@pytest.mark.parametrize("scale", [True, False])
def test_nudged_digits_are_computed_in_the_asked_dtype(scale):
    X32, _ = load_nudged_digits(dtype=np.float32, scale=scale, return_X_y=True)
    X64, _ = load_nudged_digits(dtype=np.float64, scale=scale, return_X_y=True)
    assert X32.dtype == np.float32 and X64.dtype == np.float64
    np.testing.assert_allclose(X32, X64, rtol=1e-6)


def test_nudged_digits_are_the_same_at_every_call():
    first, again = load_nudged_digits(), load_nudged_digits()
    np.testing.assert_array_equal(first.data, again.data)
    first.data[:] = -1  # a caller's change does not reach the next call
    assert load_nudged_digits().data.min() == 0.0


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"dtype": np.int64}, "dtype"),
        ({"dtype": "float32"}, "dtype"),
        ({"scale": "yes"}, "scale"),
        ({"return_X_y": 1.0}, "return_X_y"),
    ],
)
def test_nudged_digits_reject_bad_parameters(kwargs, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of load_nudged_digits"):
        load_nudged_digits(**kwargs)


def test_nudged_digits_take_keyword_arguments_only():
    with pytest.raises(TypeError):
        load_nudged_digits(False)
