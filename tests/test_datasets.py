import numpy as np
import pytest

from skl_sparse_ae.datasets import load_natural_image_patches, normalize_patches

pytest.importorskip("PIL", reason="scikit-learn's sample images need Pillow")


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


def test_raw_grey_patches_are_in_unit_interval():
    X = load_natural_image_patches(n_patches=100, whiten=False, normalize=False)
    assert X.min() >= 0 and X.max() <= 1
    # Neighbouring pixels of natural images are strongly correlated.
    assert np.corrcoef(X[:, 0], X[:, 1])[0, 1] > 0.8


def test_whitening_decorrelates_neighbouring_pixels():
    raw = load_natural_image_patches(n_patches=2000, whiten=False, normalize=False)
    white = load_natural_image_patches(n_patches=2000, whiten=True, normalize=False)

    def neighbour_correlation(X):
        return np.corrcoef(X[:, 27], X[:, 28])[0, 1]

    assert abs(neighbour_correlation(white)) < 0.6 * neighbour_correlation(raw)


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
    with pytest.raises(ValueError, match="more than the sample images hold"):
        load_natural_image_patches(n_patches=10_000_000, patch_size=8)
