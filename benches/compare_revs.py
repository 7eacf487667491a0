#!/usr/bin/env python3
"""The bookkeeping half of benches/compare-revs.sh (standard library only).

Subcommands, each appending JSON lines to a results file or reading it:

  artifacts CARGO_JSON DEST      copy the bench and bin executables a
                                 `cargo bench --no-run --message-format=json`
                                 built into DEST, print their names
  list CRITERION_LIST FILTER     the ids of a criterion `--list` output that
                                 match FILTER (a regex, as criterion uses it)
  criterion HOME REV ROUND       one run's criterion medians (ns per iteration)
  bench JSON_FILE NAME REV ROUND one `backprop bench --json` run (samples/s)
  gungraun JSON_FILE REV         gungraun's `--output-format=json` lines
  meta OUT                       the run's description, from the environment
  report RESULTS META OUT_MD     the comparison table, printed and written

The decision rule is in `verdict`; BENCHMARKS.md ("Tracking a change")
explains it.
"""

import glob
import json
import math
import os
import re
import shutil
import statistics
import sys

# Instruction counts repeat exactly for the kernels and to within a few dozen
# instructions (0.01% of T's step: rayon's hand-back) for a training step; a
# change below this many percent is reported as none.
INSTR_TOLERANCE_PCT = 0.1


def emit(record):
    print(json.dumps(record, sort_keys=True))


def artifacts(cargo_json, dest):
    os.makedirs(dest, exist_ok=True)
    with open(cargo_json) as f:
        for line in f:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            exe = msg.get("executable")
            kinds = msg.get("target", {}).get("kind", [])
            # `cargo bench` also builds the binary's unit tests as a "bin"
            # with a test profile: not the `backprop` to run.
            is_bin = "bin" in kinds and not msg.get("profile", {}).get("test")
            if msg.get("reason") == "compiler-artifact" and exe and ("bench" in kinds or is_bin):
                name = msg["target"]["name"]
                shutil.copy2(exe, os.path.join(dest, name))
                print(name)


def list_matching(listing, pattern):
    rx = re.compile(pattern)
    with open(listing) as f:
        for line in f:
            if line.endswith(": benchmark\n"):
                name = line[: -len(": benchmark\n")]
                if rx.search(name):
                    print(name)


def criterion(home, rev, rnd):
    for path in sorted(glob.glob(os.path.join(home, "**/new/benchmark.json"), recursive=True)):
        with open(path) as f:
            bench = json.load(f)
        with open(os.path.join(os.path.dirname(path), "estimates.json")) as f:
            est = json.load(f)
        emit(
            {
                "rev": rev,
                "round": int(rnd),
                "name": bench["full_id"],
                "unit": "ns",
                "value": est["median"]["point_estimate"],
            }
        )


def bench(json_file, name, rev, rnd):
    with open(json_file) as f:
        obj = json.loads(f.read().strip().splitlines()[-1])
    emit(
        {
            "rev": rev,
            "round": int(rnd),
            "name": name,
            "unit": "samples/s",
            "value": obj["samples_per_sec"],
        }
    )


def gungraun(json_file, rev):
    with open(json_file) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            obj = json.loads(line)
            metrics = obj["profiles"][0]["data"]["total"]["metrics"]
            emit(
                {
                    "rev": rev,
                    "name": f"{obj['function_name']}/{obj['id']}",
                    "group": obj["group"],
                    "instructions": metrics["Ir"]["values"]["new"],
                    "cycles": metrics["EstimatedCycles"]["values"]["new"],
                }
            )


def meta(out):
    e = os.environ
    keys = ["A_SHORT", "B_SHORT", "A_LABEL", "B_LABEL", "DATE", "CPU", "NPROC", "RUSTC"]
    keys += ["ROUNDS", "BENCH_SECONDS", "MIN_CHANGE_PCT", "FILTER", "WALL", "NOTE"]
    with open(out, "w") as f:
        json.dump({k.lower(): e[k] for k in keys}, f)


def sig3(x):
    """Three significant figures, trailing zeros kept: 20.0, 123, 4.50."""
    return f"{x:#.3g}".rstrip(".")


def fmt_value(v, unit):
    if unit == "ns":
        for scale, suffix in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
            if v >= scale:
                return f"{sig3(v / scale)} {suffix}"
        return f"{sig3(v)} ns"
    return f"{v:,.0f}/s".replace(",", " ")


def fmt_count(n):
    return f"{n:,}".replace(",", " ")


def pct(ratio, digits=1):
    """A ratio's change in percent, signed, with a typographic minus."""
    return f"{(ratio - 1) * 100:+.{digits}f}%".replace("-", "−")


def false_alarm(n):
    """The chance that the ranges of n rounds of two equal revisions fall
    apart: 2 of the C(2n, n) equally likely rankings."""
    return 2 / math.comb(2 * n, n)


# Fewer rounds than this give no verdict: at 3 the ranges of equal revisions
# fall apart 10% of the time, at 4 2.9%.
MIN_ROUNDS = 4


def verdict(a, b, unit, min_change_pct):
    """The rule: a change only when the rounds' [min, max] ranges do not
    overlap, i.e. every round of one revision beat every round of the other,
    and the medians differ by at least `min_change_pct`. With n rounds of two
    equal revisions, ranges fall apart by chance with probability
    `false_alarm(n)`: 2.9% at 4 rounds, 0.8% at 5, 0.2% at 6."""
    if len(a) < MIN_ROUNDS:
        return "too few rounds"
    ratio = time_ratio(statistics.median(a), statistics.median(b), unit)
    if abs(ratio - 1) * 100 < min_change_pct:
        return None
    slower = max(a) < min(b) if unit == "ns" else min(a) > max(b)
    faster = min(a) > max(b) if unit == "ns" else max(a) < min(b)
    return "slower" if slower else "faster" if faster else None


