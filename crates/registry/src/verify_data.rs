//! `registry verify-data DIR`: proves that our formats and rules reproduce a
//! registry's data exactly.
//!
//! DIR is laid out like the registry's repositories: `index/` (the registry-index
//! tree), `metadata/<name>.json` and `package-sets/<version>.json`. Every file is
//! decoded and re-encoded and must come out byte for byte; index and metadata must
//! agree; every package set must be valid; and every consecutive pair of package
//! sets must get the later set's version from our version rule. Known, explained
//! upstream facts are listed in an allow-list and reported as warnings.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use registry_core::json::Codec;
use registry_core::manifest_index::{self, IncludeRanges, ManifestIndex};
use registry_core::package_set_rules::{self, Change, ChangeSet};
use registry_core::{Manifest, Metadata, PackageName, PackageSet, Version};

/// The allow-list shipped with the binary.
pub const DEFAULT_ALLOWLIST: &str = include_str!("../verify-data-allowlist.txt");

/// One allow-listed mismatch: a check name, the item it concerns, and why it is fine.
struct Allowed {
    check: String,
    item: String,
    reason: String,
    used: bool,
}

fn parse_allowlist(text: &str) -> Result<Vec<Allowed>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, reason) = line
            .split_once(" -- ")
            .with_context(|| format!("allow-list line {}: expected `CHECK ITEM -- REASON`", n + 1))?;
        let (check, item) = head
            .trim()
            .split_once(' ')
            .with_context(|| format!("allow-list line {}: expected `CHECK ITEM -- REASON`", n + 1))?;
        if reason.trim().is_empty() {
            bail!("allow-list line {}: every allowed mismatch needs a reason", n + 1);
        }
        out.push(Allowed {
            check: check.into(),
            item: item.trim().into(),
            reason: reason.trim().into(),
            used: false,
        });
    }
    Ok(out)
}

/// Counts and findings of one check.
#[derive(Default)]
struct Check {
    checked: usize,
    failures: Vec<String>,
    warnings: Vec<String>,
}

struct Report {
    checks: Vec<(&'static str, Check)>,
    allowlist: Vec<Allowed>,
}

impl Report {
    fn check(&mut self, name: &'static str) -> &mut Check {
        if !self.checks.iter().any(|(n, _)| *n == name) {
            self.checks.push((name, Check::default()));
        }
        &mut self.checks.iter_mut().find(|(n, _)| *n == name).expect("just inserted").1
    }

    fn pass(&mut self, name: &'static str) {
        self.check(name).checked += 1;
    }

    /// Records a mismatch, downgraded to a warning when the allow-list explains it.
    fn fail(&mut self, name: &'static str, item: &str, detail: String) {
        let allowed =
            self.allowlist.iter_mut().find(|a| a.check == name && (a.item == item || a.item == "*"));
        let message = match allowed {
            Some(a) => {
                a.used = true;
                Some(format!("{item}: {detail} (allowed: {})", a.reason))
            }
            None => None,
        };
        let check = self.check(name);
        check.checked += 1;
        match message {
            Some(m) => check.warnings.push(m),
            None => check.failures.push(format!("{item}: {detail}")),
        }
    }
}

/// What `verify-data` found.
pub struct Outcome {
    pub text: String,
    pub ok: bool,
}

pub fn run(dir: &Path, allowlist: &str) -> Result<Outcome> {
    let mut report = Report { checks: Vec::new(), allowlist: parse_allowlist(allowlist)? };
    for sub in ["index", "metadata", "package-sets"] {
        if !dir.join(sub).is_dir() {
            bail!(
                "{} has no {sub}/ folder: verify-data expects a folder laid out like the registry (index/, metadata/, package-sets/)",
                dir.display()
            );
        }
    }
    let manifests = check_index(&dir.join("index"), &mut report)?;
    let metadata = check_metadata(&dir.join("metadata"), &mut report)?;
    let sets = check_package_sets(&dir.join("package-sets"), &mut report)?;
    check_agreement(&manifests, &metadata, &mut report);
    let index = check_index_satisfiable(&manifests, &mut report);
    check_sets_valid(&sets, &index, &mut report);
    replay_versions(&sets, &mut report);
    Ok(render(report))
}

fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() { stack.push(path) } else { out.push(path) }
        }
    }
    out.sort();
    Ok(out)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn check_index(dir: &Path, report: &mut Report) -> Result<Vec<Manifest>> {
    const CHECK: &str = "index-entries";
    let mut all = Vec::new();
    for path in files_under(dir)? {
        let rel = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().into_owned();
        let base = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if base == "config.json" || base == "README.md" {
            continue;
        }
        let name = match PackageName::parse(&base) {
            Ok(n) => n,
            Err(e) => {
                report.fail(CHECK, &rel, format!("file name is not a package name: {e}"));
                continue;
            }
        };
        let text = read(&path)?;
        let entries = match manifest_index::parse_entry(&text) {
            Ok(e) => e,
            Err(e) => {
                report.fail(CHECK, &rel, format!("does not decode: {e}"));
                continue;
            }
        };
        let problem = if manifest_index::entry_path(&name) != rel {
            Some(format!("belongs at {}", manifest_index::entry_path(&name)))
        } else if let Some(other) = entries.iter().find(|m| m.name != name) {
            Some(format!("holds a manifest of {}", other.name))
        } else {
            let printed = manifest_index::print_entry(&entries);
            if printed == text {
                None
            } else if with_canonical_licences(&text).as_deref() == Some(printed.as_str()) {
                report.fail("index-legacy-licences", &rel, legacy_licences(&text, &entries));
                None
            } else {
                Some(first_difference(&text, &printed))
            }
        };
        match problem {
            Some(p) => report.fail(CHECK, &rel, p),
            None => report.pass(CHECK),
        }
        all.extend(entries);
    }
    Ok(all)
}

