"""What users get for bad input: a clear error, and nothing modified or lost.

Every row of the tables below is one kind of bad input. It is tried on every
method of every estimator that takes it; each call must raise an exception
whose message names the problem, leave the caller's data as it was and leave
an already-fitted estimator exactly as it was.
"""

import copy
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

from skl_sparse_ae import SparseAutoencoder, ZCAWhitening

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_FEATURES, N_COMPONENTS = 4, 2

ESTIMATORS = {
    "sae-lbfgs": lambda: SparseAutoencoder(N_COMPONENTS, max_iter=5, random_state=0),
    "sae-adam": lambda: SparseAutoencoder(N_COMPONENTS, solver="adam", max_iter=2, random_state=0),
    "zca": lambda: ZCAWhitening(),
}

METHODS = {
    "sae-lbfgs": ["fit", "transform", "inverse_transform", "score_samples"],
    "sae-adam": ["fit", "partial_fit", "transform", "inverse_transform", "score_samples"],
    "zca": ["fit", "partial_fit", "transform", "inverse_transform"],
}

CASES = [(name, method) for name, methods in METHODS.items() for method in methods]


def _data(n_samples=20, n_features=N_FEATURES):
    return np.random.RandomState(0).uniform(size=(n_samples, n_features))


def _fitted(name):
    return ESTIMATORS[name]().fit(_data())


def _width(name, method):
    """Columns of a valid input to ``method``: the codes of the autoencoder's
    inverse_transform have one column per hidden unit."""
    if name.startswith("sae") and method == "inverse_transform":
        return N_COMPONENTS
    return N_FEATURES


def _with(value):
    def make(n_features):
        X = _data(n_features=n_features)
        X[3, 1] = value
        return X

    return make


def _object_with(value):
    def make(n_features):
        X = _data(n_features=n_features).astype(object)
        X[3, 1] = value
        return X

    return make


def _pandas():
    return pytest.importorskip("pandas", reason="pandas (in the test extra) is not installed")


def _frame_with(value):
    """A DataFrame whose second column holds ``value`` in one row (a string
    makes it a column of strings)."""

    def make(n_features):
        columns = {f"f{i}": column for i, column in enumerate(_data(n_features=n_features).T)}
        columns["f1"] = [value if row == 3 else x for row, x in enumerate(columns["f1"])]
        return _pandas().DataFrame(columns)

    return make


def _ragged_lists(n_features):
    rows = _data(n_features=n_features).tolist()
    rows[3] = rows[3][:-1]
    return rows


# (id, builder of the bad input given the valid width, exception, match)
BAD_INPUTS = [
    ("nan", _with(np.nan), ValueError, "contains NaN"),
    ("+inf", _with(np.inf), ValueError, "contains infinity"),
    ("-inf", _with(-np.inf), ValueError, "contains infinity"),
    ("none-in-object-array", _object_with(None), ValueError, "contains NaN"),
    ("1-d", lambda n: _data(n_features=n)[:, 0], ValueError, "Expected 2D array, got 1D"),
    ("0-d", lambda n: np.array(0.5), ValueError, "Expected 2D array, got scalar"),
    ("3-d", lambda n: _data(n_features=n)[:, :, None], ValueError, "dim 3"),
    ("no-rows", lambda n: np.empty((0, n)), ValueError, r"0 sample\(s\)"),
    ("no-columns", lambda n: np.empty((20, 0)), ValueError, r"0 feature\(s\)"),
    ("strings", lambda n: np.full((20, n), "a"), ValueError, "could not convert string to float"),
    ("string-in-object-array", _object_with("a"), ValueError, "could not convert string"),
    ("complex", lambda n: _data(n_features=n) + 1j, ValueError, "Complex data not supported"),
    ("ragged-lists", _ragged_lists, ValueError, "inhomogeneous shape"),
    ("dataframe-nan", _frame_with(np.nan), ValueError, "contains NaN"),
    ("dataframe-string-column", _frame_with("a"), ValueError, "could not convert string"),
]

DENSE_REQUIRED = "Sparse data was passed.*but dense data is required.*toarray"

