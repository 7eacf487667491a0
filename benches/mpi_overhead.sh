#!/usr/bin/env bash
# The cost of MPI on one machine: `backprop bench --config C --threads 2`
# (two threads, one process) against `mpirun -np 2 backprop bench --config C
# --threads 1` (two processes of one thread), interleaved for ROUNDS rounds;
# prints each run's samples/s, the medians and their ratio.
#
#   cargo build --release --features mpi
#   ROUNDS=5 SECONDS_PER_RUN=3 CONFIGS="L B" bash benches/mpi_overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/backprop}
ROUNDS=${ROUNDS:-5}
SECS=${SECONDS_PER_RUN:-3}
CONFIGS=${CONFIGS:-L B}
MPIRUN=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe}
out=$(mktemp)
for round in $(seq "$ROUNDS"); do
    for c in $CONFIGS; do
        t=$("$BIN" bench --config "$c" --threads 2 --seconds "$SECS" --json)
        echo "$c threads $round $(echo "$t" | python3 -c 'import json,sys; print(json.load(sys.stdin)["samples_per_sec"])')" | tee -a "$out"
        m=$($MPIRUN -np 2 "$BIN" bench --config "$c" --threads 1 --seconds "$SECS" --json)
        echo "$c mpi $round $(echo "$m" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ranks"]==2; print(d["samples_per_sec"])')" | tee -a "$out"
    done
done
python3 - "$out" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    c, how, _, v = line.split()
    runs.setdefault((c, how), []).append(float(v))
print("| config | 1 process × 2 threads, median samples/s | 2 MPI processes × 1 thread | MPI / threads |")
print("|---|---|---|---|")
for c in dict.fromkeys(k[0] for k in runs):
    t, m = statistics.median(runs[(c, "threads")]), statistics.median(runs[(c, "mpi")])
    print(f"| {c} | {t:,.0f} | {m:,.0f} | {m / t:.2f}× |")
PY
rm -f "$out"
