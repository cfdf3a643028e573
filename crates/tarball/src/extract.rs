//! Defensive `.tar.gz` extraction.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use tar::EntryType;

use crate::{TarballError, io_error, valid_top_dir};

/// Bounds on what an archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
}

/// Generous for packages (whose tarballs are at most 2 MB compressed) while
/// stopping decompression bombs.
impl Default for Limits {
    fn default() -> Self {
        Limits { max_entries: 20_000, max_file_bytes: 64 * 1024 * 1024, max_total_bytes: 256 * 1024 * 1024 }
    }
}

/// What an extraction produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The archive's top directory, now at `dest/<top_dir>`.
    pub top_dir: String,
    /// Files below the top directory, `/`-separated, in archive order.
    pub files: Vec<String>,
    /// Bytes written.
    pub total_bytes: u64,
}

/// Unpacks a gzip-compressed package tarball into `dest`, which must exist;
/// `dest/<top_dir>` must not. Only directories and regular files below a single
/// top directory (`expected_top_dir` if given) are accepted: links, devices,
/// absolute paths, `..` and anything beyond `limits` stop the extraction with an
/// error (files written so far are left for the caller to remove).
pub fn extract_tarball(
    archive: impl Read,
    dest: &Path,
    expected_top_dir: Option<&str>,
    limits: &Limits,
) -> Result<Extracted, TarballError> {
    if !dest.is_dir() {
        return Err(TarballError::Io {
            context: format!("Extracting into {}", dest.display()),
            source: io::Error::new(io::ErrorKind::NotFound, "the destination directory does not exist"),
        });
    }
    let mut archive = tar::Archive::new(GzDecoder::new(archive));
    let mut top: Option<String> = expected_top_dir.map(str::to_owned);
    let mut created_top = false;
    let mut files = Vec::new();
    let (mut count, mut total) = (0usize, 0u64);

    for entry in archive.entries().map_err(io_error("Reading the tarball"))? {
        let mut entry = entry.map_err(io_error("Reading the tarball"))?;
        count += 1;
        if count > limits.max_entries {
            return Err(TarballError::TooLarge(format!("it has more than {} entries", limits.max_entries)));
        }
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let segments = safe_segments(&raw_path)?;
        let (first, rest) = segments
            .split_first()
            .ok_or_else(|| TarballError::Unsafe("an entry has an empty path".into()))?;
        match &top {
            None => {
                if !valid_top_dir(first) {
                    return Err(TarballError::Unsafe(format!("'{shown}' has no top directory")));
                }
                top = Some(first.clone());
            }
            Some(t) if t != first => {
                return Err(TarballError::Unsafe(format!(
                    "'{shown}' is outside the top directory '{t}/' (a package tarball has exactly one)"
                )));
            }
            Some(_) => {}
        }
        let top_dir = dest.join(first);
        if !created_top {
            fs::create_dir(&top_dir).map_err(io_error(format!("Creating {}", top_dir.display())))?;
            created_top = true;
        }
        let target: PathBuf = rest.iter().fold(top_dir.clone(), |p, s| p.join(s));
        match entry.header().entry_type() {
            EntryType::Directory => {
                fs::create_dir_all(&target).map_err(io_error(format!("Creating {}", target.display())))?;
            }
            EntryType::Regular | EntryType::Continuous => {
                if rest.is_empty() {
                    return Err(TarballError::Unsafe(format!(
                        "'{shown}' is a file where the top directory should be"
                    )));
                }
                let size =
                    entry.header().size().map_err(io_error(format!("Reading the size of '{shown}'")))?;
                if size > limits.max_file_bytes {
                    return Err(TarballError::TooLarge(format!(
                        "'{shown}' is {size} bytes, more than the limit of {}",
                        limits.max_file_bytes
                    )));
                }
                total += size;
                if total > limits.max_total_bytes {
                    return Err(TarballError::TooLarge(format!(
                        "its files add up to more than {} bytes",
                        limits.max_total_bytes
                    )));
                }
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).map_err(io_error(format!("Creating {}", parent.display())))?;
                }
                // `create_new` refuses to reuse a path: duplicate entries cannot
                // overwrite what an earlier entry wrote.
                let mut out = fs::File::create_new(&target)
                    .map_err(io_error(format!("Creating {} (duplicate entry?)", target.display())))?;
                let written = io::copy(&mut (&mut entry).take(size), &mut out)
                    .map_err(io_error(format!("Writing {}", target.display())))?;
                out.flush().map_err(io_error(format!("Writing {}", target.display())))?;
                if written != size {
                    return Err(TarballError::Unsafe(format!("'{shown}' is truncated")));
                }
                files.push(rest.join("/"));
            }
            EntryType::Symlink | EntryType::Link => {
                return Err(TarballError::Unsafe(format!(
                    "'{shown}' is a link; package tarballs may not contain links"
                )));
            }
            other => {
                return Err(TarballError::Unsafe(format!(
                    "'{shown}' is of type {other:?}; only files and directories are allowed"
                )));
            }
        }
    }
    let top_dir =
        top.filter(|_| created_top).ok_or_else(|| TarballError::Unsafe("the archive is empty".into()))?;
    Ok(Extracted { top_dir, files, total_bytes: total })
}

/// The path's normal segments; absolute paths and `..` are refused.
fn safe_segments(raw: &[u8]) -> Result<Vec<String>, TarballError> {
    let text = std::str::from_utf8(raw).map_err(|_| {
        TarballError::Unsafe(format!("'{}' is not valid UTF-8", String::from_utf8_lossy(raw)))
    })?;
    if text.contains('\\') || text.contains('\0') {
        return Err(TarballError::Unsafe(format!("'{text}' contains a backslash or NUL")));
    }
    let mut segments = Vec::new();
    for component in Path::new(text).components() {
        match component {
            Component::Normal(s) => segments.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err(TarballError::Unsafe(format!("'{text}' contains '..'"))),
            Component::RootDir | Component::Prefix(_) => {
                return Err(TarballError::Unsafe(format!("'{text}' is an absolute path")));
            }
        }
    }
    Ok(segments)
}