SPARSE_INPUTS = [
    ("csr_matrix", lambda n: sp.csr_matrix(_data(n_features=n))),
    ("csc_matrix", lambda n: sp.csc_matrix(_data(n_features=n))),
    ("coo_matrix", lambda n: sp.coo_matrix(_data(n_features=n))),
    ("csr_array", lambda n: sp.csr_array(_data(n_features=n))),
    ("csc_array", lambda n: sp.csc_array(_data(n_features=n))),
]


def _fitted_state(estimator):
    """Everything an estimator holds apart from its parameters, comparable by value."""
    params = estimator.get_params(deep=False)
    return {
        name: pickle.dumps(value) for name, value in vars(estimator).items() if name not in params
    }


def _snapshot(X):
    return copy.deepcopy(X)


def _assert_unchanged(X, original):
    assert type(X) is type(original)
    if isinstance(X, list):
        assert X == original
    elif hasattr(X, "iloc"):  # a DataFrame: values, dtypes, columns and index
        _pandas().testing.assert_frame_equal(X, original)
    else:
        assert X.shape == original.shape
        assert X.dtype == original.dtype
        if sp.issparse(X):
            np.testing.assert_array_equal(X.toarray(), original.toarray())
        else:
            np.testing.assert_array_equal(X, original)


def _estimator_for(name, method):
    """A fresh estimator for fit, a fitted one for every other method."""
    return ESTIMATORS[name]() if method == "fit" else _fitted(name)


def _assert_rejected(name, method, X, error, match):
    estimator = _estimator_for(name, method)
    state = _fitted_state(estimator)
    original = _snapshot(X)
    with pytest.raises(error, match=match):
        getattr(estimator, method)(X)
    _assert_unchanged(X, original)
    assert _fitted_state(estimator) == state


