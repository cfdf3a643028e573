//! Package manifests (`purs.json`, and the lines of the manifest index).

use std::collections::BTreeMap;

use crate::json::{self, Codec, DecodeError, Map, Obj, Value};
use crate::license::License;
use crate::limited::Description;
use crate::location::{Location, Owner};
use crate::name::PackageName;
use crate::range::Range;
use crate::version::Version;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: PackageName,
    pub version: Version,
    pub license: License,
    pub description: Option<Description>,
    pub location: Location,
    pub git_ref: String,
    /// Never empty when present.
    pub owners: Option<Vec<Owner>>,
    /// Never empty when present; no empty globs.
    pub include_files: Option<Vec<String>>,
    /// Never empty when present; no empty globs.
    pub exclude_files: Option<Vec<String>>,
    pub dependencies: BTreeMap<PackageName, Range>,
}

impl Manifest {
    /// Decodes an authored manifest (`purs.json` in a package's source): like the
    /// stored form, but the licence must already be canonical SPDX.
    pub fn decode_authored(value: &Value) -> Result<Self, DecodeError> {
        let manifest = Self::decode(value)?;
        let raw = Obj::new(value)?.req_str("license")?;
        License::parse_canonical(raw).map_err(|e| {
            DecodeError::new(format!("The license field is not canonical SPDX: {e}")).at("license")
        })?;
        Ok(manifest)
    }

    /// `name@version`, as the registry prints package versions in messages.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

fn string_list(value: &Value) -> Result<Vec<String>, DecodeError> {
    let items = json::array_of(value, |v| {
        let s = json::as_str(v)?;
        if s.is_empty() { Err(DecodeError::new("Expected a non-empty string")) } else { Ok(s.to_owned()) }
    })?;
    if items.is_empty() {
        return Err(DecodeError::new("Expected a non-empty array (omit the field instead)"));
    }
    Ok(items)
}

fn owners(value: &Value) -> Result<Vec<Owner>, DecodeError> {
    let items = json::array_of(value, Owner::decode)?;
    if items.is_empty() {
        return Err(DecodeError::new("Expected a non-empty array of owners (omit the field instead)"));
    }
    Ok(items)
}

/// Decodes `{ name: range }`.
pub fn decode_dependencies(value: &Value) -> Result<BTreeMap<PackageName, Range>, DecodeError> {
    let obj = Obj::new(value)?;
    obj.map()
        .iter()
        .map(|(k, v)| {
            let name = PackageName::parse(k).map_err(|e| DecodeError::new(e).at(k))?;
            let range = Range::decode(v).map_err(|e| e.at(k))?;
            Ok((name, range))
        })
        .collect()
}

pub fn encode_dependencies(deps: &BTreeMap<PackageName, Range>) -> Value {
    Value::Object(deps.iter().map(|(k, v)| (k.to_string(), v.encode())).collect())
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

impl Codec for Manifest {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        map.insert("name".into(), self.name.encode());
        map.insert("version".into(), self.version.encode());
        map.insert("license".into(), Value::String(self.license.to_string()));
        if let Some(description) = &self.description {
            map.insert("description".into(), Value::String(description.to_string()));
        }
        map.insert("location".into(), self.location.encode());
        map.insert("ref".into(), Value::String(self.git_ref.clone()));
        if let Some(owners) = &self.owners {
            map.insert("owners".into(), Value::Array(owners.iter().map(Owner::encode).collect()));
        }
        if let Some(files) = &self.include_files {
            map.insert("includeFiles".into(), strings(files));
        }
        if let Some(files) = &self.exclude_files {
            map.insert("excludeFiles".into(), strings(files));
        }
        map.insert("dependencies".into(), encode_dependencies(&self.dependencies));
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(Manifest {
            name: obj.req("name", PackageName::decode)?,
            version: obj.req("version", Version::decode)?,
            license: obj.req("license", |v| json::parsed(v, License::parse))?,
            description: obj.opt("description", |v| json::parsed(v, Description::parse))?,
            location: obj.req("location", Location::decode)?,
            git_ref: obj.req_str("ref")?.to_owned(),
            owners: obj.opt("owners", owners)?,
            include_files: obj.opt("includeFiles", string_list)?,
            exclude_files: obj.opt("excludeFiles", string_list)?,
            dependencies: obj.req("dependencies", decode_dependencies)?,
        })
    }
}
