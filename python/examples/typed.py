"""backprop's estimators under a type checker: `mypy --strict` passes on
this file (python/tests/test_stubs.py runs it), and it runs."""

import numpy as np
from numpy.typing import NDArray

import backprop
from backprop import (
    Ensemble,
    GridSearch,
    MLPClassifier,
    MLPRegressor,
    TabularClassifier,
    TabularRegressor,
    cross_validate,
)


def main() -> None:
    rng = np.random.default_rng(0)
    X: NDArray[np.float64] = rng.normal(size=(120, 4))
    y: NDArray[np.int64] = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    proba: NDArray[np.float64] = clf.predict_proba(X)
    accuracy: float = clf.score(X, y)
    weights: list[NDArray[np.float32]] = clf.coefs_
    clf.partial_fit(X, y)
    tab = TabularClassifier(max_iter=5, random_state=0, label_smoothing=0.1).fit(X, y)
    reg = MLPRegressor(max_iter=5, learning_rate="invscaling", solver="sgd").fit(X, X[:, 2])
    tabr = TabularRegressor(max_iter=5).fit(X, X[:, 2])
    r2: float = reg.score(X, X[:, 2]) + tabr.score(X, X[:, 2])
    both = Ensemble([clf, tab])
    labels = both.predict(X)
    search = GridSearch(MLPClassifier(max_iter=5), {"alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    best: dict[str, object] = search.best_params_
    folds = cross_validate(MLPClassifier(max_iter=5), X, y, cv=3)
    version: str = backprop.__version__
    print(proba.shape, accuracy, len(weights), r2, labels.shape, best, sorted(folds), version)


if __name__ == "__main__":
    main()
