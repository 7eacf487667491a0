"""The estimators beyond scikit-learn's checks: accuracy against
scikit-learn on the repository's fixed splits, determinism across thread
counts, the GIL and Ctrl-C while fitting, pickling, model files shared with
the command line, labels and targets of every kind, and errors."""

import copy
import os
import pickle
import shutil
import signal
import subprocess
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.preprocessing import StandardScaler

import backprop
from backprop import MLPClassifier, MLPRegressor

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def load(name, scale=True):
    tr = pd.read_csv(DATA / f"{name}.train.csv")
    te = pd.read_csv(DATA / f"{name}.test.csv")
    X, y = tr.iloc[:, :-1].to_numpy(), tr.iloc[:, -1].to_numpy()
    Xt, yt = te.iloc[:, :-1].to_numpy(), te.iloc[:, -1].to_numpy()
    if scale:
        s = StandardScaler().fit(X)
        X, Xt = s.transform(X), s.transform(Xt)
    return X, y, Xt, yt


@pytest.fixture(autouse=True)
def quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        yield


# ---------------------------------------------------------------------------
# accuracy against scikit-learn, same parameters, mean over seeds 0..4
# ---------------------------------------------------------------------------

SEEDS = range(5)


@pytest.mark.parametrize("name", ["digits", "breast_cancer"])
def test_classifier_accuracy_within_one_point_of_sklearn(name):
    X, y, Xt, yt = load(name)
    params = dict(hidden_layer_sizes=(64,), solver="adam", learning_rate_init=0.001, alpha=1e-4)
    ours = np.mean([MLPClassifier(random_state=s, **params).fit(X, y).score(Xt, yt) for s in SEEDS])
    theirs = np.mean([SkClassifier(random_state=s, **params).fit(X, y).score(Xt, yt) for s in SEEDS])
    print(f"{name}: backprop {ours:.4f}, scikit-learn {theirs:.4f}")
    assert abs(ours - theirs) <= 0.01, (ours, theirs)


def test_regressor_r2_within_002_of_sklearn():
    X, y, Xt, yt = load("diabetes")
    # targets standardised for both (R² does not change)
    ys = StandardScaler().fit(y.reshape(-1, 1))
    y, yt = ys.transform(y.reshape(-1, 1)).ravel(), ys.transform(yt.reshape(-1, 1)).ravel()
    params = dict(hidden_layer_sizes=(64,), solver="adam", learning_rate_init=0.001, alpha=1.0)
    ours = np.mean([MLPRegressor(random_state=s, **params).fit(X, y).score(Xt, yt) for s in SEEDS])
    theirs = np.mean([SkRegressor(random_state=s, **params).fit(X, y).score(Xt, yt) for s in SEEDS])
    print(f"diabetes R²: backprop {ours:.4f}, scikit-learn {theirs:.4f}")
    assert ours > 0.2
    assert abs(ours - theirs) <= 0.02, (ours, theirs)


# ---------------------------------------------------------------------------
# determinism, threads, signals
# ---------------------------------------------------------------------------


def digits(n=None):
    X, y, Xt, yt = load("digits")
    return X[:n].astype(np.float32), y[:n], Xt.astype(np.float32), yt


@pytest.mark.parametrize("solver", ["adam", "sgd", "rmsprop", "adamw"])
def test_same_random_state_same_bits_for_any_thread_count(solver):
    X, y, Xt, _ = digits(600)
    fits = [
        MLPClassifier((32, 16), solver=solver, random_state=7, max_iter=15, dropout=0.1,
                      n_threads=t, batch_size=64).fit(X, y)
        for t in (1, 2, 3)
    ]
    for f in fits[1:]:
        for a, b in zip(fits[0].coefs_ + fits[0].intercepts_, f.coefs_ + f.intercepts_):
            assert np.array_equal(a.view(np.uint32), b.view(np.uint32))
        assert fits[0].loss_curve_ == f.loss_curve_
        assert np.array_equal(fits[0].predict_proba(Xt), f.predict_proba(Xt))
    other = MLPClassifier((32, 16), solver=solver, random_state=8, max_iter=15, batch_size=64).fit(X, y)
    assert not np.array_equal(other.coefs_[0], fits[0].coefs_[0])


def test_fit_releases_the_gil():
    X, y, _, _ = digits()
    X = np.tile(X, (4, 1))
    y = np.tile(y, 4)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=count)
    clf = MLPClassifier((128,), max_iter=120, tol=0, random_state=0, n_threads=1)
    t.start()
    time.sleep(0.05)
    start = time.perf_counter()
    clf.fit(X, y)
    end = time.perf_counter()
    done.set()
    t.join()
    during = [s for s in ticks if start < s < end]
    # the other thread kept running: ticks all through the fit, no long gap
    assert end - start > 0.3
    assert len(during) > 0.3 * (end - start) / 0.002, (len(during), end - start)
    gaps = np.diff([start] + during + [end])
    assert gaps.max() < 0.25, gaps.max()


