//! [`ClassMap`]: class label text ↔ class index, fitted on the training labels
//! and stored with a model so that predictions can be named.

use std::collections::{BTreeSet, HashMap};

use super::array::data_error;
use super::csv::MAX_CLASSES;
use crate::error::Result;

/// How many known classes an "unknown label" message lists.
const LIST_MAX: usize = 10;

/// The classes of a classification target: class `i` is named `names()[i]`.
///
/// Integer labels (every label a non-empty run of ASCII digits) give the classes
/// `0..=max` in numeric order, named `"0"`, `"1"`, …, so a label is its own class
/// index, even for a class that no row has. Any other labels give their sorted
/// distinct strings (byte order).
///
/// ```
/// use backprop::data::ClassMap;
/// let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
/// let ints = ClassMap::fit(&s(&["2", "0", "2"])).unwrap();
/// assert_eq!(ints.names(), ["0", "1", "2"]);
/// assert_eq!(ints.encode(&s(&["2", "01"]), "y.csv").unwrap(), [2, 1]);
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
    /// classes, an integer label of [`MAX_CLASSES`] or more (naming it and its
    /// 1-based row), or more than [`MAX_CLASSES`] distinct labels.
    pub fn fit_named(labels: &[String], source_name: &str) -> Result<ClassMap> {
        let err = |message: String| data_error(source_name, message);
        if labels.is_empty() {
            return Err(err("no labels to fit classes on".to_string()));
        }
        let names: Vec<String> = if labels.iter().all(|l| is_digits(l)) {
            let mut max = 0usize;
            for (r, label) in labels.iter().enumerate() {
                let value = canonical_digits(label)
                    .parse::<usize>()
                    .ok()
                    .filter(|&v| v < MAX_CLASSES)
                    .ok_or_else(|| {
                        err(format!(
                            "row {}: label {} is too large for a class index; at most \
                             {MAX_CLASSES} classes (0..{}) are supported (for a numeric \
                             target, use a regression head)",
                            r + 1,
                            super::show(label),
                            MAX_CLASSES - 1
                        ))
                    })?;
                max = max.max(value);
            }
            (0..=max).map(|c| c.to_string()).collect()
        } else {
            let distinct: BTreeSet<&str> = labels.iter().map(String::as_str).collect();
            if distinct.len() > MAX_CLASSES {
                return Err(err(format!(
                    "{} distinct labels; at most {MAX_CLASSES} classes are supported (for a \
                     numeric target, use a regression head)",
                    distinct.len()
                )));
            }
            distinct.into_iter().map(str::to_string).collect()
        };
        if names.len() < 2 {
            return Err(err(format!(
                "need at least 2 classes, found 1 ({})",
                super::show(&names[0])
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
        let map = Self::build(names);
        if map.index.len() != map.names.len() {
            let mut seen = BTreeSet::new();
            let dup = map.names.iter().find(|n| !seen.insert(n.as_str()));
            return Err(err(format!(
                "class name {} appears twice",
                super::show(dup.map_or("", String::as_str))
            )));
        }
        Ok(map)
    }

    fn build(names: Vec<String>) -> ClassMap {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        ClassMap { names, index }
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

    /// The class index of `label`: its exact name, or for a label of ASCII
    /// digits, the name without leading zeros (`"007"` is class `"7"`).
    pub fn index_of(&self, label: &str) -> Option<usize> {
        self.index.get(label).copied().or_else(|| {
            is_digits(label)
                .then(|| self.index.get(canonical_digits(label)).copied())
                .flatten()
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
        let listed: Vec<String> = self
            .names
            .iter()
            .take(LIST_MAX)
            .map(|n| super::show(n))
            .collect();
        let more = if self.names.len() > LIST_MAX {
            format!(", … ({} in all)", self.names.len())
        } else {
            String::new()
        };
        format!(
            "unknown class label {}; the known classes are {}{more}",
            super::show(label),
            listed.join(", ")
        )
    }
}

/// A non-empty run of ASCII digits.
fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Digits without leading zeros (`"0"` stays).
fn canonical_digits(s: &str) -> &str {
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        &s[s.len().saturating_sub(1)..]
    } else {
        t
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
    fn integer_classes() {
        let m = ClassMap::fit(&s(&["1", "003", "1"])).unwrap();
        assert_eq!(m.names(), ["0", "1", "2", "3"]);
        assert_eq!(m.len(), 4);
        assert_eq!(m.encode(&s(&["0", "3", "00"]), "f").unwrap(), [0, 3, 0]);
        assert_eq!(m.index_of("4"), None);
        assert_eq!(m.index_of("1.0"), None);
        let m = ClassMap::fit(&s(&["65535", "0"])).unwrap();
        assert_eq!(m.len(), 65536);
    }

    #[test]
    fn string_classes_sort_bytewise() {
        let m = ClassMap::fit(&s(&["b", "10", "a", "2", "B"])).unwrap();
        assert_eq!(m.names(), ["10", "2", "B", "a", "b"]);
        let m = ClassMap::fit(&s(&["1.5", "0"])).unwrap();
        assert_eq!(m.names(), ["0", "1.5"]);
    }

    #[test]
    fn fit_errors() {
        assert_eq!(fit_err(&[]), "y.csv: no labels to fit classes on");
        assert_eq!(
            fit_err(&["0", "0"]),
            "y.csv: need at least 2 classes, found 1 ('0')"
        );
        assert_eq!(
            fit_err(&["yes"]),
            "y.csv: need at least 2 classes, found 1 ('yes')"
        );
        assert_eq!(
            fit_err(&["1", "65536"]),
            "y.csv: row 2: label '65536' is too large for a class index; at most 65536 classes \
             (0..65535) are supported (for a numeric target, use a regression head)"
        );
        assert!(fit_err(&["1", "99999999999999999999999999"]).contains("row 2: label"));
        let many: Vec<String> = (0..=MAX_CLASSES).map(|i| format!("c{i}")).collect();
        assert_eq!(
            ClassMap::fit_named(&many, "y.csv").unwrap_err().to_string(),
            "y.csv: 65537 distinct labels; at most 65536 classes are supported (for a numeric \
             target, use a regression head)"
        );
        assert_eq!(
            ClassMap::fit(&s(&["a"])).unwrap_err().to_string(),
            "labels: need at least 2 classes, found 1 ('a')"
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
