//! Byte-identical outputs: the md5 of every file and report the command line
//! writes over a corpus of runs — training with every optimizer, schedule and
//! head, dropout, class weights, early stopping, checkpoints and resumes, then
//! `eval`, `predict` and `info` of the results, and a few error messages —
//! compared with the digests recorded in `tests/fixtures/corpus.md5`.
//!
//! The digests pin what a user sees while the code beneath is reorganised:
//! a refactor that changes one bit of a model file, one digit of a report or
//! one word of a message fails here, naming the run and the output.
//!
//! Timings (`seconds`, `samples_per_sec`, …) are dropped from the JSON lines
//! before hashing, and the repository's path from error messages (so that
//! any checkout gives the same bytes); everything else is hashed as written.
//!
//! The bits of a model depend on the CPU's vector instructions (the crate is
//! built with `target-cpu=native`: FMA or not, 256 or 512-bit registers), so
//! the digests are kept per instruction set. A machine whose set has no
//! digests yet fails with the command that records them; record them only at a
//! revision whose outputs are trusted (e.g. the last landed one):
//!
//! ```sh
//! BACKPROP_CORPUS_RECORD=1 cargo test --release --test corpus
//! ```
//!
//! The MPI run is recorded and checked with `--features mpi` (it needs Open
//! MPI's `mpirun`, as `tests/mpi.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use md5::{Digest, Md5};

const BIN: &str = env!("CARGO_BIN_EXE_backprop");

/// JSON keys whose values are wall-clock measurements.
const TIMINGS: [&str; 4] = [
    "seconds",
    "samples_per_sec",
    "train_seconds",
    "wall_seconds",
];

fn data(name: &str) -> String {
    format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn record_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus.md5")
}

/// The instruction sets that decide the bits: the compiled target features
/// and what the CPU offers at run time (matrixmultiply picks its kernel then).
fn cpu_key() -> String {
    let mut key = std::env::consts::ARCH.to_string();
    let compiled = [
        ("avx2", cfg!(target_feature = "avx2")),
        ("fma", cfg!(target_feature = "fma")),
        ("avx512f", cfg!(target_feature = "avx512f")),
    ];
    for (name, on) in compiled {
        if on {
            key += &format!("+{name}");
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        let runtime = [
            ("avx2", is_x86_feature_detected!("avx2")),
            ("fma", is_x86_feature_detected!("fma")),
            ("avx512f", is_x86_feature_detected!("avx512f")),
        ];
        key += "/run";
        for (name, on) in runtime {
            if on {
                key += &format!("+{name}");
            }
        }
    }
    key
}

fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `value` without its timing keys, at any depth.
fn drop_timings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for key in TIMINGS {
                map.remove(key);
            }
            map.values_mut().for_each(drop_timings);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_timings),
        _ => {}
    }
}

/// The runs of one group, in a temporary working directory, and the digest
/// of each output under `group/run/output`.
struct Corpus {
    group: &'static str,
    dir: tempfile::TempDir,
    digests: BTreeMap<String, String>,
}

