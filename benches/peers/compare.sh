#!/usr/bin/env bash
# Runs `backprop bench` and the peers (PyTorch eager, optionally torch.compile,
# scikit-learn) one after another on the same configurations and thread
# counts, and prints a markdown table of samples/s and ratios.
#
# Environment:
#   SECONDS_PER_RUN         seconds of timed windows per run (default 5)
#   CONFIGS                 configurations (default "T M B L")
#   THREADS                 thread counts (default "1 2"; add $(nproc) if you like)
#   PYTHON                  python interpreter with the peers (default python3)
#   BACKPROP_PEERS_COMPILE  1: also run torch.compile
#   RESULTS                 file to append every JSON line to (default: a temp file)
#
# Run from anywhere:  bash benches/peers/compare.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-5}"
CONFIGS="${CONFIGS:-T M B L}"
THREADS="${THREADS:-1 2}"
PY="${PYTHON:-python3}"
COMPILE="${BACKPROP_PEERS_COMPILE:-0}"
RESULTS="${RESULTS:-$(mktemp -t backprop-peers.XXXXXX.jsonl)}"
start_s=$(date +%s)

echo "building backprop (cargo build --release)..." >&2
(cd "$root" && cargo build --release --quiet)
bin="$root/target/release/backprop"

have_torch=0
have_sklearn=0
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "note: '$PY' not found: skipping the Python peers." >&2
    echo "      install them with: python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install torch scikit-learn threadpoolctl" >&2
    echo "      then: PYTHON=/tmp/peers-venv/bin/python bash $0" >&2
else
    if "$PY" -c 'import torch' >/dev/null 2>&1; then
        have_torch=1
    else
        echo "note: torch is not importable by $PY: skipping PyTorch (pip install torch scikit-learn threadpoolctl)" >&2
    fi
    if "$PY" -c 'import sklearn, threadpoolctl' >/dev/null 2>&1; then
        have_sklearn=1
    else
        echo "note: scikit-learn/threadpoolctl not importable by $PY: skipping sklearn (pip install torch scikit-learn threadpoolctl)" >&2
    fi
fi

# field NAME: read one JSON line from stdin, print the numeric field NAME
# (empty if missing or null); plain sed, so it works without Python
field() {
    sed -n "s/.*\"$1\": *\([-0-9.eE+]*\).*/\1/p" | head -n 1
}

# run LABEL CMD...: runs one benchmark, keeps its last stdout line (the JSON)
run() {
    local label="$1"
    shift
    echo "  $label: $*" >&2
    local line
    if line=$("$@" 2> >(sed 's/^/    | /' >&2) | tail -n 1) && [ -n "$line" ]; then
        echo "$line" >>"$RESULTS"
        echo "$line"
    else
        echo "  $label failed" >&2
        echo ""
    fi
}

fmt() { # samples/s, rounded, or '—'
    if [ -z "${1:-}" ]; then echo "—"; else printf '%.0f' "$1"; fi
}
ratio() { # a / b to 2 decimals, or '—'
    if [ -z "${1:-}" ] || [ -z "${2:-}" ]; then
        echo "—"
    else
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "—" }'
    fi
}

declare -A BP TE TC SK
for cfg in $CONFIGS; do
    for t in $THREADS; do
        echo "config $cfg, $t thread(s):" >&2
        BP[$cfg,$t]=$(run backprop "$bin" bench --config "$cfg" --threads "$t" --seconds "$SECONDS_PER_RUN" --json | field samples_per_sec)
        if [ $have_torch = 1 ]; then
            TE[$cfg,$t]=$(run torch-eager "$PY" "$here/torch_mlp.py" --config "$cfg" --threads "$t" --seconds "$SECONDS_PER_RUN" | field samples_per_sec)
            if [ "$COMPILE" = 1 ]; then
                TC[$cfg,$t]=$(run torch-compile "$PY" "$here/torch_mlp.py" --config "$cfg" --threads "$t" --seconds "$SECONDS_PER_RUN" --compile | field samples_per_sec)
            fi
        fi
        if [ $have_sklearn = 1 ]; then
            SK[$cfg,$t]=$(run sklearn "$PY" "$here/sklearn_mlp.py" --config "$cfg" --threads "$t" --seconds "$SECONDS_PER_RUN" | field samples_per_sec)
        fi
    done
done

versions=""
if [ $have_torch = 1 ]; then versions+="torch $("$PY" -c 'import torch; print(torch.__version__)')"; fi
if [ $have_sklearn = 1 ]; then versions+="${versions:+, }scikit-learn $("$PY" -c 'import sklearn; print(sklearn.__version__)')"; fi

first_t="${THREADS%% *}"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), ${SECONDS_PER_RUN} s per run${versions:+, $versions}"
echo
hdr="| config | threads | backprop samples/s | torch eager samples/s | backprop/torch"
sep="|---|---|---|---|---"
if [ "$COMPILE" = 1 ]; then
    hdr+=" | torch.compile samples/s | backprop/compile"
    sep+="|---|---"
fi
hdr+=" | sklearn samples/s | backprop/sklearn | backprop ${first_t:-1}→t scaling |"
sep+="|---|---|---|"
echo "$hdr"
echo "$sep"
for cfg in $CONFIGS; do
    for t in $THREADS; do
        bp="${BP[$cfg,$t]:-}"
        te="${TE[$cfg,$t]:-}"
        row="| $cfg | $t | $(fmt "$bp") | $(fmt "$te") | $(ratio "$bp" "$te")"
        if [ "$COMPILE" = 1 ]; then
            tc="${TC[$cfg,$t]:-}"
            row+=" | $(fmt "$tc") | $(ratio "$bp" "$tc")"
        fi
        sk="${SK[$cfg,$t]:-}"
        row+=" | $(fmt "$sk") | $(ratio "$bp" "$sk") | $(ratio "$bp" "${BP[$cfg,$first_t]:-}") |"
        echo "$row"
    done
done
echo
echo "ratios > 1: backprop is faster. Scaling: backprop samples/s at t threads / at ${first_t:-1} thread(s)."
echo "all JSON lines: $RESULTS; wall time $(($(date +%s) - start_s)) s"