def test_ctrl_c_interrupts_fit_and_leaves_the_estimator_usable():
    X, y, Xt, yt = digits()
    X = np.tile(X, (8, 1))
    y = np.tile(y, 8)
    # 300 epochs (tens of seconds), no convergence stop: the interrupt ends it
    clf = MLPClassifier((256,), max_iter=300, tol=0, n_iter_no_change=5000, random_state=0,
                        batch_size=32)
    # Python's own Ctrl-C handler (a shell starting Python in the background
    # ignores SIGINT, and Python then keeps it ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    try:
        timer.start()
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            clf.fit(X, y)
        elapsed = time.perf_counter() - start
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert elapsed < 5, elapsed
    assert clf.n_iter_ < 300
    # fitted with the weights as they were: usable, and better than chance
    assert clf.predict(Xt).shape == yt.shape
    assert clf.score(Xt, yt) > 0.5
    # and it trains again
    clf.set_params(max_iter=3)
    clf.fit(X[:500], y[:500])
    assert clf.n_iter_ == 3


# ---------------------------------------------------------------------------
# pickling, partial_fit, warm_start
# ---------------------------------------------------------------------------


def test_pickle_and_deepcopy_predict_the_same():
    X, y, Xt, _ = digits(500)
    clf = MLPClassifier((32,), max_iter=10, random_state=0).fit(X, y)
    for other in (pickle.loads(pickle.dumps(clf)), copy.deepcopy(clf)):
        assert np.array_equal(other.predict_proba(Xt), clf.predict_proba(Xt))
        assert np.array_equal(other.classes_, clf.classes_)
        for a, b in zip(other.coefs_, clf.coefs_):
            assert np.array_equal(a, b)
    # a plain fit does not pickle the optimizer's state
    assert "_checkpoint" not in clf.__getstate__()
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, Xt[:500, 0] if len(Xt) >= 500 else X[:, 0])
    assert np.array_equal(pickle.loads(pickle.dumps(reg)).predict(Xt), reg.predict(Xt))


def test_partial_fit_continues_bit_for_bit_through_a_pickle():
    X, y, Xt, _ = digits(900)
    parts = np.array_split(np.arange(900), 3)
    classes = np.unique(y)
    a = MLPClassifier((32,), random_state=3, batch_size=50)
    for p in parts:
        a.partial_fit(X[p], y[p], classes=classes)
    b = MLPClassifier((32,), random_state=3, batch_size=50)
    b.partial_fit(X[parts[0]], y[parts[0]], classes=classes)
    b = pickle.loads(pickle.dumps(b))
    assert b._checkpoint is not None
    for p in parts[1:]:
        b.partial_fit(X[p], y[p])
    assert a.n_iter_ == b.n_iter_ == 1 and a.t_ == b.t_ == 900
    assert len(a.loss_curve_) == len(b.loss_curve_) == 3
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert np.array_equal(u, v)
    # a fresh optimizer (no checkpoint) gives other bits: the state matters
    c = MLPClassifier((32,), random_state=3, batch_size=50)
    c.partial_fit(X[parts[0]], y[parts[0]], classes=classes)
    c._checkpoint = None
    for p in parts[1:]:
        c.partial_fit(X[p], y[p])
    assert not np.array_equal(c.coefs_[0], a.coefs_[0])


def test_partial_fit_first_call_takes_every_class():
    X, y, Xt, _ = digits(300)
    clf = MLPClassifier((16,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    few = y < 5
    clf.partial_fit(X[few], y[few], classes=np.arange(10))
    assert np.array_equal(clf.classes_, np.arange(10))
    assert clf.predict_proba(Xt).shape == (len(Xt), 10)
    clf.partial_fit(X[~few], y[~few])
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        clf.partial_fit(X[:10], np.full(10, 11))


def test_warm_start_continues_from_the_fitted_weights():
    X, y, _, _ = digits(500)
    clf = MLPClassifier((32,), max_iter=5, random_state=0, warm_start=True).fit(X, y)
    first = clf.loss_curve_[-1]
    clf.fit(X, y)
    # scikit-learn: n_iter_ counts this fit's epochs, loss_curve_ and t_ go on
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 10 and clf.t_ == 10 * len(X)
    assert clf.loss_curve_[5] < first + 0.05  # no restart from random weights
    cold = MLPClassifier((32,), max_iter=5, random_state=0).fit(X, y)
    assert cold.loss_curve_[0] > clf.loss_curve_[5]
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 5], y[y < 5])
    assert "_checkpoint" in clf.__getstate__()


