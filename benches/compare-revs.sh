#!/usr/bin/env bash
# Did a change make training faster or slower, and by how much? Measures two
# committed revisions on this machine, interleaved, and prints one table.
#
#   benches/compare-revs.sh REV_A REV_B [FILTER]
#
#   benches/compare-revs.sh main HEAD                        # train_step + every preset
#   benches/compare-revs.sh 7174a5e^ 7174a5e 'train_step|bench/L'
#
# 1. Checks out both revisions into temporary git worktrees (your working tree
#    and index are not touched; uncommitted changes are not measured) and
#    builds them with each revision's own settings (target-cpu=native), plus
#    the instruction-count bench for x86-64-v3. The build caches live in
#    target/compare-revs/ of the repository you run it from.
# 2. Runs, ROUNDS times, every criterion benchmark whose id matches FILTER (a
#    regex, as `cargo bench -- FILTER` takes it; default 'train_step|bench/')
#    and every `backprop bench` preset run whose name
#    `bench/<preset>/threads/<n>` matches it: A and B back to back for each,
#    A first in odd rounds and B first in even ones.
# 3. Runs benches/instructions.rs (gungraun: instruction counts and estimated
#    cycles under valgrind) once per revision. Both revisions get this
#    checkout's copy of that file and its gungraun dev-dependency, so they
#    are measured by the same harness (it uses long-stable API only).
# 4. Prints the table and writes it as markdown to
#    target/compare-revs/<A>-<B>.md (the raw values beside it, .jsonl; the
#    callgrind profiles in target/compare-revs/gungraun/<A>-<B>/).
#
# The verdict: "faster"/"slower" only when every round of one revision beat
# every round of the other (the rounds' ranges do not overlap) and the
# medians differ by MIN_CHANGE_PCT or more, else "no change detected".
# BENCHMARKS.md, "Tracking a change", explains why.
#
# Environment: ROUNDS (default 5), BENCH_SECONDS (seconds of timed windows
# per `backprop bench` run, default 3), PRESETS (default "T M B L"), THREADS
# (default "1 <all cores>"), MIN_CHANGE_PCT (smaller differences of the
# medians are never a change, default 2), INSTRUCTIONS=0 to skip the
# instruction counts.
# Needs git, cargo, python3; valgrind for the instruction counts (the script
# installs the matching gungraun-runner with `cargo install` if missing).
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

log() { echo "compare-revs: $*" >&2; }

# Run by the EXIT trap.
# shellcheck disable=SC2317
cleanup() {
    local wt
    for wt in "${worktrees[@]}"; do
        git -C "$repo" worktree remove --force "$wt" 2>/dev/null || true
    done
    rm -rf "$tmp"
    git -C "$repo" worktree prune 2>/dev/null || true
}

# prepare A|B COMMIT: checks COMMIT out into $tmp/wt-A|B, builds it, copies
# its executables to $tmp/A|B/ and names the criterion suites with a
# benchmark matching the filter in $tmp/A|B.suites.
prepare() {
    local rev=$1 commit=$2 wt="$tmp/wt-$1" target
    log "$rev: checking out $commit"
    git worktree add --quiet --detach "$wt" "$commit"
    worktrees+=("$wt")
    if [ "$instructions" = 1 ]; then
        cp "$here/instructions.rs" "$wt/benches/instructions.rs"
        grep -q '^name = "instructions"' "$wt/Cargo.toml" ||
            printf '\n[[bench]]\nname = "instructions"\nharness = false\n' >>"$wt/Cargo.toml"
        if grep -q '^gungraun = ' "$wt/Cargo.toml"; then
            sed -i "s/^gungraun = .*/gungraun = \"=$gungraun_version\"/" "$wt/Cargo.toml"
        elif grep -q '^\[dev-dependencies\]' "$wt/Cargo.toml"; then
            sed -i "/^\[dev-dependencies\]/a gungraun = \"=$gungraun_version\"" "$wt/Cargo.toml"
        else
            printf '\n[dev-dependencies]\ngungraun = "=%s"\n' "$gungraun_version" >>"$wt/Cargo.toml"
        fi
    fi
    log "$rev: building (native)"
    (cd "$wt" && CARGO_TARGET_DIR="$out/build" cargo bench --no-run \
        --message-format=json-render-diagnostics >"$tmp/$rev.cargo.json")
    python3 "$helper" artifacts "$tmp/$rev.cargo.json" "$tmp/$rev" >"$tmp/$rev.targets"
    if [ "$instructions" = 1 ]; then
        log "$rev: building the instruction-count bench (x86-64-v3)"
        (cd "$wt" && RUSTFLAGS="-C target-cpu=x86-64-v3" GUNGRAUN_RUNNER="$runner" \
            CARGO_TARGET_DIR="$out/build-x86-64-v3" cargo bench --no-run --bench instructions \
            --message-format=json-render-diagnostics >"$tmp/$rev.cargo-v3.json")
        python3 "$helper" artifacts "$tmp/$rev.cargo-v3.json" "$tmp/$rev/v3" >/dev/null
    fi
    : >"$tmp/$rev.suites"
    while read -r target; do
        case $target in backprop | instructions) continue ;; esac
        (cd "$wt" && "$tmp/$rev/$target" --bench --list >"$tmp/$rev.$target.list" 2>/dev/null) || true
        if [ -n "$(python3 "$helper" list "$tmp/$rev.$target.list" "$filter")" ]; then
            echo "$target" >>"$tmp/$rev.suites"
        fi
    done <"$tmp/$rev.targets"
}

