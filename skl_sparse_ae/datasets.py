"""Natural image patches from photographs that scikit-image ships.

Seven photographs, CC0 or without known copyright restrictions, that the
scikit-image package bundles in its ``skimage/data`` folder: the astronaut, the
cameraman, Chelsea the cat, the coffee cup, the Pompeii coins, grass and
gravel. They are read from the installed package, never downloaded; see
:func:`load_natural_image_patches` for their sources and licences.
"""

# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.image import extract_patches_2d
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

# ITU-R BT.601 luma weights for the RGB → grey conversion.
_LUMA = np.array([0.299, 0.587, 0.114])

# The photographs, files of scikit-image's installed ``skimage/data`` folder (see
# load_natural_image_patches for their sources and licences).
_PHOTOGRAPHS = (
    "astronaut.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
)

# Pixels cropped from each border of a whitened image (periodic FFT artifacts).
_MARGIN = 4


def _load_photographs():
    """The photographs of ``_PHOTOGRAPHS`` as grey float arrays in [0, 1].

    The files are read from the installed scikit-image package itself, not
    through :mod:`skimage.data`, whose functions may download a file whose copy
    does not match their registry: nothing is ever downloaded here.
    """
    try:
        import skimage
        from skimage.io import imread
    except ImportError as exc:
        raise ImportError(
            "load_natural_image_patches reads photographs that scikit-image ships. Install "
            "it with pip install 'skl-sparse-ae[examples]' (or pip install scikit-image)."
        ) from exc
    folder = Path(skimage.__file__).parent / "data"
    images = []
    for name in _PHOTOGRAPHS:
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{name} is not among the files of scikit-image {skimage.__version__} "
                f"({folder}); skl-sparse-ae needs scikit-image >= 0.22."
            )
        image = np.asarray(imread(folder / name), dtype=np.float64) / 255.0
        images.append(image[..., :3] @ _LUMA if image.ndim == 3 else image)
    return images


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
    """Grey square patches sampled from photographs that scikit-image ships.

    Seven photographs bundled with scikit-image (see Notes) are converted to
    grey levels, whitened like the images of the UFLDL exercise (see
    :func:`whiten_image`), and ``n_patches`` patches are drawn at random
    positions, an equal share from each photograph, with
    :func:`sklearn.feature_extraction.image.extract_patches_2d`. The files are
    read from the installed scikit-image package: nothing is downloaded. This
    is the data of the UFLDL sparse autoencoder exercise in miniature.

    Needs scikit-image (the ``examples`` extra).

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
        One flattened patch (row-major) per row, float64, in the order of the
        photographs below.

    Raises
    ------
    ImportError
        If scikit-image is not installed.

    ValueError
        If one photograph's share is more than the distinct patches it holds
        (106 272 of 8×8 pixels in the smallest, the coins, so at most 743 904
        in all).

    Notes
    -----
    The photographs, files of ``skimage/data``, with the sources and terms
    that scikit-image's documentation (the docstrings of :mod:`skimage.data`)
    gives for them:

    - ``astronaut.png``: Eileen Collins, NASA Great Images database; no known
      copyright restrictions, released into the public domain;
    - ``camera.png``: a cameraman; CC0 by the photographer, Lav Varshney;
    - ``chelsea.png``: Chelsea the cat; CC0 by the photographer, Stefan van der
      Walt;
    - ``coffee.png``: a coffee cup, courtesy of Pikolo Espresso Bar; CC0 by the
      photographer, Rachel Michetti;
    - ``coins.png``: Greek coins from Pompeii, Brooklyn Museum Collection; no
      known copyright restrictions;
    - ``grass.png``: grass, from DeviantArt (linolafett); CC0;
    - ``gravel.png``: gravel, from CC0Textures; CC0.

    They were chosen by measurement: the demo's model (25 units, ρ = 0.01,
    β = 3, λ = 1e-4, 400 L-BFGS iterations) has 0 dead units of 25 on them
    for ``random_state`` 0, 1 and 2 (1, 0 and 0 before this release made the
    KL gradient of dying units exact), against 4, 10 and 12 on
    scikit-learn's two sample photographs, and learns localized edges at all
    angles. The user guide's section on the data tells which other
    bundled images were tried and why they were left out.

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
    images = _load_photographs()
    if whiten:
        images = [whiten_image(image) for image in images]
    # An equal share per photograph: each scene weighs the same, whatever its size.
    counts = [n_patches // len(images)] * len(images)
    for i in range(n_patches - sum(counts)):
        counts[i] += 1
    available = [(h - patch_size + 1) * (w - patch_size + 1) for h, w in (i.shape for i in images)]
    if any(count > limit for count, limit in zip(counts, available, strict=True)):
        raise ValueError(
            f"n_patches={n_patches} is more than the photographs hold: at most "
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
