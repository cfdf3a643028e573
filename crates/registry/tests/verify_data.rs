//! Runs `registry verify-data` on the real registry's data (../shared) and on
//! damaged copies of it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn snapshot() -> Option<PathBuf> {
    let dir = match std::env::var("REGISTRY_SHARED_DIR") {
        Ok(d) => PathBuf::from(d),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
    .join("data/registry-snapshot");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {} is absent (set REGISTRY_SHARED_DIR to run it)", dir.display());
        None
    }
}

fn verify(dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_registry")).arg("verify-data").arg(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), stdout + &String::from_utf8_lossy(&out.stderr))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_real_registry_data_verifies_with_only_allow_listed_warnings() {
    let Some(dir) = snapshot() else { return };
    let (ok, output) = verify(&dir);
    assert!(ok, "{output}");
    assert!(output.contains("verify-data: OK"), "{output}");
    assert!(output.contains("0 unexplained mismatches"), "{output}");
    // The known upstream inconsistency is reported, not hidden.
    assert!(output.contains("warning: harmonia@0.1.0"), "{output}");
    assert!(!output.contains("matched nothing"), "{output}");
}

#[test]
fn damaged_copies_fail_with_the_damage_named() {
    let Some(dir) = snapshot() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("data");
    copy_tree(&dir, &copy);

    // Same JSON value, different bytes: the re-encoding check must notice.
    let prelude = copy.join("metadata/prelude.json");
    let text = std::fs::read_to_string(&prelude).unwrap();
    std::fs::write(&prelude, text.replace("  \"published\"", "    \"published\"")).unwrap();
    // A package set naming a version that was never published.
    let set = copy.join("package-sets/80.3.1.json");
    let text = std::fs::read_to_string(&set).unwrap();
    std::fs::write(&set, text.replace("\"aff\": \"8.0.0\"", "\"aff\": \"99.0.0\"")).unwrap();
    // An index line removed: metadata and index disagree.
    let effect = copy.join("index/ef/fe/effect");
    let text = std::fs::read_to_string(&effect).unwrap();
    let first_line_end = text.find('\n').unwrap() + 1;
    std::fs::write(&effect, &text[first_line_end..]).unwrap();

    let (ok, output) = verify(&copy);
    assert!(!ok, "{output}");
    assert!(output.contains("MISMATCH prelude: re-encoding differs"), "{output}");
    assert!(output.contains("MISMATCH 80.3.1: some package versions are not registered"), "{output}");
    assert!(output.contains("aff@99.0.0"), "{output}");
    assert!(output.contains("published in metadata but missing from the index"), "{output}");
    assert!(output.contains("verify-data: FAILED"), "{output}");
}

#[test]
fn a_folder_that_is_not_registry_data_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let (ok, output) = verify(tmp.path());
    assert!(!ok);
    assert!(output.contains("has no index/ folder"), "{output}");
}
