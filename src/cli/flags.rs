//! Errors as the user reads them: the field → flag table ([`FLAGS`]),
//! [`flag`], [`error_text`] and [`usage`] errors (exit code 2).

use backprop::error::{spell_fields, Field};
use backprop::Error;
use clap::CommandFactory;

use super::Cli;

/// The error and its causes, each said once (an I/O error's text is part of
/// the message that names its file, so it is not repeated as the cause). A
/// configuration error names the flag of the field it names, and every field
/// a message names is spelled as its flag ([`spell`]).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = match cause.downcast_ref::<Error>() {
            // the job's launch, not a flag (`dist::Job`)
            Some(Error::Config { option, reason }) if *option == "mpi" => {
                format!("mpirun: {}", spell_fields(reason, &spell))
            }
            Some(Error::Config { option, reason }) => {
                let reason = spell_fields(reason, &spell);
                format!("invalid option {}: {reason}", flag(option))
            }
            Some(e) => e.text_with(&spell),
            None => cause.to_string(),
        };
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text += ": ";
        }
        text += &part;
    }
    text
}

/// The flags of the configuration fields that library errors name
/// ([`FitSpec`](backprop::FitSpec) and
/// [`BenchSpec`](backprop::bench::BenchSpec) fields); unlisted fields are spelled
/// `--field-name`. (`saved_model` is what a model file is written by.)
pub const FLAGS: [(&str, &str); 29] = [
    ("early_stopping.patience", "--patience"),
    ("early_stopping.min_delta", "--min-delta"),
    ("early_stopping.monitor", "--monitor"),
    ("data", "--data"),
    ("label_columns", "--label-column"),
    ("kind", "--optimizer"),
    ("read.labels_path", "--labels"),
    ("read.header", "--header"),
    ("read.no_header", "--no-header"),
    ("read.delimiter", "--delimiter"),
    ("read.category_columns", "--category-columns"),
    ("read.number_columns", "--number-columns"),
    ("read.na_values", "--na-values"),
    ("read.missing", "--missing"),
    ("read.min_category_count", "--min-category-count"),
    ("read.max_categories", "--max-categories"),
    ("saved_model", "backprop train --out"),
    ("hidden_layers", "--layers"),
    ("sizes", "--layers"),
    ("shuffle", "--no-shuffle"),
    ("standardize", "--no-standardize"),
    ("standardize_targets", "--no-standardize-targets"),
    ("checkpoint_every", "--checkpoint-every"),
    ("lbfgs", "--optimizer lbfgs"),
    ("lbfgs.max_fun", "--max-fun"),
    ("lbfgs.gtol", "--gtol"),
    ("lbfgs.ftol", "--optimizer lbfgs"),
    ("lbfgs.memory", "--optimizer lbfgs"),
    ("lbfgs.max_ls", "--optimizer lbfgs"),
];

/// The command-line flag for a field named in an error (`epochs` →
/// `--epochs`, `hidden_layers` → `--layers`); a flag passes through.
pub fn flag(field: &str) -> String {
    if field.starts_with("--") {
        return field.to_string();
    }
    match FLAGS.iter().find(|(f, _)| *f == field) {
        Some((_, flag)) => flag.to_string(),
        None => format!("--{}", field.replace('_', "-")),
    }
}

/// A library note with each field it names spelled as its flag.
pub fn spell_text(text: &str) -> String {
    spell_fields(text, &spell)
}

/// A field named in a library message, as the command line says it: its
/// flag, followed by the suggested value unless the flag is a switch
/// (`head=mse` → `--head mse`, `shuffle=false` → `--no-shuffle`).
fn spell(field: Field<'_>) -> String {
    let flag = flag(field.name);
    match field.value {
        Some(value) if takes_value(&flag) => format!("{flag} {value}"),
        _ => flag,
    }
}

/// Whether some command's `flag` takes a value (`--head`), as opposed to a
/// switch (`--no-shuffle`).
fn takes_value(flag: &str) -> bool {
    let Some(long) = flag.strip_prefix("--") else {
        return false;
    };
    let cli = Cli::command();
    let takes = cli
        .get_subcommands()
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long))
        .is_some_and(|a| a.get_action().takes_values());
    takes
}

/// A usage error naming the option: a field or a flag (exit code 2).
pub fn usage(option: &'static str, reason: impl ToString) -> anyhow::Error {
    Error::Config {
        option,
        reason: reason.to_string(),
    }
    .into()
}
