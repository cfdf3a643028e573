//! `spago.yaml` as a manifest source: the `package` section and its `publish`
//! settings, converted to a [`Manifest`] (upstream `SpagoYaml.purs`).

use std::collections::BTreeMap;
use std::fmt;

use crate::json::{self, Codec, DecodeError, Obj, Value};
use crate::license::License;
use crate::limited::Description;
use crate::location::{Location, Owner};
use crate::manifest::Manifest;
use crate::name::PackageName;
use crate::range::Range;
use crate::version::Version;

/// A dependency's range in `spago.yaml`: `*` or a registry range (a bare version
/// means exactly that version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpagoRange {
    Unbounded,
    Bounded(Range),
}

pub fn parse_spago_range(input: &str) -> Result<SpagoRange, String> {
    if input == "*" {
        return Ok(SpagoRange::Unbounded);
    }
    Range::parse(input).or_else(|_| Version::parse(input).map(Range::exact)).map(SpagoRange::Bounded).map_err(
        |e| format!("Expected '*', a range such as '>=1.0.0 <2.0.0' or a version, got '{input}': {e}"),
    )
}

impl fmt::Display for SpagoRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpagoRange::Unbounded => f.write_str("*"),
            SpagoRange::Bounded(range) => range.fmt(f),
        }
    }
}

/// The parts of a `spago.yaml` the registry reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpagoYaml {
    pub package: Option<PackageConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageConfig {
    pub name: PackageName,
    pub description: Option<String>,
    /// `None` when the dependency was listed without a range.
    pub dependencies: BTreeMap<PackageName, Option<SpagoRange>>,
    pub publish: Option<PublishConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishConfig {
    pub version: Version,
    /// Authored input: canonical SPDX only.
    pub license: License,
    pub location: Option<Location>,
    pub include: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    /// Never empty when present.
    pub owners: Option<Vec<Owner>>,
}

/// An optional field where an explicit `null` is an error, as in upstream's codecs.
fn optional<'a, T>(
    obj: &Obj<'a>,
    key: &str,
    f: impl FnOnce(&'a Value) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    match obj.map().get(key) {
        None => Ok(None),
        Some(v) => f(v).map(Some).map_err(|e| e.at(key)),
    }
}

impl SpagoYaml {
    /// Parses the YAML text and decodes it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value = crate::yaml::to_json(text)?;
        Self::decode(&value).map_err(|e| format!("Invalid spago.yaml: {e}"))
    }

    pub fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(SpagoYaml { package: optional(&obj, "package", decode_package)? })
    }
}

fn decode_package(value: &Value) -> Result<PackageConfig, DecodeError> {
    let obj = Obj::new(value)?;
    Ok(PackageConfig {
        name: obj.req("name", PackageName::decode)?,
        description: optional(&obj, "description", |v| json::as_str(v).map(str::to_owned))?,
        dependencies: obj.req("dependencies", decode_dependencies)?,
        publish: optional(&obj, "publish", decode_publish)?,
    })
}

/// A list whose items are a package name, or a one-key map from name to range.
fn decode_dependencies(value: &Value) -> Result<BTreeMap<PackageName, Option<SpagoRange>>, DecodeError> {
    let items = json::array_of(value, |item| match item {
        Value::String(_) => Ok((PackageName::decode(item)?, None)),
        Value::Object(map) => {
            let mut entries = map.iter();
            match (entries.next(), entries.next()) {
                (Some((name, range)), None) => {
                    let package = PackageName::parse(name).map_err(|e| DecodeError::new(e).at(name))?;
                    let range = json::parsed(range, parse_spago_range).map_err(|e| e.at(name))?;
                    Ok((package, Some(range)))
                }
                (None, _) => Err(DecodeError::new("Expected a singleton map but received an empty one")),
                _ => Err(DecodeError::new(format!(
                    "Expected a singleton map but received a map with {} elements.",
                    map.len()
                ))),
            }
        }
        other => Err(DecodeError::new(format!(
            "Expected a package name or a {{name: range}} map, got {}",
            json::kind(other)
        ))),
    })?;
    Ok(items.into_iter().collect())
}

