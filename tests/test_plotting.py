import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skl_sparse_ae import SparseAutoencoder
from skl_sparse_ae.plotting import plot_filters, tile_filters


def test_tiles_are_placed_row_by_row_with_padding():
    # Filter k is the constant k + 1, so each tile is identified by its value.
    filters = np.repeat(np.arange(1.0, 6.0)[:, None], 6, axis=1)  # five 2x3 filters
    image = tile_filters(filters, patch_shape=(2, 3), n_cols=3, padding=2, normalize=None)
    assert image.shape == (2 + 2 * (2 + 2), 2 + 3 * (3 + 2))
    expected = np.zeros_like(image)
    for k in range(5):
        top, left = 2 + (k // 3) * 4, 2 + (k % 3) * 5
        expected[top : top + 2, left : left + 3] = (k + 1) / 5
    np.testing.assert_array_equal(image, expected)


def test_default_grid_is_square_and_filters_square():
    image = tile_filters(np.ones((10, 16)))
    # ceil(sqrt(10)) = 4 columns, 3 rows of 4x4 tiles, 1 pixel of padding.
    assert image.shape == (1 + 3 * 5, 1 + 4 * 5)
    assert image.sum() == 10 * 16


def test_pixels_are_row_major_within_a_tile():
    image = tile_filters(np.arange(1.0, 7.0)[None, :], patch_shape=(2, 3), padding=0)
    np.testing.assert_array_equal(image, np.array([[1, 2, 3], [4, 5, 6]]) / 6)


def test_zero_padding_leaves_no_background():
    image = tile_filters(np.ones((4, 4)), padding=0)
    np.testing.assert_array_equal(image, np.ones((4, 4)))


def test_max_abs_scales_each_tile_to_full_contrast():
    filters = np.array([[0.5, -0.25, 0.0, 0.1], [-4.0, 2.0, 1.0, 0.0]])
    image = tile_filters(filters, n_cols=2, padding=0)
    np.testing.assert_allclose(image[:, :2].ravel(), [1.0, -0.5, 0.0, 0.2])
    np.testing.assert_allclose(image[:, 2:].ravel(), [-1.0, 0.5, 0.25, 0.0])


def test_none_keeps_relative_magnitudes():
    filters = np.array([[0.5, -0.25, 0.0, 0.1], [-4.0, 2.0, 1.0, 0.0]])
    image = tile_filters(filters, n_cols=2, padding=0, normalize=None)
    np.testing.assert_allclose(image[:, :2].ravel(), filters[0] / 4)
    np.testing.assert_allclose(image[:, 2:].ravel(), filters[1] / 4)


def test_l2_shows_the_unit_norm_maximal_input_on_a_shared_scale():
    # A filter on one pixel and one spread over four: after dividing by the
    # L2 norm the peaked filter has the larger values (1 against 0.5).
    filters = np.array([[0.0, 0.0, 3.0, 0.0], [-2.0, 2.0, 2.0, 2.0]])
    image = tile_filters(filters, n_cols=2, padding=0, normalize="l2")
    np.testing.assert_allclose(image[:, :2].ravel(), [0.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(image[:, 2:].ravel(), [-0.5, 0.5, 0.5, 0.5])


@pytest.mark.parametrize("normalize", ["max_abs", "l2", None])
def test_all_zero_filters_stay_background(normalize):
    image = tile_filters(np.zeros((4, 9)), normalize=normalize)
    assert np.all(image == 0) and np.isfinite(image).all()


@pytest.mark.parametrize("normalize", ["max_abs", "l2", None])
def test_grey_values_lie_in_minus_one_one(normalize):
    filters = np.random.RandomState(0).normal(scale=10, size=(7, 25))
    image = tile_filters(filters, normalize=normalize)
    assert image.min() >= -1 and image.max() <= 1
    assert np.isclose(np.abs(image).max(), 1.0)


def test_rgb_layout_is_channel_last():
    from sklearn.feature_extraction.image import extract_patches_2d

    # One 2x3 RGB patch with distinct values, flattened as extract_patches_2d gives it.
    picture = np.arange(1.0, 19.0).reshape(2, 3, 3)
    row = extract_patches_2d(picture, (2, 3)).reshape(1, -1)
    image = tile_filters(row, patch_shape=(2, 3, 3), padding=0, normalize=None)
    assert image.shape == (2, 3, 3)
    np.testing.assert_allclose(image, (picture / 18 + 1) / 2)
    # Red channel of the top-left pixel, then green, then blue.
    np.testing.assert_allclose(image[0, 0], (np.array([1, 2, 3]) / 18 + 1) / 2)


def test_rgb_tiles_are_scaled_jointly_over_channels_onto_grey_background():
    red = np.tile([1.0, 0.0, 0.0], 4)  # a pure red 2x2 filter
    dim_blue = np.tile([0.0, 0.0, -0.5], 4)
    image = tile_filters(np.array([red, dim_blue]), patch_shape=(2, 2, 3), n_cols=2)
    assert image.shape == (1 + 3, 1 + 2 * 3, 3)
    np.testing.assert_array_equal(image[0], 0.5)  # background: zero maps to 0.5
    np.testing.assert_array_equal(image[1:3, 1:3], np.broadcast_to([1.0, 0.5, 0.5], (2, 2, 3)))
    # Scaled by its max-abs over all channels: -0.5 / 0.5 = -1 in blue only.
    np.testing.assert_array_equal(image[1:3, 4:6], np.broadcast_to([0.5, 0.5, 0.0], (2, 2, 3)))
    assert image.min() >= 0 and image.max() <= 1


def test_float32_and_lists_are_accepted():
    image = tile_filters(np.ones((4, 9), dtype=np.float32).tolist())
    assert image.dtype == np.float64 and image.shape == (9, 9)


@pytest.mark.parametrize(
    "patch_shape, match",
    [
        ((3, 4), "does not hold 9 values"),
        ((3, 3, 2), r"\(height, width\) or \(height, width, 3\)"),
        ((3,), r"\(height, width\) or \(height, width, 3\)"),
        ((3, 0), r"\(height, width\) or \(height, width, 3\)"),
        ((2, 3, 3), "does not hold 9 values"),
    ],
)
def test_bad_patch_shapes_are_errors(patch_shape, match):
    with pytest.raises(ValueError, match=match):
        tile_filters(np.ones((2, 9)), patch_shape=patch_shape)


def test_non_square_filters_need_a_patch_shape():
    with pytest.raises(ValueError, match="not square"):
        tile_filters(np.ones((2, 10)))


def test_non_square_rgb_filters_get_a_hint():
    with pytest.raises(ValueError, match=r"patch_shape=\(8, 8, 3\)"):
        tile_filters(np.ones((2, 192)))


@pytest.mark.parametrize("filters", [np.ones(9), np.ones((2, 3, 3)), np.ones((0, 9))])
def test_filters_must_be_a_non_empty_2d_array(filters):
    with pytest.raises(ValueError):
        tile_filters(filters)


def test_non_finite_filters_are_errors():
    filters = np.ones((2, 9))
    filters[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tile_filters(filters)


@pytest.mark.parametrize(
    "kwargs", [{"n_cols": 0}, {"padding": -1}, {"normalize": "l1"}, {"patch_shape": "3x3"}]
)
def test_bad_parameters_are_errors(kwargs):
    with pytest.raises(InvalidParameterError):
        tile_filters(np.ones((2, 9)), **kwargs)


# The matplotlib part.


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib", reason="plot_filters needs matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_plot_filters_draws_one_grey_image_of_an_estimator(plt):
    X = np.random.RandomState(0).uniform(size=(50, 16))
    ae = SparseAutoencoder(n_components=6, max_iter=5, random_state=0).fit(X)
    ax = plot_filters(ae, title="filters")
    assert isinstance(ax, plt.Axes)
    (image,) = ax.get_images()
    np.testing.assert_array_equal(image.get_array(), tile_filters(ae.components_))
    assert image.get_clim() == (-1, 1)
    assert ax.get_title() == "filters"
    assert not ax.axison


def test_plot_filters_draws_rgb_filters_in_colour_on_given_axes(plt):
    _, ax = plt.subplots()
    filters = np.random.RandomState(0).normal(size=(5, 48))
    returned = plot_filters(filters, (4, 4, 3), ax=ax, n_cols=5, normalize="l2")
    assert returned is ax
    (image,) = ax.get_images()
    expected = tile_filters(filters, (4, 4, 3), n_cols=5, normalize="l2")
    np.testing.assert_array_equal(image.get_array(), expected)
    assert image.get_array().shape == (1 + 4 + 1, 1 + 5 * (4 + 1), 3)


def test_plot_filters_of_an_unfitted_estimator_is_a_not_fitted_error(plt):
    with pytest.raises(NotFittedError):
        plot_filters(SparseAutoencoder())


def test_plot_filters_without_matplotlib_names_the_examples_extra(monkeypatch):
    # None in sys.modules makes an import fail, as if matplotlib were absent.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"skl-sparse-ae\[examples\]"):
        plot_filters(np.ones((4, 9)))


def test_importing_the_plotting_module_does_not_import_matplotlib():
    code = "import sys, skl_sparse_ae.plotting; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
