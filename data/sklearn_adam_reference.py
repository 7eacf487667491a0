#!/usr/bin/env python3
"""scikit-learn's MLPClassifier(solver='adam') on the fixed splits of data/.

The reference figures of data/README.md ("Adam reference") and of the
constants in tests/learning.rs. For breast_cancer, digits, iris and wine: the
features are standardised with a StandardScaler fitted on the training split
(as backprop does for a CSV file), then MLPClassifier(hidden_layer_sizes=(64,),
activation='relu', solver='adam', random_state=seed) with every other
parameter at its default (lr 0.001, batch 200, max_iter 200, L2 alpha 1e-4,
early stopping off) is trained on the training split and scored on the test
split, for seeds 0..4. ConvergenceWarnings (max_iter reached) are expected and
silenced.

Run from anywhere: python3 data/sklearn_adam_reference.py (needs scikit-learn
and numpy). About 10 seconds.
"""

import csv
import pathlib
import platform
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

DATA = pathlib.Path(__file__).resolve().parent
DATASETS = ["breast_cancer", "digits", "iris", "wine"]
SEEDS = range(5)


def load(path):
    """Features (float64) and labels (strings) of a data/ CSV: header, label last."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    x = np.array([[float(v) for v in r[:-1]] for r in rows])
    y = np.array([r[-1] for r in rows])
    return x, y


def main():
    print(
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}"
    )
    print("MLPClassifier(hidden_layer_sizes=(64,), activation='relu', solver='adam'),")
    print("StandardScaler fitted on the training split; test accuracy per random_state")
    print()
    print(f"{'dataset':<14} {'mean':>7}   " + " ".join(f"{s:>6}" for s in SEEDS))
    for name in DATASETS:
        x_train, y_train = load(DATA / f"{name}.train.csv")
        x_test, y_test = load(DATA / f"{name}.test.csv")
        scaler = StandardScaler().fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
        accs = []
        for seed in SEEDS:
            clf = MLPClassifier(
                hidden_layer_sizes=(64,),
                activation="relu",
                solver="adam",
                random_state=seed,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(x_train, y_train)
            accs.append(clf.score(x_test, y_test))
        per_seed = " ".join(f"{a:6.4f}" for a in accs)
        print(f"{name:<14} {np.mean(accs):7.4f}   {per_seed}")


if __name__ == "__main__":
    main()