/// The entry text with every stored licence replaced by its canonical printing,
/// everything else as stored.
fn with_canonical_licences(text: &str) -> Option<String> {
    let mut out = String::new();
    for line in text.trim().split('\n') {
        let mut value = registry_core::json::parse(line).ok()?;
        let license = value.get("license")?.as_str()?;
        let canonical = registry_core::License::parse(license).ok()?.to_string();
        value["license"] = registry_core::json::Value::String(canonical);
        out.push_str(&registry_core::json::print_compact(&value));
        out.push('\n');
    }
    Some(out)
}

fn legacy_licences(text: &str, entries: &[Manifest]) -> String {
    let mut changes = BTreeSet::new();
    for (line, manifest) in text.trim().split('\n').zip(entries) {
        let stored = registry_core::json::parse(line).ok();
        let stored = stored.as_ref().and_then(|v| v.get("license")).and_then(|l| l.as_str()).unwrap_or("");
        if stored != manifest.license.to_string() {
            changes.insert(format!("'{stored}' -> '{}'", manifest.license));
        }
    }
    format!("stored licence re-encodes canonically: {}", changes.into_iter().collect::<Vec<_>>().join(", "))
}

fn check_metadata(dir: &Path, report: &mut Report) -> Result<BTreeMap<PackageName, Metadata>> {
    const CHECK: &str = "metadata-files";
    let mut out = BTreeMap::new();
    for path in files_under(dir)? {
        let base = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let Some(stem) = base.strip_suffix(".json") else {
            report.fail(CHECK, &base, "not a .json file".into());
            continue;
        };
        let name = match PackageName::parse(stem) {
            Ok(n) => n,
            Err(e) => {
                report.fail(CHECK, &base, format!("file name is not a package name: {e}"));
                continue;
            }
        };
        let text = read(&path)?;
        match Metadata::from_json_str(&text) {
            Err(e) => report.fail(CHECK, stem, format!("does not decode: {e}")),
            Ok(m) => {
                let printed = m.to_pretty();
                if printed == text {
                    report.pass(CHECK);
                } else {
                    report.fail(CHECK, stem, first_difference(&text, &printed));
                }
                out.insert(name, m);
            }
        }
    }
    Ok(out)
}

fn check_package_sets(dir: &Path, report: &mut Report) -> Result<Vec<PackageSet>> {
    const CHECK: &str = "package-set-files";
    let mut out = Vec::new();
    for path in files_under(dir)? {
        let base = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let text = read(&path)?;
        match PackageSet::from_json_str(&text) {
            Err(e) => report.fail(CHECK, &base, format!("does not decode: {e}")),
            Ok(set) => {
                let printed = set.to_pretty();
                if format!("{}.json", set.version) != base {
                    report.fail(CHECK, &base, format!("holds version {}", set.version));
                } else if printed != text {
                    report.fail(CHECK, &base, first_difference(&text, &printed));
                } else {
                    report.pass(CHECK);
                }
                out.push(set);
            }
        }
    }
    out.sort_by_key(|s| s.version);
    Ok(out)
}

