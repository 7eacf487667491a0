//! `backprop eval`: a model's figures on labelled data, as text or JSON.

use std::io::{self, Write};

use backprop::evaluate::{self, ClassReport, Evaluation, MultiLabelReport, RegressionReport};
use backprop::infer::Inference;
use backprop::model_io::{self, SavedModel};

use super::args::EvalArgs;
use super::print::{auc_text, figure, load, report_json};

/// `backprop eval`: loads the model and the data, evaluates, prints.
pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let mut ensemble = model_io::load_ensemble(&args.model)?;
    let members = ensemble.members.len();
    let SavedModel { mlp, meta } = ensemble.first().clone();
    let threshold = evaluate::threshold_for(&mlp, args.threshold)?;
    let opts = args.read.overrides(None)?.model_options(&meta, true);
    let mut raw = load(&args.data, &opts, args.json)?;
    if let (Some(n), false) = (backprop::pipeline::position_note(&meta, &raw), args.json) {
        eprintln!("note: {}: {n}", raw.source_name);
    }
    let report = if members == 1 {
        ensemble.members.clear();
        let mut infer = Inference::new(&mlp, args.threads, args.chunk_rows)?;
        evaluate::evaluate_with(&mut infer, &mlp, &meta, &mut raw, threshold)?
    } else {
        if !args.json {
            println!("ensemble of {members} models: the mean of their outputs");
        }
        evaluate::evaluate_ensemble(&ensemble, &mut raw, threshold, args.threads)?
    };
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", report_json(&report))?;
        return Ok(());
    }
    let loss_name = match (mlp.head(), meta.target_standardizer.is_some()) {
        (backprop::Head::Poisson, _) => "half Poisson deviance",
        (_, true) => "½·MSE on standardised targets",
        (_, false) => "½·MSE",
    };
    match &report {
        Evaluation::Regression(r) => print_regression(&mut out, r, loss_name),
        Evaluation::MultiLabel(r) => print_multi_label(&mut out, r),
        Evaluation::Classification(r) => print_classification(&mut out, r),
    }
}

/// Rows, loss, and MSE, RMSE, MAE ([`figure`]: 6 significant digits at
/// any scale) and R² per target (and their mean).
fn print_regression(
    out: &mut impl Write,
    r: &RegressionReport,
    loss_name: &str,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "rows {}\nloss {} ({loss_name})",
        r.rows,
        figure(r.loss)
    )?;
    let w = r
        .per_output
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(4)
        .max(6);
    writeln!(
        out,
        "{:<w$} {:>12} {:>12} {:>12} {:>9}",
        "target", "MSE", "RMSE", "MAE", "R²"
    )?;
    for (n, m) in &r.per_output {
        writeln!(
            out,
            "{n:<w$} {:>12} {:>12} {:>12} {:>9.4}",
            figure(m.mse),
            figure(m.rmse),
            figure(m.mae),
            m.r2
        )?;
    }
    if r.per_output.len() > 1 {
        let m = &r.mean;
        writeln!(
            out,
            "{:<w$} {:>12} {:>12} {:>12} {:>9.4}",
            "mean",
            figure(m.mse),
            figure(m.rmse),
            figure(m.mae),
            m.r2
        )?;
    }
    Ok(())
}

/// Rows, loss, exact match, macro F1, and the figures of each label.
fn print_multi_label(out: &mut impl Write, r: &MultiLabelReport) -> anyhow::Result<()> {
    writeln!(
        out,
        "rows {}\nloss {:.6}\nexact match {:.2}% (every label right, threshold {})\nmacro F1 {:.4}",
        r.rows,
        r.loss,
        100.0 * r.exact_match,
        r.threshold,
        r.macro_f1
    )?;
    let w = r
        .per_label
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "{:<w$} {:>9} {:>9} {:>9} {:>9}",
        "label", "precision", "recall", "F1", "ROC AUC"
    )?;
    for (n, m) in &r.per_label {
        writeln!(
            out,
            "{n:<w$} {:>9.4} {:>9.4} {:>9.4} {:>9}",
            m.precision,
            m.recall,
            m.f1,
            auc_text(m.roc_auc)
        )?;
    }
    Ok(())
}

/// Rows, loss, accuracy, the positive class's figures (binary), the
/// figures of each class and the confusion matrix.
fn print_classification(out: &mut impl Write, r: &ClassReport) -> anyhow::Result<()> {
    writeln!(
        out,
        "rows {}\nloss {:.6}\naccuracy {:.2}%",
        r.rows,
        r.loss,
        100.0 * r.accuracy
    )?;
    if let Some((positive, t, b)) = &r.binary {
        writeln!(
            out,
            "positive class '{positive}' (probability ≥ {t}): precision {:.4}  recall {:.4}  F1 {:.4}  ROC AUC {}",
            b.precision, b.recall, b.f1, auc_text(b.roc_auc)
        )?;
    }
    let w = r.classes.iter().map(|n| n.len()).max().unwrap_or(1).max(6);
    writeln!(
        out,
        "{:>w$} {:>9} {:>9} {:>9} {:>9}",
        "class", "precision", "recall", "F1", "support"
    )?;
    for (n, m) in r.classes.iter().zip(&r.per_class) {
        writeln!(
            out,
            "{n:>w$} {:>9.4} {:>9.4} {:>9.4} {:>9}",
            m.precision, m.recall, m.f1, m.support
        )?;
    }
    writeln!(out, "macro F1 {:.4}", r.macro_f1)?;
    writeln!(
        out,
        "confusion matrix (rows: true class, columns: predicted)"
    )?;
    write!(out, "{:>w$}", "")?;
    for n in &r.classes {
        write!(out, " {n:>w$}")?;
    }
    writeln!(out)?;
    for (n, row) in r.classes.iter().zip(&r.confusion) {
        write!(out, "{n:>w$}")?;
        for c in row {
            write!(out, " {c:>w$}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
