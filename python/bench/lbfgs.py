"""solver='lbfgs': backprop's estimators against scikit-learn's, at
scikit-learn's defaults (one hidden layer of 100 relu units, alpha 1e-4,
max_iter 200, max_fun 15000, tol 1e-4), on scikit-learn's bundled iris, wine,
breast cancer (accuracy) and diabetes (R²), raw and standardised (a
StandardScaler in the pipeline).

    python python/bench/lbfgs.py [--seeds N] [--inits K] [--threads T]

Each score is the mean, over split seeds 0..N-1 (default 5) and K model
seeds for each (seed, seed + 100, ...; default 1), of a shuffled 5-fold
cross-validation (stratified for the classifiers), ± its standard error;
each time is the wall time of all those fits.
scikit-learn's threads are its BLAS threads (threadpoolctl), backprop's
n_threads (default 2).
"""

import argparse
import platform
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import backprop

SETS = [
    ("iris", load_iris, False),
    ("wine", load_wine, False),
    ("breast_cancer", load_breast_cancer, False),
    ("diabetes", load_diabetes, True),
]


def score(lib, load, regression, scaled, seeds, inits, threads):
    X, y = load(return_X_y=True)
    scores = []
    started = time.perf_counter()
    for seed, init in ((s, s + 100 * k) for s in range(seeds) for k in range(inits)):
        if regression:
            cls = SkRegressor if lib == "sklearn" else backprop.MLPRegressor
            cv = KFold(5, shuffle=True, random_state=seed)
        else:
            cls = SkClassifier if lib == "sklearn" else backprop.MLPClassifier
            cv = StratifiedKFold(5, shuffle=True, random_state=seed)
        extra = {} if lib == "sklearn" else {"n_threads": threads}
        est = cls(solver="lbfgs", random_state=init, **extra)
        if scaled:
            est = make_pipeline(StandardScaler(), est)
        scores.append(cross_val_score(est, X, y, cv=cv).mean())
    se = float(np.std(scores) / np.sqrt(len(scores)))
    return f"{np.mean(scores):.4f} ± {se:.4f}", time.perf_counter() - started


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--inits", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    print(
        f"# {platform.processor() or platform.machine()}, {args.threads} threads, "
        f"split seeds 0..{args.seeds - 1}, {args.inits} model seed(s) each"
    )
    print("| set | input | scikit-learn | backprop | scikit-learn time (s) | backprop time (s) |")
    print("|---|---|---|---|---|---|")
    with threadpool_limits(args.threads):
        for name, load, regression in SETS:
            for scaled in (False, True):
                sk, sk_t = score("sklearn", load, regression, scaled, args.seeds, args.inits, args.threads)
                bp, bp_t = score("backprop", load, regression, scaled, args.seeds, args.inits, args.threads)
                kind = "standardised" if scaled else "raw"
                print(f"| {name} | {kind} | {sk} | {bp} | {sk_t:.1f} | {bp_t:.1f} |", flush=True)


if __name__ == "__main__":
    main()
