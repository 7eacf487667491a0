# Type stubs of backprop.GridSearch and backprop.cross_validate (see
# _estimators.pyi).
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import Self

_Cv = int | Iterable[tuple[ArrayLike, ArrayLike]] | Any
_Scoring = str | Callable[..., float] | None

def cross_validate(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    cv: _Cv = ...,
    scoring: _Scoring = ...,
    n_threads: int | None = ...,
    return_estimator: bool = ...,
    sample_weight: ArrayLike | None = ...,
) -> dict[str, Any]: ...

class GridSearch:
    """Every candidate of a grid cross-validated in one pass."""

    estimator: Any
    param_grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]]
    cv: _Cv
    scoring: _Scoring
    refit: bool
    n_threads: int | None
    best_estimator_: Any
    best_index_: int
    best_params_: dict[str, Any]
    best_score_: float
    classes_: NDArray[Any]
    cv_results_: dict[str, Any]
    n_splits_: int
    def __init__(
        self,
        estimator: Any,
        param_grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]],
        *,
        cv: _Cv = ...,
        scoring: _Scoring = ...,
        refit: bool = ...,
        n_threads: int | None = ...,
    ) -> None: ...
    def get_params(self, deep: bool = ...) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> Self: ...
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = ...) -> Self: ...
    def predict(self, X: ArrayLike) -> NDArray[Any]: ...
    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]: ...
    def score(self, X: ArrayLike, y: ArrayLike) -> float: ...
