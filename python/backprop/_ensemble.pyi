# Type stubs of backprop.Ensemble (see _estimators.pyi).
from collections.abc import Iterable
from os import PathLike
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import Self

from ._estimators import MLPClassifier, MLPRegressor

class Ensemble:
    """The models of an ensemble file, predicting together."""

    estimators_: list[MLPClassifier | MLPRegressor]
    n_features_in_: int
    classes_: NDArray[Any]
    def __init__(self, estimators: Iterable[MLPClassifier | MLPRegressor]) -> None: ...
    @classmethod
    def load(cls, path: str | PathLike[str]) -> Self: ...
    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]: ...
    def predict(self, X: ArrayLike) -> NDArray[Any]: ...
    def to_onnx(self, path: str | PathLike[str]) -> None: ...
