//! `backprop info`: a model's (or checkpoint's) architecture, parameter
//! count, preprocessing, names and training record.

use std::io::{self, Write};

use backprop::data::{InputColumn, Treatment};
use backprop::meta::{ModelMeta, TrainingRecord};
use backprop::model_io::{self, Checkpoint, SavedModel};
use backprop::Mlp;

use super::args::InfoArgs;

/// `backprop info`: one JSON object, or lines of text.
pub fn info(args: &InfoArgs) -> anyhow::Result<()> {
    let ensemble = model_io::load_ensemble(&args.model)?;
    let k = ensemble.members.len();
    if let Some(n) = args.member {
        if n == 0 || n > k {
            return Err(super::flags::usage(
                "--member",
                format!(
                    "{} holds {k} model{}: give 1 to {k}",
                    args.model.display(),
                    if k == 1 { "" } else { "s" }
                ),
            ));
        }
        let m = &ensemble.members[n - 1];
        if let Some(p) = &args.extract {
            let same = |a: &std::path::Path, b: &std::path::Path| matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y);
            if same(p, &args.model) {
                return Err(super::flags::usage(
                    "--extract",
                    format!(
                        "{} is the ensemble being read; give the member its own file",
                        p.display()
                    ),
                ));
            }
            model_io::save_model(p, &m.mlp, &m.meta)?;
            if !args.json {
                println!("wrote member {n} of {k} to {}", p.display());
            }
            return Ok(());
        }
        return show_model(args, &m.mlp, &m.meta, None, Some((n, k)));
    }
    if k > 1 {
        return show_ensemble(args, &ensemble);
    }
    let SavedModel { mlp, meta } = ensemble.members.into_iter().next().expect("one member");
    let checkpoint = model_io::load_checkpoint(&args.model).ok();
    show_model(args, &mlp, &meta, checkpoint.as_ref(), None)
}

/// One model (or one member of an ensemble: `(n, k)`), as text or JSON.
fn show_model(
    args: &InfoArgs,
    mlp: &Mlp,
    meta: &ModelMeta,
    checkpoint: Option<&Checkpoint>,
    member: Option<(usize, usize)>,
) -> anyhow::Result<()> {
    let (mlp, meta) = (mlp.clone(), meta.clone());
    let record = TrainingRecord::from_extra(&meta.extra);
    let mut out = io::stdout().lock();
    if args.json {
        let mut obj = info_json(&mlp, &meta, &record, checkpoint);
        if let Some((n, k)) = member {
            obj["member"] = n.into();
            obj["ensemble"] = k.into();
        }
        writeln!(out, "{obj}")?;
        return Ok(());
    }
    match member {
        Some((n, k)) => writeln!(
            out,
            "member {n} of {k} of ensemble {}",
            args.model.display()
        )?,
        None => writeln!(out, "model {}", args.model.display())?,
    }
    print_layers(&mut out, &mlp)?;
    print_names(&mut out, &meta, positive_class(&mlp, &meta))?;
    print_training(&mut out, &meta, &record, checkpoint)?;
    Ok(())
}

/// An ensemble: its members, one line each (layers, seed, epochs, the
/// held-out figures of their training record), then what they share.
fn show_ensemble(args: &InfoArgs, e: &model_io::Ensemble) -> anyhow::Result<()> {
    let k = e.members.len();
    let mut out = io::stdout().lock();
    let held_out = |r: &TrainingRecord| -> Vec<(String, String)> {
        r.entries
            .iter()
            .filter(|(key, _)| {
                (key.starts_with("final_") && !key.starts_with("final_train"))
                    || key.starts_with("best_")
            })
            .map(|(key, v)| (key.clone(), v.clone()))
            .collect()
    };
    if args.json {
        let members: Vec<serde_json::Value> = e
            .members
            .iter()
            .map(|m| {
                let r = TrainingRecord::from_extra(&m.meta.extra);
                info_json(&m.mlp, &m.meta, &r, None)
            })
            .collect();
        let obj = serde_json::json!({
            "ensemble": k,
            "combine": "mean",
            "members": members,
        });
        writeln!(out, "{obj}")?;
        return Ok(());
    }
    let first = e.first();
    writeln!(
        out,
        "ensemble {}: {k} models, predictions the mean of their {}",
        args.model.display(),
        if first.mlp.head().is_regression() {
            "values"
        } else {
            "probabilities"
        }
    )?;
    for (i, m) in e.members.iter().enumerate() {
        let r = TrainingRecord::from_extra(&m.meta.extra);
        let figures: Vec<String> = held_out(&r)
            .into_iter()
            .map(|(key, v)| match v.parse::<f64>() {
                Ok(x) => format!("{key} {x:.4}"),
                Err(_) => format!("{key} {v}"),
            })
            .collect();
        writeln!(
            out,
            "  member {}: layers {:?}, {} parameters, seed {}, {} epochs{}",
            i + 1,
            m.mlp.sizes(),
            m.mlp.num_params(),
            r.entries.get("seed").map_or("?", String::as_str),
            r.entries.get("epochs").map_or("?", String::as_str),
            if figures.is_empty() {
                String::new()
            } else {
                format!(", {}", figures.join(", "))
            }
        )?;
    }
    print_names(
        &mut out,
        &first.meta,
        positive_class(&first.mlp, &first.meta),
    )?;
    writeln!(
        out,
        "(info --member N shows a member in full; add --extract FILE to write it alone)"
    )?;
    Ok(())
}

