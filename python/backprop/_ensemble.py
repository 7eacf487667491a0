"""Ensemble files in Python: ``backprop.Ensemble.load(path)``."""

import numpy as np

from . import _core
from ._estimators import MLPClassifier, MLPRegressor


class Ensemble:
    """The models of an ensemble file (``backprop train --ensemble K``,
    ``cv --out``, ``search --out``), predicting together: the mean of the
    members' outputs, summed in float32 member by member and divided by K,
    the numbers ``backprop predict`` prints. A model file loads as an
    ensemble of one.

    ``estimators_`` holds each member as a fitted ``MLPClassifier`` or
    ``MLPRegressor`` (as ``load`` gives it); ``classes_`` and
    ``n_features_in_`` are the members'.
    """

    def __init__(self, estimators):
        if not estimators:
            raise ValueError("an ensemble needs at least one member")
        self.estimators_ = list(estimators)
        first = self.estimators_[0]
        self.n_features_in_ = first.n_features_in_
        if hasattr(first, "classes_"):
            self.classes_ = first.classes_

    @classmethod
    def load(cls, path):
        """The ensemble (or model) file at ``path``."""
        members = []
        for data in _core.ensemble_members(str(path)):
            model = _core.Model(bytes(data))
            est = MLPRegressor() if model.head in ("mse", "poisson") else MLPClassifier()
            est._adopt(model)
            members.append(est)
        return cls(members)

    def to_onnx(self, path):
        """Write the members with their preparation as one ONNX graph whose
        output is the mean of theirs (``backprop export --onnx``; see
        ``MLPClassifier.to_onnx``)."""
        for est in self.estimators_:
            est._sync_params()
        _core.export_onnx([est._model.to_bytes() for est in self.estimators_], str(path))

    def _mean(self, X):
        acc = None
        for est in self.estimators_:
            p = np.asarray(est._forward(X), dtype=np.float32)
            acc = p.copy() if acc is None else acc + p
        if len(self.estimators_) > 1:
            acc /= np.float32(len(self.estimators_))
        return acc

    def predict_proba(self, X):
        """The mean of the members' class probabilities (a classifier)."""
        first = self.estimators_[0]
        if not isinstance(first, MLPClassifier):
            raise AttributeError("a regressor ensemble has no predict_proba")
        p = self._mean(X).astype(np.float64)
        if not first._multilabel and p.shape[1] == 1:
            p = np.hstack([1.0 - p, p])
        return p

    def predict(self, X):
        """Classes from the mean probabilities (as a member's ``predict``
        reads its own), or the mean values of a regressor."""
        first = self.estimators_[0]
        p = self._mean(X)
        if isinstance(first, MLPRegressor):
            p = p.astype(np.float64)
            return p.ravel() if p.shape[1] == 1 else p
        if first._multilabel:
            return (p > 0.5).astype(first._y_dtype)
        if p.shape[1] == 1:
            return first.classes_[(p[:, 0] > 0.5).astype(np.intp)]
        return first.classes_[np.argmax(p, axis=1)]
