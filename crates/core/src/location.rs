//! Where a package's source lives (`Location`) and who may sign for it (`Owner`).

use crate::json::{Codec, DecodeError, Map, Obj, Value};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    GitHub { owner: String, repo: String, subdir: Option<String> },
    Git { url: String, subdir: Option<String> },
}

impl Location {
    pub fn subdir(&self) -> Option<&str> {
        match self {
            Location::GitHub { subdir, .. } | Location::Git { subdir, .. } => subdir.as_deref(),
        }
    }
}

/// Accepts `git://`, `http://` and `https://` URLs made of letters, digits and `.@_~/-`.
pub fn parse_git_url(input: &str) -> Result<&str, String> {
    let rest = ["git://", "http://", "https://"]
        .iter()
        .find_map(|scheme| input.strip_prefix(scheme))
        .ok_or_else(|| format!("Git URLs must start with git://, http:// or https://, got '{input}'"))?;
    if rest.is_empty() || !rest.chars().all(|c| c.is_alphanumeric() || ".@_~/-".contains(c)) {
        return Err(format!(
            "Git URLs may contain only letters, digits and the characters . @ _ ~ / - after the scheme, got '{input}'"
        ));
    }
    Ok(input)
}

/// Whether a `gitUrl` may be fetched by this registry: an `https://` URL without user
/// information whose host (with `:port` if any) is one of `allowed`, compared exactly
/// and case-insensitively, so an IP address or another spelling of a host passes only
/// if listed. Without it a location could make the server fetch from any host,
/// loopback and private networks included.
pub fn check_git_host(url: &str, allowed: &[String]) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(format!("Only https:// git URLs are fetched by this registry, got '{url}'."));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!("Git URLs must not carry user information, got '{url}'."));
    }
    let host = authority.to_ascii_lowercase();
    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&host)) {
        return Err(format!(
            "This registry fetches git URLs only from {}; '{host}' is not allowed. Publish from a repository \
             there (a GitHub repository as {{\"githubOwner\", \"githubRepo\"}}).",
            allowed.join(", ")
        ));
    }
    Ok(())
}

/// Longest `gitUrl` and `subdir` accepted (real ones are far shorter).
pub const MAX_GIT_URL_BYTES: usize = 2048;
pub const MAX_SUBDIR_BYTES: usize = 1024;

/// A GitHub user or organisation name as GitHub allows it: 1 to 39 ASCII letters,
/// digits and single hyphens, neither first nor last. The name becomes a path segment
/// of the clone URL, so anything else (`/`, `..`, `%`) is refused.
pub fn validate_github_owner(owner: &str) -> Result<&str, String> {
    let valid = (1..=39).contains(&owner.len())
        && owner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !owner.starts_with('-')
        && !owner.ends_with('-')
        && !owner.contains("--");
    if !valid {
        return Err(format!(
            "'{}' is not a GitHub user or organisation name: use 1 to 39 ASCII letters, digits and single \
             hyphens, not starting or ending with a hyphen",
            owner.escape_debug()
        ));
    }
    Ok(owner)
}

/// A GitHub repository name: 1 to 100 ASCII letters, digits, `.`, `_` and `-`, other
/// than `.` and `..` (GitHub's own rule; it becomes a path segment of the clone URL).
pub fn validate_github_repo(repo: &str) -> Result<&str, String> {
    let valid = (1..=100).contains(&repo.len())
        && repo.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && repo != "."
        && repo != "..";
    if !valid {
        return Err(format!(
            "'{}' is not a GitHub repository name: use 1 to 100 ASCII letters, digits, '.', '_' and '-' \
             (not '.' or '..')",
            repo.escape_debug()
        ));
    }
    Ok(repo)
}

impl Codec for Location {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        let subdir = match self {
            Location::GitHub { owner, repo, subdir } => {
                map.insert("githubOwner".into(), Value::String(owner.clone()));
                map.insert("githubRepo".into(), Value::String(repo.clone()));
                subdir
            }
            Location::Git { url, subdir } => {
                map.insert("gitUrl".into(), Value::String(url.clone()));
                subdir
            }
        };
        if let Some(dir) = subdir {
            map.insert("subdir".into(), Value::String(dir.clone()));
        }
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        let subdir = obj.opt_str_max("subdir", MAX_SUBDIR_BYTES)?.map(str::to_owned);
        let name = |key: &str, check: fn(&str) -> Result<&str, String>| {
            obj.req(key, |v| crate::json::parsed(v, |s| check(s).map(str::to_owned)))
        };
        if obj.has("gitUrl") {
            let url = obj.req("gitUrl", |v| {
                let text = crate::json::at_most(crate::json::as_str(v)?, MAX_GIT_URL_BYTES)?;
                parse_git_url(text).map(str::to_owned).map_err(DecodeError::new)
            })?;
            return Ok(Location::Git { url, subdir });
        }
        if obj.has("githubOwner") || obj.has("githubRepo") {
            return Ok(Location::GitHub {
                owner: name("githubOwner", validate_github_owner)?,
                repo: name("githubRepo", validate_github_repo)?,
                subdir,
            });
        }
        Err(DecodeError::new(
            "Expected a location: {\"githubOwner\", \"githubRepo\", \"subdir\"?} or {\"gitUrl\", \"subdir\"?}",
        ))
    }
}

