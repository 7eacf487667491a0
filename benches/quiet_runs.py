#!/usr/bin/env python3
"""Interleaved benchmark runs that notice other load on the machine.

Runs each labelled command (which prints one `backprop bench --json` line)
once per round, for ROUNDS rounds, and for every run measures how much CPU
the rest of the machine used meanwhile: the busy time of all CPUs
(/proc/stat) minus the CPU time of the run itself (its children's rusage).
A run during which others used more than --max-foreign of one CPU is marked
and left out of the medians, so a neighbour's compile does not pass for a
scaling loss.

    python3 benches/quiet_runs.py --rounds 5 \\
        'L 1=target/release/backprop bench --config L --threads 1 --shard-rows 256 --seconds 3 --json' \\
        'L 2=target/release/backprop bench --config L --threads 2 --shard-rows 256 --seconds 3 --json'

Prints every run, then per label the median samples/s of the clean runs;
`--ratio A/B` adds the ratio of two labels' medians and the per-round ratios.
"""
import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import time


def busy_seconds():
    """Seconds all CPUs spent busy since boot (user+nice+system+irq+softirq+steal)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    v = [int(x) for x in fields]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd):
    b0, c0, t0 = busy_seconds(), children_cpu(), time.monotonic()
    out = subprocess.run(shlex.split(cmd), capture_output=True, text=True, check=True)
    b1, c1, t1 = busy_seconds(), children_cpu(), time.monotonic()
    wall = t1 - t0
    foreign = max(0.0, (b1 - b0) - (c1 - c0)) / wall
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1])["samples_per_sec"], foreign, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", help="LABEL=COMMAND")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-foreign", type=float, default=0.10,
                    help="CPUs others may use during a clean run (default 0.10)")
    ap.add_argument("--ratio", action="append", default=[], help="A/B: ratio of labels")
    a = ap.parse_args()
    runs = [r.split("=", 1) for r in a.runs]
    got = {label: [] for label, _ in runs}
    for rnd in range(1, a.rounds + 1):
        for label, cmd in runs:
            sps, foreign, wall = run(cmd)
            clean = foreign <= a.max_foreign
            got[label].append(sps if clean else None)
            print(f"round {rnd} {label:>12}: {sps:12.0f} samples/s, others used "
                  f"{foreign:.2f} CPUs over {wall:.1f} s{'' if clean else '  (left out)'}",
                  flush=True)
    print()
    med = {}
    for label, _ in runs:
        clean = [v for v in got[label] if v is not None]
        med[label] = statistics.median(clean) if clean else float("nan")
        print(f"{label:>12}: median {med[label]:.0f} samples/s over {len(clean)} clean runs"
              f" [{min(clean, default=0):.0f} – {max(clean, default=0):.0f}]")
    for r in a.ratio:
        x, y = r.split("/")
        per = [f"{p / q:.2f}" for p, q in zip(got[x], got[y]) if p and q]
        print(f"{x} / {y}: {med[x] / med[y]:.2f}× (medians); clean rounds: {' '.join(per)}")


if __name__ == "__main__":
    main()
