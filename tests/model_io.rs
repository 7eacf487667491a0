//! Model files and checkpoints: exact round trips, every corruption reported
//! with a clear message, atomic writes, bit-exact resume, and no panic or
//! unbounded allocation on any bytes.
//!
//! `BACKPROP_BLESS=1 cargo test --release --test model_io` rewrites the
//! fixtures in `tests/fixtures/models/` (only needed after a format change).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use backprop::data::{embedded, Standardizer};
use backprop::model_io::{self, Checkpoint, CheckpointConfig, ModelMeta, SavedModel};
use backprop::optim::OptimizerConfig;
use backprop::schedule::{LrSchedule, PlateauState};
use backprop::train::{EpochProgress, TrainerState};
use backprop::{Activation, Error, Head, Mlp, RngState, TrainConfig, Trainer};
use proptest::prelude::*;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

// ---------------------------------------------------------------------------
// A per-thread peak-allocation meter (tests run on several threads).
// ---------------------------------------------------------------------------

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::peak_heap;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// The stated bound: loading `len` bytes never holds more than this on the heap.
fn alloc_bound(len: usize) -> usize {
    40 * len + (1 << 20)
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const SRC: &str = "m.safetensors";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

/// Exactly representable parameters, so the fixture never depends on an RNG.
fn params(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 8.0)
        .collect()
}

/// The model of `tests/fixtures/models/tiny.safetensors`: 3-4-2, relu, softmax,
/// with every kind of metadata.
fn tiny() -> SavedModel {
    let sizes = [3, 4, 2];
    let mlp = Mlp::from_params(
        &sizes,
        &[Activation::Relu],
        Head::SoftmaxCe,
        params(3 * 4 + 4 + 4 * 2 + 2),
    )
    .unwrap();
    let meta = ModelMeta {
        standardizer: Some(Standardizer {
            mean: vec![0.5, -1.0, 0.1],
            std: vec![1.0, 0.25, 3.0e-7],
        }),
        pixel_scale: Some(255.0),
        class_names: Some(vec!["cat".into(), "dog \"2\"".into()]),
        feature_names: vec!["a".into(), "b".into(), "ç".into()],
        extra: BTreeMap::from([("note".to_string(), "fixture".to_string())]),
        ..ModelMeta::default()
    };
    SavedModel { mlp, meta }
}

fn tiny_checkpoint() -> Checkpoint {
    let mut seed = [0u8; 32];
    seed.iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i * 29 + 3) as u8);
    Checkpoint {
        model: tiny(),
        config: CheckpointConfig {
            train: TrainConfig {
                batch_size: 32,
                lr: 0.1,
                optimizer: OptimizerConfig::default(),
                clip_norm: None,
                schedule: LrSchedule::Constant,
                warmup_epochs: 0,
                epochs: 4,
                shard_rows: 64,
                threads: 0,
                seed: 42,
                shuffle: true,
                dropout: 0.0,
                label_smoothing: 0.0,
                decay_by_weight: false,
            },
            early_stopping: None,
            class_weight: None,
            row_weights: None,
        },
        state: TrainerState {
            epochs_done: 2,
            rng: RngState {
                seed,
                stream: 5,
                word_pos: (1u128 << 66) + 17,
            },
            optimizer_step: 0,
            optimizer_buffers: Vec::new(),
            plateau: PlateauState::default(),
        },
        early_stop: None,
        in_epoch: None,
    }
}

/// [`tiny_checkpoint`] written inside epoch 3, after its third batch.
fn tiny_checkpoint_in_epoch() -> Checkpoint {
    let c = tiny_checkpoint();
    Checkpoint {
        in_epoch: Some(EpochProgress {
            batches_done: 3,
            // not an f32, and not short in decimal: only the bits keep it
            loss_sum: 0.1 + 0.2 + 1.0 / 3.0,
            weight_sum: 96.0,
            rng_at_epoch_start: c.state.rng,
            correct: None,
        }),
        ..c
    }
}

fn tiny_bytes() -> Vec<u8> {
    let t = tiny();
    model_io::to_bytes(&t.mlp, &t.meta).unwrap()
}

fn load_err(bytes: &[u8]) -> String {
    match model_io::from_bytes(bytes, SRC) {
        Ok(m) => panic!("loaded a bad file as {m:?}"),
        Err(e) => {
            assert!(matches!(e, Error::Data { .. }), "{e:?}");
            e.to_string()
        }
    }
}

fn ckpt_err(bytes: &[u8]) -> String {
    match model_io::checkpoint_from_bytes(bytes, SRC) {
        Ok(c) => panic!("loaded a bad checkpoint as {c:?}"),
        Err(e) => {
            assert!(matches!(e, Error::Data { .. }), "{e:?}");
            e.to_string()
        }
    }
}

type Tensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

fn decode(bytes: &[u8]) -> (Tensors, HashMap<String, String>) {
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let meta = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(bytes).unwrap();
    let mut t: Tensors = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    (t, meta)
}

/// A file written by the `safetensors` crate itself (`None`: no `__metadata__`).
fn encode(t: &Tensors, meta: Option<HashMap<String, String>>) -> Vec<u8> {
    let views: Vec<(String, TensorView<'_>)> = t
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, meta).unwrap()
}

/// `base` decoded, changed by `f`, and written again.
fn edit_of(base: &[u8], f: impl FnOnce(&mut Tensors, &mut HashMap<String, String>)) -> Vec<u8> {
    let (mut t, mut m) = decode(base);
    f(&mut t, &mut m);
    encode(&t, Some(m))
}

fn edit(f: impl FnOnce(&mut Tensors, &mut HashMap<String, String>)) -> Vec<u8> {
    edit_of(&tiny_bytes(), f)
}

fn set(key: &str, value: &str) -> Vec<u8> {
    edit(|_, m| {
        m.insert(key.into(), value.into());
    })
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn rows_for(n_in: usize) -> Vec<f32> {
    (0..7 * n_in)
        .map(|i| ((i * 13 % 17) as f32 - 8.0) / 3.0)
        .collect()
}

fn assert_same_model(a: &SavedModel, b: &SavedModel) {
    assert_eq!(a.mlp.sizes(), b.mlp.sizes());
    assert_eq!(a.mlp.hidden(), b.mlp.hidden());
    assert_eq!(a.mlp.head(), b.mlp.head());
    assert_eq!(bits(a.mlp.params()), bits(b.mlp.params()));
    assert_eq!(a.meta, b.meta);
    let x = rows_for(a.mlp.inputs());
    let (pa, pb) = (a.mlp.predict(&x, 7).unwrap(), b.mlp.predict(&x, 7).unwrap());
    assert_eq!(bits(pa.as_slice()), bits(pb.as_slice()));
}

// ---------------------------------------------------------------------------
// Round trips and the file layout
// ---------------------------------------------------------------------------

#[test]
fn save_load_round_trip_is_bitwise() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<SavedModel> = vec![
        tiny(),
        SavedModel {
            mlp: Mlp::new(
                &[5, 7, 6, 1],
                &[Activation::Tanh, Activation::Sigmoid],
                Head::SigmoidBce,
                3,
            )
            .unwrap(),
            meta: ModelMeta {
                class_names: Some(vec!["no".into(), "yes".into()]),
                ..ModelMeta::default()
            },
        },
        SavedModel {
            mlp: Mlp::new(&[2, 3], &[], Head::SigmoidBce, 4).unwrap(),
            meta: ModelMeta {
                class_names: Some(vec!["x".into(), "y".into(), "z".into()]),
                ..ModelMeta::default()
            },
        },
        SavedModel {
            mlp: Mlp::new(&[4, 9, 2], &[Activation::Identity], Head::Mse, 5).unwrap(),
            meta: ModelMeta {
                standardizer: Some(Standardizer {
                    mean: vec![f32::MAX, -0.0, 1e-45, 0.1],
                    std: vec![f32::MIN_POSITIVE, 7.0, 1e30, 0.3],
                }),
                feature_names: (0..4).map(|i| format!("f{i}")).collect(),
                ..ModelMeta::default()
            },
        },
    ];
    for (i, saved) in cases.iter().enumerate() {
        let path = dir.path().join(format!("m{i}.safetensors"));
        model_io::save_model(&path, &saved.mlp, &saved.meta).unwrap();
        let loaded = model_io::load_model(&path).unwrap();
        assert_same_model(saved, &loaded);
        let bytes = model_io::to_bytes(&saved.mlp, &saved.meta).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "case {i}");
        assert_same_model(saved, &model_io::from_bytes(&bytes, SRC).unwrap());
    }
}

