//! [`ClassMap`]: class label text ↔ class index, fitted on the training labels
//! and stored with a model so that predictions can be named; what counts as a
//! missing label ([`is_missing`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::message::{data_error, show};
use crate::error::{mention, Result};

/// At most this many classes; it bounds the one-hot width a file can ask for.
pub const MAX_CLASSES: usize = 1 << 16;

/// How many known classes an "unknown label" message lists.
const LIST_MAX: usize = 10;

/// More distinct numeric labels than this, some written with a fraction or
/// an exponent, are taken for a continuous target rather than classes.
pub const CONTINUOUS_MIN_DISTINCT: usize = 20;

/// The texts that mark a missing value (compared case-insensitively, after
/// trimming): empty, `NA`, `N/A`, `NaN`, `?`, `null`, `None`.
pub(super) const MISSING: [&str; 7] = ["", "na", "n/a", "nan", "?", "null", "none"];

/// Whether `label` marks a missing value: after trimming, empty, `NA`,
/// `N/A`, `NaN`, `?`, `null` or `None`, in any case.
///
/// ```
/// use backprop::data::is_missing;
/// assert!(is_missing("NA") && is_missing(" ") && is_missing("NaN") && is_missing("?"));
/// assert!(!is_missing("0") && !is_missing("nano"));
/// ```
pub fn is_missing(label: &str) -> bool {
    let t = label.trim();
    MISSING.iter().any(|m| t.eq_ignore_ascii_case(m))
}

/// The classes of a classification target: class `i` is named `names()[i]`.
///
/// The classes are the sorted distinct label values:
/// - when every label is a finite number, values equal as numbers are one
///   class (`1`, `1.0`, `01`, `+1`), sorted numerically, and named by their
///   shortest form (`1`, `2.5`);
/// - otherwise the distinct texts, sorted bytewise.
///
/// ```
/// use backprop::data::ClassMap;
/// let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
/// let m = ClassMap::fit(&s(&["10", "2", "1.0", "01", "9", "0"])).unwrap();
/// assert_eq!(m.names(), ["0", "1", "2", "9", "10"]);
/// assert_eq!(m.encode(&s(&["2", "01", "10.0"]), "y.csv").unwrap(), [2, 1, 4]);
///
/// let words = ClassMap::fit(&s(&["setosa", "virginica", "setosa"])).unwrap();
/// assert_eq!(words.names(), ["setosa", "virginica"]);
/// let err = words.encode(&s(&["setosa", "rose"]), "test.csv").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "test.csv: row 2: unknown class label 'rose'; the known classes are 'setosa', 'virginica'"
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ClassMap {
    names: Vec<String>,
    index: HashMap<String, usize>,
    /// Class of each numeric value (by the bits of the `f64`, `-0` as `0`),
    /// when every class name is a number.
    numeric: Option<HashMap<u64, usize>>,
}

/// `label` as a finite number, `-0` read as `0`; `None` for anything else.
fn number(label: &str) -> Option<f64> {
    let t = label.trim();
    let v: f64 = t.parse().ok()?;
    // "inf" and "NaN" parse, but are not class values.
    v.is_finite().then_some(if v == 0.0 { 0.0 } else { v })
}

