//! `backprop export`: a model or ensemble as an ONNX file.

use anyhow::Context;
use backprop::{model_io, onnx};

use super::args::ExportArgs;

/// `backprop export --onnx`: loads the model (or ensemble), writes its
/// graph, says what the graph takes and gives.
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let ensemble = model_io::load_ensemble(&args.model)?;
    onnx::write(&args.onnx, &ensemble)
        .with_context(|| format!("writing {}", args.onnx.display()))?;
    let first = ensemble.first();
    let inputs = onnx::input_names(&first.meta)?;
    println!(
        "wrote {}: input 'input' [rows, {}], output 'output' [rows, {}] ({}; {} member{})",
        args.onnx.display(),
        if first.meta.columns.is_some() {
            inputs.len()
        } else {
            first.mlp.inputs()
        },
        first.mlp.outputs(),
        match first.mlp.head() {
            backprop::Head::SigmoidBce | backprop::Head::SoftmaxCe => "class probabilities",
            _ => "values in the targets' units",
        },
        ensemble.members.len(),
        if ensemble.members.len() == 1 { "" } else { "s" }
    );
    Ok(())
}