#[test]
fn files_are_plain_safetensors_state_dicts() {
    let bytes = tiny_bytes();
    assert_eq!(bytes, tiny_bytes(), "the same model gives the same bytes");
    let (tensors, meta) = decode(&bytes);
    let layout: Vec<(&str, Dtype, &[usize])> = tensors
        .iter()
        .map(|(n, d, s, _)| (n.as_str(), *d, &s[..]))
        .collect();
    assert_eq!(
        layout,
        [
            ("layers.0.bias", Dtype::F32, &[4][..]),
            ("layers.0.weight", Dtype::F32, &[4, 3][..]),
            ("layers.1.bias", Dtype::F32, &[2][..]),
            ("layers.1.weight", Dtype::F32, &[2, 4][..]),
        ]
    );
    let t = tiny();
    assert_eq!(tensors[1].3, f32_bytes(t.mlp.weights(0)));
    assert_eq!(tensors[2].3, f32_bytes(t.mlp.bias(1)));
    let meta: BTreeMap<_, _> = meta.into_iter().collect();
    let expected: BTreeMap<String, String> = [
        ("format", "backprop"),
        ("format_version", "1"),
        ("sizes", "[3,4,2]"),
        ("activations", "[\"relu\"]"),
        ("head", "softmax"),
        ("feature_names", "[\"a\",\"b\",\"ç\"]"),
        ("standardize_mean", "[0.5,-1,0.1]"),
        ("standardize_std", "[1,0.25,3e-7]"),
        ("pixel_scale", "255"),
        ("class_names", "[\"cat\",\"dog \\\"2\\\"\"]"),
        ("extra.note", "fixture"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(meta, expected);
}

#[test]
fn committed_fixtures_load_and_match_the_writer() {
    let model = model_io::to_bytes(&tiny().mlp, &tiny().meta).unwrap();
    let ckpt = model_io::checkpoint_to_bytes(&tiny_checkpoint()).unwrap();
    let in_epoch = model_io::checkpoint_to_bytes(&tiny_checkpoint_in_epoch()).unwrap();
    if std::env::var_os("BACKPROP_BLESS").is_some() {
        std::fs::create_dir_all(fixture("")).unwrap();
        model_io::write_atomic(&fixture("tiny.safetensors"), &model).unwrap();
        model_io::write_atomic(&fixture("tiny_checkpoint.safetensors"), &ckpt).unwrap();
        model_io::write_atomic(&fixture("tiny_checkpoint_in_epoch.safetensors"), &in_epoch)
            .unwrap();
    }
    let loaded = model_io::load_model(&fixture("tiny.safetensors")).unwrap();
    assert_same_model(&loaded, &tiny());
    assert_eq!(
        std::fs::read(fixture("tiny.safetensors")).unwrap(),
        model,
        "the writer's output changed: bump FORMAT_VERSION if it must, then BACKPROP_BLESS=1"
    );
    let c = model_io::load_checkpoint(&fixture("tiny_checkpoint.safetensors")).unwrap();
    assert_eq!(c, tiny_checkpoint());
    assert_eq!(
        std::fs::read(fixture("tiny_checkpoint.safetensors")).unwrap(),
        ckpt
    );
    let c = model_io::load_checkpoint(&fixture("tiny_checkpoint_in_epoch.safetensors")).unwrap();
    assert_eq!(c, tiny_checkpoint_in_epoch());
    assert_eq!(
        std::fs::read(fixture("tiny_checkpoint_in_epoch.safetensors")).unwrap(),
        in_epoch
    );
    // Written by the version-1 writer (before in-epoch positions); never blessed.
    let v1 = std::fs::read(fixture("tiny_checkpoint_v1.safetensors")).unwrap();
    assert_eq!(decode(&v1).1["checkpoint"], "1");
    assert_eq!(
        model_io::checkpoint_from_bytes(&v1, SRC).unwrap(),
        tiny_checkpoint()
    );
}

// ---------------------------------------------------------------------------
// Corrupted files: each an error with a message, never a panic
// ---------------------------------------------------------------------------

#[test]
fn truncation_at_every_offset_is_reported() {
    let bytes = tiny_bytes();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let data = bytes.len() - 8 - header;
    for cut in 0..bytes.len() {
        let msg = load_err(&bytes[..cut]);
        let expected = if cut < 8 {
            format!("{SRC}: truncated: {cut} bytes, too short for a safetensors header")
        } else if cut < 8 + header {
            format!(
                "{SRC}: truncated: the header is {header} bytes long but only {} bytes follow",
                cut - 8
            )
        } else {
            format!(
                "{SRC}: truncated: the tensors need {data} bytes of data, the file holds {}",
                cut - 8 - header
            )
        };
        assert_eq!(msg, expected, "cut at {cut}");
        ckpt_err(&bytes[..cut]);
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"junk");
    assert_eq!(
        load_err(&longer),
        format!("{SRC}: not a valid safetensors file: incomplete metadata, file not fully covered")
    );
}

#[test]
fn flipped_bits_anywhere_never_panic_and_header_damage_is_reported() {
    let bytes = tiny_bytes();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut errors = 0;
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            match model_io::from_bytes(&b, SRC) {
                Err(e) => {
                    assert!(e.to_string().starts_with("m.safetensors: "), "{e}");
                    errors += 1;
                }
                // A flip inside a name or a weight can give another valid model:
                // it must then survive a round trip.
                Ok(m) => {
                    let again = model_io::to_bytes(&m.mlp, &m.meta).unwrap();
                    assert_same_model(&model_io::from_bytes(&again, SRC).unwrap(), &m);
                }
            }
            let _ = model_io::checkpoint_from_bytes(&b, SRC);
        }
    }
    assert!(errors > 8 * header / 2, "only {errors} flips were errors");

    let mut b = bytes.clone();
    b[8] = b'[';
    assert!(
        load_err(&b).starts_with(&format!(
            "{SRC}: corrupted: the safetensors header is not a JSON object: "
        )),
        "{}",
        load_err(&b)
    );
    let mut b = bytes.clone();
    b[5] = 1;
    assert_eq!(
        load_err(&b),
        format!(
            "{SRC}: corrupted: the header length {} is over the limit of 100000000 bytes",
            header as u64 + (1 << 40)
        )
    );
}