/// The name of a numeric class: integers without a fraction, else the
/// shortest text that reads back as the value.
fn number_name(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Whether `label` is written as a plain integer (optional sign, digits).
fn integer_text(label: &str) -> bool {
    let t = label.trim();
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

impl ClassMap {
    /// Fits the classes of `labels` (see the type's docs); errors name the
    /// source `labels`. Use [`ClassMap::fit_named`] to name the file.
    pub fn fit(labels: &[String]) -> Result<ClassMap> {
        Self::fit_named(labels, "labels")
    }

    /// Fits the classes of `labels`; `source_name` (the file they came from)
    /// prefixes error messages.
    ///
    /// Fails with [`crate::Error::Data`] if there are no labels, fewer than 2
    /// classes, more than [`MAX_CLASSES`], or more than
    /// [`CONTINUOUS_MIN_DISTINCT`] distinct numbers some of which are not
    /// written as integers (a continuous target: the message suggests a
    /// regression head).
    pub fn fit_named(labels: &[String], source_name: &str) -> Result<ClassMap> {
        let err = |message: String| data_error(source_name, message);
        if labels.is_empty() {
            return Err(err("no labels to fit classes on".to_string()));
        }
        let values: Option<Vec<f64>> = labels.iter().map(|l| number(l)).collect();
        let names: Vec<String> = match values {
            Some(values) => {
                let mut distinct: BTreeMap<u64, f64> = BTreeMap::new();
                for &v in &values {
                    // order-preserving key for finite f64
                    let bits = v.to_bits();
                    let key = if v < 0.0 { !bits } else { bits | (1 << 63) };
                    distinct.insert(key, v);
                }
                if distinct.len() > CONTINUOUS_MIN_DISTINCT {
                    if let Some(l) = labels.iter().find(|l| !integer_text(l)) {
                        return Err(err(format!(
                            "the label column holds {} distinct numbers such as {}: that looks \
                             like a continuous target, not classes; for regression use {}",
                            distinct.len(),
                            show(l.trim()),
                            mention("head", Some("mse"))
                        )));
                    }
                }
                if distinct.len() > MAX_CLASSES {
                    return Err(err(format!(
                        "{} distinct labels; at most {MAX_CLASSES} classes are supported (for a \
                         numeric target, use {})",
                        distinct.len(),
                        mention("head", Some("mse"))
                    )));
                }
                distinct.values().map(|&v| number_name(v)).collect()
            }
            None => {
                let distinct: BTreeSet<&str> = labels.iter().map(|l| l.trim()).collect();
                if distinct.len() > MAX_CLASSES {
                    return Err(err(format!(
                        "{} distinct labels; at most {MAX_CLASSES} classes are supported",
                        distinct.len()
                    )));
                }
                distinct.into_iter().map(str::to_string).collect()
            }
        };
        if names.len() < 2 {
            return Err(err(format!(
                "need at least 2 classes, found 1 ({})",
                show(&names[0])
            )));
        }
        Ok(Self::build(names))
    }

    /// Rebuilds a map from its class names (e.g. stored in a model file), class
    /// `i` named `names[i]`.
    ///
    /// Fails with [`crate::Error::Data`] (source `class names`) for fewer than
    /// 2 or more than [`MAX_CLASSES`] names, or a name given twice.
    ///
    /// ```
    /// use backprop::data::ClassMap;
    /// let m = ClassMap::from_names(vec!["no".into(), "yes".into()]).unwrap();
    /// assert_eq!(m.index_of("yes"), Some(1));
    /// assert!(ClassMap::from_names(vec!["a".into(), "a".into()]).is_err());
    /// ```
    pub fn from_names(names: Vec<String>) -> Result<ClassMap> {
        let err = |message: String| data_error("class names", message);
        if names.len() < 2 || names.len() > MAX_CLASSES {
            return Err(err(format!(
                "{} classes; 2 to {MAX_CLASSES} are supported",
                names.len()
            )));
        }
        let mut seen = BTreeSet::new();
        if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(err(format!("class name {} appears twice", show(dup))));
        }
        Ok(Self::build(names))
    }

    fn build(names: Vec<String>) -> ClassMap {
        let index: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let numeric: Option<HashMap<u64, usize>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| number(n).map(|v| (v.to_bits(), i)))
            .collect();
        // Two names equal as numbers ("1", "1.0") cannot be told apart by value.
        let numeric = numeric.filter(|m| m.len() == names.len());
        ClassMap {
            names,
            index,
            numeric,
        }
    }

    /// The class names, class `i` first at index `i`.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The number of classes (at least 2).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always `false`: a map has at least 2 classes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The class index of `label`: its name (surrounding spaces ignored), or
    /// for numeric classes any text of the same number (`"007"`, `"7.0"`).
    pub fn index_of(&self, label: &str) -> Option<usize> {
        let t = label.trim();
        self.index.get(t).copied().or_else(|| {
            let m = self.numeric.as_ref()?;
            m.get(&number(t)?.to_bits()).copied()
        })
    }

    /// The class index of each label.
    ///
    /// Fails with [`crate::Error::Data`] at the first unknown label, naming it,
    /// its 1-based row and up to 10 known classes.
    pub fn encode(&self, labels: &[String], source_name: &str) -> Result<Vec<usize>> {
        labels
            .iter()
            .enumerate()
            .map(|(r, l)| {
                self.index_of(l).ok_or_else(|| {
                    data_error(source_name, format!("row {}: {}", r + 1, self.unknown(l)))
                })
            })
            .collect()
    }

    /// "unknown class label 'x'; the known classes are …".
    pub(crate) fn unknown(&self, label: &str) -> String {
        let listed: Vec<String> = self.names.iter().take(LIST_MAX).map(|n| show(n)).collect();
        let more = if self.names.len() > LIST_MAX {
            format!(", … ({} in all)", self.names.len())
        } else {
            String::new()
        };
        format!(
            "unknown class label {}; the known classes are {}{more}",
            show(label),
            listed.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn fit_err(v: &[&str]) -> String {
        ClassMap::fit_named(&s(v), "y.csv").unwrap_err().to_string()
    }

    #[test]
    fn numeric_classes_are_the_distinct_values() {
        // 1/2 gives two classes, not three with an empty class 0
        let m = ClassMap::fit(&s(&["1", "2", "2"])).unwrap();
        assert_eq!(m.names(), ["1", "2"]);
        let m = ClassMap::fit(&s(&["0", "1", "2", "9", "10"])).unwrap();
        assert_eq!(m.names(), ["0", "1", "2", "9", "10"]);
        // equal numbers are one class
        let m = ClassMap::fit(&s(&["1", "1.0", "01", "+1", "2", " 2 "])).unwrap();
        assert_eq!(m.names(), ["1", "2"]);
        assert_eq!(m.index_of("1.00"), Some(0));
        assert_eq!(m.index_of("3"), None);
        let m = ClassMap::fit(&s(&["-1", "0.5", "-0", "0"])).unwrap();
        assert_eq!(m.names(), ["-1", "0", "0.5"]);
        assert_eq!(m.index_of("-0.0"), Some(1));
        let m = ClassMap::fit(&s(&["65535", "0"])).unwrap();
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn string_classes_sort_bytewise() {
        let m = ClassMap::fit(&s(&["b", "10", "a", "2", "B"])).unwrap();
        assert_eq!(m.names(), ["10", "2", "B", "a", "b"]);
        assert_eq!(m.index_of(" a"), Some(3));
    }

    #[test]
    fn continuous_targets_are_refused() {
        let many: Vec<String> = (0..30).map(|i| format!("{}.0", 100 + i)).collect();
        let err = ClassMap::fit_named(&many, "y.csv").unwrap_err().to_string();
        assert_eq!(
            err,
            "y.csv: the label column holds 30 distinct numbers such as '100.0': that looks like \
             a continuous target, not classes; for regression use head=mse"
        );
        // integers, or few distinct values, are classes
        let ints: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        assert_eq!(ClassMap::fit(&ints).unwrap().len(), 30);
        let few: Vec<String> = (0..10).map(|i| format!("{i}.5")).collect();
        assert_eq!(ClassMap::fit(&few).unwrap().len(), 10);
    }

    #[test]
    fn missing_markers() {
        for m in [
            "", " ", "NA", "n/a", "NaN", "nan", "?", "null", "NULL", "None",
        ] {
            assert!(is_missing(m), "{m:?}");
        }
        for m in ["0", "a", "NAN1", "nil?"] {
            assert!(!is_missing(m), "{m:?}");
        }
    }

    #[test]
    fn fit_errors() {
        assert_eq!(fit_err(&[]), "y.csv: no labels to fit classes on");
        assert_eq!(
            fit_err(&["0", "0.0"]),
            "y.csv: need at least 2 classes, found 1 ('0')"
        );
        assert_eq!(
            fit_err(&["yes"]),
            "y.csv: need at least 2 classes, found 1 ('yes')"
        );
        let many: Vec<String> = (0..=MAX_CLASSES).map(|i| format!("c{i}")).collect();
        assert_eq!(
            ClassMap::fit_named(&many, "y.csv").unwrap_err().to_string(),
            "y.csv: 65537 distinct labels; at most 65536 classes are supported"
        );
    }

    #[test]
    fn unknown_lists_at_most_ten() {
        let names: Vec<String> = (0..12).map(|i| format!("c{i:02}")).collect();
        let m = ClassMap::fit(&names).unwrap();
        assert_eq!(
            m.encode(&s(&["c00", "zz"]), "t.csv")
                .unwrap_err()
                .to_string(),
            "t.csv: row 2: unknown class label 'zz'; the known classes are 'c00', 'c01', \
             'c02', 'c03', 'c04', 'c05', 'c06', 'c07', 'c08', 'c09', … (12 in all)"
        );
    }

    #[test]
    fn from_names_checks() {
        let m = ClassMap::from_names(s(&["0", "1", "2"])).unwrap();
        assert_eq!(m.index_of("02"), Some(2));
        assert_eq!(m.index_of("2.0"), Some(2));
        let m = ClassMap::from_names(s(&["cat", "1"])).unwrap();
        assert_eq!(m.index_of("1.0"), None); // not all names are numbers
        assert_eq!(
            ClassMap::from_names(s(&["x"])).unwrap_err().to_string(),
            "class names: 1 classes; 2 to 65536 are supported"
        );
        assert_eq!(
            ClassMap::from_names(s(&["x", "y", "x"]))
                .unwrap_err()
                .to_string(),
            "class names: class name 'x' appears twice"
        );
    }
}
