#!/usr/bin/env python3
"""Issue 21's search target: a 5-fold x 12-candidate search on a 10 000-row
table, `backprop search` against scikit-learn's
`GridSearchCV(Pipeline(StandardScaler, MLPClassifier), n_jobs=2)` on the same
grid, folds count and epochs.

The table: `make_classification(10000, 20, n_informative=10, n_classes=3,
random_state=0)`, written to a CSV that backprop reads (its time counts the
reading; scikit-learn's does not count making the array).

The grid (12 candidates): learning rate 0.001 | 0.003 | 0.01, hidden layers
(64) | (64, 64), L2 0 | 1e-4 (scikit-learn's `alpha`, backprop's
`weight-decay`: not the same rule, see the note printed). Both: Adam, ReLU,
softmax/cross-entropy, batch 200 (scikit-learn's default; `--batch-size`), a fixed number
of epochs (scikit-learn: `max_iter=E, tol=0, n_iter_no_change=E+1`, so no
early stop; its convergence warning is silenced), standardised inputs
(backprop's default; a StandardScaler in scikit-learn's pipeline).

Prints one JSON object: seconds and best mean accuracy for each, and the
ratio. Usage: python search_vs_sklearn.py --backprop target/release/backprop
[--epochs 20] [--repeat 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

LRS = [0.001, 0.003, 0.01]
LAYERS = [(64,), (64, 64)]
L2 = [0.0, 1e-4]


def table(path):
    x, y = make_classification(
        n_samples=10000, n_features=20, n_informative=10, n_classes=3, random_state=0
    )
    with open(path, "w") as f:
        f.write(",".join(f"x{i}" for i in range(x.shape[1])) + ",label\n")
        for row, label in zip(x, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{label}\n")
    return x.astype(np.float32), y


def run_backprop(exe, path, epochs, threads, batch):
    grid = "lr={}; layers={}; weight-decay={}".format(
        ",".join(map(str, LRS)),
        "|".join(",".join(map(str, l)) for l in LAYERS),
        ",".join(map(str, L2)),
    )
    cmd = [
        exe, "search", "--data", path, "--grid", grid, "--folds", "5",
        "--epochs", str(epochs), "--optimizer", "adam", "--batch-size", str(batch),
        "--activation", "relu", "--threads", str(threads), "--json", "--quiet",
    ]
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - start
    report = json.loads(out)
    return seconds, report, " ".join(cmd)


def best_of(report):
    """The best candidate's mean accuracy from `search --json`."""
    ranked = report["candidates"]
    return ranked[0]["mean"]["accuracy"]


def run_sklearn(x, y, epochs, jobs, batch):
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("mlp", MLPClassifier(solver="adam", activation="relu", batch_size=batch,
                              max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1,
                              random_state=0)),
    ])
    grid = {"mlp__learning_rate_init": LRS, "mlp__hidden_layer_sizes": LAYERS,
            "mlp__alpha": L2}
    search = GridSearchCV(pipe, grid, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                          n_jobs=jobs, refit=False)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y)
    seconds = time.perf_counter() - start
    return seconds, float(search.best_score_), search.best_params_


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backprop", required=True)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "table.csv")
        x, y = table(path)
        bp_times, sk_times = [], []
        for _ in range(args.repeat):  # alternated, so load drifts hit both
            seconds, report, cmd = run_backprop(args.backprop, path, args.epochs, args.jobs, args.batch_size)
            bp_times.append(seconds)
            seconds, sk_best, sk_params = run_sklearn(x, y, args.epochs, args.jobs, args.batch_size)
            sk_times.append(seconds)
    bp_best = best_of(report)
    out = {
        "rows": len(y), "batch_size": args.batch_size, "folds": 5, "candidates": 12, "epochs": args.epochs,
        "backprop_seconds": bp_times, "sklearn_seconds": sk_times,
        "backprop_median_s": statistics.median(bp_times),
        "sklearn_median_s": statistics.median(sk_times),
        "speedup": statistics.median(sk_times) / statistics.median(bp_times),
        "backprop_best_mean_accuracy": bp_best,
        "backprop_best": report["candidates"][0]["settings"],
        "sklearn_best_mean_accuracy": sk_best,
        "sklearn_best": {k: str(v) for k, v in sk_params.items()},
        "backprop_command": cmd,
        "note": "backprop's weight-decay and sklearn's alpha are both an L2 term, "
                "scaled differently (README, Choosing an optimizer)",
    }
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