#[test]
fn tensor_problems_are_named() {
    let e = |f: fn(&mut Tensors)| load_err(&edit(|t, _| f(t)));
    assert_eq!(
        e(|t| {
            let b = t.iter_mut().find(|x| x.0 == "layers.0.bias").unwrap();
            b.1 = Dtype::F64;
            b.3 = vec![0; 4 * 8];
        }),
        format!("{SRC}: tensor 'layers.0.bias' has dtype F64, expected F32")
    );
    assert_eq!(
        e(|t| t.retain(|x| x.0 != "layers.1.weight")),
        format!("{SRC}: tensor 'layers.1.weight' is missing")
    );
    assert_eq!(
        e(|t| t.push(("foo".into(), Dtype::F32, vec![1], vec![0; 4]))),
        format!("{SRC}: unexpected tensor 'foo'")
    );
    assert_eq!(
        e(|t| t.push(("layers.2.weight".into(), Dtype::F32, vec![1], vec![0; 4]))),
        format!("{SRC}: unexpected tensor 'layers.2.weight'")
    );
    assert_eq!(
        e(|t| t.push(("optimizer.0.m".into(), Dtype::F32, vec![1], vec![0; 4]))),
        format!("{SRC}: unexpected tensor 'optimizer.0.m'"),
        "optimizer state is only skipped in checkpoints"
    );
    assert_eq!(
        e(|t| {
            let w = t.iter_mut().find(|x| x.0 == "layers.0.weight").unwrap();
            w.2 = vec![3, 4];
        }),
        format!(
            "{SRC}: tensor 'layers.0.weight' has shape [3, 4], expected [4, 3] for sizes [3, 4, 2]"
        )
    );
    assert_eq!(
        e(|t| {
            let b = t.iter_mut().find(|x| x.0 == "layers.1.bias").unwrap();
            b.2 = vec![1, 2];
        }),
        format!("{SRC}: tensor 'layers.1.bias' has shape [1, 2], expected [2] for sizes [3, 4, 2]")
    );
    assert_eq!(
        e(|t| {
            let w = t.iter_mut().find(|x| x.0 == "layers.1.weight").unwrap();
            w.3[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
        }),
        format!("{SRC}: tensor 'layers.1.weight' holds NaN at index 2: weights must be finite")
    );
    assert_eq!(
        e(|t| {
            let b = t.iter_mut().find(|x| x.0 == "layers.0.bias").unwrap();
            b.3[12..16].copy_from_slice(&f32::NEG_INFINITY.to_le_bytes());
        }),
        format!("{SRC}: tensor 'layers.0.bias' holds -inf at index 3: weights must be finite")
    );
}

#[test]
fn metadata_problems_are_named() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            set("format", "pt"),
            "not a backprop model file: format is 'pt', expected 'backprop'",
        ),
        (
            edit(|_, m| {
                m.remove("format");
            }),
            "not a backprop model file: metadata key 'format' is missing",
        ),
        (
            set("format_version", "99"),
            "format_version 99 is newer than this build of backprop reads (1): \
             the model was written by a newer backprop; upgrade to load it",
        ),
        (
            set("format_version", "0"),
            "format_version '0' is not a version number (this build reads 1 to 1)",
        ),
        (
            set("format_version", "1.0"),
            "format_version '1.0' is not a version number (this build reads 1 to 1)",
        ),
        (
            edit(|_, m| {
                m.remove("format_version");
            }),
            "metadata key 'format_version' is missing",
        ),
        (set("colour", "red"), "unknown metadata key 'colour'"),
        (set("epoch", "3"), "unknown metadata key 'epoch'"),
        (
            set("head", "softmax2"),
            "unknown head 'softmax2' (known: sigmoid, softmax, mse)",
        ),
        (
            set("activations", "[\"swish\"]"),
            "unknown activation 'swish' (known: sigmoid, tanh, relu, identity, selu, silu, gelu, mish)",
        ),
        (
            set("activations", "[\"relu\",\"relu\"]"),
            "activations has 2 names for 1 hidden layers",
        ),
        (
            set("sizes", "[3]"),
            "sizes [3] needs at least an input and an output size",
        ),
        (set("sizes", "[3,0,2]"), "sizes: layer 1 has size 0"),
        (
            set("sizes", "[3,5,2]"),
            "tensor 'layers.0.weight' has shape [4, 3], expected [5, 3] for sizes [3, 5, 2]",
        ),
        (
            set("sizes", "[3,4,2,2]"),
            "activations has 1 names for 2 hidden layers",
        ),
        (
            set("standardize_mean", "[1,2]"),
            "standardize_mean has 2 values for 3 inputs",
        ),
        (
            set("standardize_std", "[1,0,1]"),
            "standardize_std[1] is 0: must be finite and positive",
        ),
        (
            set("standardize_std", "[1,1,1e39]"),
            "standardize_std[2] is inf: must be finite and positive",
        ),
        (
            edit(|_, m| {
                m.remove("standardize_std");
            }),
            "standardize_mean is given without standardize_std",
        ),
        (
            set("pixel_scale", "0"),
            "pixel_scale is 0: must be finite and positive",
        ),
        (
            set("pixel_scale", "NaN"),
            "pixel_scale 'NaN' is not a number",
        ),
        (
            set("class_names", "[\"a\",\"b\",\"c\"]"),
            "class_names has 3 names, but a softmax head with 2 outputs has 2 classes",
        ),
        (
            set("class_names", "[\"a\",\"a\"]"),
            "class_names holds 'a' twice",
        ),
        (
            set("feature_names", "[\"a\"]"),
            "feature_names has 1 names for 3 inputs",
        ),
        (
            edit(|_, m| {
                m.remove("feature_names");
            }),
            "metadata key 'feature_names' is missing",
        ),
    ];
    for (bytes, msg) in cases {
        assert_eq!(load_err(&bytes), format!("{SRC}: {msg}"));
    }
    // Bad JSON: serde_json's message follows ours.
    for (key, value, prefix) in [
        (
            "sizes",
            "[3,4,",
            "metadata 'sizes' is not a JSON array of layer sizes: ",
        ),
        (
            "sizes",
            "[3,-4,2]",
            "metadata 'sizes' is not a JSON array of layer sizes: ",
        ),
        (
            "activations",
            "relu",
            "metadata 'activations' is not a JSON array of names: ",
        ),
        (
            "class_names",
            "[1,2]",
            "metadata 'class_names' is not a JSON array of strings: ",
        ),
        (
            "standardize_mean",
            "[1,2,\"3\"]",
            "metadata 'standardize_mean' is not a JSON array of numbers: ",
        ),
        (
            "standardize_std",
            "[1,2,NaN]",
            "metadata 'standardize_std' is not a JSON array of numbers: ",
        ),
    ] {
        let msg = load_err(&set(key, value));
        assert!(msg.starts_with(&format!("{SRC}: {prefix}")), "{key}: {msg}");
    }
    // Values quoted from the file are escaped and cut.
    let long = format!("x\u{1b}[31m{}", "y".repeat(500));
    let msg = load_err(&set("head", &long));
    assert!(
        msg.contains("'x\\u{1b}[31myyy") && msg.contains("…'"),
        "{msg}"
    );
    assert!(msg.len() < 200, "{msg}");
}

