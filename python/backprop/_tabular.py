"""backprop's recipe for a table, as scikit-learn estimators:
:class:`TabularClassifier` and :class:`TabularRegressor` train what
``backprop train --data table.csv`` trains by default, where
:class:`MLPClassifier` and :class:`MLPRegressor` keep scikit-learn's
defaults (their contract).

The recipe: 64 units (SELU for a classifier, ReLU for a regressor), Adam
at 0.006 with the flat-cos schedule (``learning_rate='flat-cos'``: flat for
half the run, then a half cosine to 0), batches of 32, 30 epochs, no weight
decay, PyTorch's initialisation, the inputs (and a regressor's targets)
standardised with the training rows' mean and std, stored in the
model and applied by ``predict``, and no stop on a stalling loss (the run
is its ``max_iter`` epochs, or early stopping if asked). With
``random_state=42`` (the command line's seed) on the same rows, the model is
the one ``backprop train`` writes, bit for bit. Every parameter is
:class:`MLPClassifier`'s; only the defaults differ.
"""

from ._estimators import MLPClassifier, MLPRegressor, _params


class _Recipe:
    _INIT = "torch"
    _STANDARDIZE = True
    _STOP_ON_LOSS = False


class TabularClassifier(_Recipe, MLPClassifier):
    """backprop's recipe for a table as a classifier (see the module)."""

    def __init__(
        self,
        hidden_layer_sizes=(64,),
        activation="selu",
        *,
        solver="adam",
        alpha=0.0,
        batch_size=32,
        learning_rate="flat-cos",
        learning_rate_init=0.006,
        power_t=0.5,
        max_iter=30,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        n_threads=None,
        dropout=0.0,
        class_weight=None,
        clip_norm=None,
        label_smoothing=0.0,
    ):
        super().__init__(**_params(locals()))


class TabularRegressor(_Recipe, MLPRegressor):
    """backprop's recipe for a table as a regressor (see the module): the
    targets are standardised for training and predicted in their units."""

    def __init__(
        self,
        hidden_layer_sizes=(64,),
        activation="relu",
        *,
        loss="squared_error",
        solver="adam",
        alpha=0.0,
        batch_size=32,
        learning_rate="flat-cos",
        learning_rate_init=0.006,
        power_t=0.5,
        max_iter=30,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        n_threads=None,
        dropout=0.0,
        clip_norm=None,
    ):
        super().__init__(**_params(locals()))
