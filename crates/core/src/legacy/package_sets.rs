//! Legacy (psc-era) package sets: `psc-<compiler>-<YYYYMMDD>` tags, the
//! `latest-compatible-sets.json` file, and conversion of a registry package set to
//! the `packages.json` / `packages.dhall` files of the old package-sets repository.

use std::collections::BTreeMap;
use std::fmt;

use super::doc::{self, Doc};
use crate::json::{self, Codec, DecodeError, Map, Obj, Value};
use crate::location::Location;
use crate::manifest_index::ManifestIndex;
use crate::name::PackageName;
use crate::package_set::PackageSet;
use crate::time::Date;
use crate::version::Version;

/// A legacy package-set release tag, e.g. `psc-0.15.2-20220725`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PscTag {
    pub compiler: Version,
    pub date: Date,
}

impl PscTag {
    pub fn parse(input: &str) -> Result<Self, String> {
        let rest = input
            .strip_prefix("psc-")
            .ok_or_else(|| format!("Expected a tag of the form psc-<compiler>-<YYYYMMDD>, got '{input}'"))?;
        let (compiler, date) = rest.split_once('-').ok_or_else(|| {
            format!("Expected a '-' between the compiler version and the date in '{input}'")
        })?;
        let compiler = Version::parse(compiler)?;
        let bad_date = || format!("Expected an 8-digit date such as '20220101', got '{date}'");
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_date());
        }
        let date = Date::parse(&format!("{}-{}-{}", &date[0..4], &date[4..6], &date[6..8]))
            .map_err(|_| bad_date())?;
        Ok(PscTag { compiler, date })
    }
}

impl fmt::Display for PscTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "psc-{}-{}", self.compiler, self.date.to_string().replace('-', ""))
    }
}

impl Codec for PscTag {
    fn encode(&self) -> Value {
        Value::String(self.to_string())
    }
    fn decode(value: &Value) -> Result<Self, DecodeError> {
        json::parsed(value, Self::parse)
    }
}

/// The newest legacy set for each compiler (`latest-compatible-sets.json`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LatestCompatibleSets(pub BTreeMap<Version, PscTag>);

impl Codec for LatestCompatibleSets {
    fn encode(&self) -> Value {
        Value::Object(self.0.iter().map(|(v, tag)| (v.to_string(), tag.encode())).collect())
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let entries = Obj::new(value)?
            .map()
            .iter()
            .map(|(k, v)| {
                let version = Version::parse(k).map_err(|e| DecodeError::new(e).at(k))?;
                Ok((version, PscTag::decode(v).map_err(|e| e.at(k))?))
            })
            .collect::<Result<_, DecodeError>>()?;
        Ok(LatestCompatibleSets(entries))
    }
}

/// What [`LatestCompatibleSets::raise`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raise {
    Raised,
    /// The file already names this tag for its compiler.
    AlreadyThere,
    /// The file names a newer tag for the compiler; it is kept.
    Higher(PscTag),
}

impl LatestCompatibleSets {
    /// Records `tag` as its compiler's newest set, unless that entry is already this
    /// tag or a newer one: entries are only ever raised.
    pub fn raise(&mut self, tag: PscTag) -> Raise {
        match self.0.get(&tag.compiler) {
            Some(existing) if *existing == tag => Raise::AlreadyThere,
            Some(existing) if *existing > tag => Raise::Higher(*existing),
            _ => {
                self.0.insert(tag.compiler, tag);
                Raise::Raised
            }
        }
    }
}

/// Paths of the files a mirror writes in the legacy package-sets repository.
pub const LATEST_COMPATIBLE_SETS_PATH: &str = "latest-compatible-sets.json";
pub const PACKAGES_JSON_PATH: &str = "packages.json";
pub const PACKAGES_DHALL_PATH: &str = "src/packages.dhall";

/// The three files of a mirrored set, `(path, contents)`: `src/packages.dhall`,
/// `packages.json` and `latest-compatible-sets.json`, each ending in a newline.
pub fn mirror_files(
    converted: &ConvertedLegacyPackageSet,
    latest: &LatestCompatibleSets,
) -> Vec<(&'static str, String)> {
    vec![
        (PACKAGES_DHALL_PATH, format!("{}\n", print_dhall(&converted.package_set))),
        (PACKAGES_JSON_PATH, converted.package_set.to_pretty()),
        (LATEST_COMPATIBLE_SETS_PATH, latest.to_pretty()),
    ]
}

