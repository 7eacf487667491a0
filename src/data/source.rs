//! Loading a user's data file: [`load`] picks the format (CSV, IDX or NPY), reads
//! features and raw label text into a [`RawTable`], and leaves the choice of
//! task to the caller: [`RawTable::numeric_targets`] for regression,
//! [`RawTable::class_map`] and [`RawTable::class_indices`] for classification.
//!
//! Values are returned as stored: IDX and NPY `u8` features (images) are **not**
//! divided by 255 here; [`RawTable::pixel_data`] says that they are bytes, and
//! [`RawTable::pixel_scale`] gives the divisor to pass to [`super::scale`].

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::array::NdArray;
use super::message::data_error;
use super::table::{LabelColumn, LoadOptions, RawTable, RawTarget, SourceKind};
use super::{csv, idx, npy};
use crate::error::{mention, Error, Result};

impl SourceKind {
    /// The format of the file called `name` holding `bytes`: by extension first
    /// (`.csv` `.tsv` `.txt`, also followed by `.gz` → CSV; `.npy` → NPY;
    /// `.idx*`, `*-ubyte`, other `.gz` → IDX; case-insensitive), else by the
    /// first bytes (`\x93NUMPY` → NPY, gzip or an IDX magic → IDX), else CSV.
    ///
    /// ```
    /// use backprop::data::SourceKind;
    /// assert_eq!(SourceKind::detect("train-images-idx3-ubyte.gz", b""), SourceKind::Idx);
    /// assert_eq!(SourceKind::detect("X.NPY", b""), SourceKind::Npy);
    /// assert_eq!(SourceKind::detect("big.csv.gz", b""), SourceKind::Csv);
    /// assert_eq!(SourceKind::detect("data", b"\x93NUMPY\x01\x00"), SourceKind::Npy);
    /// assert_eq!(SourceKind::detect("data", b"a,b\n1,2\n"), SourceKind::Csv);
    /// ```
    pub fn detect(name: &str, bytes: &[u8]) -> SourceKind {
        let lower = name.to_ascii_lowercase();
        let inner = lower.strip_suffix(".gz").unwrap_or(&lower);
        if [".csv", ".tsv", ".txt"].iter().any(|e| inner.ends_with(e)) {
            return SourceKind::Csv;
        }
        let ext = Path::new(&lower)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        match ext {
            "csv" | "tsv" | "txt" => return SourceKind::Csv,
            "npy" => return SourceKind::Npy,
            "gz" => return SourceKind::Idx,
            e if e.starts_with("idx") => return SourceKind::Idx,
            _ if lower.ends_with("-ubyte") => return SourceKind::Idx,
            _ => {}
        }
        if bytes.starts_with(npy::MAGIC) {
            SourceKind::Npy
        } else if idx::is_gzip(bytes) || idx::has_magic(bytes) {
            SourceKind::Idx
        } else {
            SourceKind::Csv
        }
    }
}

/// Bytes enough to tell [`not_a_table`]'s formats apart.
const SNIFF_BYTES: usize = 16;

/// What a file whose first bytes are `head` is, when it is a known format
/// that is not a table (so not CSV), by its magic bytes or, for JSON, its
/// first character other than white space: a ZIP archive (`.npz`, `.xlsx`),
/// a safetensors file (a model), a PNG, JPEG or GIF image, a Parquet file
/// or JSON. `None` for anything else.
fn not_a_table(head: &[u8]) -> Option<&'static str> {
    const MAGIC: [(&[u8], &str); 8] = [
        (
            b"PK\x03\x04",
            "a ZIP file (such as an .npz archive of NumPy arrays, or an .xlsx workbook)",
        ),
        (b"PK\x05\x06", "a ZIP file (an empty archive)"),
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"PAR1", "a Parquet file"),
        (b"%PDF-", "a PDF document"),
    ];
    if let Some((_, what)) = MAGIC.iter().find(|(m, _)| head.starts_with(m)) {
        return Some(what);
    }
    // safetensors: a little-endian u64 header length (at most 100 MB, so its
    // high bytes are 0), then the header's JSON object
    if head.len() > 8 && head[8] == b'{' && head[4..8] == [0; 4] && head[..4] != [0; 4] {
        return Some("a safetensors file (a model or checkpoint?)");
    }
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let mut chars = text.iter().copied().filter(|b| !b.is_ascii_whitespace());
    match (chars.next(), chars.next()) {
        (Some(b'{'), _) => Some("a JSON file"),
        (Some(b'['), Some(c)) if b"{[\"]-0123456789tfn".contains(&c) => Some("a JSON file"),
        _ => None,
    }
}