#[test]
fn class_names_follow_the_head() {
    let save = |sizes: &[usize], head, names: &[&str]| {
        let hidden = vec![Activation::Relu; sizes.len() - 2];
        let mlp = Mlp::new(sizes, &hidden, head, 0).unwrap();
        let meta = ModelMeta {
            class_names: Some(names.iter().map(|s| s.to_string()).collect()),
            ..ModelMeta::default()
        };
        model_io::to_bytes(&mlp, &meta)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert_eq!(save(&[2, 1], Head::SigmoidBce, &["n", "y"]), Ok(()));
    assert_eq!(
        save(&[2, 1], Head::SigmoidBce, &["y"]),
        Err(
            "model: class_names has 1 names, but a sigmoid head with 1 output has 2 classes".into()
        )
    );
    assert_eq!(save(&[2, 3, 3], Head::SigmoidBce, &["a", "b", "c"]), Ok(()));
    assert_eq!(save(&[2, 2], Head::SoftmaxCe, &["a", "b"]), Ok(()));
    assert_eq!(
        save(&[2, 4, 3], Head::SoftmaxCe, &["a", "b"]),
        Err(
            "model: class_names has 2 names, but a softmax head with 3 outputs has 3 classes"
                .into()
        )
    );
    assert_eq!(
        save(&[2, 1], Head::Mse, &["a", "b"]),
        Err(
            "model: class_names given for an mse (regression) head, which has no classes (2 names)"
                .into()
        )
    );
    // The loader applies the same rule to a file written by someone else.
    let mse = {
        let mlp = Mlp::new(&[2, 1], &[], Head::Mse, 0).unwrap();
        model_io::to_bytes(&mlp, &ModelMeta::default()).unwrap()
    };
    let bad = edit_of(&mse, |_, m| {
        m.insert("class_names".into(), "[\"a\",\"b\"]".into());
    });
    assert_eq!(
        load_err(&bad),
        format!(
            "{SRC}: class_names given for an mse (regression) head, which has no classes (2 names)"
        )
    );
}

/// `positive_class` names one of the two classes of a binary sigmoid model
/// and round-trips; elsewhere, or naming no class, it is refused on writing
/// and on reading (issue 20).
#[test]
fn the_positive_class_is_one_of_a_binary_models_classes() {
    let save = |sizes: &[usize], head, names: &[&str], positive: &str| {
        let mlp = Mlp::new(sizes, &[], head, 0).unwrap();
        let meta = ModelMeta {
            class_names: Some(names.iter().map(|s| s.to_string()).collect()),
            positive_class: Some(positive.to_string()),
            ..ModelMeta::default()
        };
        model_io::to_bytes(&mlp, &meta).map_err(|e| e.to_string())
    };
    let bytes = save(&[2, 1], Head::SigmoidBce, &["n", "y"], "n").unwrap();
    let back = model_io::from_bytes(&bytes, SRC).unwrap();
    assert_eq!(back.meta.positive_class.as_deref(), Some("n"));
    assert_eq!(decode(&bytes).1["positive_class"], "n");
    assert_eq!(
        save(&[2, 1], Head::SigmoidBce, &["n", "y"], "maybe"),
        Err("model: positive_class 'maybe' is not one of the class_names 'n', 'y'".into())
    );
    let not_binary = "positive_class is given, but only a binary classifier (one sigmoid \
                      output and two class_names) has one";
    assert_eq!(
        save(&[2, 2], Head::SoftmaxCe, &["n", "y"], "y"),
        Err(format!("model: {not_binary}"))
    );
    assert_eq!(
        save(&[2, 3], Head::SigmoidBce, &["a", "b", "c"], "a"),
        Err(format!("model: {not_binary}"))
    );
    // the loader applies the same rules
    let bad = edit_of(&bytes, |_, m| {
        m.insert("positive_class".into(), "Y".into());
    });
    assert_eq!(
        load_err(&bad),
        format!("{SRC}: positive_class 'Y' is not one of the class_names 'n', 'y'")
    );
    // a model without the key has none (its second class is positive)
    let old = edit_of(&bytes, |_, m| {
        m.remove("positive_class");
    });
    assert_eq!(
        model_io::from_bytes(&old, SRC).unwrap().meta.positive_class,
        None
    );
}

#[test]
fn files_that_are_not_backprop_models() {
    // No metadata at all (e.g. a bare PyTorch state dict).
    let (t, _) = decode(&tiny_bytes());
    assert_eq!(
        load_err(&encode(&t, None)),
        format!("{SRC}: not a backprop model file: the safetensors header has no __metadata__")
    );
    assert_eq!(
        load_err(b"hello world, this is text"),
        format!(
            "{SRC}: not a safetensors file (no safetensors header at its start): give a model \
             written by backprop's save_model"
        )
    );
    assert!(load_err(&[0u8; 8]).starts_with(&format!(
        "{SRC}: corrupted: the safetensors header is not a JSON object: "
    )));
    // Offsets near usize::MAX: the `safetensors` crate adds them to the header
    // length unchecked (a panic with overflow checks on); we refuse them first.
    let mut header = String::from("{\"__metadata__\":{\"format\":\"backprop\"}");
    let chunk = (1u64 << 61) - 1;
    for i in 0..8u64 {
        header.push_str(&format!(
            ",\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[{chunk}],\"data_offsets\":[{},{}]}}",
            i * chunk,
            (i + 1) * chunk
        ));
    }
    header.push('}');
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    assert_eq!(
        load_err(&bytes),
        format!(
            "{SRC}: truncated: the tensors need {} bytes of data, the file holds 0",
            8 * chunk
        )
    );
}

#[test]
fn non_finite_weights_are_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let t = tiny();
    model_io::save_model(&path, &t.mlp, &t.meta).unwrap();
    let before = std::fs::read(&path).unwrap();
    let mut bad = t.mlp.clone();
    let last = bad.num_params() - 1;
    bad.params_mut()[last] = f32::INFINITY;
    let err = model_io::save_model(&path, &bad, &t.meta).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor 'layers.1.bias' holds inf at index 1: weights must be finite",
            path.display()
        )
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the good model is kept"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

// ---------------------------------------------------------------------------
// Atomic writes
// ---------------------------------------------------------------------------

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn atomic_write_replaces_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    model_io::write_atomic(&path, b"first").unwrap();
    model_io::write_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    assert_eq!(entries(dir.path()), ["model.safetensors"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // A new file gets what File::create gives (the umask applies).
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        assert_eq!(mode(&path), mode(&plain));
        // A replaced file keeps its mode.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        model_io::write_atomic(&path, b"third").unwrap();
        assert_eq!(mode(&path), 0o640);
    }
    // A relative path with no directory part writes into the current one.
    let err = model_io::write_atomic(Path::new(""), b"x").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn failed_atomic_writes_leave_everything_as_it_was() {
    // These failure modes work as root too (root ignores permission bits).
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("model.safetensors");
    model_io::write_atomic(&keep, b"old model").unwrap();

    // The target is an existing, non-empty directory: the rename fails.
    let target = dir.path().join("taken");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("inside"), b"precious").unwrap();
    let err = model_io::write_atomic(&target, b"new").unwrap_err();
    match &err {
        Error::Io { path, .. } => assert_eq!(path, &target),
        other => panic!("{other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with(&format!("{}: ", target.display())));
    assert_eq!(std::fs::read(target.join("inside")).unwrap(), b"precious");
    assert_eq!(entries(dir.path()), ["model.safetensors", "taken"]);

    // The directory is gone.
    let gone = dir.path().join("gone");
    std::fs::create_dir(&gone).unwrap();
    let path = gone.join("model.safetensors");
    std::fs::remove_dir(&gone).unwrap();
    let err = model_io::write_atomic(&path, b"new").unwrap_err();
    assert!(
        matches!(&err, Error::Io { path: p, .. } if p == &path),
        "{err:?}"
    );

    // The parent is a file.
    let err = model_io::write_atomic(&keep.join("x"), b"new").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");

    assert_eq!(std::fs::read(&keep).unwrap(), b"old model");
    assert_eq!(entries(dir.path()), ["model.safetensors", "taken"]);
}

// ---------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------

#[test]
fn checkpoint_round_trip_and_model_view() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let c = tiny_checkpoint();
    model_io::save_checkpoint(&path, &c).unwrap();
    let back = model_io::load_checkpoint(&path).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.state.rng, c.state.rng);
    assert_eq!(back.config.train.lr.to_bits(), c.config.train.lr.to_bits());
    assert_same_model(&back.model, &c.model);
    // The model loader reads the model inside a checkpoint.
    assert_same_model(&model_io::load_model(&path).unwrap(), &c.model);
    let (_, meta) = decode(&std::fs::read(&path).unwrap());
    assert_eq!(meta["checkpoint"], "3");
    assert!(!meta.contains_key("checkpoint.batches_done"));
    assert!(!meta.contains_key("checkpoint.loss_sum_bits"));
    assert_eq!(meta["lr"], "0.1");
    assert_eq!(meta["lr_bits"], "3dcccccd");
    assert_eq!(meta["rng_word_pos"], ((1u128 << 66) + 17).to_string());
    assert_eq!(meta["rng_seed"].len(), 64);
    assert_eq!(meta["shuffle"], "true");
    assert_eq!(meta["optimizer"], "sgd");
}

