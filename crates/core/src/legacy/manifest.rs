//! Legacy manifest formats (`bower.json`, the JSON form of `spago.dhall`) and the
//! manifest decoder for old `purs.json` files that lack `ref`.
//!
//! A package published from one of these formats gets its name, version, location
//! and ref from the publish request; the file contributes only a licence, an
//! optional description and dependency ranges ([`LegacyFields`]).

use std::collections::BTreeMap;

use super::lenient::{LenientRange, LenientVersion};
use crate::json::{self, Codec, DecodeError, Map, Obj, Value};
use crate::license::{Conjunction, License};
use crate::limited::Description;
use crate::manifest::Manifest;
use crate::name::PackageName;
use crate::range::Range;

/// The fields of a `purs.json` that a legacy manifest provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyFields {
    pub license: License,
    pub description: Option<Description>,
    pub dependencies: BTreeMap<PackageName, Range>,
}

/// The parts of a `bower.json` the registry reads. Names and ranges stay raw until
/// conversion: Bower allowed anything there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bowerfile {
    pub description: Option<String>,
    pub dependencies: BTreeMap<String, String>,
    /// Bower allows one licence string or a list; a single string becomes a list.
    pub license: Vec<String>,
}

/// A field that may be absent; unlike [`Obj::opt`], an explicit `null` is an error,
/// as in upstream's codecs for these formats.
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

fn string_map(value: &Value) -> Result<BTreeMap<String, String>, DecodeError> {
    Obj::new(value)?
        .map()
        .iter()
        .map(|(k, v)| Ok((k.clone(), json::as_str(v).map_err(|e| e.at(k))?.to_owned())))
        .collect()
}

fn strings(value: &Value) -> Result<Vec<String>, DecodeError> {
    json::array_of(value, |v| json::as_str(v).map(str::to_owned))
}

fn license_list(value: &Value) -> Result<Vec<String>, DecodeError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(_) => strings(value),
        other => Err(DecodeError::new(format!(
            "Expected a licence string or an array of licence strings, got {}",
            json::kind(other)
        ))),
    }
}

impl Codec for Bowerfile {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        let deps = self.dependencies.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        map.insert("dependencies".into(), Value::Object(deps));
        if let Some(description) = &self.description {
            map.insert("description".into(), Value::String(description.clone()));
        }
        map.insert("license".into(), Value::Array(self.license.iter().cloned().map(Value::String).collect()));
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(Bowerfile {
            description: optional(&obj, "description", |v| json::as_str(v).map(str::to_owned))?,
            dependencies: optional(&obj, "dependencies", string_map)?.unwrap_or_default(),
            license: optional(&obj, "license", license_list)?.unwrap_or_default(),
        })
    }
}

/// Converts a `bower.json` (upstream `bowerfileToPursJson`): licences that are not
/// canonical SPDX are dropped and the rest joined with `AND`; dependency names lose
/// their `purescript-` prefix and ranges are parsed leniently.
pub fn bowerfile_to_purs_json(bowerfile: &Bowerfile) -> Result<LegacyFields, String> {
    let valid = bowerfile.license.iter().filter_map(|l| License::parse_canonical(l).ok());
    let license =
        License::join_with(Conjunction::And, valid).ok_or("No valid SPDX license found in bower.json")?;

    let mut dependencies = BTreeMap::new();
    for (raw_name, raw_range) in &bowerfile.dependencies {
        let name = PackageName::strip_purescript_prefix(raw_name);
        let package = PackageName::parse(name).map_err(|_| format!("Invalid package name: {name}"))?;
        let range = LenientRange::parse(raw_range)
            .map_err(|_| format!("Invalid version range for {name}: {raw_range}"))?;
        dependencies.insert(package, range.range());
    }

    let description = bowerfile.description.as_deref().map(Description::parse).transpose()?;
    Ok(LegacyFields { license, description, dependencies })
}

/// The output of `dhall-to-json` on a package's `spago.dhall` (which imports its
/// `packages.dhall`): only the fields the registry reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpagoDhallJson {
    /// Never empty when present.
    pub license: Option<String>,
    pub dependencies: Vec<String>,
    /// Package-set entries by raw name: their version string.
    pub packages: BTreeMap<String, String>,
}

fn package_versions(value: &Value) -> Result<BTreeMap<String, String>, DecodeError> {
    Obj::new(value)?
        .map()
        .iter()
        .map(|(k, v)| {
            let version = Obj::new(v).and_then(|o| o.req_str("version")).map_err(|e| e.at(k))?;
            Ok((k.clone(), version.to_owned()))
        })
        .collect()
}

