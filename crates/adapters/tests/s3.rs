//! S3 storage against a real S3-compatible server started by the test: moto's
//! `moto_server` (PyPI `moto[server]`), or `s3s-fs` (crates.io, `--features binary`)
//! when `REGISTRY_TEST_S3=s3s-fs`. Without either the test says so and checks nothing.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use registry_adapters::activity::MemoryLog;
use registry_adapters::{S3Config, S3Storage, Storage, StorageError};
use registry_core::{PackageName, Version};

struct Server {
    child: Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Starts the server and creates the bucket `registry`.
async fn start() -> Option<Server> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let use_s3s = std::env::var("REGISTRY_TEST_S3").as_deref() == Ok("s3s-fs");
    let child = if use_s3s && on_path("s3s-fs") {
        std::fs::create_dir_all(dir.path().join("registry")).unwrap();
        Command::new("s3s-fs")
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                "AK",
                "--secret-key",
                "SK",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    } else if on_path("moto_server") {
        Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    } else {
        eprintln!("SKIPPED: neither moto_server nor s3s-fs is installed (pip install 'moto[server]')");
        return None;
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let server = Server { child, endpoint: endpoint.clone(), _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the S3 server did not start listening on {endpoint}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !use_s3s {
        // moto accepts an unsigned bucket creation.
        registry_adapters::install_tls_provider();
        let status =
            reqwest::Client::new().put(format!("{endpoint}/registry")).send().await.unwrap().status();
        assert!(status.is_success(), "creating the bucket: {status}");
    }
    Some(server)
}

#[tokio::test]
async fn s3_storage_round_trip_against_a_real_server() {
    let Some(server) = start().await else { return };
    let storage = S3Storage::new(&S3Config {
        endpoint: server.endpoint.clone(),
        bucket: "registry".into(),
        region: "us-east-1".into(),
        access_key: "AK".into(),
        secret_key: "SK".into(),
        virtual_hosted: false,
    })
    .unwrap();
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
