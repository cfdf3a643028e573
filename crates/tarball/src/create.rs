//! Reproducible `.tar.gz` creation.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::GzBuilder;
use tar::{EntryType, Header};

use crate::{TarballError, io_error, valid_top_dir};

/// Packs the contents of `source` under `top_dir/` into gzip-compressed tar bytes.
pub fn create_tarball(source: &Path, top_dir: &str) -> Result<Vec<u8>, TarballError> {
    let mut out = Vec::new();
    write_tarball(source, top_dir, &mut out)?;
    Ok(out)
}

/// Like [`create_tarball`], writing to `out`.
pub fn write_tarball(source: &Path, top_dir: &str, out: impl Write) -> Result<(), TarballError> {
    if !valid_top_dir(top_dir) {
        return Err(TarballError::InvalidTopDir(top_dir.to_owned()));
    }
    let mut entries = Vec::new();
    collect(source, Path::new(""), &mut entries)?;

    // No file name and mtime 0 in the gzip header, so only the contents count.
    let gzip = GzBuilder::new().mtime(0).write(out, Compression::default());
    let mut archive = tar::Builder::new(gzip);
    append(&mut archive, &format!("{top_dir}/"), None)?;
    for entry in &entries {
        let name = format!("{top_dir}/{}", entry.relative);
        match &entry.file {
            None => append(&mut archive, &format!("{name}/"), None)?,
            Some(file) => append(&mut archive, &name, Some(file))?,
        }
    }
    let gzip = archive.into_inner().map_err(io_error("Writing the tar stream"))?;
    gzip.finish().map_err(io_error("Finishing the gzip stream"))?;
    Ok(())
}

struct SourceEntry {
    /// `/`-separated path below the top directory.
    relative: String,
    /// The file to read and whether it is executable; `None` for a directory.
    file: Option<(PathBuf, bool)>,
}

/// Lists `dir` depth-first, each directory before its contents, names in byte
/// order (as `tar --sort=name`).
fn collect(root: &Path, relative: &Path, out: &mut Vec<SourceEntry>) -> Result<(), TarballError> {
    let dir = root.join(relative);
    let mut names: Vec<_> = fs::read_dir(&dir)
        .map_err(io_error(format!("Reading directory {}", dir.display())))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io_error(format!("Reading directory {}", dir.display())))?;
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let path = dir.join(&name);
        let rel = relative.join(&name);
        let text = rel.to_str().ok_or_else(|| TarballError::UnsupportedSource {
            path: path.clone(),
            reason: "file names must be valid UTF-8".into(),
        })?;
        let text = text.replace(std::path::MAIN_SEPARATOR, "/");
        let meta = fs::symlink_metadata(&path).map_err(io_error(format!("Reading {}", path.display())))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Err(TarballError::UnsupportedSource {
                path,
                reason: "symbolic links are not packaged; copy the file it points to instead".into(),
            });
        } else if kind.is_dir() {
            out.push(SourceEntry { relative: text, file: None });
            collect(root, &rel, out)?;
        } else if kind.is_file() {
            out.push(SourceEntry { relative: text, file: Some((path, is_executable(&meta))) });
        } else {
            return Err(TarballError::UnsupportedSource {
                path,
                reason: "only regular files and directories can be packaged".into(),
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

fn append<W: Write>(
    archive: &mut tar::Builder<W>,
    name: &str,
    file: Option<&(PathBuf, bool)>,
) -> Result<(), TarballError> {
    let mut header = Header::new_gnu();
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    match file {
        None => {
            header.set_entry_type(EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            archive
                .append_data(&mut header, name, std::io::empty())
                .map_err(io_error(format!("Adding {name}")))
        }
        Some((path, executable)) => {
            // Streamed, not read whole: memory stays small whatever the file's size.
            let file = fs::File::open(path).map_err(io_error(format!("Reading {}", path.display())))?;
            let size = file.metadata().map_err(io_error(format!("Reading {}", path.display())))?.len();
            header.set_entry_type(EntryType::Regular);
            header.set_mode(if *executable { 0o755 } else { 0o644 });
            header.set_size(size);
            archive
                .append_data(&mut header, name, file.take(size))
                .map_err(io_error(format!("Adding {name}")))
        }
    }
}
