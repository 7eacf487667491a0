#!/usr/bin/env bash
# Instruction counts: runs benches/instructions.rs (gungraun, valgrind's
# callgrind) built for x86-64-v3 (AVX2 + FMA), because valgrind cannot decode
# the AVX-512 that target-cpu=native emits on our machines. The build goes to
# its own target directory (target/x86-64-v3) so the native build cache stays.
#
#   bash benches/instructions.sh [ARGS...]
#
# ARGS go to the benchmark (after `cargo bench ... --`): a filter (a wildcard
# on FILE::GROUP::FUNCTION::ID, e.g. '*::steps::*'), or gungraun options such
# as `--output-format=json`. `--ensure-runner` alone only installs the runner
# if needed and prints its path (benches/compare-revs.sh uses it).
# Installs gungraun-runner at the version of the gungraun library in
# Cargo.lock when no runner of that version is on PATH (`cargo install`,
# a few minutes once). Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."

# The gungraun version this checkout's Cargo.lock resolved; the runner must match it.
version=$(awk '$0 == "name = \"gungraun\"" { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if [ -z "$version" ]; then
    echo "instructions.sh: no gungraun package in Cargo.lock" >&2
    exit 2
fi
command -v valgrind >/dev/null || {
    echo "instructions.sh: valgrind is not installed" >&2
    exit 2
}
if [ "$(gungraun-runner --version 2>/dev/null)" != "gungraun-runner $version" ]; then
    echo "instructions.sh: installing gungraun-runner $version" >&2
    cargo install --locked gungraun-runner --version "$version" >&2
fi
# The bench binary finds the runner through this variable, read when it is built.
GUNGRAUN_RUNNER=$(command -v gungraun-runner)
export GUNGRAUN_RUNNER
if [ "${1:-}" = --ensure-runner ]; then
    echo "$GUNGRAUN_RUNNER"
    exit 0
fi
export RUSTFLAGS="-C target-cpu=x86-64-v3"
export CARGO_TARGET_DIR="${INSTRUCTIONS_TARGET_DIR:-$PWD/target/x86-64-v3}"
exec cargo bench --bench instructions -- "$@"
