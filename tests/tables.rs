//! Real tables end to end: text, boolean and category columns, gaps,
//! pandas' index, identifiers and dates. A model trained on the raw table is the
//! model trained on the same table encoded by hand (one-hot levels, the
//! median and a 0/1 indicator for gaps), to the bit, and so are its
//! predictions on batches with reordered columns, unseen levels, new gaps
//! and a single level; thread counts and resume keep the bits.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

mod common;
use common::layer_tensors as tensors;

fn bin() -> Command {
    Command::cargo_bin("backprop").expect("binary built")
}

const ISLANDS: [&str; 3] = ["Biscoe", "Dream", "Torgersen"];
const SPECIES: [&str; 3] = ["Adelie", "Chinstrap", "Gentoo"];

/// One row of the raw table: (island or gap, smoker, day of 2011 or gap,
/// bill or gap, depth, species).
struct Row {
    island: Option<usize>,
    smoker: bool,
    when: Option<u32>,
    bill: Option<f32>,
    depth: f32,
    species: usize,
}

/// `n` rows from a seeded generator; the species depends on the others.
fn rows(n: usize, seed: u64) -> Vec<Row> {
    let mut s = seed;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as u32
    };
    (0..n)
        .map(|_| {
            let island = (next() % 10 != 0).then(|| (next() % 3) as usize);
            let smoker = next() % 2 == 0;
            let when = (next() % 8 != 0).then(|| next() % 365);
            let bill = (next() % 7 != 0).then(|| 30.0 + (next() % 300) as f32 / 10.0);
            let depth = 13.0 + (next() % 90) as f32 / 10.0;
            let score = island.unwrap_or(1) as f32 + bill.unwrap_or(45.0) / 20.0 + depth / 10.0;
            let species = (score as usize + usize::from(smoker)) % 3;
            Row {
                island,
                smoker,
                when,
                bill,
                depth,
                species,
            }
        })
        .collect()
}

/// The raw CSV as pandas writes it: its index first (an empty name), an
/// identifier, then the columns; gaps as `NA` or empty.
fn raw_csv(rows: &[Row]) -> String {
    let mut t = String::from(",id,island,smoker,when,bill,depth,species\n");
    for (i, r) in rows.iter().enumerate() {
        writeln!(
            t,
            "{i},pen-{i:04},{},{},{},{},{},{}",
            r.island.map_or("", |k| ISLANDS[k]),
            if r.smoker { "yes" } else { "no" },
            r.when.map_or(String::new(), |k| date_2011(k, i % 3 == 0)),
            r.bill.map_or(
                if i % 2 == 0 {
                    "NA".into()
                } else {
                    String::new()
                },
                |b| b.to_string()
            ),
            r.depth,
            SPECIES[r.species]
        )
        .unwrap();
    }
    t
}

/// Day `k` (0-based) of 2011 as `2011-MM-DD`, or `2011/M/D` when `slashes`.
fn date_2011(k: u32, slashes: bool) -> String {
    const MONTHS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let (mut m, mut d) = (0, k);
    while d >= MONTHS[m] {
        d -= MONTHS[m];
        m += 1;
    }
    if slashes {
        format!("2011/{}/{}", m + 1, d + 1)
    } else {
        format!("2011-{:02}-{:02}", m + 1, d + 1)
    }
}

/// 2011-01-01 in days since 1970-01-01; it was a Saturday (day 5 of a
/// week from Monday).
const JAN_1_2011: f64 = 14_975.0;

/// A date's five inputs by hand, from its time in days since 2011-01-01:
/// the days since 1970, then sine and cosine of its place in the year (365
/// days) and in the week.
fn date_inputs(t: f64) -> [f32; 5] {
    let day = t.floor();
    let year = t / 365.0;
    let week = ((day as u32 + 5) % 7) as f64 / 7.0 + (t - day) / 7.0;
    let tau = std::f64::consts::TAU;
    [
        (JAN_1_2011 + t) as f32,
        (tau * year).sin() as f32,
        (tau * year).cos() as f32,
        (tau * week).sin() as f32,
        (tau * week).cos() as f32,
    ]
}