/// Refuses a file that [`not_a_table`] recognises, where a CSV table is
/// expected.
fn check_is_table(name: &str, head: &[u8]) -> Result<()> {
    match not_a_table(head) {
        Some(what) => Err(data_error(
            name,
            format!("this is {what}, not CSV: data files are CSV tables, IDX or NPY arrays"),
        )),
        None => Ok(()),
    }
}

/// Loads the data file at `path` as [`LoadOptions`] say; the format comes from
/// [`SourceKind::detect`]. IDX and NPY labels come from `opts.labels_path`.
///
/// The path `-` reads standard input (named `<stdin>` in messages).
///
/// Every error names the file: [`Error::Io`] if it cannot be read, else as in
/// [`load_bytes`].
///
/// ```
/// use backprop::data::{load, LoadOptions, SourceKind};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("pets.csv");
/// std::fs::write(&path, "age,weight,kind\n3,4.5,cat\n5,20,dog\n")?;
/// let t = load(&path, &LoadOptions::default())?;
/// assert_eq!((t.kind, t.rows(), t.x.cols()), (SourceKind::Csv, 2, 2));
/// assert_eq!(t.class_map()?.names(), ["cat", "dog"]);
///
/// std::fs::write(&path, "age,weight,kind\n3,4.5\n")?;
/// let err = load(&path, &LoadOptions::default()).unwrap_err();
/// assert_eq!(err.to_string(), format!("{}:2: expected 3 fields, found 2", path.display()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load(path: &Path, opts: &LoadOptions) -> Result<RawTable> {
    let name = if path.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    if path.as_os_str() != "-" {
        if let Some((array, kind)) = load_array_file(path, &name, opts)? {
            return with_labels(array, kind, &name, opts);
        }
    }
    load_stream(path, &name, opts)
}

/// The bytes of the file at `p` (`-`: standard input).
fn read_whole(p: &Path) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        path: p.to_path_buf(),
        source,
    };
    if p.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(io)?;
        Ok(bytes)
    } else {
        std::fs::read(p).map_err(io)
    }
}

/// The table of a features `array` from the file `name`, of format `kind`,
/// and the labels file, if any.
fn with_labels(
    array: NdArray,
    kind: SourceKind,
    name: &str,
    opts: &LoadOptions,
) -> Result<RawTable> {
    check_array_options(name, opts)?;
    let labels = match &opts.labels_path {
        Some(p) => Some((read_whole(p)?, p.display().to_string())),
        None => None,
    };
    let labels = labels.as_ref().map(|(b, n)| (b.as_slice(), n.as_str()));
    array_table(array, name, kind, labels)
}

/// The features array of the file at `path` (called `name`) when it can be
/// had without the file's bytes in memory beside it: an f4 NPY file is
/// mapped and read in place, or read straight into its matrix; a plain IDX
/// or NPY file of bytes (images) is mapped. `None` for any other file.
fn load_array_file(
    path: &Path,
    name: &str,
    opts: &LoadOptions,
) -> Result<Option<(NdArray, SourceKind)>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().ok().map(|m| m.len());
    let mapped = match opts.memory_map {
        true => npy::map_f32(&file, name)?,
        false => None,
    };
    if opts.memory_map && mapped.is_none() {
        if let Some(array) = map_bytes(&file, path, name)? {
            return Ok(Some(array));
        }
    }
    let array = match mapped {
        Some(array) => Some(array),
        None => {
            // from the start: `map_f32` may have read the header
            let mut file = &file;
            std::io::Seek::rewind(&mut file).map_err(io)?;
            let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
            npy::read_f32(&mut reader, name, size)?
        }
    };
    Ok(array.map(|array| (array, SourceKind::Npy)))
}

/// A plain IDX or NPY `file` of bytes (images), mapped; `None` for another
/// kind of file.
fn map_bytes(file: &File, path: &Path, name: &str) -> Result<Option<(NdArray, SourceKind)>> {
    let mut head = Vec::with_capacity(16);
    let mut f = file;
    // the kind from the name and the first bytes, then back to the start
    // for the header readers
    std::io::Seek::rewind(&mut f)
        .and_then(|()| f.take(16).read_to_end(&mut head))
        .and_then(|_| std::io::Seek::rewind(&mut f))
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(match SourceKind::detect(name, &head) {
        SourceKind::Idx => idx::map_u8(file, name)?.map(|a| (a, SourceKind::Idx)),
        SourceKind::Npy => npy::map_u8(file, name)?.map(|a| (a, SourceKind::Npy)),
        SourceKind::Csv => None,
    })
}

