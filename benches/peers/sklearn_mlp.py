#!/usr/bin/env python3
"""scikit-learn peer for `backprop bench`: trains one of the four benchmark
configurations (T, M, B, L) with MLPClassifier on synthetic data held in
memory, float32, plain SGD, and prints one JSON line in the form of
`backprop bench --json`.

How samples/s is measured:
  * the data is 8 distinct synthetic batches of `batch` rows (inputs uniform
    in [-1, 1], valid class labels), stacked into one float32 array of
    8 * batch rows;
  * MLPClassifier(solver='sgd', batch_size=batch, shuffle=False,
    learning_rate_init=1e-3, momentum=0, alpha=0, ...) is trained with
    partial_fit on that array: one call is one pass over the 8 batches in
    order, i.e. exactly 8 SGD steps of `batch` rows (so partial_fit's input
    validation is paid once per 8 steps, as fit() pays it once per epoch);
  * a warm-up of at least one call and a quarter of a window, then --windows
    timed windows (default 7) of --seconds / --windows each, each running
    whole calls until the window has elapsed; samples/s of a window is
    (calls * 8 * batch) / elapsed; the median is reported with the slowest
    and fastest window;
  * BLAS threads are limited with threadpoolctl.threadpool_limits(N) around
    the whole run (sklearn's MLP does all its matrix work through numpy's
    BLAS);
  * GFLOP/s from the FLOP count of docs/backprop.md.

What sklearn cannot express, and what it does instead (also in "notes"):
  * there is no choice of output head: with 2 classes MLPClassifier uses one
    logistic output unit and log-loss (= sigmoid + BCE with 1 output, as
    backprop's T and B); with more classes it uses softmax + cross-entropy
    (as M and L). Multi-label sigmoid heads would need a 2-D indicator y.
  * it always computes the loss of every batch and the L2 penalty term (even
    with alpha=0), and SGD with momentum=0 still keeps velocity arrays: this
    is sklearn's real per-step cost and is counted.
  * it keeps float32 only if the input is float32 (checked: "dtype" below).

Usage: python3 sklearn_mlp.py --config M --threads 2 --seconds 5
"""

import argparse
import json
import os
import resource
import statistics
import time
import warnings

from peers_common import BATCHES, CONFIGS, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, choices=sorted(CONFIGS), type=str.upper)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (threadpoolctl)")
    ap.add_argument("--seconds", type=float, default=5.0, help="total seconds of timed windows")
    ap.add_argument("--windows", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads < 1 or args.seconds <= 0 or args.windows < 1:
        ap.error("--threads and --windows must be >= 1, --seconds > 0")

    import numpy as np
    import sklearn
    import threadpoolctl
    from sklearn.neural_network import MLPClassifier

    sizes, act, head, m = CONFIGS[args.config]
    n_classes = 2 if sizes[-1] == 1 else sizes[-1]
    rng = np.random.default_rng(args.seed + 1)
    x = rng.uniform(-1.0, 1.0, size=(BATCHES * m, sizes[0])).astype(np.float32)
    y = rng.integers(0, n_classes, size=BATCHES * m)
    classes = np.arange(n_classes)

    clf = MLPClassifier(
        hidden_layer_sizes=tuple(sizes[1:-1]),
        activation="logistic" if act == "sigmoid" else "relu",
        solver="sgd",
        learning_rate="constant",
        learning_rate_init=1e-3,
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        batch_size=m,
        shuffle=False,
        max_iter=1,
        early_stopping=False,
        random_state=args.seed,
    )

    window = args.seconds / args.windows
    rows_per_call = BATCHES * m
    with threadpoolctl.threadpool_limits(limits=args.threads):
        info = threadpoolctl.threadpool_info()
        clf.partial_fit(x, y, classes=classes)  # first call: initialisation
        # warm-up: a quarter of a window, at least one more call
        t0 = time.perf_counter()
        n = 0
        while n < 1 or time.perf_counter() - t0 < window / 4:
            clf.partial_fit(x, y)
            n += 1
        rates = []
        steps = 0
        for _ in range(args.windows):
            t0 = time.perf_counter()
            n = 0
            while n < 1 or time.perf_counter() - t0 < window:
                clf.partial_fit(x, y)
                n += 1
            rates.append(n * rows_per_call / (time.perf_counter() - t0))
            steps += n * BATCHES

    out_units = clf.coefs_[-1].shape[1]
    if clf.coefs_[0].dtype != np.float32:
        print(f"warning: sklearn trained in {clf.coefs_[0].dtype}", flush=True)
    blas = [
        {
            k: d.get(k)
            for k in ("internal_api", "version", "threading_layer", "architecture", "num_threads")
        }
        for d in info
        if d.get("user_api") == "blas"
    ]
    notes = [
        f"output layer: {out_units} unit(s), activation '{clf.out_activation_}' "
        + (
            "(2 classes: sklearn picks one logistic unit + log-loss = sigmoid+BCE, as backprop)"
            if n_classes == 2
            else "(multi-class: sklearn picks softmax + cross-entropy automatically, as backprop)"
        ),
        "no head can be chosen: the head follows from the labels",
        "one partial_fit call = 8 SGD steps of batch_size rows (shuffle=False); "
        "input validation is paid once per call",
        "sklearn computes the loss and the L2 term (alpha=0) every step and keeps velocities "
        "with momentum=0: counted, it is sklearn's real cost",
        "threads = BLAS threads via threadpoolctl.threadpool_limits",
    ]
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    if env:
        notes.append(f"environment sets {env}: may select a non-native BLAS kernel")
    out = report(
        "sklearn",
        args.config,
        args.threads,
        rates,
        steps,
        args.windows,
        dtype=str(clf.coefs_[0].dtype),
        version=sklearn.__version__,
        numpy_version=np.__version__,
        blas=blas,
        notes=notes,
    )
    print(json.dumps(out))


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    main()
