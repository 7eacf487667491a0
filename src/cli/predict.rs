//! `backprop predict`: one CSV row (or NPY row) per input, written as each
//! chunk of rows completes.

use std::io::{self, Write};
use std::path::Path;

use backprop::evaluate::{self, CsvOut};
use backprop::infer::Inference;
use backprop::model_io::{self, SavedModel};

use super::args::PredictArgs;
use super::print::load;

/// `backprop predict`: to `--out` (atomically; NPY for a `.npy` name) or to
/// standard output.
pub fn predict(args: &PredictArgs) -> anyhow::Result<()> {
    let ensemble = model_io::load_ensemble(&args.model)?;
    if ensemble.members.len() > 1 {
        return predict_ensemble(args, &ensemble);
    }
    let Some(SavedModel { mlp, meta }) = ensemble.members.into_iter().next() else {
        unreachable!("an ensemble has a member")
    };
    let threshold = evaluate::threshold_for(&mlp, args.threshold)?;
    let opts = args
        .read
        .overrides(args.id_column.as_ref())?
        .model_options(&meta, false);
    let mut raw = load(&args.data, &opts, false)?;
    if let Some(n) = backprop::pipeline::position_note(&meta, &raw) {
        eprintln!("note: {}: {n}", raw.source_name);
    }
    let mut infer = Inference::new(&mlp, args.threads, args.chunk_rows)?;
    let id = args.id_column.as_deref();
    let (th, mlp, meta, raw) = (threshold, &mlp, &meta, &mut raw);
    // rows are written as their chunk completes
    match args.out.as_deref() {
        Some(p) if p != Path::new("-") => model_io::write_atomic_by(p, |writer| {
            let name = &p.display().to_string();
            let out = CsvOut { writer, name };
            let npy = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
            match npy {
                true => evaluate::predict_npy(&mut infer, mlp, meta, raw, out),
                false => evaluate::predict_csv(&mut infer, mlp, meta, raw, th, id, out),
            }
        })?,
        _ => {
            let mut stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            let out = CsvOut {
                writer: &mut stdout,
                name: "standard output",
            };
            evaluate::predict_csv(&mut infer, mlp, meta, raw, th, id, out)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

/// `predict` with an ensemble file: the members' mean outputs, the same
/// table (written when every row is done).
fn predict_ensemble(args: &PredictArgs, e: &model_io::Ensemble) -> anyhow::Result<()> {
    let SavedModel { mlp, meta } = e.first();
    let threshold = evaluate::threshold_for(mlp, args.threshold)?;
    let opts = args
        .read
        .overrides(args.id_column.as_ref())?
        .model_options(meta, false);
    let mut raw = load(&args.data, &opts, false)?;
    if let Some(n) = backprop::pipeline::position_note(meta, &raw) {
        eprintln!("note: {}: {n}", raw.source_name);
    }
    let id = args.id_column.as_deref();
    let settings = (threshold, args.threads);
    match args.out.as_deref() {
        Some(p) if p != Path::new("-") => model_io::write_atomic_by(p, |writer| {
            let name = &p.display().to_string();
            let npy = p.extension().is_some_and(|x| x.eq_ignore_ascii_case("npy"));
            evaluate::predict_ensemble(e, &mut raw, settings, id, npy, CsvOut { writer, name })
        })?,
        _ => {
            let mut stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            let out = CsvOut {
                writer: &mut stdout,
                name: "standard output",
            };
            evaluate::predict_ensemble(e, &mut raw, settings, id, false, out)?;
            stdout.flush()?;
        }
    }
    Ok(())
}
