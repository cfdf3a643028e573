//! The REST client: one request path that handles authentication, rate limits,
//! bounded bodies and same-origin redirects, and the calls built on it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use registry_core::Timestamp;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::error::GitHubError;

/// Answers larger than this are refused: no call here needs more, and a hostile or
/// broken endpoint must not exhaust memory.
const MAX_BODY_BYTES: usize = 16 << 20;
/// At 100 items a page, far above any real list the tools read (tags, team members).
const MAX_PAGES: usize = 200;
/// How often one request may be rate limited and retried before giving up.
const MAX_RATE_LIMIT_WAITS: u32 = 3;
const PER_PAGE: u32 = 100;

/// A repository as `owner/repo`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Address {
    pub owner: String,
    pub repo: String,
}

impl Address {
    pub fn new(owner: &str, repo: &str) -> Address {
        Address { owner: owner.to_owned(), repo: repo.to_owned() }
    }

    /// `owner/repo`, as `GITHUB_REPOSITORY` holds it.
    pub fn parse(full_name: &str) -> Result<Address, GitHubError> {
        match full_name.split_once('/') {
            Some((owner, repo)) if !owner.is_empty() && !repo.is_empty() && !repo.contains('/') => {
                let address = Address::new(owner, repo);
                address.path()?;
                Ok(address)
            }
            _ => Err(GitHubError::BadInput {
                what: format!("repository `{full_name}`"),
                reason: "expected `owner/repo`".into(),
            }),
        }
    }

    /// `/repos/<owner>/<repo>`, refusing names that could step outside that path.
    fn path(&self) -> Result<String, GitHubError> {
        Ok(format!("/repos/{}/{}", segment(&self.owner)?, segment(&self.repo)?))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)
    }
}

/// A name GitHub allows for owners, repositories, organisations and teams; anything
/// else would change the request's path or query.
fn segment(name: &str) -> Result<&str, GitHubError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(name)
    } else {
        Err(GitHubError::BadInput {
            what: format!("`{name}`"),
            reason: "a GitHub owner, repository or team name holds only letters, digits, `-`, `_` and `.`"
                .into(),
        })
    }
}

/// A tag as the tags list names it: the commit it points at and that commit's API URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub sha: String,
    pub url: String,
}

/// Where a repository lives now (after any renames and transfers GitHub redirects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub owner: String,
    pub name: String,
}

/// A GitHub REST API at a base URL (`https://api.github.com`, or a stand-in).
#[derive(Debug, Clone)]
pub struct GitHub {
    api: String,
    token: Option<String>,
    http: reqwest::Client,
    max_wait: Duration,
}

