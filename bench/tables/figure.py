#!/usr/bin/env python3
"""Accuracy against time on the development suite, as one SVG (no plotting
package needed).

Reads the JSON that `compare.py --json-out` writes (scikit-learn's pipeline,
LightGBM, backprop) and the one `anchors.py --json-out` writes (RealMLP-TD,
TabM), and draws, for each method, one faint point per table and one bold
point for its mean:

- x: the wall time of a fit, seconds, on a log scale (the mean point: the
  geometric mean over the tables);
- y: the score (accuracy, or R² for the regressions) minus the best score
  any method reached on that table, so that tables of different difficulty
  share one axis (0 is the best; the mean point: the mean over the tables).
  Points below -0.25 sit on the bottom edge, hollow (scikit-learn's R² of
  -9 on txhousing).

Usage: python figure.py --json compare.json anchors-results.json --out tables.svg
"""

import argparse
import json
import math
from pathlib import Path

METHODS = {
    # key in the JSON: (label, colour)
    "backprop": ("backprop (defaults)", "#d62728"),
    "backprop_ensemble": ("backprop --ensemble 5", "#ff7f0e"),
    "realmlp": ("RealMLP-TD", "#1f77b4"),
    "tabm": ("TabM", "#9467bd"),
    "lightgbm": ("LightGBM", "#2ca02c"),
    "sklearn": ("scikit-learn MLP pipeline", "#7f7f7f"),
}
FLOOR = -0.25
W, H, L, R, T, B = 760, 460, 70, 230, 30, 55


def collect(paths, ensemble):
    """{table: {method: (score, seconds)}} from the JSON files."""
    out = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        for r in data["results"]:
            row = out.setdefault(r["table"], {})
            for key in METHODS:
                v = r.get(key)
                if isinstance(v, dict) and v.get("score") is not None and v.get("seconds"):
                    row[key] = (float(v["score"]), float(v["seconds"]))
    for path in ensemble:
        for r in json.loads(Path(path).read_text())["results"]:
            v = r.get("backprop")
            if isinstance(v, dict) and v.get("score") is not None:
                out.setdefault(r["table"], {})["backprop_ensemble"] = (
                    float(v["score"]), float(v["seconds"]))
    return out


def draw(rows):
    times = [s for row in rows.values() for _, s in row.values()]
    lo = math.floor(math.log10(min(times)))
    hi = math.ceil(math.log10(max(times)))
    x = lambda s: L + (math.log10(s) - lo) / (hi - lo) * (W - L - R)
    y = lambda d: T + (0 - max(d, FLOOR)) / (0 - FLOOR) * (H - T - B)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    for e in range(lo, hi + 1):
        px = x(10 ** e)
        svg.append(f'<line x1="{px:.1f}" y1="{T}" x2="{px:.1f}" y2="{H - B}" stroke="#ddd"/>')
        svg.append(f'<text x="{px:.1f}" y="{H - B + 16}" text-anchor="middle">'
                   f'{10 ** e:g} s</text>')
    for d in (0, -0.05, -0.1, -0.15, -0.2, -0.25):
        py = y(d)
        svg.append(f'<line x1="{L}" y1="{py:.1f}" x2="{W - R}" y2="{py:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{L - 6}" y="{py + 4:.1f}" text-anchor="end">{d:g}</text>')
    svg.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">'
               'wall time of a fit (log scale)</text>')
    svg.append(f'<text transform="translate(16,{(T + H - B) / 2}) rotate(-90)" '
               'text-anchor="middle">score − the table\'s best score</text>')
    legend_y = T + 10
    for key, (label, colour) in METHODS.items():
        pts = []
        for row in rows.values():
            if key not in row:
                continue
            best = max(v[0] for v in row.values())
            score, secs = row[key]
            pts.append((score - best, secs))
            hollow = score - best < FLOOR
            svg.append(f'<circle cx="{x(secs):.1f}" cy="{y(score - best):.1f}" r="3.5" '
                       f'fill="{"none" if hollow else colour}" stroke="{colour}" '
                       'fill-opacity="0.35" stroke-opacity="0.6"/>')
        if not pts:
            continue
        mean_d = sum(d for d, _ in pts) / len(pts)
        gmean_s = math.exp(sum(math.log(s) for _, s in pts) / len(pts))
        svg.append(f'<circle cx="{x(gmean_s):.1f}" cy="{y(mean_d):.1f}" r="7" '
                   f'fill="{colour}" stroke="black"/>')
        svg.append(f'<circle cx="{W - R + 20}" cy="{legend_y}" r="6" fill="{colour}" '
                   'stroke="black"/>')
        svg.append(f'<text x="{W - R + 32}" y="{legend_y + 4}">{label}</text>')
        svg.append(f'<text x="{W - R + 32}" y="{legend_y + 18}" fill="#555">'
                   f'mean {mean_d:+.3f}, {gmean_s:.2g} s, {len(pts)} tables</text>')
        legend_y += 40
    svg.append('</svg>')
    return "\n".join(svg) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", nargs="+", required=True,
                    help="compare.py and anchors.py results (JSON)")
    ap.add_argument("--ensemble-json", nargs="*", default=[],
                    help="compare.py results run with --backprop-args '--ensemble 5'")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    rows = collect(args.json, args.ensemble_json)
    args.out.write_text(draw(rows))
    print(f"wrote {args.out}: {len(rows)} tables")


if __name__ == "__main__":
    main()
