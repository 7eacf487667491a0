//! ONNX export: a model or an ensemble, with its stored preparation, as one
//! ONNX graph (opset 17) that ONNX Runtime and other ONNX engines run.
//!
//! The graph takes one float input `input` of shape `[N, k]` and gives one
//! float output `output` of shape `[N, n_out]`: what `backprop predict`
//! computes, the class probabilities of a classifier or the values of a
//! regressor in the targets' units (an ensemble: the mean of its
//! members'). Its inputs are
//!
//! - for a model that reads a table's columns: one per number column of the
//!   training file (ignored columns left out), in file order, a gap given
//!   as NaN (it takes the training median, and the column's "missing" input
//!   is set where the model has one). Text columns (categories, booleans,
//!   dates) are not supported: their levels would need string inputs, and
//!   the export refuses such a model, naming the column;
//! - otherwise the model's features as they are (raw pixels included: the
//!   stored pixel scale is applied).
//!
//! Then come the stored standardisation, each layer as a `Gemm` (`W_l`
//! transposed) and its activation (`Selu` with PyTorch's constants; SiLU,
//! exact GELU and Mish written out with `Sigmoid`, `Erf`, `Softplus` and
//! `Tanh`), the head's output activation (`Sigmoid`, `Softmax` over each
//! row, identity, `Exp`), and the targets' units for a standardised
//! regression. The model's names (inputs, classes, targets) are in the
//! file's `metadata_props`, keys `backprop.*`.

mod file;
mod graph;
pub mod proto;

pub use file::{to_bytes, write};
pub use graph::{input_names, IR_VERSION, OPSET};
