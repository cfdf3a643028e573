//! The documentation site (Pursuit): receives the docs JSON `purs publish` makes.

use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;
use flate2::Compression;
use flate2::write::GzEncoder;
use registry_core::{PackageName, Version};

use crate::ActivityLog;

#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error("could not reach the documentation site at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the documentation site at {url} answered {status}: {body}")]
    Refused { url: String, status: u16, body: String },
    #[error("the documentation site at {url} sent an unexpected answer: {reason}")]
    BadAnswer { url: String, reason: String },
}

#[async_trait]
pub trait DocsSite: Send + Sync {
    fn describe(&self) -> String;

    /// Uploads the documentation of `name@version` (`docs_json` is `purs publish`'s output).
    async fn publish(
        &self,
        name: &PackageName,
        version: &Version,
        docs_json: &[u8],
        log: &dyn ActivityLog,
    ) -> Result<(), DocsError>;

    /// The versions of a package that have documentation.
    async fn published_versions(&self, name: &PackageName) -> Result<Vec<Version>, DocsError>;
}

/// Pursuit's HTTP API: `POST /packages` (gzipped JSON, token auth, 201 on success)
/// and `GET /packages/purescript-<name>/available-versions`.
pub struct HttpDocsSite {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

impl HttpDocsSite {
    pub fn new(base_url: &str, token: Option<String>) -> Self {
        crate::install_tls_provider();
        HttpDocsSite {
            base: base_url.trim_end_matches('/').to_owned(),
            token,
            client: reqwest::Client::new(),
        }
    }

    fn unreachable(url: &str, err: reqwest::Error) -> DocsError {
        DocsError::Unreachable { url: url.to_owned(), reason: err.to_string() }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("writing to memory cannot fail");
    encoder.finish().expect("writing to memory cannot fail")
}

#[async_trait]
impl DocsSite for HttpDocsSite {
    fn describe(&self) -> String {
        format!("documentation site at {}", self.base)
    }

    async fn publish(
        &self,
        name: &PackageName,
        version: &Version,
        docs_json: &[u8],
        log: &dyn ActivityLog,
    ) -> Result<(), DocsError> {
        let url = format!("{}/packages", self.base);
        let mut request = self
            .client
            .post(&url)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(gzip(docs_json));
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("token {token}"));
        }
        let response = request.send().await.map_err(|e| Self::unreachable(&url, e))?;
        let status = response.status().as_u16();
        if status == 201 {
            log.info(&format!("Published documentation for {name}@{version} to the {}", self.describe()));
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(DocsError::Refused { url, status, body })
    }

    async fn published_versions(&self, name: &PackageName) -> Result<Vec<Version>, DocsError> {
        let url = format!("{}/packages/purescript-{name}/available-versions", self.base);
        let response = self
            .client
            .get(&url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| Self::unreachable(&url, e))?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(Vec::new());
        }
        let body = response.text().await.map_err(|e| Self::unreachable(&url, e))?;
        if status != 200 {
            return Err(DocsError::Refused { url, status, body });
        }
        let bad = |reason: String| DocsError::BadAnswer { url: url.clone(), reason };
        let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| bad(e.to_string()))?;
        let pairs =
            value.as_array().ok_or_else(|| bad("expected an array of [version, url] pairs".into()))?;
        pairs
            .iter()
            .map(|pair| {
                let text =
                    pair.get(0).and_then(|v| v.as_str()).ok_or_else(|| bad(format!("bad entry {pair}")))?;
                Version::parse(text).map_err(bad)
            })
            .collect()
    }
}

/// The documentation site in READONLY mode: nothing is uploaded.
pub struct ReadOnlyDocsSite {
    inner: Arc<dyn DocsSite>,
}

impl ReadOnlyDocsSite {
    pub fn new(inner: Arc<dyn DocsSite>) -> Self {
        ReadOnlyDocsSite { inner }
    }
}

#[async_trait]
impl DocsSite for ReadOnlyDocsSite {
    fn describe(&self) -> String {
        format!("{} (read-only)", self.inner.describe())
    }

    async fn publish(
        &self,
        name: &PackageName,
        version: &Version,
        docs_json: &[u8],
        log: &dyn ActivityLog,
    ) -> Result<(), DocsError> {
        log.readonly_skip(&format!(
            "publish documentation for {name}@{version} ({} bytes of JSON) to the {}",
            docs_json.len(),
            self.inner.describe()
        ));
        Ok(())
    }

    async fn published_versions(&self, name: &PackageName) -> Result<Vec<Version>, DocsError> {
        self.inner.published_versions(name).await
    }
}