impl Corpus {
    fn new(group: &'static str) -> Corpus {
        Corpus {
            group,
            dir: tempfile::tempdir().expect("temp dir"),
            digests: BTreeMap::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn put(&mut self, run: &str, output: &str, bytes: &[u8]) {
        let key = format!("{}/{run}/{output}", self.group);
        let old = self.digests.insert(key.clone(), md5_hex(bytes));
        assert!(old.is_none(), "{key} recorded twice");
    }

    fn exec(&self, program: &mut Command, what: &str) -> Output {
        program.current_dir(self.dir.path());
        program
            .output()
            .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"))
    }

    /// `backprop args` in the working directory; it must succeed. Records
    /// its standard output (JSON lines without their timings when `json`).
    fn ok(&mut self, run: &str, args: &[&str], json: bool) -> Vec<u8> {
        let what = format!("backprop {}", args.join(" "));
        let out = self.exec(Command::new(BIN).args(args), &what);
        assert!(
            out.status.success(),
            "{what} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = if json {
            let mut text = String::new();
            for line in String::from_utf8(out.stdout).expect("utf-8").lines() {
                let mut value: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{what}: not JSON: {e}: {line}"));
                drop_timings(&mut value);
                text += &value.to_string();
                text.push('\n');
            }
            text.into_bytes()
        } else {
            out.stdout
        };
        self.put(run, "stdout", &stdout);
        stdout
    }

    /// `backprop args` must fail: records its exit code and message.
    fn fails(&mut self, run: &str, args: &[&str]) {
        let what = format!("backprop {}", args.join(" "));
        let out = self.exec(Command::new(BIN).args(args), &what);
        assert!(!out.status.success(), "{what} succeeded");
        let text = format!(
            "exit {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        // the same bytes from any checkout: the repository's path is elided
        let text = text.replace(env!("CARGO_MANIFEST_DIR"), "<repo>");
        self.put(run, "error", text.as_bytes());
    }

    /// Records the bytes of a file the runs wrote.
    fn file(&mut self, run: &str, name: &str) {
        let bytes = fs::read(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        self.put(run, name, &bytes);
    }

    /// `base` then `--out NAME.st` then each case's flags: one training run
    /// per case, its JSON lines and model recorded.
    fn train_each(&mut self, base: &[&str], cases: &[(&str, &[&str])]) {
        for (name, extra) in cases {
            let out = format!("{name}.st");
            let mut args = base.to_vec();
            args.extend_from_slice(&["--out", &out]);
            args.extend_from_slice(extra);
            self.ok(name, &args, true);
            self.file(name, &out);
        }
    }

    /// `eval` (JSON and text), `predict` (CSV and NPY) and `info` (JSON and
    /// text) of `model` on `test`.
    fn use_model(&mut self, run: &str, model: &str, test: &str) {
        let eval = format!("{run}.eval");
        self.ok(
            &format!("{eval}-json"),
            &["eval", "--json", "--model", model, "--data", test],
            false,
        );
        self.ok(&eval, &["eval", "--model", model, "--data", test], false);
        self.ok(
            &format!("{run}.predict"),
            &["predict", "--model", model, "--data", test],
            false,
        );
        let npy = format!("{run}.predict.npy");
        self.ok(
            &format!("{run}.predict-npy"),
            &["predict", "--model", model, "--data", test, "--out", &npy],
            false,
        );
        self.file(&format!("{run}.predict-npy"), &npy);
        self.ok(
            &format!("{run}.info-json"),
            &["info", "--json", "--model", model],
            false,
        );
        self.ok(&format!("{run}.info"), &["info", "--model", model], false);
    }

    /// Compares the digests with the record, or records them when
    /// `BACKPROP_CORPUS_RECORD` is set.
    fn check(self) {
        let cpu = cpu_key();
        let path = record_path();
        let text = fs::read_to_string(&path).unwrap_or_default();
        // lines: `cpu group/run/output md5`
        let mut recorded: BTreeMap<(String, String), String> = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words.len(), 3, "{}: bad line {line:?}", path.display());
            recorded.insert((words[0].into(), words[1].into()), words[2].into());
        }
        let prefix = format!("{}/", self.group);
        let mine = |(c, k): &(String, String)| *c == cpu && k.starts_with(&prefix);
        if std::env::var_os("BACKPROP_CORPUS_RECORD").is_some() {
            recorded.retain(|k, _| !mine(k));
            for (key, digest) in &self.digests {
                recorded.insert((cpu.clone(), key.clone()), digest.clone());
            }
            let mut out =
                String::from("# tests/corpus.rs: the md5 of each output, per instruction set\n");
            for ((c, k), d) in &recorded {
                let _ = writeln!(out, "{c} {k} {d}");
            }
            fs::write(&path, out).expect("write the record");
            return;
        }
        let expected: BTreeMap<&str, &str> = recorded
            .iter()
            .filter(|(k, _)| mine(k))
            .map(|((_, k), d)| (k.as_str(), d.as_str()))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} holds no digests of group '{}' for this CPU ({cpu}): record them at a \
             trusted revision with BACKPROP_CORPUS_RECORD=1 cargo test --release --test corpus",
            path.display(),
            self.group
        );
        let mut wrong = Vec::new();
        for (key, digest) in &self.digests {
            match expected.get(key.as_str()) {
                Some(d) if d == digest => {}
                Some(_) => wrong.push(format!("{key}: changed")),
                None => wrong.push(format!("{key}: not recorded")),
            }
        }
        for key in expected.keys() {
            if !self.digests.contains_key(*key) {
                wrong.push(format!("{key}: recorded but not produced"));
            }
        }
        assert!(
            wrong.is_empty(),
            "outputs differ from {} ({cpu}):\n{}",
            path.display(),
            wrong.join("\n")
        );
    }
}

