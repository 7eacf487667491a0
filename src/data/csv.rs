//! A strict parser for the project's labelled CSV format.
//!
//! The format (see `data/README.md`): a header row naming the columns, then one
//! sample per line; fields separated by `,`, no quoting; every column but the
//! last is a number, the last is the integer class label `0..K-1`. Lines end in
//! `\n` or `\r\n`, and the last line ending is optional.
//!
//! Anything else is an [`Error::Parse`] with the 1-based line and the column's
//! header name; the parser never panics, whatever the input.

use crate::error::{Error, Result};
use crate::tensor::Matrix;

/// Labels must be below this; it bounds the one-hot width a file can ask for.
pub const MAX_CLASSES: usize = 1 << 16;

/// Longest piece of a bad field quoted in an error message, in characters.
const SHOW_MAX: usize = 40;

/// A parsed labelled CSV file.
#[derive(Clone, Debug, PartialEq)]
pub struct LabeledCsv {
    /// The header names of the feature columns (the label column excluded).
    pub feature_names: Vec<String>,
    /// The features, `rows × feature_names.len()`, each value the `f32`
    /// rounding of the text parsed as `f64`.
    pub x: Matrix,
    /// The class label of each row.
    pub labels: Vec<usize>,
}

/// Parses `text`; `source_name` (a file name) prefixes error messages.
///
/// ```
/// use backprop::data::csv::parse_labeled_csv;
/// let csv = parse_labeled_csv("age,weight,label\n31,70.5,1\n45,80,0\n", "people.csv").unwrap();
/// assert_eq!(csv.feature_names, ["age", "weight"]);
/// assert_eq!(csv.x.row(0), &[31.0, 70.5]);
/// assert_eq!(csv.labels, [1, 0]);
///
/// let err = parse_labeled_csv("age,label\n31,1\nabc,0\n", "people.csv").unwrap_err();
/// assert_eq!(err.to_string(), "people.csv:3: column 'age': 'abc' is not a number");
/// ```
pub fn parse_labeled_csv(text: &str, source_name: &str) -> Result<LabeledCsv> {
    let err = |line: usize, message: String| Error::Parse {
        source_name: source_name.to_string(),
        line,
        message,
    };
    let mut lines = text.lines();
    let header = lines
        .next()
        .ok_or_else(|| err(1, "empty input: expected a header row".to_string()))?;
    let names: Vec<&str> = header.split(',').collect();
    if names.len() < 2 {
        return Err(err(
            1,
            format!(
                "header has {} column; need at least one feature column and a label column",
                names.len()
            ),
        ));
    }
    if let Some(c) = names.iter().position(|n| n.is_empty()) {
        return Err(err(
            1,
            format!("header: column {} has an empty name", c + 1),
        ));
    }
    if names.iter().all(|n| n.parse::<f64>().is_ok()) {
        return Err(err(
            1,
            "header holds only numbers; the first line must name the columns".to_string(),
        ));
    }
    let (feature_names, label_name) = names.split_at(names.len() - 1);
    let label_name = label_name[0];

    let mut x = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        if line.is_empty() {
            return Err(err(line_no, "empty line".to_string()));
        }
        let found = line.split(',').count();
        if found != names.len() {
            return Err(err(
                line_no,
                format!("expected {} fields, found {found}", names.len()),
            ));
        }
        let mut fields = line.split(',');
        for (name, field) in feature_names.iter().zip(fields.by_ref()) {
            let v =
                parse_feature(field).map_err(|m| err(line_no, format!("column '{name}': {m}")))?;
            x.push(v);
        }
        let label = fields.next().unwrap_or_default();
        let label =
            parse_label(label).map_err(|m| err(line_no, format!("column '{label_name}': {m}")))?;
        labels.push(label);
    }
    if labels.is_empty() {
        return Err(Error::Data {
            source_name: source_name.to_string(),
            message: "no data rows after the header".to_string(),
        });
    }
    Ok(LabeledCsv {
        feature_names: feature_names.iter().map(|n| n.to_string()).collect(),
        x: Matrix::from_vec(labels.len(), feature_names.len(), x)?,
        labels,
    })
}

