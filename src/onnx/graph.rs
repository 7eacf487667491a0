//! The ONNX graph of an ensemble: the preparation, the layers, the head and
//! the mean over the members, node by node.

use crate::activation::{Activation, Head};
use crate::data::{TableEncoding, Treatment};
use crate::error::{Error, Result};
use crate::meta::ModelMeta;
use crate::model_io::{Ensemble, SavedModel};

use super::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto,
    ValueInfoProto, ATTR_FLOAT, ATTR_INT, FLOAT, INT64,
};

/// The ONNX operator set the graph uses (every operator in it is in the
/// default domain at this version).
pub const OPSET: i64 = 17;
/// The ONNX IR version of the file (the one of opset 17).
pub const IR_VERSION: i64 = 8;

/// PyTorch's SELU constants (`torch.nn.SELU`).
const SELU_ALPHA: f32 = 1.673_263_2;
const SELU_GAMMA: f32 = 1.050_701;

/// The graph's input columns: a table model's number columns (ignored ones
/// left out), else the model's features.
///
/// # Errors
/// [`Error::Config`] (option `onnx`) naming a text, boolean or date column.
pub fn input_names(meta: &ModelMeta) -> Result<Vec<String>> {
    match &meta.columns {
        Some(enc) => Ok(number_columns(enc)?
            .into_iter()
            .map(|(name, ..)| name.to_string())
            .collect()),
        None => Ok(meta.feature_names.clone()),
    }
}

/// The used columns of `enc`: name, median, whether a "missing" input
/// follows. Any column that is not a number is refused.
fn number_columns(enc: &TableEncoding) -> Result<Vec<(&str, f32, bool)>> {
    let mut used = Vec::new();
    for c in &enc.columns {
        match &c.treatment {
            Treatment::Number { median, indicator } => {
                used.push((c.name.as_str(), *median, *indicator))
            }
            Treatment::Ignored(_) => {}
            t => {
                return Err(Error::config(
                    "onnx",
                    format!(
                        "column '{}' is a {} column: its text would need a string input, which \
                         the ONNX export does not write yet (number columns only)",
                        c.name,
                        t.kind().name()
                    ),
                ))
            }
        }
    }
    Ok(used)
}

/// The nodes and constants being written; names are made unique by a counter.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    constants: Vec<TensorProto>,
    count: usize,
}

impl Graph {
    fn name(&mut self, hint: &str) -> String {
        self.count += 1;
        format!("{hint}_{}", self.count)
    }

    /// A float constant of shape `dims`.
    fn floats(&mut self, hint: &str, dims: &[usize], data: Vec<f32>) -> String {
        let name = self.name(hint);
        self.constants.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            float_data: data,
            name: name.clone(),
            ..TensorProto::default()
        });
        name
    }

    /// A 1-D int64 constant.
    fn ints(&mut self, hint: &str, data: Vec<i64>) -> String {
        let name = self.name(hint);
        self.constants.push(TensorProto {
            dims: vec![data.len() as i64],
            data_type: INT64,
            int64_data: data,
            name: name.clone(),
            ..TensorProto::default()
        });
        name
    }

    /// A node `op` on `inputs` with `attrs`; returns its output's name.
    fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.name(&op.to_lowercase());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name: out.clone(),
            op_type: op.to_string(),
            attribute: attrs,
        });
        out
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        i,
        r#type: ATTR_INT,
        ..AttributeProto::default()
    }
}

fn float_attr(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        f,
        r#type: ATTR_FLOAT,
        ..AttributeProto::default()
    }
}

/// A table's number columns as the network's inputs: a gap (NaN) takes the
/// median, and each column with a "missing" input gets it (1 where NaN),
/// right after the column's own.
fn columns(g: &mut Graph, enc: &TableEncoding, x: &str) -> Result<String> {
    let used = number_columns(enc)?;
    let medians = g.floats("median", &[used.len()], used.iter().map(|c| c.1).collect());
    let nan = g.op("IsNaN", &[x], vec![]);
    let filled = g.op("Where", &[&nan, &medians, x], vec![]);
    let flagged: Vec<i64> = (0..used.len())
        .filter(|&i| used[i].2)
        .map(|i| i as i64)
        .collect();
    if flagged.is_empty() {
        return Ok(filled);
    }
    let idx = g.ints("flagged", flagged);
    let picked = g.op("Gather", &[&nan, &idx], vec![int_attr("axis", 1)]);
    let flags = g.op("Cast", &[&picked], vec![int_attr("to", i64::from(FLOAT))]);
    let both = g.op("Concat", &[&filled, &flags], vec![int_attr("axis", 1)]);
    // each column's value, then its flag where it has one
    let mut order = Vec::new();
    let mut next_flag = used.len() as i64;
    for (i, c) in used.iter().enumerate() {
        order.push(i as i64);
        if c.2 {
            order.push(next_flag);
            next_flag += 1;
        }
    }
    let order = g.ints("order", order);
    Ok(g.op("Gather", &[&both, &order], vec![int_attr("axis", 1)]))
}

