//! Making a fetched package safe to read.
//!
//! The author controls every byte of the repository, links included: a
//! `src/X.purs` linking to `/etc/shadow` or `/dev/zero`, or `src/a → .` beside
//! `src/b → .` (a walk that follows them visits 2^depth paths). Right after the
//! fetch, one walk that never follows a link turns the package into plain
//! directories and regular files: a link to a regular file inside the package
//! becomes a copy of that file, any other link is removed and reported. Every
//! later step (our reads, `purs`, `dhall-to-json`) then sees a tree from which
//! no read can escape and no walk can loop.

use std::path::Path;

use registry_tarball::Limits;

use crate::Failure;

/// Most entries (files, directories, links) a package's source may have. The
/// source holds more than what ships (tests, docs), so this is a multiple of
/// what installation accepts; what ships is held to [`Limits`] itself.
pub const MAX_SOURCE_ENTRIES: usize = 5 * 20_000;

/// Longest path inside a package, in bytes: far beyond what packages use, and
/// short enough that the path stays valid below any work directory.
pub const MAX_PATH_BYTES: usize = 1024;

/// What [`secure_package`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Secured {
    /// Removed links that lead outside the package (or nowhere, or to something
    /// other than a file or directory): the packaging rules see them as outside links.
    pub outside: Vec<String>,
    /// Removed links to directories inside the package (never followed).
    pub directory_links: Vec<String>,
    /// Links replaced by a copy of the package file they point to.
    pub copied: Vec<String>,
}