# ---------------------------------------------------------------------------
# model files: save/load, and the command line both ways
# ---------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    X, y, Xt, _ = load("iris", scale=False)
    clf = MLPClassifier((8,), max_iter=50, random_state=0).fit(X, y)
    clf.save(tmp_path / "iris.safetensors")
    back = MLPClassifier.load(tmp_path / "iris.safetensors")
    assert list(back.classes_) == ["setosa", "versicolor", "virginica"]
    assert np.array_equal(back.predict(Xt), clf.predict(Xt))
    assert np.array_equal(back.predict_proba(Xt), clf.predict_proba(Xt))
    assert back.hidden_layer_sizes == (8,) and back.n_features_in_ == 4
    X, y, Xt, _ = load("diabetes")
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=20, random_state=0).fit(X, y)
    reg.save(tmp_path / "d.safetensors")
    assert np.array_equal(MLPRegressor.load(tmp_path / "d.safetensors").predict(Xt), reg.predict(Xt))
    with pytest.raises(ValueError, match="regressor"):
        MLPClassifier.load(tmp_path / "d.safetensors")
    with pytest.raises(FileNotFoundError):
        MLPClassifier.load(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\0\0")
    with pytest.raises(ValueError, match="truncated"):
        MLPClassifier.load(tmp_path / "bad.safetensors")
    # integer labels keep their dtype through the file
    Xd, yd, _, _ = digits(300)
    d = MLPClassifier((8,), max_iter=3, random_state=0).fit(Xd, yd)
    d.save(tmp_path / "dg.safetensors")
    assert MLPClassifier.load(tmp_path / "dg.safetensors").classes_.dtype == d.classes_.dtype


def cli():
    exe = os.environ.get("BACKPROP_CLI") or str(ROOT / "target" / "release" / "backprop")
    if not Path(exe).exists():
        if shutil.which("cargo") is None:
            pytest.skip("no backprop binary and no cargo to build it")
        subprocess.run(["cargo", "build", "--release", "--bin", "backprop"], cwd=ROOT, check=True)
    return exe


def cli_predictions(exe, model, data, out):
    subprocess.run([exe, "predict", "--model", str(model), "--data", str(data), "--out", str(out)],
                   check=True, capture_output=True)
    return pd.read_csv(out)


def test_a_cli_model_predicts_in_python_as_backprop_predict(tmp_path):
    exe = cli()
    model = tmp_path / "digits.safetensors"
    subprocess.run([exe, "train", "--data", str(DATA / "digits.train.csv"), "--layers", "32",
                    "--epochs", "3", "--quiet", "--out", str(model)], check=True)
    ours = cli_predictions(exe, model, DATA / "digits.test.csv", tmp_path / "p.csv")
    clf = MLPClassifier.load(model)
    te = pd.read_csv(DATA / "digits.test.csv").drop(columns="label")
    assert list(clf.feature_names_in_) == list(te.columns)
    proba = clf.predict_proba(te)
    pred = clf.predict(te)
    assert np.array_equal(pred.astype(str), ours.iloc[:, 0].astype(str).to_numpy()), ours.columns
    probs = ours.iloc[:, 1:].to_numpy(dtype=np.float64)
    assert np.allclose(proba, probs, atol=1e-6), np.abs(proba - probs).max()

    # regression: standardised features and targets, applied by predict
    model = tmp_path / "diabetes.safetensors"
    subprocess.run([exe, "train", "--data", str(DATA / "diabetes.train.csv"), "--head", "mse",
                    "--epochs", "3", "--quiet", "--out", str(model)], check=True)
    ours = cli_predictions(exe, model, DATA / "diabetes.test.csv", tmp_path / "r.csv")
    reg = MLPRegressor.load(model)
    te = pd.read_csv(DATA / "diabetes.test.csv").drop(columns="progression")
    assert np.allclose(reg.predict(te), ours.iloc[:, 0].to_numpy(), rtol=1e-5)


def test_a_python_model_predicts_in_the_cli_as_in_python(tmp_path):
    exe = cli()
    tr = pd.read_csv(DATA / "iris.train.csv")
    te = pd.read_csv(DATA / "iris.test.csv")
    clf = MLPClassifier((8,), max_iter=100, random_state=0).fit(tr.iloc[:, :-1], tr.species)
    assert list(clf.feature_names_in_) == list(tr.columns[:-1])
    clf.save(tmp_path / "iris.safetensors")
    ours = cli_predictions(exe, tmp_path / "iris.safetensors", DATA / "iris.test.csv", tmp_path / "p.csv")
    assert np.array_equal(ours.iloc[:, 0].to_numpy(), clf.predict(te.iloc[:, :-1]))
    assert np.allclose(ours.iloc[:, 1:].to_numpy(np.float64), clf.predict_proba(te.iloc[:, :-1]), atol=1e-6)


# ---------------------------------------------------------------------------
# data in: dtypes and copies, labels, targets, weights
# ---------------------------------------------------------------------------


def test_float32_c_contiguous_input_reaches_the_library_uncopied(monkeypatch):
    seen = []
    real = backprop._estimators._core.fit

    def spy(req, x, **kw):
        seen.append(x)
        return real(req, x, **kw)

    monkeypatch.setattr(backprop._estimators._core, "fit", spy)
    X, y, _, _ = digits(200)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    MLPClassifier((8,), max_iter=2).fit(X32, y)
    assert seen[-1] is X32
    MLPClassifier((8,), max_iter=2).fit(X32.astype(np.float64), y)  # converted once
    assert seen[-1].dtype == np.float32 and seen[-1].flags.c_contiguous
    MLPClassifier((8,), max_iter=2).fit(np.asfortranarray(X32), y)
    assert seen[-1].flags.c_contiguous


def test_string_labels_multilabel_and_multioutput():
    X, y, Xt, yt = load("iris", scale=False)
    clf = MLPClassifier((16,), max_iter=300, random_state=0, learning_rate_init=0.01).fit(X, y)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert clf.score(Xt, yt) > 0.85
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    # multi-label: one sigmoid per column
    Xd, yd, Xdt, ydt = digits()
    Y = np.stack([yd % 2, (yd >= 5).astype(int), (yd == 0).astype(int)], axis=1)
    Yt = np.stack([ydt % 2, (ydt >= 5).astype(int), (ydt == 0).astype(int)], axis=1)
    ml = MLPClassifier((32,), max_iter=50, random_state=0).fit(Xd, Y)
    assert ml.out_activation_ == "logistic" and ml.n_outputs_ == 3
    assert ml.predict(Xdt).shape == Yt.shape and ml.predict(Xdt).dtype == Y.dtype
    assert ml.predict_proba(Xdt).shape == Yt.shape
    assert (ml.predict(Xdt) == Yt).mean() > 0.9
    # binary: one logistic output, probabilities in two columns
    b = MLPClassifier((8,), max_iter=50, random_state=0).fit(Xd, yd % 2 == 0)
    assert b.out_activation_ == "logistic" and b.n_outputs_ == 1
    assert b.predict_proba(Xdt).shape == (len(Xdt), 2) and b.predict(Xdt).dtype == bool
    # multi-output regression
    Xr, yr, Xrt, yrt = load("diabetes")
    Yr = np.stack([yr, -yr / 2], axis=1)
    Yr = (Yr - Yr.mean(0)) / Yr.std(0)
    reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=100, random_state=0).fit(Xr, Yr)
    assert reg.n_outputs_ == 2 and reg.out_activation_ == "identity"
    assert reg.predict(Xrt).shape == (len(Xrt), 2)


