//! Read-only file maps: [`MappedF32`], `f32` values read in place from a
//! memory-mapped file (an f4 NPY file's data), and [`MappedU8`] /
//! [`ByteValues`], image bytes, so that a data set is not copied into memory
//! to be trained on, evaluated or predicted.
//!
//! This room sits below [`crate::tensor`]: a [`crate::Matrix`] may hold a
//! map. Only the crate's own readers create maps (the `map` constructors are
//! crate-private), because a map is sound only while its file stays
//! unchanged, a promise the readers' callers make (`LoadOptions::memory_map`)
//! or decline (reading the file instead).

use std::fs::File;

/// `len` little-endian `f32` values at byte `offset` of a read-only memory
/// map of a file.
pub struct MappedF32 {
    map: memmap2::Mmap,
    offset: usize,
    len: usize,
}

impl std::fmt::Debug for MappedF32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedF32")
            .field("offset", &self.offset)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Equal when the values are (as the owned arrays compare).
impl PartialEq for MappedF32 {
    fn eq(&self, other: &MappedF32) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl MappedF32 {
    /// Maps `file` read-only and views its bytes from `offset` to the end as
    /// `f32` values. `Ok(None)` when they cannot be viewed in place: a
    /// big-endian machine, a length that is not a whole number of values,
    /// or a misaligned start.
    ///
    /// The file must not be truncated or rewritten while the map lives:
    /// another process doing so would change the values read, or make a
    /// read fault (SIGBUS). That is the contract of every memory map; a user
    /// who cannot promise it reads the file instead (`--no-mmap`).
    ///
    /// # Errors
    /// The system's error when the file cannot be mapped.
    pub(crate) fn map(file: &File, offset: usize) -> std::io::Result<Option<MappedF32>> {
        if cfg!(target_endian = "big") {
            return Ok(None);
        }
        // SAFETY: the map is read-only and private to this process; its
        // bytes are only ever read as plain values (no references into it
        // outlive `self`), and the caller documents that the file must stay
        // unchanged while it is mapped (see above).
        let map = unsafe { memmap2::Mmap::map(file)? };
        let Some(bytes) = map.len().checked_sub(offset) else {
            return Ok(None);
        };
        let aligned =
            (map.as_ptr() as usize).wrapping_add(offset) % std::mem::align_of::<f32>() == 0;
        if bytes % 4 != 0 || !aligned {
            return Ok(None);
        }
        Ok(Some(MappedF32 {
            map,
            offset,
            len: bytes / 4,
        }))
    }

    /// The values.
    pub fn as_slice(&self) -> &[f32] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `map` constructed this view only if bytes
        // `offset..offset + 4·len` lie inside the map and start at an
        // address aligned for f32; every bit pattern is a valid f32, the
        // bytes are initialised (file contents), the map is never written,
        // and the slice borrows `self`, which owns the map.
        unsafe {
            std::slice::from_raw_parts(self.map.as_ptr().add(self.offset).cast::<f32>(), self.len)
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Unsigned bytes (image pixels, IDX `0x08` or NPY `|u1`) that a
/// [`crate::Matrix`] holds as they were read — in memory, or in place from
/// a memory-mapped file — and that its readers widen to `f32` a row at a
/// time, so a data set of images takes one byte a value instead of four.
pub enum ByteValues {
    /// Bytes in memory.
    Owned(Vec<u8>),
    /// Bytes read in place from a read-only map of a file.
    Mapped(std::sync::Arc<MappedU8>),
}

impl std::fmt::Debug for ByteValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ByteValues::Owned(v) => write!(f, "ByteValues::Owned({} bytes)", v.len()),
            ByteValues::Mapped(m) => write!(f, "ByteValues::Mapped({} bytes)", m.len()),
        }
    }
}

impl ByteValues {
    /// The values.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            ByteValues::Owned(v) => v,
            ByteValues::Mapped(m) => m.as_slice(),
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `len` bytes at byte `offset` of a read-only memory map of a file.
pub struct MappedU8 {
    map: memmap2::Mmap,
    offset: usize,
    len: usize,
}

impl MappedU8 {
    /// Maps `file` read-only and views `len` bytes from `offset`.
    /// `Ok(None)` when the file does not hold them. The file must stay
    /// unchanged while the map lives, as for [`MappedF32::map`].
    ///
    /// # Errors
    /// The system's error when the file cannot be mapped.
    pub(crate) fn map(file: &File, offset: usize, len: usize) -> std::io::Result<Option<MappedU8>> {
        // SAFETY: as in `MappedF32::map`: a read-only private map whose
        // bytes are only read as plain values while `self` owns it, of a
        // file the caller promises not to change.
        let map = unsafe { memmap2::Mmap::map(file)? };
        if offset.checked_add(len).map_or(true, |end| end > map.len()) {
            return Ok(None);
        }
        Ok(Some(MappedU8 { map, offset, len }))
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.map[self.offset..self.offset + self.len]
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The view without its first `n` bytes (all of them if fewer).
    pub fn skip(self, n: usize) -> MappedU8 {
        let n = n.min(self.len);
        MappedU8 {
            offset: self.offset + n,
            len: self.len - n,
            ..self
        }
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for MappedU8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedU8")
            .field("offset", &self.offset)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Equal when the bytes are.
impl PartialEq for MappedU8 {
    fn eq(&self, other: &MappedU8) -> bool {
        self.as_slice() == other.as_slice()
    }
}
