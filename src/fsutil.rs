//! Writing files so that a crash or a full disk never leaves half a file behind: write
//! to a temporary file in the same folder, flush it to disk, then rename over the target.

use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    path.with_file_name(format!(".{name}.astroperf-tmp-{}", std::process::id()))
}

/// Write `path` atomically with `fill` producing the content.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    write_temp_then(path, fill, |tmp| std::fs::rename(tmp, path)).map_err(|e| Error::io(path, e))
}

/// Writes `fill`'s content to a temporary file beside `path`, syncs it, then lets `place`
/// move it into place; on any error the temporary file is removed.
fn write_temp_then(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
    place: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let f = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::new(f);
        fill(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        drop(w);
        place(&tmp)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Refuse to replace files the user already has: `Err` naming the first of `paths` that
/// exists (the CLI adds `--force` to go ahead; the GUI asks).
pub fn refuse_existing(paths: &[PathBuf]) -> Result<()> {
    match paths.iter().find(|p| p.symlink_metadata().is_ok()) {
        Some(p) => Err(Error::param(format!(
            "{} already exists; add --force to overwrite it",
            p.display()
        ))),
        None => Ok(()),
    }
}

/// Like [`write_atomic`], but never replaces an existing `path`: the finished temporary
/// file is hard-linked to `path`, which fails if `path` appeared in the meantime (on file
/// systems without hard links: checked, then renamed).
pub fn write_atomic_new(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    refuse_existing(&[path.to_path_buf()])?;
    let result = write_temp_then(path, fill, |tmp| match std::fs::hard_link(tmp, path) {
        Ok(()) => std::fs::remove_file(tmp),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) if path.symlink_metadata().is_ok() => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "already exists",
        )),
        Err(_) => std::fs::rename(tmp, path),
    });
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            return refuse_existing(&[path.to_path_buf()]);
        }
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Atomic `std::fs::write`.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_writes_leave_the_old_file_and_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.csv");
        write_bytes(&p, b"old").expect("write");
        let err = write_atomic(&p, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&p).expect("read"), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "temp file left behind: {names:?}");
        write_bytes(&p, b"new").expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"new");
    }

    #[test]
    fn new_files_never_replace_existing_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.json");
        write_atomic_new(&p, |w| w.write_all(b"first")).expect("write");
        let err = write_atomic_new(&p, |w| w.write_all(b"second")).expect_err("exists");
        assert!(err.to_string().contains("already exists"), "{err}");
        assert!(err.to_string().contains("a.json"), "{err}");
        assert_eq!(std::fs::read(&p).expect("read"), b"first");
        // A failing writer leaves neither the target nor a temporary file.
        let q = dir.path().join("b.json");
        let err = write_atomic_new(&q, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert!(!q.exists());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(refuse_existing(&[q.clone(), p.clone()]).is_err());
        assert!(refuse_existing(&[q]).is_ok());
    }
}