def test_fitted_attributes_and_early_stopping():
    X, y, Xt, _ = digits()
    clf = MLPClassifier((32, 16), max_iter=100, random_state=0, early_stopping=True,
                        n_iter_no_change=3).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(64, 32), (32, 16), (16, 10)]
    assert [b.shape for b in clf.intercepts_] == [(32,), (16,), (10,)]
    assert clf.n_layers_ == 4 and clf.n_features_in_ == 64
    assert len(clf.validation_scores_) == clf.n_iter_ < 100
    # t_ counts the training rows only, as scikit-learn's (its split holds
    # out ceil(validation_fraction * n) rows)
    assert clf.t_ == clf.n_iter_ * (len(X) - int(np.ceil(0.1 * len(X))))
    assert clf.best_validation_score_ == max(clf.validation_scores_) and clf.best_loss_ is None
    assert all(0 <= s <= 1 for s in clf.validation_scores_)
    # the best epoch's weights are kept: predicting with coefs_ agrees
    h = X
    for w, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        h = np.maximum(h @ w + b, 0)
    z = h @ clf.coefs_[-1] + clf.intercepts_[-1]
    assert np.array_equal(np.argmax(z, 1), np.argmax(clf.predict_proba(X), 1))
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=50, random_state=0, early_stopping=True).fit(X, y.astype(float))
    assert len(reg.validation_scores_) == reg.n_iter_
    # tol: a loss that stops improving ends the run before max_iter
    quick = MLPClassifier((32,), max_iter=1000, random_state=0, tol=1e-2).fit(X, y)
    assert quick.n_iter_ < 1000 and quick.best_loss_ == min(quick.loss_curve_)


def test_class_weight_sample_weight_dropout_clip_norm():
    X, y, Xt, yt = digits(600)
    base = dict(hidden_layer_sizes=(32,), max_iter=20, random_state=0, learning_rate_init=0.01)
    plain = MLPClassifier(**base).fit(X, y)
    heavy = MLPClassifier(class_weight={0: 50.0}, **base).fit(X, y)
    assert (heavy.predict(Xt) == 0).sum() > (plain.predict(Xt) == 0).sum()
    balanced = MLPClassifier(class_weight="balanced", **base).fit(X, y)
    assert balanced.score(Xt, yt) > 0.8
    w = np.where(y == 0, 50.0, 1.0)
    sw = MLPClassifier(**base).fit(X, y, sample_weight=w)
    assert np.array_equal(sw.coefs_[0], heavy.coefs_[0])  # the same loss, the same bits
    ones = MLPClassifier(**base).fit(X, y, sample_weight=np.ones(len(y)))
    assert np.array_equal(ones.coefs_[0], plain.coefs_[0])
    d = MLPClassifier(dropout=0.3, **base).fit(X, y)
    assert not np.array_equal(d.coefs_[0], plain.coefs_[0]) and d.score(Xt, yt) > 0.8
    c = MLPClassifier(clip_norm=0.01, **base).fit(X, y)
    assert not np.array_equal(c.coefs_[0], plain.coefs_[0])
    with pytest.raises(ValueError, match="class_weight"):
        MLPClassifier(class_weight="heavy", **base).fit(X, y)
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier(**base).fit(X, y, sample_weight=-w)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(solver="lbfgs", max_fun=0), "max_fun"),
        (dict(solver="lbfgs", dropout=0.2), "dropout"),
        (dict(solver="newton"), "solver"),
        (dict(activation="swish"), "activation"),
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
        (dict(learning_rate_init=0.0), "learning_rate_init"),
        (dict(solver="sgd", learning_rate="invscaling", power_t=-1.0), "power_t"),
        (dict(solver="sgd", learning_rate="adaptive"), "early_stopping"),
        (dict(validation_fraction=1.0, early_stopping=True), "validation_fraction"),
        (dict(batch_size=0), "batch_size"),
        (dict(beta_1=1.0), "beta_1"),
        (dict(dropout=1.0), "dropout"),
        (dict(n_threads=0), "n_threads"),
        (dict(max_iter=0), "max_iter"),
        (dict(learning_rate_init=1e30, max_iter=5), "diverged"),
    ],
)
def test_bad_parameters_are_value_errors(params, match):
    X, y, _, _ = digits(200)
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(X, y)