/// The model as one JSON object.
fn info_json(
    mlp: &Mlp,
    meta: &ModelMeta,
    record: &TrainingRecord,
    checkpoint: Option<&Checkpoint>,
) -> serde_json::Value {
    let mut obj = serde_json::json!({
        "sizes": mlp.sizes(),
        "hidden_activations": mlp.hidden().iter().map(|a| a.name()).collect::<Vec<_>>(),
        "head": mlp.head().name(),
        "params": mlp.num_params(),
        "class_names": meta.class_names,
        "standardized": meta.standardizer.is_some(),
        "pixel_scale": meta.pixel_scale,
        "feature_names": meta.feature_names,
        "target_names": meta.target_names,
        "targets_standardized": meta.target_standardizer.is_some(),
        "csv_layout": meta.csv_layout.as_ref().map(|l| serde_json::json!({
            "delimiter": char::from(l.delimiter).to_string(),
            "header": l.header,
            "columns": l.columns,
            "label_positions": l.label_positions,
            "decimal": if l.decimal_comma { "," } else { "." },
        })),
        "columns": meta.columns.as_ref().map(|e| e.columns.iter().map(column_json).collect::<Vec<_>>()),
        "training": record.entries,
        "checkpoint_epoch": checkpoint.map(|c| c.state.epochs_done),
    });
    // binary classifiers only: other models' objects are as they were
    if let Some(p) = positive_class(mlp, meta) {
        obj["positive_class"] = p.into();
    }
    obj
}

/// A binary classifier's positive class: the stored one, else the second
/// class (models written before the key took that one).
fn positive_class<'m>(mlp: &Mlp, meta: &'m ModelMeta) -> Option<&'m str> {
    let names = meta.class_names.as_ref()?;
    let binary = mlp.head() == backprop::Head::SigmoidBce && mlp.outputs() == 1;
    binary.then(|| names[backprop::evaluate::positive_index(meta)].as_str())
}

/// A column name as `info` shows it (quoted when empty).
fn show_name(name: &str) -> String {
    if name.is_empty() {
        "''".to_string()
    } else {
        name.to_string()
    }
}

/// How many levels `info` lists per category column.
const SHOW_LEVELS: usize = 12;

/// One column's kind and treatment, in words.
fn column_text(t: &Treatment) -> String {
    let gaps = |indicator: bool, fill: String| {
        if indicator {
            format!("gaps take {fill}, with a 0/1 missing input")
        } else {
            format!("no gaps in training (a gap would take {fill})")
        }
    };
    match t {
        Treatment::Number { median, indicator } => {
            format!(
                "number, median {median}; {}",
                gaps(*indicator, "the median".into())
            )
        }
        Treatment::Boolean {
            true_text,
            false_text,
            fill,
            indicator,
        } => format!(
            "boolean, {true_text} = 1, {false_text} = 0; {}",
            gaps(*indicator, format!("{fill}"))
        ),
        Treatment::Category {
            levels,
            missing,
            other,
            ..
        } => {
            let shown: Vec<&str> = levels
                .iter()
                .take(SHOW_LEVELS)
                .map(String::as_str)
                .collect();
            format!(
                "category, {} level{}: {}{}{}{}",
                levels.len(),
                if levels.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if levels.len() > SHOW_LEVELS {
                    ", …"
                } else {
                    ""
                },
                if *missing { "; missing is a level" } else { "" },
                if *other {
                    "; rarer and unseen levels share (other)"
                } else {
                    "; an unseen level sets no input"
                }
            )
        }
        Treatment::Date {
            median,
            cycles,
            indicator,
        } => format!(
            "date: days since 1970-01-01{}, median {}; {}",
            if *cycles == backprop::data::Cycles::default() {
                String::new()
            } else {
                format!(", place in {} (sine and cosine)", cycles.words())
            },
            backprop::data::date_text(*median),
            gaps(*indicator, "the median".into())
        ),
        Treatment::Ignored(r) => format!("ignored ({})", r.name()),
    }
}

