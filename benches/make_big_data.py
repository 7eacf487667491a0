#!/usr/bin/env python3
"""Writes a large synthetic classification set for the prediction,
evaluation and loading benchmarks (BENCHMARKS.md, "Prediction, evaluation
and loading"): ROWS rows of 64 float32 features in 10 classes (Gaussian
clusters with noise features), as NPY (x.npy f32 C-order, y.npy int64) and
as CSV (64 feature columns and a `label` column, with a header).

    python3 benches/make_big_data.py /tmp/big 500000
    python3 benches/make_big_data.py /tmp/big5m 5000000 --no-csv
"""
import os
import sys

import numpy as np


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    write_csv = "--no-csv" not in sys.argv
    out = args[0] if args else "big"
    rows = int(args[1]) if len(args) > 1 else 500_000
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    classes, features, informative = 10, 64, 16
    centres = rng.normal(0.0, 1.5, size=(classes, informative)).astype(np.float32)
    y = rng.integers(0, classes, size=rows)
    x = rng.normal(0.0, 1.0, size=(rows, features)).astype(np.float32)
    x[:, :informative] += centres[y]
    np.save(os.path.join(out, "x.npy"), np.ascontiguousarray(x, dtype=np.float32))
    np.save(os.path.join(out, "y.npy"), y.astype(np.int64))
    if not write_csv:
        print(f"{rows} rows x {features} features -> {out}/x.npy, y.npy")
        return
    header = ",".join([f"f{i}" for i in range(features)] + ["label"])
    with open(os.path.join(out, "big.csv"), "w") as f:
        f.write(header + "\n")
        step = 50_000
        for start in range(0, rows, step):
            block = np.column_stack([x[start:start + step], y[start:start + step]])
            np.savetxt(f, block, delimiter=",", fmt=["%.6g"] * features + ["%d"])
    print(f"{rows} rows x {features} features -> {out}/x.npy, y.npy, big.csv")


if __name__ == "__main__":
    main()
