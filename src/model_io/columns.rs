//! The `columns` key of a model file: the [`TableEncoding`] of the training
//! CSV as a JSON array, one object per column, to and from text. Numbers are
//! strings of the shortest decimal that reads back to the same `f32` bits.

use serde_json::{json, Map, Value};

use super::message::{data_err, quote};
use super::schema::{fmt_f32, parse_f32};
use crate::data::{boolean_pair, Cycles, IgnoreReason, InputColumn, TableEncoding, Treatment};

/// The text of the `columns` key for `enc` (a front end keeps it beside its
/// own state, as a model file does).
///
/// ```
/// use backprop::data::{InputColumn, TableEncoding, Treatment};
/// use backprop::model_io::{columns_from_json, columns_to_json};
/// let enc = TableEncoding {
///     columns: vec![InputColumn {
///         name: "mass".into(),
///         treatment: Treatment::Number { median: 3.5, indicator: true },
///     }],
/// };
/// assert_eq!(columns_from_json(&columns_to_json(&enc), "enc")?, enc);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn columns_to_json(enc: &TableEncoding) -> String {
    encode(enc)
}

/// The encoding in `text` (a `columns` key's value), checked as a model
/// file's is; `source_name` names it in errors.
///
/// # Errors
/// [`crate::Error::Data`] saying what is wrong.
pub fn columns_from_json(text: &str, source_name: &str) -> crate::error::Result<TableEncoding> {
    decode(text).map_err(|why| data_err(source_name, format!("'columns': {why}")))
}

/// The JSON text of `enc`.
pub(super) fn encode(enc: &TableEncoding) -> String {
    let columns: Vec<Value> = enc
        .columns
        .iter()
        .map(|c| {
            let mut o = match &c.treatment {
                Treatment::Number { median, indicator } => json!({
                    "kind": "number",
                    "median": fmt_f32(*median),
                    "missing": indicator,
                }),
                Treatment::Boolean {
                    true_text,
                    false_text,
                    fill,
                    indicator,
                } => json!({
                    "kind": "boolean",
                    "true": true_text,
                    "false": false_text,
                    "median": fmt_f32(*fill),
                    "missing": indicator,
                }),
                Treatment::Category {
                    levels,
                    missing,
                    other,
                    by_value,
                } => {
                    let mut o = json!({
                        "kind": "category",
                        "levels": levels,
                        "missing": missing,
                        "other": other,
                    });
                    if *by_value {
                        o["by_value"] = true.into();
                    }
                    o
                }
                Treatment::Date {
                    median,
                    cycles,
                    indicator,
                } => json!({
                    "kind": "date",
                    "median_days": median.to_string(),
                    "year": cycles.year,
                    "week": cycles.week,
                    "day": cycles.day,
                    "missing": indicator,
                }),
                Treatment::Ignored(r) => json!({"kind": "ignored", "reason": r.name()}),
            };
            o.as_object_mut()
                .expect("an object")
                .insert("name".into(), Value::String(c.name.clone()));
            o
        })
        .collect();
    Value::Array(columns).to_string()
}

/// The encoding in `text`; `Err(why)` if it is not one.
pub(super) fn decode(text: &str) -> Result<TableEncoding, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let items = v.as_array().ok_or("not a JSON array")?;
    let mut columns = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let o = item
            .as_object()
            .ok_or_else(|| format!("column {}: not an object", i + 1))?;
        let column = decode_column(o).map_err(|e| format!("column {}: {e}", i + 1))?;
        columns.push(column);
    }
    Ok(TableEncoding { columns })
}

/// The days since 1970-01-01 of 0000-01-01 and of 10000-01-01, a day
/// wider each way (a time zone moves a date by up to a day): the range of
/// the times a date column can hold.
const DATE_MIN: f64 = -719_529.0;
const DATE_MAX: f64 = 2_932_898.0;

