//! Training curves as an SVG picture (plotters, SVG backend only, no system
//! fonts): loss per epoch, and accuracy per epoch where there are accuracies
//! (classifiers) or R² per epoch where there are R² (regressions).
//!
//! Each chart draws the training curve beside the held-out one, named after
//! its role ([`HeldOut`]: "validation" or "test"). The epoch axis is labelled
//! at whole epochs only; the loss axis turns logarithmic when the losses span
//! more than a factor of [`LOG_LOSS_RATIO`]; the accuracy axis is zoomed to the
//! data.
//!
//! Compiled with the `plot` feature (part of the default `cli` feature).

use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, DefaultFormatting, KeyPointHint, ValueFormatter};
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::model_io::write_atomic;

pub use crate::fit::{EpochRecord, HeldOut};

/// The loss axis is logarithmic when the largest plotted loss exceeds this
/// many times the smallest (and all are positive).
pub const LOG_LOSS_RATIO: f64 = 100.0;

/// The least span of the accuracy axis, as a fraction (5 percentage points),
/// so that a flat curve stays visible.
const MIN_ACCURACY_SPAN: f64 = 0.05;

/// At most this many labelled epochs on the x axis.
const MAX_EPOCH_TICKS: usize = 10;

/// Draws the curves of `history` into an SVG file at `path` (written
/// atomically), naming the held-out curves after `held_out`.
///
/// # Errors
/// [`Error::Data`] if there is nothing to draw or drawing fails; I/O errors
/// naming `path`.
///
/// ```
/// use backprop::plot::{write_curves_svg, EpochRecord, HeldOut};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("curves.svg");
/// let history: Vec<_> = (1..=3)
///     .map(|epoch| EpochRecord {
///         epoch,
///         train_loss: 1.0 / epoch as f64,
///         val_loss: Some(1.5 / epoch as f64),
///         train_accuracy: Some(0.7 + 0.1 * epoch as f64 / 3.0),
///         val_accuracy: Some(0.6 + 0.1 * epoch as f64 / 3.0),
///         test_loss: None,
///         test_accuracy: None,
///         val_r2: None,
///         test_r2: None,
///     })
///     .collect();
/// write_curves_svg(&path, &history, HeldOut::Test)?;
/// let svg = std::fs::read_to_string(&path).unwrap();
/// assert!(svg.starts_with("<svg"));
/// assert!(svg.lines().any(|line| line == "test")); // the legend's text
/// assert!(!svg.lines().any(|line| line == "validation"));
/// assert!(write_curves_svg(&path, &[], HeldOut::Test).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn write_curves_svg(path: &Path, history: &[EpochRecord], held_out: HeldOut) -> Result<()> {
    let svg = curves_svg(history, held_out).map_err(|message| Error::Data {
        source_name: path.display().to_string(),
        message,
    })?;
    write_atomic(path, svg.as_bytes())
}