impl Codec for SpagoDhallJson {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        if !self.dependencies.is_empty() {
            let deps = self.dependencies.iter().cloned().map(Value::String).collect();
            map.insert("dependencies".into(), Value::Array(deps));
        }
        if let Some(license) = &self.license {
            map.insert("license".into(), Value::String(license.clone()));
        }
        if !self.packages.is_empty() {
            let packages = self
                .packages
                .iter()
                .map(|(k, v)| {
                    let mut entry = Map::new();
                    entry.insert("version".into(), Value::String(v.clone()));
                    (k.clone(), Value::Object(entry))
                })
                .collect();
            map.insert("packages".into(), Value::Object(packages));
        }
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        let license = optional(&obj, "license", |v| {
            let s = json::as_str(v)?;
            if s.is_empty() {
                Err(DecodeError::new("Expected a non-empty licence string"))
            } else {
                Ok(s.to_owned())
            }
        })?;
        Ok(SpagoDhallJson {
            license,
            dependencies: optional(&obj, "dependencies", strings)?.unwrap_or_default(),
            packages: optional(&obj, "packages", package_versions)?.unwrap_or_default(),
        })
    }
}

/// Converts a `spago.dhall` (upstream `spagoDhallToPursJson`): the licence must be
/// canonical SPDX; each dependency's version is looked up in the package set and
/// becomes an exact range.
pub fn spago_dhall_to_purs_json(spago: &SpagoDhallJson) -> Result<LegacyFields, String> {
    let raw_license = spago.license.as_deref().ok_or("No license found in spago.dhall")?;
    let license = License::parse_canonical(raw_license)
        .map_err(|_| format!("Invalid SPDX license in spago.dhall: {raw_license}"))?;

    let mut dependencies = BTreeMap::new();
    for raw_name in &spago.dependencies {
        let name = PackageName::strip_purescript_prefix(raw_name);
        let package = PackageName::parse(name).map_err(|_| format!("Invalid package name: {name}"))?;
        let raw_version = [raw_name.clone(), name.to_owned(), format!("purescript-{name}")]
            .iter()
            .find_map(|key| spago.packages.get(key))
            .ok_or_else(|| format!("Dependency {name} not found in packages"))?;
        let version = LenientVersion::parse(raw_version)
            .map_err(|_| format!("Invalid version for {name}: {raw_version}"))?;
        dependencies.insert(package, Range::exact(version.version()));
    }
    Ok(LegacyFields { license, description: None, dependencies })
}

/// Decodes a `purs.json` that may predate the `ref` field, using `fallback_ref`
/// (usually `v<version>`) when it is absent. The licence is read leniently.
pub fn decode_legacy_manifest(value: &Value, fallback_ref: &str) -> Result<Manifest, DecodeError> {
    let obj = Obj::new(value)?;
    if obj.has("ref") {
        return Manifest::decode(value);
    }
    let mut with_ref = obj.map().clone();
    with_ref.insert("ref".into(), Value::String(fallback_ref.to_owned()));
    Manifest::decode(&Value::Object(with_ref))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bower(text: &str) -> Bowerfile {
        Bowerfile::from_json_str(text).unwrap()
    }

    #[test]
    fn explicit_null_fields_are_errors_as_upstream() {
        assert!(Bowerfile::from_json_str(r#"{"description": null}"#).is_err());
        assert!(SpagoDhallJson::from_json_str(r#"{"license": ""}"#).is_err());
    }

    #[test]
    fn duplicate_dependency_spellings_keep_the_prefixed_one() {
        let fields = bowerfile_to_purs_json(&bower(
            r#"{"license": "MIT", "dependencies": {"foo": "^1.0.0", "purescript-foo": "^2.0.0"}}"#,
        ))
        .unwrap();
        assert_eq!(
            fields.dependencies.values().map(|r| r.to_string()).collect::<Vec<_>>(),
            [">=2.0.0 <3.0.0"]
        );
    }

    #[test]
    fn conversion_errors_name_the_culprit() {
        let bad_range = bower(r#"{"license": "MIT", "dependencies": {"purescript-prelude": "latest"}}"#);
        assert_eq!(
            bowerfile_to_purs_json(&bad_range).unwrap_err(),
            "Invalid version range for prelude: latest"
        );
        let bad_name = bower(r#"{"license": "MIT", "dependencies": {"Prelude": "^1.0.0"}}"#);
        assert_eq!(bowerfile_to_purs_json(&bad_name).unwrap_err(), "Invalid package name: Prelude");
        let spago = SpagoDhallJson::from_json_str(
            r#"{"license": "MIT", "dependencies": ["prelude"], "packages": {"prelude": {"version": "v6.0.0-rc"}}}"#,
        )
        .unwrap();
        assert_eq!(spago_dhall_to_purs_json(&spago).unwrap_err(), "Invalid version for prelude: v6.0.0-rc");
    }

    #[test]
    fn codecs_round_trip() {
        let b = bower(r#"{"license": ["MIT"], "description": "d", "dependencies": {"a": "1"}}"#);
        assert_eq!(Bowerfile::decode(&b.encode()).unwrap(), b);
        let s = SpagoDhallJson::from_json_str(
            r#"{"license": "MIT", "dependencies": ["a"], "packages": {"a": {"version": "1.0.0", "repo": "x"}}}"#,
        )
        .unwrap();
        assert_eq!(SpagoDhallJson::decode(&s.encode()).unwrap(), s);
    }
}