/// The training median of the dates, in days since 2011-01-01.
fn date_median(train: &[Row]) -> f64 {
    let mut v: Vec<u32> = train.iter().filter_map(|r| r.when).collect();
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        f64::from(v[n / 2])
    } else {
        (f64::from(v[n / 2 - 1]) + f64::from(v[n / 2])) / 2.0
    }
}

/// The median as the engine takes it: the middle value, or the mean of the
/// middle two in `f64`, rounded to `f32`.
fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        ((f64::from(v[n / 2 - 1]) + f64::from(v[n / 2])) / 2.0) as f32
    }
}

/// The training medians of bill, depth and the dates.
fn medians(train: &[Row]) -> (f32, f32, f64) {
    (
        median(train.iter().filter_map(|r| r.bill).collect()),
        median(train.iter().map(|r| r.depth).collect()),
        date_median(train),
    )
}

/// The same table encoded by hand: island one-hot (Biscoe, Dream,
/// Torgersen, missing), smoker 0/1, the date's five inputs (the median's
/// for gaps) and its missing input, bill (median for gaps), bill missing,
/// depth; an island unseen in training sets no input.
fn encoded_csv(
    rows: &[Row],
    (bill_median, _, when_median): (f32, f32, f64),
    label: bool,
) -> String {
    let mut t = String::from("b,d,t,m,smoker,w1,w2,w3,w4,w5,w_missing,bill,bill_missing,depth");
    t += if label { ",species\n" } else { "\n" };
    for r in rows {
        let mut one_hot = [0u8; 4];
        match r.island {
            Some(k) if k < 3 => one_hot[k] = 1,
            Some(_) => {}
            None => one_hot[3] = 1,
        }
        let w = date_inputs(r.when.map_or(when_median, f64::from));
        write!(
            t,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            one_hot[0],
            one_hot[1],
            one_hot[2],
            one_hot[3],
            u8::from(r.smoker),
            w[0],
            w[1],
            w[2],
            w[3],
            w[4],
            u8::from(r.when.is_none()),
            r.bill.unwrap_or(bill_median),
            u8::from(r.bill.is_none()),
            r.depth
        )
        .unwrap();
        if label {
            write!(t, ",{}", SPECIES[r.species]).unwrap();
        }
        t.push('\n');
    }
    t
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

/// Trains on `data` with `extra` flags and returns the model file's bytes.
fn train(dir: &Path, data: &Path, out: &str, extra: &[&str]) -> Vec<u8> {
    let out = dir.join(out);
    bin()
        .args(["train", "--quiet", "--layers", "8", "--seed", "3"])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .args(if extra.contains(&"--epochs") {
            &[][..]
        } else {
            &["--epochs", "4"][..]
        })
        .assert()
        .success();
    fs::read(out).unwrap()
}

fn predict(model: &Path, data: &Path) -> (String, String) {
    let out = bin()
        .args(["predict", "--model"])
        .arg(model)
        .arg("--data")
        .arg(data)
        .assert()
        .success()
        .get_output()
        .clone();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_raw_table_trains_and_predicts_as_its_hand_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train_rows = rows(150, 1);
    let m = medians(&train_rows);
    let raw = write(d, "raw.csv", &raw_csv(&train_rows));
    let enc = write(d, "enc.csv", &encoded_csv(&train_rows, m, true));
    let a = train(d, &raw, "raw.safetensors", &[]);
    let b = train(d, &enc, "enc.safetensors", &[]);
    assert_eq!(tensors(&a), tensors(&b), "the weights differ");

    // a batch: columns reordered, no label, pandas' index, an unseen island,
    // gaps in depth (none in training), bill and date gaps
    let batch: Vec<Row> = rows(40, 2);
    let mut raw_batch = String::from(",depth,smoker,island,bill,when\n");
    let mut hand: Vec<Row> = Vec::new();
    for (i, r) in batch.into_iter().enumerate() {
        let island = if i % 9 == 4 { Some(3) } else { r.island };
        let depth_gap = i % 5 == 1;
        writeln!(
            raw_batch,
            "{i},{},{},{},{},{}",
            if depth_gap {
                "NaN".to_string()
            } else {
                r.depth.to_string()
            },
            if r.smoker { "Yes" } else { "no" },
            island.map_or("", |k| ["Biscoe", "Dream", "Torgersen", "Atlantis"][k]),
            r.bill.map_or(String::new(), |b| b.to_string()),
            r.when
                .map_or("NA".to_string(), |k| date_2011(k, i % 2 == 0)),
        )
        .unwrap();
        hand.push(Row {
            island,
            depth: if depth_gap { m.1 } else { r.depth },
            ..r
        });
    }
    let raw_batch = write(d, "batch.csv", &raw_batch);
    let enc_batch = write(d, "batch_enc.csv", &encoded_csv(&hand, m, false));
    let (p_raw, notes) = predict(&d.join("raw.safetensors"), &raw_batch);
    let (p_enc, _) = predict(&d.join("enc.safetensors"), &enc_batch);
    assert_eq!(p_raw, p_enc);
    assert!(
        notes.contains("column 'depth': 8 missing values took the training median"),
        "{notes}"
    );
    assert!(notes.contains("'Atlantis'"), "{notes}");

    // a batch of a single island, with its label: the same accuracy
    let single: Vec<Row> = rows(30, 3)
        .into_iter()
        .map(|r| Row {
            island: Some(1),
            ..r
        })
        .collect();
    let raw_single = write(d, "single.csv", &raw_csv(&single));
    let enc_single = write(d, "single_enc.csv", &encoded_csv(&single, m, true));
    let eval = |model: &str, data: &Path| {
        let out = bin()
            .args(["eval", "--json", "--model"])
            .arg(d.join(model))
            .arg("--data")
            .arg(data)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(
        eval("raw.safetensors", &raw_single),
        eval("enc.safetensors", &enc_single)
    );
}

#[test]
fn the_kinds_are_shown_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let raw = write(d, "raw.csv", &raw_csv(&rows(60, 4)));
    train(d, &raw, "m.safetensors", &[]);
    let out = bin()
        .args(["info", "--model"])
        .arg(d.join("m.safetensors"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let info = String::from_utf8(out).unwrap();
    for want in [
        "'': ignored (pandas index)",
        "id: ignored (identifier)",
        "island: category, 3 levels: Biscoe, Dream, Torgersen; missing is a level",
        "smoker: boolean, yes = 1, no = 0",
        "when: date: days since 1970-01-01, place in the year and the week (sine and cosine), \
         median 2011-",
        "bill: number, median ",
        "depth: number, median ",
    ] {
        assert!(info.contains(want), "{want} not in\n{info}");
    }
}

#[test]
fn thread_counts_and_resume_keep_the_bits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let raw = write(d, "raw.csv", &raw_csv(&rows(300, 5)));
    // a constant rate: 2 epochs resumed to 4 is then the run of 4 (the
    // default flat-cos follows the run's length)
    let flat = ["--batch-size", "64", "--lr-schedule", "constant"];
    let one = train(d, &raw, "t1", &[&["--threads", "1"][..], &flat].concat());
    for t in ["2", "3"] {
        let other = train(
            d,
            &raw,
            &format!("t{t}"),
            &[&["--threads", t][..], &flat].concat(),
        );
        assert_eq!(one, other, "{t} threads");
    }
    let ckpt = d.join("ckpt");
    let ckpt = ckpt.to_str().unwrap();
    let common = [&["--threads", "2"][..], &flat].concat();
    train(
        d,
        &raw,
        "half",
        &[
            &common[..],
            &[
                "--epochs",
                "2",
                "--checkpoint",
                ckpt,
                "--checkpoint-every",
                "2",
            ],
        ]
        .concat(),
    );
    let resumed = train(
        d,
        &raw,
        "resumed",
        &[&common[..], &["--epochs", "4", "--resume", ckpt]].concat(),
    );
    assert_eq!(one, resumed, "resume");
}