/// 240 images of 6 × 6 bytes in 4 classes, as an IDX pair.
fn write_images(c: &Corpus) {
    let (n, side) = (240usize, 6usize);
    let mut images = vec![0, 0, 8, 3];
    for d in [n, side, side] {
        images.extend_from_slice(&(d as u32).to_be_bytes());
    }
    let mut labels = vec![0, 0, 8, 1];
    labels.extend_from_slice(&(n as u32).to_be_bytes());
    for i in 0..n {
        let class = (i * 7 + i / 5) % 4;
        labels.push(class as u8);
        for p in 0..side * side {
            let bright = (p % side) / (side / 2) == class % 2 && (p / side) / 3 == class / 2;
            let noise = (i * 31 + p * 17) % 64;
            images.push(if bright {
                160 + noise as u8
            } else {
                noise as u8
            });
        }
    }
    fs::write(c.path("images.idx"), images).unwrap();
    fs::write(c.path("labels.idx"), labels).unwrap();
}

/// Two regression targets and a 0/1 weight-like column, 160 rows.
fn write_two_targets(c: &Corpus) {
    let mut text = String::from("a,b,c,w,y1,y2\n");
    for i in 0..160u32 {
        let a = (i % 17) as f32 / 4.0;
        let b = ((i * 7) % 13) as f32 - 6.0;
        let cc = ((i * 3) % 11) as f32 / 10.0;
        let w = 1 + i % 3;
        let _ = writeln!(
            text,
            "{a},{b},{cc},{w},{},{}",
            a * 2.0 - b,
            a * cc + 0.5 * b
        );
    }
    fs::write(c.path("two.csv"), text).unwrap();
}

