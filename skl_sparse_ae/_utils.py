"""Small helpers shared by the estimators."""

# SPDX-License-Identifier: BSD-3-Clause

import functools

import numpy as np


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