/// [`load`] for a file read from the start as a stream (or standard
/// input): a plain CSV is parsed as it is read; other inputs are read whole.
fn load_stream(path: &Path, name: &str, opts: &LoadOptions) -> Result<RawTable> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let (mut input, size): (Box<dyn Read>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let file = File::open(path).map_err(io)?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    let mut bytes = Vec::with_capacity(SNIFF_BYTES);
    input
        .by_ref()
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let kind = SourceKind::detect(name, &bytes);
    if kind == SourceKind::Csv && !idx::is_gzip(&bytes) {
        check_is_table(name, &bytes)?;
        let opts = csv_options(name, opts, false)?;
        return csv::parse_reader(bytes.as_slice().chain(input), name, &opts, size);
    }
    input.read_to_end(&mut bytes).map_err(io)?;
    if kind == SourceKind::Idx {
        // a plain file of bytes (images) becomes its array without a copy
        check_array_options(name, opts)?;
        return with_labels(idx::parse_owned(bytes, name)?, kind, name, opts);
    }
    let labels = match &opts.labels_path {
        Some(p) if kind != SourceKind::Csv => Some((read_whole(p)?, p.display().to_string())),
        _ => None,
    };
    let labels = labels.as_ref().map(|(b, n)| (b.as_slice(), n.as_str()));
    load_bytes(&bytes, name, kind, labels, opts)
}

/// [`load`] on bytes in memory: `bytes` is a file of format `kind` called
/// `source_name`; `labels` is the labels file's bytes and name, for IDX and NPY
/// (its own format detected with [`SourceKind::detect`]).
///
/// CSV goes to [`csv::parse`] (the text must be UTF-8; a leading BOM is
/// skipped). IDX and NPY features are the array with its first dimension as
/// rows ([`super::NdArray::to_matrix`]); the labels, if any, must be a 1-D IDX
/// or NPY array with one label per row. `opts.labels_path` with a CSV, or a
/// label column other than the last with IDX or NPY, is an [`Error::Config`].
///
/// ```
/// use backprop::data::{load_bytes, LoadOptions, RawTarget, SourceKind};
/// let images = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 128, 255, 7];
/// let labels = [0, 0, 8, 1, 0, 0, 0, 2, 3, 9];
/// let opts = LoadOptions::default();
/// let t = load_bytes(&images, "img.idx", SourceKind::Idx, Some((&labels, "lab.idx")), &opts)?;
/// assert_eq!(t.x.row(1), &[255.0, 7.0]); // raw bytes: divide by t.pixel_scale()
/// assert_eq!(t.pixel_scale(), Some(255.0));
/// assert_eq!(t.target, RawTarget::Text(vec!["3".into(), "9".into()]));
/// let short = [0, 0, 8, 1, 0, 0, 0, 1, 3];
/// let err = load_bytes(&images, "img.idx", SourceKind::Idx, Some((&short, "lab.idx")), &opts);
/// assert_eq!(err.unwrap_err().to_string(), "lab.idx: 1 label for the 2 samples of img.idx; need one per sample");
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn load_bytes(
    bytes: &[u8],
    source_name: &str,
    kind: SourceKind,
    labels: Option<(&[u8], &str)>,
    opts: &LoadOptions,
) -> Result<RawTable> {
    match kind {
        SourceKind::Csv => {
            let opts = csv_options(source_name, opts, labels.is_some())?;
            if idx::is_gzip(bytes) {
                let mut text = Vec::new();
                flate2::read::MultiGzDecoder::new(bytes)
                    .read_to_end(&mut text)
                    .map_err(|e| {
                        data_error(source_name, format!("cannot decompress the gzip data: {e}"))
                    })?;
                return csv::parse_bytes(&text, source_name, &opts);
            }
            check_is_table(source_name, &bytes[..bytes.len().min(SNIFF_BYTES)])?;
            csv::parse_bytes(bytes, source_name, &opts)
        }
        SourceKind::Idx | SourceKind::Npy => {
            check_array_options(source_name, opts)?;
            let array = parse_array(bytes, source_name, kind)?;
            array_table(array, source_name, kind, labels)
        }
    }
}

/// `opts` for a CSV file: a labels file is refused, and a `.tsv` name
/// means tabs unless a delimiter is given.
fn csv_options(source_name: &str, opts: &LoadOptions, labels: bool) -> Result<LoadOptions> {
    if opts.labels_path.is_some() || labels {
        return Err(Error::config(
            "read.labels_path",
            format!(
                "{source_name} is a CSV file, which holds its labels in a column; \
                 a labels file is for IDX and NPY data"
            ),
        ));
    }
    let mut opts = opts.clone();
    let lower = source_name.to_ascii_lowercase();
    if opts.delimiter.is_none()
        && lower
            .strip_suffix(".gz")
            .unwrap_or(&lower)
            .ends_with(".tsv")
    {
        opts.delimiter = Some(b'\t');
    }
    Ok(opts)
}