impl GitHub {
    pub fn new(api_url: &str, token: Option<&str>) -> Result<GitHub, GitHubError> {
        let api = api_url.trim_end_matches('/').to_owned();
        if !(api.starts_with("https://") || api.starts_with("http://")) {
            return Err(GitHubError::BadInput {
                what: format!("the API base URL `{api_url}`"),
                reason: "GITHUB_API_URL must be an http(s) URL such as https://api.github.com".into(),
            });
        }
        // reqwest is built without a default TLS provider; installing one twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let origin = api.clone();
        // Follow redirects (renamed repositories answer 301) only within the API: the
        // token is never sent elsewhere.
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 || !attempt.url().as_str().starts_with(&format!("{origin}/")) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .redirect(policy)
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| GitHubError::Network { route: api.clone(), message: e.to_string() })?;
        let token = token.map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        Ok(GitHub { api, token, http, max_wait: Duration::from_secs(15 * 60) })
    }

    /// The longest wait for a rate limit to reset (default 15 minutes); a later
    /// reset is an error.
    pub fn with_max_rate_limit_wait(mut self, wait: Duration) -> GitHub {
        self.max_wait = wait;
        self
    }

    pub fn api_url(&self) -> &str {
        &self.api
    }

    /// `POST /repos/{owner}/{repo}/issues/{number}/comments`.
    pub async fn create_comment(&self, repo: &Address, issue: u64, body: &str) -> Result<(), GitHubError> {
        let path = format!("{}/issues/{issue}/comments", repo.path()?);
        self.call(Method::POST, &path, Some(&json!({ "body": body }))).await.map(drop)
    }

    /// `PATCH /repos/{owner}/{repo}/issues/{number}` with `state: closed`.
    pub async fn close_issue(&self, repo: &Address, issue: u64) -> Result<(), GitHubError> {
        let path = format!("{}/issues/{issue}", repo.path()?);
        self.call(Method::PATCH, &path, Some(&json!({ "state": "closed" }))).await.map(drop)
    }

    /// The logins of a team's members (`GET /orgs/{org}/teams/{team}/members`), as
    /// upstream lists `@purescript/packaging` to recognise trustees.
    pub async fn team_members(&self, org: &str, team: &str) -> Result<Vec<String>, GitHubError> {
        let path = format!("/orgs/{}/teams/{}/members", segment(org)?, segment(team)?);
        let route = format!("GET {path}");
        self.paginate(&path)
            .await?
            .iter()
            .map(|m| {
                str_at(m, &["login"])
                    .map(str::to_owned)
                    .ok_or_else(|| decode(&route, "a member without `login`"))
            })
            .collect()
    }

    /// Every tag of a repository with the commit it points at.
    pub async fn tags(&self, repo: &Address) -> Result<Vec<Tag>, GitHubError> {
        let path = format!("{}/tags", repo.path()?);
        let route = format!("GET {path}");
        self.paginate(&path)
            .await?
            .iter()
            .map(|t| {
                let field = |keys: &[&str]| {
                    str_at(t, keys)
                        .map(str::to_owned)
                        .ok_or_else(|| decode(&route, &format!("a tag without `{}`", keys.join("."))))
                };
                Ok(Tag {
                    name: field(&["name"])?,
                    sha: field(&["commit", "sha"])?,
                    url: field(&["commit", "url"])?,
                })
            })
            .collect()
    }

    /// The SHAs of the commits on the default branch since `since`.
    pub async fn commits_since(&self, repo: &Address, since: Timestamp) -> Result<Vec<String>, GitHubError> {
        let path = format!("{}/commits?since={since}", repo.path()?);
        let route = format!("GET {}/commits", repo.path()?);
        self.paginate(&path)
            .await?
            .iter()
            .map(|c| {
                str_at(c, &["sha"]).map(str::to_owned).ok_or_else(|| decode(&route, "a commit without `sha`"))
            })
            .collect()
    }

    /// When a commit (a tag's, say) was committed (upstream `getCommitDateRequest`).
    pub async fn commit_date(&self, repo: &Address, sha: &str) -> Result<Timestamp, GitHubError> {
        if sha.is_empty() || sha.len() > 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(GitHubError::BadInput {
                what: format!("commit `{sha}`"),
                reason: "a commit SHA is hexadecimal".into(),
            });
        }
        let path = format!("{}/commits/{sha}", repo.path()?);
        let route = format!("GET {path}");
        let (_, value) = self.call(Method::GET, &path, None).await?;
        let date = str_at(&value, &["commit", "committer", "date"])
            .ok_or_else(|| decode(&route, "no `commit.committer.date`"))?;
        Timestamp::parse_lenient(date).map_err(|e| decode(&route, &format!("bad date `{date}`: {e}")))
    }

    /// Where a repository is now: GitHub redirects a renamed or transferred
    /// repository's old name to the new one.
    pub async fn repository(&self, repo: &Address) -> Result<Repository, GitHubError> {
        let path = repo.path()?;
        let route = format!("GET {path}");
        let (_, value) = self.call(Method::GET, &path, None).await?;
        let owner = str_at(&value, &["owner", "login"]).ok_or_else(|| decode(&route, "no `owner.login`"))?;
        let name = str_at(&value, &["name"]).ok_or_else(|| decode(&route, "no `name`"))?;
        Ok(Repository { owner: owner.to_owned(), name: name.to_owned() })
    }

    /// Every item of a list endpoint, following `Link: rel="next"` within the API.
    async fn paginate(&self, path: &str) -> Result<Vec<Value>, GitHubError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{path}{separator}per_page={PER_PAGE}"));
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let Some(page) = next.take() else { return Ok(items) };
            let (headers, value) = self.call(Method::GET, &page, None).await?;
            let Value::Array(list) = value else {
                return Err(decode(&route_of("GET", &page), "expected a list"));
            };
            items.extend(list);
            next = match next_page(&headers) {
                None => None,
                Some(url) => match url.strip_prefix(&self.api).filter(|rest| rest.starts_with('/')) {
                    Some(rest) => Some(rest.to_owned()),
                    // The token goes nowhere but the API.
                    None => {
                        return Err(decode(
                            &route_of("GET", &page),
                            &format!("a next page outside the API: {url}"),
                        ));
                    }
                },
            };
        }
        Err(GitHubError::Status {
            route: route_of("GET", path),
            status: 200,
            message: format!("more than {MAX_PAGES} pages; refusing to read further"),
        })
    }

    /// One request; a rate-limited answer is waited out (up to the configured bound,
    /// a few times) and retried.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(HeaderMap, Value), GitHubError> {
        let route = route_of(method.as_str(), path);
        let url = format!("{}{path}", self.api);
        let mut waits = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .header("User-Agent", "purescript-registry");
            if let Some(token) = &self.token {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| GitHubError::BadInput {
                        what: "the token".into(),
                        reason: "GITHUB_TOKEN holds characters an HTTP header cannot carry".into(),
                    })?;
                value.set_sensitive(true);
                request = request.header("Authorization", value);
            }
            if let Some(body) = body {
                request = request.header("Content-Type", "application/json").body(body.to_string());
            }
            let mut response = request
                .send()
                .await
                .map_err(|e| GitHubError::Network { route: route.clone(), message: e.to_string() })?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut bytes = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| GitHubError::Network { route: route.clone(), message: e.to_string() })?
            {
                if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(decode(&route, &format!("the answer is larger than {MAX_BODY_BYTES} bytes")));
                }
                bytes.extend_from_slice(&chunk);
            }
            if let Some(reset_in) = rate_limited(status, &headers) {
                if reset_in > self.max_wait || waits >= MAX_RATE_LIMIT_WAITS {
                    return Err(GitHubError::RateLimited { route, reset_in, max_wait: self.max_wait });
                }
                waits += 1;
                eprintln!(
                    "GitHub rate limit reached for {route}; waiting {} s for it to reset",
                    reset_in.as_secs()
                );
                tokio::time::sleep(reset_in).await;
                continue;
            }
            let text = String::from_utf8_lossy(&bytes);
            if status.is_success() {
                if text.trim().is_empty() {
                    return Ok((headers, Value::Null));
                }
                let value =
                    serde_json::from_str(&text).map_err(|e| decode(&route, &format!("not JSON: {e}")))?;
                return Ok((headers, value));
            }
            let message = error_message(&text);
            return Err(match status {
                StatusCode::UNAUTHORIZED => GitHubError::Unauthorized { route },
                StatusCode::NOT_FOUND => GitHubError::NotFound { route },
                StatusCode::UNPROCESSABLE_ENTITY => GitHubError::Unprocessable { route, message },
                other => GitHubError::Status { route, status: other.as_u16(), message },
            });
        }
    }
}

