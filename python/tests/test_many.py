"""cross_validate and GridSearch: every fold is the clone fitted alone, bit
for bit, whatever the threads; the results are scikit-learn's."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_diabetes
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.model_selection import cross_validate as sk_cross_validate

from backprop import GridSearch, MLPClassifier, MLPRegressor, cross_validate


def small(**kw):
    return dict(hidden_layer_sizes=(8,), max_iter=20, random_state=1, **kw)


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_cross_validate_folds_are_fits_alone():
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(**small())
    ours = cross_validate(est, X, y, cv=4, n_threads=2, return_estimator=True)
    for n in (1, 3):
        again = cross_validate(est, X, y, cv=4, n_threads=n)
        np.testing.assert_array_equal(again["test_score"], ours["test_score"])
    for (train, test), fitted, score in zip(
        StratifiedKFold(4).split(X, y), ours["estimator"], ours["test_score"]
    ):
        alone = MLPClassifier(**small()).fit(X[train], y[train])
        for a, b in zip(alone.coefs_, fitted.coefs_):
            np.testing.assert_array_equal(a, b)
        assert score == alone.score(X[test], y[test])
    # scikit-learn's own cross_validate gives the same scores
    sk = sk_cross_validate(est, X, y, cv=4)
    np.testing.assert_array_equal(sk["test_score"], ours["test_score"])
    assert set(ours) == {"fit_time", "score_time", "test_score", "estimator"}


def test_cross_validate_a_regressor_with_a_scoring():
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    est = MLPRegressor(**small())
    ours = cross_validate(est, X, y, cv=KFold(3), scoring="neg_mean_absolute_error")
    sk = sk_cross_validate(est, X, y, cv=KFold(3), scoring="neg_mean_absolute_error")
    np.testing.assert_array_equal(ours["test_score"], sk["test_score"])


def test_grid_search_matches_grid_search_cv():
    X, y = load_iris(return_X_y=True)
    grid = {"learning_rate_init": [0.001, 0.01], "hidden_layer_sizes": [(4,), (16,)]}
    ours = GridSearch(MLPClassifier(**small()), grid, cv=3, n_threads=2).fit(X, y)
    sk = GridSearchCV(MLPClassifier(**small()), grid, cv=3).fit(X, y)
    np.testing.assert_array_equal(ours.cv_results_["mean_test_score"], sk.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"], sk.cv_results_["rank_test_score"])
    assert ours.best_params_ == sk.best_params_
    assert ours.best_score_ == sk.best_score_
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    np.testing.assert_array_equal(ours.predict_proba(X), sk.predict_proba(X))
    assert ours.score(X, y) == sk.score(X, y)
    assert list(ours.classes_) == list(sk.classes_)
    no_refit = GridSearch(MLPClassifier(**small()), grid, cv=3, refit=False).fit(X, y)
    with pytest.raises(AttributeError):
        no_refit.predict(X)
    with pytest.raises(ValueError):
        cross_validate(MLPClassifier(**small()), X, y, n_threads=0)
    # a grid may vary n_threads itself
    g = GridSearch(MLPClassifier(**small()), {"n_threads": [1, 2]}, cv=3).fit(X, y)
    assert g.cv_results_["mean_test_score"][0] == g.cv_results_["mean_test_score"][1]
    assert list(g.cv_results_["rank_test_score"]) == [1, 1]


def test_an_ensemble_file_predicts_as_the_command_line(tmp_path):
    import os
    import subprocess
    from pathlib import Path

    from backprop import Ensemble

    root = Path(__file__).resolve().parents[2]
    cli = os.environ.get("BACKPROP_CLI") or str(root / "target" / "release" / "backprop")
    if not Path(cli).exists():
        pytest.skip(f"no command line at {cli}")
    path = tmp_path / "e.st"
    subprocess.run(
        [cli, "train", "--quiet", "--epochs", "5", "--ensemble", "3", "--data",
         str(root / "data" / "iris.train.csv"), "--out", str(path)],
        check=True,
    )
    test = root / "data" / "iris.test.csv"
    out = subprocess.run(
        [cli, "predict", "--model", str(path), "--data", str(test)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()
    import pandas as pd

    X = pd.read_csv(test).drop(columns="species")
    e = Ensemble.load(path)
    assert len(e.estimators_) == 3
    p = e.predict_proba(X)
    want = np.array([[float(v) for v in line.split(",")[1:]] for line in out[1:]], dtype=np.float32)
    np.testing.assert_array_equal(p.astype(np.float32), want)
    assert list(e.predict(X)) == [line.split(",")[0] for line in out[1:]]
    # a model file is an ensemble of one
    one = tmp_path / "one.st"
    e.estimators_[0].save(one)
    np.testing.assert_array_equal(Ensemble.load(one).predict_proba(X), e.estimators_[0].predict_proba(X))