def time_ratio(a, b, unit):
    """B's time over A's (below 1: B is faster), whatever the unit."""
    return b / a if unit == "ns" else a / b


def table(header, rows):
    cols = list(zip(*([header] + rows)))
    widths = [max(len(str(c)) for c in col) for col in cols]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def instr_key(time_name):
    """The instruction benchmark that measures the same thing as a timed one:
    one training step of a preset at 1 thread."""
    m = re.fullmatch(r"(train_step|bench)/([TMBL])/threads/1", time_name)
    return f"train_step/{m.group(2).lower()}" if m else None


def report(results, meta_file, out_md):
    with open(meta_file) as f:
        meta = json.load(f)
    timed, instr = {}, {}
    with open(results) as f:
        for line in f:
            r = json.loads(line)
            if "instructions" in r:
                instr.setdefault(r["name"], {})[r["rev"]] = r
            else:
                d = timed.setdefault(r["name"], {"unit": r["unit"], "A": {}, "B": {}})
                d[r["rev"]][r["round"]] = r["value"]

    instr_delta = {}
    irows = []
    for name, d in instr.items():
        if "A" not in d or "B" not in d:
            continue
        a, b = d["A"], d["B"]
        ri = b["instructions"] / a["instructions"]
        rc = b["cycles"] / a["cycles"]
        instr_delta[name] = ri
        changed = abs(ri - 1) * 100 >= INSTR_TOLERANCE_PCT
        irows.append(
            [
                name,
                fmt_count(a["instructions"]),
                fmt_count(b["instructions"]),
                pct(ri, 3),
                fmt_count(a["cycles"]),
                fmt_count(b["cycles"]),
                pct(rc, 3),
                ("**fewer**" if ri < 1 else "**more**") if changed else "no change detected",
            ]
        )

    rows = []
    for name, d in timed.items():
        rounds = sorted(set(d["A"]) & set(d["B"]))
        if not rounds:
            rows.append([name, "–", "–", "–", "–", "only in " + ("A" if d["A"] else "B"), "–"])
            continue
        unit = d["unit"]
        a = [d["A"][i] for i in rounds]
        b = [d["B"][i] for i in rounds]
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = time_ratio(ma, mb, unit)
        per_round = [time_ratio(x, y, unit) for x, y in zip(a, b)]
        faster_in = sum(r < 1 for r in per_round)
        v = verdict(a, b, unit, float(meta["min_change_pct"]))
        key = instr_key(name)
        rows.append(
            [
                name,
                f"{fmt_value(ma, unit)} [{fmt_value(min(a), unit)} – {fmt_value(max(a), unit)}]",
                f"{fmt_value(mb, unit)} [{fmt_value(min(b), unit)} – {fmt_value(max(b), unit)}]",
                f"{ratio:.3f}",
                f"{faster_in}/{len(rounds)}",
                (
                    v
                    if v == "too few rounds"
                    else f"**{v}** (time {pct(ratio)})" if v else "no change detected"
                ),
                pct(instr_delta[key], 3) if key in instr_delta else "",
            ]
        )

    lines = [
        f"### {meta['a_label']} → {meta['b_label']}",
        "",
        f"A = `{meta['a_label']}` ({meta['a_short']}), B = `{meta['b_label']}` "
        f"({meta['b_short']}); {meta['date']}, {meta['cpu']}, {meta['nproc']} CPUs, "
        f"{meta['rustc']}; {meta['rounds']} interleaved rounds, `backprop bench --seconds "
        f"{meta['bench_seconds']}`, filter `{meta['filter']}`; wall time {meta['wall']}.",
    ]
    if meta.get("note"):
        lines += ["", meta["note"]]
    if rows:
        n = int(meta["rounds"])
        lines += [
            "",
            "Times: median of the rounds' values [lowest – highest]; criterion rows are "
            "its median time per iteration, `bench/…` rows `backprop bench` samples/s. "
            "`B/A`: B's time over A's (below 1: B is faster). Verdict: faster or slower "
            "only when the rounds' ranges do not overlap and the medians differ by at "
            f"least {meta['min_change_pct']}% (if A = B, ranges of {n} rounds fall apart "
            f"by chance in {false_alarm(n):.1%} of the rows; under {MIN_ROUNDS} rounds, no "
            "verdict). Instructions: the matching one-step count below.",
            "",
            table(
                [
                    "benchmark",
                    "A",
                    "B",
                    "B/A",
                    "B faster in",
                    "verdict (ranges apart?)",
                    "instructions Δ",
                ],
                rows,
            ),
        ]
    if irows:
        lines += [
            "",
            "Instruction counts (callgrind via gungraun, x86-64-v3 build, one run each; "
            f"differences under {INSTR_TOLERANCE_PCT}% are reported as none):",
            "",
            table(
                [
                    "benchmark",
                    "instructions A",
                    "instructions B",
                    "Δ",
                    "est. cycles A",
                    "est. cycles B",
                    "Δ",
                    "verdict",
                ],
                irows,
            ),
        ]
    text = "\n".join(lines) + "\n"
    with open(out_md, "w") as f:
        f.write(text)
    sys.stdout.write(text)


def main(argv):
    commands = {
        "artifacts": (artifacts, 2),
        "list": (list_matching, 2),
        "criterion": (criterion, 3),
        "bench": (bench, 4),
        "gungraun": (gungraun, 2),
        "meta": (meta, 1),
        "report": (report, 3),
    }
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        sys.exit(__doc__)
    fn, _ = commands[argv[1]]
    fn(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