/// The number of classes the labels imply: the largest label + 1 (0 for none).
///
/// A test split may lack the largest class: take the count from the training split.
///
/// ```
/// assert_eq!(backprop::data::csv::n_classes(&[0, 3, 1]), 4);
/// assert_eq!(backprop::data::csv::n_classes(&[]), 0);
/// ```
pub fn n_classes(labels: &[usize]) -> usize {
    labels.iter().max().map_or(0, |&m| m.saturating_add(1))
}

/// A field as quoted in an error message: at most [`SHOW_MAX`] characters.
fn show(field: &str) -> String {
    match field.char_indices().nth(SHOW_MAX) {
        Some((end, _)) => format!("'{}…'", &field[..end]),
        None => format!("'{field}'"),
    }
}

/// A finite feature value, or why the field is not one.
fn parse_feature(field: &str) -> Result<f32, String> {
    if field.is_empty() {
        return Err("empty field".to_string());
    }
    let v: f64 = field
        .parse()
        .map_err(|_| format!("{} is not a number", show(field)))?;
    if !v.is_finite() {
        return Err(format!("{} is not finite", show(field)));
    }
    let f = v as f32;
    if !f.is_finite() {
        return Err(format!("{} is out of the f32 range", show(field)));
    }
    Ok(f)
}

