"""Pictures of learned filters: a numpy tiler and a matplotlib plot."""

# SPDX-License-Identifier: BSD-3-Clause

import math
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_array, check_is_fitted


def _check_patch_shape(patch_shape, n_values):
    """(height, width, channels) of one filter, with channels 1 (grey) or 3 (RGB)."""
    if patch_shape is None:
        side = math.isqrt(n_values)
        if side * side == n_values:
            return side, side, 1
        hint = ""
        rgb_side = math.isqrt(n_values // 3)
        if n_values % 3 == 0 and 3 * rgb_side * rgb_side == n_values:
            hint = f" For RGB filters pass patch_shape=({rgb_side}, {rgb_side}, 3)."
        raise ValueError(
            f"Filters of {n_values} values are not square; pass patch_shape=(height, width)." + hint
        )
    shape = tuple(patch_shape)
    valid = len(shape) in (2, 3) and all(isinstance(s, Integral) and s >= 1 for s in shape)
    if not valid or (len(shape) == 3 and shape[2] != 3):
        raise ValueError(
            f"patch_shape must be (height, width) or (height, width, 3), got {patch_shape!r}."
        )
    height, width, channels = shape if len(shape) == 3 else (*shape, 1)
    if height * width * channels != n_values:
        raise ValueError(f"patch_shape {shape} does not hold {n_values} values per filter.")
    return height, width, channels


def _scale(filters, normalize):
    """Filters divided so that every value lies in [-1, 1]."""
    if normalize == "l2":
        norms = np.linalg.norm(filters, axis=1, keepdims=True)
        filters = filters / np.where(norms > 0, norms, 1.0)
    if normalize == "max_abs":
        scale = np.abs(filters).max(axis=1, keepdims=True)
    else:  # one scale for all tiles keeps their relative contrast
        scale = np.abs(filters).max(initial=0.0)
    return filters / np.where(scale > 0, scale, 1.0)


@validate_params(
    {
        "filters": ["array-like"],
        "patch_shape": [tuple, list, None],
        "n_cols": [Interval(Integral, 1, None, closed="left"), None],
        "padding": [Interval(Integral, 0, None, closed="left")],
        "normalize": [StrOptions({"max_abs", "l2"}), None],
    },
    prefer_skip_nested_validation=True,
)
def tile_filters(filters, patch_shape=None, *, n_cols=None, padding=1, normalize="max_abs"):
    """Tile filters (one per row) into one image, as UFLDL's display_network.

    The filters are scaled into [-1, 1] (see ``normalize``) and laid out row
    by row, ``n_cols`` per row, with ``padding`` background pixels between
    tiles and around the border. The background is the value 0: mid-grey.

    Grey filters give a 2-D image with values in [-1, 1]. RGB filters
    (``patch_shape=(height, width, 3)``) give an RGB image of shape
    (H, W, 3) with values in [0, 1], ready for ``imshow``: a filter value v
    in [-1, 1] becomes the intensity (v + 1) / 2, so the background is 0.5.

    Parameters
    ----------
    filters : array-like of shape (n_filters, n_values)
        One flattened filter per row, e.g. ``SparseAutoencoder.components_``.
        Grey filters are flattened row-major (as ``reshape(n_filters, -1)``
        flattens an array of shape (n_filters, height, width)); RGB filters
        channel-last, as ``reshape(n_filters, -1)`` flattens the patches of
        shape (n_filters, height, width, 3) that
        :func:`sklearn.feature_extraction.image.extract_patches_2d` takes
        from an (H, W, 3) image.

    patch_shape : tuple of (int, int) or (int, int, 3), default=None
        Height and width of one filter, plus 3 for RGB filters. Default: a
        grey square of side √n_values.

    n_cols : int, default=None
        Tiles per row. Default: ⌈√n_filters⌉.

    padding : int, default=1
        Background pixels between tiles and around the border.

    normalize : {"max_abs", "l2"} or None, default="max_abs"
        How filters are scaled into [-1, 1]:

        - ``"max_abs"``: each filter is divided by its own largest absolute
          value, so that every tile uses the full contrast (UFLDL's
          ``display_network``);
        - ``"l2"``: each filter is divided by its L2 norm, which gives the
          input of unit norm that maximally activates the hidden unit
          (UFLDL notes, "Visualizing a trained autoencoder"); then all tiles
          share one scale, so a filter concentrated on a few pixels looks
          brighter than a spread-out one;
        - None: all filters share one scale (the largest absolute value of
          all of them), which keeps their relative magnitudes. Use it to
          show data patches after subtracting their mean.

        An all-zero filter is left at 0 (background) by every option.

    Returns
    -------
    image : ndarray of shape (H, W) or (H, W, 3)
        The tiled filters: grey in [-1, 1], or RGB in [0, 1].

    See Also
    --------
    plot_filters : Draw the tiled filters of an estimator with matplotlib.

    Examples
    --------
    >>> import numpy as np
    >>> from skl_sparse_ae.plotting import tile_filters
    >>> image = tile_filters(np.ones((4, 9)))  # four 3x3 filters on a 2x2 grid
    >>> image.shape
    (9, 9)
    >>> image[0].tolist()  # the top border is background
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> image[1].tolist()  # first row of the first two tiles
    [0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    >>> rgb = tile_filters(np.ones((4, 27)), patch_shape=(3, 3, 3))
    >>> rgb.shape, float(rgb.min()), float(rgb.max())
    ((9, 9, 3), 0.5, 1.0)
    """
    filters = check_array(filters, dtype=np.float64, input_name="filters")
    n_filters, n_values = filters.shape
    height, width, channels = _check_patch_shape(patch_shape, n_values)
    n_cols = n_cols or math.ceil(math.sqrt(n_filters))
    n_rows = math.ceil(n_filters / n_cols)

    tiles = _scale(filters, normalize).reshape(n_filters, height, width, channels)
    image = np.zeros(
        (padding + n_rows * (height + padding), padding + n_cols * (width + padding), channels)
    )
    for k, tile in enumerate(tiles):
        top = padding + (k // n_cols) * (height + padding)
        left = padding + (k % n_cols) * (width + padding)
        image[top : top + height, left : left + width] = tile
    if channels == 1:
        return image[:, :, 0]
    image += 1.0
    image *= 0.5
    return image


def plot_filters(
    estimator,
    patch_shape=None,
    *,
    ax=None,
    n_cols=None,
    padding=1,
    normalize="max_abs",
    title=None,
):
    """Plot the filters (``components_``) of a fitted estimator with matplotlib.

    The filters are tiled by :func:`tile_filters` and drawn with
    ``imshow``: grey filters on a grey colour map from -1 (black) to 1
    (white), RGB filters in colour. In both, zero is mid-grey.

    Parameters
    ----------
    estimator : fitted estimator or array-like of shape (n_filters, n_values)
        Anything with ``components_`` (e.g. :class:`~skl_sparse_ae.SparseAutoencoder`),
        or the filters themselves, e.g. ``ae.components_ @ zca.whitening_``
        to see the filters of an autoencoder trained on whitened data in the
        space of the original pixels.

    patch_shape : tuple of (int, int) or (int, int, 3), default=None
        Height and width of one filter, plus 3 for RGB filters; see
        :func:`tile_filters`.

    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is created if None.

    n_cols : int, default=None
        Tiles per row; see :func:`tile_filters`.

    padding : int, default=1
        Background pixels between tiles; see :func:`tile_filters`.

    normalize : {"max_abs", "l2"} or None, default="max_abs"
        How the filters are scaled; see :func:`tile_filters`.

    title : str, default=None
        Axes title.

    Returns
    -------
    ax : matplotlib Axes
        The axes with the tiled filters.

    See Also
    --------
    tile_filters : The tiled image as a NumPy array.

    Examples
    --------
    >>> import numpy as np
    >>> from skl_sparse_ae.plotting import plot_filters
    >>> ax = plot_filters(np.random.RandomState(0).normal(size=(16, 64)))  # doctest: +SKIP
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "plot_filters needs matplotlib: pip install 'skl-sparse-ae[examples]'."
        ) from exc
    if isinstance(estimator, BaseEstimator):
        # An unfitted estimator gets scikit-learn's NotFittedError, not a
        # complaint that it is not an array.
        check_is_fitted(estimator, "components_")
    filters = getattr(estimator, "components_", estimator)
    image = tile_filters(filters, patch_shape, n_cols=n_cols, padding=padding, normalize=normalize)
    if ax is None:
        _, ax = plt.subplots()
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax
