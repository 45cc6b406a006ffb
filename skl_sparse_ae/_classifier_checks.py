"""Checks of the stacked classifier's labels and per-layer parameters.

What :meth:`~skl_sparse_ae.StackedAutoencoderClassifier.fit` and
``partial_fit`` check beyond ``_parameter_constraints``: the ``unlabeled``
marker, the classes, and the values given per hidden layer. Labels are
checked on the host, as NumPy arrays
(:func:`~skl_sparse_ae._array_api.to_numpy`): they are one vector of m
labels, small next to X, and may be strings.
"""

# SPDX-License-Identifier: BSD-3-Clause

from numbers import Real

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ._array_api import to_numpy


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def unlabeled_mask(y, marker):
    """The rows of y whose label is ``marker`` (a number or a string; None: none).

    A number never equals a string here, so -1 marks rows in an object array
    of strings as SelfTrainingClassifier expects.
    """
    if marker is None:
        return np.zeros(y.shape[0], dtype=bool)
    if y.dtype.kind in "iuf":
        return y == marker if _is_number(marker) else np.zeros(y.shape[0], dtype=bool)
    if y.dtype.kind in "US":
        return y == marker if isinstance(marker, str) else np.zeros(y.shape[0], dtype=bool)
    number = _is_number(marker)
    return np.fromiter(
        ((_is_number(v) if number else isinstance(v, str)) and v == marker for v in y),
        dtype=bool,
        count=y.shape[0],
    )


def labeled_rows(y, marker):
    """The mask of the labeled rows of y and their labels, checked as
    classification targets."""
    labeled = ~unlabeled_mask(y, marker)
    y_labeled = y[labeled]
    if y_labeled.size == 0:
        raise ValueError(
            f"Every label is {marker!r} (unlabeled): the samples of at least two "
            "classes must be labeled. Unlabeled samples are only used for pretraining."
        )
    check_classification_targets(y_labeled)
    return labeled, y_labeled


def stream_classes(classes, fitted_classes, marker):
    """The classes of a stream, from a ``partial_fit`` call's ``classes`` (or
    None) and those of the previous calls (None on the first), without the
    unlabeled ``marker``."""
    if classes is None:
        if fitted_classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return fitted_classes
    classes = to_numpy(column_or_1d(classes))
    classes = np.unique(classes[~unlabeled_mask(classes, marker)])
    if fitted_classes is not None and not np.array_equal(classes, fitted_classes):
        raise ValueError(
            f"classes={classes} is not the same as on the first call to "
            f"partial_fit: {fitted_classes}."
        )
    return classes


def check_two_classes(classes, name):
    """Raise unless ``classes`` holds at least two classes."""
    if len(classes) < 2:
        raise ValueError(
            f"{name} needs labeled samples of at least two classes; got one class: {classes[0]!r}."
        )


def hidden_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a tuple of positive ints."""
    sizes = np.atleast_1d(np.asarray(hidden_layer_sizes))
    if (
        sizes.ndim != 1
        or sizes.size == 0
        or not np.issubdtype(sizes.dtype, np.integer)
        or (sizes < 1).any()
    ):
        raise ValueError(
            "hidden_layer_sizes must be a positive int or a non-empty sequence of them; "
            f"got {hidden_layer_sizes!r}."
        )
    return tuple(int(s) for s in sizes)


def per_layer(name, value, n_layers, interval):
    """A float per hidden layer, each in ``interval``, from one value or one per layer.

    Checked here because the autoencoders skip their own validation when
    fitted inside the classifier's fit (prefer_skip_nested_validation).
    """
    try:
        values = np.atleast_1d(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 1 or values.shape[0] not in (1, n_layers):
        raise ValueError(
            f"{name} must be one number or one per hidden layer ({n_layers}); got {value!r}."
        )
    for v in values:
        if not interval.is_satisfied_by(float(v)):
            raise ValueError(f"Every value of {name} must be {interval}; got {value!r}.")
    return [float(v) for v in np.broadcast_to(values, (n_layers,))]