def test_bad_data_are_value_errors():
    X, y, _, _ = digits(200)
    bad = X.copy()
    bad[3, 4] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        MLPClassifier(max_iter=2).fit(bad, y)
    # a NaN is a gap: the training median and a missing flag (allow_nan)
    gap = X.copy()
    gap[3, 4] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert MLPClassifier(max_iter=2).fit(gap, y)._model.prepares_columns
    with pytest.raises(ValueError, match="one class"):
        MLPClassifier(max_iter=2).fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier(max_iter=2).fit(X, np.linspace(0, 1, len(y)))
    clf = MLPClassifier((8,), max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :10])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :10], y)


def test_adaptive_learning_rate_and_verbose(capsys):
    X, y, _, _ = digits(500)
    clf = MLPClassifier((16,), solver="sgd", learning_rate="adaptive", early_stopping=True,
                        learning_rate_init=0.1, max_iter=15, random_state=0, verbose=True).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("Iteration") == clf.n_iter_ and "loss = " in out


def test_regressor_partial_fit_and_feature_names():
    tr = pd.read_csv(DATA / "diabetes.train.csv")
    te = pd.read_csv(DATA / "diabetes.test.csv")
    X, y = tr.drop(columns="progression"), tr.progression / 100
    reg = MLPRegressor(hidden_layer_sizes=(16,), random_state=0, learning_rate_init=0.01)
    for part in np.array_split(np.arange(len(X)), 4):
        reg.partial_fit(X.iloc[part], y.iloc[part])
    # scikit-learn: one epoch per call, the curve and t_ over all the calls
    assert reg.n_iter_ == 1 and len(reg.loss_curve_) == 4 and reg.t_ == len(X)
    assert list(reg.feature_names_in_) == list(X.columns)
    assert reg.predict(te.drop(columns="progression")).shape == (len(te),)
    with pytest.raises(ValueError, match="feature names"):
        reg.predict(te.drop(columns="progression")[list(X.columns[::-1])])


def test_partial_fit_takes_new_settings_between_calls():
    X, y, _, _ = digits(400)
    clf = MLPClassifier((16,), random_state=0, class_weight="balanced")
    clf.partial_fit(X[:100], y[:100], classes=np.arange(10), sample_weight=np.linspace(0.5, 1, 100))
    clf.partial_fit(X[100:250], y[100:250])  # batch 'auto' follows the rows, no weights
    clf.set_params(learning_rate_init=0.01, batch_size=32)
    clf.partial_fit(X[250:], y[250:], sample_weight=np.linspace(1, 2, 150))
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 3 and clf.t_ == 400
    clf.set_params(solver="sgd")
    with pytest.raises(ValueError, match="optimizer"):
        clf.partial_fit(X[:50], y[:50])


def test_fitting_touches_no_file(tmp_path, monkeypatch):
    """fit, partial_fit and predict keep models and checkpoints in memory:
    they work without a temporary folder and write nothing."""
    X, y, Xt, _ = load("breast_cancer")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "no-such-folder"))
    monkeypatch.chdir(tmp_path)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    clf.partial_fit(X, y)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0, warm_start=True)
    reg.fit(X, y.astype(float)).fit(X, y.astype(float))
    assert clf.predict(Xt).shape == (len(Xt),)
    assert list(tmp_path.iterdir()) == []


def test_huge_features_train_although_no_checkpoint_can_hold_the_state():
    """Features near 1e30 overflow Adam's second moment: the model trains
    and predicts; the state, which no checkpoint file could hold, is dropped
    with a warning, and partial_fit continues from the model."""
    rng = np.random.default_rng(0)
    X = (rng.random((60, 2)) * 1e30).astype(np.float32)
    y = (X[:, 0] > X[:, 1]).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with pytest.warns(RuntimeWarning, match="optimizer state cannot be kept"):
        clf.fit(X, y)
    assert np.isfinite(clf.predict_proba(X)).all()
    with pytest.warns(RuntimeWarning, match="optimizer state cannot be kept"):
        clf.partial_fit(X, y)
    assert clf.predict(X).shape == (60,)