fn decode_publish(value: &Value) -> Result<PublishConfig, DecodeError> {
    let obj = Obj::new(value)?;
    let strings = |v: &Value| json::array_of(v, |s| json::as_str(s).map(str::to_owned));
    Ok(PublishConfig {
        version: obj.req("version", Version::decode)?,
        license: obj.req("license", |v| json::parsed(v, License::parse_canonical))?,
        location: optional(&obj, "location", Location::decode)?,
        include: optional(&obj, "include", strings)?,
        exclude: optional(&obj, "exclude", strings)?,
        owners: optional(&obj, "owners", |v| {
            let owners = json::array_of(v, Owner::decode)?;
            if owners.is_empty() {
                Err(DecodeError::new("Expected a non-empty array of owners"))
            } else {
                Ok(owners)
            }
        })?,
    })
}

/// Converts the package section to a manifest published from `git_ref`. Every
/// dependency needs a range; empty include/exclude globs are dropped, and empty
/// lists become absent.
pub fn spago_yaml_to_manifest(git_ref: &str, config: &SpagoYaml) -> Result<Manifest, String> {
    let package = config.package.as_ref().ok_or("No 'package' key found in config.")?;
    let publish =
        package.publish.as_ref().ok_or("No 'publish' key found under the 'package' key in config.")?;
    let location =
        publish.location.clone().ok_or("No 'location' key found under the 'publish' key in config.")?;
    let globs = |list: &Option<Vec<String>>| {
        let kept: Vec<String> = list.iter().flatten().filter(|g| !g.is_empty()).cloned().collect();
        (!kept.is_empty()).then_some(kept)
    };

    let unranged: Vec<&str> = package
        .dependencies
        .iter()
        .filter(|(_, r)| !matches!(r, Some(SpagoRange::Bounded(_))))
        .map(|(n, _)| n.as_str())
        .collect();
    if !unranged.is_empty() {
        return Err(format!(
            "The following packages did not have their ranges specified: {}",
            unranged.join(", ")
        ));
    }
    let dependencies = package
        .dependencies
        .iter()
        .filter_map(|(name, range)| match range {
            Some(SpagoRange::Bounded(range)) => Some((name.clone(), *range)),
            _ => None,
        })
        .collect();
    let description = package.description.as_deref().map(Description::parse).transpose()?;

    Ok(Manifest {
        name: package.name.clone(),
        version: publish.version,
        license: publish.license.clone(),
        description,
        location,
        git_ref: git_ref.to_owned(),
        owners: publish.owners.clone(),
        include_files: globs(&publish.include),
        exclude_files: globs(&publish.exclude),
        dependencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "package:\n  name: pkg\n  publish:\n    version: 1.0.0\n    license: MIT\n    location:\n      githubOwner: o\n      githubRepo: r\n";

    #[test]
    fn dependencies_need_ranges() {
        let config = SpagoYaml::parse(&format!(
            "{BASE}  dependencies:\n    - prelude\n    - effect: '*'\n    - console: 6.0.0\n"
        ))
        .unwrap();
        assert_eq!(
            spago_yaml_to_manifest("v1.0.0", &config).unwrap_err(),
            "The following packages did not have their ranges specified: effect, prelude"
        );
    }

    #[test]
    fn empty_globs_disappear_and_pinned_versions_become_exact() {
        let text = format!(
            "{BASE}    include: ['', 'test/**']\n    exclude: ['']\n  dependencies:\n    - console: 6.0.0\n"
        );
        let manifest = spago_yaml_to_manifest("abc", &SpagoYaml::parse(&text).unwrap()).unwrap();
        assert_eq!(manifest.include_files, Some(vec!["test/**".to_owned()]));
        assert_eq!(manifest.exclude_files, None);
        assert_eq!(manifest.dependencies.values().next().unwrap().to_string(), ">=6.0.0 <6.0.1");
        assert_eq!(manifest.git_ref, "abc");
    }

    #[test]
    fn missing_sections_are_named() {
        let no_publish = SpagoYaml::parse("package:\n  name: pkg\n  dependencies: []\n").unwrap();
        assert_eq!(
            spago_yaml_to_manifest("v1", &no_publish).unwrap_err(),
            "No 'publish' key found under the 'package' key in config."
        );
        let no_package = SpagoYaml::parse("workspace: {}\n").unwrap();
        assert_eq!(
            spago_yaml_to_manifest("v1", &no_package).unwrap_err(),
            "No 'package' key found in config."
        );
        assert!(SpagoYaml::parse("package:\n  name: pkg\n").is_err(), "dependencies are required");
        assert!(SpagoYaml::parse(&format!("{BASE}  dependencies:\n    - {{a: '*', b: '*'}}\n")).is_err());
    }
}
