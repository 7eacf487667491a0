# Type stubs of backprop's estimators (scikit-learn's API on the backprop
# engine). `python/tests/test_stubs.py` checks that every signature here is
# the runtime's and runs `mypy --strict` on an example.
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._estimators import MLPClassifier, MLPRegressor

class TabularClassifier(MLPClassifier):
    """backprop's recipe for a table, as a classifier."""

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = ...,
        activation: str = ...,
        *,
        solver: str = ...,
        alpha: float = ...,
        batch_size: int | str = ...,
        learning_rate: str = ...,
        learning_rate_init: float = ...,
        power_t: float = ...,
        max_iter: int = ...,
        shuffle: bool = ...,
        random_state: int | np.random.RandomState | None = ...,
        tol: float = ...,
        verbose: bool = ...,
        warm_start: bool = ...,
        momentum: float = ...,
        nesterovs_momentum: bool = ...,
        early_stopping: bool = ...,
        validation_fraction: float = ...,
        beta_1: float = ...,
        beta_2: float = ...,
        epsilon: float = ...,
        n_iter_no_change: int = ...,
        max_fun: int = ...,
        n_threads: int | None = ...,
        dropout: float = ...,
        class_weight: str | Mapping[Any, float] | None = ...,
        clip_norm: float | None = ...,
        label_smoothing: float = ...,
    ) -> None: ...

class TabularRegressor(MLPRegressor):
    """backprop's recipe for a table, as a regressor."""

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = ...,
        activation: str = ...,
        *,
        loss: str = ...,
        solver: str = ...,
        alpha: float = ...,
        batch_size: int | str = ...,
        learning_rate: str = ...,
        learning_rate_init: float = ...,
        power_t: float = ...,
        max_iter: int = ...,
        shuffle: bool = ...,
        random_state: int | np.random.RandomState | None = ...,
        tol: float = ...,
        verbose: bool = ...,
        warm_start: bool = ...,
        momentum: float = ...,
        nesterovs_momentum: bool = ...,
        early_stopping: bool = ...,
        validation_fraction: float = ...,
        beta_1: float = ...,
        beta_2: float = ...,
        epsilon: float = ...,
        n_iter_no_change: int = ...,
        max_fun: int = ...,
        n_threads: int | None = ...,
        dropout: float = ...,
        clip_norm: float | None = ...,
    ) -> None: ...
