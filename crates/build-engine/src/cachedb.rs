//! `output/cache-db.json` as purs reads and writes it (purs-cli-contract §3.2):
//! `{"<Module>":{"<input path>":["<mtime>","<sha512 hex>"]}}`, compact, keys sorted.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use registry_core::Date;
use serde_json::{Map, Value};
use sha2::{Digest, Sha512};

/// Input path → (mtime text, sha512 hex).
pub type ModuleEntry = BTreeMap<String, (String, String)>;

/// Module name → its inputs.
pub type CacheDb = BTreeMap<String, ModuleEntry>;

pub const FILE_NAME: &str = "cache-db.json";

/// Reads `output/cache-db.json`. `None` when it exists but cannot be read as a cache
/// (purs would treat it as empty); a missing file is an empty cache.
pub fn read(output: &Path) -> Option<CacheDb> {
    let text = match std::fs::read_to_string(output.join(FILE_NAME)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(CacheDb::new()),
        Err(_) => return None,
    };
    let value: Value = serde_json::from_str(&text).ok()?;
    let mut db = CacheDb::new();
    for (module, files) in value.as_object()? {
        let mut entry = ModuleEntry::new();
        for (path, stamp) in files.as_object()? {
            let [mtime, hash] = stamp.as_array()?.as_slice() else { return None };
            entry.insert(path.clone(), (mtime.as_str()?.to_owned(), hash.as_str()?.to_owned()));
        }
        db.insert(module.clone(), entry);
    }
    Some(db)
}

/// Writes the cache in purs's byte format (in place, like purs).
pub fn write(output: &Path, db: &CacheDb) -> std::io::Result<()> {
    let mut outer = Map::new();
    for (module, entry) in db {
        let mut files = Map::new();
        for (path, (mtime, hash)) in entry {
            files.insert(path.clone(), Value::from(vec![mtime.clone(), hash.clone()]));
        }
        outer.insert(module.clone(), Value::Object(files));
    }
    std::fs::create_dir_all(output)?;
    std::fs::write(output.join(FILE_NAME), serde_json::to_string(&Value::Object(outer)).unwrap_or_default())
}

/// The entry purs would record for an input file now: its mtime and content hash.
pub fn stamp(path: &Path) -> std::io::Result<(String, String)> {
    let bytes = std::fs::read(path)?;
    let mtime = std::fs::metadata(path)?.modified()?;
    Ok((format_mtime(mtime), hex::encode(Sha512::digest(&bytes))))
}

/// A modification time as purs prints it: ISO-8601 UTC, fraction without trailing
/// zeros, no fraction when it is zero.
pub fn format_mtime(time: SystemTime) -> String {
    let d = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let mut out =
        format!("{}T{:02}:{:02}:{:02}", Date::from_days(days), of_day / 3600, of_day / 60 % 60, of_day % 60);
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn mtimes_print_like_purs() {
        let t = UNIX_EPOCH + Duration::new(1_714_557_600, 123_450_000);
        assert_eq!(format_mtime(t), "2024-05-01T10:00:00.12345Z");
        assert_eq!(format_mtime(UNIX_EPOCH + Duration::from_secs(86_400)), "1970-01-02T00:00:00Z");
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = CacheDb::new();
        db.entry("A".into()).or_default().insert("src/A.purs".into(), ("t".into(), "h".into()));
        write(dir.path(), &db).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap(),
            r#"{"A":{"src/A.purs":["t","h"]}}"#
        );
        assert_eq!(read(dir.path()), Some(db));
        std::fs::write(dir.path().join(FILE_NAME), "{\"A\":").unwrap();
        assert_eq!(read(dir.path()), None);
    }
}