/// Makes `root` hold only directories and regular files (see the module docs).
/// Links to files inside are copied within the installation limits' per-file and
/// total sizes; the walk stops at [`MAX_SOURCE_ENTRIES`] entries and refuses paths
/// longer than [`MAX_PATH_BYTES`]. The root's `.git` is left alone.
pub fn secure_package(root: &Path, limits: &Limits) -> Result<Secured, Failure> {
    let real_root = root.canonicalize().map_err(|e| {
        Failure(format!("Reading the package directory failed ({}); please report this.", e.kind()))
    })?;
    let mut secured = Secured::default();
    let (mut count, mut copied_bytes) = (0usize, 0u64);
    let mut pending: Vec<String> = vec![String::new()];
    while let Some(rel) = pending.pop() {
        let shown = if rel.is_empty() { "." } else { rel.as_str() };
        let entries = std::fs::read_dir(root.join(&rel)).map_err(|e| unreadable(shown, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| unreadable(shown, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if rel.is_empty() && name == ".git" {
                continue;
            }
            let rel_path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            if rel_path.len() > MAX_PATH_BYTES {
                return Err(Failure(format!(
                    "The path '{}…' in the package is {} bytes long, more than the limit of {MAX_PATH_BYTES} bytes; \
                     shorten it (or remove it) and publish again.",
                    rel_path.chars().take(80).collect::<String>(),
                    rel_path.len()
                )));
            }
            count += 1;
            if count > MAX_SOURCE_ENTRIES {
                return Err(Failure(format!(
                    "The package has more than {MAX_SOURCE_ENTRIES} files, directories and links, more than the \
                     registry reads; remove what the package does not need and publish again."
                )));
            }
            let kind = entry.file_type().map_err(|e| unreadable(&rel_path, e))?;
            if kind.is_dir() {
                pending.push(rel_path);
            } else if kind.is_symlink() {
                let path = root.join(&rel_path);
                match resolve(&path, &real_root) {
                    Target::File(real, size) => {
                        copied_bytes += size;
                        if size > limits.max_file_bytes || copied_bytes > limits.max_total_bytes {
                            return Err(Failure(format!(
                                "The link {rel_path} points to a file of {size} bytes, and the files that links \
                                 copy may have at most {} bytes each and {} bytes together (what a package may \
                                 hold when installed); replace the link with a smaller file and publish again.",
                                limits.max_file_bytes, limits.max_total_bytes
                            )));
                        }
                        std::fs::remove_file(&path).map_err(|e| unreadable(&rel_path, e))?;
                        std::fs::copy(&real, &path).map_err(|e| unreadable(&rel_path, e))?;
                        secured.copied.push(rel_path);
                    }
                    Target::Directory => {
                        std::fs::remove_file(&path).map_err(|e| unreadable(&rel_path, e))?;
                        secured.directory_links.push(rel_path);
                    }
                    Target::Outside => {
                        std::fs::remove_file(&path).map_err(|e| unreadable(&rel_path, e))?;
                        secured.outside.push(rel_path);
                    }
                }
            } else if !kind.is_file() {
                return Err(Failure(format!(
                    "{rel_path} is neither a regular file, a directory nor a link; remove it and publish again."
                )));
            }
        }
    }
    for list in [&mut secured.outside, &mut secured.directory_links, &mut secured.copied] {
        list.sort();
    }
    Ok(secured)
}

fn unreadable(shown: &str, err: std::io::Error) -> Failure {
    Failure(format!("Reading {shown} in the package failed ({}); please report this.", err.kind()))
}

enum Target {
    /// A regular file inside the package: its real path and size.
    File(std::path::PathBuf, u64),
    /// A directory inside the package.
    Directory,
    /// Outside the package, dangling, looping, or not a file or directory.
    Outside,
}

/// Where the link at `path` leads, without reading anything there.
fn resolve(path: &Path, real_root: &Path) -> Target {
    let Ok(real) = path.canonicalize() else { return Target::Outside };
    // The clone's `.git` is the server's (its config names the remote), not the package's.
    if !real.starts_with(real_root) || real.starts_with(real_root.join(".git")) {
        return Target::Outside;
    }
    match std::fs::symlink_metadata(&real) {
        Ok(meta) if meta.is_file() => Target::File(real, meta.len()),
        Ok(meta) if meta.is_dir() => Target::Directory,
        _ => Target::Outside,
    }
}

/// At most `max` of `paths`, comma-separated, then how many more there are: the
/// job log stays short whatever the package holds.
pub fn some_paths(paths: &[String], max: usize) -> String {
    let mut text = paths.iter().take(max).cloned().collect::<Vec<_>>().join(", ");
    if paths.len() > max {
        text.push_str(&format!(" and {} more", paths.len() - max));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn links_become_files_or_go_and_nothing_outside_is_read() {
        let outer = tempfile::tempdir().unwrap();
        let secret = outer.path().join("secret");
        std::fs::write(&secret, "MARKER").unwrap();
        let root = outer.path().join("pkg");
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::write(root.join("src/A.purs"), "module A where\n").unwrap();
        symlink("A.purs", root.join("src/B.purs")).unwrap();
        symlink(&secret, root.join("src/Secret.purs")).unwrap();
        symlink("/dev/zero", root.join("src/Zero.purs")).unwrap();
        symlink("missing", root.join("src/Dangling.purs")).unwrap();
        symlink(".", root.join("src/a")).unwrap();
        symlink("..", root.join("src/deep/up")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join(".git/config"), "url = MARKER").unwrap();
        symlink("../.git/config", root.join("src/Config.purs")).unwrap();
        let secured = secure_package(&root, &Limits::default()).unwrap();
        assert_eq!(secured.copied, ["src/B.purs"]);
        assert_eq!(
            secured.outside,
            ["src/Config.purs", "src/Dangling.purs", "src/Secret.purs", "src/Zero.purs"]
        );
        assert_eq!(secured.directory_links, ["src/a", "src/deep/up"]);
        assert_eq!(std::fs::read_to_string(root.join("src/B.purs")).unwrap(), "module A where\n");
        assert!(std::fs::symlink_metadata(root.join("src/B.purs")).unwrap().is_file());
        assert!(!root.join("src/Secret.purs").exists() && !root.join("src/a").exists());
    }

    #[test]
    fn long_paths_and_large_link_targets_are_refused_with_their_reason() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a".repeat(200)).join("b".repeat(200)).join("c".repeat(200));
        let deeper = deep.join("d".repeat(200)).join("e".repeat(200)).join("f".repeat(200));
        std::fs::create_dir_all(&deeper).unwrap();
        let err = secure_package(root.path(), &Limits::default()).unwrap_err();
        assert!(err.0.contains("bytes long, more than the limit of 1024 bytes"), "{err}");
        std::fs::remove_dir_all(root.path().join("a".repeat(200))).unwrap();

        std::fs::write(root.path().join("big"), vec![0u8; 2000]).unwrap();
        symlink("big", root.path().join("link")).unwrap();
        let small = Limits { max_entries: 10, max_file_bytes: 1000, max_total_bytes: 1000 };
        let err = secure_package(root.path(), &small).unwrap_err();
        assert!(err.0.contains("The link link points to a file of 2000 bytes"), "{err}");
    }
}