/// Early stopping's state keeps the best epoch's figures
/// (`checkpoint.es_best_figures`) through a checkpoint; a bad value is
/// named, and a checkpoint without the key (older) reads with none.
#[test]
fn early_stopping_state_keeps_the_best_epochs_figures() {
    use backprop::stopping::{EarlyStopState, EarlyStopping, Monitor};
    let mut c = tiny_checkpoint();
    let mut state = EarlyStopState::new(Monitor::Loss, c.model.mlp.num_params());
    state.best = 0.25;
    state.best_epoch = 1;
    state.best_figures = BTreeMap::from([
        ("final_train_loss".to_string(), "0.5".to_string()),
        ("final_validation_loss".to_string(), "0.25".to_string()),
    ]);
    c.config.early_stopping = Some(EarlyStopping {
        patience: 2,
        min_delta: 0.0,
        monitor: Monitor::Loss,
    });
    c.early_stop = Some(state);
    let bytes = model_io::checkpoint_to_bytes(&c).unwrap();
    let (_, meta) = decode(&bytes);
    assert_eq!(
        meta["checkpoint.es_best_figures"],
        r#"{"final_train_loss":"0.5","final_validation_loss":"0.25"}"#
    );
    assert_eq!(model_io::checkpoint_from_bytes(&bytes, SRC).unwrap(), c);
    let bad = edit_of(&bytes, |_, m| {
        m.insert("checkpoint.es_best_figures".into(), "[1]".into());
    });
    assert!(
        ckpt_err(&bad).starts_with(&format!(
            "{SRC}: checkpoint.es_best_figures is not a JSON object of strings"
        )),
        "{}",
        ckpt_err(&bad)
    );
    let older = edit_of(&bytes, |_, m| {
        m.remove("checkpoint.es_best_figures");
    });
    let back = model_io::checkpoint_from_bytes(&older, SRC).unwrap();
    assert!(back.early_stop.unwrap().best_figures.is_empty());
}

#[test]
fn checkpoint_problems_are_named() {
    let base = model_io::checkpoint_to_bytes(&tiny_checkpoint()).unwrap();
    let set = |key: &str, value: &str| {
        edit_of(&base, |_, m| {
            m.insert(key.into(), value.into());
        })
    };
    let without = |key: &'static str| {
        edit_of(&base, |_, m| {
            m.remove(key);
        })
    };
    assert_eq!(
        ckpt_err(&tiny_bytes()),
        format!("{SRC}: a model file, not a checkpoint (metadata key 'checkpoint' is missing)")
    );
    let cases: Vec<(Vec<u8>, &str)> =
        vec![
        (
            set("checkpoint", "4"),
            "checkpoint 4 is newer than this build of backprop reads (3): \
             the checkpoint was written by a newer backprop; upgrade to load it",
        ),
        (set("epoch", "-1"), "epoch '-1' is not a non-negative integer"),
        (set("epoch", "5"), "epoch 5 is past epochs_total 4"),
        (
            set("batch_size", "99999999999999999999"),
            "batch_size 99999999999999999999 is too large (at most 18446744073709551615)",
        ),
        (set("batch_size", "0"), "batch_size is 0: must be at least 1"),
        (set("shard_rows", "0"), "shard_rows is 0: must be at least 1"),
        (
            set("rng_word_pos", "340282366920938463463374607431768211456"),
            "rng_word_pos '340282366920938463463374607431768211456' is not a non-negative integer",
        ),
        (set("rng_seed", "00ff"), "rng_seed '00ff' is not 64 hexadecimal digits"),
        (set("lr_bits", "3dcccccd0"), "lr_bits '3dcccccd0' is not 8 hexadecimal digits"),
        (set("lr", "0.2"), "lr '0.2' disagrees with lr_bits 3dcccccd (0.1)"),
        (
            edit_of(&base, |_, m| {
                m.insert("lr".into(), "-1".into());
                m.insert("lr_bits".into(), "bf800000".into());
            }),
            "lr is -1: must be finite and positive",
        ),
        (set("shuffle", "yes"), "shuffle 'yes' is neither true nor false"),
        (
            set("optimizer", "lbfgs"),
            "optimizer 'lbfgs' is not supported by this build (known: sgd, adam, adamw, rmsprop)",
        ),
        (
            // Adam keeps two buffers, which this file lacks
            set("optimizer", "adam"),
            "tensor 'optimizer.0.weight_exp_avg' is missing",
        ),
        (
            set("optimizer.future", "0.9"),
            "metadata key 'optimizer.future' is not used by optimizer 'sgd' (checkpoint version 3)",
        ),
        (
            set("optimizer.beta1", "1.5"),
            "the optimizer's constants: invalid option beta1: 1.5 is not in [0, 1)",
        ),
        (set("optimizer.step", "x"), "optimizer.step 'x' is not a non-negative integer"),
        (
            set("checkpoint.lr_schedule", "wavy"),
            "checkpoint.lr_schedule 'wavy' is not a schedule (known: constant, step, cosine, plateau, \
             flat-cos, coslog4, one-cycle, invscaling)",
        ),
        (
            set("checkpoint.lr_schedule", "step"),
            "metadata key 'checkpoint.lr_step_epochs' is missing",
        ),
        (
            set("checkpoint.clip_norm", "-1"),
            "checkpoint.clip_norm -1 must be finite and positive",
        ),
        (
            set("checkpoint.future_key", "x"),
            "metadata key 'checkpoint.future_key' is not used by checkpoint version 3",
        ),
        (
            // a key of another schedule than the file's (constant)
            set("checkpoint.lr_gamma", "0.5"),
            "metadata key 'checkpoint.lr_gamma' is not used by checkpoint version 3",
        ),
        (
            edit_of(&base, |t, _| {
                t.push(("optimizer.0.momentum".into(), Dtype::F32, vec![1], vec![0; 4]))
            }),
            "tensor 'optimizer.0.momentum' is not state of optimizer 'sgd', which has none",
        ),
        (without("rng_stream"), "metadata key 'rng_stream' is missing"),
        (without("epochs_total"), "metadata key 'epochs_total' is missing"),
        (set("head", "nope"), "unknown head 'nope' (known: sigmoid, softmax, mse)"),
    ];
    for (bytes, msg) in cases {
        assert_eq!(ckpt_err(&bytes), format!("{SRC}: {msg}"));
    }
    // A checkpoint of a later version or optimizer still gives its model.
    for bytes in [
        set("checkpoint", "4"),
        set("optimizer", "adam"),
        set("optimizer.future", "0.9"),
        set("checkpoint.future_key", "x"),
    ] {
        assert_same_model(&model_io::from_bytes(&bytes, SRC).unwrap(), &tiny());
    }
}

#[test]
fn in_epoch_positions_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let c = tiny_checkpoint_in_epoch();
    model_io::save_checkpoint(&path, &c).unwrap();
    let back = model_io::load_checkpoint(&path).unwrap();
    assert_eq!(back, c);
    let (p, q) = (back.in_epoch.unwrap(), c.in_epoch.unwrap());
    assert_eq!(p.loss_sum.to_bits(), q.loss_sum.to_bits());
    assert_eq!(p.rng_at_epoch_start, back.state.rng);
    assert_same_model(&model_io::load_model(&path).unwrap(), &c.model);
    let (_, meta) = decode(&std::fs::read(&path).unwrap());
    assert_eq!(meta["checkpoint"], "3");
    assert_eq!(meta["checkpoint.batches_done"], "3");
    assert_eq!(
        meta["checkpoint.loss_sum_bits"],
        format!("{:016x}", q.loss_sum.to_bits())
    );
    assert_eq!(meta["checkpoint.loss_sum_bits"].len(), 16);
    // the RNG is stored once: the in-epoch keys add no RNG of their own
    let (_, between) = decode(&model_io::checkpoint_to_bytes(&tiny_checkpoint()).unwrap());
    let mut extra: Vec<&String> = meta.keys().filter(|k| !between.contains_key(*k)).collect();
    extra.sort();
    assert_eq!(
        extra,
        ["checkpoint.batches_done", "checkpoint.loss_sum_bits"]
    );

    // Any finite loss sum and any count keep their exact value.
    for (batches_done, loss_sum) in [
        (1, 0.0),
        (2, -0.0),
        (usize::MAX, 5e-324),
        (7, f64::MAX),
        (8, 1.0 + f64::EPSILON),
        (9, -1e-300),
    ] {
        let mut c = tiny_checkpoint_in_epoch();
        c.in_epoch = Some(EpochProgress {
            batches_done,
            loss_sum,
            weight_sum: batches_done as f64 * 32.0,
            rng_at_epoch_start: c.state.rng,
            correct: None,
        });
        let bytes = model_io::checkpoint_to_bytes(&c).unwrap();
        let back = model_io::checkpoint_from_bytes(&bytes, SRC).unwrap();
        let p = back.in_epoch.unwrap();
        assert_eq!(
            (p.batches_done, p.loss_sum.to_bits()),
            (batches_done, loss_sum.to_bits())
        );
    }
}

