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
        let subdir = obj.opt_str("subdir")?.map(str::to_owned);
        if obj.has("gitUrl") {
            let url =
                obj.req("gitUrl", |v| crate::json::parsed(v, |s| parse_git_url(s).map(str::to_owned)))?;
            return Ok(Location::Git { url, subdir });
        }
        if obj.has("githubOwner") || obj.has("githubRepo") {
            return Ok(Location::GitHub {
                owner: obj.req_str("githubOwner")?.to_owned(),
                repo: obj.req_str("githubRepo")?.to_owned(),
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