def test_verbose_says_why_a_run_stops_as_scikit_learn_does(capsys):
    from sklearn.neural_network import MLPClassifier as Reference

    X, y, _, _ = digits(300)
    for early in (False, True):
        kw = dict(max_iter=200, tol=10.0, n_iter_no_change=2, random_state=0, verbose=True,
                  early_stopping=early)
        MLPClassifier((16,), **kw).fit(X, y)
        ours = capsys.readouterr().out.strip().splitlines()[-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Reference((16,), **kw).fit(X, y)
        theirs = capsys.readouterr().out.strip().splitlines()[-1]
        assert ours == theirs and ours.endswith("Stopping."), (ours, theirs)


def test_coefs_and_intercepts_are_the_model():
    X, y, Xt, yt = digits(600)
    clf = MLPClassifier((32,), random_state=0, max_iter=30).fit(X, y)
    good = clf.score(Xt, yt)
    assert good > 0.8
    # edited in place: the next predict reads them, as scikit-learn's
    clf.coefs_[0][:] = 0.0
    clf.intercepts_[0][:] = 0.0
    assert clf.score(Xt, yt) < 0.2
    # assigned, and carried through a pickle and save/load
    clf.coefs_ = [np.ones_like(w) * 0.01 for w in clf.coefs_]
    p = clf.predict_proba(Xt)
    assert np.allclose(pickle.loads(pickle.dumps(clf)).predict_proba(Xt), p)
    # warm_start and partial_fit continue from the edited weights
    warm = MLPClassifier((32,), random_state=0, max_iter=1, warm_start=True).fit(X, y)
    warm.coefs_ = [np.zeros_like(w) for w in warm.coefs_]
    warm.intercepts_ = [np.zeros_like(b) for b in warm.intercepts_]
    warm.fit(X, y)
    # all-zero weights give ReLU units with no gradient: the hidden layer stays 0
    assert np.all(warm.coefs_[0] == 0)
    part = MLPClassifier((32,), random_state=0).partial_fit(X, y, classes=np.arange(10))
    part.coefs_[0][:] = 0.0
    part.intercepts_[0][:] = 0.0
    part.partial_fit(X, y)
    # from zero, only Adam's momentum moves them: three steps of at most
    # the rate (the unedited weights are of order 0.1)
    ref = MLPClassifier((32,), random_state=0).partial_fit(X, y, classes=np.arange(10))
    ref.partial_fit(X, y)
    assert np.abs(part.coefs_[0]).max() < 0.01 < np.abs(ref.coefs_[0]).max()
    # a wrong shape is refused, naming the attribute
    part.coefs_ = part.coefs_[:1]
    with pytest.raises(ValueError, match="coefs_"):
        part.predict(X)


def test_a_cli_model_is_described_by_its_record_and_preparation(tmp_path):
    exe = cli()
    model = tmp_path / "iris.safetensors"
    subprocess.run([exe, "train", "--data", str(DATA / "iris.train.csv"), "--epochs", "7",
                    "--batch-size", "16", "--seed", "5", "--quiet", "--out", str(model)], check=True)
    clf = MLPClassifier.load(model)
    p = clf.get_params()
    assert (p["max_iter"], p["batch_size"], p["random_state"], p["solver"]) == (7, 16, 5, "adam")
    assert p["learning_rate_init"] == 0.006 and p["shuffle"] is True
    assert p["learning_rate"] == "flat-cos"
    assert clf.loss_ > 0
    # the curves: every epoch's training loss, as the command line printed it
    assert len(clf.loss_curve_) == 7 and clf.loss_curve_[-1] == clf.loss_
    assert clf.best_loss_ == min(clf.loss_curve_)
    # a run resumed from a checkpoint carries the epochs before it
    ckpt = tmp_path / "c.safetensors"
    subprocess.run([exe, "train", "--data", str(DATA / "iris.train.csv"), "--epochs", "3",
                    "--batch-size", "16", "--seed", "5", "--quiet", "--lr-schedule", "constant",
                    "--checkpoint", str(ckpt)], check=True)
    resumed = tmp_path / "resumed.safetensors"
    subprocess.run([exe, "train", "--data", str(DATA / "iris.train.csv"), "--epochs", "7",
                    "--batch-size", "16", "--seed", "5", "--quiet", "--lr-schedule", "constant",
                    "--resume", str(ckpt), "--out", str(resumed)], check=True)
    whole = tmp_path / "whole.safetensors"
    subprocess.run([exe, "train", "--data", str(DATA / "iris.train.csv"), "--epochs", "7",
                    "--batch-size", "16", "--seed", "5", "--quiet", "--lr-schedule", "constant",
                    "--out", str(whole)], check=True)
    curve = MLPClassifier.load(resumed).loss_curve_
    assert len(curve) == 7 and curve == MLPClassifier.load(whole).loss_curve_
    # parameters given to load win over the record
    assert MLPClassifier.load(model, max_iter=3).max_iter == 3
    # coefs_ act on the prepared inputs: the stored standardisation
    pre = clf.preprocessing_
    assert pre["pixel_scale"] is None and pre["target_mean"] is None
    # (a CSV's number columns pass through their encoding as they are)
    te = pd.read_csv(DATA / "iris.test.csv").drop(columns="species")
    h = (te.to_numpy(dtype=np.float32) - pre["mean"]) / pre["std"]
    # the command line's default for a classification: SELU (PyTorch's constants)
    assert clf.activation == "selu"
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    for w, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        z = h @ w + b
        h = lam * np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))
    z = h @ clf.coefs_[-1] + clf.intercepts_[-1]
    z = np.exp(z - z.max(1, keepdims=True))
    assert np.allclose(z / z.sum(1, keepdims=True), clf.predict_proba(te), atol=1e-5)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_alpha_is_divided_by_the_sample_weights_sum(solver):
    # scikit-learn's L2 term is alpha / Σ sample_weight per batch: integer
    # weights fit as the rows repeated, and doubling every weight halves
    # the penalty (so it changes the model, as it does scikit-learn's)
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    X, y = X[::3], y[::3]
    w = np.random.default_rng(0).integers(1, 4, len(y))
    params = dict(alpha=1.0, batch_size=200, max_iter=5, shuffle=False, random_state=0, solver=solver,
                  learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = MLPClassifier(**params).fit(X, y, sample_weight=w)
        repeated = MLPClassifier(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
        doubled = MLPClassifier(**params).fit(X, y, sample_weight=2 * w)
        twice = MLPClassifier(**params).fit(np.repeat(X, 2 * w, axis=0), np.repeat(y, 2 * w))
        uniform = MLPClassifier(**params).fit(X, y, sample_weight=np.full(len(y), 3.0))
        tripled = MLPClassifier(**params).fit(np.repeat(X, 3, axis=0), np.repeat(y, 3))
    for a, b in [(weighted, repeated), (doubled, twice), (uniform, tripled)]:
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            assert np.allclose(p, q, rtol=1e-4, atol=1e-5)
    assert not np.allclose(weighted.coefs_[0], doubled.coefs_[0], rtol=1e-3, atol=1e-4)


def test_invscaling_is_scikit_learns():
    # lr_init / (t_ + 1)^power_t per epoch, t_ the samples seen: power_t 0
    # is the constant rate to the bit; partial_fit's first call is at
    # lr_init, its later ones at lr_init / (t_ + 1)^power_t
    X, y, _, _ = digits(300)
    base = dict(solver="sgd", hidden_layer_sizes=(16,), max_iter=4, random_state=0, learning_rate_init=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        const = MLPClassifier(learning_rate="constant", **base).fit(X, y)
        flat = MLPClassifier(learning_rate="invscaling", power_t=0.0, **base).fit(X, y)
        inv = MLPClassifier(learning_rate="invscaling", power_t=0.5, **base).fit(X, y)
    assert np.array_equal(const.coefs_[0], flat.coefs_[0])
    assert not np.array_equal(const.coefs_[0], inv.coefs_[0])
    classes = np.unique(y)
    a = MLPClassifier(learning_rate="invscaling", power_t=0.5, **base)
    b = MLPClassifier(learning_rate="constant", **base)
    a.partial_fit(X, y, classes=classes)
    b.partial_fit(X, y, classes=classes)
    assert np.array_equal(a.coefs_[0], b.coefs_[0])
    assert a.t_ == len(y)
    a.partial_fit(X, y)
    # the second call of a equals a constant call at the decayed rate from b's state
    b.set_params(learning_rate_init=0.1 / (len(y) + 1) ** 0.5)
    b.partial_fit(X, y)
    assert np.array_equal(a.coefs_[0], b.coefs_[0])


# ----------------------------------------------------------------------
# solver='lbfgs'
# ----------------------------------------------------------------------


def _iris_split():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, random_state=0, stratify=y)


def test_lbfgs_fits_with_scikit_learns_attributes():
    X, Xt, y, yt = _iris_split()
    est = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", backprop._estimators.ConvergenceWarning)
        est.fit(X, y)
    sk = SkClassifier(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=300, random_state=0).fit(X, y)
    assert est.score(Xt, yt) >= sk.score(Xt, yt) - 0.03
    assert 1 <= est.n_iter_ <= 300
    # as scikit-learn: no per-epoch curves, t_ is 0, loss_ is the objective
    for attr in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
        assert not hasattr(est, attr), attr
        assert not hasattr(sk, attr), attr
    assert est.t_ == 0 == sk.t_
    p = est.predict_proba(X).astype(np.float64)
    onehot = (y[:, None] == est.classes_[None, :]).astype(np.float64)
    data_loss = -np.mean(np.sum(onehot * np.log(np.clip(p, 1e-12, 1.0)), axis=1))
    penalty = 0.5 * est.alpha * sum(np.sum(np.square(w, dtype=np.float64)) for w in est.coefs_) / len(X)
    assert est.loss_ == pytest.approx(data_loss + penalty, rel=1e-4)
    # partial_fit belongs to the stochastic solvers, as in scikit-learn
    assert not hasattr(est, "partial_fit") and not hasattr(sk, "partial_fit")
    assert hasattr(MLPClassifier(), "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit"):
        est.partial_fit(X, y)


def test_lbfgs_is_the_same_bits_on_any_thread_count():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    fits = [
        MLPClassifier(solver="lbfgs", max_iter=40, random_state=3, n_threads=t).fit(X, y)
        for t in (1, 2, 3)
    ]
    for f in fits[1:]:
        for a, b in zip(f.coefs_ + f.intercepts_, fits[0].coefs_ + fits[0].intercepts_):
            assert np.array_equal(a, b)
        assert f.loss_ == fits[0].loss_ and f.n_iter_ == fits[0].n_iter_


def test_lbfgs_warns_as_scikit_learn_when_it_stops_short():
    X, _, y, _ = _iris_split()
    with pytest.warns(backprop._estimators.ConvergenceWarning, match="(?s)lbfgs failed to converge.*ITERATIONS"):
        est = MLPClassifier(solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    assert est.n_iter_ == 3
    with pytest.warns(backprop._estimators.ConvergenceWarning, match="EVALUATIONS"):
        est = MLPClassifier(solver="lbfgs", max_fun=4, random_state=0).fit(X, y)
    assert est.n_iter_ < 200


def test_lbfgs_alpha_follows_the_sample_weights_sum():
    X, _, y, _ = _iris_split()
    # weights of 2 halve alpha / Σw: the fit of alpha 0.2 weighted is that of
    # alpha 0.1 unweighted
    a = MLPRegressor(solver="lbfgs", alpha=0.2, max_iter=30, random_state=0)
    a.fit(X, y.astype(float), sample_weight=np.full(len(X), 2.0))
    b = MLPRegressor(solver="lbfgs", alpha=0.1, max_iter=30, random_state=0).fit(X, y.astype(float))
    for u, v in zip(a.coefs_, b.coefs_):
        assert np.array_equal(u, v)
    # unequal weights: integer weights are the rows repeated (two iterations:
    # the sums' order differs, and later iterations would drift apart)
    w = np.where(np.arange(len(X)) % 3 == 0, 2.0, 1.0)
    rep = np.repeat(np.arange(len(X)), w.astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = MLPRegressor(solver="lbfgs", alpha=20.0, max_iter=2, random_state=0)
        c.fit(X, y.astype(float), sample_weight=w)
        d = MLPRegressor(solver="lbfgs", alpha=20.0, max_iter=2, random_state=0)
        d.fit(X[rep], y[rep].astype(float))
    np.testing.assert_allclose(c.predict(X), d.predict(X), rtol=1e-4, atol=1e-5)


def test_a_cli_lbfgs_model_loads_with_its_solver(tmp_path):
    model = tmp_path / "lbfgs.safetensors"
    subprocess.run([cli(), "train", "--data", str(DATA / "iris.train.csv"), "--optimizer", "lbfgs",
                    "--epochs", "40", "--max-fun", "500", "--gtol", "1e-5", "--quiet", "--out", str(model)],
                   check=True)
    clf = MLPClassifier.load(model)
    p = clf.get_params()
    assert (p["solver"], p["max_iter"], p["max_fun"], p["tol"]) == ("lbfgs", clf.n_iter_, 500, 1e-5)
    assert clf.n_iter_ <= 40
    # as a fitted lbfgs estimator: no per-epoch curve
    assert not hasattr(clf, "loss_curve_") and not hasattr(clf, "best_loss_")


def test_lbfgs_warm_start_continues_from_the_weights():
    X, _, y, _ = _iris_split()
    est = MLPClassifier(solver="lbfgs", max_iter=5, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
        first = est.loss_
        est.fit(X, y)
    assert est.loss_ < first


# ----------------------------------------------------------------------
# loss='poisson'
# ----------------------------------------------------------------------


def _counts(n, seed):
    r = np.random.default_rng(seed)
    X = r.uniform(-1, 1, (n, 3))
    return X, r.poisson(np.exp(1 + 0.8 * X[:, 0] - 0.5 * X[:, 1])).astype(float)


def _half_deviance(y, a):
    ylny = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / a), 0.0)
    return float(np.mean(ylny - y + a))


def test_poisson_loss_fits_counts_as_scikit_learn():
    X, y = _counts(2000, 0)
    Xt, yt = _counts(1000, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPRegressor(loss="poisson", random_state=0).fit(X, y)
        sk = SkRegressor(loss="poisson", random_state=0).fit(X, y)
    assert est.out_activation_ == "exp" == sk.out_activation_
    p = est.predict(Xt)
    assert np.all(p > 0)
    ours, theirs = _half_deviance(yt, p), _half_deviance(yt, sk.predict(Xt))
    constant = _half_deviance(yt, np.full_like(yt, y.mean()))
    assert ours < 0.8 * constant and ours <= theirs * 1.05, (ours, theirs, constant)
    assert est.get_params()["loss"] == "poisson"
    # the signature is scikit-learn's: loss comes first
    import inspect

    assert list(inspect.signature(MLPRegressor).parameters)[:3] == ["loss", "hidden_layer_sizes", "activation"]


def test_poisson_lbfgs_loss_is_the_half_deviance_plus_the_penalty():
    X, y = _counts(500, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPRegressor(loss="poisson", solver="lbfgs", max_iter=50, random_state=0).fit(X, y)
    penalty = 0.5 * est.alpha * sum(np.sum(np.square(w, dtype=np.float64)) for w in est.coefs_) / len(X)
    assert est.loss_ == pytest.approx(_half_deviance(y, est.predict(X)) + penalty, rel=1e-4)


def test_poisson_loss_refuses_negative_targets_and_other_losses():
    X, y = _counts(50, 3)
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, y - 1.0)
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="huber").fit(X, y)
