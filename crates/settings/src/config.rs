//! Settings of `registry serve` (and `config show`): each a flag and an environment
//! variable; upstream's variable names where upstream has the setting.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use registry_adapters::git::mask_url;
use registry_core::Version;
use registry_core::job::JobType;

use crate::layout::DataDir;

/// The branch of upstream's legacy package-sets repository (purescript/package-sets).
pub const UPSTREAM_LEGACY_PACKAGE_SETS_BRANCH: &str = "master";

/// Upstream's `READONLY` values.
pub fn parse_bool(input: &str) -> Result<bool, String> {
    match input {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(format!("expected true, false, 1 or 0, got '{other}'")),
    }
}

/// `KIND=DURATION`, e.g. `publish=10m`, `packageset=90m`, `matrix=30s`; a bare number is minutes.
pub fn parse_job_timeout(input: &str) -> Result<(JobType, Duration), String> {
    let (kind, duration) = input
        .split_once('=')
        .ok_or_else(|| format!("expected KIND=DURATION (e.g. publish=10m), got '{input}'"))?;
    let kind = JobType::parse(kind.trim())?;
    let duration = duration.trim();
    let (number, unit) = match duration.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => duration.split_at(i),
        None => (duration, "m"),
    };
    let n: u64 = number.parse().map_err(|_| format!("'{duration}' is not a duration like 90s, 10m or 2h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("'{duration}' has an unknown unit: use s, m or h")),
    };
    if seconds == 0 {
        return Err(format!("the timeout for {kind} jobs must be positive"));
    }
    Ok((kind, Duration::from_secs(seconds)))
}

/// A duration like `10s`, `2m` or `1h`; a bare number is seconds. Must be positive.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let input = input.trim();
    let (number, unit) = match input.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => input.split_at(i),
        None => (input, "s"),
    };
    let n: u64 = number.parse().map_err(|_| format!("'{input}' is not a duration like 10s, 2m or 1h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("'{input}' has an unknown unit: use s, m or h")),
    };
    if seconds == 0 {
        return Err("the duration must be positive".into());
    }
    Ok(Duration::from_secs(seconds))
}

fn parse_positive(input: &str) -> Result<usize, String> {
    match input.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a positive whole number, got '{input}'")),
    }
}

/// A host of `--git-hosts`: a host name or IP address, with `:PORT` if not 443.
pub fn parse_git_host(input: &str) -> Result<String, String> {
    let host = input.trim().to_ascii_lowercase();
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') || name.ends_with(']') => (name, Some(port)),
        _ => (host.as_str(), None),
    };
    let valid_name =
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(c));
    let valid_port = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if !valid_name || !valid_port {
        return Err(format!("expected a host name like github.com or host:port, got '{input}'"));
    }
    Ok(host)
}

