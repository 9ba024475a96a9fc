"""scikit-learn's own estimator checks for chainrule's estimators.

The instances use small ``max_iter`` where scikit-learn's own check
configuration does (``sklearn/utils/_test_common/instance_generator.py``:
MLP max_iter=100, Perceptron max_iter=5, LogisticRegression max_iter=5), so
the default run stays fast.
"""
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from chainrule.sklearn import (
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    Perceptron,
)

ESTIMATORS = [
    MLPClassifier(max_iter=100),
    MLPRegressor(max_iter=100),
    Perceptron(max_iter=5),
    LogisticRegression(max_iter=5),
    LinearRegression(),
]

# The marks scikit-learn itself puts on the same checks for its own
# estimators (PER_ESTIMATOR_XFAIL_CHECKS in scikit-learn 1.9), with its reasons.
_SAMPLE_WEIGHT = "sample_weight is not equivalent to removing/repeating samples."
EXPECTED_FAILED = {
    "Perceptron": {"check_sample_weight_equivalence_on_dense_data": _SAMPLE_WEIGHT},
}


# Where scikit-learn runs a check on a differently configured instance
# (PER_ESTIMATOR_CHECK_PARAMS in instance_generator.py: sample-weight equivalence
# needs a deterministic solver for the MLPs), the same parameters, plus
# dtype="float64": the check compares to rtol=1e-7, finer than float32 resolves.
PARAMS_PER_CHECK = {
    ("MLPClassifier", "check_sample_weight_equivalence_on_dense_data"): {
        "solver": "lbfgs", "dtype": "float64"},
    ("MLPRegressor", "check_sample_weight_equivalence_on_dense_data"): {
        "solver": "sgd", "tol": 1e-2, "random_state": 42, "dtype": "float64"},
}


def _check_name(check):
    return getattr(check, "func", check).__name__


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED.get(type(est).__name__, {}))
def test_sklearn_estimator_checks(estimator, check):
    params = PARAMS_PER_CHECK.get((type(estimator).__name__, _check_name(check)))
    if params:
        estimator = clone(estimator).set_params(**params)   # the instance is shared by all checks
    check(estimator)
