"""Pictures of learned filters: a numpy tiler and a matplotlib plot."""

# SPDX-License-Identifier: BSD-3-Clause

import math

import numpy as np


def tile_filters(filters, patch_shape=None, *, n_cols=None, padding=1):
    """Tile filters (one per row) into one grey image, as UFLDL's display_network.

    Each filter is scaled by its largest absolute value so that it fills
    [-1, 1]; tiles are laid out row by row on a grey (0) background.

    Parameters
    ----------
    filters : array-like of shape (n_filters, n_pixels)
        One flattened filter per row, e.g. ``SparseAutoencoder.components_``.

    patch_shape : tuple of (int, int), default=None
        Height and width of one filter. Default: a square of side
        √n_pixels.

    n_cols : int, default=None
        Tiles per row. Default: ⌈√n_filters⌉.

    padding : int, default=1
        Background pixels between tiles and around the border.

    Returns
    -------
    image : ndarray of shape (height, width)
        The tiled filters, with values in [-1, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skl_sparse_ae.plotting import tile_filters
    >>> tile_filters(np.ones((4, 9))).shape
    (9, 9)
    """
    filters = np.asarray(filters, dtype=np.float64)
    if filters.ndim != 2:
        raise ValueError(f"filters must be 2-D (n_filters, n_pixels), got shape {filters.shape}.")
    n_filters, n_pixels = filters.shape
    if patch_shape is None:
        side = math.isqrt(n_pixels)
        if side * side != n_pixels:
            raise ValueError(
                f"Filters of {n_pixels} pixels are not square; pass patch_shape=(height, width)."
            )
        patch_shape = (side, side)
    height, width = patch_shape
    if height * width != n_pixels:
        raise ValueError(f"patch_shape {tuple(patch_shape)} does not hold {n_pixels} pixels.")
    n_cols = n_cols or math.ceil(math.sqrt(n_filters))
    n_rows = math.ceil(n_filters / n_cols)

    scale = np.abs(filters).max(axis=1, keepdims=True)
    scaled = filters / np.where(scale > 0, scale, 1.0)
    image = np.zeros((padding + n_rows * (height + padding), padding + n_cols * (width + padding)))
    for k, tile in enumerate(scaled.reshape(n_filters, height, width)):
        top = padding + (k // n_cols) * (height + padding)
        left = padding + (k % n_cols) * (width + padding)
        image[top : top + height, left : left + width] = tile
    return image


def plot_filters(estimator, patch_shape=None, *, ax=None, n_cols=None, title=None):
    """Plot the filters (``components_``) of a fitted estimator with matplotlib.

    Parameters
    ----------
    estimator : fitted estimator or array-like of shape (n_filters, n_pixels)
        Anything with ``components_`` (e.g. :class:`SparseAutoencoder`), or
        the filters themselves.

    patch_shape : tuple of (int, int), default=None
        Height and width of one filter; see :func:`tile_filters`.

    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is created if None.

    n_cols : int, default=None
        Tiles per row; see :func:`tile_filters`.

    title : str, default=None
        Axes title.

    Returns
    -------
    ax : matplotlib Axes
        The axes with the tiled filters.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "plot_filters needs matplotlib: pip install 'skl-sparse-ae[examples]'."
        ) from exc
    filters = getattr(estimator, "components_", estimator)
    image = tile_filters(filters, patch_shape, n_cols=n_cols)
    if ax is None:
        _, ax = plt.subplots()
    ax.imshow(image, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax
