"""Natural image patches from the sample images bundled with scikit-learn."""

# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral

import numpy as np
from sklearn.feature_extraction.image import extract_patches_2d
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

# ITU-R BT.601 luma weights for the RGB → grey conversion.
_LUMA = np.array([0.299, 0.587, 0.114])

# Pixels cropped from each border of a whitened image (periodic FFT artifacts).
_MARGIN = 4


def _load_sample_images():
    """scikit-learn's two bundled photographs as float arrays in [0, 1]."""
    try:
        from sklearn.datasets import load_sample_images

        images = load_sample_images().images
    except ImportError as exc:
        raise ImportError(
            "Loading scikit-learn's sample images needs Pillow. Install it with "
            "pip install 'skl-sparse-ae[examples]' (or pip install pillow)."
        ) from exc
    return [np.asarray(image, dtype=np.float64) / 255.0 for image in images]


def whiten_image(image):
    """Flatten the power spectrum of a grey image, as done for UFLDL's IMAGES.mat.

    Natural images have a power spectrum falling like 1/f²; the filter
    f·exp(−(f/f₀)⁴) of Olshausen & Field (1997), f₀ = 0.4 cycles/pixel,
    flattens it and rolls off the highest frequencies. Without it the
    low frequencies dominate and an autoencoder learns smooth gradients rather
    than localized edges. The result has unit variance; a margin as wide as
    the filter's wrap-around artifacts is cropped.
    """
    fy = np.fft.fftfreq(image.shape[0])[:, np.newaxis]
    fx = np.fft.rfftfreq(image.shape[1])[np.newaxis, :]
    f = np.hypot(fx, fy)
    response = f * np.exp(-((f / 0.4) ** 4))
    whitened = np.fft.irfft2(np.fft.rfft2(image) * response, s=image.shape)
    whitened = whitened[_MARGIN:-_MARGIN, _MARGIN:-_MARGIN]
    return whitened / whitened.std()


def normalize_patches(patches):
    """The UFLDL patch normalisation, returning a new array.

    Each patch (row) has its mean removed; values are clipped to ±3 standard
    deviations of all entries and mapped linearly to [0.1, 0.9], the range a
    sigmoid decoder can reconstruct.
    """
    patches = patches - patches.mean(axis=1, keepdims=True)
    bound = 3.0 * patches.std()
    np.clip(patches, -bound, bound, out=patches)
    patches /= bound
    patches += 1.0
    patches *= 0.4
    patches += 0.1
    return patches


@validate_params(
    {
        "n_patches": [Interval(Integral, 1, None, closed="left")],
        "patch_size": [Interval(Integral, 2, None, closed="left")],
        "whiten": ["boolean"],
        "normalize": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_natural_image_patches(
    n_patches=10000, patch_size=8, *, whiten=True, normalize=True, random_state=0
):
    """Grey square patches sampled from scikit-learn's bundled sample images.

    The two photographs of :func:`sklearn.datasets.load_sample_images` are
    converted to grey levels, whitened like the images of the UFLDL exercise
    (see :func:`whiten_image`), and ``n_patches`` patches are drawn
    at random positions (half from each image) with
    :func:`sklearn.feature_extraction.image.extract_patches_2d`. Nothing is
    downloaded. This is the data of the UFLDL sparse autoencoder exercise in
    miniature.

    Parameters
    ----------
    n_patches : int, default=10000
        Number of patches.

    patch_size : int, default=8
        Side of the square patches in pixels.

    whiten : bool, default=True
        Flatten the power spectrum of each image first (:func:`whiten_image`),
        as the UFLDL exercise's ``IMAGES.mat`` was. If False, patches come
        from the plain grey images in [0, 1].

    normalize : bool, default=True
        Apply the UFLDL normalisation: remove each patch's mean, clip to ±3
        standard deviations of all entries and map to [0.1, 0.9] (see
        :func:`normalize_patches`). If False, return the pixel values as they
        are.

    random_state : int, RandomState instance or None, default=0
        Determines the patch positions.

    Returns
    -------
    patches : ndarray of shape (n_patches, patch_size * patch_size)
        One flattened patch (row-major) per row, float64.

    Examples
    --------
    >>> from skl_sparse_ae.datasets import load_natural_image_patches
    >>> X = load_natural_image_patches(n_patches=100)
    >>> X.shape
    (100, 64)
    >>> bool(X.min() >= 0.1 and X.max() <= 0.9)
    True
    """
    rng = check_random_state(random_state)
    images = [image @ _LUMA for image in _load_sample_images()]
    if whiten:
        images = [whiten_image(image) for image in images]
    counts = [n_patches // len(images)] * len(images)
    counts[0] += n_patches - sum(counts)
    available = [(h - patch_size + 1) * (w - patch_size + 1) for h, w in (i.shape for i in images)]
    if any(count > limit for count, limit in zip(counts, available, strict=True)):
        raise ValueError(
            f"n_patches={n_patches} is more than the sample images hold: at most "
            f"{len(images) * min(available)} distinct patches of {patch_size}x{patch_size} pixels."
        )
    patches = np.concatenate(
        [
            extract_patches_2d(image, (patch_size, patch_size), max_patches=count, random_state=rng)
            for image, count in zip(images, counts, strict=True)
            if count
        ]
    ).reshape(n_patches, patch_size * patch_size)
    return normalize_patches(patches) if normalize else patches
