//! What the GitHub commands need of a running registry and of pacchettibotti: submit
//! a request, read a job, and sign with the registry's key.

use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use registry_core::Timestamp;
use registry_core::job::{Job, JobCreated};
use registry_core::json::Codec;

/// The registry's answer to a request that queued a job.
pub struct Submitted {
    pub job_id: String,
    pub duplicate: bool,
}

/// An HTTP client for the registry API at `REGISTRY_API_URL` (upstream's form,
/// `https://registry.purescript.org/api`: routes are `<url>/v1/...`).
pub struct RegistryApi {
    base: String,
    http: reqwest::Client,
}

impl RegistryApi {
    pub fn new(url: &str) -> anyhow::Result<RegistryApi> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!(
                "REGISTRY_API_URL must be an http(s) URL such as https://registry.purescript.org/api, got `{url}`"
            );
        }
        registry_adapters::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client for the registry API")?;
        Ok(RegistryApi { base, http })
    }

    /// `POST <url><endpoint>` (`/v1/publish`, …). Understands both servers: this one
    /// answers 200 and marks a duplicate with `Registry-Duplicate-Job: true`;
    /// upstream answers 201 for a new job and 200 for a duplicate.
    pub async fn submit(&self, endpoint: &str, body: String) -> anyhow::Result<Submitted> {
        let url = format!("{}{endpoint}", self.base);
        let response = self
            .http
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("Network error sending the request to {url}"))?;
        let status = response.status().as_u16();
        let marker =
            response.headers().get("registry-duplicate-job").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.with_context(|| format!("reading the answer of {url}"))?;
        if status != 200 && status != 201 {
            let reason = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_else(|| text.trim().chars().take(2000).collect());
            bail!("HTTP {status}: {reason}");
        }
        let created = JobCreated::from_json_str(&text)
            .map_err(|e| anyhow::anyhow!("Failed to parse response: {e} (HTTP {status}: {text})"))?;
        // The id goes into URLs (polling, dashboard link) and comments.
        let id_ok = !created.job_id.is_empty()
            && created.job_id.len() <= 100
            && created.job_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !id_ok {
            bail!(
                "Failed to parse response: the job id {:?} is not a job id (HTTP {status})",
                created.job_id
            );
        }
        // A 200 without the header is this server's new job, or upstream's duplicate;
        // the two cannot be told apart, and following an existing job reports its
        // real logs and outcome, so it counts as new.
        let duplicate = marker.is_some_and(|value| value.eq_ignore_ascii_case("true"));
        Ok(Submitted { job_id: created.job_id, duplicate })
    }

    /// `GET <url>/v1/jobs/<id>?level=NOTICE[&since=…]`.
    pub async fn job(&self, job_id: &str, since: Option<Timestamp>) -> anyhow::Result<Job> {
        let mut url = format!("{}/v1/jobs/{job_id}?level=NOTICE", self.base);
        if let Some(since) = since {
            url.push_str(&format!("&since={since}"));
        }
        let response =
            self.http.get(&url).send().await.with_context(|| format!("Network error polling {url}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.with_context(|| format!("reading the answer of {url}"))?;
        if status != 200 {
            bail!("HTTP {status}: {}", text.trim());
        }
        Job::from_json_str(&text).map_err(|e| anyhow::anyhow!("Failed to parse job: {e}"))
    }
}

/// pacchettibotti's private key from `PACCHETTIBOTTI_ED25519`: the OpenSSH key file,
/// or (as upstream stores it) that file base64-encoded.
pub fn private_key(value: &str) -> anyhow::Result<String> {
    let value = value.trim();
    if value.starts_with("-----BEGIN") {
        return Ok(value.to_owned());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.split_whitespace().collect::<String>())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| text.trim_start().starts_with("-----BEGIN"));
    decoded.context(
        "PACCHETTIBOTTI_ED25519 must hold pacchettibotti's OpenSSH private key (the file, or the file base64-encoded)",
    )
}

/// Signs `raw_payload` as pacchettibotti (upstream `Auth.signPayload`).
pub fn sign(private_key: &str, raw_payload: &str) -> anyhow::Result<String> {
    registry_core::auth::sign(private_key, raw_payload).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Refuses a private key that does not belong to `PACCHETTIBOTTI_ED25519_PUB` (raw
/// `ssh-ed25519 <key> <comment>` line or base64 of it), before anything is signed:
/// the registry would refuse every request signed with it.
pub fn check_key_pair(private_key: &str, public_setting: &str) -> anyhow::Result<()> {
    let setting = public_setting.trim();
    let line = if setting.starts_with("ssh-") {
        setting.to_owned()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(setting)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .context("PACCHETTIBOTTI_ED25519_PUB must hold `ssh-ed25519 <key> pacchettibotti@purescript.org`, base64-encoded")?
    };
    let mut parts = line.split_whitespace();
    let (Some(keytype), Some(public)) = (parts.next(), parts.next()) else {
        bail!("PACCHETTIBOTTI_ED25519_PUB must hold `ssh-ed25519 <key> pacchettibotti@purescript.org`");
    };
    let owner = registry_core::Owner { id: None, keytype: keytype.to_owned(), public: public.to_owned() };
    let probe = "pacchettibotti key check";
    let signature = sign(private_key, probe).context("PACCHETTIBOTTI_ED25519 cannot sign")?;
    registry_core::auth::verify_trustee(&owner, probe, Some(&signature)).map_err(|_| {
        anyhow::anyhow!(
            "PACCHETTIBOTTI_ED25519 is not the private key of PACCHETTIBOTTI_ED25519_PUB: check both secrets"
        )
    })
}
