//! The NPY parser returns Ok or Err for any bytes, never panics, and allocates
//! nothing before the header's shape matches the data length. An accepted
//! array converts to features and labels without panicking. The streaming f4
//! reader (`npy::read_f32`) never panics, and what it returns the parser
//! returns too.
#![no_main]

use backprop::data::npy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // the streaming f4 reader accepts only what the parser reads the same
    for len in [Some(data.len() as u64), None] {
        if let Ok(Some(a)) = npy::read_f32(&mut &data[..], "fuzz.npy", len) {
            assert_eq!(
                Ok(a),
                npy::parse(data, "fuzz.npy").map_err(|e| e.to_string())
            );
        }
    }
    if let Ok(a) = npy::parse(data, "fuzz.npy") {
        // A zero dimension makes the array empty, whatever the others (whose
        // product alone may not fit in usize).
        let elements = if a.shape.contains(&0) {
            Some(0)
        } else {
            a.shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d))
        };
        assert_eq!(elements, Some(a.len()));
        if let Ok(x) = a.to_matrix("fuzz.npy") {
            assert_eq!(x.rows(), a.shape[0]);
            assert!(x.as_slice().iter().all(|v| v.is_finite()));
        }
        if let Ok(labels) = a.to_labels("fuzz.npy") {
            assert_eq!(labels.len(), a.shape[0] * a.label_width());
        }
    }
});
