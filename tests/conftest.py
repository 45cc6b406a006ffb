import os

# scikit-learn's array API check (run for every estimator, with NumPy inputs
# for ours) skips itself unless SciPy's array API mode is switched on.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
