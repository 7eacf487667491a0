"""loss='poisson': backprop's MLPRegressor against scikit-learn's on
synthetic counts, y ~ Poisson(exp(1 + 0.8·x0 - 0.5·x1)), x uniform in
[-1, 1]^3: 2000 training rows, 1000 test rows (numpy default_rng(0)), at
scikit-learn's defaults (100 relu units, max_iter 200) with the Adam and
the L-BFGS solver; the mean Poisson deviance on the test rows (scikit-learn's
mean_poisson_deviance, twice the half deviance the models minimise), mean
over random_state 0..4.

    python python/bench/poisson.py
"""

import warnings

import numpy as np
from sklearn.metrics import mean_poisson_deviance
from sklearn.neural_network import MLPRegressor as SkRegressor

import backprop


def main():
    r = np.random.default_rng(0)
    X = r.uniform(-1, 1, (2000, 3))
    y = r.poisson(np.exp(1 + 0.8 * X[:, 0] - 0.5 * X[:, 1])).astype(float)
    Xt = r.uniform(-1, 1, (1000, 3))
    yt = r.poisson(np.exp(1 + 0.8 * Xt[:, 0] - 0.5 * Xt[:, 1])).astype(float)
    warnings.simplefilter("ignore")
    print("| solver | scikit-learn | backprop |")
    print("|---|---|---|")
    for solver in ("adam", "lbfgs"):
        row = []
        for cls in (SkRegressor, backprop.MLPRegressor):
            d = [
                mean_poisson_deviance(yt, np.maximum(cls(loss="poisson", solver=solver, random_state=s).fit(X, y).predict(Xt), 1e-9))
                for s in range(5)
            ]
            row.append(f"{np.mean(d):.4f}")
        print(f"| {solver} | {row[0]} | {row[1]} |")


if __name__ == "__main__":
    main()
