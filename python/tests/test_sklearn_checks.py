"""scikit-learn's own estimator checks on the four estimators. Every check must
pass, except those listed in EXPECTED_FAILED_CHECKS, each with its reason;
strict xfail: a listed check that passes fails the run."""

import pytest
import sklearn
from sklearn.utils.estimator_checks import parametrize_with_checks

from backprop import MLPClassifier, MLPRegressor, TabularClassifier, TabularRegressor
from backprop._estimators import expected_failed_checks

kwargs = {"expected_failed_checks": expected_failed_checks}
if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8):
    kwargs["xfail_strict"] = True


@parametrize_with_checks(
    [MLPClassifier(), MLPRegressor(), TabularClassifier(), TabularRegressor()], **kwargs
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
