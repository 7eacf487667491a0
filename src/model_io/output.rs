//! Where the files the crate writes go: the one writer of every output path
//! (model, checkpoint, plot, predictions), [`write_atomic`].
//!
//! A regular file (or a new name) is replaced atomically: a temporary file
//! beside it, renamed over it. A symbolic link is followed to its target,
//! which is replaced the same way beside the target (the link stays). A
//! character device or a FIFO (`/dev/null`, `/dev/stdout`, a named pipe) is
//! written in place: renaming over it would replace the device with a plain
//! file. A folder is refused.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Links followed before giving up (Linux's limit for one path).
const MAX_LINKS: usize = 40;

/// What a path to be written names, its links followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// A regular file or a name not taken yet: replaced atomically.
    Replace(PathBuf),
    /// A device, a FIFO or another special file: written in place.
    InPlace(PathBuf),
    /// A folder: nothing can be written there.
    Folder(PathBuf),
}

/// Follows the symbolic links of `path`'s last component (a relative link
/// is read from its own folder) and says what the final name is.
///
/// # Errors
/// The I/O error of a name that cannot be inspected (a parent that is a
/// file, a link cycle).
pub(crate) fn resolve(path: &Path) -> io::Result<Output> {
    let mut at = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        let meta = match fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Output::Replace(at)),
            Err(e) => return Err(e),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(&at)?;
            at = match at.parent() {
                Some(dir) if target.is_relative() => dir.join(target),
                _ => target,
            };
        } else if kind.is_dir() {
            return Ok(Output::Folder(at));
        } else if kind.is_file() {
            return Ok(Output::Replace(at));
        } else {
            return Ok(Output::InPlace(at));
        }
    }
    Err(io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links to follow"
    )))
}

/// The folder a file at `path` goes into (`.` for a bare name).
pub(crate) fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The file that writing `path` would write, as one spelling: links
/// followed, the folder made absolute and canonical (`./a`, `a` and a link
/// to `a` give the same path). Where the folder does not exist yet, the
/// path made absolute as it is spelled.
pub(crate) fn identity(path: &Path) -> PathBuf {
    let target = match resolve(path) {
        Ok(Output::Replace(t) | Output::InPlace(t) | Output::Folder(t)) => t,
        Err(_) => path.to_path_buf(),
    };
    match (fs::canonicalize(folder_of(&target)), target.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => std::path::absolute(&target).unwrap_or(target),
    }
}

/// Checks, before a long run, that [`write_atomic`] can write `path`: not a
/// folder, its links lead somewhere, and the folder of a file to replace
/// exists and takes a new file (probed with a temporary file, removed). A
/// device or FIFO is not opened (a FIFO would wait for a reader).
///
/// # Errors
/// What is wrong, in words that name the path.
pub(crate) fn check_writable(path: &Path) -> std::result::Result<(), String> {
    let target = match resolve(path).map_err(|e| format!("{}: {e}", path.display()))? {
        Output::Replace(target) => target,
        Output::InPlace(_) => return Ok(()),
        Output::Folder(target) if target == path => {
            return Err(format!("{} is a folder, not a file", path.display()))
        }
        Output::Folder(target) => {
            return Err(format!(
                "{} links to the folder {}, not a file",
                path.display(),
                target.display()
            ))
        }
    };
    let dir = folder_of(&target);
    if !dir.is_dir() {
        return Err(format!("the folder {} does not exist", dir.display()));
    }
    tempfile::Builder::new()
        .prefix(".backprop-write-check")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    Ok(())
}

