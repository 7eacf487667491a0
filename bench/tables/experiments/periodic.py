"""An experiment, not a backprop feature: a copy of the development suite
whose number columns each gain K fixed periodic inputs cos(2π·w·z + b),
z the column standardised with its training mean and std, w ~ N(0, σ²)
and b ~ U(-π, π) drawn once per table (seeded by the table's name). It
measures what numeric periodic embeddings (RealMLP's PBLD, TabM's PLR)
could give before they are built into the engine, where their
frequencies would also be trained.

Usage:
    python periodic.py K SIGMA OUT_DIR
    python compare.py --suite OUT_DIR/suite.json --skip sklearn,lightgbm ...
"""

import json
import pathlib
import sys
import zlib

import numpy as np
import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parents[1]


def periodic_copy(k: int, sigma: float, out: pathlib.Path) -> None:
    suite = json.loads((ROOT / "suite.json").read_text())
    (out / "data").mkdir(parents=True, exist_ok=True)
    for t in suite["tables"]:
        files = t["files"]
        train = pd.read_csv(ROOT / "data" / files["train"])
        test = pd.read_csv(ROOT / "data" / files["test"])
        label = t["label"]
        numbers = [
            c
            for c in train.columns
            if c != label and pd.api.types.is_numeric_dtype(train[c]) and train[c].nunique() > 2
        ]
        rng = np.random.default_rng(zlib.crc32(t["name"].encode()))
        draws = {c: (rng.normal(0.0, sigma, k), rng.uniform(-np.pi, np.pi, k)) for c in numbers}

        def widen(frame: pd.DataFrame) -> pd.DataFrame:
            extra = {}
            for c in numbers:
                z = (frame[c] - train[c].mean()) / (train[c].std() or 1.0)
                w, b = draws[c]
                for j in range(k):
                    extra[f"{c}__p{j}"] = np.cos(2 * np.pi * w[j] * z + b[j])
            y = frame[label]
            return pd.concat([frame.drop(columns=label), pd.DataFrame(extra, index=frame.index), y], axis=1)

        widen(train).to_csv(out / "data" / files["train"], index=False)
        widen(test).to_csv(out / "data" / files["test"], index=False)
    (out / "suite.json").write_text(json.dumps(suite))


if __name__ == "__main__":
    periodic_copy(int(sys.argv[1]), float(sys.argv[2]), pathlib.Path(sys.argv[3]))
