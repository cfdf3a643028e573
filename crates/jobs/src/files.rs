//! A package's files on disk: listing them for the packaging rules (links
//! resolved, anything leading outside the package marked as such), copying the
//! selected ones, and finding its modules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use registry_core::glob::{EntryKind, Tree};

use crate::Failure;

fn io(what: &str, path: &Path, err: std::io::Error) -> Failure {
    Failure(format!("{what} {} failed: {err}", path.display()))
}

/// Lists `root` as a [`Tree`]. A symbolic link is listed as what it points to when
/// that is inside `root`, and as [`EntryKind::Outside`] otherwise (or when it
/// dangles), so the packaging rules can refuse or drop it. The root's `.git` is
/// not listed.
pub fn list_tree(root: &Path) -> Result<Tree, Failure> {
    let real_root = root.canonicalize().map_err(|e| io("Reading", root, e))?;
    let mut entries: Vec<(String, EntryKind)> = Vec::new();
    let mut visited: BTreeSet<PathBuf> = BTreeSet::from([real_root.clone()]);
    let mut pending: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| io("Listing", &dir, e))? {
            let entry = entry.map_err(|e| io("Listing", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if rel.is_empty() && name == ".git" {
                continue;
            }
            let path = entry.path();
            let rel_path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let kind = match path.canonicalize() {
                Ok(real) if real.starts_with(&real_root) => {
                    if real.is_dir() {
                        // A link back up the tree would loop: list it once.
                        if visited.insert(real) {
                            pending.push((path.clone(), rel_path.clone()));
                        }
                        EntryKind::Dir
                    } else {
                        EntryKind::File
                    }
                }
                _ => EntryKind::Outside,
            };
            entries.push((rel_path, kind));
        }
    }
    Tree::new(entries).map_err(Failure)
}

/// Copies the files and directories of `tree` from `from` to `to` (links are
/// copied as the files they point to; the tree holds no outside links).
pub fn copy_tree(tree: &Tree, from: &Path, to: &Path) -> Result<(), Failure> {
    let real_root = from.canonicalize().map_err(|e| io("Reading", from, e))?;
    std::fs::create_dir_all(to).map_err(|e| io("Creating", to, e))?;
    for (rel, kind) in tree.entries() {
        let source = from.join(rel);
        let target = to.join(rel);
        // Checked again here: nothing outside the package may be copied, whatever the listing said.
        let real = source.canonicalize().map_err(|e| io("Reading", &source, e))?;
        if !real.starts_with(&real_root) {
            return Err(Failure(format!(
                "{rel} resolves outside the package directory; remove the link or the file and publish again."
            )));
        }
        match kind {
            EntryKind::Dir => std::fs::create_dir_all(&target).map_err(|e| io("Creating", &target, e))?,
            EntryKind::File => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io("Creating", parent, e))?;
                }
                std::fs::copy(&source, &target).map_err(|e| io("Copying", &source, e))?;
            }
            EntryKind::Outside => {}
        }
    }
    Ok(())
}

/// `.purs` files below `dir`, relative to `dir`, sorted.
pub fn purs_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((current, rel)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel_path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let path = entry.path();
            if path.is_dir() {
                pending.push((path, rel_path));
            } else if name.ends_with(".purs") {
                found.push(rel_path);
            }
        }
    }
    found.sort();
    found
}

/// Regular files at the top of `dir` up to 1 MB (licence files and manifests for
/// licence detection), as (name, contents).
pub fn root_text_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return files };
    for entry in entries.flatten() {
        let path = entry.path();
        let small_file = std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= 1_000_000);
        if small_file && let Ok(text) = std::fs::read_to_string(&path) {
            files.push((entry.file_name().to_string_lossy().into_owned(), text));
        }
    }
    files.sort();
    files
}

/// Copies `from` to `to` (which must not exist), refusing anything but regular
/// files and directories: for trees the registry made itself, such as what ships.
pub fn copy_plain_tree(from: &Path, to: &Path) -> Result<(), Failure> {
    std::fs::create_dir(to).map_err(|e| io("Creating", to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io("Listing", from, e))? {
        let entry = entry.map_err(|e| io("Listing", from, e))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| io("Reading", &source, e))?;
        if kind.is_dir() {
            copy_plain_tree(&source, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target).map_err(|e| io("Copying", &source, e))?;
        } else {
            return Err(Failure(format!(
                "{} is neither a file nor a directory; this is a bug in the registry.",
                entry.file_name().to_string_lossy()
            )));
        }
    }
    Ok(())
}