#[test]
fn training_evaluating_predicting_and_errors_give_the_recorded_bytes() {
    let mut c = Corpus::new("cli");
    let digits = data("digits.train.csv");
    let digits_test = data("digits.test.csv");
    let cancer = data("breast_cancer.train.csv");
    let cancer_test = data("breast_cancer.test.csv");
    let diabetes = data("diabetes.train.csv");
    let diabetes_test = data("diabetes.test.csv");
    let iris = data("iris.train.csv");
    let iris_test = data("iris.test.csv");

    // the embedded set, its defaults, with a checkpoint and a plot
    c.ok(
        "embedded",
        &[
            "train",
            "--json",
            "--epochs",
            "3",
            "--threads",
            "2",
            "--out",
            "embedded.st",
            "--checkpoint",
            "embedded.ckpt",
            "--plot",
            "embedded.svg",
        ],
        true,
    );
    c.file("embedded", "embedded.st");
    c.file("embedded", "embedded.ckpt");
    c.file("embedded", "embedded.svg");
    c.use_model("embedded", "embedded.st", &cancer_test);
    c.ok(
        "embedded.ckpt-info",
        &["info", "--model", "embedded.ckpt"],
        false,
    );

    // every optimizer and its options, on the digits (softmax)
    let optimizers: [(&str, &[&str]); 7] = [
        ("sgd", &["--optimizer", "sgd", "--lr", "0.05"]),
        (
            "sgd-nesterov",
            &[
                "--optimizer",
                "sgd",
                "--momentum",
                "0.9",
                "--nesterov",
                "--weight-decay",
                "1e-4",
            ],
        ),
        ("adam", &["--optimizer", "adam", "--clip-norm", "1.5"]),
        (
            "adamw",
            &[
                "--optimizer",
                "adamw",
                "--weight-decay",
                "0.02",
                "--beta1",
                "0.8",
                "--beta2",
                "0.99",
                "--eps",
                "1e-7",
            ],
        ),
        (
            "rmsprop",
            &["--optimizer", "rmsprop", "--alpha", "0.9", "--lr", "0.002"],
        ),
        (
            "rmsprop-decay",
            &[
                "--optimizer",
                "rmsprop",
                "--eps",
                "1e-6",
                "--weight-decay",
                "1e-3",
            ],
        ),
        ("default", &[]),
    ];
    c.train_each(
        &[
            "train",
            "--json",
            "--epochs",
            "3",
            "--layers",
            "24",
            "--threads",
            "2",
            "--data",
            &digits,
            "--test-data",
            &digits_test,
        ],
        &optimizers,
    );
    c.use_model("adam", "adam.st", &digits_test);

    // every schedule, warm-up, dropout, shards and the order of rows
    let schedules: [(&str, &[&str]); 8] = [
        (
            "step",
            &[
                "--lr-schedule",
                "step",
                "--lr-step-epochs",
                "1",
                "--lr-gamma",
                "0.5",
            ],
        ),
        (
            "cosine-warmup",
            &[
                "--lr-schedule",
                "cosine",
                "--lr-min",
                "0.0005",
                "--warmup-epochs",
                "1",
                "--lr-cosine-epochs",
                "6",
            ],
        ),
        (
            "plateau",
            &[
                "--lr-schedule",
                "plateau",
                "--lr-patience",
                "0",
                "--lr-gamma",
                "0.3",
                "--validation-split",
                "0.2",
            ],
        ),
        ("constant", &["--lr-schedule", "constant"]),
        ("dropout", &["--dropout", "0.25", "--activation", "tanh"]),
        ("shards", &["--shard-rows", "7", "--batch-size", "50"]),
        (
            "no-shuffle",
            &["--no-shuffle", "--seed", "9", "--no-standardize"],
        ),
        (
            "full-metrics",
            &["--train-metrics", "full", "--layers", "12,10"],
        ),
    ];
    c.train_each(
        &[
            "train",
            "--json",
            "--epochs",
            "4",
            "--layers",
            "20",
            "--threads",
            "2",
            "--data",
            &digits,
        ],
        &schedules,
    );
    c.use_model("dropout", "dropout.st", &digits_test);

    // heads: sigmoid with class weights, softmax on iris, mse on diabetes
    for (name, weights) in [("balanced", "balanced"), ("pairs", "0=2.5,1=0.5")] {
        let out = format!("cw-{name}.st");
        c.ok(
            &format!("cw-{name}"),
            &[
                "train",
                "--json",
                "--epochs",
                "3",
                "--layers",
                "16",
                "--activation",
                "tanh",
                "--optimizer",
                "sgd",
                "--lr",
                "0.1",
                "--class-weight",
                weights,
                "--data",
                &cancer,
                "--test-data",
                &cancer_test,
                "--out",
                &out,
            ],
            true,
        );
        c.file(&format!("cw-{name}"), &out);
    }
    c.use_model("cw-balanced", "cw-balanced.st", &cancer_test);
    c.ok(
        "iris",
        &[
            "train",
            "--json",
            "--epochs",
            "30",
            "--layers",
            "8",
            "--head",
            "softmax",
            "--data",
            &iris,
            "--test-data",
            &iris_test,
            "--out",
            "iris.st",
        ],
        true,
    );
    c.file("iris", "iris.st");
    c.use_model("iris", "iris.st", &iris_test);
    for (name, extra) in [
        ("mse", &[][..]),
        ("mse-raw", &["--no-standardize-targets"][..]),
    ] {
        let out = format!("{name}.st");
        let mut args = vec![
            "train",
            "--json",
            "--epochs",
            "5",
            "--layers",
            "8",
            "--head",
            "mse",
            "--data",
            &diabetes,
            "--test-data",
            &diabetes_test,
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        c.ok(name, &args, true);
        c.file(name, &out);
        c.use_model(name, &out, &diabetes_test);
    }

    // two targets and a weight column
    write_two_targets(&c);
    c.ok(
        "two-targets",
        &[
            "train",
            "--json",
            "--epochs",
            "6",
            "--layers",
            "6",
            "--head",
            "mse",
            "--label-column",
            "y1,y2",
            "--weight-column",
            "w",
            "--data",
            "two.csv",
            "--out",
            "two.st",
        ],
        true,
    );
    c.file("two-targets", "two.st");
    c.use_model("two-targets", "two.st", "two.csv");

    // early stopping on each monitored figure
    for monitor in ["loss", "accuracy"] {
        let name = format!("early-{monitor}");
        let out = format!("{name}.st");
        c.ok(
            &name,
            &[
                "train",
                "--json",
                "--epochs",
                "40",
                "--layers",
                "6",
                "--data",
                &iris,
                "--validation-split",
                "0.3",
                "--early-stopping",
                "--patience",
                "2",
                "--min-delta",
                "0.001",
                "--monitor",
                monitor,
                "--out",
                &out,
            ],
            true,
        );
        c.file(&name, &out);
        c.ok(
            &format!("{name}.info"),
            &["info", "--json", "--model", &out],
            false,
        );
    }
    c.ok(
        "early-r2",
        &[
            "train",
            "--json",
            "--epochs",
            "30",
            "--layers",
            "6",
            "--head",
            "mse",
            "--data",
            &diabetes,
            "--validation-split",
            "0.25",
            "--early-stopping",
            "--patience",
            "1",
            "--monitor",
            "r2",
            "--out",
            "early-r2.st",
        ],
        true,
    );
    c.file("early-r2", "early-r2.st");

    // checkpoint, resume, init from a model
    let base = [
        "train",
        "--json",
        "--layers",
        "16",
        "--optimizer",
        "adamw",
        "--lr-schedule",
        "cosine",
        "--lr-cosine-epochs",
        "5",
        "--data",
        &digits,
        "--test-data",
        &digits_test,
    ];
    let mut first = base.to_vec();
    first.extend_from_slice(&["--epochs", "2", "--checkpoint", "part.ckpt"]);
    c.ok("resume.first", &first, true);
    c.file("resume.first", "part.ckpt");
    let mut second = base.to_vec();
    second.extend_from_slice(&[
        "--epochs",
        "5",
        "--resume",
        "part.ckpt",
        "--checkpoint",
        "all.ckpt",
        "--out",
        "resumed.st",
    ]);
    c.ok("resume.second", &second, true);
    c.file("resume.second", "all.ckpt");
    c.file("resume.second", "resumed.st");
    c.ok(
        "resume.ckpt-info",
        &["info", "--json", "--model", "all.ckpt"],
        false,
    );
    c.ok(
        "init-model",
        &[
            "train",
            "--json",
            "--epochs",
            "2",
            "--layers",
            "16",
            "--data",
            &digits,
            "--init-model",
            "resumed.st",
            "--optimizer",
            "sgd",
            "--out",
            "init.st",
        ],
        true,
    );
    c.file("init-model", "init.st");

    // image bytes (IDX), scaled to 0..1
    write_images(&c);
    c.ok(
        "images",
        &[
            "train",
            "--json",
            "--epochs",
            "3",
            "--layers",
            "10",
            "--data",
            "images.idx",
            "--labels",
            "labels.idx",
            "--out",
            "images.st",
        ],
        true,
    );
    c.file("images", "images.st");
    c.ok(
        "images.eval",
        &[
            "eval",
            "--json",
            "--model",
            "images.st",
            "--data",
            "images.idx",
            "--labels",
            "labels.idx",
        ],
        false,
    );
    c.ok(
        "images.predict",
        &["predict", "--model", "images.st", "--data", "images.idx"],
        false,
    );

    // messages of bad input
    fs::write(c.path("gap.csv"), "a,b,y\n1,2,0\n3,,1\n").unwrap();
    let counts: String = std::iter::once("a,visits\n".to_string())
        .chain((0..60).map(|i| format!("{i},{}\n", (i * 7) % 31)))
        .collect();
    fs::write(c.path("counts.csv"), counts).unwrap();
    let errors: [(&str, Vec<&str>); 8] = [
        (
            "rmsprop-momentum",
            vec!["train", "--optimizer", "rmsprop", "--momentum", "0.5"],
        ),
        ("counts", vec!["train", "--data", "counts.csv"]),
        (
            "class-weight-mse",
            vec![
                "train",
                "--data",
                &diabetes,
                "--head",
                "mse",
                "--class-weight",
                "balanced",
            ],
        ),
        (
            "gap",
            vec!["train", "--data", "gap.csv", "--missing", "error"],
        ),
        ("bad-lr", vec!["train", "--lr=-1"]),
        ("nesterov-alone", vec!["train", "--nesterov"]),
        ("early-without-split", vec!["train", "--early-stopping"]),
        (
            "wrong-resume",
            vec![
                "train",
                "--data",
                &iris,
                "--resume",
                "embedded.ckpt",
                "--epochs",
                "5",
            ],
        ),
    ];
    for (name, args) in &errors {
        c.fails(name, args);
    }
    c.check();
}

#[cfg(feature = "mpi")]
#[test]
fn an_mpi_run_gives_the_recorded_bytes() {
    let mut c = Corpus::new("mpi");
    let digits = data("digits.train.csv");
    let launcher = std::env::var("BACKPROP_MPIRUN")
        .unwrap_or_else(|_| "mpirun --allow-run-as-root --oversubscribe".to_string());
    let mut words = launcher.split_whitespace();
    let mut cmd = Command::new(words.next().expect("a launcher"));
    cmd.args(words).args(["-np", "2", BIN]).args([
        "train",
        "--json",
        "--epochs",
        "3",
        "--layers",
        "16",
        "--optimizer",
        "adam",
        "--threads",
        "1",
        "--data",
        &digits,
        "--checkpoint",
        "mpi.ckpt",
        "--out",
        "mpi.st",
    ]);
    let out = c.exec(&mut cmd, "mpirun -np 2 backprop train");
    assert!(
        out.status.success(),
        "the MPI run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.file("train", "mpi.st");
    c.file("train", "mpi.ckpt");
    c.check();
}
