//! Which files of a package's source go into its tarball (upstream
//! `copyPackageSourceFiles` and `removeIgnoredTarballFiles`), as a pure function
//! over a listing of the source directory. The I/O layer lists the directory,
//! calls [`select_package_files`], checks the modules it names, and copies the
//! returned tree.

use crate::glob::{self, EntryKind, Tree};

/// Directories removed from the packaging directory's root, wherever they came from.
pub const IGNORED_DIRECTORIES: &[&str] = &[
    ".psci",
    ".psci_modules",
    ".spago",
    "node_modules",
    "bower_components",
    ".git",
    "CVS",
    ".svn",
    ".hg",
    "_darcs",
    ".fossil",
    ".jj",
    ".pijul",
];

/// Files removed from the packaging directory's root.
pub const IGNORED_FILES: &[&str] = &["package-lock.json", "yarn.lock", "pnpm-lock.yaml"];

/// Removed anywhere (outside hidden directories).
pub const IGNORED_GLOBS: &[&str] = &["**/*.*.swp", "**/._*", "**/.DS_Store"];

/// Always copied when present.
pub const INCLUDED_GLOBS: &[&str] =
    &["src/", "purs.json", "spago.dhall", "packages.dhall", "bower.json", "package.json", "spago.yaml"];

/// Always copied when present. Upstream asks for case-insensitive matching but the
/// option it passes is ignored, so matching is case-sensitive (`readme.md` is not
/// copied); this reproduces what upstream does.
pub const INCLUDED_INSENSITIVE_GLOBS: &[&str] = &["README*", "LICENSE*", "LICENCE*"];

/// Manifest files that `excludeFiles` cannot remove.
pub const ALWAYS_INCLUDED_FILES: &[&str] =
    &["purs.json", "spago.yaml", "spago.dhall", "packages.dhall", "bower.json", "package.json"];

/// The outcome of selecting a package's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFiles {
    /// Everything the packaging directory holds: copy these (directories are
    /// listed too, so empty ones are kept).
    pub tree: Tree,
    /// `.purs` files matched by `includeFiles` (and not excluded): their module
    /// headers must pass [`crate::validation::validate_purs_modules`]; on failure
    /// publishing stops with [`include_modules_error`].
    pub modules_to_check: Vec<String>,
    /// Things worth telling the publisher.
    pub warnings: Vec<String>,
}

/// The error when modules named by `includeFiles` fail their check (`report` is
/// what `validate_purs_modules` returned).
pub fn include_modules_error(report: &str) -> String {
    format!(
        "Some PureScript modules listed in the 'includeFiles' section of your manifest contain malformed or disallowed module names.{report}"
    )
}

const OUTSIDE_INCLUDE: &str = "Some paths matched by globs in the 'includeFiles' key are outside your package directory. \
     Please ensure globs only match within your package directory, including symlinks.";

/// Selects the files to package from `source`: the always-included files, plus
/// `include_files` matches, minus `exclude_files` matches (except the manifest
/// files), then without the always-ignored files.
///
/// Matching is by path text as upstream does it: a matched directory is copied
/// whole, so excluding `src/Foo.purs` does not remove it from an included `src/`.
/// Include globs that point outside the package (`../x`, `/x`) are refused even
/// when nothing would match there, since a listing of the package cannot tell;
/// links leading outside the package are never copied.
pub fn select_package_files(
    source: &Tree,
    include_files: Option<&[String]>,
    exclude_files: Option<&[String]>,
) -> Result<PackageFiles, String> {
    let mut files = copy_package_source_files(source, include_files, exclude_files)?;
    remove_ignored_files(&mut files.tree)?;
    Ok(files)
}

/// The copying half of [`select_package_files`] (upstream `copyPackageSourceFiles`).
pub fn copy_package_source_files(
    source: &Tree,
    include_files: Option<&[String]>,
    exclude_files: Option<&[String]>,
) -> Result<PackageFiles, String> {
    let mut warnings = Vec::new();

    let mut user_excludes = Vec::new();
    if let Some(globs) = exclude_files {
        let matches = glob::glob(source, globs)?;
        let outside: Vec<String> = matches.failed.iter().chain(&matches.outside_patterns).cloned().collect();
        if !outside.is_empty() {
            warnings.push(format!(
                "The following paths matched by globs in the 'exclude' key are outside your package directory: {}",
                outside.join(", ")
            ));
        }
        let mut obligatory: Vec<&str> = ALWAYS_INCLUDED_FILES
            .iter()
            .copied()
            .filter(|f| matches.succeeded.iter().any(|m| m == f))
            .collect();
        obligatory.sort_unstable();
        if !obligatory.is_empty() {
            warnings.push(format!(
                "The following paths matched by globs in the 'excludeFiles' key will be included in the tarball and cannot be excluded: {}",
                obligatory.join(", ")
            ));
        }
        user_excludes = matches.succeeded.into_iter().filter(|m| !obligatory.contains(&m.as_str())).collect();
    }

    let mut user_files = Vec::new();
    let mut modules_to_check = Vec::new();
    if let Some(globs) = include_files {
        let matches = glob::glob(source, globs)?;
        if !matches.failed.is_empty() || !matches.outside_patterns.is_empty() {
            return Err(OUTSIDE_INCLUDE.to_owned());
        }
        modules_to_check = difference(matches.succeeded.clone(), &user_excludes)
            .into_iter()
            .filter(|p| p.ends_with(".purs"))
            .map(|p| normalise(&p))
            .collect();
        user_files = matches.succeeded;
    }

    let mut candidates = user_files;
    candidates.extend(glob::glob(source, INCLUDED_GLOBS)?.succeeded);
    candidates.extend(glob::glob(source, INCLUDED_INSENSITIVE_GLOBS)?.succeeded);
    let to_copy = difference(candidates, &user_excludes);
    if to_copy.is_empty() {
        warnings
            .push("No files found in copyPackageSourceFiles to copy to the packaging directory.".to_owned());
    }

    let mut tree = Tree::default();
    for path in &to_copy {
        let path = normalise(path);
        if source.get(&path).is_some() {
            tree.copy_from(source, &path);
        }
    }
    let links: Vec<String> =
        tree.entries().filter(|(_, k)| *k == EntryKind::Outside).map(|(p, _)| p.to_owned()).collect();
    for link in &links {
        tree.remove(link);
    }
    if !links.is_empty() {
        warnings.push(format!(
            "These links point outside the package directory and were not packaged: {}",
            links.join(", ")
        ));
    }
    Ok(PackageFiles { tree, modules_to_check, warnings })
}