/// Writes `bytes` to `path`, so that a crash, a full disk or any error
/// leaves either the old file or the new one, never a mix.
///
/// The bytes go to a temporary file in the same directory (named
/// `.{file name}.XXXXXX.tmp`), which is flushed and `fsync`ed, then renamed
/// over `path`; then the directory is `fsync`ed (best effort, Unix only). On
/// error the temporary file is removed and `path` is untouched. A new file
/// gets the permissions `File::create` would give it; a replaced file keeps
/// its permissions.
///
/// A symbolic link at `path` is followed: its target is replaced that way,
/// beside the target, and the link stays. A character device, a FIFO or
/// another special file (`/dev/null`) is opened and written in place,
/// without a temporary file (so not atomically: a reader of a FIFO sees the
/// bytes as they come).
///
/// # Errors
/// [`Error::Io`] with `path` if any step fails (missing directory, `path` is
/// a folder, disk full, …).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("model.safetensors");
/// backprop::model_io::write_atomic(&path, b"one")?;
/// backprop::model_io::write_atomic(&path, b"two")?;
/// assert_eq!(std::fs::read(&path).unwrap(), b"two");
/// assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1); // no temporary left
/// assert!(backprop::model_io::write_atomic(dir.path(), b"x").is_err()); // a folder
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// [`write_atomic`] for contents produced as they are written (predictions
/// streamed chunk by chunk): `write` writes them into a buffered temporary
/// file, which replaces `path` only if it returns `Ok` — on an error the
/// old file stays and no partial file is left. (A device or FIFO gets the
/// bytes as they are written.)
///
/// # Errors
/// [`Error::Io`] naming `path`; `write`'s own error.
pub fn write_atomic_by(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let mut failed = None;
    let written = write_atomic_with(path, |file| {
        let mut buf = io::BufWriter::with_capacity(1 << 16, file);
        match write(&mut buf) {
            Ok(()) => buf.flush(),
            Err(e) => {
                failed = Some(e);
                Err(io::Error::other("not written"))
            }
        }
    });
    match failed {
        Some(e) => Err(e),
        None => written,
    }
}

/// [`write_atomic`] with the writing of the contents done by `write` (so tests
/// can make it fail half-way, as a full disk would).
pub(super) fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut fs::File) -> io::Result<()>,
) -> Result<()> {
    let io_err = |source: io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    match resolve(path).map_err(io_err)? {
        Output::Replace(target) => replace(&target, write).map_err(io_err),
        Output::InPlace(target) => {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(io_err)?;
            write(&mut file).map_err(io_err)?;
            file.flush().map_err(io_err)
        }
        Output::Folder(target) => Err(io_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            match target == path {
                true => "is a folder, not a file".to_string(),
                false => format!("links to the folder {}, not a file", target.display()),
            },
        ))),
    }
}

