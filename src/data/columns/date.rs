//! Dates in a column: the year-first spellings read as dates
//! ([`parse_date`]), and the inputs a date gives ([`date_inputs`]).
//!
//! A date is read as a time `t`, in days since 1970-01-01 00:00 UTC (the
//! fraction is the time of day). It gives the network `t` itself (the
//! trend), then the sine and cosine of its place in each cycle the training
//! dates move along ([`Cycles`]):
//! - the year (the season), unless every date is the same day of the year
//!   (yearly data);
//! - the week (Monday is 0), unless every date is the same day of the month
//!   (monthly or yearly data);
//! - the day, when some date has a time of day.
//!
//! Only year-first spellings are dates: `2012-01-31`, `2012/1/31`, each
//! with an optional time (`T` or a space, then `HH:MM`, `HH:MM:SS` or
//! `HH:MM:SS.fff`) and an optional zone (`Z`, `+01:00`, `-0500`). A day-first
//! or month-first spelling (`01/02/2012`) is ambiguous, so it is not read as a
//! date.

use std::f64::consts::TAU;

/// Days from 1970-01-01 to year `y`, month `m` (1–12), day `d` of the
/// proleptic Gregorian calendar (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year, month and day of day `z` since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The number of days in month `m` of year `y`.
fn month_days(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads 1 to `max` ASCII digits from the front of `s`; the value and the
/// rest.
fn digits(s: &[u8], min: usize, max: usize) -> Option<(i64, &[u8])> {
    let n = s
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n < min {
        return None;
    }
    let v = s[..n]
        .iter()
        .fold(0i64, |v, b| v * 10 + i64::from(b - b'0'));
    Some((v, &s[n..]))
}

/// The time of `text` in days since 1970-01-01 00:00 UTC, if it is a
/// year-first date (see the module's docs); surrounding spaces are allowed.
///
/// ```
/// use backprop::data::parse_date;
/// assert_eq!(parse_date("1970-01-02"), Some(1.0));
/// assert_eq!(parse_date("2000/3/1 12:00"), Some(11_017.5));
/// assert_eq!(parse_date("1970-01-01T06:00:00+06:00"), Some(0.0));
/// assert_eq!(parse_date("01/02/2012"), None); // day or month first?
/// assert_eq!(parse_date("2013-02-29"), None);
/// ```
pub fn parse_date(text: &str) -> Option<f64> {
    let s = text.trim().as_bytes();
    let (y, s) = digits(s, 4, 4)?;
    let sep = *s.first()?;
    if sep != b'-' && sep != b'/' {
        return None;
    }
    let (m, s) = digits(&s[1..], 1, 2)?;
    if s.first() != Some(&sep) {
        return None;
    }
    let (d, s) = digits(&s[1..], 1, 2)?;
    if !(1..=12).contains(&m) || d < 1 || d > month_days(y, m) {
        return None;
    }
    let day = days_from_civil(y, m, d) as f64;
    if s.is_empty() {
        return Some(day);
    }
    if s[0] != b'T' && s[0] != b' ' {
        return None;
    }
    let (seconds, s) = time_of_day(&s[1..])?;
    let (offset, s) = zone(s)?;
    s.is_empty()
        .then(|| day + (seconds - offset) / SECONDS_PER_DAY)
}

const SECONDS_PER_DAY: f64 = 86_400.0;

/// `HH:MM[:SS[.fff]]` at the front of `s`: the seconds and the rest.
fn time_of_day(s: &[u8]) -> Option<(f64, &[u8])> {
    let (h, s) = digits(s, 2, 2)?;
    let s = s.strip_prefix(b":")?;
    let (mi, mut s) = digits(s, 2, 2)?;
    let mut sec = 0.0;
    if let Some(rest) = s.strip_prefix(b":") {
        let (whole, rest) = digits(rest, 2, 2)?;
        s = rest;
        sec = whole as f64;
        if let Some(rest) = s.strip_prefix(b".") {
            let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            let frac: f64 = std::str::from_utf8(&rest[..n])
                .ok()
                .and_then(|t| format!("0.{t}").parse().ok())?;
            sec += frac;
            s = &rest[n..];
        }
        if whole > 60 {
            return None;
        }
    }
    if h > 23 || mi > 59 {
        return None;
    }
    Some(((h * 3600 + mi * 60) as f64 + sec, s))
}

/// An optional zone at the front of `s` (`Z`, `+HH:MM`, `+HHMM`, `+HH`):
/// its offset east of UTC in seconds, and the rest.
fn zone(s: &[u8]) -> Option<(f64, &[u8])> {
    match s.first() {
        None => Some((0.0, s)),
        Some(b'Z') => Some((0.0, &s[1..])),
        Some(&sign @ (b'+' | b'-')) => {
            let (h, s) = digits(&s[1..], 2, 2)?;
            let (m, s) = match s.strip_prefix(b":") {
                // a colon needs its minutes
                Some(rest) => digits(rest, 2, 2)?,
                None if s.is_empty() => (0, s),
                None => digits(s, 2, 2)?,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 3600 + m * 60) as f64;
            Some((if sign == b'-' { -off } else { off }, s))
        }
        Some(_) => None,
    }
}

/// The cycles a date column gives inputs for: each one the sine and cosine
/// of the date's place in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cycles {
    /// The place in the year.
    pub year: bool,
    /// The place in the week, from Monday.
    pub week: bool,
    /// The place in the day.
    pub day: bool,
}