/// One named curve.
struct Series {
    name: &'static str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// The curve `name` of `history` drawn in `color`, skipping absent and
/// non-finite values; `None` if that leaves nothing.
fn series(
    history: &[EpochRecord],
    name: &'static str,
    color: RGBColor,
    value: fn(&EpochRecord) -> Option<f64>,
) -> Option<Series> {
    let points: Vec<(f64, f64)> = history
        .iter()
        .filter_map(|r| value(r).map(|v| (r.epoch as f64, v)))
        .filter(|&(_, v)| v.is_finite())
        .collect();
    (!points.is_empty()).then_some(Series {
        name,
        color,
        points,
    })
}

/// The epoch axis: its range and its labelled (whole) epochs.
#[derive(Clone, Debug)]
struct EpochAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for EpochAxis {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn map(&self, epoch: &f64, (from, to): (i32, i32)) -> i32 {
        let Range { start, end } = self.range;
        let at = (epoch - start) / (end - start) * f64::from(to - from);
        from + at.round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Spans the epochs of `history` (half an epoch either side of a single one)
/// with ticks at whole epochs, every 1, 2, 5, 10, 20, 50, … epochs so that
/// there are at most [`MAX_EPOCH_TICKS`].
fn epoch_axis(history: &[EpochRecord]) -> EpochAxis {
    let first = history.iter().map(|r| r.epoch).min().unwrap_or(1);
    let last = history.iter().map(|r| r.epoch).max().unwrap_or(1);
    // The multiples of `step` in `first..=last` number `last / step -
    // first.div_ceil(step) + 1`.
    let too_many =
        |step: usize| (last / step).saturating_sub(first.div_ceil(step)) >= MAX_EPOCH_TICKS;
    let (mut step, mut k) = (1usize, 0u32);
    while too_many(step) {
        k += 1;
        step = [1, 2, 5][k as usize % 3] * 10usize.pow(k / 3);
    }
    let ticks = (first.div_ceil(step)..=last / step)
        .map(|i| (i * step) as f64)
        .collect();
    let range = if first == last {
        first as f64 - 0.5..last as f64 + 0.5
    } else {
        first as f64..last as f64
    };
    EpochAxis { range, ticks }
}

/// How the loss axis is scaled.
#[derive(Clone, Debug, PartialEq)]
enum LossAxis {
    Linear(Range<f64>),
    Log(Range<f64>),
}

/// Logarithmic when every loss is positive and the largest exceeds
/// [`LOG_LOSS_RATIO`] times the smallest; linear (from 0, or below the least
/// loss if it is negative) otherwise.
fn loss_axis(losses: impl Iterator<Item = f64> + Clone) -> LossAxis {
    let min = losses.clone().fold(f64::INFINITY, f64::min);
    let max = losses.fold(f64::NEG_INFINITY, f64::max);
    if min > 0.0 && max / min > LOG_LOSS_RATIO {
        return LossAxis::Log(min / 1.25..max * 1.25);
    }
    if min > max {
        return LossAxis::Linear(0.0..1.0); // nothing finite to plot
    }
    let lo = min.min(0.0);
    let hi = max.max(lo + 1e-9);
    let pad = 0.05 * (hi - lo);
    LossAxis::Linear(if lo < 0.0 { lo - pad } else { lo }..hi + pad)
}

/// `min..max` (`min <= max`) with a tenth of its width (at least 0.005)
/// added on each side, then widened about its middle to at least
/// [`MIN_ACCURACY_SPAN`].
fn padded(min: f64, max: f64) -> (f64, f64) {
    let pad = (0.1 * (max - min)).max(0.005);
    let (lo, hi) = (min - pad, max + pad);
    if hi - lo < MIN_ACCURACY_SPAN {
        let mid = (lo + hi) / 2.0;
        return (mid - MIN_ACCURACY_SPAN / 2.0, mid + MIN_ACCURACY_SPAN / 2.0);
    }
    (lo, hi)
}

/// The accuracy axis, as fractions: a little beyond the data, at least
/// [`MIN_ACCURACY_SPAN`] wide, inside `[0, 1]`.
fn accuracy_range(accuracies: impl Iterator<Item = f64> + Clone) -> Range<f64> {
    let min = accuracies.clone().fold(f64::INFINITY, f64::min).max(0.0);
    let max = accuracies.fold(f64::NEG_INFINITY, f64::max).min(1.0);
    if min > max {
        return 0.0..1.0;
    }
    let (mut lo, mut hi) = padded(min, max);
    if lo < 0.0 {
        (lo, hi) = (0.0, (hi - lo).min(1.0));
    }
    if hi > 1.0 {
        (lo, hi) = ((lo - (hi - 1.0)).max(0.0), 1.0);
    }
    lo..hi
}

/// The R² axis: a little beyond the data, at least [`MIN_ACCURACY_SPAN`]
/// wide, never above 1 (an R² is at most 1; early epochs may lie far below 0).
fn r2_range(values: impl Iterator<Item = f64> + Clone) -> Range<f64> {
    let min = values.clone().fold(f64::INFINITY, f64::min);
    let max = values.fold(f64::NEG_INFINITY, f64::max).min(1.0);
    if min > max {
        return 0.0..1.0;
    }
    let (mut lo, mut hi) = padded(min, max);
    if hi > 1.0 {
        (lo, hi) = (lo - (hi - 1.0), 1.0);
    }
    lo..hi
}

/// `v` to at most four significant digits, without trailing zeros: `0.6`, not
/// `0.6000000000000001`.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (3.0 - v.abs().log10().floor()).clamp(0.0, 12.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// One chart on `area`: the epoch axis `x`, the value axis `y`, the curves,
/// the legend at `legend`.
#[allow(clippy::too_many_arguments)]
fn draw_chart<Y>(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    x: &EpochAxis,
    y: Y,
    y_desc: &str,
    y_format: &dyn Fn(&f64) -> String,
    curves: &[Series],
    legend: SeriesLabelPosition,
) -> std::result::Result<(), String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(x.clone(), y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_label_formatter(&|e| format!("{e:.0}"))
        .y_label_formatter(y_format)
        .draw()
        .map_err(|e| e.to_string())?;
    let marker = if x.range.end - x.range.start <= 30.0 {
        3
    } else {
        0
    };
    for s in curves {
        let color = s.color;
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color).point_size(marker))
            .map_err(|e| e.to_string())?
            .label(s.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(legend)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(|e| e.to_string())
}

fn curves_svg(history: &[EpochRecord], held_out: HeldOut) -> std::result::Result<String, String> {
    if history.is_empty() {
        return Err("no epochs to plot".into());
    }
    let held = held_out.name();
    let losses: Vec<Series> = [
        series(history, "train", BLUE, |r| Some(r.train_loss)),
        series(history, held, RED, |r| r.val_loss),
        series(history, "test", GREEN, |r| r.test_loss),
    ]
    .into_iter()
    .flatten()
    .collect();
    let accuracies: Vec<Series> = [
        series(history, "train", BLUE, |r| r.train_accuracy),
        series(history, held, RED, |r| r.val_accuracy),
        series(history, "test", GREEN, |r| r.test_accuracy),
    ]
    .into_iter()
    .flatten()
    .collect();
    let r2s: Vec<Series> = [
        series(history, held, RED, |r| r.val_r2),
        series(history, "test", GREEN, |r| r.test_r2),
    ]
    .into_iter()
    .flatten()
    .collect();
    let x = epoch_axis(history);
    let mut svg = String::new();
    {
        let has_acc = !accuracies.is_empty() || !r2s.is_empty();
        let height = if has_acc { 720 } else { 400 };
        let root = SVGBackend::with_string(&mut svg, (800, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, bottom) = root.split_vertically(if has_acc { height / 2 } else { height });
        let values = |curves: &[Series]| -> Vec<f64> {
            curves
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .collect()
        };
        let loss_values = values(&losses);
        let upper = SeriesLabelPosition::UpperRight;
        match loss_axis(loss_values.iter().copied()) {
            LossAxis::Linear(y) => draw_chart(
                &top,
                "loss per epoch",
                &x,
                y,
                "loss",
                &|v| short(*v),
                &losses,
                upper,
            )?,
            LossAxis::Log(y) => draw_chart(
                &top,
                "loss per epoch (log scale)",
                &x,
                y.log_scale(),
                "loss",
                &|v| format!("{v:.0e}"),
                &losses,
                upper,
            )?,
        }
        if !r2s.is_empty() && accuracies.is_empty() {
            let y = r2_range(values(&r2s).into_iter());
            draw_chart(
                &bottom,
                "R² per epoch",
                &x,
                y,
                "R²",
                &|v| short(*v),
                &r2s,
                SeriesLabelPosition::LowerRight,
            )?;
        } else if has_acc {
            let acc_values = values(&accuracies);
            let y = accuracy_range(acc_values.iter().copied());
            let percent: Vec<Series> = accuracies
                .into_iter()
                .map(|s| Series {
                    points: s.points.iter().map(|&(e, a)| (e, 100.0 * a)).collect(),
                    ..s
                })
                .collect();
            draw_chart(
                &bottom,
                "accuracy per epoch",
                &x,
                100.0 * y.start..100.0 * y.end,
                "accuracy %",
                &|v| short(*v),
                &percent,
                SeriesLabelPosition::LowerRight,
            )?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, train_loss: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss,
            val_loss: Some(1.2 * train_loss),
            train_accuracy: Some(0.5 + 0.09 * epoch as f64),
            val_accuracy: Some(0.5 + 0.08 * epoch as f64),
            test_loss: None,
            test_accuracy: None,
            val_r2: None,
            test_r2: None,
        }
    }

    /// The contents of every `<text>` element, with its `text-anchor`.
    fn anchored_texts(svg: &str) -> Vec<(String, String)> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let anchor = t.split("text-anchor=\"").nth(1)?.split('"').next()?;
                let body = &t[t.find('>')? + 1..];
                let body = body[..body.find("</text>")?].trim();
                Some((anchor.to_string(), body.to_string()))
            })
            .collect()
    }