/// A hidden activation on `x`.
fn activation(g: &mut Graph, act: Activation, x: &str) -> String {
    match act {
        Activation::Identity => x.to_string(),
        Activation::Sigmoid => g.op("Sigmoid", &[x], vec![]),
        Activation::Tanh => g.op("Tanh", &[x], vec![]),
        Activation::Relu => g.op("Relu", &[x], vec![]),
        Activation::Selu => g.op(
            "Selu",
            &[x],
            vec![
                float_attr("alpha", SELU_ALPHA),
                float_attr("gamma", SELU_GAMMA),
            ],
        ),
        Activation::Silu => {
            let s = g.op("Sigmoid", &[x], vec![]);
            g.op("Mul", &[x, &s], vec![])
        }
        Activation::Gelu => {
            // x · ½(1 + erf(x/√2))
            let c = g.floats("inv_sqrt2", &[], vec![std::f32::consts::FRAC_1_SQRT_2]);
            let t = g.op("Mul", &[x, &c], vec![]);
            let e = g.op("Erf", &[&t], vec![]);
            let one = g.floats("one", &[], vec![1.0]);
            let a = g.op("Add", &[&e, &one], vec![]);
            let half = g.floats("half", &[], vec![0.5]);
            let h = g.op("Mul", &[&a, &half], vec![]);
            g.op("Mul", &[x, &h], vec![])
        }
        Activation::Mish => {
            let sp = g.op("Softplus", &[x], vec![]);
            let t = g.op("Tanh", &[&sp], vec![]);
            g.op("Mul", &[x, &t], vec![])
        }
    }
}

/// One member from the graph's input to its outputs (in the targets' units).
fn member(g: &mut Graph, m: &SavedModel, input: &str) -> Result<String> {
    let (mlp, meta) = (&m.mlp, &m.meta);
    let mut x = match &meta.columns {
        Some(enc) => columns(g, enc, input)?,
        None => input.to_string(),
    };
    if let Some(s) = meta.pixel_scale {
        let c = g.floats("pixel_scale", &[], vec![s]);
        x = g.op("Div", &[&x, &c], vec![]);
    }
    if let Some(s) = &meta.standardizer {
        let mean = g.floats("mean", &[s.mean.len()], s.mean.clone());
        let std = g.floats("std", &[s.std.len()], s.std.clone());
        let centred = g.op("Sub", &[&x, &mean], vec![]);
        x = g.op("Div", &[&centred, &std], vec![]);
    }
    let layers = mlp.num_layers();
    for l in 0..layers {
        let (n_in, n_out) = (mlp.sizes()[l], mlp.sizes()[l + 1]);
        let w = g.floats("weight", &[n_out, n_in], mlp.weights(l).to_vec());
        let b = g.floats("bias", &[n_out], mlp.bias(l).to_vec());
        x = g.op("Gemm", &[&x, &w, &b], vec![int_attr("transB", 1)]);
        if l + 1 < layers {
            x = activation(g, mlp.hidden()[l], &x);
        }
    }
    x = match mlp.head() {
        Head::SigmoidBce => g.op("Sigmoid", &[&x], vec![]),
        Head::SoftmaxCe => g.op("Softmax", &[&x], vec![int_attr("axis", 1)]),
        Head::Mse => x,
        Head::Poisson => g.op("Exp", &[&x], vec![]),
    };
    if let Some(s) = &meta.target_standardizer {
        let std = g.floats("target_std", &[s.std.len()], s.std.clone());
        let mean = g.floats("target_mean", &[s.mean.len()], s.mean.clone());
        let scaled = g.op("Mul", &[&x, &std], vec![]);
        x = g.op("Add", &[&scaled, &mean], vec![]);
    }
    Ok(x)
}

/// A float tensor `[N, width]` named `name` (`N` the rows, named `rows`).
fn value_info(name: &str, width: usize) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        Dimension {
                            dim_value: None,
                            dim_param: Some("rows".to_string()),
                        },
                        Dimension {
                            dim_value: Some(width as i64),
                            dim_param: None,
                        },
                    ],
                }),
            }),
        }),
    }
}

/// The model file of `ensemble`.
pub(super) fn model(ensemble: &Ensemble) -> Result<ModelProto> {
    let first = ensemble.first();
    let names = input_names(&first.meta)?;
    let mut g = Graph::default();
    let outs = ensemble
        .members
        .iter()
        .map(|m| member(&mut g, m, "input"))
        .collect::<Result<Vec<String>>>()?;
    let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
    g.op(
        if refs.len() == 1 { "Identity" } else { "Mean" },
        &refs,
        vec![],
    );
    // the last node's output is the graph's
    if let Some(node) = g.nodes.last_mut() {
        node.output = vec!["output".to_string()];
    }
    let width = match &first.meta.columns {
        Some(_) => names.len(),
        None => first.mlp.inputs(),
    };
    let meta = &first.meta;
    let json = |v: &[String]| serde_json::to_string(v).expect("strings serialise");
    let mut props = vec![
        ("backprop.head", first.mlp.head().name().to_string()),
        ("backprop.members", ensemble.members.len().to_string()),
        ("backprop.input_columns", json(&names)),
        ("backprop.target_names", json(&meta.target_names)),
    ];
    if let Some(c) = &meta.class_names {
        props.push(("backprop.class_names", json(c)));
    }
    if let Some(p) = &meta.positive_class {
        props.push(("backprop.positive_class", p.clone()));
    }
    Ok(ModelProto {
        ir_version: IR_VERSION,
        producer_name: "backprop".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        doc_string: "a backprop model with its preparation".to_string(),
        graph: Some(GraphProto {
            node: g.nodes,
            name: "backprop".to_string(),
            initializer: g.constants,
            doc_string: String::new(),
            input: vec![value_info("input", width)],
            output: vec![value_info("output", first.mlp.outputs())],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        metadata_props: props
            .into_iter()
            .map(|(key, value)| StringStringEntryProto {
                key: key.to_string(),
                value,
            })
            .collect(),
    })
}
