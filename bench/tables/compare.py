#!/usr/bin/env python3
"""Compare backprop's CLI defaults with scikit-learn's MLP and LightGBM on the suite.

For every table in suite.json: fit on <name>.train.csv, score on <name>.test.csv.

  sklearn   Pipeline(ColumnTransformer([
                (num: SimpleImputer() + StandardScaler()),
                (cat: SimpleImputer(most_frequent) + OneHotEncoder(handle_unknown='ignore'))]),
            MLPClassifier() / MLPRegressor())          defaults, random_state=0
  lightgbm  LGBMClassifier() / LGBMRegressor()         defaults, verbose=-1, random_state=0,
                                                       text columns as pandas 'category'
  backprop  backprop train --data <name>.train.csv --out model.safetensors    (nothing else)
            backprop eval --model model.safetensors --data <name>.test.csv --json

Numeric columns are those pandas read_csv gives a numeric dtype; the others
(text, bool) are categorical. The score is accuracy (0..1) for classification and
scikit-learn's r2_score for regression; the seconds are wall time of fit + predict
(backprop: train + eval, as two processes); with --repeat N, the median of N runs. A backprop run that fails is recorded
as "failed: <first line of its error>" and the comparison carries on.

    python bench/tables/compare.py --backprop target/release/backprop --json-out results.json
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
# below sklearn by more than this is flagged
TOLERANCE = {"classification": 0.01, "regression": 0.02}


def split_xy(df: pd.DataFrame, label: str):
    return df.drop(columns=[label]), df[label]


def column_kinds(X: pd.DataFrame):
    num = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])]
    cat = [c for c in X.columns if c not in num]
    return num, cat


def as_object(X: pd.DataFrame, cat) -> pd.DataFrame:
    """Text/bool columns as object with np.nan gaps (what SimpleImputer/OneHotEncoder expect)."""
    X = X.copy()
    for c in cat:
        X[c] = X[c].astype(object).where(X[c].notna(), np.nan)
    return X


def target(y: pd.Series, task: str):
    return y.astype(str).to_numpy() if task == "classification" else y.astype(float).to_numpy()


def score(task: str, y_true, y_pred) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    return float(accuracy_score(y_true, y_pred) if task == "classification" else r2_score(y_true, y_pred))


def run_sklearn(task, train, test, label, scale_target=False):
    from sklearn.compose import ColumnTransformer
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    Xtr, ytr = split_xy(train, label)
    Xte, yte = split_xy(test, label)
    num, cat = column_kinds(Xtr)
    Xtr, Xte = as_object(Xtr, cat), as_object(Xte, cat)
    pre = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), num),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), cat),
    ])
    mlp = MLPClassifier(random_state=0) if task == "classification" else MLPRegressor(random_state=0)
    model = Pipeline([("pre", pre), ("mlp", mlp)])
    if task == "regression" and scale_target:
        from sklearn.compose import TransformedTargetRegressor

        model = TransformedTargetRegressor(model, transformer=StandardScaler())
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(Xtr, target(ytr, task))
    pred = model.predict(Xte)
    secs = time.perf_counter() - t0
    notes = []
    fitted = model.regressor_ if hasattr(model, "regressor_") else model
    mlp = fitted.named_steps["mlp"]
    if mlp.n_iter_ >= mlp.max_iter:
        notes.append(f"not converged in {mlp.max_iter} iterations")
    return {"score": score(task, target(yte, task), pred), "seconds": secs, "notes": notes}


def run_lightgbm(task, train, test, label):
    import lightgbm as lgb

    Xtr, ytr = split_xy(train, label)
    Xte, yte = split_xy(test, label)
    _, cat = column_kinds(Xtr)
    Xtr, Xte = Xtr.copy(), Xte.copy()
    for c in cat:
        # the training file's categories; a test value never seen in training becomes a gap
        cats = pd.Index(sorted(Xtr[c].dropna().astype(str).unique()))
        for X in (Xtr, Xte):
            v = X[c].astype(object).where(X[c].notna(), None)
            v = v.map(lambda x: x if x is None else str(x))
            X[c] = pd.Categorical(v.where(v.isin(cats), None), categories=cats)
    cls = lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor
    model = cls(verbose=-1, random_state=0)
    t0 = time.perf_counter()
    model.fit(Xtr, target(ytr, task))
    pred = model.predict(Xte)
    secs = time.perf_counter() - t0
    return {"score": score(task, target(yte, task), pred), "seconds": secs, "notes": []}


def first_error_line(proc: subprocess.CompletedProcess) -> str:
    for text in (proc.stderr, proc.stdout):
        for line in (text or "").splitlines():
            if line.strip():
                return line.strip()
    return f"exit status {proc.returncode}"


def run_backprop(binary: str, task: str, train_csv: Path, test_csv: Path, extra: list[str], timeout: float):
    with tempfile.TemporaryDirectory(prefix="suite-") as tmp:
        model = Path(tmp) / "model.safetensors"
        train_cmd = [binary, "train", "--data", str(train_csv), "--out", str(model), *extra]
        eval_cmd = [binary, "eval", "--model", str(model), "--data", str(test_csv), "--json"]
        result = {"score": None, "seconds": None, "notes": [], "command": shlex.join(train_cmd)}
        t0 = time.perf_counter()
        try:
            tr = subprocess.run(train_cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            result["error"] = f"failed: train ran past {timeout:g} s"
            return result
        except OSError as e:
            result["error"] = f"failed: {e}"
            return result
        train_secs = time.perf_counter() - t0
        if tr.returncode != 0:
            result["error"] = f"failed: {first_error_line(tr)}"
            result["seconds"] = train_secs
            return result
        try:
            ev = subprocess.run(eval_cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            result["error"] = f"failed: eval ran past {timeout:g} s"
            return result
        result["seconds"] = time.perf_counter() - t0
        result["train_seconds"] = train_secs
        if ev.returncode != 0:
            result["error"] = f"failed (eval): {first_error_line(ev)}"
            return result
        try:
            report = json.loads(ev.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            result["error"] = f"failed: eval printed no JSON: {ev.stdout.strip()[:120]!r}"
            return result
        result["task"] = report.get("task")
        if task == "classification" and report.get("task") == "classification":
            result["score"] = float(report["accuracy"])
        elif task == "regression" and report.get("task") == "regression":
            result["score"] = float(report["r2"])
        else:
            extra_note = ""
            if report.get("task") == "classification":
                extra_note = f" ({len(report.get('classes', []))} classes, accuracy {report.get('accuracy', float('nan')):.3f})"
            result["error"] = f"wrong task: the defaults trained {report.get('task')}{extra_note}, not {task}"
        return result


def repeated(n: int, run, *args):
    """Run n times; keep the first result, with the median of the wall times
    (and all of them), since a busy 2-core machine makes single timings jumpy."""
    results = [run(*args) for _ in range(max(1, n))]
    first = results[0]
    times = [r["seconds"] for r in results if r.get("seconds") is not None]
    if len(results) > 1 and times:
        first["seconds"] = float(np.median(times))
        first["seconds_all"] = times
    return first


def fmt_score(r) -> str:
    if r is None:
        return "-"
    if r.get("score") is None:
        return r.get("error", "failed")
    return f"{r['score']:.4f}"


def fmt_secs(r) -> str:
    return "-" if r is None or r.get("seconds") is None else f"{r['seconds']:.2f}"


def markdown(rows, data_dir: Path) -> str:
    head = ("| table | task | rows (train/test) | metric | sklearn MLP | s | LightGBM | s "
            "| backprop | s | backprop − sklearn |")
    out = [head, "|" + "---|" * 11]
    for r in rows:
        sk, lg, bp = r["sklearn"], r["lightgbm"], r["backprop"]
        gap = "-"
        if bp and bp.get("score") is not None and sk and sk.get("score") is not None:
            g = bp["score"] - sk["score"]
            gap = f"{g:+.4f}" + (" **below**" if r["below_sklearn"] else "")
        elif bp is not None and sk is not None:
            gap = "n/a (failed)"
        out.append(f"| {r['table']} | {r['task']} | {r['rows_train']}/{r['rows_test']} | {r['metric']} "
                   f"| {fmt_score(sk)} | {fmt_secs(sk)} | {fmt_score(lg)} | {fmt_secs(lg)} "
                   f"| {fmt_score(bp).replace(str(data_dir) + os.sep, '').replace('|', '/')} | {fmt_secs(bp)} | {gap} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", type=Path, default=HERE / "suite.json")
    ap.add_argument("--backprop", default="target/release/backprop",
                    help="the backprop binary [target/release/backprop]")
    ap.add_argument("--json-out", type=Path, help="write the results as JSON here")
    ap.add_argument("--tables", help="only these tables (comma-separated names)")
    ap.add_argument("--skip", default="", help="comma-separated among sklearn,lightgbm,backprop")
    ap.add_argument("--backprop-args", default="",
                    help="extra arguments for every 'backprop train' (default: none, i.e. its defaults)")
    ap.add_argument("--backprop-regression-args", default="",
                    help="extra 'backprop train' arguments for regression tables only, e.g. '--head mse' "
                         "(default: none)")
    ap.add_argument("--sklearn-scale-target", action="store_true",
                    help="regression: wrap the sklearn pipeline in TransformedTargetRegressor(StandardScaler()) "
                         "(not a default: MLPRegressor fits the raw target, which its defaults do badly when the "
                         "target is in the thousands)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="fit each model this many times and report the median wall time [1]")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per backprop process [600]")
    args = ap.parse_args()

    suite = json.loads(args.suite.read_text())
    data_dir = (args.suite.parent / suite.get("data_dir", "data")).resolve()
    wanted = set(args.tables.split(",")) if args.tables else None
    skip = {s for s in args.skip.split(",") if s}
    binary = args.backprop
    if "backprop" not in skip and os.sep in binary and not Path(binary).exists():
        print(f"compare: note: {binary} does not exist; every backprop run will fail "
              "(build it with cargo build --release, or pass --backprop PATH)", file=sys.stderr)

    rows = []
    for t in suite["tables"]:
        if wanted and t["name"] not in wanted:
            continue
        task, label = t["task"], t["label"]
        train_csv, test_csv = data_dir / t["files"]["train"], data_dir / t["files"]["test"]
        train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
        row = {"table": t["name"], "task": task, "label": label,
               "metric": "accuracy" if task == "classification" else "r2",
               "rows_train": len(train), "rows_test": len(test),
               "text_columns": t.get("text_columns", []), "gap_columns": sorted(t.get("gap_columns", {})),
               "sklearn": None, "lightgbm": None, "backprop": None}
        if "sklearn" not in skip:
            row["sklearn"] = repeated(args.repeat, run_sklearn, task, train, test, label, args.sklearn_scale_target)
        if "lightgbm" not in skip:
            row["lightgbm"] = repeated(args.repeat, run_lightgbm, task, train, test, label)
        if "backprop" not in skip:
            extra = shlex.split(args.backprop_args)
            if task == "regression":
                extra += shlex.split(args.backprop_regression_args)
            row["backprop"] = repeated(args.repeat, run_backprop, binary, task, train_csv, test_csv, extra, args.timeout)
        sk, bp = row["sklearn"], row["backprop"]
        row["gap_vs_sklearn"] = None
        row["below_sklearn"] = None
        if sk and bp and bp.get("score") is not None:
            row["gap_vs_sklearn"] = bp["score"] - sk["score"]
            row["below_sklearn"] = row["gap_vs_sklearn"] < -TOLERANCE[task]
        rows.append(row)
        print(f"{t['name']:16} sklearn {fmt_score(sk):>8} ({fmt_secs(sk)} s)  "
              f"lightgbm {fmt_score(row['lightgbm']):>8} ({fmt_secs(row['lightgbm'])} s)  "
              f"backprop {fmt_score(bp)}", file=sys.stderr, flush=True)

    table = markdown(rows, data_dir)
    print(table)
    flagged = [r["table"] for r in rows if r["below_sklearn"]]
    failed = [r["table"] for r in rows if r["backprop"] is not None and r["backprop"].get("score") is None]
    print()
    print(f"backprop below sklearn (by > {TOLERANCE['classification']} accuracy or "
          f"> {TOLERANCE['regression']} R²): {', '.join(flagged) or 'none'}")
    print(f"backprop failed: {', '.join(failed) or 'none'}")
    if args.json_out:
        import lightgbm
        import sklearn

        out = {
            "suite": str(args.suite),
            "backprop": binary,
            "backprop_args": args.backprop_args,
            "backprop_regression_args": args.backprop_regression_args,
            "sklearn_scale_target": args.sklearn_scale_target,
            "versions": {"python": sys.version.split()[0], "pandas": pd.__version__,
                         "scikit-learn": sklearn.__version__, "lightgbm": lightgbm.__version__},
            "cpus": os.cpu_count(),
            "repeat": args.repeat,
            "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "tolerance": TOLERANCE,
            "results": rows,
            "markdown": table,
        }
        args.json_out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