    /// The contents of every `<text>` element.
    fn texts(svg: &str) -> Vec<String> {
        anchored_texts(svg).into_iter().map(|(_, t)| t).collect()
    }

    /// The numeric labels of the x (epoch) axes: centred, unlike the y labels
    /// (right-aligned) and the legends (left-aligned); the titles are centred
    /// but not numbers.
    fn x_labels(svg: &str) -> Vec<String> {
        anchored_texts(svg)
            .into_iter()
            .filter(|(a, t)| a == "middle" && t.parse::<f64>().is_ok())
            .map(|(_, t)| t)
            .collect()
    }

    /// The numeric labels of the y axes (right-aligned).
    fn y_labels(svg: &str) -> Vec<String> {
        anchored_texts(svg)
            .into_iter()
            .filter(|(a, t)| a == "end" && t.parse::<f64>().is_ok())
            .map(|(_, t)| t)
            .collect()
    }

    #[test]
    fn svg_has_both_charts_with_named_series() {
        let h: Vec<EpochRecord> = (1..=5).map(|e| record(e, 1.0 / e as f64)).collect();
        let svg = curves_svg(&h, HeldOut::Validation).unwrap();
        assert!(svg.starts_with("<svg"));
        let t = texts(&svg);
        assert!(t.iter().any(|t| t == "loss per epoch"), "{t:?}");
        assert!(t.iter().any(|t| t == "accuracy per epoch"), "{t:?}");
        // "train" and "validation" in each chart's legend, never "test".
        assert_eq!(t.iter().filter(|t| *t == "train").count(), 2, "{t:?}");
        assert_eq!(t.iter().filter(|t| *t == "validation").count(), 2, "{t:?}");
        assert!(!t.iter().any(|t| t == "test"), "{t:?}");

        let svg = curves_svg(&h, HeldOut::Test).unwrap();
        let t = texts(&svg);
        assert_eq!(t.iter().filter(|t| *t == "test").count(), 2, "{t:?}");
        assert!(!t.iter().any(|t| t == "validation"), "{t:?}");
        assert!(curves_svg(&[], HeldOut::Test).is_err());
    }