impl Cycles {
    /// The cycles the training times `times` (days since 1970-01-01) move
    /// along: the year unless all fall on one day of the year, the week
    /// unless all fall on one day of the month, the day if any has a time
    /// of day.
    pub fn of(times: &[f64]) -> Cycles {
        let date = |t: f64| civil_from_days(t.floor() as i64);
        let Some(&first) = times.first() else {
            return Cycles::default();
        };
        let (_, m0, d0) = date(first);
        Cycles {
            year: times.iter().any(|&t| {
                let (_, m, d) = date(t);
                (m, d) != (m0, d0)
            }),
            week: times.iter().any(|&t| date(t).2 != d0),
            day: times.iter().any(|&t| t.fract() != 0.0),
        }
    }

    /// How many inputs a date gives: the time, and two per cycle.
    pub fn width(self) -> usize {
        1 + 2 * (usize::from(self.year) + usize::from(self.week) + usize::from(self.day))
    }

    /// The names of a date column's inputs, after the column's name.
    pub fn input_suffixes(self) -> Vec<&'static str> {
        let mut v = vec!["(days)"];
        for (on, pair) in [
            (self.year, ["(year sin)", "(year cos)"]),
            (self.week, ["(week sin)", "(week cos)"]),
            (self.day, ["(day sin)", "(day cos)"]),
        ] {
            if on {
                v.extend(pair);
            }
        }
        v
    }

    /// The cycles in words: `the year, the week and the day`, or `none`.
    pub fn words(self) -> String {
        let names: Vec<&str> = [
            (self.year, "the year"),
            (self.week, "the week"),
            (self.day, "the day"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect();
        match names.as_slice() {
            [] => "none".to_string(),
            [one] => one.to_string(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }
}

/// Writes the inputs of time `t` (days since 1970-01-01) into
/// `out[..cycles.width()]`: `t`, then the sine and cosine of its place in
/// the year, the week and the day, for each of `cycles`.
pub fn date_inputs(t: f64, cycles: Cycles, out: &mut [f32]) {
    let day = t.floor();
    let frac = t - day;
    let day = day as i64;
    out[0] = t as f32;
    let mut k = 1;
    let mut put = |place: f64| {
        let (s, c) = (TAU * place).sin_cos();
        out[k] = s as f32;
        out[k + 1] = c as f32;
        k += 2;
    };
    if cycles.year {
        let (y, _, _) = civil_from_days(day);
        let start = days_from_civil(y, 1, 1);
        let year_len = (days_from_civil(y + 1, 1, 1) - start) as f64;
        put(((day - start) as f64 + frac) / year_len);
    }
    if cycles.week {
        put(((day + 3).rem_euclid(7) as f64 + frac) / 7.0);
    }
    if cycles.day {
        put(frac);
    }
}

/// Time `t` (days since 1970-01-01) as `YYYY-MM-DD`, with ` HH:MM:SS`
/// when it is not midnight (to the nearest second).
pub fn date_text(t: f64) -> String {
    let mut day = t.floor() as i64;
    let mut secs = ((t - t.floor()) * SECONDS_PER_DAY).round() as i64;
    if secs >= 86_400 {
        day += 1;
        secs = 0;
    }
    let (y, m, d) = civil_from_days(day);
    if secs == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for z in -800_000..800_000i64 {
            let (y, m, d) = civil_from_days(z);
            assert!((1..=12).contains(&m) && d >= 1 && d <= month_days(y, m));
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn spellings() {
        assert_eq!(parse_date("2012/01/01"), Some(15_340.0));
        assert_eq!(parse_date(" 2012-1-1 "), Some(15_340.0));
        assert_eq!(parse_date("2012-01-01 00:00:00"), Some(15_340.0));
        assert_eq!(parse_date("2012-01-01T18:00"), Some(15_340.75));
        assert_eq!(parse_date("2012-01-01T18:00:00Z"), Some(15_340.75));
        assert_eq!(parse_date("2012-01-01 18:00:00-0600"), Some(15_341.0));
        assert_eq!(parse_date("2012-01-01 00:00:00+00"), Some(15_340.0));
        assert_eq!(parse_date("2012-01-01 00:00:43.2"), Some(15_340.000_5));
        assert_eq!(parse_date("2016-02-29"), Some(16_860.0));
        assert_eq!(parse_date("2000-02-29"), Some(11_016.0));
        for bad in [
            "",
            "2012",
            "2012-01",
            "2012-13-01",
            "2012-00-10",
            "2012-04-31",
            "1900-02-29",
            "2012-01/01",
            "2012-01-01x",
            "2012-01-01 25:00",
            "2012-01-01 12:60",
            "2012-01-01 12:00:61",
            "2012-01-01 12:00:00.",
            "2012-01-01 12",
            "2012-01-01T12:00+2",
            "2012-01-01T12:00+01:",
            "12/31/2012",
            "31.12.2012",
            "20120101",
            "２０１２-01-01",
            "2012-001-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn inputs() {
        let mut out = [9.0f32; 7];
        // 1970-01-01 was a Thursday: 3 days into the week
        let both = Cycles {
            year: true,
            week: true,
            day: false,
        };
        date_inputs(0.0, both, &mut out);
        assert_eq!(out[..3], [0.0, 0.0, 1.0]);
        let w = TAU * 3.0 / 7.0;
        assert_eq!(out[3..5], [w.sin() as f32, w.cos() as f32]);
        assert_eq!(out[5..], [9.0, 9.0]);
        let week = Cycles {
            week: true,
            ..Cycles::default()
        };
        date_inputs(0.25, week, &mut out);
        let w = TAU * 3.25 / 7.0;
        assert_eq!(out[..3], [0.25, w.sin() as f32, w.cos() as f32]);
        // 2012-07-02 12:00, a Monday: day 183.5 of a 366-day year
        let t = parse_date("2012-07-02 12:00").unwrap();
        let all = Cycles {
            year: true,
            week: true,
            day: true,
        };
        date_inputs(t, all, &mut out);
        let y = TAU * 183.5 / 366.0;
        let w = TAU * 0.5 / 7.0;
        let d = TAU * 0.5;
        assert_eq!(
            out,
            [
                t as f32,
                y.sin() as f32,
                y.cos() as f32,
                w.sin() as f32,
                w.cos() as f32,
                d.sin() as f32,
                d.cos() as f32
            ]
        );
        assert_eq!(all.input_suffixes().len(), all.width());
        assert_eq!(all.words(), "the year, the week and the day");
        assert_eq!(Cycles::default().input_suffixes(), ["(days)"]);
    }

    #[test]
    fn cycles_the_dates_move_along() {
        let days = |v: &[&str]| -> Vec<f64> { v.iter().map(|t| parse_date(t).unwrap()).collect() };
        let yearly = days(&["1970-01-01", "1971-01-01", "1982-01-01"]);
        assert_eq!(Cycles::of(&yearly), Cycles::default());
        let monthly = days(&["2000-01-01", "2000-02-01", "2003-07-01"]);
        let year = Cycles {
            year: true,
            ..Cycles::default()
        };
        assert_eq!(Cycles::of(&monthly), year);
        let daily = days(&["2000-01-01", "2000-01-02"]);
        assert_eq!(Cycles::of(&daily), Cycles { week: true, ..year });
        let timed = days(&["2000-01-01 10:00", "2001-01-01"]);
        assert_eq!(
            Cycles::of(&timed),
            Cycles {
                day: true,
                ..Cycles::default()
            }
        );
        assert_eq!(Cycles::of(&[]), Cycles::default());
    }

    #[test]
    fn text() {
        assert_eq!(date_text(15_340.0), "2012-01-01");
        assert_eq!(date_text(15_340.75), "2012-01-01 18:00:00");
        assert_eq!(date_text(-0.5), "1969-12-31 12:00:00");
        assert_eq!(date_text(15_340.999_999_99), "2012-01-02");
    }
}
