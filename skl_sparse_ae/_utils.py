"""Small helpers shared by the estimators."""

# SPDX-License-Identifier: BSD-3-Clause

import functools
import warnings

import numpy as np

from . import _version
from .exceptions import InconsistentVersionWarning


def restore_state_on_error(fit_method):
    """Make a fitting method all-or-nothing.

    When the wrapped method raises (bad X, diverged training, an interrupt),
    the estimator's attributes are put back as they were, so a fitted model
    stays usable and unchanged. ``validate_data(reset=True)`` sets
    ``feature_names_in_`` before it checks the values, and solvers fail after
    validation, so without this a failed refit leaves a half-updated model.

    The method must not mutate in place the objects its attributes refer to;
    the one exception is a :class:`numpy.random.RandomState`, whose state is
    restored in place.
    """

    @functools.wraps(fit_method)
    def wrapper(estimator, *args, **kwargs):
        saved = dict(vars(estimator))
        rng_states = [
            (rng, rng.get_state())
            for rng in saved.values()
            if isinstance(rng, np.random.RandomState)
        ]
        try:
            return fit_method(estimator, *args, **kwargs)
        except BaseException:
            vars(estimator).clear()
            vars(estimator).update(saved)
            for rng, state in rng_states:
                rng.set_state(state)
            raise

    return wrapper


def outside_unit_interval(low, high, dtype):
    """Whether data from ``low`` to ``high`` leave [0, 1] by more than rounding.

    A few ulps are allowed: MinMaxScaler's output can round to 1 + 2⁻⁵², and
    a logistic decoder reconstructs it as well as 1.
    """
    slack = 8 * np.finfo(dtype).eps
    return bool(low < -slack or high > 1 + slack)


class VersionedPickleMixin:
    """Record the skl-sparse-ae version in pickles and warn when it differs on load.

    scikit-learn does this for its own estimators only (those whose module
    starts with ``sklearn.``); ours get the same, with our version.
    """

    def __getstate__(self):
        return dict(super().__getstate__(), _skl_sparse_ae_version=_version.__version__)

    def __setstate__(self, state):
        state = dict(state)
        saved_with = state.pop("_skl_sparse_ae_version", "unknown")
        if saved_with != _version.__version__:
            warnings.warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    current_version=_version.__version__,
                    original_version=saved_with,
                ),
                stacklevel=2,
            )
        super().__setstate__(state)
