"""partial_fit per call: backprop's MLPClassifier against scikit-learn's,
default parameters, on digits: a first call of 50 rows (with classes), then
29 calls of 50 rows each; the median per call of those 29, three estimators
in a row, the two libraries alternating twice.

    python python/bench/partial_fit.py
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier as SkClassifier

import backprop


def medians(cls, X, y, classes, reps=3):
    out = []
    for _ in range(reps):
        est = cls(random_state=0)
        est.partial_fit(X[:50], y[:50], classes=classes)
        times = []
        for i in range(1, 30):
            start = time.perf_counter()
            est.partial_fit(X[i * 50 : (i + 1) * 50], y[i * 50 : (i + 1) * 50])
            times.append(time.perf_counter() - start)
        out.append(np.median(times) * 1e3)
    return out


def main():
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    classes = np.unique(y)
    warnings.simplefilter("ignore")
    for _ in range(2):
        for name, cls in (("scikit-learn", SkClassifier), ("backprop", backprop.MLPClassifier)):
            print(f"{name:12s} " + " ".join(f"{m:.3f}" for m in medians(cls, X, y, classes)) + " ms")


if __name__ == "__main__":
    main()