/// A public key allowed to sign operations on a package.
#[derive(Debug, Clone, Eq)]
pub struct Owner {
    pub id: Option<String>,
    pub keytype: String,
    pub public: String,
}

/// Owners are the same key whatever their comment (`id`).
impl PartialEq for Owner {
    fn eq(&self, other: &Self) -> bool {
        self.keytype == other.keytype && self.public == other.public
    }
}

impl Codec for Owner {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        if let Some(id) = &self.id {
            map.insert("id".into(), Value::String(id.clone()));
        }
        map.insert("keytype".into(), Value::String(self.keytype.clone()));
        map.insert("public".into(), Value::String(self.public.clone()));
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(Owner {
            id: obj.opt_str("id")?.map(str::to_owned),
            keytype: obj.req_str("keytype")?.to_owned(),
            public: obj.req_str("public")?.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github(owner: &str, repo: &str) -> Result<Location, DecodeError> {
        Location::decode(&serde_json::json!({"githubOwner": owner, "githubRepo": repo}))
    }

    #[test]
    fn github_names_follow_githubs_rules() {
        for (owner, repo) in
            [("purescript", "purescript-prelude"), ("a", "x"), ("A-b-9", "re.po_1-x"), ("o", ".github")]
        {
            assert!(github(owner, repo).is_ok(), "{owner}/{repo}");
        }
        let long_owner = "a".repeat(40);
        for (owner, bad) in
            [("a/b", "a/b"), ("..", ".."), ("-a", "-a"), ("a-", "a-"), ("a--b", "a--b"), ("", "")]
        {
            let err = github(owner, "repo").unwrap_err();
            assert_eq!(err.path(), "$.githubOwner", "{owner}");
            assert!(err.message().contains(&format!("'{bad}' is not a GitHub user")), "{err}");
        }
        assert_eq!(github(&long_owner, "r").unwrap_err().path(), "$.githubOwner");
        for repo in ["..", ".", "a/../b", "a b", "r%2F", "", &"r".repeat(101)] {
            let err = github("owner", repo).unwrap_err();
            assert_eq!(err.path(), "$.githubRepo", "{repo}");
            assert!(err.message().contains("is not a GitHub repository name"), "{err}");
        }
    }

    #[test]
    fn git_urls_are_fetched_only_from_allowed_hosts() {
        let allowed = ["github.com".to_owned(), "git.example.org".to_owned()];
        for url in ["https://github.com/o/r.git", "https://GitHub.com/o/r", "https://git.example.org/x"] {
            assert_eq!(check_git_host(url, &allowed), Ok(()), "{url}");
        }
        for (url, needle) in [
            ("http://github.com/o/r.git", "Only https://"),
            ("git://github.com/o/r.git", "Only https://"),
            ("https://user@github.com/o/r.git", "user information"),
            ("https://127.0.0.1/o/r.git", "'127.0.0.1' is not allowed"),
            ("https://2130706433/o/r.git", "'2130706433' is not allowed"),
            ("https://localhost/o/r.git", "'localhost' is not allowed"),
            ("https://github.com.evil.org/o/r.git", "'github.com.evil.org' is not allowed"),
            ("https://github.com./o/r.git", "'github.com.' is not allowed"),
            ("https://169.254.169.254/latest", "only from github.com, git.example.org"),
        ] {
            let err = check_git_host(url, &allowed).unwrap_err();
            assert!(err.contains(needle), "{url}: {err}");
        }
    }

    #[test]
    fn git_urls_and_subdirs_are_bounded() {
        let url = format!("https://example.org/{}.git", "a".repeat(MAX_GIT_URL_BYTES));
        let err = Location::decode(&serde_json::json!({ "gitUrl": url })).unwrap_err();
        assert_eq!(err.path(), "$.gitUrl");
        assert!(err.message().contains("Exceeds limit of 2048 bytes"), "{err}");
        let subdir = "d".repeat(MAX_SUBDIR_BYTES + 1);
        let err =
            Location::decode(&serde_json::json!({"githubOwner": "o", "githubRepo": "r", "subdir": subdir}))
                .unwrap_err();
        assert_eq!(err.path(), "$.subdir");
    }
}
