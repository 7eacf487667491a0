"""What the peer scripts share: the four configurations, the FLOP count of
docs/backprop.md and the peak resident memory."""

import resource
import statistics

CONFIGS = {
    # name: (sizes, hidden activation, head, batch)
    "T": ([30, 64, 32, 1], "sigmoid", "sigmoid", 32),
    "M": ([784, 256, 256, 10], "relu", "softmax", 128),
    "B": ([784, 256, 256, 1], "sigmoid", "sigmoid", 256),
    "L": ([784, 1024, 1024, 1024, 10], "relu", "softmax", 256),
}
BATCHES = 8


def flops_per_sample(sizes):
    """Training FLOPs per sample by docs/backprop.md."""
    total = 0
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        total += (4 if l == 0 else 6) * a * b
    return total


def peak_rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def report(peer, config, threads, rates, steps, windows, **extra):
    """The JSON object every peer prints (the fields of `backprop bench --json`)."""
    sizes, act, head, m = CONFIGS[config]
    med = statistics.median(rates)
    out = {
        "peer": peer,
        "config": config,
        "layers": sizes,
        "activation": act,
        "head": head,
        "batch_size": m,
        "threads": threads,
        "samples_per_sec": med,
        "min_samples_per_sec": min(rates),
        "max_samples_per_sec": max(rates),
        "gflops": med * flops_per_sample(sizes) / 1e9,
        "windows": windows,
        "steps": steps,
        "peak_rss_bytes": peak_rss_bytes(),
    }
    out.update(extra)
    return out