/// `KIND=PROGRAM`: run PROGRAM for jobs of KIND (see `handlers::command`).
pub fn parse_job_command(input: &str) -> Result<(JobType, PathBuf), String> {
    let (kind, program) = input.split_once('=').ok_or_else(|| {
        format!("expected KIND=PROGRAM (e.g. packageset=/usr/local/bin/build-set), got '{input}'")
    })?;
    if program.trim().is_empty() {
        return Err(format!("no program given for {kind} jobs"));
    }
    Ok((JobType::parse(kind.trim())?, PathBuf::from(program.trim())))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageKind {
    /// Tarballs in `<data-dir>/storage`, served by this server at `/<name>/<version>.tar.gz`.
    Local,
    /// An S3-compatible bucket (see the `--s3-*` settings).
    S3,
}

/// Everything `registry serve` can be told.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// The registry's data directory (created by `registry init`).
    #[arg(long, env = "REGISTRY_DATA_DIR")]
    pub data_dir: PathBuf,

    /// Address to listen on.
    #[arg(long, env = "REGISTRY_HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,

    #[arg(long, env = "SERVER_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Time a client has to send a whole request head (and how long an idle
    /// keep-alive connection stays open), e.g. `10s`.
    #[arg(long, env = "REGISTRY_HTTP_HEADER_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub http_header_timeout: Duration,

    /// Time from a request's head to its response, reading the body included.
    #[arg(long, env = "REGISTRY_HTTP_REQUEST_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub http_request_timeout: Duration,

    /// Open connections at most; when all are taken a new one replaces the oldest without a
    /// request in progress. Capped at half the process's open-files limit.
    #[arg(long, env = "REGISTRY_HTTP_MAX_CONNECTIONS", value_parser = parse_positive, default_value = "512")]
    pub http_max_connections: usize,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "REGISTRY_HTTP_MAX_BODY_BYTES", value_parser = parse_positive, default_value = "1048576")]
    pub http_max_body_bytes: usize,

    /// Hosts `gitUrl` locations may name (comma-separated; `host:port` for a port other
    /// than 443). Only `https://` URLs without user info are fetched; IP addresses only
    /// if listed. GitHub locations use --github-url.
    #[arg(long, env = "REGISTRY_GIT_HOSTS", value_delimiter = ',', value_parser = parse_git_host, default_value = "github.com")]
    pub git_hosts: Vec<String>,

    /// Run jobs without writing anywhere outside this server (no push, upload, delete or
    /// docs publication); each skipped write is logged in the job's log.
    #[arg(long, env = "READONLY", value_parser = parse_bool, default_value = "false",
          num_args = 0..=1, default_missing_value = "true")]
    pub readonly: bool,

    /// Directory searched for `purs-X_Y_Z` compilers before PATH.
    #[arg(long, env = "REGISTRY_COMPILERS")]
    pub compilers: Option<PathBuf>,

    /// Base URL of GitHub locations: `https://github.com`, or a `file://` directory of
    /// bare repositories `OWNER/REPO.git` for local use.
    #[arg(long, env = "GITHUB_URL", default_value = "https://github.com")]
    pub github_url: String,

    /// Remote of the registry repository (metadata, package sets); default: the data
    /// directory's bare repository.
    #[arg(long, env = "REGISTRY_REMOTE")]
    pub registry_remote: Option<String>,

    /// Remote of the registry-index repository; default: the data directory's bare repository.
    #[arg(long, env = "REGISTRY_INDEX_REMOTE")]
    pub index_remote: Option<String>,

    /// Remote of the legacy package-sets repository (upstream: purescript/package-sets)
    /// that each new package set is mirrored to; default: the data directory's bare repository.
    #[arg(long, env = "LEGACY_PACKAGE_SETS_REMOTE")]
    pub legacy_package_sets_remote: Option<String>,

    /// Branch of the registry, registry-index and (unless set apart) legacy package-sets repositories.
    #[arg(long, env = "REGISTRY_GIT_BRANCH", default_value = "main")]
    pub git_branch: String,

    /// Branch of the legacy package-sets repository; default: upstream's `master` for a
    /// --legacy-package-sets-remote, else --git-branch (the data directory's bare repository).
    #[arg(long, env = "LEGACY_PACKAGE_SETS_BRANCH")]
    pub legacy_package_sets_branch: Option<String>,

    #[arg(long, env = "REGISTRY_STORAGE", value_enum, default_value = "local")]
    pub storage: StorageKind,

    /// S3 endpoint (upstream: DigitalOcean Spaces).
    #[arg(long, env = "S3_BUCKET_URL", default_value = "https://ams3.digitaloceanspaces.com")]
    pub s3_endpoint: String,

    /// Where clients download tarballs from S3 storage (upstream's public URL,
    /// `https://packages.registry.purescript.org`); the dashboard links tarballs there.
    #[arg(long, env = "S3_API_URL")]
    pub s3_public_url: Option<String>,

    #[arg(long, env = "S3_BUCKET", default_value = "purescript-registry")]
    pub s3_bucket: String,

    #[arg(long, env = "S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// Address objects as `endpoint/bucket/key` instead of `bucket.endpoint/key`.
    #[arg(long, env = "S3_PATH_STYLE", value_parser = parse_bool, default_value = "false",
          num_args = 0..=1, default_missing_value = "true")]
    pub s3_path_style: bool,

    #[arg(long, env = "SPACES_KEY", hide_env_values = true)]
    pub s3_access_key: Option<String>,

    #[arg(long, env = "SPACES_SECRET", hide_env_values = true)]
    pub s3_secret_key: Option<String>,

    /// The documentation site (Pursuit) API.
    #[arg(long, env = "PURSUIT_API_URL", default_value = "https://pursuit.purescript.org")]
    pub docs_url: String,

    /// Token for the documentation site and for fetching from and pushing to `https://`
    /// git remotes (sent as an HTTP Authorization header, never in a URL or message).
    #[arg(long, env = "PACCHETTIBOTTI_TOKEN", hide_env_values = true)]
    pub pacchettibotti_token: Option<String>,

    /// pacchettibotti's public key (base64 of `ssh-ed25519 AAAA… pacchettibotti@purescript.org`).
    #[arg(long, env = "PACCHETTIBOTTI_ED25519_PUB", hide_env_values = true)]
    pub pacchettibotti_public_key: Option<String>,

    /// A health-check URL (e.g. healthchecks.io) to GET every 5 minutes while the
    /// server runs (every minute after a failure; stops after 12 failures).
    #[arg(long, env = "HEALTHCHECKS_URL", hide_env_values = true)]
    pub healthchecks_url: Option<String>,

    /// Per-kind job time limit, `KIND=DURATION` (repeatable or comma-separated);
    /// defaults: publish, unpublish, transfer 10m; matrix 60m; packageset 90m.
    #[arg(long = "job-timeout", env = "REGISTRY_JOB_TIMEOUTS", value_delimiter = ',', value_parser = parse_job_timeout)]
    pub job_timeouts: Vec<(JobType, Duration)>,

    /// Run an external program for jobs of a kind, `KIND=PROGRAM` (repeatable or
    /// comma-separated). Kinds without any handler stay queued.
    #[arg(long = "job-command", env = "REGISTRY_JOB_COMMANDS", value_delimiter = ',', value_parser = parse_job_command)]
    pub job_commands: Vec<(JobType, PathBuf)>,

    /// The job database: a SQLite file (`sqlite:PATH`, `sqlite://PATH` or a path; default
    /// `<data-dir>/db/registry.sqlite3`), or Postgres (`postgres://user:password@host:5432/db`),
    /// which one API process and workers on several machines share.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = crate::database::parse_database_url)]
    pub database_url: Option<crate::database::DatabaseUrl>,

    /// Names this process in the job table's `leaseOwner` (Postgres). A worker
    /// restarted under the same id takes back its interrupted jobs at once; default:
    /// `<hostname>:<data-dir>` (one executor per data directory).
    #[arg(long, env = "REGISTRY_WORKER_ID")]
    pub worker_id: Option<String>,

    /// How long a worker's claim on a job lasts unless renewed (Postgres; renewed every
    /// third of it). A job whose worker vanished runs elsewhere after this long.
    #[arg(long, env = "REGISTRY_JOB_LEASE", value_parser = parse_duration, default_value = "30s")]
    pub job_lease: Duration,
}

