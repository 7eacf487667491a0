#!/usr/bin/env python3
"""Re-make backprop's development suite of real tables with text columns and gaps.

Every table is read from a file that ships inside an installed Python package
(nothing is downloaded at run time, nothing is written outside this folder),
then written as a user would have it: pandas ``to_csv(index=False)``, text
values as they come, missing values as empty cells, the label column last.

    python bench/tables/make_suite.py            # writes data/*.csv and suite.json

Each table gives three files under data/: ``<name>.csv`` (the whole table as
kept), and a seeded 80/20 shuffle of it into ``<name>.train.csv`` and
``<name>.test.csv``. Rows whose label is missing are dropped (gaps in the
features are kept). See README.md for sources and licences.

Needs: pandas, numpy, palmerpenguins, vega_datasets, plotnine, statsmodels,
pydataset (only their data files are read: plotnine and pydataset are not
imported, so no matplotlib start-up and no ~/.pydataset folder).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20  # the suite's split seed (issue 20)
TEST_FRACTION = 0.2


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"make_suite: the package {name!r} is not installed (pip install {name})")
    return Path(list(spec.submodule_search_locations)[0])


def version(dist: str) -> str:
    return importlib.metadata.version(dist)


# --- loaders: each reads the package's own file --------------------------------

def load_palmerpenguins(_):
    return pd.read_csv(package_dir("palmerpenguins") / "data" / "penguins.csv")


def load_vega(dataset):
    path = package_dir("vega_datasets") / "_data" / dataset
    if dataset.endswith(".json"):
        # records as they are: no date parsing (cars' Year stays the text '1970-01-01')
        return pd.DataFrame.from_records(json.loads(path.read_text()))
    return pd.read_csv(path)


def load_plotnine(dataset):
    return pd.read_csv(package_dir("plotnine") / "data" / dataset)


def load_statsmodels(dataset):
    return pd.read_csv(package_dir("statsmodels") / "datasets" / dataset / f"{dataset}.csv")


def load_pydataset(member):
    # pydataset unpacks this archive into ~/.pydataset on import; read it in place instead
    with tarfile.open(package_dir("pydataset") / "resources.tar.gz") as tar:
        f = tar.extractfile(f"resources/rdata/csv/{member}")
        df = pd.read_csv(f)
    # the first, unnamed column holds R's row names (1, 2, ...): not data
    first = df.columns[0]
    if first.startswith("Unnamed") or first == "":
        df = df.drop(columns=first)
    return df


PALMER = "palmerpenguins"
# Licence notes: the package's own licence (from its metadata) and, where the
# table came from elsewhere, where and under what terms.
TABLES = [
    dict(
        name="penguins", task="classification", label="species",
        package=PALMER, dataset="penguins (data/penguins.csv)", load=load_palmerpenguins, arg=None,
        licence="as shipped by palmerpenguins (MIT); the data are CC0 (Gorman, Williams & Fraser; "
                "Palmer Station LTER, released CC0 with the R package palmerpenguins)",
        about="Size measurements of 344 Adelie, Chinstrap and Gentoo penguins from three islands "
              "of the Palmer Archipelago; predict the species.",
    ),
    dict(
        name="seattle_weather", task="classification", label="weather",
        package="vega_datasets", dataset="seattle-weather (_data/seattle-weather.csv)", load=load_vega,
        arg="seattle-weather.csv",
        licence="as shipped by vega_datasets (MIT); drawn from NOAA data, public domain",
        about="Daily precipitation, temperature extremes and wind in Seattle 2012-2015; predict the "
              "weather type (drizzle, fog, rain, snow, sun). The date column is text with a "
              "distinct value on every row.",
    ),
    dict(
        name="chile", task="classification", label="vote",
        package="pydataset", dataset="Chile (R package car; resources.tar.gz: csv/car/Chile.csv)",
        load=load_pydataset, arg="car/Chile.csv",
        licence="as shipped by pydataset (MIT); the table comes from the R package car, "
                "GPL (>= 2): treat the data as GPL-2-or-later",
        about="A 1988 survey of Chilean voters before the plebiscite; predict the intended vote "
              "(Y, N, A abstain, U undecided) from region, population, sex, age, education, "
              "income and a status-quo score.",
    ),
    dict(
        name="biopsy", task="classification", label="class",
        package="pydataset", dataset="biopsy (R package MASS; resources.tar.gz: csv/MASS/biopsy.csv)",
        load=load_pydataset, arg="MASS/biopsy.csv", drop=["ID"],
        licence="as shipped by pydataset (MIT); the table comes from the R package MASS, "
                "GPL-2 | GPL-3: treat the data as GPL",
        about="Wisconsin breast-cancer biopsies (699 rows, nine 1-10 cytology scores, V6 has gaps); "
              "predict benign or malignant. The sample ID column is dropped.",
    ),
    dict(
        name="cars", task="regression", label="Miles_per_Gallon",
        package="vega_datasets", dataset="cars (_data/cars.json)", load=load_vega, arg="cars.json",
        drop=["Name"],
        licence="as shipped by vega_datasets (MIT); originally Donoho & Ramos (1982), the StatLib "
                "auto-mpg data (also UCI Auto MPG, CC BY 4.0)",
        about="Cars from 1970-1982; predict miles per gallon from cylinders, displacement, "
              "horsepower (gaps), weight, acceleration, model year (text, '1970-01-01') and origin. "
              "The car's name (an identifier) is dropped.",
    ),
    dict(
        name="mpg", task="regression", label="hwy",
        package="plotnine", dataset="mpg (data/mpg.csv, a copy of ggplot2's mpg)", load=load_plotnine,
        arg="mpg.csv", drop=["cty"],
        licence="as shipped by plotnine (MIT); ggplot2's mpg data (ggplot2: MIT), from the US EPA's "
                "fuel-economy data (public domain)",
        about="234 cars of 1999 and 2008; predict highway miles per gallon from manufacturer, model, "
              "engine, transmission, drive, fuel and class. City mpg (cty) is dropped: it is the "
              "same measurement in town and would make the task trivial.",
    ),
    dict(
        name="diamonds", task="regression", label="price",
        package="plotnine", dataset="diamonds (data/diamonds.csv, a copy of ggplot2's diamonds)",
        load=load_plotnine, arg="diamonds.csv", subsample=5000,
        licence="as shipped by plotnine (MIT); ggplot2's diamonds data (ggplot2: MIT)",
        about="Round-cut diamonds; predict the price in US dollars from carat, cut, colour, clarity "
              "(text) and dimensions. Subsampled (seeded) from 53,940 rows to 5,000 to stay small.",
    ),
    dict(
        name="txhousing", task="regression", label="median",
        package="plotnine", dataset="txhousing (data/txhousing.csv, a copy of ggplot2's txhousing)",
        load=load_plotnine, arg="txhousing.csv",
        licence="as shipped by plotnine (MIT); ggplot2's txhousing data (ggplot2: MIT), from the "
                "TAMU Real Estate Center",
        about="Monthly housing-market figures for 46 Texas cities, 2000-2015; predict the median "
              "sale price from the city (text), date, sales, volume, listings and inventory "
              "(all with gaps).",
    ),
    dict(
        name="grunfeld", task="regression", label="invest",
        package="statsmodels", dataset="grunfeld (datasets/grunfeld/grunfeld.csv)",
        load=load_statsmodels, arg="grunfeld",
        licence="as shipped by statsmodels (BSD-3-Clause); the dataset's COPYRIGHT says "
                "'This is public domain.'",
        about="Grunfeld's (1950) investment data: 11 US firms, 1935-1954; predict gross investment "
              "from firm value, capital stock, the firm (text) and year.",
    ),
    dict(
        name="slid", task="regression", label="wages",
        package="pydataset", dataset="SLID (R package car; resources.tar.gz: csv/car/SLID.csv)",
        load=load_pydataset, arg="car/SLID.csv",
        licence="as shipped by pydataset (MIT); the table comes from the R package car, "
                "GPL (>= 2): treat the data as GPL-2-or-later",
        about="Ontario, 1994 Survey of Labour and Income Dynamics; predict the hourly wage from "
              "education (gaps), age, sex and language (text, gaps). 3,278 of 7,425 rows have no "
              "wage and are dropped.",
    ),
]


def restore_integers(df: pd.DataFrame) -> pd.DataFrame:
    """Columns that pandas read as float only because of gaps go back to integers,
    so 3750 is written as '3750', not '3750.0' (as the source file had it)."""
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_float_dtype(s) and s.notna().any():
            v = s.dropna()
            if (v == np.round(v)).all() and v.abs().max() < 2**53:
                df[c] = s.astype("Int64")
    return df


def is_text(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def make_table(spec: dict, out_dir: Path) -> dict:
    df = spec["load"](spec["arg"])
    source_rows = len(df)
    label = spec["label"]
    drop = spec.get("drop", [])
    df = df.drop(columns=drop)
    # the label last
    df = df[[c for c in df.columns if c != label] + [label]]
    missing_label = int(df[label].isna().sum())
    df = df[df[label].notna()].reset_index(drop=True)
    subsampled_from = None
    if spec.get("subsample") and len(df) > spec["subsample"]:
        subsampled_from = len(df)
        keep = np.sort(np.random.default_rng(SEED).permutation(len(df))[: spec["subsample"]])
        df = df.iloc[keep].reset_index(drop=True)
    df = restore_integers(df)

    name = spec["name"]
    perm = np.random.default_rng(SEED).permutation(len(df))
    n_test = int(round(TEST_FRACTION * len(df)))
    test, train = df.iloc[perm[:n_test]], df.iloc[perm[n_test:]]
    files = {"all": f"{name}.csv", "train": f"{name}.train.csv", "test": f"{name}.test.csv"}
    df.to_csv(out_dir / files["all"], index=False)
    train.to_csv(out_dir / files["train"], index=False)
    test.to_csv(out_dir / files["test"], index=False)

    # describe the file as a reader will see it
    back = pd.read_csv(out_dir / files["all"])
    features = [c for c in back.columns if c != label]
    entry = {
        "name": name,
        "task": spec["task"],
        "label": label,
        "label_is_last": back.columns[-1] == label,
        "files": files,
        "rows": {"all": len(df), "train": len(train), "test": len(test)},
        "columns": len(back.columns),
        "text_columns": [c for c in features if is_text(back[c])],
        "gap_columns": {c: int(back[c].isna().sum()) for c in features if back[c].isna().any()},
        "label_text": is_text(back[label]),
        "source": {
            "package": spec["package"],
            "version": version(spec["package"]),
            "dataset": spec["dataset"],
            "rows": source_rows,
        },
        "dropped": {
            "rows_missing_label": missing_label,
            "columns": drop,
            "subsampled_from": subsampled_from,
        },
        "licence": spec["licence"],
        "about": spec["about"],
    }
    if spec["task"] == "classification":
        counts = back[label].astype(str).value_counts()
        entry["classes"] = {str(k): int(v) for k, v in counts.sort_index().items()}
    else:
        entry["label_distinct"] = int(back[label].nunique())
    return entry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "data", help="folder for the CSVs [bench/tables/data]")
    ap.add_argument("--suite", type=Path, default=HERE / "suite.json", help="suite description [bench/tables/suite.json]")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    entries = []
    for spec in TABLES:
        e = make_table(spec, args.out)
        entries.append(e)
        print(f"{e['name']:16} {e['task']:14} {e['rows']['all']:6} rows  "
              f"text={','.join(e['text_columns']) or '-'}  "
              f"gaps={','.join(e['gap_columns']) or '-'}")
    suite = {
        "about": "backprop's development suite of real tables with text columns and gaps; "
                 "re-made by bench/tables/make_suite.py",
        "seed": SEED,
        "test_fraction": TEST_FRACTION,
        "data_dir": str(args.out.resolve().relative_to(args.suite.resolve().parent))
        if args.out.resolve().is_relative_to(args.suite.resolve().parent) else str(args.out.resolve()),
        "made_with": {"pandas": version("pandas"), "numpy": version("numpy")},
        "tables": entries,
    }
    args.suite.write_text(json.dumps(suite, indent=2) + "\n")
    print(f"wrote {len(entries)} tables to {args.out} and {args.suite}")


if __name__ == "__main__":
    main()