fn route_of(method: &str, path: &str) -> String {
    format!("{method} {}", path.split('?').next().unwrap_or(path))
}

fn decode(route: &str, message: &str) -> GitHubError {
    GitHubError::Decode { route: route.to_owned(), message: message.to_owned() }
}

fn str_at<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().try_fold(value, |v, k| v.get(k))?.as_str()
}

/// GitHub's `{"message", "errors"}`, or the start of whatever else came back.
fn error_message(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.get("message").is_some() => {
            let message = value["message"].as_str().unwrap_or_default().to_owned();
            match value.get("errors") {
                Some(errors) => format!("{message} {errors}"),
                None => message,
            }
        }
        _ => text.chars().take(500).collect(),
    }
}

/// How long until the limit resets, when the answer is a rate-limit refusal: a 403
/// or 429 with `x-ratelimit-remaining: 0` (primary limit, reset at
/// `x-ratelimit-reset` seconds since the epoch) or with `retry-after` (secondary).
fn rate_limited(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(seconds) = header("retry-after").and_then(|s| s.parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds.max(1)));
    }
    if header("x-ratelimit-remaining") != Some("0") {
        return None;
    }
    let reset = header("x-ratelimit-reset").and_then(|s| s.parse::<u64>().ok())?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    // GitHub's reset is whole seconds: wait into the second after it.
    Some(Duration::from_secs(reset.saturating_sub(now).max(1)))
}

/// The `rel="next"` URL of a `Link` header.
fn next_page(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_the_path_are_refused() {
        for bad in ["..", "a/b", "a?b", "", "a b", "a%2f"] {
            assert!(segment(bad).is_err(), "{bad}");
        }
        assert_eq!(Address::parse("purescript/registry").unwrap(), Address::new("purescript", "registry"));
        assert!(Address::parse("purescript").is_err());
        assert!(Address::parse("a/b/c").is_err());
    }

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static(r#"<http://x/a?page=2>; rel="next", <http://x/a?page=9>; rel="last""#),
        );
        assert_eq!(next_page(&headers).as_deref(), Some("http://x/a?page=2"));
    }
}