# run_suite A|B ROUND SUITE: one criterion suite of one revision.
run_suite() {
    local rev=$1 round=$2 suite=$3 home="$tmp/criterion/$1/$2/$3"
    [ -x "$tmp/$rev/$suite" ] || return 0
    mkdir -p "$home"
    (cd "$tmp/wt-$rev" && CRITERION_HOME="$home" "$tmp/$rev/$suite" --bench "$filter" >"$home.log" 2>&1)
    python3 "$helper" criterion "$home" "$rev" "$round" >>"$results"
}

# run_preset A|B ROUND PRESET/THREADS: one `backprop bench` run of one revision.
run_preset() {
    local rev=$1 round=$2 preset=${3%/*} t=${3#*/}
    local file="$tmp/bench-$1-$2-$preset-$t.json"
    "$tmp/$rev/backprop" bench --config "$preset" --threads "$t" --seconds "$seconds" --json >"$file"
    python3 "$helper" bench "$file" "bench/$preset/threads/$t" "$rev" "$round" >>"$results"
}

# The whole run in one function, parsed before it starts: editing or checking
# out this file while it runs cannot change what it does.
main() {
    if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
    here=$(cd "$(dirname "$0")" && pwd)
    helper="$here/compare_revs.py"
    repo=$(git rev-parse --show-toplevel 2>/dev/null || git -C "$here" rev-parse --show-toplevel)
    cd "$repo"

    local rev_a=$1 rev_b=$2 a b
    filter=${3:-'train_step|bench/'}
    rounds=${ROUNDS:-5}
    seconds=${BENCH_SECONDS:-3}
    instructions=${INSTRUCTIONS:-1}
    local presets=${PRESETS:-T M B L} threads=${THREADS:-}
    if [ -z "$threads" ]; then
        threads=1
        if [ "$(nproc)" -gt 1 ]; then threads="1 $(nproc)"; fi
    fi

    a=$(git rev-parse --verify --quiet "$rev_a^{commit}") || {
        log "'$rev_a' is not a commit"
        exit 2
    }
    b=$(git rev-parse --verify --quiet "$rev_b^{commit}") || {
        log "'$rev_b' is not a commit"
        exit 2
    }
    if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
        log "note: uncommitted changes in $repo are not measured, only commits $a and $b"
    fi
    local started name
    started=$(date +%s)
    out="$repo/target/compare-revs"
    name="$(git rev-parse --short "$a")-$(git rev-parse --short "$b")"
    mkdir -p "$out"
    results="$out/$name.jsonl"
    : >"$results"

    tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare-revs.XXXXXX")
    worktrees=()
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    if [ "$instructions" = 1 ]; then
        runner=$(bash "$here/instructions.sh" --ensure-runner)
        gungraun_version=$("$runner" --version | awk '{ print $2 }')
    fi

    prepare A "$a"
    local note=""
    if [ "$a" = "$b" ]; then
        note="A and B are the same commit: one build, run as both (an A/A test of the noise)."
        ln -s "$tmp/A" "$tmp/B"
        ln -s "$tmp/wt-A" "$tmp/wt-B"
        cp "$tmp/A.suites" "$tmp/B.suites"
    else
        prepare B "$b"
    fi

    local suites=() runs=() preset t
    mapfile -t suites < <(sort -u "$tmp/A.suites" "$tmp/B.suites")
    for preset in $presets; do
        for t in $threads; do
            if echo "bench/$preset/threads/$t" | grep -Eq -- "$filter"; then
                runs+=("$preset/$t")
            fi
        done
    done
    log "criterion suites: ${suites[*]:-none}; backprop bench runs: ${runs[*]:-none}; $rounds rounds"

    local round order suite run rev
    for round in $(seq 1 "$rounds"); do
        if [ $((round % 2)) = 1 ]; then order="A B"; else order="B A"; fi
        log "round $round/$rounds ($order)"
        for suite in "${suites[@]}"; do
            for rev in $order; do run_suite "$rev" "$round" "$suite"; done
        done
        for run in "${runs[@]}"; do
            for rev in $order; do run_preset "$rev" "$round" "$run"; done
        done
    done

    if [ "$instructions" = 1 ]; then
        for rev in A B; do
            log "$rev: instruction counts (valgrind)"
            rm -rf "$out/gungraun/$name/$rev"
            (cd "$tmp/wt-$rev" && GUNGRAUN_WORKSPACE_ROOT="$tmp/wt-$rev" GUNGRAUN_HOME="$out/gungraun/$name/$rev" \
                "$tmp/$rev/v3/instructions" --bench --output-format=json >"$tmp/gungraun-$rev.json")
            python3 "$helper" gungraun "$tmp/gungraun-$rev.json" "$rev" >>"$results"
        done
    fi

    local wall=$(($(date +%s) - started))
    A_SHORT=$(git rev-parse --short "$a") B_SHORT=$(git rev-parse --short "$b") \
        A_LABEL=$rev_a B_LABEL=$rev_b FILTER=$filter ROUNDS=$rounds BENCH_SECONDS=$seconds \
        MIN_CHANGE_PCT=${MIN_CHANGE_PCT:-2} \
        NOTE=$note DATE=$(date -u '+%Y-%m-%d %H:%M UTC') NPROC=$(nproc) \
        RUSTC=$(rustc --version | cut -d' ' -f1-2) \
        CPU=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1) \
        WALL="$((wall / 60)) min $((wall % 60)) s" \
        python3 "$helper" meta "$tmp/meta.json"
    python3 "$helper" report "$results" "$tmp/meta.json" "$out/$name.md"
    echo
    echo "markdown: $out/$name.md"
}

main "$@"; exit
