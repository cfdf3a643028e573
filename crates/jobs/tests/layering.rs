//! The workspace's shape, read from its sources: job logic has one home that
//! depends on no server part, and no two files of a crate import each other (a
//! reader following one import should not be sent back where they came from).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The `[dependencies]` table's crate names of a manifest (not dev-dependencies).
fn normal_dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut in_deps = false;
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && let Some((name, _)) = line.split_once('=') {
            names.insert(name.trim().trim_end_matches(".workspace").to_owned());
        }
    }
    names
}

#[test]
fn registry_jobs_depends_on_neither_the_server_nor_the_queue() {
    let deps = normal_dependencies(&crates_dir().join("jobs/Cargo.toml"));
    assert!(deps.contains("registry-adapters"), "read the wrong table: {deps:?}");
    for forbidden in ["registry-server", "registry-queue"] {
        assert!(!deps.contains(forbidden), "registry-jobs depends on {forbidden}");
    }
}

#[test]
fn settings_and_the_job_commands_never_reach_into_the_server() {
    let deps = normal_dependencies(&crates_dir().join("settings/Cargo.toml"));
    assert!(deps.contains("registry-jobs"), "read the wrong table: {deps:?}");
    assert!(!deps.contains("registry-server"), "registry-settings depends on registry-server");
    // Only `init` and `serve` (dispatched from main.rs) are the server's; every other
    // command runs jobs through registry-jobs and registry-settings.
    let mut files = Vec::new();
    rust_files(&crates_dir().join("registry/src"), &mut files);
    assert!(files.len() > 1, "read the wrong folder: {files:?}");
    for file in files.iter().filter(|f| f.file_name().is_some_and(|n| n != "main.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(!text.contains("registry_server"), "{} uses the server crate", file.display());
    }
}

/// A reader of ARCHITECTURE.md's code map finds every module of every crate there.
#[test]
fn the_code_map_names_every_module() {
    let map = std::fs::read_to_string(crates_dir().join("../ARCHITECTURE.md")).unwrap();
    let words: BTreeSet<&str> =
        map.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).collect();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(crates_dir()).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "read the wrong folder: {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "tests"))
        .filter_map(|f| {
            let stem = f.file_stem()?.to_str()?;
            let name = match stem {
                "lib" | "main" => return None,
                "mod" => f.parent()?.file_name()?.to_str()?,
                other => other,
            };
            (!words.contains(name)).then(|| f.display().to_string())
        })
        .collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md's code map does not name these modules: {missing:#?}");
}

/// A source file's module path inside its crate (`src/a/mod.rs` and `src/a.rs` are `a`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The paths (as segments from the crate root) a file's code names through `crate::`,
/// `super::` or, in a `use`, one of its own child modules; unit-test modules and
/// comments left out.
fn named_paths(text: &str, module: &[String], children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let code: String = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let is_path = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let mut at = 0;
    while at < bytes.len() {
        if !code.is_char_boundary(at) || (at > 0 && is_path(bytes[at - 1])) {
            at += 1;
            continue;
        }
        let rest = &code[at..];
        let start: Option<Vec<String>> = if rest.starts_with("crate::") {
            Some(Vec::new())
        } else if rest.starts_with("super::") {
            Some(module.to_vec())
        } else {
            children
                .iter()
                .find(|c| rest.starts_with(&format!("{c}::")) && code[..at].trim_end().ends_with("use"))
                .map(|_| module.to_vec())
        };
        let Some(base) = start else {
            at += 1;
            continue;
        };
        let end = at + rest.bytes().take_while(|&c| is_path(c)).count();
        let path = &code[at..end];
        let mut segments: Vec<String> = base;
        for segment in path.split("::").filter(|s| !s.is_empty()) {
            match segment {
                "crate" | "self" => {}
                "super" => {
                    segments.pop();
                }
                other => segments.push(other.to_owned()),
            }
        }
        if bytes.get(end) == Some(&b'{') {
            // `use crate::{a::X, b}`: each item names its own path.
            let close = code[end..].find('}').map_or(code.len(), |i| end + i);
            for item in code[end + 1..close].split(',') {
                let item: String = item.trim().chars().take_while(|&c| is_path(c as u8)).collect();
                let mut full = segments.clone();
                full.extend(item.split("::").filter(|s| !s.is_empty()).map(str::to_owned));
                found.push(full);
            }
        } else {
            found.push(segments);
        }
        at = end.max(at + 1);
    }
    found
}

/// Known loops, each to be removed by the work named beside it.
/// Pairs allowed to import each other (none: the last, private_key <-> public_key,
/// went when public-key parsing got its own `container` reader).
const KNOWN_LOOPS: &[&str] = &[];

#[test]
fn no_two_files_of_a_crate_import_each_other() {
    let mut loops = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let modules: BTreeMap<Vec<String>, PathBuf> =
            files.iter().map(|f| (module_of(&src, f), f.clone())).collect();
        let mut imports: BTreeSet<(Vec<String>, Vec<String>)> = BTreeSet::new();
        for (module, file) in &modules {
            let children: BTreeSet<String> = modules
                .keys()
                .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
                .map(|m| m.last().unwrap().clone())
                .collect();
            let text = std::fs::read_to_string(file).unwrap();
            for path in named_paths(&text, module, &children) {
                // The file that defines the path: its longest prefix that is a module.
                let target =
                    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains_key(p));
                // A module declaring and re-exporting its own children is no import.
                if let Some(target) = target.filter(|t| !t.starts_with(module)) {
                    imports.insert((module.clone(), target));
                }
            }
        }
        for (from, to) in &imports {
            if from < to && imports.contains(&(to.clone(), from.clone())) {
                let name =
                    |m: &Vec<String>| modules[m].strip_prefix(crates_dir()).unwrap().display().to_string();
                let pair = format!("{} <-> {}", name(from), name(to));
                if !KNOWN_LOOPS.contains(&pair.as_str()) {
                    loops.push(pair);
                }
            }
        }
    }
    assert!(loops.is_empty(), "files importing each other:\n{}", loops.join("\n"));
}
