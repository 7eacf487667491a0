//! Class weights: `balanced` (scikit-learn's `n_samples / (n_classes ·
//! count)`) or given per class name, turned into one weight per row.

use std::fmt;
use std::str::FromStr;

use super::classes::ClassMap;
use crate::error::{Error, Result};

/// How much each class counts in the loss.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassWeight {
    /// `n_samples / (n_classes · count_c)`: every class weighs as much in
    /// total, as scikit-learn's `class_weight="balanced"`.
    Balanced,
    /// A weight per named class; classes not named weigh 1.
    Given(Vec<(String, f32)>),
}

impl FromStr for ClassWeight {
    type Err = Error;

    /// `balanced`, or `name=weight` pairs separated by commas (`a=2,b=1`).
    ///
    /// ```
    /// use backprop::data::ClassWeight;
    /// assert_eq!("balanced".parse::<ClassWeight>()?, ClassWeight::Balanced);
    /// assert_eq!(
    ///     "yes=5, no=1".parse::<ClassWeight>()?,
    ///     ClassWeight::Given(vec![("yes".into(), 5.0), ("no".into(), 1.0)])
    /// );
    /// assert!("yes=-1".parse::<ClassWeight>().is_err());
    /// assert!("yes".parse::<ClassWeight>().is_err());
    /// assert!("a=1,a=2".parse::<ClassWeight>().is_err());
    /// # Ok::<(), backprop::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<ClassWeight> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("balanced") {
            return Ok(ClassWeight::Balanced);
        }
        let mut pairs: Vec<(String, f32)> = Vec::new();
        for part in s.split(',') {
            let bad = |why: String| {
                Error::config(
                    "class_weight",
                    format!(
                        "'{}': {why}; expected 'balanced' or CLASS=WEIGHT pairs like a=2,b=1",
                        part.trim()
                    ),
                )
            };
            let (name, w) = part.rsplit_once('=').ok_or_else(|| bad("no '='".into()))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(bad("no class name".into()));
            }
            let w: f32 = w
                .trim()
                .parse()
                .map_err(|_| bad(format!("'{}' is not a number", w.trim())))?;
            if !(w.is_finite() && w >= 0.0) {
                return Err(bad("a weight must be a finite number >= 0".into()));
            }
            if pairs.iter().any(|(n, _)| n == name) {
                return Err(bad(format!("class '{name}' is given twice")));
            }
            pairs.push((name.to_string(), w));
        }
        Ok(ClassWeight::Given(pairs))
    }
}

impl fmt::Display for ClassWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClassWeight::Balanced => f.write_str("balanced"),
            ClassWeight::Given(pairs) => {
                for (i, (n, w)) in pairs.iter().enumerate() {
                    write!(f, "{}{n}={w}", if i > 0 { "," } else { "" })?;
                }
                Ok(())
            }
        }
    }
}

impl ClassWeight {
    /// The weight of each class of `classes`, from the training labels
    /// (`labels[r]` is row `r`'s class index), computed in `f64` and rounded
    /// once.
    ///
    /// ```
    /// use backprop::data::{ClassMap, ClassWeight};
    /// let classes = ClassMap::from_names(vec!["no".into(), "yes".into()])?;
    /// let labels = [0, 0, 0, 1]; // 3 "no", 1 "yes"
    /// let w = ClassWeight::Balanced.per_class(&classes, &labels)?;
    /// assert_eq!(w, [4.0 / 6.0, 2.0]);
    /// let w = "yes=3".parse::<ClassWeight>()?.per_class(&classes, &labels)?;
    /// assert_eq!(w, [1.0, 3.0]);
    /// assert!("maybe=3".parse::<ClassWeight>()?.per_class(&classes, &labels).is_err());
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] (`class_weight`) for a class name that is not one
    /// of `classes` (listing them), and for `balanced` when a class has no
    /// training row.
    pub fn per_class(&self, classes: &ClassMap, labels: &[usize]) -> Result<Vec<f32>> {
        let k = classes.len();
        match self {
            ClassWeight::Balanced => {
                let mut count = vec![0usize; k];
                for &l in labels {
                    count[l] += 1;
                }
                if let Some(c) = count.iter().position(|&c| c == 0) {
                    return Err(Error::config(
                        "class_weight",
                        format!(
                            "balanced weights need every class in the training rows, but class \
                             '{}' has none",
                            classes.names()[c]
                        ),
                    ));
                }
                let n = labels.len() as f64;
                Ok(count
                    .iter()
                    .map(|&c| (n / (k as f64 * c as f64)) as f32)
                    .collect())
            }
            ClassWeight::Given(pairs) => {
                let mut w = vec![1.0f32; k];
                for (name, v) in pairs {
                    let i = classes.index_of(name).ok_or_else(|| {
                        Error::config(
                            "class_weight",
                            format!(
                                "'{name}' is not a class; the classes are {}",
                                classes.names().join(", ")
                            ),
                        )
                    })?;
                    w[i] = *v;
                }
                Ok(w)
            }
        }
    }

    /// One weight per row: [`ClassWeight::per_class`] of each row's class.
    ///
    /// # Errors
    /// As [`ClassWeight::per_class`].
    pub fn per_row(&self, classes: &ClassMap, labels: &[usize]) -> Result<Vec<f32>> {
        let w = self.per_class(classes, labels)?;
        Ok(labels.iter().map(|&l| w[l]).collect())
    }
}
