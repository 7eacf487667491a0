//! The CSV parser returns Ok or Err for any bytes, never panics, and what it
//! accepts is consistent: `rows × features` finite values, one label per row.
//! The first input byte picks the options (label column, header mode,
//! delimiter); the rest, decoded lossily as UTF-8, is the text.
#![no_main]

use backprop::data::{csv, HeaderMode, LabelColumn, LoadOptions, RawTarget};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let opts = LoadOptions {
        label: match sel & 3 {
            0 => None,
            1 => Some(LabelColumn::Last),
            2 => Some(LabelColumn::Index(usize::from(sel >> 4))),
            _ => Some(LabelColumn::Name("b".to_string())),
        },
        header: match (sel >> 2) & 3 {
            0 => HeaderMode::Auto,
            1 => HeaderMode::Present,
            _ => HeaderMode::Absent,
        },
        delimiter: b",;\t "[usize::from(sel >> 6)],
        labels_path: None,
    };
    if let Ok(t) = csv::parse(&text, "fuzz.csv", &opts) {
        assert!(t.rows() > 0);
        assert_eq!(t.x.cols(), t.feature_names.len());
        assert!(t.x.cols() > 0);
        assert!(t.x.as_slice().iter().all(|v| v.is_finite()));
        match &t.target {
            RawTarget::Text(labels) => assert_eq!(labels.len(), t.rows()),
            RawTarget::None => assert!(opts.label.is_none()),
        }
        if let Ok(y) = t.numeric_targets() {
            assert!(y.iter().all(|v| v.is_finite()));
        }
        if let Ok(classes) = t.class_map() {
            let ids = t.class_indices(&classes).expect("training labels encode");
            assert!(ids.iter().all(|&i| i < classes.len()));
        }
    }
    if let Ok(c) = csv::parse_labeled_csv(&text, "fuzz.csv") {
        assert_eq!(c.labels.len(), c.x.rows());
    }
});
