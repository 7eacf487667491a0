"""backprop: scikit-learn compatible multi-layer perceptrons on the backprop
Rust engine (cache-blocked GEMMs, SIMD kernels, rayon-sharded mini-batches;
the same bits for any thread count).

    from backprop import MLPClassifier, MLPRegressor

The estimators take scikit-learn's parameters with scikit-learn's defaults.
Where the meaning differs, this is the exact mapping onto the library
(``backprop::fit::FitSpec``):

- ``solver``: ``'sgd'``, ``'adam'``, and also ``'adamw'`` and ``'rmsprop'``
  (PyTorch's update rules; sklearn's SGD momentum and Nesterov updates are
  the same as PyTorch's at a constant rate); ``'lbfgs'``: full-batch L-BFGS
  (the library's ``FitSpec::lbfgs``, the command line's ``--optimizer
  lbfgs``): at most ``max_iter`` iterations over every row, stopped by
  scipy's rules (no gradient component above ``tol``, a relative decrease
  below 2.2e-9, or more than ``max_fun`` evaluations), the objective being
  the mean loss plus ``alpha / (2 * sum(sample_weight)) * ||W||^2`` as in
  scikit-learn. As there, ``loss_`` is that objective, ``t_`` is 0, there
  is no ``loss_curve_`` and no ``partial_fit``, batches, rates and early
  stopping do not apply, and a run that stops short warns with scipy's
  message. ``dropout`` is refused with it.
- ``loss`` (``MLPRegressor``, first parameter as in scikit-learn 1.7+):
  ``'squared_error'``, or ``'poisson'``: an exponential output with the half
  Poisson deviance (the library's ``poisson`` head); targets must be
  ``>= 0``, ``out_activation_`` is ``'exp'``, and a new network's output
  biases start at the log of each target's mean (scikit-learn starts them
  at its initialisation's draw).
- ``alpha``: scikit-learn adds ``alpha / (2 * n_batch) * ||W||^2`` to each
  batch's loss (weights only, not biases). Its gradient is weight decay
  ``alpha / batch_size`` (the library's ``weight_decay``), times
  ``n_outputs`` for the regressor, whose squared error the library sums
  over the outputs where scikit-learn averages. The library uses the
  nominal ``batch_size`` for every batch (scikit-learn divides a short last
  batch by its own size). With ``sample_weight``, scikit-learn divides
  ``alpha`` by each batch's sum of weights instead of its size; so does the
  library (its ``decay_by_weight``: the decay times ``batch_size / Σw``),
  and uniform weights ``c`` divide the decay by ``c``. With
  ``solver='adamw'``, ``alpha`` is AdamW's decoupled decay λ as it is.
- ``batch_size``: ``'auto'`` is ``min(200, n_samples)``; larger than
  ``n_samples`` is clipped with a warning.
- ``learning_rate`` (SGD only, as in scikit-learn): ``'constant'``, or
  ``'adaptive'``: the rate is divided by 5 once the validation loss has not
  improved for more than ``n_iter_no_change`` epochs (the library's plateau
  schedule; it watches the validation split, so it needs
  ``early_stopping=True``; scikit-learn watches the training loss or the
  validation score), or ``'invscaling'``: the rate of each epoch is
  ``learning_rate_init / (t_ + 1) ** power_t``, ``t_`` the training samples
  seen before it (across ``partial_fit`` calls too). Beyond
  scikit-learn, for every solver: ``'flat-cos'``, ``'coslog4'`` and
  ``'one-cycle'``, RealMLP's schedules over the fit's ``max_iter`` epochs
  (the command line's ``--lr-schedule``; ``'flat-cos'`` is
  ``TabularClassifier``'s and ``TabularRegressor``'s default);
  ``partial_fit`` keeps a constant rate.
- ``activation``: scikit-learn's four, and ``'selu'``, ``'silu'``,
  ``'gelu'``, ``'mish'`` as PyTorch defines them. ``label_smoothing``
  (classifier): train towards ``(1 - ε)·y + ε/K``.
- ``tol``, ``n_iter_no_change``: without early stopping, training stops once
  the training loss has not fallen by more than ``tol`` below the best loss
  for ``n_iter_no_change + 1`` epochs in a row (scikit-learn: a count above
  ``n_iter_no_change``; scikit-learn also moves its best loss on any
  improvement, the library only on one larger than ``tol``). With
  ``early_stopping=True``, the same rule on the validation score
  (accuracy; R² for the regressor; for multi-label data the validation
  loss, and ``validation_scores_`` holds its negative), on a seeded split of
  ``validation_fraction`` of the rows, stratified for single-label classes;
  the weights of the best epoch are kept. ``partial_fit`` never stops.
- ``random_state``: an int is the library's seed (``backprop train --seed``):
  initialisation, shuffling, the validation split and dropout masks; the
  same seed gives the same bits for any ``n_threads``. ``None`` or a
  ``RandomState`` draws a seed. The initialisation is scikit-learn's rule
  (weights and biases uniform within ``sqrt(6 / (fan_in + fan_out))``,
  ``sqrt(2 / ...)`` for ``logistic``; the library's ``Init::Sklearn``) drawn
  from the library's generator, so results equal scikit-learn's in
  distribution, not in bits.
- ``loss_curve_``, ``best_loss_``: the training loss of each epoch (the mean
  over the epoch's batches of the batch loss, without the ``alpha`` term,
  which scikit-learn includes).
- ``warm_start=True``: ``fit`` continues from the fitted weights with a new
  optimizer, as scikit-learn does. ``partial_fit`` trains one epoch and
  continues the optimizer's state, its step count and the shuffling RNG
  (the library's checkpoint); a pickle of an estimator with
  ``warm_start=True`` or trained by ``partial_fit`` carries that state.
- ``sample_weight``: the loss is ``sum(w * loss) / sum(w)``. Samples of weight
  0 are left out; uniform weights train as no weights.
- ``verbose``: one line per epoch on ``sys.stdout``.

Ours: ``n_threads`` (``None``: one per core), ``dropout`` (inverted dropout
on the hidden layers), ``class_weight`` (classifier: ``'balanced'``, as
scikit-learn's, or ``{class: weight}``; multiplies ``sample_weight``) and
``clip_norm`` (clip the mean gradient's L2 norm).

Features are used as given (scikit-learn's MLP does not standardise them;
use a ``StandardScaler`` pipeline). A float32 C-contiguous ``X`` reaches the
library without a conversion; anything else is converted once. The library
copies the rows into its own table and training set (its types own their
memory); training holds one copy. ``predict`` reads ``X`` in place. ``save(path)`` writes the model file
of ``backprop train --out``, and ``MLPClassifier.load(path)`` /
``MLPRegressor.load(path)`` read one, including the command line's (whose
standardisation or pixel scaling is applied in ``predict``). ``to_onnx(path)``
(on an estimator or a ``backprop.Ensemble``) writes the model with its
stored preparation as one ONNX graph (``backprop export --onnx``): input
``input`` float32 ``(n_samples, n_features)``, output ``output``, the
numbers ``predict_proba`` (a binary model: the second class's column) or
``predict`` gives; models of text, boolean or date columns are refused.

Many fits in one pass: ``backprop.cross_validate(estimator, X, y, cv=5)``
(scikit-learn's signature and result) and ``backprop.GridSearch(estimator,
param_grid)`` (``GridSearchCV``'s attributes) fit the folds, or every
candidate on every fold, together on a pool of threads (``n_threads``: the
threads in all), each fold the estimator's own ``fit`` on a clone, so each
result equals that clone fitted alone, to the bit. scikit-learn's
``GridSearchCV`` works as before. ``backprop.Ensemble.load(path)`` reads an
ensemble file of the command line (``train --ensemble``, ``cv --out``,
``search --out``): ``predict`` and ``predict_proba`` are the mean of the
members', the numbers ``backprop predict`` prints.

While ``fit`` runs the GIL is released; Ctrl-C stops it after the current
batch with ``KeyboardInterrupt``, leaving the estimator fitted with the
weights as they were then.
"""

from ._core import __version__
from ._estimators import MLPClassifier, MLPRegressor
from ._ensemble import Ensemble
from ._many import GridSearch, cross_validate
from ._tabular import TabularClassifier, TabularRegressor

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
