# Type stubs of backprop's estimators (scikit-learn's API on the backprop
# engine). `python/tests/test_stubs.py` checks that every signature here is
# the runtime's and runs `mypy --strict` on an example.
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import Self

class MLPClassifier:
    """Multi-layer perceptron classifier: scikit-learn's MLPClassifier on the backprop engine."""

    coefs_: list[NDArray[np.float32]]
    intercepts_: list[NDArray[np.float32]]
    n_iter_: int
    t_: int
    loss_: float
    loss_curve_: list[float]
    best_loss_: float | None
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    n_features_in_: int
    feature_names_in_: NDArray[np.object_]
    n_layers_: int
    n_outputs_: int
    out_activation_: str
    preprocessing_: dict[str, Any]
    classes_: NDArray[Any]

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
    def get_params(self, deep: bool = ...) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> Self: ...
    def save(self, path: str | PathLike[str]) -> None: ...
    def to_onnx(self, path: str | PathLike[str]) -> None: ...
    @classmethod
    def load(cls, path: str | PathLike[str], **params: Any) -> Self: ...
    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = ...) -> float: ...
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = ...) -> Self: ...
    def partial_fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = ...,
        classes: ArrayLike | None = ...,
    ) -> Self: ...
    def predict(self, X: ArrayLike) -> NDArray[Any]: ...
    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]: ...
    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.float64]: ...


class MLPRegressor:
    """Multi-layer perceptron regressor: scikit-learn's MLPRegressor on the backprop engine."""

    coefs_: list[NDArray[np.float32]]
    intercepts_: list[NDArray[np.float32]]
    n_iter_: int
    t_: int
    loss_: float
    loss_curve_: list[float]
    best_loss_: float | None
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    n_features_in_: int
    feature_names_in_: NDArray[np.object_]
    n_layers_: int
    n_outputs_: int
    out_activation_: str
    preprocessing_: dict[str, Any]

    def __init__(
        self,
        loss: str = ...,
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
        clip_norm: float | None = ...,
    ) -> None: ...
    def get_params(self, deep: bool = ...) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> Self: ...
    def save(self, path: str | PathLike[str]) -> None: ...
    def to_onnx(self, path: str | PathLike[str]) -> None: ...
    @classmethod
    def load(cls, path: str | PathLike[str], **params: Any) -> Self: ...
    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = ...) -> float: ...
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = ...) -> Self: ...
    def partial_fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = ...
    ) -> Self: ...
    def predict(self, X: ArrayLike) -> NDArray[np.float64]: ...


def expected_failed_checks(estimator: Any) -> dict[str, str]: ...
