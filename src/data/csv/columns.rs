//! Each column's role (a feature, a label, the id, the row weights, or not
//! read) from the header, if any, and the options: [`assign_roles`] looks
//! up the id and weight columns, then the labels, the ignored columns and
//! the features, in that order, and words an error about the first problem.

use crate::data::message::{data_error, show};
use crate::data::table::{FeatureSelection, HeaderMode, LabelColumn, LoadOptions};
use crate::error::{mention, Error, Result};

/// How many column names an "unknown column" message lists.
const LIST_COLUMNS: usize = 20;

/// What each column of the file is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Feature `j` (its position in the features).
    Feature(usize),
    /// Target column `k`.
    Label(usize),
    /// The id column.
    Id,
    /// The row-weight column.
    Weight,
    /// Not read.
    Skip,
}

/// The roles of the columns and the positions of the labels, id and ignored columns.
pub(super) struct Roles {
    pub(super) roles: Vec<Role>,
    pub(super) labels: Vec<usize>,
    pub(super) id: Option<usize>,
    pub(super) weight: Option<usize>,
    pub(super) ignored: Vec<usize>,
}

impl Roles {
    /// The number of feature columns.
    pub(super) fn n_features(&self) -> usize {
        self.roles
            .iter()
            .filter(|r| matches!(r, Role::Feature(_)))
            .count()
    }

    /// The file columns of the features, in feature order.
    pub(super) fn feature_columns(&self) -> Vec<usize> {
        let mut cols: Vec<(usize, usize)> = self
            .roles
            .iter()
            .enumerate()
            .filter_map(|(c, r)| match r {
                Role::Feature(j) => Some((*j, c)),
                _ => None,
            })
            .collect();
        cols.sort_unstable();
        cols.into_iter().map(|(_, c)| c).collect()
    }

    /// Whether the features come in file order (each can be pushed as it
    /// is read).
    pub(super) fn features_in_order(&self) -> bool {
        self.roles
            .iter()
            .filter_map(|r| match r {
                Role::Feature(j) => Some(*j),
                _ => None,
            })
            .enumerate()
            .all(|(i, j)| i == j)
    }
}

/// The column called `name`: a header name, or `column N` (1-based) without a
/// header. `Ok(None)` if there is none; `Err` if the header has it twice.
fn find_column(
    names: Option<&[String]>,
    n_cols: usize,
    name: &str,
    source_name: &str,
) -> Result<Option<usize>> {
    match names {
        Some(names) => {
            let mut found = names.iter().enumerate().filter(|(_, n)| *n == name);
            match (found.next(), found.next()) {
                (Some((i, _)), None) => Ok(Some(i)),
                (Some(_), Some(_)) => Err(data_error(
                    source_name,
                    format!("the header names more than one column {}", show(name)),
                )),
                (None, _) => Ok(None),
            }
        }
        None => Ok(name
            .strip_prefix("column ")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n >= 1 && n <= n_cols)
            .map(|n| n - 1)),
    }
}

/// "the columns are 'a', 'b', …" for an unknown-column message.
fn list_columns(names: Option<&[String]>, n_cols: usize) -> String {
    match names {
        Some(names) => {
            let listed: Vec<String> = names.iter().take(LIST_COLUMNS).map(|n| show(n)).collect();
            let more = if names.len() > LIST_COLUMNS {
                format!(", … ({} in all)", names.len())
            } else {
                String::new()
            };
            format!("the columns are {}{more}", listed.join(", "))
        }
        None => {
            format!("the file has no header and {n_cols} columns ('column 1' to 'column {n_cols}')")
        }
    }
}

/// The columns of one file, as the options name them, and the wording of
/// an error about them.
struct Columns<'a> {
    names: Option<&'a [String]>,
    n_cols: usize,
    source_name: &'a str,
}

impl Columns<'_> {
    /// A data error about the file.
    fn err(&self, message: String) -> Error {
        data_error(self.source_name, message)
    }

    /// The error for a `what` called `name` that the file lacks.
    fn unknown(&self, what: &str, name: &str) -> Error {
        self.err(format!(
            "no {what} named {}; {}",
            show(name),
            list_columns(self.names, self.n_cols)
        ))
    }

    /// [`find_column`] in this file.
    fn find(&self, name: &str) -> Result<Option<usize>> {
        find_column(self.names, self.n_cols, name, self.source_name)
    }

    /// The column called `name`, which must exist (else an error about a
    /// `what`).
    fn require(&self, what: &str, name: &str) -> Result<usize> {
        self.find(name)?.ok_or_else(|| self.unknown(what, name))
    }
}

