//! Package tarballs: reproducible creation and defensive extraction.
//!
//! A tarball holds one top directory, `<name>-<version>/`, with the package files
//! below it. Creation is reproducible: the same files give the same bytes whatever
//! their timestamps, owners or listing order (entries sorted by name, mtime 0,
//! uid/gid 0 without owner names, normalised modes, gzip header without name or
//! time) — the properties upstream gets from `tar --sort=name --mtime=@0
//! --owner=0 --group=0 --numeric-owner`. Extraction accepts only plain files and
//! directories below that one top directory, within size limits.

mod create;
mod extract;

pub use create::{create_tarball, write_tarball};
pub use extract::{Extracted, Limits, extract_tarball};

use std::path::PathBuf;

/// Why a tarball could not be made or unpacked.
#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The source directory holds something a package tarball cannot contain.
    #[error("Cannot package {path}: {reason}")]
    UnsupportedSource { path: PathBuf, reason: String },
    /// The archive tries something unsafe or is not a package tarball.
    #[error("Refusing to extract the tarball: {0}")]
    Unsafe(String),
    /// The archive is larger than allowed.
    #[error("Refusing to extract the tarball: {0}")]
    TooLarge(String),
    #[error("Invalid top directory name '{0}': it must be a single path segment such as 'prelude-6.0.1'")]
    InvalidTopDir(String),
}

pub(crate) fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> TarballError {
    let context = context.into();
    move |source| TarballError::Io { context, source }
}

/// A top directory must be one normal path segment.
pub(crate) fn valid_top_dir(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}
