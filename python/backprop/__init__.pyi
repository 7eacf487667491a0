# Type stubs of the backprop package (see _estimators.pyi).
from ._ensemble import Ensemble as Ensemble
from ._estimators import MLPClassifier as MLPClassifier
from ._estimators import MLPRegressor as MLPRegressor
from ._many import GridSearch as GridSearch
from ._many import cross_validate as cross_validate
from ._tabular import TabularClassifier as TabularClassifier
from ._tabular import TabularRegressor as TabularRegressor

__version__: str
__all__ = [
    "Ensemble",
    "GridSearch",
    "MLPClassifier",
    "MLPRegressor",
    "TabularClassifier",
    "TabularRegressor",
    "cross_validate",
    "__version__",
]
