//! The model, ensemble and checkpoint loaders return Ok or Err for any
//! bytes, never panic; whatever they accept is written again and reads back
//! the same.
//! A model's stored preparation (its `columns` key) is applied to a small
//! table of numbers, gaps, levels, booleans and dates: Ok with one row of
//! `width()` finite inputs per row, or Err, never a panic.
#![no_main]

use backprop::data::{ColumnValues, RawColumns, TableEncoding};
use backprop::model_io;
use backprop::Error;
use libfuzzer_sys::fuzz_target;

/// The texts of the table's text columns, a gap among them.
const TEXTS: [Option<&str>; 6] = [
    Some("Dream"),
    Some("yes"),
    None,
    Some("2012-01-31 18:30"),
    Some("4"),
    Some("1969-12-31"),
];

fn apply(enc: &TableEncoding) {
    let used: Vec<_> = enc.used().collect();
    let rows = TEXTS.len();
    let columns: Vec<ColumnValues> = used
        .iter()
        .enumerate()
        .map(|(j, _)| {
            if j % 2 == 0 {
                ColumnValues::Text(
                    (0..rows)
                        .map(|r| TEXTS[(r + j) % rows].map(str::to_string))
                        .collect(),
                )
            } else {
                ColumnValues::Numbers((0..rows).map(|r| [1.5, f32::NAN, -3.0][r % 3]).collect())
            }
        })
        .collect();
    let names = used.iter().map(|c| c.name.clone()).collect();
    let Ok(raw) = RawColumns::from_values(names, columns, "fuzz") else {
        return;
    };
    let err = |r: usize, j: usize, m: String| Error::Data {
        source_name: format!("row {r}, column {j}"),
        message: m,
    };
    if let Ok((x, _notes)) = enc.apply(raw, &err) {
        assert_eq!((x.rows(), x.cols()), (rows, enc.width()));
        assert!(x.as_slice().iter().all(|v| v.is_finite()));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = model_io::from_bytes(data, "fuzz.safetensors") {
        let bytes = model_io::to_bytes(&m.mlp, &m.meta).expect("an accepted model saves");
        let again = model_io::from_bytes(&bytes, "again").expect("a saved model loads");
        assert_eq!(again, m);
        if let Some(enc) = &m.meta.columns {
            apply(enc);
        }
    }
    if let Ok(e) = model_io::ensemble_from_bytes(data, "fuzz.safetensors") {
        let bytes = model_io::ensemble_to_bytes(&e).expect("an accepted ensemble saves");
        let again = model_io::ensemble_from_bytes(&bytes, "again").expect("it loads");
        assert_eq!(again, e);
    }
    if let Ok(c) = model_io::checkpoint_from_bytes(data, "fuzz.safetensors") {
        let bytes = model_io::checkpoint_to_bytes(&c).expect("an accepted checkpoint saves");
        let again = model_io::checkpoint_from_bytes(&bytes, "again").expect("it loads");
        assert_eq!(again, c);
    }
});
