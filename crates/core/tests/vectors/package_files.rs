//! Tarball file rules: which files are packaged.
//!
//! The `Tar.create/extract` case needs real files and processes-free archiving, so
//! it is checked by `crates/tarball/tests/vectors.rs` (package `registry-tarball`).

use registry_core::glob::{self, EntryKind, Tree};
use registry_core::package_files::{self, PackageFiles};
use registry_core::validation::validate_purs_modules;
use serde_json::Value;

use crate::support::*;

fn strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
}

/// The test's setup: `dirs` created, then `files` written.
fn source_tree(input: &Value) -> Result<Tree, String> {
    let dirs = strings(&input["dirs"]).into_iter().map(|d| (d, EntryKind::Dir));
    let files = strings(&input["files"]).into_iter().map(|f| (f, EntryKind::File));
    Tree::new(dirs.chain(files))
}

/// Upstream lists the result with `FastGlob.match(dir, ["**/*"])` and checks it.
fn check_listing(tree: &Tree, expect: &Value, also_absent: &[&str]) -> Result<bool, String> {
    let listed = glob::glob(tree, &["**/*"])?.succeeded;
    for path in strings(&expect["present"]) {
        if !listed.contains(&path) {
            return Err(format!("'{path}' should be present; got {listed:?}"));
        }
    }
    for path in strings(&expect["absent"]).iter().map(String::as_str).chain(also_absent.iter().copied()) {
        if tree.get(path).is_some() {
            return Err(format!("'{path}' should be absent; got {listed:?}"));
        }
    }
    Ok(true)
}

fn optional_globs(value: &Value) -> Option<Vec<String>> {
    value.as_array().map(|_| strings(value))
}

fn check_constants() -> Result<(), String> {
    let Some(doc) = load("tarball-rules.json") else { return Ok(()) };
    let constants = &doc["constants"];
    let pairs: [(&str, &[&str]); 6] = [
        ("ignoredDirectories", package_files::IGNORED_DIRECTORIES),
        ("ignoredFiles", package_files::IGNORED_FILES),
        ("ignoredGlobs", package_files::IGNORED_GLOBS),
        ("includedGlobs", package_files::INCLUDED_GLOBS),
        ("includedInsensitiveGlobs", package_files::INCLUDED_INSENSITIVE_GLOBS),
        ("alwaysIncludedFilesIfPresent (cannot be excluded)", package_files::ALWAYS_INCLUDED_FILES),
    ];
    for (key, ours) in pairs {
        if strings(&constants[key]) != ours {
            return Err(format!("constant {key}: upstream {}, ours {ours:?}", constants[key]));
        }
    }
    Ok(())
}

#[test]
fn tarball_rules() {
    check_constants().unwrap();
    run_cases("tarball-rules.json", |function, input, expect, case| match function {
        "API.removeIgnoredTarballFiles" => {
            let mut tree = source_tree(input)?;
            package_files::remove_ignored_files(&mut tree)?;
            check_listing(&tree, expect, &[])
        }
        "API.copyPackageSourceFiles" => {
            let source = source_tree(input)?;
            let include = optional_globs(&input["includeFiles"]);
            let exclude = optional_globs(&input["excludeFiles"]);
            let PackageFiles { tree, modules_to_check, .. } =
                package_files::copy_package_source_files(&source, include.as_deref(), exclude.as_deref())?;
            // Upstream writes every file as `module Module where`; included modules must pass.
            validate_purs_modules(modules_to_check.iter().map(|m| (m.as_str(), Ok("module Module where"))))?;
            // The labels state two absences the tests leave unasserted; the globs imply them.
            let label = case["label"].as_str().unwrap_or("");
            let implied: &[&str] = if label.starts_with("Only copies always-included") {
                &["test/Main.purs"]
            } else if label.starts_with("Does not copy user-specified excluded") {
                &["test/Test.purs"]
            } else {
                &[]
            };
            check_listing(&tree, expect, implied)
        }
        "Tar.create/extract" => {
            eprintln!(
                "tarball-rules.json: the Tar.create/extract case needs files on disk; \
                 it is checked by crates/tarball/tests/vectors.rs"
            );
            Ok(true)
        }
        _ => Ok(false),
    });
}