/// The options that only a CSV file can honour, refused for IDX and NPY.
fn check_array_options(source_name: &str, opts: &LoadOptions) -> Result<()> {
    if opts.weight_column.is_some() {
        return Err(Error::config(
            "weight_column",
            format!("{source_name} is not a CSV file; a weight column is a CSV column"),
        ));
    }
    // a model's label column, looked for only if there (data to predict
    // on), is not in an array of features
    if !opts.labels_optional
        && opts
            .label_columns
            .iter()
            .any(|l| matches!(l, LabelColumn::Index(_) | LabelColumn::Name(_)))
    {
        return Err(Error::config(
            "label_columns",
            format!(
                "{source_name} is not a CSV file; IDX and NPY labels come from a \
                 separate file ({})",
                mention("read.labels_path", None)
            ),
        ));
    }
    Ok(())
}

/// The table of an IDX or NPY feature array and its labels file's bytes.
fn array_table(
    array: NdArray,
    source_name: &str,
    kind: SourceKind,
    labels: Option<(&[u8], &str)>,
) -> Result<RawTable> {
    let pixels = array.is_u8();
    let noun = if pixels { "pixel" } else { "feature" };
    let x = array.into_matrix(source_name)?;
    let feature_names = (1..=x.cols()).map(|c| format!("{noun} {c}")).collect();
    let (target, target_source, width) = match labels {
        None => (RawTarget::None, source_name.to_string(), 0),
        Some((label_bytes, label_name)) => {
            let label_kind = SourceKind::detect(label_name, label_bytes);
            let array = parse_array(label_bytes, label_name, label_kind)?;
            let width = array.label_width();
            let (values, codes) = array.to_label_codes(label_name)?;
            if width == 0 || codes.len() / width != x.rows() {
                return Err(data_error(
                    label_name,
                    format!(
                        "{} label{} for the {} samples of {source_name}; need one \
                         per sample",
                        codes.len() / width.max(1),
                        if codes.len() == width { "" } else { "s" },
                        x.rows()
                    ),
                ));
            }
            (
                RawTarget::Codes { values, codes },
                label_name.to_string(),
                width,
            )
        }
    };
    let target_names = match width {
        0 => Vec::new(),
        1 => vec!["label".to_string()],
        k => (1..=k).map(|i| format!("label {i}")).collect(),
    };
    Ok(RawTable {
        source_name: source_name.to_string(),
        feature_names,
        x,
        target,
        target_names,
        kind,
        pixel_data: pixels,
        target_source,
        row_lines: Vec::new(),
        ids: None,
        weights: None,
        ignored_columns: Vec::new(),
        layout: None,
        header_guess: None,
        encoding: None,
        notes: Vec::new(),
    })
}

/// An IDX or NPY file (a CSV labels file is an error).
fn parse_array(bytes: &[u8], name: &str, kind: SourceKind) -> Result<NdArray> {
    match kind {
        SourceKind::Idx => idx::parse(bytes, name),
        SourceKind::Npy => npy::parse(bytes, name),
        SourceKind::Csv => Err(data_error(
            name,
            "a labels file must be an IDX or NPY array (.idx, -ubyte, .gz, .npy)".to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::not_a_table;

    #[test]
    fn formats_that_are_not_tables_are_recognised() {
        let zip =
            Some("a ZIP file (such as an .npz archive of NumPy arrays, or an .xlsx workbook)");
        assert_eq!(not_a_table(b"PK\x03\x04\x14\0\0\0"), zip);
        assert_eq!(not_a_table(b"\x89PNG\r\n\x1a\n\0\0"), Some("a PNG image"));
        let st = b"\x48\0\0\0\0\0\0\0{\"__metadata__\"";
        assert_eq!(
            not_a_table(st),
            Some("a safetensors file (a model or checkpoint?)")
        );
        for json in [
            &b"  {\"x\": [1, 2]}"[..],
            b"\xef\xbb\xbf[1, 2]",
            b"[\n  {\"a\": 1}",
            b"[]",
        ] {
            assert_eq!(not_a_table(json), Some("a JSON file"), "{json:?}");
        }
        // tables, however they start
        for csv in [
            &b"a,b\n1,2\n"[..],
            b"[a],b\n1,2\n",
            b"PKa,b\n1,2",
            b"12345678{,b\n",
            b"",
            b"   \n",
        ] {
            assert_eq!(not_a_table(csv), None, "{csv:?}");
        }
    }
}
