//! The data parsers through their public entry points: good fixtures for each
//! format (`tests/fixtures/data/`, written by `make_fixtures.py`), every bad
//! input with its exact message, fuzz regressions, and a proptest that feeds
//! random and mutated bytes to `csv::parse`, `idx::parse` and `npy::parse`.
//!
//! **Allocation bound.** A counting global allocator records the largest single
//! allocation request made by the thread while it parses. For an input of `n`
//! bytes it must be at most `max(16 × n, 1 MiB)`; for gzip input `n` is the
//! larger of the compressed and the decompressed length (the decompressed
//! length is itself capped, by `idx::MAX_DECOMPRESSED` or the limit passed to
//! `idx::parse_with_limit`). So no header can make a parser allocate for data
//! that the input does not hold.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use backprop::data::{
    csv, idx, load, load_bytes, npy, ClassMap, Elements, HeaderMode, LabelColumn, LoadOptions,
    RawTarget, SourceKind,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// The peak-allocation tracker

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::peak_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

#[test]
fn peak_tracker_sees_allocations() {
    let (v, peak) = peak_alloc(|| vec![7u8; 5000]);
    assert!((5000..1 << 20).contains(&peak), "{peak}");
    let (_, peak) = peak_alloc(|| ());
    assert_eq!(peak, 0);
    drop(v);
}

/// The stated bound for an input of `n` bytes (see the module docs).
fn alloc_bound(n: usize) -> usize {
    (16 * n).max(1 << 20)
}

/// The decompressed length of gzip `bytes` (read up to a cap), else 0.
fn gunzip_len(bytes: &[u8]) -> usize {
    if !idx::is_gzip(bytes) {
        return 0;
    }
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(bytes)
        .take(idx::MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out);
    out.len()
}