/// Decides the role of every column from the header (if any) and `opts`.
pub(super) fn assign_roles(
    names: Option<&[String]>,
    n_cols: usize,
    opts: &LoadOptions,
    source_name: &str,
    delimiter: u8,
    sniffed: bool,
) -> Result<Roles> {
    let cols = Columns {
        names,
        n_cols,
        source_name,
    };
    let mut roles = vec![Role::Skip; n_cols];
    let (id, weight) = id_and_weight(&cols, opts)?;
    let labels = label_columns(&cols, opts, id, weight)?;
    for (k, &c) in labels.iter().enumerate() {
        roles[c] = Role::Label(k);
    }
    if let Some(c) = id {
        roles[c] = Role::Id;
    }
    if let Some(c) = weight {
        roles[c] = Role::Weight;
    }
    let mut ignored = ignored_columns(&cols, opts, &roles)?;
    match (&opts.features, names) {
        (None, _) => every_feature(&cols, &mut roles, &ignored, delimiter, sniffed)?,
        (Some(sel), Some(names)) => {
            features_by_name(&cols, names, sel, &mut roles, &mut ignored)?;
        }
        (Some(sel), None) => features_by_position(&cols, sel, &mut roles, &ignored)?,
    }
    Ok(Roles {
        roles,
        labels,
        id,
        weight,
        ignored,
    })
}

/// The id column and the row-weight column, if the options name them.
fn id_and_weight(cols: &Columns<'_>, opts: &LoadOptions) -> Result<(Option<usize>, Option<usize>)> {
    let id = match &opts.id_column {
        Some(name) => Some(cols.require("id column", name)?),
        None => None,
    };
    let weight = match &opts.weight_column {
        Some(name) => {
            let c = cols.require("weight column", name)?;
            if Some(c) == id {
                return Err(cols.err("the weight column cannot also be the id column".to_string()));
            }
            Some(c)
        }
        None => None,
    };
    Ok((id, weight))
}

/// The label columns in the order the options give them: neither the id
/// nor the weight column, none twice.
fn label_columns(
    cols: &Columns<'_>,
    opts: &LoadOptions,
    id: Option<usize>,
    weight: Option<usize>,
) -> Result<Vec<usize>> {
    let mut labels: Vec<usize> = Vec::new();
    for (spec_index, spec) in opts.label_columns.iter().enumerate() {
        let Some(c) = label_column(cols, opts, spec_index, spec)? else {
            continue;
        };
        if labels.contains(&c) {
            return Err(cols.err(format!(
                "label column {} is given twice",
                cols.names.map_or(format!("{}", c + 1), |n| show(&n[c]))
            )));
        }
        if Some(c) == id {
            return Err(cols.err("the id column cannot also be a label column".to_string()));
        }
        if Some(c) == weight {
            return Err(cols.err("the weight column cannot also be a label column".to_string()));
        }
        labels.push(c);
    }
    Ok(labels)
}

/// The column of label `spec` (the `spec_index`-th given); `None` for a
/// missing label that `opts.labels_optional` allows.
fn label_column(
    cols: &Columns<'_>,
    opts: &LoadOptions,
    spec_index: usize,
    spec: &LabelColumn,
) -> Result<Option<usize>> {
    let n_cols = cols.n_cols;
    // a model's label in a headerless file: where the training file had it
    let positional = cols.names.is_none() && opts.features.is_some();
    match spec {
        LabelColumn::Last => Ok(Some(n_cols - 1)),
        LabelColumn::Index(i) => {
            if *i >= n_cols {
                return Err(cols.err(format!(
                    "label column index {i} is out of range: the file has {n_cols} \
                     column{} (indices 0 to {})",
                    if n_cols == 1 { "" } else { "s" },
                    n_cols - 1
                )));
            }
            Ok(Some(*i))
        }
        LabelColumn::Name(name) if positional => {
            let layout = opts.features.as_ref().and_then(|f| f.layout.as_ref());
            let at = layout
                .filter(|l| l.columns == n_cols)
                .and_then(|l| l.label_positions.get(spec_index).copied());
            match at {
                Some(c) => Ok(Some(c)),
                None if opts.labels_optional => Ok(None),
                None => Err(cols.err(format!(
                    "the label column {} is given by name, but the file has no header \
                     row and its {n_cols} columns are not laid out as the training \
                     file's were",
                    show(name)
                ))),
            }
        }
        LabelColumn::Name(name) => {
            if cols.names.is_none() {
                return Err(cols.err(format!(
                    "the label column is given by name ({}) but the file has no header \
                     row{}",
                    show(name),
                    if opts.header == HeaderMode::Auto {
                        format!(
                            " (its first line looks like data; give {} if it is one)",
                            mention("read.header", Some("present"))
                        )
                    } else {
                        String::new()
                    }
                )));
            }
            match cols.find(name)? {
                Some(c) => Ok(Some(c)),
                None if opts.labels_optional => Ok(None),
                None => Err(cols.unknown("column", name)),
            }
        }
    }
}

