//! Numbers in text: [`parse_number`], the `f32` of a field read as `f64`,
//! and its fast path for plain decimals ([`fast_number`]), which the CSV
//! reader tries first and which gives the same bits.

use super::message::show;

/// `10^k` for `k` in `0..=15`, exact in `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The fast path of [`parse_number`]: a plain decimal `[+-]digits[.digits]`
/// with at most 15 digits, at the start of `b` and ended by `delim` or the end
/// of `b`; returns the value and the field's length, or `None` for any other
/// field (the caller then uses [`parse_number`]).
///
/// The digits make an integer `m < 2^53` and the value is `m / 10^k` with
/// `k <= 15`: both are exact in `f64`, so the one division rounds correctly and
/// gives exactly `str::parse::<f64>` (Clinger's fast path, which the standard
/// library takes for these inputs too). The `f32` cast is then the same too.
#[inline]
pub(crate) fn fast_number(b: &[u8], delim: u8) -> Option<(f32, usize)> {
    let (neg, mut i) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let (mut mantissa, mut digits) = digit_run(&b[i..]);
    i += digits;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let (f, n) = digit_run(&b[i..]);
        i += n;
        if n > 15 {
            return None;
        }
        mantissa = mantissa.wrapping_mul(POW10_U64[n]).wrapping_add(f);
        digits += n;
        frac = n;
    }
    if digits == 0 || digits > 15 || b.get(i).is_some_and(|&ch| ch != delim) {
        return None;
    }
    let v = if frac == 0 {
        mantissa as f64
    } else {
        mantissa as f64 / POW10[frac]
    };
    Some(((if neg { -v } else { v }) as f32, i))
}

/// `10^k` for `k` in `0..=16`.
const POW10_U64: [u64; 17] = {
    let mut t = [1u64; 17];
    let mut k = 1;
    while k < 17 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// The value and length of the run of ASCII digits at the start of `b`. Runs
/// longer than 16 digits stop at 16 or more, with a meaningless value: the
/// caller rejects them. Eight bytes at a time (SWAR) while eight are left.
#[inline]
fn digit_run(b: &[u8]) -> (u64, usize) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let (mut value, mut n) = (0u64, 0usize);
    while let Some(chunk) = b.get(n..n + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // Digit bytes become 0..=9; the high bit of a byte of `non_digit` is
        // set where the byte was anything else (no carries between bytes).
        let t = u64::from_le_bytes(word) ^ (ONES * 0x30);
        let non_digit = (((t & (ONES * 0x7f)) + ONES * 0x76) | t) & (ONES * 0x80);
        let k = (non_digit.trailing_zeros() / 8) as usize; // 8 when all are digits
        if k > 0 {
            // Keep the k digits, moved to the top: the bytes below are zeros.
            value = value
                .wrapping_mul(POW10_U64[k])
                .wrapping_add(eight_digits(t << (8 * (8 - k))));
        }
        n += k;
        if k < 8 || n >= 16 {
            return (value, n);
        }
    }
    while let Some(d) = b
        .get(n)
        .map(|&ch| ch.wrapping_sub(b'0'))
        .filter(|&d| d < 10)
    {
        value = value.wrapping_mul(10).wrapping_add(u64::from(d));
        n += 1;
    }
    (value, n)
}

/// The number written by eight digit values `0..=9`, one per byte, the most
/// significant in the lowest byte (the `fast_float` reduction: pairs, then
/// quadruples, with two multiplications).
#[inline]
fn eight_digits(v: u64) -> u64 {
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    ((v & MASK)
        .wrapping_mul(MUL1)
        .wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2)))
        >> 32
}

/// A finite number (the `f32` rounding of the field parsed as `f64`), or why
/// the field is not one.
pub(crate) fn parse_number(field: &str) -> Result<f32, String> {
    if field.is_empty() {
        return Err("empty field".to_string());
    }
    let v: f64 = field
        .parse()
        .map_err(|_| format!("{} is not a number", show(field)))?;
    if !v.is_finite() {
        return Err(format!("{} is not finite", show(field)));
    }
    let f = v as f32;
    if !f.is_finite() {
        return Err(format!("{} is out of the f32 range", show(field)));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path, where it answers, equals `parse_number` bit for bit.
    fn assert_fast_matches(field: &str) {
        let with_delim = format!("{field};rest");
        for (text, delim) in [(field, b','), (with_delim.as_str(), b';')] {
            if let Some((v, len)) = fast_number(text.as_bytes(), delim) {
                assert_eq!(len, field.len(), "{text:?}");
                let slow = parse_number(field).unwrap_or_else(|e| panic!("{field:?}: {e}"));
                assert_eq!(v.to_bits(), slow.to_bits(), "{field:?}: {v} vs {slow}");
            }
        }
    }

    #[test]
    fn digit_runs() {
        // Bytes next to '0'..'9' in ASCII, and bytes with the high bit set.
        for tail in ["", ",", ".5", "/", ":", "\u{b0}", "\u{e9}9", "9"] {
            for n in 0..=20 {
                let digits: String = (0..n)
                    .map(|i| char::from(b'0' + (i * 7 % 10) as u8))
                    .collect();
                let text = format!("{digits}{tail}");
                let (value, len) = digit_run(text.as_bytes());
                let all_digits = text.bytes().take_while(u8::is_ascii_digit).count();
                if all_digits <= 16 {
                    assert_eq!(len, all_digits, "{text:?}");
                    let expect = text[..len].parse::<u64>().unwrap_or(0);
                    assert_eq!(value, expect, "{text:?}");
                } else {
                    assert!(len >= 16, "{text:?}");
                }
            }
        }
        assert_eq!(
            eight_digits(0x0908_0706_0504_0302 - 0x0101_0101_0101_0101),
            12345678
        );
    }

    #[test]
    fn fast_path_cases() {
        for field in [
            "0",
            "-0",
            "+0",
            "0.1",
            "-73.12715",
            ".5",
            "5.",
            "-.5",
            "+1.25",
            "123456789012345",
            "0.00000000000001",
            "999999999999999",
            "16777217",
            "0.3",
            "3.4028235",
            "1.00000005960464",
        ] {
            assert!(fast_number(field.as_bytes(), b',').is_some(), "{field}");
            assert_fast_matches(field);
        }
        // Declined: left to parse_number.
        for field in [
            "",
            "-",
            ".",
            "+",
            "1e5",
            "1.2.3",
            "1,",
            "1234567890123456",
            "0.0000000000000001",
            " 1",
            "1 ",
            "nan",
            "--1",
            "1-",
            "0x10",
        ] {
            if field == "1," {
                assert_eq!(fast_number(field.as_bytes(), b','), Some((1.0, 1)));
                continue;
            }
            assert_eq!(fast_number(field.as_bytes(), b','), None, "{field}");
        }
        assert_eq!(
            fast_number(b"-0", b',').map(|(v, _)| v.to_bits()),
            Some((-0.0f32).to_bits())
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn fast_path_equals_std(field in "[+-]?[0-9]{0,17}(\\.[0-9]{0,17})?") {
            assert_fast_matches(&field);
        }

        #[test]
        fn fast_path_equals_std_on_floats(v in proptest::num::f64::NORMAL, digits in 1usize..15) {
            assert_fast_matches(&format!("{v:.digits$}"));
            assert_fast_matches(&format!("{}", v as f32));
        }
    }
}