/// Runs every parser on `bytes`: none may panic, each must stay within the
/// allocation bound. Returns a description of the first violation.
fn check_all_parsers(bytes: &[u8], opts: &LoadOptions) -> Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    let (_, peak) = peak_alloc(|| csv::parse(&text, "p.csv", opts).map(drop));
    if peak > alloc_bound(text.len()) {
        return Err(format!(
            "csv::parse allocated {peak} bytes for {} bytes",
            text.len()
        ));
    }
    let (_, peak) = peak_alloc(|| npy::parse(bytes, "p.npy").map(drop));
    if peak > alloc_bound(bytes.len()) {
        return Err(format!(
            "npy::parse allocated {peak} bytes for {} bytes",
            bytes.len()
        ));
    }
    let n = bytes.len().max(gunzip_len(bytes));
    let (_, peak) = peak_alloc(|| idx::parse(bytes, "p.idx").map(drop));
    if peak > alloc_bound(n) {
        return Err(format!("idx::parse allocated {peak} bytes for {n} bytes"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Helpers

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data")
        .join(name)
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

fn text_target(v: &[&str]) -> RawTarget {
    RawTarget::Text(v.iter().map(|s| s.to_string()).collect())
}

fn with_labels(labels: &str) -> LoadOptions {
    LoadOptions {
        labels_path: Some(fixture(labels)),
        ..LoadOptions::default()
    }
}

/// Writes `files` (name, bytes) into a fresh folder, loads the first with
/// `opts` (a `labels_path` is taken relative to the folder) and returns the
/// error message with the folder removed, so it starts with the file name.
fn load_err(files: &[(&str, &[u8])], opts: LoadOptions) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let opts = LoadOptions {
        labels_path: opts.labels_path.map(|p| dir.path().join(p)),
        ..opts
    };
    let err = match load(&dir.path().join(files[0].0), &opts) {
        Ok(t) => panic!("{} loaded: {t:?}", files[0].0),
        Err(e) => e.to_string(),
    };
    let prefix = format!("{}{}", dir.path().display(), std::path::MAIN_SEPARATOR);
    err.replace(&prefix, "")
}

fn csv_err(text: &str) -> String {
    load_err(&[("d.csv", text.as_bytes())], LoadOptions::default())
}

fn csv_ok(text: &str) -> backprop::data::RawTable {
    csv::parse(text, "d.csv", &LoadOptions::default()).unwrap()
}

fn csv_err_with(text: &str, opts: LoadOptions) -> String {
    load_err(&[("d.csv", text.as_bytes())], opts)
}

fn idx_bytes(type_code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, type_code, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn npy_bytes(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(header.len() as u16).to_le_bytes());
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

const X: [f32; 6] = [0.5, -1.0, 2.0, 3.25, 0.0, -0.125];
const PIXELS: [f32; 12] = [
    0.0, 255.0, 128.0, 1.0, 2.0, 3.0, 4.0, 5.0, 250.0, 251.0, 252.0, 253.0,
];

// ---------------------------------------------------------------------------
// (a) Good fixtures

#[test]
fn csv_with_header_string_labels_and_crlf() {
    let t = load(&fixture("iris_small.csv"), &LoadOptions::default()).unwrap();
    assert_eq!(t.kind, SourceKind::Csv);
    assert_eq!(t.feature_names, ["sepal_length", "sepal_width"]);
    assert_eq!((t.x.rows(), t.x.cols()), (4, 2));
    assert_eq!(t.x.as_slice(), &[5.1, 3.5, 7.0, 3.2, 6.3, -0.33, 4.9, 3.0]);
    assert_eq!(
        t.target,
        text_target(&["setosa", "versicolor", "virginica", "setosa"])
    );
    assert_eq!(t.row_lines.first(), Some(&2));
    assert_eq!(t.target_names, ["species"]);
    assert!(!t.pixel_data && t.pixel_scale().is_none());
    let classes = t.class_map().unwrap();
    assert_eq!(classes.names(), ["setosa", "versicolor", "virginica"]);
    assert_eq!(t.class_indices(&classes).unwrap(), [0, 1, 2, 0]);
    assert_eq!(
        t.numeric_targets().unwrap_err().to_string(),
        format!(
            "{}:2: column 'species': 'setosa' is not a number",
            fixture("iris_small.csv").display()
        )
    );
}

#[test]
fn csv_without_header_label_first() {
    let opts = LoadOptions {
        label_columns: vec![LabelColumn::Index(0)],
        ..LoadOptions::default()
    };
    let t = load(&fixture("no_header.csv"), &opts).unwrap();
    assert_eq!(t.feature_names, ["column 2", "column 3"]);
    assert_eq!(t.x.as_slice(), &[0.5, 2.0, 1.5, -4.0, 2.5, 8.0]);
    assert_eq!(t.target, text_target(&["1", "0", "1"]));
    assert_eq!(t.row_lines.first(), Some(&1));
    assert_eq!(t.class_map().unwrap().names(), ["0", "1"]);
    // Default: the last column is the label, and the first line is still data.
    let t = load(&fixture("no_header.csv"), &LoadOptions::default()).unwrap();
    assert_eq!(t.feature_names, ["column 1", "column 2"]);
    assert_eq!(t.numeric_targets().unwrap().as_slice(), [2.0, -4.0, 8.0]);
    // No label column: every column is a feature.
    let opts = LoadOptions {
        label_columns: vec![],
        ..LoadOptions::default()
    };
    let t = load(&fixture("no_header.csv"), &opts).unwrap();
    assert_eq!((t.x.cols(), &t.target), (3, &RawTarget::None));
}

#[test]
fn csv_semicolons_and_a_named_numeric_target() {
    let opts = LoadOptions {
        label_columns: vec![LabelColumn::Name("price".into())],
        delimiter: Some(b';'),
        ..LoadOptions::default()
    };
    let t = load(&fixture("semicolon.csv"), &opts).unwrap();
    assert_eq!(t.feature_names, ["x", "y"]);
    assert_eq!(t.x.as_slice(), &[1.0, 2.0, 2.0, 4.0, 3.0, 6.0]);
    assert_eq!(t.numeric_targets().unwrap().as_slice(), [10.5, 20.25, -1.0]);
}

#[test]
fn tsv_extension_selects_tabs() {
    let t = load(&fixture("tabs.tsv"), &LoadOptions::default()).unwrap();
    assert_eq!(t.feature_names, ["a", "b"]);
    assert_eq!(t.x.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(t.class_map().unwrap().names(), ["no", "yes"]);
}

#[test]
fn idx_images_and_labels_plain_and_gzip() {
    for (images, labels) in [
        ("images-idx3-ubyte", "labels-idx1-ubyte"),
        ("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz"),
        ("images-idx3-ubyte", "labels-idx1-ubyte.gz"),
    ] {
        let t = load(&fixture(images), &with_labels(labels)).unwrap();
        assert_eq!(t.kind, SourceKind::Idx, "{images}");
        assert_eq!((t.x.rows(), t.x.cols()), (3, 4));
        assert_eq!(t.x.as_slice(), &PIXELS);
        assert!(t.pixel_data);
        assert_eq!(t.pixel_scale(), Some(255.0));
        assert_eq!(t.feature_names[3], "pixel 4");
        assert_eq!(t.target, text_target(&["7", "0", "7"]));
        assert_eq!(t.target_source, fixture(labels).display().to_string());
        let classes = t.class_map().unwrap();
        assert_eq!(classes.names(), ["0", "7"]); // the distinct labels
        assert_eq!(t.class_indices(&classes).unwrap(), [1, 0, 1]);
    }
    // Without labels: features only.
    let t = load(&fixture("images-idx3-ubyte.gz"), &LoadOptions::default()).unwrap();
    assert_eq!(t.target, RawTarget::None);
}

#[test]
fn idx_i32_labels_and_f32_features() {
    let t = load(
        &fixture("images-idx3-ubyte"),
        &with_labels("labels_i32.idx"),
    )
    .unwrap();
    assert_eq!(t.target, text_target(&["70000", "-1", "70000"]));
    assert_eq!(t.class_map().unwrap().names(), ["-1", "70000"]);
    assert_eq!(
        t.numeric_targets().unwrap().as_slice(),
        [70000.0, -1.0, 70000.0]
    );
    let t = load(&fixture("features_f32.idx"), &LoadOptions::default()).unwrap();
    assert_eq!((t.x.rows(), t.x.cols()), (2, 3));
    assert_eq!(t.x.as_slice(), &X);
    assert!(!t.pixel_data);
    assert_eq!(t.feature_names, ["feature 1", "feature 2", "feature 3"]);
}

#[test]
fn npy_features_of_each_type() {
    for name in ["x_f32.npy", "x_f64.npy", "x_fortran.npy"] {
        let t = load(&fixture(name), &LoadOptions::default()).unwrap();
        assert_eq!(t.kind, SourceKind::Npy);
        assert_eq!((t.x.rows(), t.x.cols()), (3, 2), "{name}");
        assert_eq!(t.x.as_slice(), &X, "{name}");
        assert!(!t.pixel_data);
    }
    // an f4 file is read in place from a memory map, unless told not to;
    // a change to the matrix copies it and leaves the file alone
    let mapped = load(&fixture("x_f32.npy"), &LoadOptions::default()).unwrap();
    assert!(mapped.x.is_mapped());
    let read = LoadOptions {
        memory_map: false,
        ..LoadOptions::default()
    };
    let t = load(&fixture("x_f32.npy"), &read).unwrap();
    assert!(!t.x.is_mapped());
    assert_eq!(t, mapped);
    let mut changed = mapped.x.clone();
    changed.as_mut_slice()[0] = 99.0;
    assert!(!changed.is_mapped());
    assert_eq!(mapped.x.as_slice(), &X);
    let again = load(&fixture("x_f32.npy"), &LoadOptions::default()).unwrap();
    assert_eq!(again.x.as_slice(), &X);
    // the other element types are parsed
    for name in ["x_f64.npy", "x_fortran.npy"] {
        assert!(!load(&fixture(name), &LoadOptions::default())
            .unwrap()
            .x
            .is_mapped());
    }
    let t = load(&fixture("x_i64.npy"), &LoadOptions::default()).unwrap();
    assert_eq!(t.x.as_slice(), &[1.0, -2.0, 3.0, -4.0, 5.0, 1048576.0]);
    let t = load(&fixture("x_u8.npy"), &LoadOptions::default()).unwrap();
    assert_eq!((t.x.rows(), t.x.cols()), (3, 4));
    assert_eq!(t.x.as_slice(), &PIXELS);
    assert_eq!(t.pixel_scale(), Some(255.0));
}

/// Image bytes (a plain IDX file, an NPY `|u1` file) are mapped and kept
/// as bytes; gzip, `--no-mmap` and other element types are read. Every way
/// gives the same table, and a file whose header does not fit its length
/// gives the same error mapped or read.
#[test]
fn image_bytes_are_mapped_and_stay_bytes() {
    let pixels: Vec<u8> = PIXELS.iter().map(|&p| p as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let idx = write("x.idx", &idx_bytes(8, &[3, 2, 2], &pixels));
    let gz = write("x.idx.gz", &gzip(&idx_bytes(8, &[3, 2, 2], &pixels)));
    let npy = write(
        "x.npy",
        &npy_bytes(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 4), }\n",
            &pixels,
        ),
    );
    // a name that does not say: the IDX magic does
    let unnamed = write("images", &idx_bytes(8, &[3, 4], &pixels));
    let read = LoadOptions {
        memory_map: false,
        ..LoadOptions::default()
    };
    for (path, mapped) in [(&idx, true), (&gz, false), (&npy, true), (&unnamed, true)] {
        let t = load(path, &LoadOptions::default()).unwrap();
        let r = load(path, &read).unwrap();
        for (t, mapped) in [(&t, mapped), (&r, false)] {
            assert!(
                t.x.is_bytes() && t.x.is_in_place() && t.pixel_data,
                "{path:?}"
            );
            assert_eq!((t.x.rows(), t.x.cols()), (3, 4), "{path:?}");
            match t.x.values() {
                backprop::tensor::Values::U8(v) => assert_eq!(v, pixels.as_slice()),
                other => panic!("{path:?}: {other:?}"),
            }
            let source = format!("{:?}", t.x);
            assert_eq!(source.contains("Mapped"), mapped, "{path:?}: {source}");
        }
        assert_eq!(t.x, r.x);
        assert_eq!(t.x.as_slice(), &PIXELS);
    }
    // other integer types are widened when read
    let i16s: Vec<u8> = pixels
        .iter()
        .flat_map(|&p| i16::from(p).to_be_bytes())
        .collect();
    let wide = load(
        &write("w.idx", &idx_bytes(0x0b, &[3, 4], &i16s)),
        &LoadOptions::default(),
    )
    .unwrap();
    assert!(!wide.x.is_in_place() && !wide.pixel_data);
    assert_eq!(wide.x.as_slice(), &PIXELS);
    // a header that does not fit: the same error either way
    for bytes in [
        idx_bytes(8, &[3, 2, 2], &pixels[..11]),
        idx_bytes(8, &[3, 2, 2], &[pixels.as_slice(), &[0]].concat()),
    ] {
        let opts = |memory_map| LoadOptions {
            memory_map,
            ..LoadOptions::default()
        };
        let mapped = load_err(&[("x.idx", &bytes)], opts(true));
        assert_eq!(mapped, load_err(&[("x.idx", &bytes)], opts(false)));
        assert!(
            mapped.starts_with("x.idx: header claims 3×2×2 u8 values"),
            "{mapped}"
        );
    }
    let short = npy_bytes(
        "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 4), }\n",
        &pixels[..5],
    );
    let mapped = load_err(&[("x.npy", &short)], LoadOptions::default());
    assert_eq!(mapped, load_err(&[("x.npy", &short)], read.clone()));
    assert!(mapped.starts_with("x.npy: "), "{mapped}");
}

#[test]
fn npy_labels_of_each_type() {
    let labels = |name: &str| load(&fixture("x_f32.npy"), &with_labels(name)).unwrap();
    assert_eq!(labels("y_u8.npy").target, text_target(&["1", "0", "1"]));
    let t = labels("y_i64.npy");
    assert_eq!(t.target, text_target(&["2", "0", "1"]));
    assert_eq!(t.class_map().unwrap().names(), ["0", "1", "2"]);
    // an array's labels are codes into their distinct values; a part of the
    // rows keeps only the values it uses, as if read alone
    assert!(matches!(t.target, RawTarget::Codes { .. }));
    let part = t.take_rows(&[2, 0], "part").unwrap();
    assert_eq!(part.target, text_target(&["1", "2"]));
    match &part.target {
        RawTarget::Codes { values, codes } => {
            assert_eq!(
                (values.as_slice(), codes.as_slice()),
                (&["1".to_string(), "2".to_string()][..], &[0, 1][..])
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(part.class_map().unwrap().names(), ["1", "2"]);
    assert_eq!(part.class_indices(&t.class_map().unwrap()).unwrap(), [1, 2]);
    // Float labels keep their value: 1.5 is a regression target, or a string class.
    let t = labels("y_f32.npy");
    assert_eq!(t.target, text_target(&["1", "0", "1.5"]));
    assert_eq!(t.numeric_targets().unwrap().as_slice(), [1.0, 0.0, 1.5]);
    let t = labels("y_f64.npy"); // shape (3, 1)
    assert_eq!(
        t.numeric_targets().unwrap().as_slice(),
        [0.25, -2.0, 1000.0]
    );
    // IDX labels for NPY features, and NPY labels for IDX images.
    let t = load(&fixture("x_f64.npy"), &with_labels("labels-idx1-ubyte")).unwrap();
    assert_eq!(t.target, text_target(&["7", "0", "7"]));
    let t = load(&fixture("images-idx3-ubyte"), &with_labels("y_u8.npy")).unwrap();
    assert_eq!(t.target, text_target(&["1", "0", "1"]));
}

#[test]
fn byte_level_entry_points_agree_with_load() {
    let a = idx::parse(&fixture_bytes("images-idx3-ubyte.gz"), "i").unwrap();
    assert_eq!(
        a,
        idx::parse(&fixture_bytes("images-idx3-ubyte"), "i").unwrap()
    );
    assert_eq!(
        (a.shape.as_slice(), a.dtype.as_str()),
        (&[3, 2, 2][..], "u8")
    );
    let a = npy::parse(&fixture_bytes("x_fortran.npy"), "f").unwrap();
    let b = npy::parse(&fixture_bytes("x_f64.npy"), "f").unwrap();
    assert_eq!(a.data, b.data);
    assert_eq!(
        a.data,
        Elements::F64(X.iter().map(|&v| f64::from(v)).collect())
    );
    let text = std::fs::read_to_string(fixture("iris_small.csv")).unwrap();
    let t = csv::parse(&text, "iris", &LoadOptions::default()).unwrap();
    let loaded = load(&fixture("iris_small.csv"), &LoadOptions::default()).unwrap();
    assert_eq!((t.x, t.target), (loaded.x, loaded.target));
}

// ---------------------------------------------------------------------------
// (b) Bad inputs: exact messages

#[test]
fn csv_structure_errors() {
    assert_eq!(csv_err(""), "d.csv: the file is empty");
    assert_eq!(
        csv_err("a,b,label\n"),
        "d.csv: no data rows after the header"
    );
    assert_eq!(csv_err("a,b,label"), "d.csv: no data rows after the header");
    assert_eq!(
        csv_err("a,b,label\n1,2,x\n1,y\n"),
        "d.csv:3: expected 3 fields, found 2"
    );
    assert_eq!(
        csv_err("a,label\n1,x,5\n"),
        "d.csv:2: expected 2 fields, found 3"
    );
    assert_eq!(
        csv_err("a,b,label\n1,zz\n"),
        "d.csv:2: expected 3 fields, found 2"
    );
    // blank lines are skipped wherever they are, and line numbers stay right
    let t = csv_ok("a,label\n1,x\n\n  \n2,y\n\n\n");
    assert_eq!((t.rows(), t.row_lines.as_slice()), (2, &[2, 5][..]));
    assert_eq!(
        csv_err("\na,b,label\n\n1,2,x\n1,y\n"),
        "d.csv:5: expected 3 fields, found 2"
    );
    assert_eq!(
        csv_err("a,,label\n1,2,3\n"),
        "d.csv:1: header: column 2 has an empty name"
    );
    assert_eq!(
        csv_err("label\nx\n"),
        "d.csv: no feature columns: the file reads as one column; if its fields are separated \
         by another character, give read.delimiter"
    );
    // a missing label is caught when the labels are used, with its line
    let t = csv_ok("a,label\n1,\n2,y\n");
    assert_eq!(
        t.class_map().unwrap_err().to_string(),
        "d.csv:2: column 'label': the label '' marks a missing value; every row needs a label \
         (drop the row or fill it in)"
    );
    assert_eq!(
        load_err(
            &[(
                "d.csv",
                b"a,label\n1,x\n2,y\n3,x\n4,y\n5,x\n6,y\n7,x\n8,y\n9,x\n\xff,y\n"
            )],
            LoadOptions::default()
        ),
        "d.csv:11: column 'a': the text is not UTF-8"
    );
    assert_eq!(
        load_err(
            &[("d.csv", b"a,label\n1,x\n2,\xff\n")],
            LoadOptions::default()
        ),
        "d.csv:3: column 'label': the text is not UTF-8"
    );
}

#[test]
fn csv_value_errors() {
    let mut text = String::from("age,weight,label\n");
    for i in 0..15 {
        text.push_str(&format!("{i},70.5,{}\n", i % 2));
    }
    text.push_str("abc,70,1\n");
    assert_eq!(
        load_err(&[("data.csv", text.as_bytes())], LoadOptions::default()),
        "data.csv:17: column 'age': 'abc' is not a number, but 15 of the column's values are \
         numbers; if it marks a missing value, add it to read.na_values; to read every value of \
         the column as a category, name it in read.category_columns"
    );
    // `NaN` marks a missing value, filled with the median (2)
    let t = csv_ok("a,b,label\n1,NaN,x\n2,2,y\n");
    assert_eq!(t.x.as_slice(), [1.0, 2.0, 1.0, 2.0, 2.0, 0.0]);
    assert_eq!(t.feature_names, ["a", "b", "b (missing)"]);
    // unless missing values are errors
    let strict = LoadOptions {
        columns: backprop::data::ColumnOptions {
            missing: backprop::data::MissingPolicy::Error,
            ..Default::default()
        },
        ..LoadOptions::default()
    };
    assert_eq!(
        csv_err_with("a,b,label\n1,NaN,x\n", strict.clone()),
        "d.csv:2: column 'b': 'NaN' marks a missing value, and missing values are errors \
         (read.missing=error)"
    );
    // or the spellings of a missing value do not include it
    let only_empty = LoadOptions {
        columns: backprop::data::ColumnOptions {
            na_values: backprop::data::NaValues::exactly([""]),
            ..Default::default()
        },
        ..LoadOptions::default()
    };
    assert!(csv_err_with("a,b,label\n1,NaN,x\n2,3,y\n", only_empty)
        .starts_with("d.csv:2: column 'b': 'NaN' is not finite, but 1 of the column's values"));
    // a column named a number column keeps the parser's own words
    let numbers = |cols: &[&str]| LoadOptions {
        columns: backprop::data::ColumnOptions {
            number: cols.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        },
        ..LoadOptions::default()
    };
    assert!(csv_err("a,b,label\n1,2,x\ninf,2,y\n")
        .starts_with("d.csv:3: column 'a': 'inf' is not finite, but 1 of the column's values"));
    assert_eq!(
        csv_err_with("a,b,label\n1,2,x\ninf,2,y\n", numbers(&["a"])),
        "d.csv:3: column 'a': 'inf' is not finite"
    );
    assert_eq!(
        csv_err_with("a,label\n-infinity,x\n", numbers(&["a"])),
        "d.csv:2: column 'a': '-infinity' is not finite"
    );
    // alone in its column, a text is a category's level
    assert_eq!(
        csv_ok("a,label\n-infinity,x\n").feature_names,
        ["a=-infinity"]
    );
    assert_eq!(
        csv_err_with("a,label\n1e39,x\n", numbers(&["a"])),
        "d.csv:2: column 'a': '1e39' is out of the f32 range"
    );
    let strict = LoadOptions {
        columns: backprop::data::ColumnOptions {
            missing: backprop::data::MissingPolicy::Error,
            ..Default::default()
        },
        ..LoadOptions::default()
    };
    assert_eq!(
        csv_err_with("a,b,label\n1,,x\n", strict),
        "d.csv:2: column 'b': '' marks a missing value, and missing values are errors \
         (read.missing=error)"
    );
    // Without a header, columns are named by 1-based position.
    assert!(csv_err("1,2,x\n3,4,y\n5,six,z\n")
        .starts_with("d.csv:3: column 2: 'six' is not a number, but 2 of the column's values"));
    let absent = LoadOptions {
        header: HeaderMode::Absent,
        ..LoadOptions::default()
    };
    let numbered = LoadOptions {
        columns: backprop::data::ColumnOptions {
            number: vec!["column 1".into()],
            ..Default::default()
        },
        ..absent.clone()
    };
    assert_eq!(
        csv_err_with("a,b,c\n", numbered),
        "d.csv:1: column 1: 'a' is not a number"
    );
    assert_eq!(
        csv::parse("a,b,c\n", "d.csv", &absent)
            .unwrap()
            .feature_names,
        ["column 1=a", "column 2=b"]
    );
}

#[test]
fn csv_label_column_errors() {
    let by_name = |name: &str| LoadOptions {
        label_columns: vec![LabelColumn::Name(name.into())],
        ..LoadOptions::default()
    };
    assert_eq!(
        csv_err_with("a,b,label\n1,2,3\n", by_name("price")),
        "d.csv: no column named 'price'; the columns are 'a', 'b', 'label'"
    );
    let many: Vec<String> = (0..25).map(|i| format!("c{i}")).collect();
    let text = format!("{}\n{}\n", many.join(","), vec!["1"; 25].join(","));
    assert_eq!(
        csv_err_with(&text, by_name("y")),
        "d.csv: no column named 'y'; the columns are 'c0', 'c1', 'c2', 'c3', 'c4', 'c5', \
         'c6', 'c7', 'c8', 'c9', 'c10', 'c11', 'c12', 'c13', 'c14', 'c15', 'c16', 'c17', \
         'c18', 'c19', … (25 in all)"
    );
    assert_eq!(
        csv_err_with("1,2,3\n4,5,6\n", by_name("price")),
        "d.csv: the label column is given by name ('price') but the file has no header row \
         (its first line looks like data; give read.header=present if it is one)"
    );
    assert_eq!(
        csv_err_with("a,a,b\n1,2,3\n", by_name("a")),
        "d.csv: the header names more than one column 'a'"
    );
    let index = |i| LoadOptions {
        label_columns: vec![LabelColumn::Index(i)],
        ..LoadOptions::default()
    };
    assert_eq!(
        csv_err_with("a,b,label\n1,2,3\n", index(5)),
        "d.csv: label column index 5 is out of range: the file has 3 columns \
         (indices 0 to 2)"
    );
    assert_eq!(
        csv_err_with("a,b,label\n1,2,3\n", index(3)),
        "d.csv: label column index 3 is out of range: the file has 3 columns \
         (indices 0 to 2)"
    );
}

#[test]
fn csv_weight_column() {
    let opts = |w: &str| LoadOptions {
        weight_column: Some(w.to_string()),
        ..LoadOptions::default()
    };
    let text = "a,w,b,y\n1,0.5,2,x\n3,0,4,y\n5,2,6,x\n";
    let t = csv::parse(text, "d.csv", &opts("w")).unwrap();
    assert_eq!(t.feature_names, ["a", "b"]);
    assert_eq!(t.x.as_slice(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(t.weights.as_deref(), Some(&[0.5, 0.0, 2.0][..]));
    // without a header: by position
    let t = csv::parse(
        "1,0.5,2,x\n3,1,4,y\n",
        "d.csv",
        &LoadOptions {
            header: HeaderMode::Absent,
            ..opts("column 2")
        },
    )
    .unwrap();
    assert_eq!(t.weights.as_deref(), Some(&[0.5, 1.0][..]));
    // splits keep each row's weight
    let t = csv::parse(text, "d.csv", &opts("w")).unwrap();
    assert_eq!(
        t.take_rows(&[2, 0], "part").unwrap().weights,
        Some(vec![2.0, 0.5])
    );
    for (text, w, want) in [
        (
            "a,w,y\n1,-1,x\n",
            "w",
            "d.csv:2: column 'w': weight -1 is negative",
        ),
        ("a,w,y\n1,NA,x\n", "w", "d.csv:2: column 'w':"),
        (
            "a,w,y\n1,inf,x\n",
            "w",
            "d.csv:2: column 'w': 'inf' is not finite",
        ),
        ("a,w,y\n1,1,x\n", "v", "no weight column named 'v'"),
        (
            "a,w,y\n1,1,x\n",
            "y",
            "the weight column cannot also be a label column",
        ),
    ] {
        let e = csv_err_with(text, opts(w));
        assert!(e.contains(want), "{text:?} {w}: {e}");
    }
    let e = load_err(
        &[(
            "x.npy",
            &npy_bytes(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                &[0; 4],
            ),
        )],
        opts("w"),
    );
    assert!(e.contains("a weight column is a CSV column"), "{e}");
}

#[test]
fn csv_option_errors() {
    let delimiter = |d| LoadOptions {
        delimiter: Some(d),
        ..LoadOptions::default()
    };
    assert_eq!(
        csv_err_with("a,b\n1,2\n", delimiter(b'\n')),
        "invalid option delimiter: '\\n' cannot separate fields; use one ASCII character \
         other than a line break or a quote"
    );
    assert_eq!(
        csv_err_with("a,b\n1,2\n", delimiter(0xe9)),
        "invalid option delimiter: 'é' cannot separate fields; use one ASCII character \
         other than a line break or a quote"
    );
    let labels = LoadOptions {
        labels_path: Some("y.npy".into()),
        ..LoadOptions::default()
    };
    assert_eq!(
        load_err(&[("d.csv", b"a,b\n1,2\n"), ("y.npy", b"")], labels),
        "invalid option read.labels_path: d.csv is a CSV file, which holds its labels in a column; \
         a labels file is for IDX and NPY data"
    );
}

/// A 2-D labels array gives one target column per array column.
#[test]
fn two_dimensional_npy_labels_are_several_targets() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    for v in [1.5f32, -2.0, 0.25, 4.0, 8.0, -0.5] {
        data.extend_from_slice(&v.to_le_bytes());
    }
    let y = npy_bytes(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
        &data,
    );
    std::fs::write(dir.path().join("y2.npy"), y).unwrap();
    let t = load(
        &fixture("x_f32.npy"),
        &LoadOptions {
            labels_path: Some(dir.path().join("y2.npy")),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(t.outputs(), 2);
    assert_eq!(t.target_names, ["label 1", "label 2"]);
    let y = t.numeric_targets().unwrap();
    assert_eq!((y.rows(), y.cols()), (3, 2));
    assert_eq!(y.row(1), &[0.25, 4.0]);
    // one label column is needed for classes
    assert!(t
        .class_map()
        .unwrap_err()
        .to_string()
        .contains("2 label columns (label 1, label 2) give several outputs"));
}

#[test]
fn unknown_labels_and_bad_regression_targets() {
    let opts = LoadOptions::default();
    let train = csv::parse("w,kind\n1,cat\n2,dog\n", "train.csv", &opts).unwrap();
    let classes = train.class_map().unwrap();
    let test = csv::parse("w,kind\n1,dog\n2,cow\n", "test.csv", &opts).unwrap();
    assert_eq!(
        test.class_indices(&classes).unwrap_err().to_string(),
        "test.csv:3: column 'kind': unknown class label 'cow'; the known classes are 'cat', 'dog'"
    );
    let labels: Vec<String> = ["dog", "cow"].iter().map(|s| s.to_string()).collect();
    assert_eq!(
        classes.encode(&labels, "test.csv").unwrap_err().to_string(),
        "test.csv: row 2: unknown class label 'cow'; the known classes are 'cat', 'dog'"
    );
    let one = csv::parse("w,kind\n1,cat\n2,cat\n", "one.csv", &opts).unwrap();
    assert_eq!(
        one.class_map().unwrap_err().to_string(),
        "one.csv: need at least 2 classes, found 1 ('cat')"
    );
    // classes are the distinct values, not 0..=max
    let big = csv::parse("w,k\n1,0\n2,70000\n", "big.csv", &opts).unwrap();
    assert_eq!(big.class_map().unwrap().names(), ["0", "70000"]);
    let nan = csv::parse("w,y\n1,2\n2,nan\n", "r.csv", &opts).unwrap();
    assert_eq!(
        nan.numeric_targets().unwrap_err().to_string(),
        "r.csv:3: column 'y': the label 'nan' marks a missing value; every row needs a label \
         (drop the row or fill it in)"
    );
    let no_target = csv::parse(
        "1,2\n",
        "p.csv",
        &LoadOptions {
            label_columns: vec![],
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        no_target.numeric_targets().unwrap_err().to_string(),
        "p.csv: no label column was read"
    );
    // Array labels are named by row.
    let dir = tempfile::tempdir().unwrap();
    let y = npy_bytes(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
        &[0, 0, 0, 0, 0, 0, 0xc0, 0x7f, 0, 0, 0, 0],
    );
    std::fs::write(dir.path().join("y.npy"), y).unwrap();
    let t = load(
        &fixture("x_f32.npy"),
        &LoadOptions {
            labels_path: Some(dir.path().join("y.npy")),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    let err = t.numeric_targets().unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: row 2: the label 'NaN' marks a missing value; every row needs a label (drop the row or fill it in)",
            dir.path().join("y.npy").display()
        )
    );
    let t = load(&fixture("x_f32.npy"), &LoadOptions::default()).unwrap();
    assert_eq!(
        t.class_map().unwrap_err().to_string(),
        format!(
            "{}: no labels: give the labels file (read.labels_path)",
            fixture("x_f32.npy").display()
        )
    );
}

#[test]
fn idx_errors() {
    let opts = LoadOptions::default;
    let mut absurd = idx_bytes(0x08, &[u32::MAX, 28, 28], &[]);
    absurd.extend_from_slice(&[0; 1234]);
    assert_eq!(
        load_err(&[("train-images-idx3-ubyte", &absurd)], opts()),
        "train-images-idx3-ubyte: header claims 4294967295×28×28 u8 values (3367254359280 \
         bytes) but the file holds 1234 bytes after the 16-byte header"
    );
    let (_, peak) = peak_alloc(|| idx::parse(&absurd, "a").map(drop));
    assert!(
        peak < 4096,
        "allocated {peak} bytes before rejecting the header"
    );
    assert_eq!(
        load_err(&[("images.idx.gz", &gzip(&absurd))], opts()),
        "images.idx.gz: header claims 4294967295×28×28 u8 values (3367254359280 bytes) but \
         the file decompresses to 1234 bytes after the 16-byte header"
    );
    let truncated = idx_bytes(0x08, &[3, 2, 2], &[1; 11]);
    assert_eq!(
        load_err(&[("t.idx", &truncated)], opts()),
        "t.idx: header claims 3×2×2 u8 values (12 bytes) but the file holds 11 bytes after \
         the 16-byte header"
    );
    assert_eq!(
        load_err(&[("t.idx", &truncated[..9])], opts()),
        "t.idx: the IDX header needs 16 bytes for 3 dimensions but the file holds 9"
    );
    assert_eq!(
        load_err(&[("m.idx", b"PK\x03\x04\0\0\0\0")], opts()),
        "m.idx: not an IDX file: it starts with bytes 0x50 0x4b, expected 0x00 0x00"
    );
    assert_eq!(
        load_err(&[("m.idx", &idx_bytes(0x0A, &[1], &[0]))], opts()),
        "m.idx: unknown IDX element type 0x0a; expected 0x08 (u8), 0x09 (i8), 0x0b (i16), \
         0x0c (i32), 0x0d (f32) or 0x0e (f64)"
    );
    assert_eq!(
        load_err(&[("m.idx", &idx_bytes(0x08, &[1; 5], &[0]))], opts()),
        "m.idx: IDX header gives 5 dimensions; 1 to 4 are supported"
    );
    let gz = gzip(&idx_bytes(0x08, &[3], &[1, 2, 3]));
    assert!(
        load_err(&[("c.gz", &gz[..gz.len() - 4])], opts()).starts_with("c.gz: corrupt gzip data: ")
    );
    assert_eq!(
        load_err(&[("e.idx", &idx_bytes(0x08, &[0, 4], &[]))], opts()),
        "e.idx: no samples (shape (0, 4))"
    );
    let nan = idx_bytes(0x0D, &[1, 2], &[0, 0, 0, 0, 0x7f, 0xc0, 0, 0]);
    assert_eq!(
        load_err(&[("n.idx", &nan)], opts()),
        "n.idx: row 1, column 2: value NaN is not finite; features must be finite"
    );
}

#[test]
fn idx_label_file_errors() {
    let images = fixture_bytes("images-idx3-ubyte");
    let labels = |name: &str| LoadOptions {
        labels_path: Some(name.into()),
        ..LoadOptions::default()
    };
    let two = idx_bytes(0x08, &[2], &[1, 2]);
    assert_eq!(
        load_err(&[("i.idx", &images), ("l.idx", &two)], labels("l.idx")),
        "l.idx: 2 labels for the 3 samples of i.idx; need one per sample"
    );
    let cube = idx_bytes(0x08, &[3, 2, 1], &[0; 6]);
    assert_eq!(
        load_err(&[("i.idx", &images), ("l.idx", &cube)], labels("l.idx")),
        "l.idx: labels must be a 1-D array (one label per sample) or a 2-D array (one row of \
         labels per sample), found shape (3, 2, 1)"
    );
    assert_eq!(
        load_err(
            &[("i.idx", &images), ("l.csv", b"1\n2\n3\n")],
            labels("l.csv")
        ),
        "l.csv: a labels file must be an IDX or NPY array (.idx, -ubyte, .gz, .npy)"
    );
    assert!(load_err(&[("i.idx", &images)], labels("missing.idx")).starts_with("missing.idx: "));
    let column = LoadOptions {
        label_columns: vec![LabelColumn::Index(0)],
        ..LoadOptions::default()
    };
    assert_eq!(
        load_err(&[("i.idx", &images)], column),
        "invalid option label_columns: i.idx is not a CSV file; IDX and NPY labels come from \
         a separate file (read.labels_path)"
    );
}

#[test]
fn gzip_bomb_is_capped() {
    // 8 MiB of zeros under an IDX header compresses to about 8 KiB.
    let raw = idx_bytes(0x08, &[8 << 20], &vec![0; 8 << 20]);
    let bomb = gzip(&raw);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let (r, peak) = peak_alloc(|| idx::parse_with_limit(&bomb, "bomb.gz", 1 << 20).map(drop));
    assert_eq!(
        r.unwrap_err().to_string(),
        "bomb.gz: gzip data decompresses to more than 1048576 bytes, the limit"
    );
    assert!(peak < 1 << 20, "allocated {peak} bytes for a capped stream");
    // Under the default cap it loads, allocating the decompressed size once.
    let (r, peak) = peak_alloc(|| idx::parse(&bomb, "bomb.gz").map(|a| a.len()));
    assert_eq!(r.unwrap(), 8 << 20);
    assert!(peak <= raw.len(), "{peak}");
}

#[test]
fn npy_errors() {
    let opts = LoadOptions::default;
    let header = |descr: &str, shape: &str| {
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
    };
    assert_eq!(
        load_err(&[("x.npy", b"PK\x03\x04 not numpy")], opts()),
        "x.npy: not an NPY file: it does not start with the magic \\x93NUMPY"
    );
    assert_eq!(
        load_err(&[("x.npy", b"\x93NUMPY\x01")], opts()),
        "x.npy: too short for an NPY file: 7 bytes"
    );
    assert_eq!(
        load_err(&[("x.npy", b"\x93NUMPY\x09\x00\x10\x00")], opts()),
        "x.npy: unsupported NPY format version 9.0; 1.0, 2.0 and 3.0 are supported"
    );
    assert_eq!(
        load_err(
            &[(
                "x.npy",
                &npy_bytes("{'descr': '<f4', 'shape': (1,)}", &[0; 4])
            )],
            opts()
        ),
        "x.npy: invalid NPY header \"{'descr': '<f4', 'shape': (1,)}\": the key \
         'fortran_order' is missing"
    );
    assert_eq!(
        load_err(
            &[(
                "x.npy",
                &npy_bytes("{'descr': '<f4', 'fortran_order': Maybe}", &[])
            )],
            opts()
        ),
        "x.npy: invalid NPY header \"{'descr': '<f4', 'fortran_order': Maybe}\": expected a \
         value at byte 34"
    );
    let be = npy_bytes(&header(">f8", "(1,)"), &[0; 8]);
    assert_eq!(
        load_err(&[("x.npy", &be)], opts()),
        "x.npy: invalid NPY header \"{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }\": \
         big-endian data ('>f8') is not supported; save it little-endian, e.g. \
         np.save(path, arr.astype('<f8'))"
    );
    let short = npy_bytes(&header("<f4", "(2, 3)"), &[0; 20]);
    assert_eq!(
        load_err(&[("x.npy", &short)], opts()),
        "x.npy: shape (2, 3) of '<f4' needs 24 bytes of data but the file holds 20 after the \
         69-byte header"
    );
    let absurd = npy_bytes(&header("<f8", "(4294967295, 4294967295, 784)"), &[0; 64]);
    assert_eq!(
        load_err(&[("x.npy", &absurd)], opts()),
        "x.npy: shape (4294967295, 4294967295, 784) of '<f8' needs more than 2^64 bytes of \
         data but the file holds 64 after the 92-byte header"
    );
    let (_, peak) = peak_alloc(|| npy::parse(&absurd, "a").map(drop));
    assert!(
        peak < 4096,
        "allocated {peak} bytes before rejecting the header"
    );
    let nan = npy_bytes(
        &header("<f8", "(1, 2)"),
        &[&[0u8; 8][..], &f64::NAN.to_le_bytes()].concat(),
    );
    assert_eq!(
        load_err(&[("x.npy", &nan)], opts()),
        "x.npy: row 1, column 2: value NaN is not finite; features must be finite"
    );
    let scalar = npy_bytes(&header("<f4", "()"), &[0; 4]);
    assert_eq!(
        load_err(&[("x.npy", &scalar)], opts()),
        "x.npy: a 0-dimensional array (shape ()) holds no samples"
    );
}

#[test]
fn npy_nd_features_flatten() {
    let a = npy_bytes(
        "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 3), }",
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), a).unwrap(); // no extension: sniffed
    let t = load(&dir.path().join("a"), &LoadOptions::default()).unwrap();
    assert_eq!(t.kind, SourceKind::Npy);
    assert_eq!((t.x.rows(), t.x.cols()), (2, 6));
    assert_eq!(t.x.row(1), &[6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = load(Path::new("/nonexistent/d.csv"), &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().starts_with("/nonexistent/d.csv: "), "{err}");
    assert!(matches!(err, backprop::Error::Io { .. }));
}

#[test]
fn class_map_round_trips_through_names() {
    let fitted = ClassMap::fit(&["b".to_string(), "a".to_string()]).unwrap();
    let again = ClassMap::from_names(fitted.names().to_vec()).unwrap();
    assert_eq!(fitted, again);
}

// ---------------------------------------------------------------------------
// Fuzz regressions: each input that made a fuzz target fail, kept as a test.

/// `idx-1`: an i8 array of shape 2×4294967295×4294967081×0, so no elements and
/// no data bytes: a valid, empty array. It failed the fuzz target's own
/// invariant check (`shape.iter().product()` overflowed `usize`), not the
/// parser; `NdArray::to_matrix` now reports the empty feature dimension first.
#[test]
fn fuzz_idx_1_empty_array_with_huge_dims() {
    let bytes = include_bytes!("fixtures/fuzz/idx-1.bin");
    let a = idx::parse(bytes, "idx-1.bin").unwrap();
    assert_eq!(a.shape, [2, 4294967295, 4294967081, 0]);
    assert!(a.is_empty());
    assert_eq!(
        a.to_matrix("idx-1.bin").unwrap_err().to_string(),
        "idx-1.bin: the samples have no features (shape (2, 4294967295, 4294967081, 0))"
    );
    check_all_parsers(bytes, &LoadOptions::default()).unwrap();
}

/// `csv-1`: rows ended by a lone `\r` (old Mac line ends) after `\r\n` rows.
/// The `csv` crate ends a record at a lone `\r`, but the reader counted only
/// `\n` as line breaks, so two rows claimed the same line. Lone `\r` now
/// count, and every row's line is its own.
#[test]
fn fuzz_csv_1_lone_carriage_returns() {
    let bytes = include_bytes!("fixtures/fuzz/csv-1.bin");
    let opts = LoadOptions::default();
    let t = csv::parse_bytes(&bytes[1..], "csv-1.bin", &opts).unwrap();
    assert_eq!(t.row_lines, [2, 3, 4]);
    let t = csv::parse("a,y\r1,x\r\r2,y\r\n3,x", "cr.csv", &opts).unwrap();
    assert_eq!(t.row_lines, [2, 4, 5]);
    let present = LoadOptions {
        header: HeaderMode::Present,
        ..LoadOptions::default()
    };
    let err = csv::parse("a,y\r1,x\rz,y\n", "cr.csv", &present).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cr.csv:3: column 'a': 'z' is not a number, but 1 of the column's values"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// (c) Robustness: random and mutated bytes

/// Every fixture, as bytes.
fn fixtures() -> Vec<Vec<u8>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().map_or(true, |e| e != "py"))
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    /// Overwrite 4 bytes with a big- or little-endian u32 (header sizes).
    Word(usize, u32, bool),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>();
    let word = prop_oneof![
        Just(0u32),
        Just(1),
        Just(u32::MAX),
        Just(u32::MAX / 2),
        Just(1 << 20),
        any::<u32>()
    ];
    prop_oneof![
        (pos, 1..=255u8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (pos, any::<u8>()).prop_map(|(p, b)| Mutation::Set(p, b)),
        (pos, any::<u8>()).prop_map(|(p, b)| Mutation::Insert(p, b)),
        pos.prop_map(Mutation::Delete),
        pos.prop_map(Mutation::Truncate),
        (pos, word, any::<bool>()).prop_map(|(p, w, be)| Mutation::Word(p, w, be)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |p: usize, len: usize| if len == 0 { 0 } else { p % len };
    match *m {
        Mutation::Flip(p, b) if !bytes.is_empty() => {
            let i = at(p, bytes.len());
            bytes[i] ^= b;
        }
        Mutation::Set(p, b) if !bytes.is_empty() => {
            let i = at(p, bytes.len());
            bytes[i] = b;
        }
        Mutation::Insert(p, b) => {
            let i = at(p, bytes.len() + 1);
            bytes.insert(i, b);
        }
        Mutation::Delete(p) if !bytes.is_empty() => {
            let i = at(p, bytes.len());
            bytes.remove(i);
        }
        Mutation::Truncate(p) => {
            let i = at(p, bytes.len() + 1);
            bytes.truncate(i);
        }
        Mutation::Word(p, w, be) if bytes.len() >= 4 => {
            let i = at(p, bytes.len() - 3);
            let w = if be { w.to_be_bytes() } else { w.to_le_bytes() };
            bytes[i..i + 4].copy_from_slice(&w);
        }
        _ => {}
    }
}

fn load_options() -> impl Strategy<Value = LoadOptions> {
    let label = prop_oneof![
        Just(None),
        Just(Some(LabelColumn::Last)),
        (0..4usize).prop_map(|i| Some(LabelColumn::Index(i))),
        Just(Some(LabelColumn::Name("species".into()))),
    ];
    let header = prop_oneof![
        Just(HeaderMode::Auto),
        Just(HeaderMode::Present),
        Just(HeaderMode::Absent)
    ];
    let delimiter = prop_oneof![
        Just(None),
        Just(Some(b',')),
        Just(Some(b';')),
        Just(Some(b'\t'))
    ];
    let weights = prop_oneof![
        3 => Just(None),
        1 => Just(Some("column 2".to_string())),
        1 => Just(Some("sepal_width".to_string())),
    ];
    (label, header, delimiter, weights).prop_map(|(label, header, delimiter, weight_column)| {
        LoadOptions {
            label_columns: label.into_iter().collect(),
            header,
            delimiter,
            weight_column,
            ..LoadOptions::default()
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Random bytes: every parser returns Ok or Err within the allocation bound.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                opts in load_options()) {
        if let Err(e) = check_all_parsers(&bytes, &opts) {
            return Err(TestCaseError::fail(format!("{e}; input {bytes:?}")));
        }
    }

    /// Random bytes behind a valid magic, so the header parsers get exercised.
    #[test]
    fn random_headers_never_panic(kind in 0..3u8,
                                  tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = match kind {
            0 => b"\x93NUMPY\x01\x00".to_vec(),
            1 => vec![0, 0, 0x08, 3],
            _ => vec![0, 0, 0x0D, 2],
        };
        bytes.extend_from_slice(&tail);
        if let Err(e) = check_all_parsers(&bytes, &LoadOptions::default()) {
            return Err(TestCaseError::fail(format!("{e}; input {bytes:?}")));
        }
    }

    /// Fixtures with up to 8 random edits: Ok or Err, within the bound.
    #[test]
    fn mutated_fixtures_never_panic(pick in any::<usize>(),
                                    edits in proptest::collection::vec(mutation(), 1..8),
                                    opts in load_options()) {
        let all = fixtures();
        let mut bytes = all[pick % all.len()].clone();
        for m in &edits {
            apply(&mut bytes, m);
        }
        if let Err(e) = check_all_parsers(&bytes, &opts) {
            return Err(TestCaseError::fail(format!("{e}; input {bytes:?}")));
        }
        // The whole loader, with another fixture as the labels file, and what
        // callers do next: no panics.
        let labels = &all[pick.rotate_left(7) % all.len()];
        for kind in [SourceKind::Csv, SourceKind::Idx, SourceKind::Npy] {
            let labels = (kind != SourceKind::Csv).then_some((labels.as_slice(), "y.npy"));
            if let Ok(t) = load_bytes(&bytes, "m", kind, labels, &opts) {
                let _ = t.numeric_targets();
                if let Ok(classes) = t.class_map() {
                    prop_assert!(t.class_indices(&classes).is_ok());
                }
            }
        }
    }

    /// Mutated gzip IDX fixtures: the decompressed stream gets edited too.
    #[test]
    fn mutated_gzip_payloads_never_panic(edits in proptest::collection::vec(mutation(), 1..6)) {
        let mut raw = fixture_bytes("images-idx3-ubyte");
        for m in &edits {
            apply(&mut raw, m);
        }
        let bytes = gzip(&raw);
        if let Err(e) = check_all_parsers(&bytes, &LoadOptions::default()) {
            return Err(TestCaseError::fail(format!("{e}; payload {raw:?}")));
        }
    }
}

/// An f4 NPY file read straight from disk (no copy of its bytes) gives the
/// table the in-memory parser gives, and so the same model; other NPY
/// files take the in-memory path. A damaged f4 file is the parser's error.
#[test]
fn npy_files_read_from_disk_equal_the_in_memory_parse() {
    let labels = fixture("y_i64.npy");
    for name in [
        "x_f32.npy",
        "x_f64.npy",
        "x_fortran.npy",
        "x_i64.npy",
        "x_u8.npy",
    ] {
        let opts = LoadOptions {
            labels_path: Some(labels.clone()),
            ..LoadOptions::default()
        };
        let path = fixture(name);
        let streamed = load(&path, &opts).unwrap();
        let bytes = fixture_bytes(name);
        let label_bytes = fixture_bytes("y_i64.npy");
        let label_name = labels.display().to_string();
        let in_memory = load_bytes(
            &bytes,
            &path.display().to_string(),
            SourceKind::Npy,
            Some((&label_bytes, &label_name)),
            &opts,
        )
        .unwrap();
        assert_eq!(streamed, in_memory, "{name}");
    }
    // truncated: the same error either way
    let dir = tempfile::tempdir().unwrap();
    let bytes = fixture_bytes("x_f32.npy");
    let cut = dir.path().join("cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    let opts = LoadOptions::default();
    let from_disk = load(&cut, &opts).unwrap_err().to_string();
    let in_memory = load_bytes(
        &bytes[..bytes.len() - 3],
        &cut.display().to_string(),
        SourceKind::Npy,
        None,
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(from_disk, in_memory);
    assert!(from_disk.contains("needs"), "{from_disk}");
}

/// A CSV read block by block (`csv::parse_blocks`, as `load` reads files)
/// gives the table, or the error, of the whole text parsed at once: with
/// headers or not, CRLF, blank lines, a BOM, quoted fields with line breaks
/// that appear only late or in every row (doubled quotes, delimiters, plain
/// quotes inside unquoted fields, a sniffed `;`), a ragged row late in the
/// file, and blocks from a few bytes to larger than the file.
#[test]
fn csv_read_in_blocks_equals_the_whole_text() {
    fn text(rows: usize, header: bool, crlf: bool, late: &str) -> Vec<u8> {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut t = String::new();
        if header {
            t += &format!("a,b,c,kind{nl}");
        }
        for r in 0..rows {
            if r % 997 == 5 {
                t += nl; // a blank line
            }
            let kind = ["cat", "dog", "emu"][r % 3];
            t += &format!("{},{}.5,-{}e-3,{kind}{nl}", r % 17, r % 101, r % 7);
            if r == rows - 40 {
                t += late;
            }
        }
        t.into_bytes()
    }
    let opts = LoadOptions::default();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("plain", text(30_000, true, false, "")),
        ("no header", text(30_000, false, false, "")),
        ("crlf", text(30_000, true, true, "")),
        ("bom", {
            let mut t = b"\xEF\xBB\xBF".to_vec();
            t.extend(text(30_000, true, false, ""));
            t
        }),
        ("late quotes", text(30_000, true, false, "1,2,3,\"a\nb\"\n")),
        ("quotes everywhere", {
            // quoted labels with line breaks, doubled quotes and commas,
            // plain quotes inside unquoted fields, CRLF
            let mut t = String::from("a,\"b\",c,kind\r\n");
            for r in 0..20_000 {
                let kind = match r % 5 {
                    0 => "\"c\"\"a\r\nt\"".to_string(),
                    1 => "d\"o\"g".to_string(),
                    2 => "\"e,\nm\"\"\"".to_string(),
                    3 => "\"\"".to_string(),
                    _ => "\"plain\"".to_string(),
                };
                t += &format!("{},{}.5,{},{kind}\r\n", r % 17, r % 101, r % 7);
            }
            t.into_bytes()
        }),
        ("quotes, sniffed ;", {
            let mut t = String::new();
            for r in 0..20_000 {
                let kind = ["\"x;\n\"\"y\"", "z\"", "\"w\""][r % 3];
                t += &format!("{};{};{kind}\n", r % 17, r % 5);
            }
            t.into_bytes()
        }),
        ("late ragged row", text(30_000, true, false, "1,2\n")),
        ("late bad number", text(30_000, true, false, "1,x,3,cat\n")),
        ("short", text(50, true, false, "")),
    ];
    for (name, bytes) in &cases {
        let whole = csv::parse_bytes(bytes, "t.csv", &opts);
        for block in [100, 4096, 65_536, 1 << 20, 1 << 24] {
            let read = csv::parse_blocks(
                bytes.as_slice(),
                "t.csv",
                &opts,
                Some(bytes.len() as u64),
                block,
            );
            match (&whole, &read) {
                (Ok(w), Ok(r)) => assert!(w == r, "{name}, blocks of {block}: the tables differ"),
                (Err(w), Err(r)) => {
                    assert_eq!(w.to_string(), r.to_string(), "{name}, blocks of {block}")
                }
                _ => panic!("{name}, blocks of {block}: {whole:?} against {read:?}"),
            }
        }
        if *name == "late ragged row" || *name == "late bad number" {
            assert!(whole.is_err(), "{name}");
        } else {
            assert!(whole.is_ok(), "{name}: {whole:?}");
        }
    }
}

/// A CSV whose every row holds a quoted field with line breaks, commas and
/// doubled quotes is still read block by block: the largest allocation is
/// far below the text's size (the whole text would be one allocation).
#[test]
fn quoted_csv_is_read_in_blocks_not_whole() {
    let mut text = String::from("a,b,note\n");
    for r in 0..50_000 {
        text += &format!(
            "{},{}.5,\"note {r}\nline two, with a \"\"quote\"\"\"\n",
            r % 17,
            r % 101
        );
    }
    let opts = LoadOptions {
        label_columns: vec![],
        ignore_columns: vec!["note".into()],
        ..LoadOptions::default()
    };
    let whole = csv::parse_bytes(text.as_bytes(), "q.csv", &opts).unwrap();
    let (read, peak) =
        peak_alloc(|| csv::parse_blocks(text.as_bytes(), "q.csv", &opts, None, 1 << 16));
    assert_eq!(read.unwrap(), whole);
    assert_eq!(whole.x.rows(), 50_000);
    assert!(
        peak < text.len() / 2,
        "largest allocation {peak} bytes for {} bytes of text",
        text.len()
    );
}

/// A CSV's label column is held as codes into its distinct texts, in order
/// of first appearance, read whole or block by block; past `MAX_CLASSES`
/// distinct values (a regression target's numbers) it is one string per
/// row. The label text is the same either way.
#[test]
fn csv_labels_are_codes_until_too_many_distinct() {
    use backprop::data::MAX_CLASSES;
    let opts = LoadOptions::default();
    let table = |distinct: usize, rows: usize| {
        let mut t = String::from("a,b,label\n");
        for r in 0..rows {
            t += &format!("{},{},v{}\n", r % 7, r % 3, (r * 7) % distinct);
        }
        t.into_bytes()
    };
    for (distinct, rows, codes) in [
        (3, 10_000, true),
        (MAX_CLASSES, MAX_CLASSES + 5, true),
        (MAX_CLASSES + 1, MAX_CLASSES + 1, false),
    ] {
        let bytes = table(distinct, rows);
        let want: Vec<String> = (0..rows)
            .map(|r| format!("v{}", (r * 7) % distinct))
            .collect();
        let whole = csv::parse_bytes(&bytes, "t.csv", &opts).unwrap();
        let read = csv::parse_blocks(
            bytes.as_slice(),
            "t.csv",
            &opts,
            Some(bytes.len() as u64),
            4096,
        )
        .unwrap();
        for t in [&whole, &read] {
            assert_eq!(
                t.target,
                RawTarget::Text(want.clone()),
                "{distinct} distinct"
            );
            match &t.target {
                RawTarget::Codes { values, codes: c } => {
                    assert!(codes, "{distinct} distinct: codes");
                    assert_eq!(values.len(), distinct);
                    assert_eq!((&values[0], &values[1]), (&want[0], &want[1]));
                    assert_eq!(c.len(), rows);
                }
                RawTarget::Text(_) => assert!(!codes, "{distinct} distinct: text"),
                other => panic!("{other:?}"),
            }
        }
    }
    let small = csv::parse_bytes(&table(3, 10), "t.csv", &opts).unwrap();
    assert_eq!(small.class_map().unwrap().names(), ["v0", "v1", "v2"]);
}

#[test]
fn typed_columns_kinds_levels_and_edges() {
    use backprop::data::{ColumnKind, ColumnOptions, IgnoreReason, Treatment};
    let with = |columns: ColumnOptions| LoadOptions {
        columns,
        ..LoadOptions::default()
    };
    // pandas' index named `Unnamed: 0`, ignored with a note
    let t = csv_ok("Unnamed: 0,x,y\n0,1.5,a\n1,2.5,b\n2,3.5,a\n");
    assert_eq!(t.feature_names, ["x"]);
    assert!(t.notes[0].contains("pandas' index"), "{:?}", t.notes);
    // not from 0: a number column of its own
    let t = csv_ok("Unnamed: 0,x,y\n3,1.5,a\n4,2.5,b\n");
    assert_eq!(t.feature_names, ["Unnamed: 0", "x"]);
    // an empty name above anything else is an error
    assert_eq!(
        csv_err(",x,y\n5,1.5,a\n2,2.5,b\n"),
        "d.csv:2: column '': an empty name above values that are not pandas' index (0, 1, 2, …): \
         give the column a name"
    );
    // duplicate names are an error at training
    assert_eq!(
        csv_err("a,b,a,y\n1,2,3,x\n"),
        "d.csv:1: header: columns 1 and 3 are both named 'a'; every column needs its own name \
         (a model finds its features by name)"
    );
    // a named category column takes numbers as levels
    let grades = "grade,y\n1,a\n2,b\n3,a\n2,b\n";
    let t = csv::parse(
        grades,
        "d.csv",
        &with(ColumnOptions {
            category: vec!["grade".into()],
            ..ColumnOptions::default()
        }),
    )
    .unwrap();
    assert_eq!(t.feature_names, ["grade=1", "grade=2", "grade=3"]);
    assert_eq!(t.x.row(3), [0.0, 1.0, 0.0]);
    // few distinct integers stay a number
    assert_eq!(csv_ok(grades).feature_names, ["grade"]);
    // naming a column that is not a feature
    assert_eq!(
        csv_err_with(
            grades,
            with(ColumnOptions {
                category: vec!["y".into()],
                ..ColumnOptions::default()
            })
        ),
        "d.csv: read.category_columns: 'y' is not a feature column of the file"
    );
    // rare levels and the cap share (other), counted in a note
    let mut text = String::from("city,y\n");
    for (city, n) in [("a", 5), ("b", 4), ("c", 3), ("d", 1), ("e", 1)] {
        for _ in 0..n {
            text.push_str(&format!("{city},{}\n", n % 2));
        }
    }
    let t = csv::parse(
        &text,
        "d.csv",
        &with(ColumnOptions {
            min_category_count: 2,
            max_categories: 2,
            ..ColumnOptions::default()
        }),
    )
    .unwrap();
    assert_eq!(t.feature_names, ["city=a", "city=b", "city=(other)"]);
    assert_eq!(
        t.notes,
        [
            "column 'city': 3 of its 5 levels (2 seen fewer than 2 times, 1 over the cap of 2) \
          share the (other) input, 5 rows"
        ]
    );
    // an identifier: a different text in each of 20 rows
    let ids: String = std::iter::once("name,x,y\n".to_string())
        .chain((0..20).map(|i| format!("n{i},{i},{}\n", i % 2)))
        .collect();
    let t = csv_ok(&ids);
    assert_eq!(t.feature_names, ["x"]);
    let enc = t.encoding.unwrap();
    assert_eq!(
        enc.columns[0].treatment,
        Treatment::Ignored(IgnoreReason::Identifier)
    );
    assert_eq!(enc.columns[1].treatment.kind(), ColumnKind::Number);
    // numbers and words as levels (mpg's drv: 4, f, r): a category, said so
    let t = csv_ok("drv,y\n4,a\nf,b\n4,a\nr,b\nf,a\n4,b\n");
    assert_eq!(t.feature_names, ["drv=4", "drv=f", "drv=r"]);
    assert_eq!(t.x.row(0), [1.0, 0.0, 0.0]);
    assert!(
        t.notes[0].contains("holds numbers and text: read as a category"),
        "{:?}",
        t.notes
    );
    // read for the model, numbers are levels by value: 4.0 is the level 4
    let again = LoadOptions {
        features: Some(backprop::data::FeatureSelection {
            names: vec!["drv".into()],
            layout: t.layout.clone(),
        }),
        encoding: t.encoding.clone(),
        header: HeaderMode::Present,
        ..LoadOptions::default()
    };
    let t = csv::parse("drv,y\n4.0,a\nr,b\n", "d.csv", &again).unwrap();
    assert_eq!(t.x.as_slice(), [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    assert!(t.notes.is_empty(), "{:?}", t.notes);
    // every column ignored: no inputs
    assert_eq!(
        csv_err_with(
            "a,y\n,x\nNA,y\n",
            LoadOptions {
                header: HeaderMode::Present,
                ..LoadOptions::default()
            }
        ),
        "d.csv: no inputs: every feature column is ignored ('a': no values)"
    );
}

#[test]
fn decimal_commas_with_semicolons() {
    // sniffed: `;` between fields, numbers such as 1,5 and none such as 1.5
    let t = csv_ok("a;b;y\n1,5;2,25;0,5\n-3,0;4;1,25\n");
    assert_eq!(t.layout.as_ref().unwrap().delimiter, b';');
    assert!(t.layout.as_ref().unwrap().decimal_comma);
    assert_eq!(t.x.as_slice(), [1.5, 2.25, -3.0, 4.0]);
    assert_eq!(t.numeric_targets().unwrap().as_slice(), [0.5, 1.25]);
    // no header, every line alike: still `;` and decimal commas
    let t = csv::parse("1,5;2,25;x\n3,5;4,0;y\n", "d.csv", &LoadOptions::default()).unwrap();
    assert_eq!(t.x.as_slice(), [1.5, 2.25, 3.5, 4.0]);
    // given: a text of words with commas is left alone
    let point = LoadOptions {
        decimal: Some(b'.'),
        ..LoadOptions::default()
    };
    let t = csv::parse("a;city;y\n1.5;Paris, TX;x\n2.5;Lyon;y\n", "d.csv", &point).unwrap();
    assert_eq!(t.feature_names, ["a", "city=Lyon", "city=Paris, TX"]);
    // a point anywhere: points are the decimals, and `2,25` is ambiguous
    assert!(csv_err("a;b;y\n1.5;2,25;x\n3;4;y\n")
        .starts_with("d.csv:2: column 'b': '2,25' is not a number, but 1 of the column's values"));
}

/// A table of text and gaps over 1 MiB is parsed in parallel pieces, and
/// read in small blocks: the pieces' levels merge in file order, so both
/// give the table of a sequential read, levels, codes and notes alike.
#[test]
fn typed_columns_in_pieces_and_blocks() {
    let mut text = String::from("id,city,flag,size,grade,y\n");
    let mut k = 7u64;
    for r in 0..80_000 {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (k >> 33) as usize;
        let city = ["Oslo", "Lyon", "Graz", "Porto", ""][u % 5];
        let flag = ["yes", "no", "NA"][u % 3];
        let size = if u % 11 == 0 {
            String::new()
        } else {
            format!("{}.5", u % 100)
        };
        let grade = ["4", "f", "r"][u % 3];
        text += &format!("{r},{city},{flag},{size},{grade},{}\n", u % 2);
    }
    assert!(text.len() > 1 << 20);
    let opts = LoadOptions::default();
    let whole = csv::parse_bytes(text.as_bytes(), "big.csv", &opts).unwrap();
    let blocks = csv::parse_blocks(text.as_bytes(), "big.csv", &opts, None, 1 << 16).unwrap();
    assert_eq!(whole, blocks);
    assert_eq!(whole.notes, blocks.notes);
    assert_eq!(
        whole.feature_names,
        [
            "id",
            "city=Graz",
            "city=Lyon",
            "city=Oslo",
            "city=Porto",
            "city=(missing)",
            "flag",
            "flag (missing)",
            "size",
            "size (missing)",
            "grade=4",
            "grade=f",
            "grade=r"
        ]
    );
    assert_eq!(whole.encoding, blocks.encoding);
}

#[test]
fn csv_date_columns() {
    // daily dates with a gap: the days, the year and the week, a missing input
    let t = csv_ok("when,y\n2012-01-01,a\n2012/1/3,b\nNA,a\n2012-01-02 00:00,b\n");
    assert_eq!(
        t.feature_names,
        [
            "when (days)",
            "when (year sin)",
            "when (year cos)",
            "when (week sin)",
            "when (week cos)",
            "when (missing)"
        ]
    );
    assert_eq!(t.x.row(0)[0], 15_340.0);
    // the gap takes the median's inputs (2012-01-02) and sets the indicator
    assert_eq!(t.x.row(2)[..5], t.x.row(3)[..5]);
    assert_eq!((t.x.row(2)[5], t.x.row(3)[5]), (1.0, 0.0));
    assert!(
        t.notes[0].starts_with("column 'when' holds dates: 6 inputs"),
        "{:?}",
        t.notes
    );
    // yearly dates: the days alone
    let t = csv_ok("Year,y\n1970-01-01,a\n1971-01-01,b\n1972-01-01,a\n");
    assert_eq!(t.feature_names, ["Year (days)"]);
    assert_eq!(t.x.as_slice(), [0.0, 365.0, 730.0]);
    // read for the model: a cell that is not a date is an error at its line
    let enc = csv_ok("when,y\n2012-01-01,a\n2012-01-05,b\n").encoding;
    let again = LoadOptions {
        features: Some(backprop::data::FeatureSelection {
            names: vec!["when".into()],
            layout: None,
        }),
        encoding: enc,
        header: HeaderMode::Present,
        ..LoadOptions::default()
    };
    let e = csv::parse("when,y\n2012-01-02,a\n01/02/2012,b\n", "d.csv", &again)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("d.csv:3: column 'when': '01/02/2012' is not a date"),
        "{e}"
    );
    // a day-first or month-first column is not a column of dates
    let t = csv_ok("when,y\n01/02/2012,a\n03/02/2012,b\n01/02/2012,a\n");
    assert_eq!(t.feature_names, ["when=01/02/2012", "when=03/02/2012"]);
    // named a category, a date column is one
    let t = csv::parse(
        "when,y\n2012-01-01,a\n2012-01-05,b\n",
        "d.csv",
        &LoadOptions {
            columns: backprop::data::ColumnOptions {
                category: vec!["when".into()],
                ..backprop::data::ColumnOptions::default()
            },
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(t.feature_names, ["when=2012-01-01", "when=2012-01-05"]);
}

#[test]
fn csv_levels_by_value_with_a_decimal_comma() {
    // found by fuzzing: numbers with a decimal comma among words are levels
    // by value at training, and read the same way for the model
    let text = "k;y\n2,5;a\nlow;b\n2,5;a\n2,50;b\nlow;a\n";
    let t = csv_ok(text);
    assert_eq!(t.feature_names, ["k=2.5", "k=low"]);
    let again = LoadOptions {
        features: Some(backprop::data::FeatureSelection {
            names: vec!["k".into()],
            layout: t.layout.clone(),
        }),
        encoding: t.encoding.clone(),
        header: HeaderMode::Present,
        ..LoadOptions::default()
    };
    let r = csv::parse(text, "d.csv", &again).unwrap();
    assert_eq!(r.x, t.x);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}