# A DataFrame given to a model fitted on an array is warned about first.
@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")
@pytest.mark.parametrize(
    "make, error, match", [row[1:] for row in BAD_INPUTS], ids=[row[0] for row in BAD_INPUTS]
)
@pytest.mark.parametrize("name, method", CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_bad_input_is_rejected_and_nothing_changes(name, method, make, error, match):
    X = make(_width(name, method))
    _assert_rejected(name, method, X, error, match)


@pytest.mark.parametrize(
    "make", [row[1] for row in SPARSE_INPUTS], ids=[row[0] for row in SPARSE_INPUTS]
)
@pytest.mark.parametrize("name, method", CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_sparse_input_is_rejected_as_dense_required(name, method, make):
    X = make(_width(name, method))
    _assert_rejected(name, method, X, TypeError, DENSE_REQUIRED)


@pytest.mark.parametrize("name, method", [(n, m) for n, m in CASES if m.endswith("fit")])
def test_failed_refit_keeps_the_fitted_model(name, method):
    # Checked with a DataFrame fit: a refit validates (and used to reset)
    # feature_names_in_ before it looked at the values.
    pd = _pandas()
    columns = [f"f{i}" for i in range(N_FEATURES)]
    estimator = ESTIMATORS[name]().fit(pd.DataFrame(_data(), columns=columns))
    state = _fitted_state(estimator)
    # fit would take new names; partial_fit insists on the old ones.
    names = [f"g{i}" for i in range(N_FEATURES)] if method == "fit" else columns
    bad = pd.DataFrame(_with(np.nan)(N_FEATURES), columns=names)
    with pytest.raises(ValueError, match="contains NaN"):
        getattr(estimator, method)(bad)
    assert _fitted_state(estimator) == state
    assert list(estimator.feature_names_in_) == columns


@pytest.mark.parametrize(
    "name, method",
    [(n, m) for n, m in CASES if m in ("transform", "score_samples", "partial_fit")]
    + [("zca", "inverse_transform")],
)
@pytest.mark.parametrize("n_features", [N_FEATURES - 1, N_FEATURES + 1])
def test_wrong_number_of_features(name, method, n_features):
    X = _data(n_features=n_features)
    match = f"X has {n_features} features, but \\w+ is expecting {N_FEATURES} features"
    _assert_rejected(name, method, X, ValueError, match)


@pytest.mark.parametrize("name", ["sae-lbfgs", "sae-adam"])
@pytest.mark.parametrize("width", [N_COMPONENTS - 1, N_COMPONENTS + 1, N_FEATURES])
def test_codes_of_wrong_width_to_inverse_transform(name, width):
    codes = np.full((5, width), 0.5)
    match = f"X has {width} features.*inverse_transform is expecting {N_COMPONENTS} features"
    _assert_rejected(name, "inverse_transform", codes, ValueError, match)


@pytest.mark.parametrize("name", METHODS)
def test_other_feature_names_at_transform(name):
    pd = _pandas()
    estimator = ESTIMATORS[name]().fit(pd.DataFrame(_data(), columns=list("abcd")))
    state = _fitted_state(estimator)
    X = pd.DataFrame(_data(), columns=list("abce"))
    original = _snapshot(X)
    with pytest.raises(ValueError, match="feature names should match"):
        estimator.transform(X)
    _assert_unchanged(X, original)
    assert _fitted_state(estimator) == state


def test_changing_n_components_between_partial_fits():
    model = ESTIMATORS["sae-adam"]().partial_fit(_data())
    state = _fitted_state(model)
    model.set_params(n_components=N_COMPONENTS + 1)
    with pytest.raises(ValueError, match=f"n_components changed from {N_COMPONENTS} to 3"):
        model.partial_fit(_data())
    assert _fitted_state(model) == state


# (estimator, parameter, bad value)
BAD_PARAMETERS = [
    ("sae-lbfgs", "rho", 0),
    ("sae-lbfgs", "rho", 1),
    ("sae-lbfgs", "rho", -0.1),
    ("sae-lbfgs", "rho", 1.5),
    ("sae-lbfgs", "rho", np.nan),
    ("sae-lbfgs", "beta", -1.0),
    ("sae-lbfgs", "beta", np.inf),
    ("sae-lbfgs", "lam", -1e-3),
    ("sae-lbfgs", "lam", np.inf),
    ("sae-lbfgs", "n_components", 0),
    ("sae-lbfgs", "n_components", -3),
    ("sae-lbfgs", "n_components", 2.5),
    ("sae-lbfgs", "solver", "sgd"),
    ("sae-lbfgs", "solver", None),
    ("sae-lbfgs", "decoder_activation", "relu"),
    ("sae-lbfgs", "decoder_activation", "sigmoid"),
    ("sae-lbfgs", "max_iter", 0),
    ("sae-lbfgs", "max_iter", -1),
    ("sae-lbfgs", "max_iter", 10.5),
    ("sae-adam", "rho", 1.5),
    ("sae-adam", "max_iter", 0),
    ("sae-adam", "batch_size", 0),
    ("sae-adam", "learning_rate_init", 0.0),
    ("zca", "epsilon", 0.0),
    ("zca", "epsilon", -1e-5),
]


@pytest.mark.parametrize("name, parameter, value", BAD_PARAMETERS)
def test_invalid_parameter_is_named(name, parameter, value):
    estimator = ESTIMATORS[name]().set_params(**{parameter: value})
    X = _data()
    original = _snapshot(X)
    with pytest.raises(InvalidParameterError, match=f"The '{parameter}' parameter of \\w+ must"):
        estimator.fit(X)
    _assert_unchanged(X, original)
    assert _fitted_state(estimator) == {}


@pytest.mark.parametrize("name, parameter, value", BAD_PARAMETERS)
def test_invalid_parameter_leaves_fitted_model_unchanged(name, parameter, value):
    estimator = _fitted(name)
    state = _fitted_state(estimator)
    estimator.set_params(**{parameter: value})
    with pytest.raises(InvalidParameterError, match=f"'{parameter}' parameter"):
        estimator.fit(_data())
    assert _fitted_state(estimator) == state


@pytest.mark.parametrize("parameter, value", [("rho", 0), ("beta", -1.0), ("lam", -1.0)])
def test_invalid_parameter_in_partial_fit(parameter, value):
    model = ESTIMATORS["sae-adam"]().set_params(**{parameter: value})
    with pytest.raises(InvalidParameterError, match=f"'{parameter}' parameter"):
        model.partial_fit(_data())
    assert _fitted_state(model) == {}


# What works.


@pytest.mark.parametrize("name", METHODS)
def test_single_sample(name):
    X = _data(n_samples=1)
    estimator = ESTIMATORS[name]().fit(X)
    Z = estimator.transform(X)
    width = N_FEATURES if name == "zca" else N_COMPONENTS
    assert Z.shape == (1, width)
    assert np.all(np.isfinite(Z))
    assert estimator.inverse_transform(Z).shape == (1, N_FEATURES)


def test_single_sample_partial_fit():
    model = ESTIMATORS["sae-adam"]().partial_fit(_data(n_samples=1))
    assert model.transform(_data(n_samples=1)).shape == (1, N_COMPONENTS)
    assert np.isfinite(model.score(_data(n_samples=1)))


@pytest.mark.parametrize("name", METHODS)
def test_lists_of_lists_give_the_same_results_as_arrays(name):
    X = _data()
    from_array = ESTIMATORS[name]().fit(X)
    from_list = ESTIMATORS[name]().fit(X.tolist())
    np.testing.assert_array_equal(from_list.transform(X.tolist()), from_array.transform(X))
    Z = from_array.transform(X)
    np.testing.assert_array_equal(
        from_list.inverse_transform(Z.tolist()), from_array.inverse_transform(Z)
    )


@pytest.mark.parametrize("name", METHODS)
def test_dataframe_feature_names_are_kept(name):
    pd = _pandas()
    columns = ["red", "green", "blue", "alpha"]
    df = pd.DataFrame(_data(), columns=columns)
    estimator = ESTIMATORS[name]().fit(df)
    assert list(estimator.feature_names_in_) == columns
    expected = columns if name == "zca" else [f"sparseautoencoder{i}" for i in range(N_COMPONENTS)]
    assert list(estimator.get_feature_names_out()) == expected


@pytest.mark.parametrize("name", METHODS)
def test_dataframe_gives_the_same_results_as_its_array(name):
    pd = _pandas()
    X = _data()
    df = pd.DataFrame(X, columns=["red", "green", "blue", "alpha"])
    from_frame = ESTIMATORS[name]().fit(df)
    from_array = ESTIMATORS[name]().fit(X)
    np.testing.assert_array_equal(from_frame.transform(df), from_array.transform(X))
    if name != "zca":
        np.testing.assert_array_equal(from_frame.score_samples(df), from_array.score_samples(X))


def _valid_input(name, method):
    """A valid input to ``method`` of a fitted estimator: data, or codes."""
    X = _data()
    if name.startswith("sae") and method == "inverse_transform":
        return _fitted(name).transform(X)
    return X


# Read-only arrays must work too (a write in place would raise).
@pytest.mark.parametrize("writeable", [True, False], ids=["writeable", "read-only"])
@pytest.mark.parametrize("name, method", CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_valid_input_is_not_modified(name, method, writeable):
    X = _valid_input(name, method)
    X.setflags(write=writeable)
    original = X.copy()
    getattr(_estimator_for(name, method), method)(X)
    np.testing.assert_array_equal(X, original)


NUMERIC_INPUTS = {
    "int64": lambda X: np.rint(X).astype(np.int64),
    "int8": lambda X: np.rint(X).astype(np.int8),
    "bool": lambda X: X > 0.5,
    "float16": lambda X: X.astype(np.float16),
    "object": lambda X: X.astype(object),
}


@pytest.mark.parametrize("kind", NUMERIC_INPUTS)
@pytest.mark.parametrize("name", METHODS)
def test_other_numeric_arrays_are_converted_to_float64(name, kind):
    X = NUMERIC_INPUTS[kind](_data())
    from_other = ESTIMATORS[name]().fit(X)
    from_float64 = ESTIMATORS[name]().fit(X.astype(np.float64))
    codes = from_other.transform(X)
    assert codes.dtype == np.float64
    np.testing.assert_array_equal(codes, from_float64.transform(X.astype(np.float64)))
