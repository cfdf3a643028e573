//! S3 storage against a real S3-compatible server started by the test
//! ([`registry_test_support::S3TestServer`]). Without one the test says so and
//! checks nothing.

use bytes::Bytes;
use registry_adapters::activity::MemoryLog;
use registry_adapters::{ObjectKey, S3Storage, Storage, StorageError};
use registry_core::{PackageName, Version};
use registry_test_support::S3TestServer;

#[tokio::test]
async fn s3_storage_round_trip_against_a_real_server() {
    let Some(server) = S3TestServer::start().await else { return };
    let storage = S3Storage::new(&server.config()).unwrap();
    let log = MemoryLog::default();
    let name = PackageName::parse("prelude").unwrap();
    let (v1, v2) = (Version::new(6, 0, 1), Version::new(6, 0, 2));
    let tarball = Bytes::from((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>());

    assert!(storage.download(&name, &v1).await.unwrap().is_none());
    storage.upload(&name, &v1, tarball.clone(), &log).await.unwrap();
    let again = storage.upload(&name, &v1, Bytes::from_static(b"other"), &log).await;
    assert!(matches!(again, Err(StorageError::AlreadyExists { .. })), "{again:?}");
    assert_eq!(storage.download(&name, &v1).await.unwrap().unwrap(), tarball);
    storage.upload(&name, &v2, Bytes::from_static(b"x"), &log).await.unwrap();
    let other = PackageName::parse("prelude-extra").unwrap();
    storage.upload(&other, &v1, Bytes::from_static(b"y"), &log).await.unwrap();
    assert_eq!(storage.versions(&name).await.unwrap().into_iter().collect::<Vec<_>>(), [v1, v2]);
    storage.delete(&name, &v1, &log).await.unwrap();
    assert!(storage.download(&name, &v1).await.unwrap().is_none());
    assert!(matches!(storage.delete(&name, &v1, &log).await, Err(StorageError::NotFound { .. })));
    assert!(
        log.lines()
            .iter()
            .any(|(_, m)| m.contains("Uploaded prelude/6.0.1.tar.gz (70000 bytes) to S3 bucket"))
    );
}

#[tokio::test]
async fn s3_objects_are_write_once_and_stay_out_of_package_listings() {
    let Some(server) = S3TestServer::start().await else { return };
    let storage = S3Storage::new(&server.config()).unwrap();
    let log = MemoryLog::default();
    let key = ObjectKey::new("_build-cache/ab/abcdef.tar.gz").unwrap();
    assert!(!storage.has_object(&key).await.unwrap());
    assert!(storage.get_object(&key).await.unwrap().is_none());
    assert!(storage.put_object(&key, Bytes::from_static(b"first"), &log).await.unwrap());
    assert!(!storage.put_object(&key, Bytes::from_static(b"second"), &log).await.unwrap());
    assert!(storage.has_object(&key).await.unwrap());
    assert_eq!(storage.get_object(&key).await.unwrap().unwrap(), Bytes::from_static(b"first"));
    // A package named like the cache's folder still lists only its tarballs.
    let name = PackageName::parse("build-cache").unwrap();
    storage.upload(&name, &Version::new(1, 0, 0), Bytes::from_static(b"t"), &log).await.unwrap();
    assert_eq!(
        storage.versions(&name).await.unwrap().into_iter().collect::<Vec<_>>(),
        [Version::new(1, 0, 0)]
    );
}

/// As upstream's, tarballs are readable by anyone (clients download them without
/// credentials); the build cache is not.
#[tokio::test]
async fn s3_tarballs_are_public_and_the_build_cache_is_private() {
    let Some(server) = S3TestServer::start().await else { return };
    let storage = S3Storage::new(&server.config()).unwrap();
    let log = MemoryLog::default();
    let name = PackageName::parse("prelude").unwrap();
    storage.upload(&name, &Version::new(6, 0, 1), Bytes::from_static(b"tarball"), &log).await.unwrap();
    let key = ObjectKey::new("_build-cache/ab/abcdef.tar.gz").unwrap();
    assert!(storage.put_object(&key, Bytes::from_static(b"cache"), &log).await.unwrap());

    // Plain, unsigned requests, as spago sends them.
    let anonymous = reqwest::Client::new();
    let get = |path: &str| anonymous.get(format!("{}/registry/{path}", server.endpoint)).send();
    let tarball = get("prelude/6.0.1.tar.gz").await.unwrap();
    assert_eq!(tarball.status().as_u16(), 200);
    assert_eq!(tarball.bytes().await.unwrap().as_ref(), b"tarball");
    let cache = get("_build-cache/ab/abcdef.tar.gz").await.unwrap();
    assert_eq!(cache.status().as_u16(), 403, "the build cache is readable without credentials");
}
