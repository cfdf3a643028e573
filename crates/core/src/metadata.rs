//! Package metadata (`metadata/<name>.json` in the registry repository).

use std::collections::BTreeMap;

use crate::json::{self, Codec, DecodeError, Map, Obj, Value};
use crate::limited::UnpublishReason;
use crate::location::{Location, Owner};
use crate::sha256::Sha256;
use crate::time::Timestamp;
use crate::version::Version;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub location: Location,
    pub owners: Option<Vec<Owner>>,
    pub published: BTreeMap<Version, PublishedMetadata>,
    pub unpublished: BTreeMap<Version, UnpublishedMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedMetadata {
    pub bytes: u64,
    /// Compilers the version is known to build with: non-empty, ascending, distinct.
    pub compilers: Vec<Version>,
    pub hash: Sha256,
    pub published_time: Timestamp,
    /// Deprecated; new publishes write `Some("")`, old records may lack it.
    pub git_ref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpublishedMetadata {
    pub published_time: Timestamp,
    pub reason: UnpublishReason,
    pub unpublished_time: Timestamp,
}

impl Metadata {
    pub fn new(location: Location) -> Self {
        Metadata { location, owners: None, published: BTreeMap::new(), unpublished: BTreeMap::new() }
    }
}

impl PublishedMetadata {
    /// Adds a compiler, leaving the list ascending and distinct (also when the file
    /// it was read from listed them in another order).
    pub fn add_compiler(&mut self, compiler: Version) {
        self.compilers.push(compiler);
        self.compilers.sort();
        self.compilers.dedup();
    }
}

fn version_map<T>(
    value: &Value,
    f: impl Fn(&Value) -> Result<T, DecodeError>,
) -> Result<BTreeMap<Version, T>, DecodeError> {
    Obj::new(value)?
        .map()
        .iter()
        .map(|(k, v)| {
            let version = Version::parse(k).map_err(|e| DecodeError::new(e).at(k))?;
            Ok((version, f(v).map_err(|e| e.at(k))?))
        })
        .collect()
}

impl Codec for PublishedMetadata {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        map.insert("bytes".into(), Value::from(self.bytes));
        map.insert("compilers".into(), Value::Array(self.compilers.iter().map(Version::encode).collect()));
        map.insert("hash".into(), self.hash.encode());
        map.insert("publishedTime".into(), self.published_time.encode());
        if let Some(git_ref) = &self.git_ref {
            map.insert("ref".into(), Value::String(git_ref.clone()));
        }
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        let compilers = obj.req("compilers", |v| json::array_of(v, Version::decode))?;
        if compilers.is_empty() {
            return Err(DecodeError::new("Expected at least one compiler").at("compilers"));
        }
        Ok(PublishedMetadata {
            bytes: obj.req("bytes", json::as_u64)?,
            compilers,
            hash: obj.req("hash", Sha256::decode)?,
            published_time: obj.req("publishedTime", Timestamp::decode)?,
            git_ref: obj.opt_str("ref")?.map(str::to_owned),
        })
    }
}

impl Codec for UnpublishedMetadata {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        map.insert("publishedTime".into(), self.published_time.encode());
        map.insert("reason".into(), Value::String(self.reason.to_string()));
        map.insert("unpublishedTime".into(), self.unpublished_time.encode());
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(UnpublishedMetadata {
            published_time: obj.req("publishedTime", Timestamp::decode)?,
            reason: obj.req("reason", |v| json::parsed(v, UnpublishReason::parse))?,
            unpublished_time: obj.req("unpublishedTime", Timestamp::decode)?,
        })
    }
}

impl Codec for Metadata {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        map.insert("location".into(), self.location.encode());
        if let Some(owners) = &self.owners {
            map.insert("owners".into(), Value::Array(owners.iter().map(Owner::encode).collect()));
        }
        let published = self.published.iter().map(|(v, p)| (v.to_string(), p.encode())).collect();
        map.insert("published".into(), Value::Object(published));
        let unpublished = self.unpublished.iter().map(|(v, u)| (v.to_string(), u.encode())).collect();
        map.insert("unpublished".into(), Value::Object(unpublished));
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(Metadata {
            location: obj.req("location", Location::decode)?,
            owners: obj.opt("owners", |v| json::array_of(v, Owner::decode))?,
            published: obj.req("published", |v| version_map(v, PublishedMetadata::decode))?,
            unpublished: obj.req("unpublished", |v| version_map(v, UnpublishedMetadata::decode))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_compiler_leaves_the_list_ascending_and_distinct() {
        let v = |m| Version::new(0, 15, m);
        let mut published = PublishedMetadata {
            bytes: 1,
            compilers: vec![v(10), v(2)],
            hash: Sha256::of_bytes(b""),
            published_time: Timestamp::from_unix_millis(0),
            git_ref: None,
        };
        published.add_compiler(v(5));
        published.add_compiler(v(10));
        assert_eq!(published.compilers, vec![v(2), v(5), v(10)]);
    }
}
