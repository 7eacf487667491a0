//! The CSV reader returns Ok or Err for any bytes, never panics, and what it
//! accepts is consistent: `rows × features` finite values, one label per row
//! and label column, one line number per row. The first input byte picks the
//! options (label columns, header mode, delimiter or sniffing, selection by
//! name); the rest are the file's bytes, as `load` would see them. When
//! their length is a multiple of 3, column `c` is read as row weights.
//! The length also picks the column options: `a` named a category, `c` a
//! number, other spellings of a missing value, missing values as errors, a
//! minimum count and a cap on the levels. Read in small blocks, as `load`
//! streams a file, they give the same table or the same error. A table read
//! with a header is read again through its own stored preparation (its
//! columns picked by name): the same features, to the bit.
#![no_main]

use backprop::data::{
    csv, ColumnOptions, FeatureSelection, HeaderMode, LabelColumn, LoadOptions, MissingPolicy,
    NaValues, RawTarget,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let opts = LoadOptions {
        label_columns: match sel & 3 {
            0 => vec![],
            1 => vec![LabelColumn::Last],
            2 => vec![LabelColumn::Index(usize::from(sel >> 5)), LabelColumn::Last],
            _ => vec![LabelColumn::Name("b".to_string())],
        },
        labels_optional: sel & 0x80 != 0,
        header: match (sel >> 2) & 3 {
            0 => HeaderMode::Auto,
            1 => HeaderMode::Present,
            _ => HeaderMode::Absent,
        },
        delimiter: [None, Some(b','), Some(b';'), Some(b'\t')][usize::from((sel >> 4) & 3)],
        features: (sel & 0x40 != 0).then(|| FeatureSelection {
            names: vec!["a".to_string(), "c".to_string()],
            layout: None,
        }),
        weight_column: (rest.len() % 3 == 0).then(|| "c".to_string()),
        columns: column_options(rest.len()),
        decimal: [None, None, Some(b'.'), Some(b',')][rest.len() % 4],
        ..LoadOptions::default()
    };
    let whole = csv::parse_bytes(rest, "fuzz.csv", &opts);
    // read in blocks (as a file is), cut at line breaks outside quoted
    // fields: the same table, or the same error
    let block = 1 + rest.len() % 61;
    let blocks = csv::parse_blocks(rest, "fuzz.csv", &opts, None, block);
    match (&whole, &blocks) {
        (Ok(w), Ok(b)) => assert!(w == b, "blocks of {block}: another table"),
        (Err(w), Err(b)) => assert_eq!(w.to_string(), b.to_string(), "blocks of {block}"),
        _ => panic!("blocks of {block}: {whole:?} against {blocks:?}"),
    }
    if let Ok(t) = whole {
        assert!(t.rows() > 0);
        assert_eq!(t.x.cols(), t.feature_names.len());
        assert!(t.x.cols() > 0);
        assert!(t.x.as_slice().iter().all(|v| v.is_finite()));
        assert_eq!(t.row_lines.len(), t.rows());
        assert!(t.row_lines.windows(2).all(|w| w[0] < w[1]));
        if let Some(w) = &t.weights {
            assert_eq!(w.len(), t.rows());
            assert!(w.iter().all(|v| v.is_finite() && *v >= 0.0));
        }
        match &t.target {
            RawTarget::Text(labels) => assert_eq!(labels.len(), t.rows() * t.target_names.len()),
            RawTarget::None => assert!(t.target_names.is_empty()),
            RawTarget::Codes { values, codes } => {
                assert_eq!(codes.len(), t.rows() * t.target_names.len());
                assert!(codes.iter().all(|&c| (c as usize) < values.len()));
                let distinct: std::collections::HashSet<&String> = values.iter().collect();
                assert_eq!(
                    distinct.len(),
                    values.len(),
                    "the codes' values are distinct"
                );
            }
        }
        if let Ok(y) = t.numeric_targets() {
            assert!(y.as_slice().iter().all(|v| v.is_finite()));
        }
        if let Ok(classes) = t.class_map() {
            let ids = t.class_indices(&classes).expect("training labels encode");
            assert!(ids.iter().all(|&i| i < classes.len()));
        }
        reread(rest, &opts, &t);
    }
});

/// The column options that `len` picks.
fn column_options(len: usize) -> ColumnOptions {
    ColumnOptions {
        category: if len % 5 == 1 {
            vec!["a".into()]
        } else {
            vec![]
        },
        number: if len % 7 == 2 {
            vec!["c".into()]
        } else {
            vec![]
        },
        na_values: if len % 4 == 3 {
            NaValues::exactly(["x", ""])
        } else {
            NaValues::default()
        },
        missing: if len % 11 == 4 {
            MissingPolicy::Error
        } else {
            MissingPolicy::Impute
        },
        min_category_count: 1 + len % 3,
        max_categories: 1 + len % 4,
    }
}

/// A training table with a header, read again through its own preparation:
/// the same features.
fn reread(bytes: &[u8], opts: &LoadOptions, t: &backprop::data::RawTable) {
    let (Some(enc), Some(layout), None) = (&t.encoding, &t.layout, &opts.features) else {
        return;
    };
    if !layout.header {
        return;
    }
    let again = LoadOptions {
        header: HeaderMode::Present,
        delimiter: Some(layout.delimiter),
        features: Some(FeatureSelection {
            names: enc.used().map(|c| c.name.clone()).collect(),
            layout: Some(layout.clone()),
        }),
        encoding: Some(enc.clone()),
        ..opts.clone()
    };
    let r = csv::parse_bytes(bytes, "fuzz.csv", &again)
        .expect("a table reads through its own preparation");
    assert_eq!(r.feature_names, t.feature_names);
    let bits = |x: &backprop::Matrix| x.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&r.x), bits(&t.x));
}