/// The mirror's commit message (before any job id).
pub fn mirror_commit_message(upstream: Version) -> String {
    format!("Update to the {upstream} package set.")
}

/// The tags a mirror pushes, given the repository's `existing` tags: the full
/// `psc-…` tag always, then the bare compiler tag (`0.15.15`) if it is absent.
pub fn mirror_tags(tag: &PscTag, existing: &[String]) -> Vec<String> {
    let stable = tag.compiler.to_string();
    let mut tags = vec![tag.to_string()];
    if !existing.contains(&stable) {
        tags.push(stable);
    }
    tags
}

/// Legacy sets after this date were made by the registry itself.
const LAST_LEGACY_DATE: &str = "2022-09-01";

/// The tags (of a package-sets repository) that are psc tags dated on or before
/// the registry's launch, in their given order.
pub fn filter_legacy_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let last = Date::parse(LAST_LEGACY_DATE).expect("a valid constant date");
    tags.into_iter().filter(|t| PscTag::parse(t).is_ok_and(|tag| tag.date <= last)).collect()
}

/// One package of a legacy set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyPackageSetEntry {
    pub dependencies: Vec<PackageName>,
    pub repo: String,
    /// The Git ref (legacy sets name versions by tag, e.g. `v6.0.0`).
    pub version: String,
}

impl Codec for LegacyPackageSetEntry {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        map.insert(
            "dependencies".into(),
            Value::Array(self.dependencies.iter().map(Codec::encode).collect()),
        );
        map.insert("repo".into(), Value::String(self.repo.clone()));
        map.insert("version".into(), Value::String(self.version.clone()));
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(LegacyPackageSetEntry {
            dependencies: obj.req("dependencies", |v| json::array_of(v, PackageName::decode))?,
            repo: obj.req_str("repo")?.to_owned(),
            version: obj.req_str("version")?.to_owned(),
        })
    }
}

/// A legacy `packages.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LegacyPackageSet(pub BTreeMap<PackageName, LegacyPackageSetEntry>);

impl Codec for LegacyPackageSet {
    fn encode(&self) -> Value {
        Value::Object(self.0.iter().map(|(name, entry)| (name.to_string(), entry.encode())).collect())
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let entries = Obj::new(value)?
            .map()
            .iter()
            .map(|(k, v)| {
                let name = PackageName::parse(k).map_err(|e| DecodeError::new(e).at(k))?;
                Ok((name, LegacyPackageSetEntry::decode(v).map_err(|e| e.at(k))?))
            })
            .collect::<Result<_, DecodeError>>()?;
        Ok(LegacyPackageSet(entries))
    }
}

/// A registry package set in legacy form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertedLegacyPackageSet {
    pub tag: PscTag,
    /// The registry package-set version it was converted from.
    pub upstream: Version,
    pub package_set: LegacyPackageSet,
    /// Packages of the registry set that the legacy set leaves out, with why:
    /// legacy sets cannot express a `subdir` location, and a package whose
    /// dependencies are left out could not be built from the legacy set.
    pub left_out: Vec<(PackageName, String)>,
}

