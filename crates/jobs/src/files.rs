//! A package's files on disk: listing them for the packaging rules, copying the
//! selected ones, finding its modules and reading its text files.
//!
//! Everything here works on a package that [`crate::secure::secure_package`] has
//! made safe (only directories and regular files), and still never follows a
//! link itself: a link met here is listed as leading outside and never read, so no
//! walk can loop or leave the package whatever the directory holds.

use std::io::Read;
use std::path::Path;

use registry_core::glob::{EntryKind, Tree};

use crate::Failure;

/// Why reading a package file failed; `display` is the path inside the package.
fn io(what: &str, display: &str, err: std::io::Error) -> Failure {
    Failure(format!("{what} {display} in the package failed: {}", err.kind()))
}

/// Lists `root` as a [`Tree`], without following links. Links still present are
/// listed as [`EntryKind::Outside`], as are the paths of `outside_links` (links
/// that were removed because they lead outside the package), so the packaging
/// rules can refuse or drop them. The root's `.git` is not listed.
pub fn list_tree(root: &Path, outside_links: &[String]) -> Result<Tree, Failure> {
    let mut entries: Vec<(String, EntryKind)> = Vec::new();
    let mut pending: Vec<String> = vec![String::new()];
    while let Some(rel) = pending.pop() {
        let dir = root.join(&rel);
        let shown = if rel.is_empty() { "." } else { rel.as_str() };
        for entry in std::fs::read_dir(&dir).map_err(|e| io("Listing", shown, e))? {
            let entry = entry.map_err(|e| io("Listing", shown, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if rel.is_empty() && name == ".git" {
                continue;
            }
            let rel_path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            // `file_type` is the entry's own type (lstat): a link is never followed.
            let kind = entry.file_type().map_err(|e| io("Reading", &rel_path, e))?;
            let kind = if kind.is_dir() {
                pending.push(rel_path.clone());
                EntryKind::Dir
            } else if kind.is_file() {
                EntryKind::File
            } else {
                EntryKind::Outside
            };
            entries.push((rel_path, kind));
        }
    }
    entries.extend(outside_links.iter().map(|p| (p.clone(), EntryKind::Outside)));
    Tree::new(entries).map_err(Failure)
}

/// Copies the files and directories of `tree` from `from` to `to`; only regular
/// files are copied (the tree's outside links are skipped).
pub fn copy_tree(tree: &Tree, from: &Path, to: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(to).map_err(|e| io("Creating", "the packaging directory", e))?;
    for (rel, kind) in tree.entries() {
        let source = from.join(rel);
        let target = to.join(rel);
        match kind {
            EntryKind::Dir => std::fs::create_dir_all(&target).map_err(|e| io("Creating", rel, e))?,
            EntryKind::File => {
                // Checked again here: nothing but a regular file of the package is copied.
                let meta = std::fs::symlink_metadata(&source).map_err(|e| io("Reading", rel, e))?;
                if !meta.is_file() {
                    return Err(Failure(format!(
                        "{rel} is not a regular file of the package; remove it and publish again."
                    )));
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io("Creating", rel, e))?;
                }
                std::fs::copy(&source, &target).map_err(|e| io("Copying", rel, e))?;
            }
            EntryKind::Outside => {}
        }
    }
    Ok(())
}

/// `.purs` files below `dir`, relative to `dir`, sorted. Links are not followed
/// (and a link named `*.purs` is not listed), so the walk ends whatever the
/// directory holds.
pub fn purs_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![String::new()];
    while let Some(rel) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel_path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                pending.push(rel_path);
            } else if kind.is_file() && name.ends_with(".purs") {
                found.push(rel_path);
            }
        }
    }
    found.sort();
    found
}

/// Reads the regular file `rel` of `root` as UTF-8 text of at most `limit` bytes,
/// without following a link; `Ok(None)` when there is nothing at `rel`. The error
/// says what is wrong with the file (without its contents or any server path).
pub fn read_package_text(root: &Path, rel: &str, limit: u64) -> Result<Option<String>, String> {
    let path = root.join(rel);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot be read ({})", e.kind())),
    };
    if meta.is_symlink() {
        return Err("is a symbolic link, which the registry does not follow".to_owned());
    }
    if !meta.is_file() {
        return Err("is not a regular file".to_owned());
    }
    if meta.len() > limit {
        return Err(format!("is {} bytes, more than the limit of {limit} bytes", meta.len()));
    }
    let file = std::fs::File::open(&path).map_err(|e| format!("cannot be read ({})", e.kind()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot be read ({})", e.kind()))?;
    if bytes.len() as u64 > limit {
        return Err(format!("is more than the limit of {limit} bytes"));
    }
    String::from_utf8(bytes).map(Some).map_err(|_| "is not UTF-8 text".to_owned())
}

/// Regular files at the top of `dir` up to 1 MB (licence files and manifests for
/// licence detection), as (name, contents). Links are not read.
pub fn root_text_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return files };
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(Some(text)) = read_package_text(dir, &name, 1_000_000) {
            files.push((name, text));
        }
    }
    files.sort();
    files
}

/// Copies `from` to `to` (which must not exist), refusing anything but regular
/// files and directories: for trees the registry made itself, such as what ships.
pub fn copy_plain_tree(from: &Path, to: &Path) -> Result<(), Failure> {
    copy_plain_below(from, to, "")
}

fn copy_plain_below(from: &Path, to: &Path, rel: &str) -> Result<(), Failure> {
    let shown = if rel.is_empty() { "." } else { rel };
    std::fs::create_dir(to).map_err(|e| io("Creating", shown, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io("Listing", shown, e))? {
        let entry = entry.map_err(|e| io("Listing", shown, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| io("Reading", &rel, e))?;
        if kind.is_dir() {
            copy_plain_below(&source, &target, &rel)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target).map_err(|e| io("Copying", &rel, e))?;
        } else {
            return Err(Failure(format!(
                "{rel} is neither a file nor a directory; this is a bug in the registry."
            )));
        }
    }
    Ok(())
}
