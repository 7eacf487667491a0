"""pandas DataFrames as they come: text, category, bool and string columns
and gaps go through the preparation the command line uses (each column's
kind, levels and median, stored in the model). A frame's fit equals, to the
bit, the fit on the same frame encoded by hand; the model file reads the
same table's CSV on the command line to the same predictions."""

import os
import pickle
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backprop import MLPClassifier, MLPRegressor

ROOT = Path(__file__).resolve().parents[2]


def frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], n).astype(object)
    island[rng.random(n) < 0.1] = None
    bill = rng.uniform(30, 60, n).astype(np.float32)
    bill[rng.random(n) < 0.15] = np.nan
    df = pd.DataFrame(
        {
            "island": pd.Series(island, dtype="category"),
            "smoker": rng.random(n) < 0.5,
            "bill": bill,
            "depth": rng.uniform(13, 22, n).astype(np.float32),
            "colour": pd.Series(rng.choice(["red", "blue"], n), dtype="string"),
        }
    )
    score = (
        df["island"].cat.codes.to_numpy() + np.nan_to_num(bill, nan=45) / 20 + df["depth"] / 10
    )
    y = np.array(["a", "b", "c"])[(score.astype(int) + df["smoker"]) % 3]
    return df, y


def by_hand(df, train):
    """The frame encoded as the engine does: island levels + missing, smoker
    0/1, bill + median gap + missing flag, depth, colour levels."""
    med = np.float32(np.median(train["bill"].dropna().to_numpy(np.float64)))
    cols = [
        (df["island"] == lv).fillna(False).to_numpy(np.float32) for lv in ["Biscoe", "Dream", "Torgersen"]
    ]
    cols.append(df["island"].isna().to_numpy(np.float32))
    cols.append(df["smoker"].to_numpy(np.float32))
    cols.append(df["bill"].fillna(med).to_numpy(np.float32))
    cols.append(df["bill"].isna().to_numpy(np.float32))
    cols.append(df["depth"].to_numpy(np.float32))
    cols += [(df["colour"] == c).to_numpy(np.float32) for c in ["blue", "red"]]
    return np.ascontiguousarray(np.column_stack(cols), dtype=np.float32)


def params():
    return dict(hidden_layer_sizes=(8,), max_iter=5, random_state=3, n_iter_no_change=100)


def test_a_frame_fits_as_its_hand_encoding():
    df, y = frame()
    test, _ = frame(40, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = MLPClassifier(**params()).fit(df, y)
        b = MLPClassifier(**params()).fit(by_hand(df, df), y)
    assert a.n_features_in_ == 5
    assert list(a.feature_names_in_) == list(df.columns)
    for wa, wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.predict_proba(test), b.predict_proba(by_hand(test, df)))
    # pickled, the same predictions
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.predict_proba(test), a.predict_proba(test))


def test_new_gaps_and_unseen_levels_are_said():
    df, y = frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = MLPClassifier(**params()).fit(df, y)
    test, _ = frame(10, seed=2)
    test["island"] = test["island"].cat.add_categories(["Atlantis"])
    test.loc[0, "island"] = "Atlantis"
    test.loc[1, "depth"] = np.nan
    with pytest.warns(UserWarning) as record:
        p = m.predict(test)
    said = " ".join(str(w.message) for w in record)
    assert "'Atlantis'" in said and "column 'depth': 1 missing value took the training median" in said
    assert len(p) == 10


def test_numpy_with_gaps_and_regression():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5], dtype=np.float32)
    X[rng.random((200, 3)) < 0.1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = MLPRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(X, y)
    assert m.n_features_in_ == 3
    assert m._model.feature_names == ["x0", "x0 (missing)", "x1", "x1 (missing)", "x2", "x2 (missing)"]
    assert np.isfinite(m.predict(X)).all()
    # NumPy without gaps is read as before: no preparation kept
    clean = np.nan_to_num(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = MLPRegressor(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(clean, y)
    assert not plain._model.prepares_columns


def test_the_command_line_reads_the_frame_as_csv(tmp_path):
    cli = os.environ.get("BACKPROP_CLI") or str(ROOT / "target" / "release" / "backprop")
    if not Path(cli).exists():
        pytest.skip(f"no command line at {cli}")
    df, y = frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = MLPClassifier(**params()).fit(df, y)
    model = tmp_path / "m.safetensors"
    m.save(model)
    test, _ = frame(30, seed=5)
    data = tmp_path / "t.csv"
    test.to_csv(data, index=False)
    out = subprocess.run(
        [cli, "predict", "--model", str(model), "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    classes = [line.split(",")[0] for line in out.strip().splitlines()[1:]]
    assert classes == list(m.predict(test))


def test_datetime_columns_are_dates():
    df, y = frame()
    rng = np.random.default_rng(7)
    when = pd.Series(pd.to_datetime("2011-01-01") + pd.to_timedelta(rng.integers(0, 700, len(df)), unit="D"))
    when[rng.random(len(df)) < 0.1] = pd.NaT
    as_time = df.assign(when=when)
    as_text = df.assign(when=when.dt.strftime("%Y-%m-%d").astype(object).where(when.notna(), None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = MLPClassifier(**params()).fit(as_time, y)
        b = MLPClassifier(**params()).fit(as_text, y)
    names = a._model.feature_names
    assert "when (days)" in names and "when (week cos)" in names and "when (missing)" in names
    assert names == b._model.feature_names
    np.testing.assert_array_equal(a.predict_proba(as_time), b.predict_proba(as_text))


def test_numbers_in_a_category_column_are_its_levels():
    # drv as mpg has it: 4, f, r; a batch of only 4s comes as integers
    df, y = frame()
    drv = np.array([4, "f", "r"], dtype=object)[np.arange(len(df)) % 3]
    df = df.assign(drv=drv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = MLPClassifier(**params()).fit(df, y)
    assert "drv=4" in m._model.feature_names
    batch = df[df["drv"] == 4].copy()
    as_ints = batch.assign(drv=batch["drv"].astype(np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(m.predict_proba(as_ints), m.predict_proba(batch))
