//! Real servers for the workspace's tests. Only ever a dev-dependency, so the
//! registry's binaries cannot start a test server.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use registry_adapters::S3Config;

/// A real S3-compatible server for tests: moto's `moto_server` (PyPI
/// `moto[server]`, installed by scripts/setup.sh), or `s3s-fs` (crates.io,
/// `--features binary`) when `REGISTRY_TEST_S3=s3s-fs`; stopped when dropped.
pub struct S3TestServer {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for S3TestServer {
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

impl S3TestServer {
    /// Starts a server with the bucket `registry`, or prints SKIPPED and answers
    /// `None` when none is installed.
    pub async fn start() -> Option<S3TestServer> {
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
        let server = S3TestServer { child, endpoint: endpoint.clone(), _dir: dir };
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

    pub fn config(&self) -> S3Config {
        S3Config {
            endpoint: self.endpoint.clone(),
            bucket: "registry".into(),
            region: "us-east-1".into(),
            access_key: "AK".into(),
            secret_key: "SK".into(),
            virtual_hosted: false,
        }
    }
}
