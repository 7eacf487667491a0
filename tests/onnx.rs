//! ONNX export (`backprop::onnx`, `backprop export --onnx`): the file
//! decodes to the graph the docs describe, and a small `f64` evaluator of
//! its operators (ONNX's definitions written out here) gives the model's
//! predictions for every head, activation and preparation. The same graphs
//! run under ONNX Runtime in `python/tests/test_onnx.py`.

use std::collections::HashMap;

use backprop::fit::{DataSource, FitSpec};
use backprop::model_io::{Ensemble, SavedModel};
use backprop::onnx::proto::{ModelProto, NodeProto, TensorProto};
use backprop::{Activation, Error, Head};
use prost::Message;

mod common;

/// A tensor: shape and values (row-major).
#[derive(Clone, Debug)]
struct T {
    shape: Vec<usize>,
    v: Vec<f64>,
}

impl T {
    fn map(&self, f: impl Fn(f64) -> f64) -> T {
        T {
            shape: self.shape.clone(),
            v: self.v.iter().map(|&x| f(x)).collect(),
        }
    }
}

/// `a ∘ b` with ONNX's (numpy's) broadcasting of a scalar, a row `[k]`
/// or a full `[n, k]` operand.
fn zip(a: &T, b: &T, f: impl Fn(f64, f64) -> f64) -> T {
    let (big, small, swap) = if a.v.len() >= b.v.len() {
        (a, b, false)
    } else {
        (b, a, true)
    };
    let v = big
        .v
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let y = small.v[i % small.v.len()];
            if swap {
                f(y, x)
            } else {
                f(x, y)
            }
        })
        .collect();
    T {
        shape: big.shape.clone(),
        v,
    }
}

fn attr(n: &NodeProto, name: &str) -> Option<(f32, i64)> {
    n.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| (a.f, a.i))
}

fn tensor(t: &TensorProto) -> T {
    let v = if t.data_type == 1 {
        t.float_data.iter().map(|&x| f64::from(x)).collect()
    } else {
        t.int64_data.iter().map(|&x| x as f64).collect()
    };
    T {
        shape: t.dims.iter().map(|&d| d as usize).collect(),
        v,
    }
}

/// Column gather along axis 1 of an `[n, k]` tensor.
fn gather(x: &T, idx: &T) -> T {
    let (n, k) = (x.shape[0], x.shape[1]);
    let cols: Vec<usize> = idx.v.iter().map(|&i| i as usize).collect();
    let mut v = Vec::with_capacity(n * cols.len());
    for r in 0..n {
        v.extend(cols.iter().map(|&c| x.v[r * k + c]));
    }
    T {
        shape: vec![n, cols.len()],
        v,
    }
}

