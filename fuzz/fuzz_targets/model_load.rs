//! The model and checkpoint loaders return Ok or Err for any bytes, never
//! panic; whatever they accept is written again and reads back the same.
#![no_main]

use backprop::model_io;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = model_io::from_bytes(data, "fuzz.safetensors") {
        let bytes = model_io::to_bytes(&m.mlp, &m.meta).expect("an accepted model saves");
        let again = model_io::from_bytes(&bytes, "again").expect("a saved model loads");
        assert_eq!(again, m);
    }
    if let Ok(c) = model_io::checkpoint_from_bytes(data, "fuzz.safetensors") {
        let bytes = model_io::checkpoint_to_bytes(&c).expect("an accepted checkpoint saves");
        let again = model_io::checkpoint_from_bytes(&bytes, "again").expect("it loads");
        assert_eq!(again, c);
    }
});
