//! `backprop predict`: one CSV row (or NPY row) per input, written as each
//! chunk of rows completes (an ensemble's when every row is done).

use std::io::{self, Write};
use std::path::Path;

use backprop::evaluate::{self, CsvOut};
use backprop::infer::Inference;
use backprop::model_io::{self, SavedModel};

use super::args::PredictArgs;
use super::print::load;

/// `backprop predict`: to `--out` (atomically; NPY for a `.npy` name) or to
/// standard output. An ensemble file predicts the mean of its members.
pub fn predict(args: &PredictArgs) -> anyhow::Result<()> {
    let ensemble = model_io::load_ensemble(&args.model)?;
    let SavedModel { mlp, meta } = ensemble.first();
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
    let raw = &mut raw;
    if ensemble.members.len() > 1 {
        let settings = (threshold, args.threads);
        return write_out(args.out.as_deref(), &mut |out, npy| {
            evaluate::predict_ensemble(&ensemble, raw, settings, id, npy, out)
        });
    }
    let mut infer = Inference::new(mlp, args.threads, args.chunk_rows)?;
    // rows are written as their chunk completes
    write_out(args.out.as_deref(), &mut |out, npy| match npy {
        true => evaluate::predict_npy(&mut infer, mlp, meta, raw, out),
        false => evaluate::predict_csv(&mut infer, mlp, meta, raw, threshold, id, out),
    })
}

/// Runs `write` (told whether to write NPY: a `.npy` name) into `out`,
/// atomically, or into standard output when `out` is `None` or `-`.
fn write_out(
    out: Option<&Path>,
    write: &mut dyn FnMut(CsvOut<'_>, bool) -> backprop::Result<()>,
) -> anyhow::Result<()> {
    match out {
        Some(p) if p != Path::new("-") => model_io::write_atomic_by(p, |writer| {
            let name = &p.display().to_string();
            let npy = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
            write(CsvOut { writer, name }, npy)
        })?,
        _ => {
            let mut stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            let out = CsvOut {
                writer: &mut stdout,
                name: "standard output",
            };
            write(out, false)?;
            stdout.flush()?;
        }
    }
    Ok(())
}
