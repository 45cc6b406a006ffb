"""scikit-learn's estimator checks, including those check_estimator does not run by itself."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_get_feature_names_out_error,
    check_param_validation,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

from skl_sparse_ae import SparseAutoencoder, ZCAWhitening

ESTIMATORS = [
    SparseAutoencoder(n_components=3, max_iter=20, random_state=0),
    SparseAutoencoder(n_components=3, max_iter=20, decoder_activation="identity", random_state=0),
    SparseAutoencoder(n_components=3, solver="adam", max_iter=20, random_state=0),
    # the sparse autoencoder family
    SparseAutoencoder(
        n_components=3, sparsity_penalty="l1", tied_weights=True, max_iter=20, random_state=0
    ),
    SparseAutoencoder(n_components=3, k=2, transform_k=3, beta=0.0, max_iter=20, random_state=0),
    SparseAutoencoder(
        n_components=3, k=2, corruption="masking", solver="adam", max_iter=20, random_state=0
    ),
    SparseAutoencoder(
        n_components=3,
        corruption="gaussian",
        corruption_level=0.1,
        decoder_activation="identity",
        tied_weights=True,
        max_iter=20,
        random_state=0,
    ),
    # ReLU codes, with the L1 penalty and k-sparse
    SparseAutoencoder(
        n_components=3, activation="relu", sparsity_penalty="l1", max_iter=20, random_state=0
    ),
    SparseAutoencoder(
        n_components=3,
        activation="relu",
        beta=0.0,
        tied_weights=True,
        corruption="gaussian",
        corruption_level=0.1,
        decoder_activation="identity",
        max_iter=20,
        random_state=0,
    ),
    # L-BFGS in rounds, dead units resampled between them
    SparseAutoencoder(
        n_components=3,
        activation="relu",
        sparsity_penalty="l1",
        beta=0.5,
        resample_every=5,
        max_iter=20,
        random_state=0,
    ),
    SparseAutoencoder(
        n_components=3,
        activation="relu",
        k=2,
        beta=0.0,
        decoder_activation="identity",
        solver="adam",
        max_iter=20,
        random_state=0,
    ),
    ZCAWhitening(),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


EXTRA_CHECKS = [
    check_param_validation,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    check_get_feature_names_out_error,
    check_dataframe_column_names_consistency,
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
@pytest.mark.parametrize("check", EXTRA_CHECKS, ids=lambda check: check.__name__)
def test_checks_not_run_by_check_estimator(estimator, check):
    pytest.importorskip("pandas", reason="the pandas variants of the checks need pandas")
    check(type(estimator).__name__, estimator)
