//! Errors as the user reads them: the field → flag table ([`FLAGS`]),
//! [`flag`], [`error_text`] and [`usage`] errors (exit code 2).

use backprop::Error;

/// The error and its causes, each said once (an I/O error's text is part of
/// the message that names its file, so it is not repeated as the cause). A
/// configuration error names the flag of the field it names.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = match cause.downcast_ref::<Error>() {
            // the job's launch, not a flag (`dist::Job`)
            Some(Error::Config { option, reason }) if *option == "mpi" => {
                format!("mpirun: {reason}")
            }
            Some(Error::Config { option, reason }) => {
                format!("invalid option {}: {reason}", flag(option))
            }
            _ => cause.to_string(),
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
/// `--field-name`.
pub const FLAGS: [(&str, &str); 13] = [
    ("early_stopping.patience", "--patience"),
    ("early_stopping.min_delta", "--min-delta"),
    ("early_stopping.monitor", "--monitor"),
    ("data", "--data"),
    ("label_columns", "--label-column"),
    ("kind", "--optimizer"),
    ("read.labels_path", "--labels"),
    ("hidden_layers", "--layers"),
    ("sizes", "--layers"),
    ("shuffle", "--no-shuffle"),
    ("standardize", "--no-standardize"),
    ("standardize_targets", "--no-standardize-targets"),
    ("checkpoint_every", "--checkpoint-every"),
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

/// A usage error naming the option: a field or a flag (exit code 2).
pub fn usage(option: &'static str, reason: impl ToString) -> anyhow::Error {
    Error::Config {
        option,
        reason: reason.to_string(),
    }
    .into()
}