#[test]
fn version_1_checkpoints_still_load() {
    // (The committed version-1 fixture is checked above.)
    let v3 = model_io::checkpoint_to_bytes(&tiny_checkpoint()).unwrap();
    let v1 = edit_of(&v3, |_, m| {
        m.retain(|k, _| !k.starts_with("optimizer.") && !k.starts_with("checkpoint."));
        m.insert("checkpoint".into(), "1".into());
    });
    let c = model_io::checkpoint_from_bytes(&v1, SRC).unwrap();
    assert_eq!(c, tiny_checkpoint());
    assert_eq!(c.in_epoch, None);
    // Saved again, it is a version-3 checkpoint with the same content.
    let again = model_io::checkpoint_to_bytes(&c).unwrap();
    assert_eq!(decode(&again).1["checkpoint"], "3");
    assert_eq!(again, v3);
    // The version-2 fixture (plain SGD, written before optimizers had
    // state) loads as the same checkpoint.
    let v2 = model_io::load_checkpoint(&fixture("tiny_checkpoint_v2.safetensors")).unwrap();
    assert_eq!(v2, tiny_checkpoint());
    // In-epoch keys did not exist in version 1.
    let in_epoch = model_io::checkpoint_to_bytes(&tiny_checkpoint_in_epoch()).unwrap();
    let bad = edit_of(&in_epoch, |_, m| {
        m.insert("checkpoint".into(), "1".into());
    });
    assert_eq!(
        ckpt_err(&bad),
        format!(
            "{SRC}: metadata key 'checkpoint.batches_done' is not used by checkpoint version 1"
        )
    );
}

#[test]
fn in_epoch_problems_name_the_key() {
    let base = model_io::checkpoint_to_bytes(&tiny_checkpoint_in_epoch()).unwrap();
    let set = |key: &str, value: &str| {
        edit_of(&base, |_, m| {
            m.insert(key.into(), value.into());
        })
    };
    let without = |key: &'static str| {
        edit_of(&base, |_, m| {
            m.remove(key);
        })
    };
    let (bd, ls) = ("checkpoint.batches_done", "checkpoint.loss_sum_bits");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (set(bd, "x"), "checkpoint.batches_done 'x' is not a non-negative integer"),
        (set(bd, "-1"), "checkpoint.batches_done '-1' is not a non-negative integer"),
        (set(bd, "1.5"), "checkpoint.batches_done '1.5' is not a non-negative integer"),
        (
            set(bd, "0"),
            "checkpoint.batches_done is 0: must be at least 1 \
             (a checkpoint between epochs has no in-epoch keys)",
        ),
        (
            set(bd, "99999999999999999999"),
            "checkpoint.batches_done 99999999999999999999 is too large (at most 18446744073709551615)",
        ),
        (set(ls, "3fd5"), "checkpoint.loss_sum_bits '3fd5' is not 16 hexadecimal digits"),
        (set(ls, "0.5"), "checkpoint.loss_sum_bits '0.5' is not 16 hexadecimal digits"),
        (
            set(ls, "3fd555555555555g"),
            "checkpoint.loss_sum_bits '3fd555555555555g' is not 16 hexadecimal digits",
        ),
        (
            set(ls, "3fd55555555555550"),
            "checkpoint.loss_sum_bits '3fd55555555555550' is not 16 hexadecimal digits",
        ),
        (
            set(ls, "7ff8000000000000"),
            "checkpoint.loss_sum_bits 7ff8000000000000 is NaN: the loss sum must be finite",
        ),
        (
            set(ls, "FFF0000000000000"),
            "checkpoint.loss_sum_bits fff0000000000000 is -inf: the loss sum must be finite",
        ),
        (
            without(ls),
            "checkpoint.batches_done is given without checkpoint.loss_sum_bits",
        ),
        (
            without(bd),
            "checkpoint.loss_sum_bits is given without checkpoint.batches_done",
        ),
        (
            set("epoch", "4"),
            "checkpoint.batches_done 3 is a position in epoch 5, past epochs_total 4",
        ),
        (
            set("checkpoint.batches_done_", "1"),
            "metadata key 'checkpoint.batches_done_' is not used by checkpoint version 3",
        ),
    ];
    for (bytes, msg) in &cases {
        assert_eq!(ckpt_err(bytes), format!("{SRC}: {msg}"));
        // the model inside is still readable
        assert_same_model(&model_io::from_bytes(bytes, SRC).unwrap(), &tiny());
    }

    // The writer refuses what the reader would refuse.
    let write_err = |f: &dyn Fn(&mut Checkpoint)| {
        let mut c = tiny_checkpoint_in_epoch();
        f(&mut c);
        let e = model_io::checkpoint_to_bytes(&c).unwrap_err();
        assert!(matches!(e, Error::Data { .. }), "{e:?}");
        e.to_string()
    };
    assert_eq!(
        write_err(&|c| c.in_epoch.as_mut().unwrap().batches_done = 0),
        "checkpoint: checkpoint.batches_done is 0: must be at least 1 \
         (a checkpoint between epochs has no in-epoch keys)"
    );
    assert_eq!(
        write_err(&|c| c.in_epoch.as_mut().unwrap().loss_sum = f64::INFINITY),
        "checkpoint: checkpoint.loss_sum_bits 7ff0000000000000 is inf: the loss sum must be finite"
    );
    assert_eq!(
        write_err(&|c| c.state.epochs_done = 4),
        "checkpoint: checkpoint.batches_done 3 is a position in epoch 5, past epochs_total 4"
    );
    assert!(
        write_err(&|c| c.in_epoch.as_mut().unwrap().rng_at_epoch_start.word_pos += 1)
            .starts_with("checkpoint: the in-epoch position's rng_at_epoch_start differs from rng")
    );
}

#[test]
fn checkpoint_config_checks_resumed_flags() {
    let cfg = TrainConfig {
        batch_size: 16,
        lr: 0.05,
        epochs: 4,
        seed: 9,
        ..TrainConfig::default()
    };
    let ck = CheckpointConfig::from_train_config(&cfg);
    // the checkpoint records the shard size in effect (here the automatic one)
    assert_eq!(ck.train.shard_rows, cfg.effective_shard_rows());
    assert_eq!(
        ck.train_config(3),
        TrainConfig {
            threads: 3,
            shard_rows: cfg.effective_shard_rows(),
            ..cfg.clone()
        }
    );
    backprop::fit::check_matches(
        &ck.train,
        &TrainConfig {
            epochs: 10,
            threads: 7,
            ..cfg.clone()
        },
    )
    .unwrap();
    let err = |c: TrainConfig| {
        backprop::fit::check_matches(&ck.train, &c)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(TrainConfig {
            batch_size: 8,
            ..cfg.clone()
        }),
        "invalid option batch_size: the checkpoint was trained with 16, given 8"
    );
    assert_eq!(
        err(TrainConfig {
            lr: 0.050000004,
            ..cfg.clone()
        }),
        "invalid option lr: the checkpoint was trained with 0.05, given 0.050000004"
    );
    assert_eq!(
        err(TrainConfig {
            seed: 1,
            ..cfg.clone()
        }),
        "invalid option seed: the checkpoint was trained with 9, given 1"
    );
    assert_eq!(
        err(TrainConfig {
            shuffle: false,
            ..cfg.clone()
        }),
        "invalid option shuffle: the checkpoint was trained with shuffling, given shuffle=false"
    );
    assert_eq!(
        err(TrainConfig {
            shard_rows: 5,
            ..cfg.clone()
        }),
        "invalid option shard_rows: the checkpoint was trained with 16, given 5"
    );
    assert_eq!(
        err(TrainConfig {
            dropout: 0.5,
            ..cfg.clone()
        }),
        "invalid option dropout: the checkpoint was trained with 0, given 0.5"
    );
}