impl Settings {
    pub fn layout(&self) -> DataDir {
        DataDir::new(&self.data_dir)
    }

    /// The job database: `DATABASE_URL`, else the data directory's SQLite file.
    pub fn database(&self) -> crate::database::DatabaseUrl {
        self.database_url
            .clone()
            .unwrap_or_else(|| crate::database::DatabaseUrl::Sqlite(self.layout().database()))
    }

    pub fn registry_remote(&self) -> String {
        self.registry_remote.clone().unwrap_or_else(|| self.layout().registry_bare().display().to_string())
    }

    pub fn index_remote(&self) -> String {
        self.index_remote.clone().unwrap_or_else(|| self.layout().index_bare().display().to_string())
    }

    pub fn legacy_package_sets_remote(&self) -> String {
        self.legacy_package_sets_remote
            .clone()
            .unwrap_or_else(|| self.layout().legacy_package_sets_bare().display().to_string())
    }

    /// Upstream's purescript/package-sets is on `master`: a configured remote is taken to
    /// be that repository (or a fork of it) unless a branch is given.
    pub fn legacy_package_sets_branch(&self) -> String {
        match (&self.legacy_package_sets_branch, &self.legacy_package_sets_remote) {
            (Some(branch), _) => branch.clone(),
            (None, Some(_)) => UPSTREAM_LEGACY_PACKAGE_SETS_BRANCH.to_owned(),
            (None, None) => self.git_branch.clone(),
        }
    }

    pub fn timeout(&self, kind: JobType) -> Duration {
        self.job_timeouts
            .iter()
            .rev()
            .find(|(k, _)| *k == kind)
            .map_or(Duration::from_secs(kind.default_timeout_minutes() * 60), |(_, d)| *d)
    }

    /// `purs-X_Y_Z` in the compilers directory, else on PATH.
    pub fn compiler(&self, version: &Version) -> Option<PathBuf> {
        let file = format!("purs-{}_{}_{}", version.major, version.minor, version.patch);
        let in_dir = self.compilers.as_ref().map(|dir| dir.join(&file)).filter(|p| p.is_file());
        in_dir.or_else(|| {
            std::env::var_os("PATH")
                .and_then(|path| std::env::split_paths(&path).map(|d| d.join(&file)).find(|p| p.is_file()))
        })
    }

