"""ONNX export (``backprop export --onnx``, ``est.to_onnx``): the graph's
outputs under ONNX Runtime equal ``backprop predict``'s, and the Python
estimators' ``predict_proba``/``predict``, to 1e-5, for every head and
activation, a table's gaps (median and "missing" inputs), the stored
standardisation, the targets' units and an ensemble's mean. Skipped, with a
message, without the ``onnx`` and ``onnxruntime`` packages."""

import io
import subprocess

import numpy as np
import pandas as pd
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx package is not installed: ONNX export is not checked")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: ONNX export is not checked")

import backprop  # noqa: E402
from backprop import MLPClassifier, MLPRegressor, TabularRegressor  # noqa: E402

from test_estimators import cli  # noqa: E402

ACTIVATIONS = ["sigmoid", "tanh", "relu", "identity", "selu", "silu", "gelu", "mish"]


def table(n=300, seed=0):
    """Three number columns, `a` with gaps, and a label of each kind."""
    r = np.random.default_rng(seed)
    df = pd.DataFrame({"a": r.normal(size=n), "b": r.normal(size=n) * 10 + 5, "c": r.uniform(size=n)})
    df.loc[r.choice(n, 20, replace=False), "a"] = np.nan
    s = df["a"].fillna(0) + df["b"] / 10
    labels = pd.DataFrame(
        {
            "bin": np.where(s > 0.5, "yes", "no"),
            "cls": np.select([s < 0, s < 1], ["lo", "mid"], "hi"),
            "y1": s * 3 + r.normal(size=n),
            "y2": df["c"] * 2,
            "cnt": r.poisson(np.exp(0.5 * s.clip(-2, 2))),
            "l1": (s > 0).astype(int),
            "l2": (df["c"] > 0.5).astype(int),
        }
    )
    return df, labels


# (labels, head)
TASKS = [(["bin"], "sigmoid"), (["cls"], "softmax"), (["y1", "y2"], "mse"), (["cnt"], "poisson"), (["l1", "l2"], "sigmoid")]


def run_onnx(path, X):
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(["output"], {"input": np.ascontiguousarray(X, dtype=np.float32)})
    return out


def predicted(model, data):
    """`backprop predict`'s numbers, as the graph's output: probabilities
    (a binary sigmoid's of the second class alone), or values."""
    text = subprocess.run([cli(), "predict", "--model", str(model), "--data", str(data)], check=True,
                          capture_output=True, text=True).stdout
    out = pd.read_csv(io.StringIO(text))
    probs = [c for c in out.columns if c.startswith("p_")]
    if probs:
        cls = "class" in out.columns
        return out[probs[-1:] if cls and len(probs) == 2 else probs].to_numpy(np.float32)
    return out.to_numpy(np.float32)


def train(tmp_path, labels, head, extra=()):
    X, Y = table()
    data = tmp_path / f"{'_'.join(labels)}.csv"
    pd.concat([X, Y[labels]], axis=1).to_csv(data, index=False)
    model = tmp_path / "model.safetensors"
    args = [cli(), "train", "--data", str(data), "--head", head, "--epochs", "4", "--quiet", "--out", str(model)]
    if len(labels) > 1:
        args += ["--label-column", ",".join(labels)]
    subprocess.run(args + list(extra), check=True)
    return X, data, model


@pytest.mark.parametrize("labels, head", TASKS, ids=[h + "-" + "_".join(l) for l, h in TASKS])
def test_every_head_equals_backprop_predict(tmp_path, labels, head):
    X, data, model = train(tmp_path, labels, head)
    out = tmp_path / "model.onnx"
    subprocess.run([cli(), "export", "--model", str(model), "--onnx", str(out)], check=True, capture_output=True)
    np.testing.assert_allclose(run_onnx(out, X.to_numpy()), predicted(model, data), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_equals_backprop_predict(tmp_path, activation):
    X, data, model = train(tmp_path, ["cls"], "softmax", ["--activation", activation, "--layers", "16,8"])
    out = tmp_path / "model.onnx"
    subprocess.run([cli(), "export", "--model", str(model), "--onnx", str(out)], check=True, capture_output=True)
    np.testing.assert_allclose(run_onnx(out, X.to_numpy()), predicted(model, data), rtol=1e-5, atol=1e-5)


def test_an_ensemble_is_the_mean_of_its_members(tmp_path):
    X, data, model = train(tmp_path, ["y1", "y2"], "mse", ["--ensemble", "3"])
    out = tmp_path / "ensemble.onnx"
    subprocess.run([cli(), "export", "--model", str(model), "--onnx", str(out)], check=True, capture_output=True)
    m = onnx.load(str(out))
    assert any(n.op_type == "Mean" for n in m.graph.node)
    np.testing.assert_allclose(run_onnx(out, X.to_numpy()), predicted(model, data), rtol=1e-5, atol=1e-5)
    # the Python ensemble writes the same graph's numbers
    ens = backprop.Ensemble.load(model)
    ens.to_onnx(tmp_path / "py.onnx")
    np.testing.assert_allclose(run_onnx(tmp_path / "py.onnx", X.to_numpy()), ens.predict(X), rtol=1e-5, atol=1e-5)


def test_the_estimators_write_what_they_predict(tmp_path):
    from sklearn.datasets import load_breast_cancer, load_diabetes

    X, y = load_breast_cancer(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(16,), activation="tanh", max_iter=5, random_state=0).fit(X, y)
    clf.to_onnx(tmp_path / "clf.onnx")
    np.testing.assert_allclose(run_onnx(tmp_path / "clf.onnx", X)[:, 0], clf.predict_proba(X)[:, 1], atol=1e-5)
    X, y = load_diabetes(return_X_y=True)
    # standardised inputs and targets, stored in the model
    reg = TabularRegressor(max_iter=5, random_state=0).fit(X, y)
    reg.to_onnx(tmp_path / "reg.onnx")
    np.testing.assert_allclose(run_onnx(tmp_path / "reg.onnx", X)[:, 0], reg.predict(X), rtol=1e-5, atol=1e-4)
    pois = MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    pois.to_onnx(tmp_path / "pois.onnx")
    np.testing.assert_allclose(run_onnx(tmp_path / "pois.onnx", X)[:, 0], pois.predict(X), rtol=1e-5, atol=1e-4)


def test_a_text_column_is_refused_naming_it(tmp_path):
    X, Y = table()
    X["town"] = np.where(X["c"] > 0.5, "north", "south")
    data = tmp_path / "text.csv"
    pd.concat([X, Y[["bin"]]], axis=1).to_csv(data, index=False)
    model = tmp_path / "m.safetensors"
    subprocess.run([cli(), "train", "--data", str(data), "--epochs", "2", "--quiet", "--out", str(model)], check=True)
    out = tmp_path / "m.onnx"
    done = subprocess.run([cli(), "export", "--model", str(model), "--onnx", str(out)], capture_output=True, text=True)
    assert done.returncode != 0 and "town" in done.stderr and "category" in done.stderr, done.stderr
    assert not out.exists()
