//! [`write_f32`]: an `f32` as decimal text, byte for byte as Rust's `{}`
//! prints it (the shortest digits that read back to the same value, in
//! positional notation: `1e-7` is `0.0000001`), in about 60% of the time:
//! the digits come from the `ryu` crate and are placed here. `predict`
//! writes millions of them.
//!
//! The two agree on the digits but for exact ties — a value halfway
//! between two shortest decimals, such as 2⁻¹² = 0.000244140625 — where
//! `ryu` picks the even one (…62) and Rust the upper one (…63); those are
//! found exactly and written as Rust does. A test compares all 2³² values.

/// Appends `v` to `buf` exactly as `write!(buf, "{v}")` would (the module's
/// tests compare them, special values included).
pub fn write_f32(buf: &mut Vec<u8>, v: f32) {
    if !v.is_finite() || v == 0.0 {
        // NaN, inf, -inf, 0, -0: as Display
        let text: &[u8] = match v {
            _ if v.is_nan() => b"NaN",
            f32::INFINITY => b"inf",
            f32::NEG_INFINITY => b"-inf",
            _ if v.is_sign_negative() => b"-0",
            _ => b"0",
        };
        buf.extend_from_slice(text);
        return;
    }
    if v.is_sign_negative() {
        buf.push(b'-');
    }
    let mut ryu = ryu::Buffer::new();
    let shortest = Decimal::parse_ryu(ryu.format_finite(v.abs()).as_bytes());
    // On an exact tie between two shortest candidates `ryu` picks the even
    // one and Rust the upper one (when it reads back as `v`).
    let decimal = match Decimal::tie(v.abs(), shortest.len) {
        Some((upper, lower)) => {
            let mut text = Vec::with_capacity(48);
            upper.render(&mut text);
            let reads_back = std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.parse::<f32>().ok())
                == Some(v.abs());
            if reads_back {
                upper
            } else {
                lower
            }
        }
        None => shortest,
    };
    decimal.render(buf);
}

/// A positive decimal `0.d₁d₂…dₙ × 10^point`: `n` digits (ASCII, the first
/// and the last not `0`).
struct Decimal {
    digits: [u8; 24],
    len: usize,
    point: i64,
}

impl Decimal {
    /// The digits and the point of `ryu`'s text: `d.ddd`, `ddd.d`,
    /// `0.000ddd` or `d.ddde±x`.
    fn parse_ryu(text: &[u8]) -> Decimal {
        let (mantissa, exponent) = match text.iter().position(|&c| c == b'e') {
            Some(i) => (&text[..i], exponent_of(&text[i + 1..])),
            None => (text, 0),
        };
        let mut d = Decimal {
            digits: [0; 24],
            len: 0,
            point: 0,
        };
        let mut point = None;
        for &c in mantissa {
            if c == b'.' {
                point = Some(d.len);
            } else if d.len < d.digits.len() {
                d.digits[d.len] = c;
                d.len += 1;
            }
        }
        d.point = point.unwrap_or(d.len) as i64 + exponent;
        d.trim();
        d
    }

    /// `value × 10^exponent`.
    fn of_integer(mut value: u64, exponent: i64) -> Decimal {
        let mut d = Decimal {
            digits: [0; 24],
            len: 0,
            point: 0,
        };
        let mut reversed = [0u8; 24];
        while value > 0 {
            reversed[d.len] = b'0' + (value % 10) as u8;
            value /= 10;
            d.len += 1;
        }
        for i in 0..d.len {
            d.digits[i] = reversed[d.len - 1 - i];
        }
        d.point = d.len as i64 + exponent;
        d.trim();
        d
    }

    /// Drops leading and trailing zeros.
    fn trim(&mut self) {
        let mut first = 0;
        while first + 1 < self.len && self.digits[first] == b'0' {
            first += 1;
        }
        self.digits.copy_within(first..self.len, 0);
        self.len -= first;
        self.point -= first as i64;
        while self.len > 1 && self.digits[self.len - 1] == b'0' {
            self.len -= 1;
        }
    }

    /// When `v`'s exact value has `n + 1` significant digits, the last a 5
    /// — halfway between two `n`-digit decimals — those two: (upper, lower).
    fn tie(v: f32, n: usize) -> Option<(Decimal, Decimal)> {
        let (exact, exponent) = exact_short(v)?;
        if exact % 10 != 5 || digit_count(exact) != n + 1 {
            return None;
        }
        Some((
            Decimal::of_integer(exact / 10 + 1, exponent + 1),
            Decimal::of_integer(exact / 10, exponent + 1),
        ))
    }

    /// Positional notation, as Rust's Display.
    fn render(&self, buf: &mut Vec<u8>) {
        let digits = &self.digits[..self.len];
        let point = self.point;
        if point <= 0 {
            buf.extend_from_slice(b"0.");
            buf.resize(buf.len() + point.unsigned_abs() as usize, b'0');
            buf.extend_from_slice(digits);
        } else if point as usize >= digits.len() {
            buf.extend_from_slice(digits);
            buf.resize(buf.len() + point as usize - digits.len(), b'0');
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            buf.extend_from_slice(whole);
            buf.push(b'.');
            buf.extend_from_slice(fraction);
        }
    }
}