/// Evaluates the graph on `x` (`[n, k]`), the operators as ONNX defines them.
fn run(model: &ModelProto, x: T) -> T {
    let g = model.graph.as_ref().unwrap();
    let mut env: HashMap<String, T> = g
        .initializer
        .iter()
        .map(|t| (t.name.clone(), tensor(t)))
        .collect();
    env.insert("input".into(), x);
    for n in &g.node {
        let i = |k: usize| env[&n.input[k]].clone();
        let out = match n.op_type.as_str() {
            "Identity" => i(0),
            "Add" => zip(&i(0), &i(1), |a, b| a + b),
            "Sub" => zip(&i(0), &i(1), |a, b| a - b),
            "Mul" => zip(&i(0), &i(1), |a, b| a * b),
            "Div" => zip(&i(0), &i(1), |a, b| a / b),
            "Relu" => i(0).map(|a| a.max(0.0)),
            "Sigmoid" => i(0).map(|a| 1.0 / (1.0 + (-a).exp())),
            "Tanh" => i(0).map(f64::tanh),
            "Exp" => i(0).map(f64::exp),
            "Erf" => i(0).map(libm::erf),
            "Softplus" => i(0).map(|a| a.exp().ln_1p()),
            "Selu" => {
                let (alpha, _) = attr(n, "alpha").unwrap();
                let (gamma, _) = attr(n, "gamma").unwrap();
                let (alpha, gamma) = (f64::from(alpha), f64::from(gamma));
                i(0).map(|a| gamma * if a > 0.0 { a } else { alpha * (a.exp() - 1.0) })
            }
            "IsNaN" => i(0).map(|a| f64::from(u8::from(a.is_nan()))),
            "Cast" => i(0),
            "Where" => {
                let (c, a, b) = (i(0), i(1), i(2));
                let picked = zip(&c, &a, |c, a| if c != 0.0 { a } else { f64::NAN });
                zip(&picked, &b, |p, b| if p.is_nan() { b } else { p })
            }
            "Gather" => gather(&i(0), &i(1)),
            "Concat" => {
                let (a, b) = (i(0), i(1));
                let n = a.shape[0];
                let (ka, kb) = (a.shape[1], b.shape[1]);
                let mut v = Vec::new();
                for r in 0..n {
                    v.extend_from_slice(&a.v[r * ka..(r + 1) * ka]);
                    v.extend_from_slice(&b.v[r * kb..(r + 1) * kb]);
                }
                T {
                    shape: vec![n, ka + kb],
                    v,
                }
            }
            "Gemm" => {
                assert_eq!(attr(n, "transB").unwrap().1, 1);
                let (a, w, b) = (i(0), i(1), i(2));
                let (m, k, o) = (a.shape[0], a.shape[1], w.shape[0]);
                let mut v = vec![0.0; m * o];
                for r in 0..m {
                    for j in 0..o {
                        v[r * o + j] =
                            b.v[j] + (0..k).map(|c| a.v[r * k + c] * w.v[j * k + c]).sum::<f64>();
                    }
                }
                T {
                    shape: vec![m, o],
                    v,
                }
            }
            "Softmax" => {
                let a = i(0);
                let k = a.shape[1];
                let mut v = a.v.clone();
                for row in v.chunks_mut(k) {
                    let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let s: f64 = row.iter().map(|z| (z - max).exp()).sum();
                    row.iter_mut().for_each(|z| *z = (*z - max).exp() / s);
                }
                T { shape: a.shape, v }
            }
            "Mean" => {
                let all: Vec<T> = (0..n.input.len()).map(i).collect();
                let mut acc = all[0].clone();
                for t in &all[1..] {
                    acc = zip(&acc, t, |a, b| a + b);
                }
                acc.map(|a| a / all.len() as f64)
            }
            op => panic!("the graph holds an operator this evaluator lacks: {op}"),
        };
        env.insert(n.output[0].clone(), out);
    }
    env.remove("output").expect("the graph's output")
}