    #[test]
    fn test_curves_beside_validation_ones() {
        let h: Vec<EpochRecord> = (1..=3)
            .map(|e| EpochRecord {
                test_loss: Some(1.3 / e as f64),
                test_accuracy: Some(0.55 + 0.05 * e as f64),
                ..record(e, 1.0 / e as f64)
            })
            .collect();
        // a legend entry of each in both charts
        let t = texts(&curves_svg(&h, HeldOut::Validation).unwrap());
        assert_eq!(t.iter().filter(|t| *t == "validation").count(), 2, "{t:?}");
        assert_eq!(t.iter().filter(|t| *t == "test").count(), 2, "{t:?}");
    }

    /// A regression's curves: loss, and R² (held-out and test) where a
    /// classifier has its accuracy (issue 20).
    #[test]
    fn regressions_plot_r2_per_epoch() {
        let h: Vec<EpochRecord> = (1..=6)
            .map(|e| EpochRecord {
                train_accuracy: None,
                val_accuracy: None,
                test_loss: Some(1.1 / e as f64),
                val_r2: Some(-2.0 + 0.5 * e as f64),
                test_r2: Some(-1.5 + 0.4 * e as f64),
                ..record(e, 1.0 / e as f64)
            })
            .collect();
        let svg = curves_svg(&h, HeldOut::Validation).unwrap();
        let t = texts(&svg);
        assert!(t.iter().any(|t| t == "R² per epoch"), "{t:?}");
        assert!(!t.iter().any(|t| t.contains("accuracy")), "{t:?}");
        assert_eq!(t.iter().filter(|t| *t == "validation").count(), 2, "{t:?}");
        assert_eq!(t.iter().filter(|t| *t == "test").count(), 2, "{t:?}");
        // the axis reaches the lowest R² and never passes 1
        let y = r2_range(h.iter().flat_map(|r| [r.val_r2, r.test_r2]).flatten());
        assert!(y.start < -1.5 && y.end <= 1.0, "{y:?}");
        assert_eq!(r2_range([0.999, 1.0].into_iter()).end, 1.0);
    }