/// The columns the options ignore: each must exist and have no other role.
fn ignored_columns(cols: &Columns<'_>, opts: &LoadOptions, roles: &[Role]) -> Result<Vec<usize>> {
    let mut ignored = Vec::new();
    for name in &opts.ignore_columns {
        let c = cols.require("column to ignore", name)?;
        if roles[c] != Role::Skip {
            return Err(cols.err(format!(
                "column {} is ignored but is also the label, the id or the weights",
                show(name)
            )));
        }
        ignored.push(c);
    }
    Ok(ignored)
}

/// Without a feature selection: every column left is a feature, in file
/// order; there must be one.
fn every_feature(
    cols: &Columns<'_>,
    roles: &mut [Role],
    ignored: &[usize],
    delimiter: u8,
    sniffed: bool,
) -> Result<()> {
    let mut j = 0;
    for (c, role) in roles.iter_mut().enumerate() {
        if *role == Role::Skip && !ignored.contains(&c) {
            *role = Role::Feature(j);
            j += 1;
        }
    }
    if j > 0 {
        return Ok(());
    }
    let what = if cols.n_cols == 1 {
        format!(
            "the file reads as one column{}; if its fields are separated by another \
             character, give {}",
            if sniffed {
                String::new()
            } else {
                format!(" with the delimiter {:?}", char::from(delimiter))
            },
            mention("read.delimiter", None)
        )
    } else {
        "every column is a label, the id or ignored".to_string()
    };
    Err(cols.err(format!("no feature columns: {what}")))
}

/// A model's features, found by name in the header: each must be there
/// and free; the columns left over are ignored.
fn features_by_name(
    cols: &Columns<'_>,
    names: &[String],
    sel: &FeatureSelection,
    roles: &mut [Role],
    ignored: &mut Vec<usize>,
) -> Result<()> {
    let mut missing = Vec::new();
    for (j, want) in sel.names.iter().enumerate() {
        match cols.find(want)? {
            Some(c) if roles[c] == Role::Skip && !ignored.contains(&c) => {
                roles[c] = Role::Feature(j)
            }
            Some(_) => {
                return Err(cols.err(format!(
                    "the model's feature {} is also the label, the id or ignored",
                    show(want)
                )))
            }
            None => missing.push(show(want)),
        }
    }
    if !missing.is_empty() {
        return Err(cols.err(missing_features(&missing, sel, names, cols.n_cols)));
    }
    for (c, role) in roles.iter().enumerate() {
        if *role == Role::Skip && !ignored.contains(&c) {
            ignored.push(c);
        }
    }
    ignored.sort_unstable();
    Ok(())
}

/// "3 of the model's 5 features are missing from the header: …".
fn missing_features(
    missing: &[String],
    sel: &FeatureSelection,
    names: &[String],
    n_cols: usize,
) -> String {
    let listed: Vec<&String> = missing.iter().take(LIST_COLUMNS).collect();
    format!(
        "{} of the model's {} features {} missing from the header: {}{}; {}",
        missing.len(),
        sel.names.len(),
        if missing.len() == 1 { "is" } else { "are" },
        listed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if missing.len() > LIST_COLUMNS {
            ", …"
        } else {
            ""
        },
        list_columns(Some(names), n_cols)
    )
}

/// A model's features in a headerless file: the free columns, in order,
/// which must be as many.
fn features_by_position(
    cols: &Columns<'_>,
    sel: &FeatureSelection,
    roles: &mut [Role],
    ignored: &[usize],
) -> Result<()> {
    let free: Vec<usize> = (0..cols.n_cols)
        .filter(|&c| roles[c] == Role::Skip && !ignored.contains(&c))
        .collect();
    if free.len() != sel.names.len() {
        let layout = sel.layout.as_ref().map_or(String::new(), |l| {
            format!(" (the training file had {} columns)", l.columns)
        });
        return Err(cols.err(format!(
            "{} feature column{}, but the model takes {} feature{}{layout}; without a \
             header, columns are matched by position, so the count must match (or \
             give the file a header row naming the columns)",
            free.len(),
            if free.len() == 1 { "" } else { "s" },
            sel.names.len(),
            if sel.names.len() == 1 { "" } else { "s" },
        )));
    }
    for (j, c) in free.into_iter().enumerate() {
        roles[c] = Role::Feature(j);
    }
    Ok(())
}
