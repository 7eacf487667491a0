//! Training curves as an SVG picture (plotters): loss per epoch, and accuracy
//! per epoch where there is a validation set of classes.

use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::model_io::write_atomic;

/// One epoch's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss, if there is a validation set.
    pub val_loss: Option<f64>,
    /// Validation accuracy in `[0, 1]`, for classifiers with a validation set.
    pub val_accuracy: Option<f64>,
}

/// Draws the curves of `history` into an SVG file at `path` (written
/// atomically).
///
/// # Errors
/// [`Error::Data`] if there is nothing to draw or drawing fails; I/O errors
/// naming `path`.
pub fn write_curves_svg(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let svg = curves_svg(history).map_err(|message| Error::Data {
        source_name: path.display().to_string(),
        message,
    })?;
    write_atomic(path, svg.as_bytes())
}

fn curves_svg(history: &[EpochRecord]) -> std::result::Result<String, String> {
    if history.is_empty() {
        return Err("no epochs to plot".into());
    }
    let has_acc = history.iter().any(|r| r.val_accuracy.is_some());
    let mut svg = String::new();
    {
        let height = if has_acc { 720 } else { 400 };
        let root = SVGBackend::with_string(&mut svg, (800, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, bottom) = if has_acc {
            root.split_vertically(height / 2)
        } else {
            (root.clone(), root.clone().shrink((0, 0), (0, 0)))
        };
        let last = history.len() as f64;
        let losses = history
            .iter()
            .flat_map(|r| std::iter::once(r.train_loss).chain(r.val_loss))
            .filter(|v| v.is_finite());
        let max_loss = losses.fold(0.0f64, f64::max).max(1e-9) * 1.05;
        let mut chart = ChartBuilder::on(&top)
            .caption("loss per epoch", ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..last.max(1.0), 0.0..max_loss)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss")
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                history.iter().map(|r| (r.epoch as f64, r.train_loss)),
                &BLUE,
            ))
            .map_err(|e| e.to_string())?
            .label("train")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        if history.iter().any(|r| r.val_loss.is_some()) {
            chart
                .draw_series(LineSeries::new(
                    history
                        .iter()
                        .filter_map(|r| r.val_loss.map(|v| (r.epoch as f64, v))),
                    &RED,
                ))
                .map_err(|e| e.to_string())?
                .label("validation")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        if has_acc {
            let mut acc = ChartBuilder::on(&bottom)
                .caption("validation accuracy per epoch", ("sans-serif", 20))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(55)
                .build_cartesian_2d(0.0..last.max(1.0), 0.0..100.0)
                .map_err(|e| e.to_string())?;
            acc.configure_mesh()
                .x_desc("epoch")
                .y_desc("accuracy %")
                .draw()
                .map_err(|e| e.to_string())?;
            acc.draw_series(LineSeries::new(
                history
                    .iter()
                    .filter_map(|r| r.val_accuracy.map(|a| (r.epoch as f64, 100.0 * a))),
                &GREEN,
            ))
            .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_both_charts() {
        let h: Vec<EpochRecord> = (1..=5)
            .map(|e| EpochRecord {
                epoch: e,
                train_loss: 1.0 / e as f64,
                val_loss: Some(1.2 / e as f64),
                val_accuracy: Some(0.5 + 0.08 * e as f64),
            })
            .collect();
        let svg = curves_svg(&h).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("loss per epoch") && svg.contains("validation accuracy"));
        assert!(curves_svg(&[]).is_err());
    }
}
