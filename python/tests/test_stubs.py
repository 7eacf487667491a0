"""The package's type stubs (`backprop/*.pyi`, with `py.typed`): each
class's and function's signature in the stubs is the runtime's (the same
parameters, in the same order, of the same kinds, with defaults where the
runtime has them), every method a stub declares exists, and `mypy --strict`
passes on `python/examples/typed.py` and fails on a misuse (skipped, with
the reason, when mypy is not installed)."""

import ast
import importlib
import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import backprop

PACKAGE = Path(backprop.__file__).parent
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "typed.py"


def stub_defs():
    """(qualified name, ast.FunctionDef) of every function in the stubs."""
    for stub in sorted(PACKAGE.glob("*.pyi")):
        tree = ast.parse(stub.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                yield stub.name, node.name, None, node
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        yield stub.name, item.name, node.name, item


def stub_params(fn):
    a = fn.args
    params = [(p.arg, "positional") for p in a.posonlyargs + a.args]
    if a.vararg:
        params.append((a.vararg.arg, "var_positional"))
    params += [(p.arg, "keyword") for p in a.kwonlyargs]
    if a.kwarg:
        params.append((a.kwarg.arg, "var_keyword"))
    n_defaults = len(a.defaults)
    positional = a.posonlyargs + a.args
    with_default = {p.arg for p in positional[len(positional) - n_defaults :]}
    with_default |= {p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None}
    return params, with_default


KIND = {
    inspect.Parameter.POSITIONAL_ONLY: "positional",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}


def test_the_stubs_are_shipped_and_cover_the_public_names():
    assert (PACKAGE / "py.typed").exists()
    init = ast.parse((PACKAGE / "__init__.pyi").read_text())
    exported = {a.asname for node in init.body if isinstance(node, ast.ImportFrom) for a in node.names}
    assert exported == set(backprop.__all__) - {"__version__"}


@pytest.mark.parametrize("stub, name, owner, fn", list(stub_defs()), ids=lambda v: getattr(v, "name", v))
def test_each_stub_signature_is_the_runtimes(stub, name, owner, fn):
    module = importlib.import_module(f"backprop.{stub[:-4]}") if stub != "__init__.pyi" else backprop
    if owner is None:
        target = getattr(module, name)
    else:
        target = inspect.getattr_static(getattr(module, owner), name)
        if isinstance(target, (classmethod, staticmethod)):
            target = target.__func__
        # scikit-learn's available_if (partial_fit, for the stochastic
        # solvers alone) wraps the method in a descriptor
        target = getattr(target, "fn", target)
    assert callable(target), f"{owner}.{name} is not a method at runtime"
    params, with_default = stub_params(fn)
    runtime = inspect.signature(target)
    got = [(p.name, KIND[p.kind]) for p in runtime.parameters.values()]
    assert params == got, f"{stub}: {owner}.{name}: stub {params} against runtime {got}"
    runtime_defaults = {p.name for p in runtime.parameters.values() if p.default is not inspect.Parameter.empty}
    assert with_default == runtime_defaults, f"{stub}: {owner}.{name}: defaults"


def mypy(path):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install mypy): the stubs are not type-checked")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
        capture_output=True,
        text=True,
    )


def test_mypy_strict_passes_on_the_example():
    out = mypy(EXAMPLE)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_catches_a_misuse(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from backprop import MLPClassifier\n"
        "clf = MLPClassifier(max_iter='many')\n"
        "n: int = clf.predict_proba([[1.0]])\n"
    )
    out = mypy(bad)
    assert out.returncode != 0
    assert 'Argument "max_iter"' in out.stdout and "Incompatible types in assignment" in out.stdout


def test_the_example_runs():
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
