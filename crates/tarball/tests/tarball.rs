//! Creation is reproducible; extraction refuses anything but plain package files.

mod common;

use std::io::Write;

use common::TempDir;
use flate2::Compression;
use flate2::write::GzEncoder;
use registry_tarball::{Limits, TarballError, create_tarball, extract_tarball};
use tar::{EntryType, Header};

/// A gzip-compressed tar made of raw `(path, type, contents)` entries, including
/// ones `tar::Builder` would refuse to write.
fn raw_archive(entries: &[(&str, EntryType, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (path, kind, data) in entries {
        let mut header = Header::new_gnu();
        let name = &mut header.as_gnu_mut().unwrap().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        if *kind == EntryType::Symlink || *kind == EntryType::Link {
            header.set_link_name("target").unwrap();
        }
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn extract(bytes: &[u8], limits: &Limits) -> Result<registry_tarball::Extracted, TarballError> {
    let out = TempDir::new();
    extract_tarball(bytes, out.path(), None, limits)
}

fn sample(tmp: &TempDir) {
    tmp.write("pkg/purs.json", "{}");
    tmp.write("pkg/src/Z.purs", "module Z where");
    tmp.write("pkg/src/A/B.purs", "module A.B where");
    tmp.write(&format!("pkg/src/{}/Deep.purs", "long-directory-name".repeat(8)), "module Deep where");
    std::fs::create_dir_all(tmp.path().join("pkg/empty")).unwrap();
}

#[test]
fn same_files_give_same_bytes_whatever_their_history() {
    let first = TempDir::new();
    sample(&first);
    let second = TempDir::new();
    // Different creation order, timestamps and permissions.
    std::fs::create_dir_all(second.path().join("pkg/empty")).unwrap();
    second.write(&format!("pkg/src/{}/Deep.purs", "long-directory-name".repeat(8)), "module Deep where");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    second.write("pkg/src/A/B.purs", "module A.B where");
    second.write("pkg/src/Z.purs", "module Z where");
    second.write("pkg/purs.json", "{}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(second.path().join("pkg/purs.json"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    let a = create_tarball(&first.path().join("pkg"), "pkg-1.0.0").unwrap();
    let b = create_tarball(&second.path().join("pkg"), "pkg-1.0.0").unwrap();
    assert_eq!(a, b);
    // Different contents, different bytes.
    second.write("pkg/purs.json", "{ }");
    assert_ne!(a, create_tarball(&second.path().join("pkg"), "pkg-1.0.0").unwrap());
}

#[test]
fn round_trip_keeps_files_directories_and_long_names() {
    let tmp = TempDir::new();
    sample(&tmp);
    let bytes = create_tarball(&tmp.path().join("pkg"), "pkg-1.0.0").unwrap();
    let out = TempDir::new();
    let extracted =
        extract_tarball(bytes.as_slice(), out.path(), Some("pkg-1.0.0"), &Limits::default()).unwrap();
    let deep = format!("src/{}/Deep.purs", "long-directory-name".repeat(8));
    // Names sort bytewise, so `Z` comes before `l`.
    assert_eq!(extracted.files, ["purs.json", "src/A/B.purs", "src/Z.purs", deep.as_str()]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("pkg-1.0.0").join(&deep)).unwrap(),
        "module Deep where"
    );
    assert!(out.path().join("pkg-1.0.0/empty").is_dir());
    assert_eq!(extracted.total_bytes, 2 + 14 + 16 + 17);
}

#[test]
fn links_and_escapes_are_refused() {
    let cases: [(&str, EntryType, &str); 6] = [
        ("pkg/link", EntryType::Symlink, "link"),
        ("pkg/hard", EntryType::Link, "link"),
        ("pkg/../evil", EntryType::Regular, "'..'"),
        ("/etc/evil", EntryType::Regular, "absolute"),
        ("other/file", EntryType::Regular, "outside the top directory"),
        ("pkg/dev", EntryType::Char, "only files and directories"),
    ];
    for (path, kind, why) in cases {
        let bytes = raw_archive(&[("pkg/", EntryType::Directory, b""), (path, kind, b"x")]);
        let err = extract(&bytes, &Limits::default()).unwrap_err();
        assert!(matches!(err, TarballError::Unsafe(_)), "{path}: {err}");
        assert!(err.to_string().contains(why), "{path}: {err}");
    }
}

#[test]
fn expected_top_directory_and_duplicates_are_enforced() {
    let bytes = raw_archive(&[("pkg/a", EntryType::Regular, b"1")]);
    let out = TempDir::new();
    let err =
        extract_tarball(bytes.as_slice(), out.path(), Some("other-1.0.0"), &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("outside the top directory 'other-1.0.0/'"), "{err}");

    let twice = raw_archive(&[("pkg/a", EntryType::Regular, b"1"), ("pkg/a", EntryType::Regular, b"2")]);
    assert!(extract(&twice, &Limits::default()).unwrap_err().to_string().contains("duplicate"));
    assert!(extract(&raw_archive(&[]), &Limits::default()).unwrap_err().to_string().contains("empty"));
}

#[test]
fn size_limits_stop_extraction() {
    let big = vec![b'a'; 10_000];
    let bytes = raw_archive(&[("pkg/a", EntryType::Regular, &big), ("pkg/b", EntryType::Regular, &big)]);
    let per_file = Limits { max_file_bytes: 9_999, ..Limits::default() };
    assert!(matches!(extract(&bytes, &per_file), Err(TarballError::TooLarge(_))));
    let total = Limits { max_total_bytes: 15_000, ..Limits::default() };
    assert!(matches!(extract(&bytes, &total), Err(TarballError::TooLarge(_))));
    let entries = Limits { max_entries: 1, ..Limits::default() };
    assert!(matches!(extract(&bytes, &entries), Err(TarballError::TooLarge(_))));
    assert_eq!(extract(&bytes, &Limits::default()).unwrap().total_bytes, 20_000);
}

#[test]
fn sources_with_links_or_bad_names_are_refused() {
    let tmp = TempDir::new();
    tmp.write("pkg/purs.json", "{}");
    assert!(matches!(create_tarball(&tmp.path().join("pkg"), "../x"), Err(TarballError::InvalidTopDir(_))));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", tmp.path().join("pkg/passwd")).unwrap();
        let err = create_tarball(&tmp.path().join("pkg"), "pkg-1.0.0").unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
    }
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let out = TempDir::new();
    let mut junk = GzEncoder::new(Vec::new(), Compression::default());
    junk.write_all(&[7u8; 1000]).unwrap();
    let junk = junk.finish().unwrap();
    assert!(extract_tarball(junk.as_slice(), out.path(), None, &Limits::default()).is_err());
    assert!(extract_tarball(&b"not gzip"[..], out.path(), None, &Limits::default()).is_err());
}