/// Removes the always-ignored files (upstream `removeIgnoredTarballFiles`): the
/// ignored directories and files at the root, and ignored-glob matches anywhere.
pub fn remove_ignored_files(tree: &mut Tree) -> Result<(), String> {
    let matches = glob::glob(tree, IGNORED_GLOBS)?;
    for path in
        IGNORED_DIRECTORIES.iter().chain(IGNORED_FILES).map(|p| p.to_string()).chain(matches.succeeded)
    {
        tree.remove(&normalise(&path));
    }
    Ok(())
}

/// A matched path as a plain relative path (`./src/` → `src`), as `path.join`
/// would write it.
fn normalise(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    segments.join("/")
}

/// `xs \\ ys`: removes one occurrence of each element of `ys`.
fn difference(mut xs: Vec<String>, ys: &[String]) -> Vec<String> {
    for y in ys {
        if let Some(i) = xs.iter().position(|x| x == y) {
            xs.remove(i);
        }
    }
    xs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(paths: &[&str]) -> Tree {
        Tree::new(paths.iter().map(|p| match p.strip_suffix('/') {
            Some(dir) => (dir.to_owned(), EntryKind::Dir),
            None => (p.to_string(), EntryKind::File),
        }))
        .unwrap()
    }

    fn listing(files: &PackageFiles) -> Vec<&str> {
        files.tree.entries().map(|(p, _)| p).collect()
    }

    fn globs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn source_directory_is_copied_whole_and_cannot_be_thinned_by_excludes() {
        let source = tree(&[
            "src/A.purs",
            "src/.x.js",
            "src/node_modules/y.js",
            "purs.json",
            "readme.md",
            "LICENSE",
            "x.md",
        ]);
        let files = select_package_files(&source, None, Some(&globs(&["src/**", "LICENSE"]))).unwrap();
        assert_eq!(
            listing(&files),
            ["purs.json", "src", "src/.x.js", "src/A.purs", "src/node_modules", "src/node_modules/y.js"]
        );
    }

    #[test]
    fn excluding_the_exact_src_glob_drops_the_directory() {
        let source = tree(&["src/A.purs", "purs.json"]);
        let files = select_package_files(&source, None, Some(&globs(&["src/", "purs.json"]))).unwrap();
        assert_eq!(listing(&files), ["purs.json"]);
        assert_eq!(
            files.warnings,
            [
                "The following paths matched by globs in the 'excludeFiles' key will be included in the tarball and cannot be excluded: purs.json"
            ]
        );
    }

    #[test]
    fn ignored_names_go_at_the_root_and_swap_files_anywhere() {
        let source = tree(&[
            "src/A.purs",
            "src/.A.purs.swp",
            "src/A.purs.swp",
            "src/._A",
            "test/node_modules/",
            "node_modules/",
            "yarn.lock",
            "purs.json",
        ]);
        let files =
            select_package_files(&source, Some(&globs(&["test/", "yarn.lock", "node_modules"])), None)
                .unwrap();
        assert_eq!(
            listing(&files),
            ["purs.json", "src", "src/.A.purs.swp", "src/A.purs", "test", "test/node_modules"]
        );
    }

    #[test]
    fn included_modules_are_listed_for_checking_unless_excluded() {
        let source = tree(&["test/Main.purs", "test/Skip.purs", "test/x.js", "purs.json"]);
        let files =
            select_package_files(&source, Some(&globs(&["./test/*"])), Some(&globs(&["./test/Skip.purs"])))
                .unwrap();
        assert_eq!(files.modules_to_check, ["test/Main.purs"]);
        assert_eq!(listing(&files), ["purs.json", "test", "test/Main.purs", "test/x.js"]);
    }

    #[test]
    fn globs_reaching_outside_are_refused_and_outside_links_dropped() {
        let source = Tree::new([("purs.json", EntryKind::File), ("src/link", EntryKind::Outside)]).unwrap();
        assert_eq!(
            select_package_files(&source, Some(&globs(&["../x"])), None).unwrap_err(),
            OUTSIDE_INCLUDE
        );
        assert_eq!(
            select_package_files(&source, Some(&globs(&["src/*"])), None).unwrap_err(),
            OUTSIDE_INCLUDE
        );
        let files = select_package_files(&source, None, None).unwrap();
        assert_eq!(listing(&files), ["purs.json", "src"]);
        assert!(files.warnings[0].contains("src/link"));
    }
}
