"""The data sets of the examples, read from installed packages, never downloaded.

- :func:`load_natural_image_patches`: patches of seven photographs, CC0 or
  without known copyright restrictions, that the scikit-image package bundles
  in its ``skimage/data`` folder (the astronaut, the cameraman, Chelsea the
  cat, the coffee cup, the Pompeii coins, grass and gravel); see the function
  for their sources and licences.
- :func:`load_nudged_digits`: scikit-learn's 8×8 digits and their copies
  shifted by one pixel, the data of scikit-learn's RBM example.
"""

# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.feature_extraction.image import extract_patches_2d
from sklearn.preprocessing import minmax_scale
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, Options, validate_params

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
    β = 3, λ = 1e-4, 400 L-BFGS iterations) has 2, 1 and 0 dead units of 25
    (never active on the patches, see
    :func:`~skl_sparse_ae.diagnostics.sparsity_report`) on them for
    ``random_state`` 0, 1 and 2 on an AMD EPYC, against 4, 10 and 12 on
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


# The four copies of load_nudged_digits, in their order: the slices of the
# shifted image and of the original that hold the same pixels.
_NUDGES = (
    ("up", np.s_[:, :-1, :], np.s_[:, 1:, :]),
    ("left", np.s_[:, :, :-1], np.s_[:, :, 1:]),
    ("right", np.s_[:, :, 1:], np.s_[:, :, :-1]),
    ("down", np.s_[:, 1:, :], np.s_[:, :-1, :]),
)


def _nudge(images):
    """The images and their four copies shifted by one pixel, as one array.

    The pixel pushed out of the frame is lost and the one that comes in is 0
    (the background), as with ``scipy.ndimage.convolve(mode="constant")`` in
    scikit-learn's RBM example, whose data this reproduces bit for bit.
    """
    shifted = np.zeros((len(_NUDGES) + 1, *images.shape), dtype=images.dtype)
    shifted[0] = images
    for copy, (_, target, source) in zip(shifted[1:], _NUDGES, strict=True):
        copy[target] = images[source]
    return shifted.reshape(-1, *images.shape[1:])


@validate_params(
    {
        "scale": ["boolean"],
        "dtype": [Options(type, {np.float32, np.float64})],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_nudged_digits(*, scale=True, dtype=np.float64, return_X_y=False):
    """scikit-learn's 8×8 digits, each also shifted by one pixel in 4 directions.

    The data of scikit-learn's example "Restricted Boltzmann Machine features
    for digit classification": the 1797 images of
    :func:`sklearn.datasets.load_digits` followed by four copies of all of
    them, shifted by one pixel up, left, right and down (8985 images). The
    shifts make a classifier on the pixels much weaker than one on learned
    features, which is what the example and ours compare. The digits ship
    with scikit-learn: nothing is downloaded.

    Parameters
    ----------
    scale : bool, default=True
        Scale each pixel to [0, 1] over all 8985 images
        (:func:`sklearn.preprocessing.minmax_scale`, after the shifts, as the
        RBM example does): the range of a sigmoid decoder and of the RBM's
        Bernoulli units. If False, return the grey levels 0 to 16.

    dtype : {np.float64, np.float32}, default=np.float64
        The dtype of the images, in which the scaling is computed: float32
        halves the memory and the time of a fit, and is what the examples
        use.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the attributes:

        data : ndarray of shape (8985, 64)
            One flattened image (row-major) per row: rows 0 to 1796 are the
            digits of :func:`~sklearn.datasets.load_digits`, in its order;
            each next block of 1797 rows holds the same digits shifted by
            one pixel, in the order of ``nudges``.
        target : ndarray of shape (8985,)
            The digit of each image, 0 to 9.
        images : ndarray of shape (8985, 8, 8)
            The same images as ``data``, unflattened (a view of it).
        nudges : tuple of str
            The shifts of the four copies, in their order:
            ``("up", "left", "right", "down")``.
        feature_names : list of str
            The pixel names of :func:`~sklearn.datasets.load_digits`.
        target_names : ndarray of shape (10,)
            The digits 0 to 9.
        DESCR : str
            A description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        The ``data`` and ``target`` above.

    See Also
    --------
    sklearn.datasets.load_digits : The 1797 digits, not shifted.

    Notes
    -----
    A shifted copy loses the row or column of pixels that leaves the frame
    and gets a row or column of zeros (the background) on the other side.
    Split the images at random (as the examples do with
    ``train_test_split(X, y, test_size=0.2, random_state=0)``): the copies of
    one digit are in five blocks, so a split by position would put all
    copies of a shift on one side.

    Examples
    --------
    >>> import numpy as np
    >>> from skl_sparse_ae.datasets import load_nudged_digits
    >>> X, y = load_nudged_digits(dtype=np.float32, return_X_y=True)
    >>> X.shape, X.dtype, y.shape
    ((8985, 64), dtype('float32'), (8985,))
    >>> float(X.min()), float(X.max())
    (0.0, 1.0)
    """
    digits = load_digits()
    images = _nudge(np.asarray(digits.images, dtype=dtype))
    data = images.reshape(len(images), -1)
    if scale:
        data = minmax_scale(data, feature_range=(0, 1))
    target = np.tile(digits.target, len(_NUDGES) + 1)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=data.reshape(images.shape),
        nudges=tuple(name for name, _, _ in _NUDGES),
        feature_names=digits.feature_names,
        target_names=digits.target_names,
        DESCR=(
            "Nudged digits: the 1797 8x8 images of scikit-learn's load_digits and "
            "four copies of them shifted by one pixel up, left, right and down "
            "(8985 images, 64 pixels, 10 classes)"
            + (", each pixel min-max scaled to [0, 1]." if scale else ", grey levels 0-16.")
        ),
    )