/// Converts a registry package set. Every package's manifest must be in `index`.
/// Packages at a location with a `subdir` (which legacy sets cannot express) are
/// left out, and so is every package that depends on one left out (upstream fails
/// the whole conversion instead, which made every later mirror fail); a
/// `metadata` entry carrying `v<compiler>` is added, because legacy tools read the
/// compiler from it.
pub fn convert_package_set(
    index: &ManifestIndex,
    set: &PackageSet,
) -> Result<ConvertedLegacyPackageSet, String> {
    let mut converted = BTreeMap::new();
    let mut left_out: Vec<(PackageName, String)> = Vec::new();
    let mut failures = Vec::new();
    for (name, version) in &set.packages {
        match convert_package(index, name, *version) {
            Ok(Some(entry)) => {
                converted.insert(name.clone(), entry);
            }
            Ok(None) => left_out.push((
                name.clone(),
                format!(
                    "{name} is left out of the legacy package set: it lives in a subdirectory ('subdir') of its \
                     repository, which legacy package sets cannot express."
                ),
            )),
            Err(e) => failures.push(e),
        }
    }
    if !failures.is_empty() {
        return Err(format!("Failed to convert packages:\n{}", failures.join("\n")));
    }
    // Dependants of what is left out, until nothing changes (the set is small).
    loop {
        let missing: Vec<(PackageName, String)> = converted
            .iter()
            .filter_map(|(name, entry): (&PackageName, &LegacyPackageSetEntry)| {
                let gone = entry.dependencies.iter().find(|d| !converted.contains_key(*d))?;
                Some((
                    name.clone(),
                    format!(
                        "{name} is left out of the legacy package set: it depends on {gone}, which the legacy \
                         package set does not contain."
                    ),
                ))
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        for (name, reason) in missing {
            converted.remove(&name);
            left_out.push((name, reason));
        }
    }
    let metadata = PackageName::parse("metadata").expect("'metadata' is a valid package name");
    converted.insert(
        metadata,
        LegacyPackageSetEntry {
            dependencies: Vec::new(),
            repo: "https://github.com/purescript/purescript-metadata.git".into(),
            version: format!("v{}", set.compiler),
        },
    );
    Ok(ConvertedLegacyPackageSet {
        tag: PscTag { compiler: set.compiler, date: set.published },
        upstream: set.version,
        package_set: LegacyPackageSet(converted),
        left_out,
    })
}

/// The legacy entry of `name@version`; `None` when legacy sets cannot express its
/// location.
fn convert_package(
    index: &ManifestIndex,
    name: &PackageName,
    version: Version,
) -> Result<Option<LegacyPackageSetEntry>, String> {
    let versions = index.versions(name).ok_or_else(|| format!("No registry index entry found for {name}"))?;
    let manifest = versions
        .get(&version)
        .ok_or_else(|| format!("Found registry index entry for {name} but none for version {version}"))?;
    let repo = match &manifest.location {
        Location::GitHub { owner, repo, subdir: None } => format!("https://github.com/{owner}/{repo}.git"),
        Location::Git { url, subdir: None } => url.clone(),
        Location::GitHub { subdir: Some(_), .. } | Location::Git { subdir: Some(_), .. } => return Ok(None),
    };
    Ok(Some(LegacyPackageSetEntry {
        dependencies: manifest.dependencies.keys().cloned().collect(),
        repo,
        version: manifest.git_ref.clone(),
    }))
}

/// Dhall keywords that cannot be record labels unquoted.
const DHALL_RESERVED: &[&str] = &["assert", "let", "using", "missing", "merge", "if", "then", "else"];

/// The `packages.dhall` text of a legacy set, exactly as upstream prints it
/// (80 columns, two-space indents, no final newline).
pub fn print_dhall(set: &LegacyPackageSet) -> String {
    let comma = Doc::leading_comma();
    let quote = |s: &str| Doc::text("\"").append(Doc::text(s).append(Doc::text("\"")));
    let break_align = |doc: Doc| Doc::space_break().append(doc.align(2)).flex_group();
    let packages = set
        .0
        .iter()
        .map(|(name, entry)| {
            let label =
                if DHALL_RESERVED.contains(&name.as_str()) { format!("`{name}`") } else { name.to_string() };
            let dependencies = if entry.dependencies.is_empty() {
                Doc::text("[] : List Text")
            } else {
                Doc::purs_squares(Doc::fold_with_separator(
                    &comma,
                    entry.dependencies.iter().map(|d| quote(d.as_str())).collect(),
                ))
            };
            let fields = vec![
                Doc::text("dependencies =").append(break_align(dependencies)),
                Doc::text("repo =").append(break_align(quote(&entry.repo))),
                Doc::text("version =").append(break_align(quote(&entry.version))),
            ];
            let record = Doc::purs_curlies(Doc::fold_with_separator(&comma, fields));
            Doc::text(&label).append(Doc::text(" =")).append(Doc::Break).append(record.indent())
        })
        .collect();
    let document = Doc::purs_curlies(Doc::fold_with_separator(&comma, packages));
    doc::print(&document, &doc::Options { page_width: 80, indent_unit: "  " })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(deps: &[&str], version: &str) -> LegacyPackageSetEntry {
        LegacyPackageSetEntry {
            dependencies: deps.iter().map(|d| PackageName::parse(d).unwrap()).collect(),
            repo: "https://github.com/purescript/purescript-x.git".into(),
            version: version.into(),
        }
    }

    #[test]
    fn long_dependency_lists_wrap_one_per_line() {
        let deps = ["arrays", "bifunctors", "control", "either", "foldable-traversable", "maybe", "prelude"];
        let set =
            LegacyPackageSet(BTreeMap::from([(PackageName::parse("if").unwrap(), entry(&deps, "v1.0.0"))]));
        let want = "{ `if` =\n  { dependencies =\n    [ \"arrays\"\n    , \"bifunctors\"\n    , \"control\"\n    , \"either\"\n    , \"foldable-traversable\"\n    , \"maybe\"\n    , \"prelude\"\n    ]\n  , repo = \"https://github.com/purescript/purescript-x.git\"\n  , version = \"v1.0.0\"\n  }\n}";
        assert_eq!(print_dhall(&set), want);
    }

    fn tag(text: &str) -> PscTag {
        PscTag::parse(text).unwrap()
    }

    #[test]
    fn latest_compatible_sets_are_only_raised() {
        let mut sets = LatestCompatibleSets::default();
        assert_eq!(sets.raise(tag("psc-0.15.15-20240105")), Raise::Raised);
        assert_eq!(sets.raise(tag("psc-0.15.15-20240105")), Raise::AlreadyThere);
        assert_eq!(sets.raise(tag("psc-0.15.15-20240101")), Raise::Higher(tag("psc-0.15.15-20240105")));
        assert_eq!(sets.raise(tag("psc-0.15.15-20240201")), Raise::Raised);
        assert_eq!(sets.raise(tag("psc-0.15.14-20240301")), Raise::Raised);
        let printed: Vec<String> = sets.0.values().map(PscTag::to_string).collect();
        assert_eq!(printed, ["psc-0.15.14-20240301", "psc-0.15.15-20240201"]);
    }

    #[test]
    fn the_bare_compiler_tag_is_pushed_only_when_absent() {
        let full = tag("psc-0.15.15-20240105");
        assert_eq!(mirror_tags(&full, &["0.15.14".into()]), ["psc-0.15.15-20240105", "0.15.15"]);
        assert_eq!(mirror_tags(&full, &["0.15.15".into()]), ["psc-0.15.15-20240105"]);
    }

    #[test]
    fn mirror_files_end_in_a_newline_and_print_the_set_both_ways() {
        let set =
            LegacyPackageSet(BTreeMap::from([(PackageName::parse("then").unwrap(), entry(&[], "v1.0.0"))]));
        let full = tag("psc-0.15.15-20240105");
        let converted = ConvertedLegacyPackageSet {
            tag: full,
            upstream: Version::new(1, 2, 0),
            package_set: set.clone(),
            left_out: Vec::new(),
        };
        let mut latest = LatestCompatibleSets::default();
        latest.raise(full);
        let files = mirror_files(&converted, &latest);
        let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
        assert_eq!(paths, ["src/packages.dhall", "packages.json", "latest-compatible-sets.json"]);
        assert_eq!(files[0].1, format!("{}\n", print_dhall(&set)));
        assert!(files[0].1.starts_with("{ `then` ="), "{}", files[0].1);
        assert_eq!(LegacyPackageSet::from_json_str(&files[1].1).unwrap(), set);
        assert_eq!(files[2].1, "{\n  \"0.15.15\": \"psc-0.15.15-20240105\"\n}\n");
        assert_eq!(mirror_commit_message(converted.upstream), "Update to the 1.2.0 package set.");
    }

    #[test]
    fn psc_tags_reject_malformed_dates() {
        assert!(PscTag::parse("psc-0.15.2-2022072").is_err());
        assert!(PscTag::parse("psc-0.15.2-2022-07-25").is_err());
        assert!(PscTag::parse("v0.15.2-20220725").is_err());
        assert_eq!(PscTag::parse("psc-0.15.2-20220725").unwrap().to_string(), "psc-0.15.2-20220725");
    }

    #[test]
    fn only_tags_up_to_the_registry_launch_are_legacy() {
        let tags = ["psc-0.15.4-20220901", "psc-0.15.4-20220902", "0.1.0", "psc-0.13.0-20190713"];
        assert_eq!(filter_legacy_tags(tags), ["psc-0.15.4-20220901", "psc-0.13.0-20190713"]);
    }
}
