#!/usr/bin/env python3
"""PyTorch peer for `backprop bench`: trains one of the four benchmark
configurations (T, M, B, L) on synthetic data held in memory, f32, plain SGD,
and prints one JSON line in the form of `backprop bench --json`.

Methodology (mirrors src/bench.rs):
  * 8 distinct synthetic batches (inputs uniform in [-1, 1], valid targets)
    held in memory and cycled;
  * a warm-up of at least 3 steps and a quarter of a window (with
    --compile, the compilation happens in extra untimed steps before it);
  * --windows timed windows (default 7) of --seconds / --windows each; the
    median samples/s is reported, with the slowest and fastest window;
  * GFLOP/s from the FLOP count of docs/backprop.md: forward 2*n_in*n_out per
    layer and sample, backward 4*n_in*n_out except 2*n_0*n_1 for the first
    layer (no input gradient).

Each step: zero_grad(set_to_none=True), forward, loss, backward, SGD step
(lr 1e-3, no momentum, no weight decay).

Usage: python3 torch_mlp.py --config M --threads 2 --seconds 5 [--compile]
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time
import warnings

from peers_common import BATCHES, CONFIGS, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, choices=sorted(CONFIGS), type=str.upper)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (intra-op)")
    ap.add_argument("--seconds", type=float, default=5.0, help="total seconds of timed windows")
    ap.add_argument("--windows", type=int, default=7)
    ap.add_argument("--compile", action="store_true", help="torch.compile forward+loss")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads < 1 or args.seconds <= 0 or args.windows < 1:
        ap.error("--threads and --windows must be >= 1, --seconds > 0")

    import torch  # imported late: argparse errors should not pay for it

    # Inter-op threads first: it must be set before any parallel work runs.
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    sizes, act, head, m = CONFIGS[args.config]
    layers = []
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if l < len(sizes) - 2:
            layers.append(torch.nn.Sigmoid() if act == "sigmoid" else torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)  # float32 by default
    if head == "sigmoid":
        loss_fn = torch.nn.BCEWithLogitsLoss()  # sigmoid + BCE on the logits
    else:
        loss_fn = torch.nn.CrossEntropyLoss()  # softmax + CE on the logits
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.0, weight_decay=0.0)

    g = torch.Generator().manual_seed(args.seed + 1)
    xs, ys = [], []
    for _ in range(BATCHES):
        xs.append((torch.rand(m, sizes[0], generator=g) * 2 - 1).contiguous())
        if head == "sigmoid":
            ys.append(torch.randint(0, 2, (m, sizes[-1]), generator=g).float())
        else:
            # class indices: the same loss as one-hot rows, PyTorch's usual form
            ys.append(torch.randint(0, sizes[-1], (m,), generator=g))

    def fwd_loss(x, y):
        return loss_fn(model(x), y)

    if args.compile:
        fwd_loss = torch.compile(fwd_loss)

    b = 0

    def step():
        nonlocal b
        x, y = xs[b], ys[b]
        b = (b + 1) % BATCHES
        opt.zero_grad(set_to_none=True)
        loss = fwd_loss(x, y)
        loss.backward()
        opt.step()
        return loss

    window = args.seconds / args.windows
    compile_s = None
    if args.compile:
        t0 = time.perf_counter()
        for _ in range(3):
            step()
        compile_s = time.perf_counter() - t0
    # warm-up: a quarter of a window, at least 3 steps
    t0 = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - t0 < window / 4:
        loss = step()
        n += 1
    if not torch.isfinite(loss.detach()):
        print("warning: loss is not finite", file=sys.stderr)

    rates = []
    steps = 0
    for _ in range(args.windows):
        t0 = time.perf_counter()
        n = 0
        while n < 1 or time.perf_counter() - t0 < window:
            step()
            n += 1
        rates.append(n * m / (time.perf_counter() - t0))
        steps += n

    out = report(
        "pytorch-compile" if args.compile else "pytorch-eager",
        args.config,
        torch.get_num_threads(),
        rates,
        steps,
        args.windows,
        version=torch.__version__,
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
    )
    if compile_s is not None:
        out["compile_seconds"] = compile_s
    print(json.dumps(out))


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    main()