    #[test]
    fn only_train_curves_without_held_out_set_or_accuracy() {
        let h: Vec<EpochRecord> = (1..=4)
            .map(|e| EpochRecord {
                val_loss: None,
                train_accuracy: None,
                val_accuracy: None,
                ..record(e, 2.0 / e as f64)
            })
            .collect();
        let t = texts(&curves_svg(&h, HeldOut::Validation).unwrap());
        assert_eq!(t.iter().filter(|t| *t == "train").count(), 1, "{t:?}");
        assert!(!t
            .iter()
            .any(|t| t == "validation" || t.contains("accuracy")));
    }

    #[test]
    fn epoch_ticks_are_whole_numbers_for_short_and_long_runs() {
        for n in [1, 2, 3, 4, 7, 10, 11, 12, 37, 250, 1001] {
            let h: Vec<EpochRecord> = (1..=n).map(|e| record(e, 1.0 / e as f64)).collect();
            let x = epoch_axis(&h);
            let ok = x
                .ticks
                .iter()
                .all(|t| t.fract() == 0.0 && *t >= 1.0 && *t <= n as f64);
            assert!(ok && !x.ticks.is_empty(), "{n}: {:?}", x.ticks);
            assert!(x.ticks.len() <= MAX_EPOCH_TICKS, "{n}: {:?}", x.ticks);
            if n <= 10 {
                assert_eq!(x.ticks, (1..=n).map(|e| e as f64).collect::<Vec<_>>());
            }
            // In the picture: both charts label exactly these epochs, as integers.
            let labels = x_labels(&curves_svg(&h, HeldOut::Validation).unwrap());
            let want: Vec<String> = x.ticks.iter().map(|t| format!("{t}")).collect();
            assert_eq!(labels, [want.clone(), want].concat(), "{n}");
            assert!(
                labels.iter().all(|l| l.parse::<u64>().is_ok()),
                "{n}: {labels:?}"
            );
        }
        assert_eq!(epoch_axis(&[record(1, 1.0)]).range, 0.5..1.5);
        // A resumed run starting at epoch 8.
        let h: Vec<EpochRecord> = (8..=9).map(|e| record(e, 0.5)).collect();
        assert_eq!(epoch_axis(&h).ticks, [8.0, 9.0]);
        let h: Vec<EpochRecord> = (38..=61).map(|e| record(e, 0.5)).collect();
        assert_eq!(epoch_axis(&h).ticks, [40.0, 45.0, 50.0, 55.0, 60.0]);
        let huge = [record(1, 1.0), record(usize::MAX, 1.0)];
        assert!(epoch_axis(&huge).ticks.len() <= MAX_EPOCH_TICKS);
    }

    #[test]
    fn axis_labels_are_short() {
        assert_eq!(short(0.6000000000000001), "0.6");
        assert_eq!(
            (short(0.0), short(86.5), short(1234.6)),
            ("0".into(), "86.5".into(), "1235".into())
        );
        assert_eq!(short(-0.25), "-0.25");
        let h: Vec<EpochRecord> = (1..=3).map(|e| record(e, 1.0 / e as f64)).collect();
        let y = y_labels(&curves_svg(&h, HeldOut::Validation).unwrap());
        assert!(y.len() > 4 && y.iter().all(|l| l.len() <= 5), "{y:?}");
    }