#[test]
fn dropout_smoothing_class_weights_and_weight_sums_round_trip() {
    let mut c = tiny_checkpoint_in_epoch();
    c.config.train.dropout = 0.3;
    c.config.train.label_smoothing = 0.05;
    c.config.train.decay_by_weight = true;
    c.config.class_weight = Some("yes=2.5,no=0.5".parse().unwrap());
    c.config.row_weights = Some("column:w".into());
    let p = c.in_epoch.as_mut().unwrap();
    // a weighted epoch: the weights of the batches done, not their rows
    p.weight_sum = 0.1 + 0.7;
    let bytes = model_io::checkpoint_to_bytes(&c).unwrap();
    let back = model_io::checkpoint_from_bytes(&bytes, SRC).unwrap();
    assert_eq!(back, c);
    let (_, meta) = decode(&bytes);
    assert_eq!(meta["checkpoint.dropout"], "0.3");
    assert_eq!(meta["checkpoint.label_smoothing"], "0.05");
    assert_eq!(meta["checkpoint.decay_by_weight"], "true");
    assert_eq!(meta["checkpoint.class_weight"], "yes=2.5,no=0.5");
    assert_eq!(meta["checkpoint.row_weights"], "column:w");
    assert_eq!(
        meta["checkpoint.weight_sum_bits"],
        format!("{:016x}", (0.1f64 + 0.7).to_bits())
    );
    // unweighted runs write none of the three (their files are as before)
    let (_, plain) = decode(&model_io::checkpoint_to_bytes(&tiny_checkpoint_in_epoch()).unwrap());
    for k in [
        "checkpoint.dropout",
        "checkpoint.label_smoothing",
        "checkpoint.decay_by_weight",
        "checkpoint.class_weight",
        "checkpoint.row_weights",
        "checkpoint.weight_sum_bits",
    ] {
        assert!(!plain.contains_key(k), "{k}");
    }
    // bad values are named
    let set = |key: &str, value: &str| {
        edit_of(&bytes, |_, m| {
            m.insert(key.into(), value.into());
        })
    };
    for (bytes, want) in [
        (
            set("checkpoint.dropout", "1"),
            "checkpoint.dropout 1 is not a probability in (0, 1)",
        ),
        (
            set("checkpoint.decay_by_weight", "yes"),
            "checkpoint.decay_by_weight 'yes' is not 'true'",
        ),
        (
            set("checkpoint.label_smoothing", "-0.5"),
            "checkpoint.label_smoothing -0.5 is not in (0, 1)",
        ),
        (
            set("checkpoint.class_weight", "yes"),
            "checkpoint.class_weight 'yes'",
        ),
        (
            set("checkpoint.weight_sum_bits", "fff0000000000000"),
            "the weight sum must be finite and >= 0",
        ),
    ] {
        let e = model_io::checkpoint_from_bytes(&bytes, SRC)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn resumed_training_is_bitwise_identical_to_uninterrupted() {
    let (train, _) = embedded::breast_cancer();
    let cfg = TrainConfig {
        batch_size: 32,
        lr: 0.3,
        epochs: 4,
        shard_rows: 8,
        threads: 2,
        seed: 11,
        shuffle: true,
        ..TrainConfig::default()
    };
    let new_mlp = || {
        Mlp::new(
            &[30, 12, 6, 1],
            &[Activation::Tanh, Activation::Relu],
            Head::SigmoidBce,
            5,
        )
        .unwrap()
    };
    let mut straight = new_mlp();
    let mut trainer = Trainer::new(&straight, &cfg).unwrap();
    for _ in 0..4 {
        trainer.epoch(&mut straight, &train).unwrap();
    }

    // Two epochs, a checkpoint on disk, a fresh process's worth of state.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    {
        let mut mlp = new_mlp();
        let mut trainer = Trainer::new(
            &mlp,
            &TrainConfig {
                epochs: 2,
                ..cfg.clone()
            },
        )
        .unwrap();
        for _ in 0..2 {
            trainer.epoch(&mut mlp, &train).unwrap();
        }
        let ckpt = Checkpoint {
            model: SavedModel {
                mlp,
                meta: ModelMeta::default(),
            },
            config: CheckpointConfig::from_train_config(&TrainConfig {
                epochs: 2,
                ..cfg.clone()
            }),
            state: TrainerState {
                epochs_done: 2,
                rng: trainer.rng_state(),
                optimizer_step: 0,
                optimizer_buffers: Vec::new(),
                plateau: Default::default(),
            },
            early_stop: None,
            in_epoch: None,
        };
        model_io::save_checkpoint(&path, &ckpt).unwrap();
    }
    let ck = model_io::load_checkpoint(&path).unwrap();
    assert_eq!(ck.config.train.epochs, 2);
    backprop::fit::check_matches(&ck.config.train, &cfg).unwrap();
    let resume = |restore_rng: bool| {
        let mut mlp = ck.model.mlp.clone();
        let mut trainer = Trainer::new(&mlp, &ck.config.train_config(1)).unwrap();
        if restore_rng {
            trainer.resume(&ck.state).unwrap();
        }
        for _ in ck.state.epochs_done..cfg.epochs {
            trainer.epoch(&mut mlp, &train).unwrap();
        }
        mlp
    };
    let resumed = resume(true);
    assert_eq!(bits(resumed.params()), bits(straight.params()));
    // Without the RNG state the shuffles restart and the result differs, so
    // the equality above is not an accident.
    assert_ne!(bits(resume(false).params()), bits(straight.params()));
}

// ---------------------------------------------------------------------------
// Any bytes: Ok or Err, never a panic, bounded memory
// ---------------------------------------------------------------------------

/// Loads `bytes` both ways; an accepted model must survive a round trip.
fn load_anything(bytes: &[u8]) {
    let (model, peak) = peak_heap(|| model_io::from_bytes(bytes, "fuzz"));
    assert!(
        peak <= alloc_bound(bytes.len()),
        "{peak} bytes of heap to load {} bytes",
        bytes.len()
    );
    if let Ok(m) = model {
        let again = model_io::to_bytes(&m.mlp, &m.meta).unwrap();
        assert_eq!(model_io::from_bytes(&again, "again").unwrap(), m);
    }
    let (ckpt, peak) = peak_heap(|| model_io::checkpoint_from_bytes(bytes, "fuzz"));
    assert!(
        peak <= alloc_bound(bytes.len()),
        "{peak} bytes for a checkpoint"
    );
    if let Ok(c) = ckpt {
        let again = model_io::checkpoint_to_bytes(&c).unwrap();
        assert_eq!(model_io::checkpoint_from_bytes(&again, "again").unwrap(), c);
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Truncate(usize),
    /// Replaces a decimal digit run in the header by another number.
    Number(usize, u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                Just(0u64),
                Just(1),
                Just(u64::MAX),
                Just(1 << 32),
                Just(1 << 62),
                0u64..100
            ]
        )
            .prop_map(|(i, v)| Mutation::Number(i, v)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    match m {
        Mutation::Set(i, b) => {
            if let Some(x) = bytes.get_mut(i % len) {
                *x = *b;
            }
        }
        Mutation::Insert(i, v) => {
            let at = i % (bytes.len() + 1);
            bytes.splice(at..at, v.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let at = i % len;
            let end = (at + n).min(bytes.len());
            if at < end {
                bytes.drain(at..end);
            }
        }
        Mutation::Truncate(i) => bytes.truncate(i % len),
        Mutation::Number(i, v) => {
            let starts: Vec<usize> = (9..bytes.len())
                .filter(|&j| bytes[j].is_ascii_digit() && !bytes[j - 1].is_ascii_digit())
                .collect();
            if let Some(&start) = starts.get(i % starts.len().max(1)) {
                let end = (start..bytes.len())
                    .find(|&j| !bytes[j].is_ascii_digit())
                    .unwrap_or(bytes.len());
                let old_len = bytes.len();
                bytes.splice(start..end, v.to_string().bytes());
                // A number inside the header: keep the header length right so
                // the change reaches the JSON parser instead of the framing check.
                let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
                if (start as u64) < 8 + n {
                    let grown = n as i64 + bytes.len() as i64 - old_len as i64;
                    bytes[..8].copy_from_slice(&(grown.max(0) as u64).to_le_bytes());
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        load_anything(&bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_length_never_panic(
        n in 0u64..300,
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut bytes = n.to_le_bytes().to_vec();
        bytes.extend(body);
        load_anything(&bytes);
    }

    #[test]
    fn mutated_models_never_panic(muts in proptest::collection::vec(mutation(), 1..6)) {
        let mut bytes = tiny_bytes();
        for m in &muts {
            apply(&mut bytes, m);
        }
        load_anything(&bytes);
    }

    #[test]
    fn mutated_checkpoints_never_panic(muts in proptest::collection::vec(mutation(), 1..6)) {
        let mut bytes = model_io::checkpoint_to_bytes(&tiny_checkpoint()).unwrap();
        for m in &muts {
            apply(&mut bytes, m);
        }
        load_anything(&bytes);
    }

    #[test]
    fn mutated_in_epoch_checkpoints_never_panic(muts in proptest::collection::vec(mutation(), 1..6)) {
        let mut bytes = model_io::checkpoint_to_bytes(&tiny_checkpoint_in_epoch()).unwrap();
        for m in &muts {
            apply(&mut bytes, m);
        }
        load_anything(&bytes);
    }
}

#[test]
fn valid_files_stay_within_the_allocation_bound() {
    // Big shapes and long metadata arrays are the worst case for the header parse.
    let sizes = [300, 200, 10];
    let mlp = Mlp::new(&sizes, &[Activation::Sigmoid], Head::SoftmaxCe, 1).unwrap();
    let meta = ModelMeta {
        standardizer: Some(Standardizer {
            mean: vec![0.123_456_79; 300],
            std: vec![1.0; 300],
        }),
        feature_names: (0..300).map(|i| format!("{i}")).collect(),
        ..ModelMeta::default()
    };
    let bytes = model_io::to_bytes(&mlp, &meta).unwrap();
    let (_, peak) = peak_heap(|| model_io::from_bytes(&bytes, SRC).unwrap());
    assert!(
        peak <= alloc_bound(bytes.len()),
        "{peak} for {}",
        bytes.len()
    );
    // A header of many one-digit sizes parses to 8 bytes per 2 bytes of text.
    let many = format!("[{}]", vec!["1"; 200_000].join(","));
    let bytes = set("sizes", &many);
    let (r, peak) = peak_heap(|| model_io::from_bytes(&bytes, SRC));
    assert!(r.is_err());
    assert!(
        peak <= alloc_bound(bytes.len()),
        "{peak} for {}",
        bytes.len()
    );
}

/// Writes models, raw inputs and backprop's predictions for the PyTorch check
/// of the README snippet (`tests/fixtures/models/check_torch.py`), and checks
/// what Python will read: each model file loads back as the model saved, and
/// its `.io.safetensors` holds exactly the raw inputs and the predictions.
/// The files go to a temporary directory, or to `BACKPROP_TORCH_DIR` (kept):
/// `BACKPROP_TORCH_DIR=/tmp/backprop_torch cargo test --release --test model_io
/// export_for_python`, then
/// `python tests/fixtures/models/check_torch.py /tmp/backprop_torch`.
#[test]
fn export_for_python() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("BACKPROP_TORCH_DIR")
        .map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    let dir = dir.as_path();
    std::fs::create_dir_all(dir).unwrap();
    let (train, _) = embedded::breast_cancer();
    let n = train.rows();
    let raw: Vec<f32> = (0..n * 30)
        .map(|i| ((i * 7919 % 1009) as f32) / 100.0 + (i % 30) as f32)
        .collect();
    type Case = (&'static str, Vec<usize>, Vec<Activation>, Head, ModelMeta);
    let cases: Vec<Case> = vec![
        (
            "sigmoid",
            vec![30, 16, 8, 1],
            vec![Activation::Tanh, Activation::Relu],
            Head::SigmoidBce,
            ModelMeta {
                standardizer: Some(Standardizer::fit(
                    &backprop::Matrix::from_vec(n, 30, raw.clone()).unwrap(),
                )),
                class_names: Some(vec!["malignant".into(), "benign".into()]),
                ..ModelMeta::default()
            },
        ),
        (
            "softmax",
            vec![30, 20, 5],
            vec![Activation::Sigmoid],
            Head::SoftmaxCe,
            ModelMeta {
                pixel_scale: Some(16.0),
                ..ModelMeta::default()
            },
        ),
        (
            "mse",
            vec![30, 9, 7, 3],
            vec![Activation::Identity, Activation::Tanh],
            Head::Mse,
            ModelMeta::default(),
        ),
    ];
    for (name, sizes, hidden, head, meta) in cases {
        let mlp = Mlp::new(&sizes, &hidden, head, 17).unwrap();
        // raw features in, outputs in the targets' units out
        let saved = model_io::SavedModel {
            mlp: mlp.clone(),
            meta: meta.clone(),
        };
        let y = saved.predict(&raw, n).unwrap();
        let model_path = dir.join(format!("{name}.safetensors"));
        model_io::save_model(&model_path, &mlp, &meta).unwrap();
        let io_tensors: Tensors = vec![
            ("x".into(), Dtype::F32, vec![n, 30], f32_bytes(&raw)),
            (
                "y".into(),
                Dtype::F32,
                vec![n, *sizes.last().unwrap()],
                f32_bytes(y.as_slice()),
            ),
        ];
        let io_path = dir.join(format!("{name}.io.safetensors"));
        std::fs::write(&io_path, encode(&io_tensors, None)).unwrap();

        // What the Python side reads is what was meant: the same network and
        // preprocessing, the raw inputs and these predictions, bit for bit.
        let loaded = model_io::load_model(&model_path).unwrap();
        assert_same_model(&loaded, &SavedModel { mlp, meta });
        let (read_back, _) = decode(&std::fs::read(&io_path).unwrap());
        assert_eq!(read_back, io_tensors, "{name}");
    }
}

/// The running accuracy's count of an unfinished epoch survives the
/// checkpoint, and a count above the rows done is refused.
#[test]
fn the_in_epoch_count_of_rows_predicted_right_round_trips() {
    let mut c = tiny_checkpoint_in_epoch();
    let p = c.in_epoch.as_mut().unwrap();
    p.correct = Some(70);
    let bytes = model_io::checkpoint_to_bytes(&c).unwrap();
    let back = model_io::checkpoint_from_bytes(&bytes, SRC).unwrap();
    assert_eq!(back.in_epoch.unwrap().correct, Some(70));
    // 3 batches of 32 rows: at most 96
    c.in_epoch.as_mut().unwrap().correct = Some(97);
    let err = model_io::checkpoint_to_bytes(&c)
        .and_then(|b| model_io::checkpoint_from_bytes(&b, SRC))
        .unwrap_err();
    assert!(err.to_string().contains("checkpoint.correct 97"), "{err}");
}

#[test]
fn every_schedule_round_trips_through_a_checkpoint() {
    for schedule in [
        LrSchedule::Constant,
        LrSchedule::Step {
            every_epochs: 3,
            gamma: 0.5,
        },
        LrSchedule::Cosine {
            min_lr: 0.001,
            epochs: 7,
        },
        LrSchedule::Plateau {
            patience: 2,
            gamma: 0.2,
        },
        LrSchedule::FlatCos,
        LrSchedule::CosLog4,
        LrSchedule::OneCycle,
        LrSchedule::InvScaling {
            power_t: 0.25,
            rows: 1437,
        },
    ] {
        let mut c = tiny_checkpoint_in_epoch();
        c.config.train.schedule = schedule;
        let bytes = model_io::checkpoint_to_bytes(&c).unwrap();
        let back = model_io::checkpoint_from_bytes(&bytes, SRC).unwrap();
        assert_eq!(back.config.train.schedule, schedule, "{schedule}");
        assert_eq!(back, c, "{schedule}");
    }
}