    /// The effective configuration, secrets masked (`registry config show`).
    pub fn show(&self) -> String {
        let secret = |v: &Option<String>| {
            if v.as_ref().is_some_and(|s| !s.is_empty()) { "****** (set)" } else { "(not set)" }
        };
        let opt_path = |p: &Option<PathBuf>| {
            p.as_ref().map_or("(not set: PATH only)".to_owned(), |p| p.display().to_string())
        };
        let mut rows: Vec<(&str, &str, String)> = vec![
            ("data-dir", "REGISTRY_DATA_DIR", self.data_dir.display().to_string()),
            ("host", "REGISTRY_HOST", self.host.to_string()),
            ("port", "SERVER_PORT", self.port.to_string()),
            (
                "http-header-timeout",
                "REGISTRY_HTTP_HEADER_TIMEOUT",
                format!("{}s", self.http_header_timeout.as_secs()),
            ),
            (
                "http-request-timeout",
                "REGISTRY_HTTP_REQUEST_TIMEOUT",
                format!("{}s", self.http_request_timeout.as_secs()),
            ),
            ("http-max-connections", "REGISTRY_HTTP_MAX_CONNECTIONS", self.http_max_connections.to_string()),
            ("http-max-body-bytes", "REGISTRY_HTTP_MAX_BODY_BYTES", self.http_max_body_bytes.to_string()),
            ("readonly", "READONLY", self.readonly.to_string()),
            ("compilers", "REGISTRY_COMPILERS", opt_path(&self.compilers)),
            ("github-url", "GITHUB_URL", mask_url(&self.github_url)),
            ("git-hosts", "REGISTRY_GIT_HOSTS", self.git_hosts.join(",")),
            ("registry-remote", "REGISTRY_REMOTE", mask_url(&self.registry_remote())),
            ("index-remote", "REGISTRY_INDEX_REMOTE", mask_url(&self.index_remote())),
            ("git-branch", "REGISTRY_GIT_BRANCH", self.git_branch.clone()),
            (
                "legacy-package-sets-remote",
                "LEGACY_PACKAGE_SETS_REMOTE",
                mask_url(&self.legacy_package_sets_remote()),
            ),
            ("legacy-package-sets-branch", "LEGACY_PACKAGE_SETS_BRANCH", self.legacy_package_sets_branch()),
            ("storage", "REGISTRY_STORAGE", format!("{:?}", self.storage).to_lowercase()),
        ];
        if self.storage == StorageKind::S3 {
            rows.extend([
                ("s3-endpoint", "S3_BUCKET_URL", mask_url(&self.s3_endpoint)),
                (
                    "s3-public-url",
                    "S3_API_URL",
                    self.s3_public_url.as_deref().map(mask_url).unwrap_or_default(),
                ),
                ("s3-bucket", "S3_BUCKET", self.s3_bucket.clone()),
                ("s3-region", "S3_REGION", self.s3_region.clone()),
                ("s3-path-style", "S3_PATH_STYLE", self.s3_path_style.to_string()),
                (
                    "s3-access-key",
                    "SPACES_KEY",
                    self.s3_access_key.clone().unwrap_or_else(|| "(not set)".into()),
                ),
                ("s3-secret-key", "SPACES_SECRET", secret(&self.s3_secret_key).into()),
            ]);
        } else {
            rows.push(("storage-dir", "", self.layout().storage().display().to_string()));
        }
        rows.extend([
            ("docs-url", "PURSUIT_API_URL", mask_url(&self.docs_url)),
            ("pacchettibotti-token", "PACCHETTIBOTTI_TOKEN", secret(&self.pacchettibotti_token).into()),
            (
                "pacchettibotti-public-key",
                "PACCHETTIBOTTI_ED25519_PUB",
                secret(&self.pacchettibotti_public_key).into(),
            ),
            ("healthchecks-url", "HEALTHCHECKS_URL", secret(&self.healthchecks_url).into()),
            ("database-url", "DATABASE_URL", self.database().masked()),
            (
                "worker-id",
                "REGISTRY_WORKER_ID",
                self.worker_id.clone().unwrap_or_else(|| "(hostname:data-dir)".into()),
            ),
            ("job-lease", "REGISTRY_JOB_LEASE", format!("{}s", self.job_lease.as_secs())),
        ]);
        let mut out = String::new();
        for (flag, env, value) in rows {
            let source = if env.is_empty() { String::new() } else { format!("  [{env}]") };
            let _ = writeln!(out, "{:<28}{value}{source}", format!("{flag}:"));
        }
        for kind in JobType::ALL {
            let timeout = self.timeout(kind).as_secs();
            let _ =
                writeln!(out, "{:<28}{}s  [REGISTRY_JOB_TIMEOUTS]", format!("job-timeout.{kind}:"), timeout);
        }
        for (kind, program) in &self.job_commands {
            let _ = writeln!(
                out,
                "{:<28}{}  [REGISTRY_JOB_COMMANDS]",
                format!("job-command.{kind}:"),
                program.display()
            );
        }
        out
    }
}

