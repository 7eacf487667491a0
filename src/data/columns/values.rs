//! [`ColumnValues`]: a table's columns as a front end holds them (a pandas
//! DataFrame's numbers and texts), made into [`RawColumns`] so that they
//! take the same preparation as a CSV file's.

use std::collections::HashMap;

use super::raw::{ColumnCells, RawColumns};
use crate::error::{Error, Result};
use crate::tensor::Matrix;

/// One column's values.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnValues {
    /// Numbers; NaN marks a missing value.
    Numbers(Vec<f32>),
    /// Texts; `None` marks a missing value.
    Text(Vec<Option<String>>),
}

impl ColumnValues {
    fn len(&self) -> usize {
        match self {
            ColumnValues::Numbers(v) => v.len(),
            ColumnValues::Text(v) => v.len(),
        }
    }
}

impl RawColumns {
    /// The columns `columns`, called `names`, of `source_name` (a name for
    /// messages), as read cells: numbers, missing values (NaN, `None`) and
    /// texts.
    ///
    /// # Errors
    /// Columns of different lengths, a name count that differs, an
    /// infinite number.
    ///
    /// ```
    /// use backprop::data::{ColumnValues, RawColumns};
    /// let raw = RawColumns::from_values(
    ///     vec!["mass".into(), "island".into()],
    ///     vec![
    ///         ColumnValues::Numbers(vec![3.5, f32::NAN]),
    ///         ColumnValues::Text(vec![Some("Dream".into()), None]),
    ///     ],
    ///     "X",
    /// )?;
    /// assert_eq!((raw.rows(), raw.columns[0].missing, raw.columns[1].missing), (2, 1, 1));
    /// assert_eq!(raw.columns[1].text.values, ["Dream"]);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn from_values(
        names: Vec<String>,
        columns: Vec<ColumnValues>,
        source_name: &str,
    ) -> Result<RawColumns> {
        let err = |message: String| Error::Data {
            source_name: source_name.to_string(),
            message,
        };
        if names.len() != columns.len() {
            return Err(err(format!(
                "{} names for {} columns",
                names.len(),
                columns.len()
            )));
        }
        let rows = columns.first().map_or(0, ColumnValues::len);
        if let Some((j, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != rows) {
            return Err(err(format!(
                "column '{}' has {} values, the first column {rows}",
                names[j],
                c.len()
            )));
        }
        if rows > u32::MAX as usize {
            return Err(err(format!("{rows} rows: at most {} are read", u32::MAX)));
        }
        let n = columns.len();
        let mut x = vec![f32::NAN; rows * n];
        let mut cells = Vec::with_capacity(n);
        for (j, column) in columns.into_iter().enumerate() {
            let mut c = ColumnCells::default();
            match column {
                ColumnValues::Numbers(v) => {
                    for (r, &value) in v.iter().enumerate() {
                        if value.is_nan() {
                            c.missing += 1;
                            c.first_missing.get_or_insert(r);
                        } else if value.is_infinite() {
                            return Err(err(format!(
                                "column '{}', row {}: {value} is not finite",
                                names[j],
                                r + 1
                            )));
                        } else {
                            c.numbers += 1;
                            c.first_number.get_or_insert(r);
                            x[r * n + j] = value;
                        }
                    }
                }
                ColumnValues::Text(v) => {
                    let mut index: HashMap<String, u32> = HashMap::new();
                    for (r, value) in v.into_iter().enumerate() {
                        let Some(t) = value else {
                            c.missing += 1;
                            c.first_missing.get_or_insert(r);
                            continue;
                        };
                        let next = c.text.values.len() as u32;
                        let code = *index.entry(t).or_insert_with_key(|t| {
                            c.text.values.push(t.clone());
                            next
                        });
                        c.text.cells.push((r as u32, code));
                    }
                }
            }
            cells.push(c);
        }
        Ok(RawColumns {
            names,
            x: Matrix::from_vec(rows, n, x)?,
            columns: cells,
        })
    }
}
