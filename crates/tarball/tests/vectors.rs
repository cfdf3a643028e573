//! The `Tar.create/extract` case of `shared/data/vectors/tarball-rules.json`
//! (the other cases are pure and checked in `registry-core`).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::TempDir;
use registry_core::Sha256;
use registry_tarball::{Limits, create_tarball, extract_tarball};
use serde_json::Value;

fn shared_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("REGISTRY_SHARED_DIR") {
        return Some(PathBuf::from(dir));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    root.is_dir().then_some(root)
}

/// As upstream's test: write the files into a fresh folder, pack it, unpack it,
/// and report the archive's hash and size.
fn make_tarball(folder: &str, files: &serde_json::Map<String, Value>) -> (Sha256, usize, Vec<String>) {
    let tmp = TempDir::new();
    for (name, contents) in files {
        tmp.write(&format!("{folder}/{name}"), contents.as_str().unwrap_or(""));
    }
    let bytes = create_tarball(&tmp.path().join(folder), folder).expect("creating the tarball");
    let out = TempDir::new();
    let extracted = extract_tarball(bytes.as_slice(), out.path(), Some(folder), &Limits::default()).unwrap();
    let mut listing: Vec<String> = std::fs::read_dir(out.path().join(folder))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listing.sort();
    assert_eq!(extracted.top_dir, folder);
    (Sha256::of_bytes(&bytes), bytes.len(), listing)
}

#[test]
fn tar_create_extract_vector() {
    let Some(dir) = shared_dir() else {
        eprintln!(
            "SKIPPED tarball-rules.json: ../shared/data/vectors is absent (set REGISTRY_SHARED_DIR to run it)"
        );
        return;
    };
    let text = std::fs::read_to_string(dir.join("data/vectors/tarball-rules.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases: Vec<&Value> =
        doc["cases"].as_array().unwrap().iter().filter(|c| c["function"] == "Tar.create/extract").collect();
    assert_eq!(cases.len(), 1, "expected exactly one Tar.create/extract case");
    for case in cases {
        let (input, expect) = (&case["input"], &case["expect"]);
        let folder = input["folder"].as_str().unwrap();
        let files = input["files"].as_object().unwrap();

        let (hash1, size1, listing) = make_tarball(folder, files);
        std::thread::sleep(Duration::from_millis(1100));
        let (hash2, size2, _) = make_tarball(folder, files);

        assert!(size1 as u64 > expect["bytes_gt"].as_u64().unwrap(), "tarball of {size1} bytes is too small");
        let want: Vec<&str> =
            expect["extracted_listing"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(listing, want);
        assert_eq!((hash1, size1), (hash2, size2), "tarballs made 1.1 s apart differ");
        eprintln!("tarball-rules.json: Tar.create/extract checked ({size1} bytes)");
    }
}