    #[test]
    fn loss_axis_is_logarithmic_only_for_a_wide_positive_range() {
        let h: Vec<EpochRecord> = (1..=6)
            .map(|e| record(e, 10f64.powi(1 - e as i32)))
            .collect();
        let t = texts(&curves_svg(&h, HeldOut::Validation).unwrap());
        assert!(t.iter().any(|t| t == "loss per epoch (log scale)"), "{t:?}");
        for decade in ["1e-4", "1e-2", "1e0"] {
            assert!(t.iter().any(|t| t == decade), "no {decade} in {t:?}");
        }

        let narrow: Vec<EpochRecord> = (1..=6).map(|e| record(e, 1.0 / e as f64)).collect();
        let t = texts(&curves_svg(&narrow, HeldOut::Validation).unwrap());
        assert!(t.iter().any(|t| t == "loss per epoch"), "{t:?}");
        assert!(!t.iter().any(|t| t.contains("e-")), "{t:?}");

        assert_eq!(
            loss_axis([1.0, 1e-3, 0.0].into_iter()),
            LossAxis::Linear(0.0..1.05)
        );
        assert!(matches!(
            loss_axis([1.0, 1e-3].into_iter()),
            LossAxis::Log(_)
        ));
        assert!(
            matches!(loss_axis([-1.0, 1e-3, 5.0].into_iter()), LossAxis::Linear(r) if r.start < -1.0)
        );
        assert_eq!(loss_axis(std::iter::empty()), LossAxis::Linear(0.0..1.0));
        // Non-finite losses are left out, not plotted or fatal.
        let mut bad: Vec<EpochRecord> = (1..=3).map(|e| record(e, 1.0)).collect();
        bad[1].train_loss = f64::NAN;
        bad[2].val_loss = Some(f64::INFINITY);
        assert!(curves_svg(&bad, HeldOut::Test).is_ok());
    }

    #[test]
    fn accuracy_axis_zooms_to_the_data() {
        let r = accuracy_range([0.90, 0.95, 0.97].into_iter());
        assert!(
            r.start < 0.90 && r.start > 0.85 && r.end > 0.97 && r.end <= 0.98,
            "{r:?}"
        );
        // A flat curve still gets a visible span.
        let r = accuracy_range([0.5, 0.5].into_iter());
        assert!(
            (r.end - r.start - MIN_ACCURACY_SPAN).abs() < 1e-12 && r.contains(&0.5),
            "{r:?}"
        );
        // Clamped to [0, 1], keeping the span.
        let r = accuracy_range([1.0, 1.0].into_iter());
        assert!(
            r.end == 1.0 && (r.start - (1.0 - MIN_ACCURACY_SPAN)).abs() < 1e-12,
            "{r:?}"
        );
        let r = accuracy_range([0.0, 0.001].into_iter());
        assert!(r.start == 0.0 && r.end >= MIN_ACCURACY_SPAN, "{r:?}");
        assert_eq!(accuracy_range([0.0, 1.0].into_iter()), 0.0..1.0);
        assert_eq!(accuracy_range(std::iter::empty()), 0.0..1.0);

        // In the picture: the accuracy axis labels stay near the data (80–98 %).
        let h: Vec<EpochRecord> = (1..=5)
            .map(|e| EpochRecord {
                train_accuracy: Some(0.9 + 0.01 * e as f64),
                val_accuracy: Some(0.85 + 0.01 * e as f64),
                ..record(e, 1.0)
            })
            .collect();
        // (The loss axis is 0–1.26 here, the accuracy axis in percent.)
        let y: Vec<f64> = y_labels(&curves_svg(&h, HeldOut::Validation).unwrap())
            .iter()
            .map(|l| l.parse().unwrap())
            .filter(|&v: &f64| v > 2.0)
            .collect();
        assert!(
            y.len() >= 3 && y.iter().all(|v| (80.0..=100.0).contains(v)),
            "{y:?}"
        );
    }
}
