"""Many fits in one pass: ``cross_validate`` and ``GridSearch``.

Every fold (and, in a search, every candidate on every fold) is the
estimator's own ``fit`` on a clone, so each result is, bit for bit, what
that clone fitted alone gives. The fits run together on a pool of threads:
``fit`` releases the GIL while the library trains, so K small networks use
up to K cores where one fit alone could use one or two. ``n_threads`` caps
the threads in all (``None``: one per core); each fit gets an equal share,
which changes no bit.
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted


def _threads(n_threads, jobs):
    """Workers running fits at once, and the threads of each fit."""
    total = n_threads if n_threads is not None else (os.cpu_count() or 1)
    if int(total) < 1:
        raise ValueError(f"n_threads must be at least 1, got {n_threads!r}")
    workers = max(1, min(int(total), jobs))
    return workers, max(1, int(total) // workers)


def _run(jobs, n_threads):
    """Runs ``jobs`` (callables of the threads each may use) on a pool; their
    results in order. The first error, in job order, is raised."""
    workers, each = _threads(n_threads, len(jobs))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(job, each) for job in jobs]
        return [f.result() for f in futures]


def _fit_and_score(estimator, params, X, y, train, test, scorer, sample_weight):
    """A job: a clone with ``params`` fitted on ``train``, scored on ``test``."""

    def job(threads):
        # a grid's own n_threads wins over the pass's share
        est = clone(estimator).set_params(**{"n_threads": threads, **params})
        Xtr, ytr = _safe_indexing(X, train), _safe_indexing(y, train)
        start = time.perf_counter()
        if sample_weight is None:
            est.fit(Xtr, ytr)
        else:
            est.fit(Xtr, ytr, sample_weight=_safe_indexing(sample_weight, train))
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        score = scorer(est, _safe_indexing(X, test), _safe_indexing(y, test))
        return est, float(score), fit_time, time.perf_counter() - start

    return job


def cross_validate(
    estimator,
    X,
    y,
    *,
    cv=5,
    scoring=None,
    n_threads=None,
    return_estimator=False,
    sample_weight=None,
):
    """scikit-learn's ``cross_validate`` for backprop's estimators, the folds
    fitted together in one pass.

    ``cv`` is scikit-learn's (an int gives ``StratifiedKFold`` for a
    classifier, ``KFold`` otherwise, unshuffled, as scikit-learn does; or a
    splitter, or an iterable of ``(train, test)`` indices). ``scoring`` is
    scikit-learn's (``None``: the estimator's ``score``). Returns a dict of
    arrays: ``test_score``, ``fit_time``, ``score_time`` and, with
    ``return_estimator``, ``estimator``. Each fold's estimator equals
    ``clone(estimator).fit(X[train], y[train])`` to the bit.
    """
    splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    scorer = check_scoring(estimator, scoring=scoring)
    folds = list(splitter.split(X, y))
    jobs = [
        _fit_and_score(estimator, {}, X, y, tr, te, scorer, sample_weight) for tr, te in folds
    ]
    results = _run(jobs, n_threads)
    out = {
        "fit_time": np.array([r[2] for r in results]),
        "score_time": np.array([r[3] for r in results]),
        "test_score": np.array([r[1] for r in results]),
    }
    if return_estimator:
        out["estimator"] = [r[0] for r in results]
    return out


class GridSearch(MetaEstimatorMixin, BaseEstimator):
    """A grid search whose ``fit`` trains every candidate on every fold in
    one pass, then (with ``refit``) the best candidate on all the rows.

    The parameters, attributes and ranking are those of scikit-learn's
    ``GridSearchCV`` (``cv_results_`` with ``params``,
    ``split{k}_test_score``, ``mean_test_score``, ``std_test_score``,
    ``rank_test_score``, ``mean_fit_time``; ``best_index_``,
    ``best_params_``, ``best_score_``, ``best_estimator_``; tied means share
    the lowest rank, and the best is the first of rank 1), plus ``n_threads`` for the pass. Each candidate's
    fold score is that of its clone fitted alone on the fold.
    """

    def __init__(self, estimator, param_grid, *, cv=5, scoring=None, refit=True, n_threads=None):
        self.estimator = estimator
        self.param_grid = param_grid
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_threads = n_threads

    def fit(self, X, y, sample_weight=None):
        """Cross-validates every candidate of ``param_grid`` in one pass and,
        with ``refit``, fits the best on all of ``X``."""
        candidates = list(ParameterGrid(self.param_grid))
        if not candidates:
            raise ValueError("param_grid holds no candidate")
        splitter = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        folds = list(splitter.split(X, y))
        jobs = [
            _fit_and_score(self.estimator, p, X, y, tr, te, scorer, sample_weight)
            for p in candidates
            for tr, te in folds
        ]
        results = _run(jobs, self.n_threads)
        k = len(folds)
        scores = np.array([r[1] for r in results]).reshape(len(candidates), k)
        fit_times = np.array([r[2] for r in results]).reshape(len(candidates), k)
        mean = scores.mean(axis=1)
        # scikit-learn's ranks: ties share the lowest rank, a NaN mean ranks
        # last; the best is the first candidate of rank 1
        rank = rankdata(-np.nan_to_num(mean, nan=-np.inf), method="min").astype(np.int32)
        self.cv_results_ = {
            "params": candidates,
            "mean_test_score": mean,
            "std_test_score": scores.std(axis=1),
            "rank_test_score": rank,
            "mean_fit_time": fit_times.mean(axis=1),
            **{f"split{i}_test_score": scores[:, i] for i in range(k)},
        }
        self.best_index_ = int(np.argmin(rank))
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = float(mean[self.best_index_])
        self.n_splits_ = k
        if self.refit:
            est = clone(self.estimator).set_params(**self.best_params_)
            if self.n_threads is not None:
                est.set_params(n_threads=self.n_threads)
            if sample_weight is None:
                est.fit(X, y)
            else:
                est.fit(X, y, sample_weight=sample_weight)
            self.best_estimator_ = est
            if hasattr(est, "classes_"):
                self.classes_ = est.classes_
        return self

    def _best(self):
        check_is_fitted(self, "best_index_")
        if not self.refit:
            raise AttributeError("refit=False: fit the best candidate yourself (best_params_)")
        return self.best_estimator_

    def predict(self, X):
        """The best estimator's ``predict``."""
        return self._best().predict(X)

    def predict_proba(self, X):
        """The best estimator's ``predict_proba``."""
        return self._best().predict_proba(X)

    def score(self, X, y):
        """The best estimator's score on ``X``, ``y`` (with ``scoring``)."""
        return check_scoring(self.estimator, scoring=self.scoring)(self._best(), X, y)
