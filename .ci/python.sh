#!/usr/bin/env bash
# The Python package (python/): a fresh virtual environment with maturin,
# numpy, scikit-learn, pandas, pytest, mypy, onnx and onnxruntime; the package built and installed by
# `pip install ./python` (maturin builds the wheel); then its pytest suite,
# scikit-learn's estimator checks included. The model-file round trips run
# the command line's release build (`cargo build --release`, done already by
# the root's `cargo test --release`).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -q --upgrade pip
# the versions the suite was last run with (scikit-learn's checks change
# between releases); the package itself asks for numpy>=1.23, scikit-learn>=1.6
"$py" -m pip install -q maturin==1.16.0 numpy==2.4.6 scikit-learn==1.9.1 pandas==3.1.1 pytest==9.2.0 mypy==2.4.1
# the ONNX export's checks run the graphs (python/tests/test_onnx.py skips
# itself without these)
"$py" -m pip install -q onnx==1.23.2 onnxruntime==1.32.0
echo "== the Python crate: cargo fmt --check, cargo clippy -D warnings"
(cd python && cargo fmt --check && PYO3_PYTHON="$py" cargo clippy -q --all-targets -- -D warnings)
echo "== pip install ./python"
"$py" -m pip install -q ./python
echo "== the command line for the round trips"
cargo build --release --bin backprop -q
echo "== pytest python/tests"
# run from the root with the venv's pytest, so that `import backprop` is the
# installed package, not the source folder
BACKPROP_CLI="$PWD/target/release/backprop" "$work/venv/bin/pytest" -q -p no:cacheprovider python/tests
echo "python package: $((SECONDS - start)) s"
