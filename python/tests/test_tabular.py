"""The tabular estimators: backprop's recipe for a table, the model
``backprop train`` writes from the same rows, bit for bit, from a pandas
frame with text columns and gaps as from a CSV."""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backprop import MLPClassifier, MLPRegressor, TabularClassifier, TabularRegressor

from test_estimators import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path, label, estimator, loader, extra",
    [
        ("data/wine.train.csv", "class", TabularClassifier, MLPClassifier, []),
        ("data/diabetes.train.csv", "progression", TabularRegressor, MLPRegressor, ["--head", "mse"]),
        # text columns and gaps
        ("bench/tables/data/penguins.train.csv", "species", TabularClassifier, MLPClassifier, []),
        ("bench/tables/data/mpg.train.csv", "hwy", TabularRegressor, MLPRegressor, ["--head", "mse"]),
    ],
)
def test_the_recipe_is_the_command_lines_model(tmp_path, path, label, estimator, loader, extra):
    check_same_model(tmp_path, path, label, estimator, loader, extra, {})


@pytest.mark.parametrize(
    "params, flags",
    [
        (dict(label_smoothing=0.1), ["--label-smoothing", "0.1"]),
        (dict(activation="gelu", learning_rate="coslog4"), ["--activation", "gelu", "--lr-schedule", "coslog4"]),
        (dict(activation="mish", learning_rate="one-cycle", label_smoothing=0.05),
         ["--activation", "mish", "--lr-schedule", "one-cycle", "--label-smoothing", "0.05"]),
    ],
)
def test_the_recipes_options_are_the_command_lines(tmp_path, params, flags):
    check_same_model(tmp_path, "data/wine.train.csv", "class", TabularClassifier, MLPClassifier, flags, params)


def check_same_model(tmp_path, path, label, estimator, loader, extra, params):
    exe = cli()
    frame = pd.read_csv(ROOT / path)
    label = frame.columns[-1] if label not in frame.columns else label
    ours = estimator(random_state=42, **params).fit(frame.drop(columns=label), frame[label])
    model = tmp_path / "m.safetensors"
    subprocess.run([exe, "train", "--data", str(ROOT / path), "--quiet", "--out", str(model)] + extra,
                   check=True, capture_output=True)
    theirs = loader.load(model)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape and np.array_equal(a, b)
    rows = frame.drop(columns=label).head(20)
    assert np.array_equal(ours.predict(rows), theirs.predict(rows))


def test_the_recipes_defaults_and_semantics():
    p = TabularClassifier().get_params()
    assert (p["hidden_layer_sizes"], p["learning_rate_init"], p["batch_size"], p["max_iter"],
            p["alpha"]) == ((64,), 0.006, 32, 30, 0.0)
    assert (p["learning_rate"], p["activation"]) == ("flat-cos", "selu")
    assert TabularRegressor().get_params()["activation"] == "relu"
    frame = pd.read_csv(ROOT / "data" / "diabetes.train.csv")
    X, y = frame.drop(columns="progression"), frame.progression
    reg = TabularRegressor(random_state=0, max_iter=5).fit(X, y)
    # the targets are standardised for training, predicted in their units
    assert reg.preprocessing_["target_mean"] is not None
    assert abs(float(np.mean(reg.predict(X))) - float(y.mean())) < 0.5 * float(y.std())
    # exactly max_iter epochs: no stop on a stalling loss, no warning
    assert reg.n_iter_ == 5