/// Writes `dir/t.csv`: number columns `a` (with gaps), `b`, `c` and the
/// label `y` of the head's kind.
fn write_table(dir: &std::path::Path, head: Head) -> std::path::PathBuf {
    let mut text = String::from("a,b,c,y\n");
    for i in 0..200u32 {
        let [a, b, c] =
            [1u32, 2, 3].map(|k| ((i * 7919 + k * 104_729) % 1000) as f32 / 100.0 - 5.0);
        let a_text = if i % 17 == 3 {
            String::new()
        } else {
            a.to_string()
        };
        let s = a / 3.0 + b / 5.0 - c / 7.0;
        let y = match head {
            Head::SigmoidBce => (if s > 0.0 { "yes" } else { "no" }).to_string(),
            Head::SoftmaxCe => (if s < -1.0 {
                "lo"
            } else if s < 1.0 {
                "mid"
            } else {
                "hi"
            })
            .to_string(),
            Head::Mse => format!("{}", 100.0 + 20.0 * s),
            Head::Poisson => format!("{}", (s + 3.0).max(0.0).round()),
        };
        text.push_str(&format!("{a_text},{b},{c},{y}\n"));
    }
    let path = dir.join("t.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// The table's number columns as the graph takes them (gaps as NaN).
fn inputs(path: &std::path::Path) -> T {
    let text = std::fs::read_to_string(path).unwrap();
    let mut v = Vec::new();
    for line in text.lines().skip(1) {
        for cell in line.split(',').take(3) {
            v.push(cell.parse::<f64>().unwrap_or(f64::NAN));
        }
    }
    let n = v.len() / 3;
    T {
        shape: vec![n, 3],
        v,
    }
}

/// What `backprop predict` computes for the rows of `path`: the file read
/// as the model reads it, then the ensemble's outputs.
fn predictions(e: &Ensemble, path: &std::path::Path) -> Vec<f32> {
    let meta = &e.first().meta;
    let opts = backprop::pipeline::ReadOverrides::default().model_options(meta, false);
    let raw = backprop::data::load(path, &opts).unwrap();
    let rows = raw.x.rows();
    e.predict(raw.x.as_slice(), rows)
        .unwrap()
        .as_slice()
        .to_vec()
}

fn trained(
    dir: &std::path::Path,
    head: Head,
    act: Activation,
    ensemble: usize,
) -> (Ensemble, T, Vec<f32>) {
    let data = write_table(dir, head);
    let spec = FitSpec {
        data: DataSource::File(data.clone()),
        head: Some(head),
        activation: Some(act),
        hidden_layers: Some(vec![12, 6]),
        epochs: 3,
        threads: 1,
        ..FitSpec::default()
    };
    let members: Vec<SavedModel> = (0..ensemble as u64)
        .map(|k| {
            let out = FitSpec {
                seed: Some(7 + k),
                ..spec.clone()
            }
            .fit()
            .unwrap();
            SavedModel {
                mlp: out.mlp,
                meta: out.meta,
            }
        })
        .collect();
    let e = Ensemble { members };
    let want = predictions(&e, &data);
    (e, inputs(&data), want)
}

fn check(e: &Ensemble, x: T, want: &[f32], label: &str) {
    let bytes = backprop::onnx::to_bytes(e).unwrap();
    let model = ModelProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(model.opset_import[0].version, backprop::onnx::OPSET);
    let out = run(&model, x);
    assert_eq!(out.v.len(), want.len(), "{label}");
    for (j, (&g, &w)) in out.v.iter().zip(want).enumerate() {
        let w = f64::from(w);
        assert!(
            (g - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{label}: output {j}: graph {g} against predict {w}"
        );
    }
}

#[test]
fn every_head_and_activation_gives_the_models_predictions() {
    let dir = tempfile::tempdir().unwrap();
    for head in Head::ALL {
        for act in Activation::ALL {
            let (e, x, want) = trained(dir.path(), head, act, 1);
            check(&e, x, &want, &format!("{head} {act}"));
        }
    }
}

#[test]
fn an_ensemble_is_the_mean_of_its_members() {
    let dir = tempfile::tempdir().unwrap();
    let (e, x, want) = trained(dir.path(), Head::Mse, Activation::Selu, 3);
    let model = ModelProto::decode(backprop::onnx::to_bytes(&e).unwrap().as_slice()).unwrap();
    let g = model.graph.as_ref().unwrap();
    assert_eq!(g.node.last().unwrap().op_type, "Mean");
    assert_eq!(g.node.last().unwrap().input.len(), 3);
    check(&e, x, &want, "ensemble");
}

#[test]
fn the_file_names_its_inputs_and_classes_and_refuses_text_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (e, ..) = trained(dir.path(), Head::SoftmaxCe, Activation::Relu, 1);
    let model = ModelProto::decode(backprop::onnx::to_bytes(&e).unwrap().as_slice()).unwrap();
    let props: HashMap<&str, &str> = model
        .metadata_props
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(props["backprop.input_columns"], r#"["a","b","c"]"#);
    assert_eq!(props["backprop.class_names"], r#"["hi","lo","mid"]"#);
    assert_eq!(props["backprop.head"], "softmax");
    // a category column: refused, naming it, and nothing written
    let data = dir.path().join("text.csv");
    std::fs::write(
        &data,
        "a,town,y\n1,north,x\n2,south,y\n3,north,x\n4,south,y\n",
    )
    .unwrap();
    let out = FitSpec {
        data: DataSource::File(data),
        epochs: 1,
        ..FitSpec::default()
    }
    .fit()
    .unwrap();
    let e = Ensemble {
        members: vec![SavedModel {
            mlp: out.mlp,
            meta: out.meta,
        }],
    };
    let path = dir.path().join("m.onnx");
    let err = backprop::onnx::write(&path, &e).unwrap_err();
    assert!(
        matches!(&err, Error::Config { option, .. } if *option == "onnx"),
        "{err}"
    );
    assert!(err.to_string().contains("'town'"), "{err}");
    assert!(!path.exists());
}

#[test]
fn the_command_line_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_table(dir.path(), Head::SigmoidBce);
    let model = dir.path().join("m.safetensors");
    common::bin()
        .args(["train", "--epochs", "2", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    let onnx = dir.path().join("m.onnx");
    let text = common::stdout_of(
        common::bin()
            .args(["export", "--model"])
            .arg(&model)
            .arg("--onnx")
            .arg(&onnx),
    );
    assert!(
        text.contains("input 'input' [rows, 3]") && text.contains("[rows, 1]"),
        "{text}"
    );
    let bytes = std::fs::read(&onnx).unwrap();
    assert!(ModelProto::decode(bytes.as_slice()).is_ok());
}
