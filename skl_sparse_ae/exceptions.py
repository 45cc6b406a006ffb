"""Warnings of skl-sparse-ae."""

# SPDX-License-Identifier: BSD-3-Clause

__all__ = ["InconsistentVersionWarning"]


class InconsistentVersionWarning(UserWarning):
    """A model was unpickled under another skl-sparse-ae version than it was saved with.

    The counterpart of :class:`sklearn.exceptions.InconsistentVersionWarning`
    for this package's estimators: their fitted attributes and private state
    may change between versions, so a model should be loaded with the version
    that saved it (or refitted).

    Parameters
    ----------
    estimator_name : str
        Class name of the unpickled estimator.

    current_version : str
        The skl-sparse-ae version loading the model.

    original_version : str
        The version that saved it (``"unknown"`` for pickles made before
        versions were recorded).
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from skl-sparse-ae version "
            f"{self.original_version} when using version {self.current_version}. This might "
            "lead to breaking code or invalid results. Load it with the version that saved "
            "it, or refit it."
        )
