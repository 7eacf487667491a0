#!/usr/bin/env python3
"""The modern tabular MLP anchors on the suite: RealMLP-TD and TabM (both from
pytabkit, at their defaults, on the CPU), for issue 22's comparisons.

For every table in suite.json: fit on <name>.train.csv, score on
<name>.test.csv (accuracy, or scikit-learn's r2_score), wall time of fit +
predict. The anchors do not take gaps in number columns, so each such column
gets the training median and a 0/1 "missing" column (what backprop's reader
does); text and bool columns are pandas categoricals of the training file's
levels (a level unseen in training is a gap).

    pip install -r bench/tables/requirements.txt pytabkit
    python bench/tables/anchors.py --threads 2 --json-out anchors.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def prepare(train: pd.DataFrame, test: pd.DataFrame, label: str):
    """Features and targets as the anchors take them (see the module docs)."""
    Xtr, Xte = train.drop(columns=[label]).copy(), test.drop(columns=[label]).copy()
    num = [c for c in Xtr.columns
           if pd.api.types.is_numeric_dtype(Xtr[c]) and not pd.api.types.is_bool_dtype(Xtr[c])]
    for c in num:
        if Xtr[c].isna().any() or Xte[c].isna().any():
            med = Xtr[c].median()
            for X in (Xtr, Xte):
                X[f"{c} (missing)"] = X[c].isna().astype(float)
                X[c] = X[c].fillna(med)
    for c in [c for c in train.columns if c != label and c not in num]:
        cats = sorted(Xtr[c].dropna().astype(str).unique())
        for X in (Xtr, Xte):
            v = X[c].astype(object).where(X[c].notna(), None).map(lambda x: x if x is None else str(x))
            X[c] = pd.Categorical(v, categories=cats)
    return Xtr, Xte, train[label], test[label]


def run(method: str, task: str, train, test, label, threads: int, seed: int):
    from sklearn.metrics import accuracy_score, r2_score
    import pytabkit

    cls = {
        ("realmlp", "classification"): pytabkit.RealMLP_TD_Classifier,
        ("realmlp", "regression"): pytabkit.RealMLP_TD_Regressor,
        ("tabm", "classification"): pytabkit.TabM_D_Classifier,
        ("tabm", "regression"): pytabkit.TabM_D_Regressor,
    }[(method, task)]
    Xtr, Xte, ytr, yte = prepare(train, test, label)
    if task == "classification":
        ytr, yte = ytr.astype(str), yte.astype(str).to_numpy()
    else:
        ytr, yte = ytr.astype(float), yte.astype(float).to_numpy()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cls(device="cpu", random_state=seed, n_threads=threads, verbosity=0)
        model.fit(Xtr, ytr)
        pred = model.predict(Xte)
    secs = time.perf_counter() - t0
    s = accuracy_score(yte, pred) if task == "classification" else r2_score(yte, pred)
    return {"score": float(s), "seconds": secs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", type=Path, default=HERE / "suite.json")
    ap.add_argument("--tables", help="only these tables (comma-separated names)")
    ap.add_argument("--methods", default="realmlp,tabm", help="realmlp,tabm [both]")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    suite = json.loads(args.suite.read_text())
    data_dir = (args.suite.parent / suite.get("data_dir", "data")).resolve()
    wanted = set(args.tables.split(",")) if args.tables else None
    methods = [m for m in args.methods.split(",") if m]
    rows = []
    for t in suite["tables"]:
        if wanted and t["name"] not in wanted:
            continue
        train = pd.read_csv(data_dir / t["files"]["train"])
        test = pd.read_csv(data_dir / t["files"]["test"])
        row = {"table": t["name"], "task": t["task"],
               "metric": "accuracy" if t["task"] == "classification" else "r2"}
        for m in methods:
            try:
                row[m] = run(m, t["task"], train, test, t["label"], args.threads, args.seed)
            except Exception as e:  # a failure is a result too
                row[m] = {"score": None, "seconds": None, "error": f"{type(e).__name__}: {e}"}
            r = row[m]
            print(f"{t['name']:16} {m:8} {r['score'] if r['score'] is None else round(r['score'], 4)} "
                  f"({r['seconds'] and round(r['seconds'], 1)} s)", file=sys.stderr, flush=True)
        rows.append(row)
    head = "| table | metric | " + " | ".join(f"{m} | s" for m in methods) + " |"
    print(head)
    print("|" + "---|" * (2 + 2 * len(methods)))
    for r in rows:
        cells = []
        for m in methods:
            x = r[m]
            cells += ["failed" if x["score"] is None else f"{x['score']:.4f}",
                      "-" if x["seconds"] is None else f"{x['seconds']:.1f}"]
        print(f"| {r['table']} | {r['metric']} | " + " | ".join(cells) + " |")
    if args.json_out:
        import pytabkit
        import torch

        args.json_out.write_text(json.dumps({
            "threads": args.threads, "seed": args.seed,
            "versions": {"pytabkit": getattr(pytabkit, "__version__", "?"), "torch": torch.__version__},
            "results": rows,
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
