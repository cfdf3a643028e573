//! Package sets (`package-sets/<version>.json`).

use std::collections::BTreeMap;

use crate::json::{Codec, DecodeError, Map, Obj, Value};
use crate::name::PackageName;
use crate::time::Date;
use crate::version::Version;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSet {
    pub version: Version,
    pub compiler: Version,
    pub published: Date,
    pub packages: BTreeMap<PackageName, Version>,
}

impl Codec for PackageSet {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        map.insert("version".into(), self.version.encode());
        map.insert("compiler".into(), self.compiler.encode());
        map.insert("published".into(), self.published.encode());
        let packages = self.packages.iter().map(|(n, v)| (n.to_string(), v.encode())).collect();
        map.insert("packages".into(), Value::Object(packages));
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(PackageSet {
            version: obj.req("version", Version::decode)?,
            compiler: obj.req("compiler", Version::decode)?,
            published: obj.req("published", Date::decode)?,
            packages: obj.req("packages", decode_packages)?,
        })
    }
}

/// Decodes `{ name: version }`.
pub fn decode_packages(value: &Value) -> Result<BTreeMap<PackageName, Version>, DecodeError> {
    Obj::new(value)?
        .map()
        .iter()
        .map(|(k, v)| {
            let name = PackageName::parse(k).map_err(|e| DecodeError::new(e).at(k))?;
            Ok((name, Version::decode(v).map_err(|e| e.at(k))?))
        })
        .collect()
}
