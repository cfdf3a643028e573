//! `output/cache-db.json`: per module, per input file, the file's modification time and the
//! SHA-512 of its raw bytes.
//!
//! Format (compact, keys sorted, no trailing newline):
//! `{"<Module>":{"<path>":["<mtime>","<sha512 hex>"],…},…}`; mtimes are ISO-8601 UTC with
//! up to 9 fraction digits, trailing zeros removed, no fraction at all when it is zero.

use std::collections::BTreeMap;
use std::path::{Component, Path};
use std::time::{SystemTime, UNIX_EPOCH};

use registry_core::Date;
use serde_json::{Map, Value};
use sha2::{Digest, Sha512};

/// The recorded state of one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    pub mtime: String,
    pub sha512: String,
}

/// Input path (as stored) → stamp.
pub type CacheInfo = BTreeMap<String, FileStamp>;

/// Module name → its inputs.
pub type CacheDb = BTreeMap<String, CacheInfo>;

pub const FILE_NAME: &str = "cache-db.json";

/// Reads the cache; a missing or unreadable one is empty (everything gets rebuilt).
pub fn read(output_dir: &Path) -> CacheDb {
    let Ok(text) = std::fs::read_to_string(output_dir.join(FILE_NAME)) else { return CacheDb::new() };
    parse(&text).unwrap_or_default()
}

fn parse(text: &str) -> Option<CacheDb> {
    let value: Value = serde_json::from_str(text).ok()?;
    let mut db = CacheDb::new();
    for (module, files) in value.as_object()? {
        let mut info = CacheInfo::new();
        for (path, stamp) in files.as_object()? {
            let [mtime, sha512] = stamp.as_array()?.as_slice() else { return None };
            info.insert(
                path.clone(),
                FileStamp { mtime: mtime.as_str()?.to_owned(), sha512: sha512.as_str()?.to_owned() },
            );
        }
        db.insert(module.clone(), info);
    }
    Some(db)
}

/// The exact bytes purs writes.
pub fn render(db: &CacheDb) -> String {
    let mut outer = Map::new();
    for (module, info) in db {
        let mut files = Map::new();
        for (path, stamp) in info {
            files.insert(path.clone(), Value::from(vec![stamp.mtime.clone(), stamp.sha512.clone()]));
        }
        outer.insert(module.clone(), Value::Object(files));
    }
    serde_json::to_string(&Value::Object(outer)).expect("JSON values always print")
}

/// A file's modification time as purs prints it.
pub fn format_mtime(time: SystemTime) -> String {
    let (secs, nanos) = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(before) => {
            let d = before.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 { (-s, 0) } else { (-s - 1, 1_000_000_000 - n) }
        }
    };
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let mut out =
        format!("{}T{:02}:{:02}:{:02}", Date::from_days(days), of_day / 3600, of_day / 60 % 60, of_day % 60);
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

pub fn sha512_hex(bytes: &[u8]) -> String {
    hex::encode(Sha512::digest(bytes))
}

/// The key purs stores an input path under: relative paths normalised; absolute paths
/// inside `cwd` made relative to it; other absolute paths kept (normalised).
pub fn cache_key(path: &str, cwd: &Path) -> String {
    let p = Path::new(path);
    if p.is_relative() {
        return normalise(path);
    }
    match p.strip_prefix(cwd) {
        Ok(rel) if !rel.as_os_str().is_empty() => normalise(&rel.to_string_lossy()),
        _ => normalise(path),
    }
}

/// Like Haskell's `System.FilePath.normalise` for the paths that occur here: repeated
/// separators and `.` components removed, `..` kept.
pub fn normalise(path: &str) -> String {
    let absolute = path.starts_with('/');
    let parts: Vec<String> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            _ => None,
        })
        .collect();
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn mtimes_print_with_trimmed_fractions() {
        let at = |secs: u64, nanos: u32| format_mtime(UNIX_EPOCH + Duration::new(secs, nanos));
        assert_eq!(at(1_714_557_600, 123_456_789), "2024-05-01T10:00:00.123456789Z");
        assert_eq!(at(1_714_557_600, 120_000_000), "2024-05-01T10:00:00.12Z");
        assert_eq!(at(1_714_557_600, 0), "2024-05-01T10:00:00Z");
        assert_eq!(format_mtime(UNIX_EPOCH - Duration::new(1, 500_000_000)), "1969-12-31T23:59:58.5Z");
    }

    #[test]
    fn renders_compact_sorted_and_reads_back() {
        let mut db = CacheDb::new();
        let stamp = |m: &str| FileStamp { mtime: m.into(), sha512: "ab".into() };
        db.entry("B".into()).or_default().insert("src/B.purs".into(), stamp("t1"));
        db.entry("A".into()).or_default().insert("src/A.purs".into(), stamp("t2"));
        db.entry("A".into()).or_default().insert("src/A.js".into(), stamp("t3"));
        let text = render(&db);
        assert_eq!(
            text,
            r#"{"A":{"src/A.js":["t3","ab"],"src/A.purs":["t2","ab"]},"B":{"src/B.purs":["t1","ab"]}}"#
        );
        assert_eq!(parse(&text), Some(db));
        assert_eq!(parse("{\"A\":[]}"), None);
    }

    #[test]
    fn keys_are_normalised_relative_to_cwd() {
        let cwd = Path::new("/work/pkg");
        assert_eq!(cache_key("./src//A.purs", cwd), "src/A.purs");
        assert_eq!(cache_key("/work/pkg/src/./A.purs", cwd), "src/A.purs");
        assert_eq!(cache_key("/elsewhere/A.purs", cwd), "/elsewhere/A.purs");
        assert_eq!(cache_key("../dep/src/A.purs", cwd), "../dep/src/A.purs");
    }

    #[test]
    fn hashes_raw_bytes() {
        assert_eq!(
            sha512_hex(b""),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        );
        assert_ne!(sha512_hex(b"a\r\n"), sha512_hex(b"a\n"));
    }
}