/// Replaces the regular file (or new name) `path` by what `write` writes,
/// through a temporary file in its folder.
fn replace(path: &Path, write: impl FnOnce(&mut fs::File) -> io::Result<()>) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = folder_of(path);
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The mode `File::create` uses; the umask applies to it as usual.
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    // From here on, dropping `tmp` on an early return deletes the temporary file.
    if let Ok(old) = fs::metadata(path) {
        if old.is_file() {
            fs::set_permissions(tmp.path(), old.permissions())?;
        }
    }
    write(tmp.as_file_mut())?;
    tmp.flush()?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        // Makes the rename itself durable; some filesystems refuse, which is fine.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_write_failing_half_way_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        write_atomic(&path, b"the old model").unwrap();
        let err = write_atomic_with(&path, |f| {
            f.write_all(b"half of the new")?;
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), format!("{}: disk full", path.display()));
        assert_eq!(fs::read(&path).unwrap(), b"the old model");
        assert_eq!(
            names(dir.path()),
            ["model.safetensors"],
            "the temporary file is removed"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_written_through_and_kept() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let target = real.join("model.safetensors");
        fs::write(&target, b"old").unwrap();
        // a relative link, read from the link's own folder, through a second link
        let link = dir.path().join("link.safetensors");
        symlink("real/model.safetensors", &link).unwrap();
        let link2 = dir.path().join("link2");
        symlink(&link, &link2).unwrap();
        write_atomic(&link2, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        for l in [&link, &link2] {
            assert!(fs::symlink_metadata(l).unwrap().file_type().is_symlink());
        }
        assert_eq!(names(&real), ["model.safetensors"], "no temporary left");
        assert_eq!(names(dir.path()), ["link.safetensors", "link2", "real"]);
        // a dangling link creates its target
        let dangling = dir.path().join("dangling");
        symlink("real/new.svg", &dangling).unwrap();
        write_atomic(&dangling, b"svg").unwrap();
        assert_eq!(fs::read(real.join("new.svg")).unwrap(), b"svg");
        assert!(fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
        // a cycle is an error naming the link
        let a = dir.path().join("a");
        symlink("b", &a).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        let err = write_atomic(&a, b"x").unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("{}: ", a.display())),
            "{err}"
        );
    }

    #[test]
    fn a_folder_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("models");
        fs::create_dir(&folder).unwrap();
        let err = write_atomic(&folder, b"x").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: is a folder, not a file", folder.display())
        );
        assert!(names(&folder).is_empty());
        #[cfg(unix)]
        {
            let link = dir.path().join("to-models");
            std::os::unix::fs::symlink(&folder, &link).unwrap();
            let err = write_atomic(&link, b"x").unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{}: links to the folder {}, not a file",
                    link.display(),
                    folder.display()
                )
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_in_place() {
        use std::io::Read;
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        match Command::new("mkfifo").arg(&fifo).status() {
            Ok(s) if s.success() => {}
            other => {
                println!("skipped: mkfifo failed: {other:?}");
                return;
            }
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                fs::File::open(&fifo)
                    .unwrap()
                    .read_to_end(&mut got)
                    .unwrap();
                got
            })
        };
        write_atomic_by(&fifo, |w| {
            w.write_all(b"streamed ")
                .and_then(|()| w.write_all(b"rows"))
                .map_err(|source| Error::Io {
                    path: fifo.clone(),
                    source,
                })
        })
        .unwrap();
        // before joining: a FIFO replaced by a file would leave the reader waiting
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(reader.join().unwrap(), b"streamed rows");
        assert_eq!(names(dir.path()), ["pipe"], "no temporary file");
    }

    #[cfg(unix)]
    #[test]
    fn a_character_device_is_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let null = dir.path().join("null");
        // the null device (1, 3); needs root, and a filesystem that allows devices
        match Command::new("mknod")
            .arg(&null)
            .args(["c", "1", "3"])
            .output()
        {
            Ok(o) if o.status.success() => {}
            other => {
                println!("skipped: mknod failed (not root?): {other:?}");
                return;
            }
        }
        if let Err(e) = fs::OpenOptions::new().write(true).open(&null) {
            println!("skipped: the device node cannot be opened here (nodev?): {e}");
            return;
        }
        write_atomic(&null, b"a model").unwrap();
        write_atomic(&null, b"another").unwrap();
        let kind = fs::symlink_metadata(&null).unwrap().file_type();
        assert!(kind.is_char_device(), "{kind:?}");
        assert_eq!(names(dir.path()), ["null"], "no temporary file");
        // through a link too
        let link = dir.path().join("out.safetensors");
        std::os::unix::fs::symlink(&null, &link).unwrap();
        write_atomic(&link, b"x").unwrap();
        assert!(fs::symlink_metadata(&null)
            .unwrap()
            .file_type()
            .is_char_device());
    }

    #[test]
    fn identity_sees_through_spellings_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let dotted = dir.path().join(".").join("sub").join("..").join("a");
        fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(identity(&a), identity(&dotted));
        assert_ne!(identity(&a), identity(&dir.path().join("b")));
        #[cfg(unix)]
        {
            let link = dir.path().join("sub/link");
            std::os::unix::fs::symlink("../a", &link).unwrap();
            assert_eq!(identity(&a), identity(&link));
        }
    }

    #[test]
    fn resolve_names_what_a_path_is() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new");
        assert_eq!(resolve(&new).unwrap(), Output::Replace(new.clone()));
        assert_eq!(
            resolve(dir.path()).unwrap(),
            Output::Folder(dir.path().to_path_buf())
        );
        #[cfg(unix)]
        assert_eq!(
            resolve(Path::new("/dev/null")).unwrap(),
            Output::InPlace("/dev/null".into())
        );
    }
}