/// One column as a JSON object for `info --json`.
fn column_json(c: &InputColumn) -> serde_json::Value {
    let mut o = match &c.treatment {
        Treatment::Number { median, indicator } => {
            serde_json::json!({"median": median, "missing_input": indicator})
        }
        Treatment::Boolean {
            true_text,
            false_text,
            fill,
            indicator,
        } => serde_json::json!({
            "true": true_text, "false": false_text, "median": fill, "missing_input": indicator,
        }),
        Treatment::Category {
            levels,
            missing,
            other,
            by_value,
        } => serde_json::json!({
            "levels": levels, "missing_level": missing, "other": other, "by_value": by_value,
        }),
        Treatment::Date {
            median,
            cycles,
            indicator,
        } => serde_json::json!({
            "median_days": median,
            "median": backprop::data::date_text(*median),
            "cycles": {"year": cycles.year, "week": cycles.week, "day": cycles.day},
            "missing_input": indicator,
        }),
        Treatment::Ignored(r) => serde_json::json!({"reason": r.name()}),
    };
    o["name"] = c.name.clone().into();
    o["kind"] = c.treatment.kind().name().into();
    o
}

/// The layer sizes, each layer's parameters and activation, the total.
fn print_layers(out: &mut impl Write, mlp: &Mlp) -> anyhow::Result<()> {
    writeln!(
        out,
        "layers {:?} ({} weight layers)",
        mlp.sizes(),
        mlp.num_layers()
    )?;
    for l in 0..mlp.num_layers() {
        let (i, o) = (mlp.sizes()[l], mlp.sizes()[l + 1]);
        let act = mlp
            .hidden()
            .get(l)
            .map_or(format!("{} head", mlp.head()), |a| a.to_string());
        writeln!(
            out,
            "  layer {}: {i} → {o}, {} parameters, then {act}",
            l + 1,
            mlp.layer_params(l)
        )?;
    }
    writeln!(out, "parameters {}", mlp.num_params())?;
    Ok(())
}

/// The classes (and a binary classifier's positive class), the
/// preprocessing, the features and the targets.
fn print_names(
    out: &mut impl Write,
    meta: &ModelMeta,
    positive: Option<&str>,
) -> anyhow::Result<()> {
    if let Some(c) = &meta.class_names {
        writeln!(out, "classes {}: {}", c.len(), c.join(", "))?;
    }
    if let Some(p) = positive {
        writeln!(
            out,
            "positive class '{p}' (eval's binary metrics and --threshold refer to it)"
        )?;
    }
    match (&meta.standardizer, meta.pixel_scale) {
        (Some(_), _) => writeln!(
            out,
            "preprocessing: standardised features (mean/std stored)"
        )?,
        (None, Some(s)) => writeln!(out, "preprocessing: pixel values divided by {s}")?,
        (None, None) => writeln!(out, "preprocessing: none")?,
    }
    if !meta.feature_names.is_empty() {
        let n = meta.feature_names.len();
        let shown: Vec<&str> = meta
            .feature_names
            .iter()
            .take(8)
            .map(String::as_str)
            .collect();
        writeln!(
            out,
            "features {n}: {}{}",
            shown.join(", "),
            if n > 8 { ", …" } else { "" }
        )?;
    }
    if let Some(enc) = &meta.columns {
        writeln!(out, "columns {} of the training file:", enc.columns.len())?;
        for c in &enc.columns {
            writeln!(
                out,
                "  {}: {}",
                show_name(&c.name),
                column_text(&c.treatment)
            )?;
        }
    }
    if !meta.target_names.is_empty() {
        writeln!(
            out,
            "{} {}{}",
            if meta.target_names.len() == 1 {
                "target"
            } else {
                "targets"
            },
            meta.target_names.join(", "),
            if meta.target_standardizer.is_some() {
                " (standardised for training; predictions in the original units)"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

/// How the training CSV was read, the training record and, for a
/// checkpoint, where it stands.
fn print_training(
    out: &mut impl Write,
    meta: &ModelMeta,
    record: &TrainingRecord,
    checkpoint: Option<&Checkpoint>,
) -> anyhow::Result<()> {
    if let Some(l) = &meta.csv_layout {
        writeln!(
            out,
            "read as CSV: delimiter {:?}{}, {}, {} columns, label column{} {}",
            char::from(l.delimiter),
            if l.decimal_comma {
                ", decimal comma"
            } else {
                ""
            },
            if l.header { "header" } else { "no header" },
            l.columns,
            if l.label_positions.len() == 1 {
                ""
            } else {
                "s"
            },
            l.label_positions
                .iter()
                .map(|p| (p + 1).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    let training: Vec<String> = record
        .entries
        .iter()
        .map(|(k, v)| match k.as_str() {
            // one loss per epoch: its length and ends
            "loss_curve" => {
                let values: Vec<&str> = v.split(',').collect();
                let (first, last) = (values[0], values[values.len() - 1]);
                format!("loss_curve ({} epochs, {first} → {last})", values.len())
            }
            _ => format!("{k} {v}"),
        })
        .collect();
    if !training.is_empty() {
        writeln!(out, "training: {}", training.join(", "))?;
    }
    if let Some(c) = checkpoint {
        writeln!(
            out,
            "checkpoint after epoch {} (batch {}, lr {}, seed {}, shuffle {}, shards of {})",
            c.state.epochs_done,
            c.config.train.batch_size,
            c.config.train.lr,
            c.config.train.seed,
            c.config.train.shuffle,
            c.config.train.shard_rows
        )?;
    }
    Ok(())
}