/// For tests and `bench`: settings for a data directory with every default.
pub fn defaults_for(data_dir: &Path) -> Settings {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        settings: Settings,
    }
    Wrapper::parse_from(["registry", "--data-dir", &data_dir.display().to_string()]).settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_with_units_and_default_to_minutes() {
        assert_eq!(parse_job_timeout("publish=10"), Ok((JobType::Publish, Duration::from_secs(600))));
        assert_eq!(parse_job_timeout("packageset=2s"), Ok((JobType::PackageSet, Duration::from_secs(2))));
        assert_eq!(parse_job_timeout("matrix=1h"), Ok((JobType::Matrix, Duration::from_secs(3600))));
        assert!(parse_job_timeout("publish").unwrap_err().contains("KIND=DURATION"));
        assert!(parse_job_timeout("build=1m").unwrap_err().contains("Unknown job type 'build'"));
        assert!(parse_job_timeout("publish=3d").unwrap_err().contains("unknown unit"));
        assert!(parse_job_timeout("publish=0").is_err());
    }

    #[test]
    fn http_limits_and_git_hosts_parse() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("0s").is_err() && parse_duration("1d").is_err());
        assert!(parse_positive("0").is_err());
        assert_eq!(parse_git_host(" GitHub.com "), Ok("github.com".into()));
        assert_eq!(parse_git_host("git.example.org:8443"), Ok("git.example.org:8443".into()));
        assert_eq!(parse_git_host("[::1]:8443"), Ok("[::1]:8443".into()));
        assert!(parse_git_host("https://github.com").is_err());
        assert!(parse_git_host("host:0").is_err() && parse_git_host("").is_err());
        let defaults = defaults_for(Path::new("/data"));
        assert_eq!(defaults.git_hosts, ["github.com"]);
        assert_eq!(defaults.http_header_timeout, Duration::from_secs(10));
    }

    #[test]
    fn the_legacy_package_sets_branch_is_upstream_s_for_a_configured_remote() {
        let mut settings = defaults_for(Path::new("/data"));
        assert_eq!(settings.legacy_package_sets_branch(), "main");
        settings.legacy_package_sets_remote = Some("https://github.com/purescript/package-sets.git".into());
        assert_eq!(settings.legacy_package_sets_branch(), "master");
        settings.legacy_package_sets_branch = Some("trunk".into());
        assert_eq!(settings.legacy_package_sets_branch(), "trunk");
    }

    #[test]
    fn readonly_accepts_upstream_values_only() {
        assert_eq!(parse_bool("1"), Ok(true));
        assert_eq!(parse_bool("false"), Ok(false));
        assert!(parse_bool("yes").is_err());
    }

    #[test]
    fn show_masks_secrets_and_remote_credentials() {
        let mut settings = defaults_for(Path::new("/data"));
        settings.pacchettibotti_token = Some("ghp_secret".into());
        settings.registry_remote =
            Some("https://pacchettibotti:ghp_secret@github.com/purescript/registry.git".into());
        settings.storage = StorageKind::S3;
        settings.s3_secret_key = Some("s3cret".into());
        let shown = settings.show();
        assert!(!shown.contains("ghp_secret") && !shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("https://pacchettibotti:***@github.com/purescript/registry.git"), "{shown}");
        assert!(shown.contains("index-remote:") && shown.contains("/data/git/registry-index.git"), "{shown}");
        assert!(shown.contains("/data/git/package-sets.git  [LEGACY_PACKAGE_SETS_REMOTE]"), "{shown}");
        assert!(
            shown.lines().any(|l| l.starts_with("legacy-package-sets-branch:") && l.contains(" main  [")),
            "{shown}"
        );
        assert!(
            shown.lines().any(|l| l.starts_with("job-timeout.packageset:") && l.contains(" 5400s")),
            "{shown}"
        );
    }
}