/// A class label `0..MAX_CLASSES`, or why the field is not one.
fn parse_label(field: &str) -> Result<usize, String> {
    const RANGE: &str = "labels are integer classes 0..K-1";
    if field.is_empty() {
        return Err("empty field".to_string());
    }
    match field.parse::<usize>() {
        Ok(l) if l < MAX_CLASSES => Ok(l),
        Ok(_) => Err(format!(
            "{} is too large; at most {MAX_CLASSES} classes are supported",
            show(field)
        )),
        Err(_) if field.parse::<f64>().is_err() => Err(format!("{} is not a number", show(field))),
        Err(_) if field.starts_with('-') => Err(format!("{} is negative; {RANGE}", show(field))),
        Err(_) if field.bytes().all(|b| b.is_ascii_digit()) => Err(format!(
            "{} is too large; at most {MAX_CLASSES} classes are supported",
            show(field)
        )),
        Err(_) => Err(format!("{} is not an integer; {RANGE}", show(field))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error message for `text`, without the `f.csv:` prefix, with its line.
    fn error(text: &str) -> String {
        parse_labeled_csv(text, "f.csv").unwrap_err().to_string()
    }

    #[test]
    fn good_file() {
        let csv = parse_labeled_csv("a,b,label\n1,-2.5e-3,0\n0.1,4,2", "f.csv").unwrap();
        assert_eq!(csv.feature_names, ["a", "b"]);
        assert_eq!((csv.x.rows(), csv.x.cols()), (2, 2));
        assert_eq!(csv.x.as_slice(), &[1.0, -2.5e-3, 0.1, 4.0]);
        assert_eq!(csv.labels, [0, 2]);
        assert_eq!(n_classes(&csv.labels), 3);
    }

    #[test]
    fn values_are_the_f32_rounding_of_the_f64() {
        let v = "0.1234567890123456789";
        let csv = parse_labeled_csv(&format!("a,label\n{v},0\n"), "f.csv").unwrap();
        assert_eq!(csv.x.get(0, 0), v.parse::<f64>().unwrap() as f32);
    }

    #[test]
    fn crlf_and_trailing_newline() {
        let lf = parse_labeled_csv("a,label\n1,0\n2,1\n", "f.csv").unwrap();
        let crlf = parse_labeled_csv("a,label\r\n1,0\r\n2,1\r\n", "f.csv").unwrap();
        let bare = parse_labeled_csv("a,label\n1,0\n2,1", "f.csv").unwrap();
        assert_eq!(lf, crlf);
        assert_eq!(lf, bare);
    }

    #[test]
    fn empty_input_and_header_problems() {
        assert_eq!(error(""), "f.csv:1: empty input: expected a header row");
        assert_eq!(
            error("label\n1\n"),
            "f.csv:1: header has 1 column; need at least one feature column and a label column"
        );
        assert_eq!(
            error("a,,label\n"),
            "f.csv:1: header: column 2 has an empty name"
        );
        assert_eq!(
            error("1,2,0\n3,4,1\n"),
            "f.csv:1: header holds only numbers; the first line must name the columns"
        );
    }

    #[test]
    fn header_only() {
        assert_eq!(error("a,label\n"), "f.csv: no data rows after the header");
        assert_eq!(error("a,label"), "f.csv: no data rows after the header");
    }

    #[test]
    fn ragged_rows_and_blank_lines() {
        assert_eq!(
            error("a,b,label\n1,2,0\n1,0\n"),
            "f.csv:3: expected 3 fields, found 2"
        );
        assert_eq!(
            error("a,label\n1,0,5\n"),
            "f.csv:2: expected 2 fields, found 3"
        );
        assert_eq!(error("a,label\n1,0\n\n2,1\n"), "f.csv:3: empty line");
        assert_eq!(error("a,label\n1,0\n\n"), "f.csv:3: empty line");
    }

    #[test]
    fn bad_features() {
        assert_eq!(
            error("age,label\n1,0\nabc,1\n"),
            "f.csv:3: column 'age': 'abc' is not a number"
        );
        assert_eq!(
            error("a,b,label\n1,,0\n"),
            "f.csv:2: column 'b': empty field"
        );
        assert_eq!(
            error("a,label\nNaN,0\n"),
            "f.csv:2: column 'a': 'NaN' is not finite"
        );
        assert_eq!(
            error("a,label\n-inf,0\n"),
            "f.csv:2: column 'a': '-inf' is not finite"
        );
        assert_eq!(
            error("a,label\n1e39,0\n"),
            "f.csv:2: column 'a': '1e39' is out of the f32 range"
        );
        assert_eq!(
            error("a,label\n 1,0\n"),
            "f.csv:2: column 'a': ' 1' is not a number"
        );
        let long = format!("a,label\n{},0\n", "x".repeat(100));
        assert_eq!(
            error(&long),
            format!("f.csv:2: column 'a': '{}…' is not a number", "x".repeat(40))
        );
    }

    #[test]
    fn bad_labels() {
        assert_eq!(
            error("a,label\n1,-1\n"),
            "f.csv:2: column 'label': '-1' is negative; labels are integer classes 0..K-1"
        );
        assert_eq!(
            error("a,label\n1,1.5\n"),
            "f.csv:2: column 'label': '1.5' is not an integer; labels are integer classes 0..K-1"
        );
        assert_eq!(
            error("a,label\n1,1.0\n"),
            "f.csv:2: column 'label': '1.0' is not an integer; labels are integer classes 0..K-1"
        );
        assert_eq!(
            error("a,y\n1,cat\n"),
            "f.csv:2: column 'y': 'cat' is not a number"
        );
        assert_eq!(error("a,y\n1,\n"), "f.csv:2: column 'y': empty field");
        assert_eq!(
            error("a,y\n1,65536\n"),
            "f.csv:2: column 'y': '65536' is too large; at most 65536 classes are supported"
        );
        assert_eq!(
            error("a,y\n1,99999999999999999999999\n"),
            "f.csv:2: column 'y': '99999999999999999999999' is too large; at most 65536 classes are supported"
        );
        assert_eq!(
            parse_labeled_csv("a,y\n1,65535\n", "f.csv").unwrap().labels,
            [65535]
        );
    }

    #[test]
    fn odd_bytes_do_not_panic() {
        for text in [
            "\u{feff}",
            "\r\n",
            ",",
            "a,label\n\u{e9}\u{e9},0\n",
            "a,b\n,\n",
            "\n\n\n",
        ] {
            let _ = parse_labeled_csv(text, "f.csv");
        }
        let multibyte = format!("a,label\n{},0\n", "é".repeat(50));
        assert!(error(&multibyte).contains(&format!("'{}…'", "é".repeat(40))));
    }
}
