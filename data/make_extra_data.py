#!/usr/bin/env python3
"""Regenerate the extra datasets in data/ (diabetes, iris, wine) and print reference figures.

Writes, next to this script:
  diabetes.train.csv, diabetes.test.csv   (regression, target `progression`)
  iris.csv, iris.train.csv, iris.test.csv (classification, label `species` as words)
  wine.train.csv, wine.test.csv           (classification, label `cultivar` 1..3)

Format: header row, comma-separated, LF line endings, floats as Python repr (shortest
round-trip text), target in the last column. Running it again rewrites identical bytes.

Usage: python3 data/make_extra_data.py   (needs scikit-learn and numpy)
"""

import os
import re
import warnings

import numpy as np
import sklearn
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))


def fmt_float(v):
    return repr(float(v))


def write_csv(name, header, X, last, last_fmt):
    """Write rows of float features X plus a last column formatted with last_fmt."""
    path = os.path.join(HERE, name)
    lines = [",".join(header)]
    for row, t in zip(X, last):
        lines.append(",".join([fmt_float(v) for v in row] + [last_fmt(t)]))
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {name}: {len(X)} rows")


def clean_name(s):
    return re.sub(r"[ /]", "_", s)


def diabetes():
    d = load_diabetes()  # default: scaled features, as scikit-learn ships them
    X, y = d.data, d.target
    header = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "progression"]
    assert list(d.feature_names) == header[:-1], d.feature_names
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    write_csv("diabetes.train.csv", header, Xtr, ytr, fmt_float)
    write_csv("diabetes.test.csv", header, Xte, yte, fmt_float)

    ols = LinearRegression().fit(Xtr, ytr)
    p = ols.predict(Xte)
    r2 = r2_score(yte, p)
    rmse = float(np.sqrt(mean_squared_error(yte, p)))
    mae = mean_absolute_error(yte, p)

    sc = StandardScaler().fit(Xtr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPRegressor(hidden_layer_sizes=(64,), max_iter=2000, random_state=0)
        mlp.fit(sc.transform(Xtr), ytr)
    mlp_r2 = r2_score(yte, mlp.predict(sc.transform(Xte)))
    return r2, rmse, mae, mlp_r2, mlp.n_iter_


def logistic_accuracy(Xtr, ytr, Xte, yte):
    sc = StandardScaler().fit(Xtr)
    clf = LogisticRegression(max_iter=1000).fit(sc.transform(Xtr), ytr)
    return accuracy_score(yte, clf.predict(sc.transform(Xte)))


def iris():
    d = load_iris()
    X, y = d.data, d.target
    names = list(d.target_names)
    assert names == ["setosa", "versicolor", "virginica"], names
    header = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    word = lambda t: names[int(t)]
    write_csv("iris.csv", header, X, y, word)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    write_csv("iris.train.csv", header, Xtr, ytr, word)
    write_csv("iris.test.csv", header, Xte, yte, word)
    return logistic_accuracy(Xtr, ytr, Xte, yte)


def wine():
    d = load_wine()
    X, y = d.data, d.target + 1  # classes 1..3, so labels do not start at 0
    header = [clean_name(n) for n in d.feature_names] + ["cultivar"]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    label = lambda t: str(int(t))
    write_csv("wine.train.csv", header, Xtr, ytr, label)
    write_csv("wine.test.csv", header, Xte, yte, label)
    return logistic_accuracy(Xtr, ytr, Xte, yte)


def main():
    r2, rmse, mae, mlp_r2, mlp_iter = diabetes()
    iris_acc = iris()
    wine_acc = wine()
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    print(f"diabetes OLS (LinearRegression) test: R2 = {r2:.4f}, RMSE = {rmse:.4f}, MAE = {mae:.4f}")
    print(f"diabetes MLPRegressor((64,), max_iter=2000, random_state=0, standardised X) test: R2 = {mlp_r2:.4f} "
          f"(stopped after {mlp_iter} iterations{', not converged' if mlp_iter >= 2000 else ''})")
    print(f"iris LogisticRegression (standardised, max_iter=1000) test accuracy = {iris_acc:.4f}")
    print(f"wine LogisticRegression (standardised, max_iter=1000) test accuracy = {wine_acc:.4f}")


if __name__ == "__main__":
    main()