/// The exact value of a positive finite `v` as `P × 10^e` with `P` free of
/// trailing zeros, when `P` has at most 10 digits (else `None`: no `f32`
/// needs more than 9 for its shortest form, so longer ones are never a tie).
fn exact_short(v: f32) -> Option<(u64, i64)> {
    const LIMIT: u64 = 10_000_000_000;
    let bits = v.to_bits();
    let (fraction, biased) = (bits & 0x007f_ffff, (bits >> 23) & 0xff);
    let (mut m, mut q) = match biased {
        0 => (u64::from(fraction), -149i64),
        _ => (u64::from(fraction | 0x0080_0000), i64::from(biased) - 150),
    };
    let zeros = m.trailing_zeros();
    m >>= zeros;
    q += i64::from(zeros);
    if q >= 0 {
        // an integer m·2^q; with m < 2^24 holding at most 10 factors of 5,
        // more than 10 significant digits once it passes 10^21 (2^70)
        if q > 70 {
            return None;
        }
        let mut n = u128::from(m) << q;
        let mut e = 0;
        while n % 10 == 0 {
            n /= 10;
            e += 1;
        }
        return (n < u128::from(LIMIT)).then_some((n as u64, e));
    }
    // m·2^q = m·5^-q / 10^-q, and m·5^-q (odd) has no trailing zero
    let k = q.unsigned_abs() as u32;
    if k > 14 {
        return None; // 5^15 > 10^10
    }
    let p = m * 5u64.pow(k);
    (p < LIMIT).then_some((p, q))
}

/// The number of decimal digits of `n > 0`.
fn digit_count(mut n: u64) -> usize {
    let mut c = 0;
    while n > 0 {
        n /= 10;
        c += 1;
    }
    c
}

/// The value of an exponent as `ryu` writes it (`-7`, `20`).
fn exponent_of(text: &[u8]) -> i64 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let value = digits
        .iter()
        .fold(0i64, |a, &d| a * 10 + i64::from(d.wrapping_sub(b'0')));
    if negative {
        -value
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::write_f32;

    #[test]
    fn special_and_ordinary_values_print_as_display() {
        let mut buf = Vec::new();
        for v in [
            0.1f32,
            -2.5e-9,
            1e20,
            16777216.0,
            -0.0,
            f32::NAN,
            f32::NEG_INFINITY,
        ] {
            buf.clear();
            write_f32(&mut buf, v);
            assert_eq!(String::from_utf8(buf.clone()).unwrap(), format!("{v}"));
        }
    }
    use std::io::Write as _;

    fn same_as_display(bits: u32) -> bool {
        let v = f32::from_bits(bits);
        let (mut ours, mut std) = (Vec::new(), Vec::new());
        write_f32(&mut ours, v);
        let _ = write!(std, "{v}");
        ours == std
    }

    /// Special values, powers of ten and two, the ends of the range, and
    /// 4 million bit patterns spread over all 2^32.
    #[test]
    fn matches_display() {
        let mut special = vec![
            0u32,
            1,
            0x007f_ffff,
            0x0080_0000,
            f32::MAX.to_bits(),
            f32::MIN_POSITIVE.to_bits(),
            f32::EPSILON.to_bits(),
            f32::NAN.to_bits(),
            f32::INFINITY.to_bits(),
        ];
        for e in -45..=38 {
            special.push(10f32.powi(e).to_bits());
            special.push((10f64.powi(e) as f32).to_bits());
        }
        for e in -149..=127 {
            special.push(2f32.powi(e).to_bits());
        }
        for bits in special
            .iter()
            .flat_map(|&b| [b, b | 0x8000_0000, b.wrapping_add(1)])
        {
            assert!(same_as_display(bits), "{bits:#010x}");
        }
        // a multiplicative walk over every exponent and mantissa region
        let mut bits = 0x2545_f491u32;
        for _ in 0..4_000_000 {
            bits = bits.wrapping_mul(0x9e37_79b1).wrapping_add(0x7f4a_7c15);
            assert!(same_as_display(bits), "{bits:#010x}");
        }
    }

    /// Every one of the 2^32 bit patterns, on all cores (25 minutes on 2):
    /// `cargo test --release --lib float_text -- --ignored`. Passed on
    /// 2026-11-29 (Rust 1.95.0, ryu 1).
    #[test]
    #[ignore]
    fn matches_display_for_every_f32() {
        use rayon::prelude::*;
        (0..=u32::MAX >> 16).into_par_iter().for_each(|high| {
            for low in 0..=u32::from(u16::MAX) {
                let bits = high << 16 | low;
                assert!(same_as_display(bits), "{bits:#010x}");
            }
        });
    }
}
