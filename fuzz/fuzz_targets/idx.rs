//! The IDX parser (plain or gzip) returns Ok or Err for any bytes, never
//! panics, and allocates nothing before the header matches the data length;
//! gzip output is capped at 64 MiB here to keep runs fast (the library's
//! default cap is 4 GiB). An accepted array converts to features and labels
//! without panicking.
#![no_main]

use backprop::data::idx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = idx::parse_with_limit(data, "fuzz.idx", 64 << 20) {
        // A zero dimension makes the array empty, whatever the others (whose
        // product alone may not fit in usize).
        let elements = if a.shape.contains(&0) {
            Some(0)
        } else {
            a.shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d))
        };
        assert_eq!(elements, Some(a.len()));
        if a.len() <= 1 << 20 {
            if let Ok(x) = a.to_matrix("fuzz.idx") {
                assert_eq!(x.rows(), a.shape[0]);
                assert!(x.as_slice().iter().all(|v| v.is_finite()));
            }
            if let Ok(labels) = a.to_labels("fuzz.idx") {
                assert_eq!(labels.len(), a.shape[0] * a.label_width());
            }
        }
    }
});
