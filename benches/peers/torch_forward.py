#!/usr/bin/env python3
"""PyTorch peer for `backprop bench --predict`: forward passes (and the
head's softmax or sigmoid) of an MLP over ROWS synthetic rows held in
memory, in batches of --batch rows under torch.inference_mode(), f32;
prints one JSON line like `backprop bench --predict --json`.

Methodology (mirrors `bench::run_forward`): a warm-up pass and a quarter of
a window, then --windows timed windows of --seconds / --windows each, each
running whole passes over the rows; the median rows/s is reported.

Usage: python3 torch_forward.py --layers 64,256,256,10 --activation relu
       --head softmax --threads 2 --rows 65536 --batch 1024 --seconds 5
"""

import argparse
import json
import statistics
import time

from peers_common import peak_rss_bytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", required=True)
    ap.add_argument("--activation", default="relu", choices=["relu", "sigmoid", "tanh"])
    ap.add_argument("--head", default="softmax", choices=["softmax", "sigmoid", "mse"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", type=int, default=65536)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--windows", type=int, default=7)
    args = ap.parse_args()
    sizes = [int(s) for s in args.layers.split(",")]

    import torch

    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    act = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}[args.activation]
    layers = []
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if l < len(sizes) - 2:
            layers.append(act())
    if args.head == "softmax":
        layers.append(torch.nn.Softmax(dim=1))
    elif args.head == "sigmoid":
        layers.append(torch.nn.Sigmoid())
    model = torch.nn.Sequential(*layers).eval()
    x = torch.rand(args.rows, sizes[0]) * 2 - 1
    batches = list(torch.split(x, args.batch))

    def one_pass():
        with torch.inference_mode():
            for b in batches:
                model(b)

    window = args.seconds / args.windows
    one_pass()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < window / 4:
        one_pass()
    rates = []
    for _ in range(args.windows):
        t0 = time.perf_counter()
        n = 0
        while n < 1 or time.perf_counter() - t0 < window:
            one_pass()
            n += 1
        rates.append(n * args.rows / (time.perf_counter() - t0))
    print(json.dumps({
        "peer": "pytorch",
        "torch": torch.__version__,
        "predict": True,
        "layers": sizes,
        "threads": args.threads,
        "batch": args.batch,
        "rows": args.rows,
        "samples_per_sec": statistics.median(rates),
        "min_samples_per_sec": min(rates),
        "max_samples_per_sec": max(rates),
        "peak_rss_bytes": peak_rss_bytes(),
    }))


if __name__ == "__main__":
    main()
