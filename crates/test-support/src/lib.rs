//! Real servers for the workspace's tests and benchmarks. A dev-dependency, and a
//! dependency of `registry-bench` only, so a production `registry` binary (built
//! without `--features bench`) cannot start a test server.

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

    /// The settings a `registry` process reads to use this server for its storage
    /// and build cache, as the README gives them.
    pub fn registry_env(&self) -> [(&'static str, String); 7] {
        let config = self.config();
        [
            ("REGISTRY_STORAGE", "s3".to_owned()),
            ("S3_BUCKET_URL", config.endpoint),
            ("S3_BUCKET", config.bucket),
            ("S3_REGION", config.region),
            ("S3_PATH_STYLE", "true".to_owned()),
            ("SPACES_KEY", config.access_key),
            ("SPACES_SECRET", config.secret_key),
        ]
    }
}

/// The settings that point a `registry` process at the three git remotes, bare
/// repositories under `<central>/git/`, shared by every worker of a test or benchmark.
pub fn remotes_env(central: &std::path::Path) -> [(&'static str, String); 3] {
    let remote = |repo: &str| central.join("git").join(repo).display().to_string();
    [
        ("REGISTRY_REMOTE", remote("registry.git")),
        ("REGISTRY_INDEX_REMOTE", remote("registry-index.git")),
        ("LEGACY_PACKAGE_SETS_REMOTE", remote("package-sets.git")),
    ]
}

/// A throwaway Postgres cluster (Debian's `postgresql` package, installed by
/// scripts/setup.sh) in a temporary directory, listening on a free loopback port with
/// trust authentication; stopped (immediately, as a crash would) and deleted when dropped.
/// As root, the cluster runs as the `postgres` user: the server refuses to run as root.
pub struct PostgresTestServer {
    bin: std::path::PathBuf,
    data: std::path::PathBuf,
    run_as: Option<String>,
    pub port: u16,
    _dir: tempfile::TempDir,
}

fn postgres_bin() -> Option<std::path::PathBuf> {
    if let Ok(dir) = std::env::var("REGISTRY_TEST_PG_BIN") {
        return Some(dir.into());
    }
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    // The newest major version: directory names are numbers.
    found.sort_by_key(|bin| {
        bin.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()?.parse::<u32>().ok()).unwrap_or(0)
    });
    found.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl PostgresTestServer {
    fn command(&self, program: &str) -> Command {
        command_as(self.run_as.as_deref(), &self.bin.join(program))
    }

    /// Starts a cluster, or prints SKIPPED and answers `None` when Postgres is not
    /// installed or cannot start here.
    pub fn start() -> Option<PostgresTestServer> {
        let Some(bin) = postgres_bin() else {
            eprintln!(
                "SKIPPED: Postgres is not installed (apt-get install postgresql; scripts/setup.sh does)"
            );
            return None;
        };
        let run_as = is_root().then(|| "postgres".to_owned());
        let dir = tempfile::tempdir().unwrap();
        if let Some(user) = &run_as {
            let chowned = Command::new("chown").arg(user).arg(dir.path()).status();
            if !chowned.is_ok_and(|s| s.success()) {
                eprintln!(
                    "SKIPPED: running as root, but the temporary directory cannot be given to user {user}"
                );
                return None;
            }
        }
        let data = dir.path().join("data");
        let server = PostgresTestServer { bin, data: data.clone(), run_as, port: free_port(), _dir: dir };
        let initdb = server
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"])
            .arg(&data)
            .output();
        match initdb {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                eprintln!("SKIPPED: initdb failed: {}", String::from_utf8_lossy(&out.stderr).trim());
                return None;
            }
            Err(err) => {
                eprintln!("SKIPPED: initdb could not run: {err}");
                return None;
            }
        }
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200",
            server.port,
            server.data.parent().unwrap().display()
        );
        let started = server
            .command("pg_ctl")
            .args(["-w", "-t", "30", "-l"])
            .arg(server.data.parent().unwrap().join("server.log"))
            .arg("-D")
            .arg(&server.data)
            .args(["-o", &options, "start"])
            .stdout(Stdio::null())
            .output();
        if !started.as_ref().is_ok_and(|o| o.status.success()) {
            let log =
                std::fs::read_to_string(server.data.parent().unwrap().join("server.log")).unwrap_or_default();
            eprintln!("SKIPPED: Postgres did not start: {started:?}\n{log}");
            return None;
        }
        Some(server)
    }

    /// One cluster for the whole test process, started on first use, for suites that
    /// run every test against Postgres (`REGISTRY_TEST_DATABASE=postgres`). A static is
    /// never dropped, so a watchdog stops the cluster and deletes it once this process
    /// is gone.
    pub fn shared() -> Option<&'static PostgresTestServer> {
        static SHARED: std::sync::OnceLock<Option<PostgresTestServer>> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| {
                let server = PostgresTestServer::start()?;
                let stop = format!(
                    "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runas}{pg_ctl} -D {data} -m immediate stop; rm -rf {dir}",
                    pid = std::process::id(),
                    runas = server.run_as.as_ref().map_or(String::new(), |u| format!("runuser -u {u} -- ")),
                    pg_ctl = server.bin.join("pg_ctl").display(),
                    data = server.data.display(),
                    dir = server._dir.path().display(),
                );
                Command::new("sh")
                    .args(["-c", &stop])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .ok()?;
                Some(server)
            })
            .as_ref()
    }

    /// A `postgres://` URL of a database named `name`, created unless it exists.
    pub fn database(&self, name: &str) -> String {
        let exists = self
            .command("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-tAc"])
            .arg(format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"))
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "1");
        if exists { self.url(name) } else { self.new_database(name) }
    }

    /// A `postgres://` URL of a new, empty database in this cluster.
    pub fn new_database(&self, name: &str) -> String {
        let created = self
            .command("createdb")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", name])
            .output()
            .expect("running createdb");
        assert!(created.status.success(), "createdb {name}: {}", String::from_utf8_lossy(&created.stderr));
        self.url(name)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

/// With `REGISTRY_TEST_DATABASE=postgres`, the database a test's registry in `data`
/// uses: one per data directory (so a restarted server finds its jobs) in a cluster
/// shared by the test process, so suites run unchanged against the Postgres store.
/// `None` otherwise: the registry keeps its embedded SQLite database.
pub fn test_database_url(data: &std::path::Path) -> Option<String> {
    if std::env::var("REGISTRY_TEST_DATABASE").as_deref() != Ok("postgres") {
        return None;
    }
    let server = PostgresTestServer::shared().expect(
        "REGISTRY_TEST_DATABASE=postgres, but no Postgres cluster could start (see the SKIPPED line)",
    );
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut hasher);
    Some(server.database(&format!("t{:016x}", hasher.finish())))
}

fn command_as(user: Option<&str>, program: &std::path::Path) -> Command {
    match user {
        Some(user) => {
            let mut command = Command::new("runuser");
            command.args(["-u", user, "--"]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

impl Drop for PostgresTestServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