/// One column's object.
fn decode_column(o: &Map<String, Value>) -> Result<InputColumn, String> {
    let string = |k: &str| -> Result<String, String> {
        o.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("'{k}' must be a string"))
    };
    let flag = |k: &str| -> Result<bool, String> {
        o.get(k)
            .and_then(Value::as_bool)
            .ok_or_else(|| format!("'{k}' must be true or false"))
    };
    let number = |k: &str| -> Result<f32, String> {
        let t = string(k)?;
        parse_f32(&t)
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("'{k}' {} is not a finite number", quote(&t)))
    };
    let name = string("name")?;
    let treatment = match string("kind")?.as_str() {
        "number" => Treatment::Number {
            median: number("median")?,
            indicator: flag("missing")?,
        },
        "boolean" => {
            let (t, f) = (string("true")?, string("false")?);
            let pair = boolean_pair(&[&t, &f]);
            if !pair
                .is_some_and(|(pt, pf)| t.eq_ignore_ascii_case(pt) && f.eq_ignore_ascii_case(pf))
            {
                return Err(format!(
                    "{} and {} are not a boolean pair",
                    quote(&t),
                    quote(&f)
                ));
            }
            Treatment::Boolean {
                true_text: t,
                false_text: f,
                fill: number("median")?,
                indicator: flag("missing")?,
            }
        }
        "category" => {
            let levels = o
                .get("levels")
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .map(|l| l.as_str().map(str::to_string))
                        .collect::<Option<Vec<String>>>()
                })
                .ok_or("'levels' must be an array of strings")?;
            if levels.windows(2).any(|w| w[0] >= w[1]) {
                return Err("'levels' must be sorted, each once".to_string());
            }
            Treatment::Category {
                levels,
                missing: flag("missing")?,
                other: flag("other")?,
                by_value: match o.get("by_value") {
                    None => false,
                    Some(_) => flag("by_value")?,
                },
            }
        }
        "date" => {
            let t = string("median_days")?;
            let median = t
                .parse::<f64>()
                .ok()
                .filter(|v| (DATE_MIN..=DATE_MAX).contains(v))
                .ok_or_else(|| {
                    format!(
                        "'median_days' {} is not a day of the years 0 to 9999",
                        quote(&t)
                    )
                })?;
            Treatment::Date {
                median,
                cycles: Cycles {
                    year: flag("year")?,
                    week: flag("week")?,
                    day: flag("day")?,
                },
                indicator: flag("missing")?,
            }
        }
        "ignored" => {
            let reason = string("reason")?;
            let r = [
                IgnoreReason::PandasIndex,
                IgnoreReason::Identifier,
                IgnoreReason::Empty,
            ]
            .into_iter()
            .find(|r| r.name() == reason)
            .ok_or_else(|| format!("unknown reason {}", quote(&reason)))?;
            Treatment::Ignored(r)
        }
        k => return Err(format!("unknown kind {}", quote(k))),
    };
    Ok(InputColumn { name, treatment })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let enc = TableEncoding {
            columns: vec![
                InputColumn {
                    name: String::new(),
                    treatment: Treatment::Ignored(IgnoreReason::PandasIndex),
                },
                InputColumn {
                    name: "mass \"g\"".into(),
                    treatment: Treatment::Number {
                        median: 0.1 + 0.2,
                        indicator: true,
                    },
                },
                InputColumn {
                    name: "smoker".into(),
                    treatment: Treatment::Boolean {
                        true_text: "Yes".into(),
                        false_text: "no".into(),
                        fill: 0.5,
                        indicator: false,
                    },
                },
                InputColumn {
                    name: "island".into(),
                    treatment: Treatment::Category {
                        levels: vec!["Biscoe".into(), "Dream".into()],
                        missing: true,
                        other: false,
                        by_value: true,
                    },
                },
                InputColumn {
                    name: "when".into(),
                    treatment: Treatment::Date {
                        median: 15_340.1 + 0.2,
                        cycles: Cycles {
                            year: true,
                            week: false,
                            day: true,
                        },
                        indicator: false,
                    },
                },
            ],
        };
        assert_eq!(decode(&encode(&enc)).unwrap(), enc);
        for (bad, why) in [
            ("{}", "not a JSON array"),
            ("[1]", "column 1: not an object"),
            (
                r#"[{"name":"a","kind":"number","median":"x","missing":false}]"#,
                "'median'",
            ),
            (r#"[{"name":"a","kind":"colour"}]"#, "unknown kind"),
            (
                r#"[{"name":"a","kind":"date","median_days":"1e9","year":true,"week":true,"day":false,"missing":false}]"#,
                "years 0 to 9999",
            ),
            (
                r#"[{"name":"a","kind":"category","levels":["b","a"],"missing":false,"other":false}]"#,
                "sorted",
            ),
            (
                r#"[{"name":"a","kind":"boolean","true":"yes","false":"yes","median":"0","missing":false}]"#,
                "boolean pair",
            ),
        ] {
            let e = decode(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