fn check_agreement(manifests: &[Manifest], metadata: &BTreeMap<PackageName, Metadata>, report: &mut Report) {
    const CHECK: &str = "index-metadata-agreement";
    let indexed: BTreeSet<(&PackageName, Version)> = manifests.iter().map(|m| (&m.name, m.version)).collect();
    for m in manifests {
        match metadata.get(&m.name) {
            None => report.fail(CHECK, &m.id(), "in the index but has no metadata file".into()),
            Some(meta) if !meta.published.contains_key(&m.version) => {
                report.fail(CHECK, &m.id(), "in the index but not published in metadata".into())
            }
            Some(_) => report.pass(CHECK),
        }
    }
    for (name, meta) in metadata {
        for version in meta.published.keys() {
            if !indexed.contains(&(name, *version)) {
                report.fail(
                    CHECK,
                    &format!("{name}@{version}"),
                    "published in metadata but missing from the index".into(),
                );
            }
        }
        for version in meta.unpublished.keys() {
            if indexed.contains(&(name, *version)) {
                report.fail(
                    CHECK,
                    &format!("{name}@{version}"),
                    "unpublished in metadata but still in the index".into(),
                );
            } else if meta.published.contains_key(version) {
                report.fail(
                    CHECK,
                    &format!("{name}@{version}"),
                    "both published and unpublished in metadata".into(),
                );
            } else {
                report.pass(CHECK);
            }
        }
    }
}

fn check_index_satisfiable(manifests: &[Manifest], report: &mut Report) -> ManifestIndex {
    const CHECK: &str = "index-dependencies-satisfiable";
    let (failed, index) = ManifestIndex::maximal(IncludeRanges::ConsiderRanges, manifests);
    for (name, versions) in &failed {
        for (version, deps) in versions {
            let deps: Vec<String> = deps.iter().map(|(d, r)| format!("{d} {r}")).collect();
            report.fail(CHECK, &format!("{name}@{version}"), format!("unsatisfied: {}", deps.join(", ")));
        }
    }
    report.check(CHECK).checked += index.len();
    index
}

fn check_sets_valid(sets: &[PackageSet], index: &ManifestIndex, report: &mut Report) {
    const CHECK: &str = "package-sets-valid";
    for set in sets {
        match package_set_rules::validate_package_set(set, index) {
            Ok(()) => report.pass(CHECK),
            Err(e) => report.fail(CHECK, &set.version.to_string(), e.to_string()),
        }
    }
}

/// The changes that turn `old` into `new`.
pub fn derive_changes(old: &PackageSet, new: &PackageSet) -> ChangeSet {
    let mut changes = ChangeSet::new();
    for (name, version) in &new.packages {
        if old.packages.get(name) != Some(version) {
            changes.insert(name.clone(), Change::Update(*version));
        }
    }
    for name in old.packages.keys() {
        if !new.packages.contains_key(name) {
            changes.insert(name.clone(), Change::Remove);
        }
    }
    changes
}

fn replay_versions(sets: &[PackageSet], report: &mut Report) {
    const CHECK: &str = "package-set-versions";
    for pair in sets.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        let computed = package_set_rules::compute_new_version(new.compiler, old, &derive_changes(old, new));
        let item = format!("{}->{}", old.version, new.version);
        if computed == new.version {
            report.pass(CHECK);
        } else {
            report.fail(CHECK, &item, format!("our rule gives {computed}"));
        }
    }
}

fn first_difference(expected: &str, printed: &str) -> String {
    let at = expected.bytes().zip(printed.bytes()).take_while(|(a, b)| a == b).count();
    let line = expected[..at].matches('\n').count() + 1;
    let snippet = |s: &str| s.get(at..).unwrap_or("").chars().take(40).collect::<String>();
    format!("re-encoding differs at line {line}: stored {:?}, ours {:?}", snippet(expected), snippet(printed))
}

fn render(report: Report) -> Outcome {
    let mut text = String::new();
    let (mut failures, mut warnings, mut checked) = (0, 0, 0);
    for (name, check) in &report.checks {
        checked += check.checked;
        failures += check.failures.len();
        warnings += check.warnings.len();
        let _ = writeln!(
            text,
            "{name:32} {:>6} checked  {:>4} mismatches  {:>4} allowed",
            check.checked,
            check.failures.len(),
            check.warnings.len()
        );
        for f in check.failures.iter().take(20) {
            let _ = writeln!(text, "  MISMATCH {f}");
        }
        if check.failures.len() > 20 {
            let _ = writeln!(text, "  … and {} more", check.failures.len() - 20);
        }
        for w in &check.warnings {
            let _ = writeln!(text, "  warning: {w}");
        }
    }
    for a in report.allowlist.iter().filter(|a| !a.used) {
        warnings += 1;
        let _ =
            writeln!(text, "warning: allow-list entry `{} {}` matched nothing; remove it", a.check, a.item);
    }
    let ok = failures == 0;
    let _ = writeln!(
        text,
        "verify-data: {} — {checked} checks, {failures} unexplained mismatches, {warnings} warnings",
        if ok { "OK" } else { "FAILED" }
    );
    Outcome { text, ok }
}
