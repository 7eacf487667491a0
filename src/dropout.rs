//! Inverted dropout's masks from a counter-based generator.
//!
//! Whether unit `j` of hidden layer `l` is kept for row `r` at optimizer step
//! `t` is a pure function of `(seed, t, l, r, j)`: no generator state is
//! carried from one draw to the next. The masks therefore do not depend on
//! which thread or shard handles a row, nor on what ran before, so training
//! with dropout gives the same bits for any thread count and resumes bit for
//! bit from a checkpoint (which stores the step count). `r` is the row's
//! index in the dataset during an epoch ([`crate::Trainer::epoch`]), or its
//! position in the batch for [`crate::Trainer::step`].
//!
//! The key of a row mixes `(seed, t, l, r)` with SplitMix64's finaliser; the
//! unit's hash is [`crate::kernels::unit_hash`] of that key and `j`; the unit
//! is kept when the hash's top 24 bits are at least `round(p · 2²⁴)`, so the
//! keep probability is `1 - p` to within 2⁻²⁵. Kept units are scaled by
//! `1/(1 - p)` during training; prediction uses no mask at all.

use crate::error::{Error, Result};
use crate::kernels::DropoutRow;

/// Mixed into the seed so that the masks do not replay other seeded streams.
const SALT: u64 = 0xD80F_0A7C_3E51_9B27;

/// SplitMix64's finaliser: a bijection of `u64` with good avalanche.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of row `row` of hidden layer `layer` (0-based) at step `step`.
///
/// ```
/// use backprop::dropout::row_key;
/// assert_eq!(row_key(1, 2, 0, 3), row_key(1, 2, 0, 3));
/// assert_ne!(row_key(1, 2, 0, 3), row_key(1, 2, 0, 4));
/// assert_ne!(row_key(1, 2, 0, 3), row_key(1, 3, 0, 3));
/// assert_ne!(row_key(1, 2, 0, 3), row_key(1, 2, 1, 3));
/// ```
pub fn row_key(seed: u64, step: u64, layer: usize, row: u64) -> u32 {
    let mut h = mix64(seed ^ SALT);
    h = mix64(h ^ step);
    h = mix64(h ^ layer as u64);
    h = mix64(h ^ row);
    (h >> 32) as u32
}

/// Dropout with probability `p` on every hidden layer, seeded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    rate: f32,
    threshold: u32,
    scale: f32,
    seed: u64,
}

impl Dropout {
    /// Dropout of probability `rate` with masks keyed by `seed`; `None` for a
    /// rate of 0 (no dropout).
    ///
    /// ```
    /// use backprop::dropout::Dropout;
    /// let d = Dropout::new(0.25, 7).unwrap().unwrap();
    /// assert_eq!(d.scale(), 1.0 / 0.75);
    /// assert!(Dropout::new(0.0, 7).unwrap().is_none());
    /// assert!(Dropout::new(1.0, 7).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] (`dropout`) unless `0 <= rate < 1`.
    pub fn new(rate: f32, seed: u64) -> Result<Option<Dropout>> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::config(
                "dropout",
                format!("{rate} is not a probability in [0, 1): the share of hidden units dropped"),
            ));
        }
        if rate == 0.0 {
            return Ok(None);
        }
        let threshold = (f64::from(rate) * f64::from(1u32 << 24)).round() as u32;
        let scale = (1.0 / (1.0 - f64::from(rate))) as f32;
        Ok(Some(Dropout {
            rate,
            threshold,
            scale,
            seed,
        }))
    }

    /// The probability of dropping a unit.
    pub fn rate(&self) -> f32 {
        self.rate
    }

    /// The factor of kept units, `1/(1 - p)` rounded to `f32`.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The kernel's parameters for one row.
    pub fn row(&self, step: u64, layer: usize, row: u64) -> DropoutRow {
        DropoutRow {
            key: row_key(self.seed, step, layer, row),
            threshold: self.threshold,
            scale: self.scale,
        }
    }

    /// Whether unit `unit` of `layer` is kept for `row` at `step`: the
    /// scalar definition the kernels follow (for tests and references).
    ///
    /// ```
    /// use backprop::dropout::Dropout;
    /// let d = Dropout::new(0.5, 1).unwrap().unwrap();
    /// let kept = (0..10_000).filter(|&j| d.keeps(0, 0, 0, j)).count();
    /// assert!((4_800..5_200).contains(&kept), "{kept}");
    /// ```
    pub fn keeps(&self, step: u64, layer: usize, row: u64, unit: u32) -> bool {
        let key = row_key(self.seed, step, layer, row);
        crate::kernels::unit_hash(key, unit) >> 8 >= self.threshold
    }
}
