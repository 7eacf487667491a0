"""Fit time and test accuracy: backprop's MLPClassifier against
scikit-learn's, with the same parameters (Adam, one hidden layer of 256
relu units, batches of 200, 20 epochs, learning rate 0.001, alpha 1e-4,
random_state 0, no early stop), on mnist_5k and digits, at 1 and 2 threads.

    python python/bench/compare_sklearn.py [--mnist PREFIX] [--repeat N]

PREFIX names mnist_5k's split files PREFIX.train.csv and PREFIX.test.csv
(default: data/mnist_5k next to this repository's data, if there); without
them only digits runs. scikit-learn's threads are its BLAS threads
(threadpoolctl); backprop's are n_threads. Each time is the median of
--repeat fits (default 3). Pixels are scaled to 0..1 for both.
"""

import argparse
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLP
from threadpoolctl import threadpool_info, threadpool_limits

from backprop import MLPClassifier as BpMLP

ROOT = Path(__file__).resolve().parents[2]
PARAMS = dict(
    hidden_layer_sizes=(256,),
    solver="adam",
    batch_size=200,
    max_iter=20,
    learning_rate_init=0.001,
    alpha=1e-4,
    random_state=0,
    tol=0.0,
    n_iter_no_change=10_000,
)


def load(prefix, scale):
    tr = pd.read_csv(f"{prefix}.train.csv")
    te = pd.read_csv(f"{prefix}.test.csv")
    f = lambda d: (d.iloc[:, :-1].to_numpy(np.float32) / scale, d.iloc[:, -1].to_numpy())
    return (*f(tr), *f(te))


def timed(make, X, y, Xt, yt, repeat):
    times, acc = [], None
    for _ in range(repeat):
        est = make()
        start = time.perf_counter()
        est.fit(X, y)
        times.append(time.perf_counter() - start)
        a = est.score(Xt, yt)
        assert acc is None or a == acc, "a fit with the same seed changed its accuracy"
        acc = a
    return float(np.median(times)), acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", default=str(ROOT / "data" / "mnist_5k"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sets = []
    if Path(f"{args.mnist}.train.csv").exists():
        sets.append(("mnist_5k", load(args.mnist, 255.0)))
    else:
        print(f"({args.mnist}.train.csv not found: mnist_5k skipped)")
    sets.append(("digits", load(ROOT / "data" / "digits", 16.0)))
    blas = [(i.get("internal_api"), i.get("architecture")) for i in threadpool_info()]
    print(f"python {platform.python_version()}, BLAS {blas}")
    print("| data | threads | scikit-learn fit (s) | backprop fit (s) | speed-up | scikit-learn accuracy | backprop accuracy |")
    print("|---|---|---|---|---|---|---|")
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, (X, y, Xt, yt) in sets:
        for threads in (1, 2):
            with threadpool_limits(limits=threads):
                sk_t, sk_a = timed(lambda: SkMLP(**PARAMS), X, y, Xt, yt, args.repeat)
            bp_t, bp_a = timed(lambda: BpMLP(n_threads=threads, **PARAMS), X, y, Xt, yt, args.repeat)
            print(f"| {name} | {threads} | {sk_t:.3f} | {bp_t:.3f} | {sk_t / bp_t:.1f}x | {sk_a:.4f} | {bp_a:.4f} |", flush=True)


if __name__ == "__main__":
    main()
