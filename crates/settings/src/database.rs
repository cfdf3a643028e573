//! `DATABASE_URL`: which job store the registry uses.
//!
//! The embedded default is a SQLite file in the data directory. Upstream's
//! `.env.example` names it `sqlite:db/registry.sqlite3` (dbmate's form); `sqlite://PATH`
//! and a plain path mean the same. `postgres://…` (or `postgresql://…`) selects the
//! Postgres store that an API process and workers on several machines share.

use std::path::PathBuf;

use registry_adapters::git::mask_url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file; a relative path is relative to the working directory, as for dbmate.
    Sqlite(PathBuf),
    /// A Postgres connection URL, credentials included.
    Postgres(String),
}

impl DatabaseUrl {
    /// For messages and `config show`: the password masked.
    pub fn masked(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite:{}", path.display()),
            DatabaseUrl::Postgres(url) => mask_url(url),
        }
    }
}

pub fn parse_database_url(input: &str) -> Result<DatabaseUrl, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("DATABASE_URL is empty: give a SQLite path (sqlite:db/registry.sqlite3) or a \
                    postgres://user:password@host:5432/database URL"
            .into());
    }
    if input.starts_with("postgres://") || input.starts_with("postgresql://") {
        let rest = input.split_once("://").map_or("", |(_, rest)| rest);
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        if host.is_empty() || host.starts_with('/') {
            return Err(format!(
                "'{}' names no Postgres host: use postgres://user:password@host:5432/database",
                mask_url(input)
            ));
        }
        return Ok(DatabaseUrl::Postgres(input.to_owned()));
    }
    let path = if let Some(rest) = input.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = input.strip_prefix("sqlite3:") {
        rest.trim_start_matches("//")
    } else if let Some(rest) = input.strip_prefix("sqlite:") {
        rest
    } else if input.contains("://") {
        return Err(format!(
            "'{}' is neither a SQLite path nor a postgres:// URL: the registry's job database is SQLite \
             (sqlite:PATH) or Postgres (postgres://user:password@host:5432/database)",
            mask_url(input)
        ));
    } else {
        input
    };
    if path.is_empty() {
        return Err(format!("'{input}' names no SQLite file: use e.g. sqlite:db/registry.sqlite3"));
    }
    Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms_and_postgres_urls_parse() {
        let sqlite = |p: &str| Ok(DatabaseUrl::Sqlite(PathBuf::from(p)));
        assert_eq!(parse_database_url("sqlite:db/registry.sqlite3"), sqlite("db/registry.sqlite3"));
        assert_eq!(parse_database_url("sqlite:///var/db/r.sqlite3"), sqlite("/var/db/r.sqlite3"));
        assert_eq!(parse_database_url("sqlite://db/r.sqlite3"), sqlite("db/r.sqlite3"));
        assert_eq!(parse_database_url("/var/db/r.sqlite3"), sqlite("/var/db/r.sqlite3"));
        assert_eq!(
            parse_database_url("postgres://reg:pw@db.internal:5432/registry"),
            Ok(DatabaseUrl::Postgres("postgres://reg:pw@db.internal:5432/registry".into()))
        );
        assert!(parse_database_url("postgresql://db/registry").is_ok());
        assert!(parse_database_url("mysql://db/registry").unwrap_err().contains("neither"));
        assert!(parse_database_url("postgres://user:pw@").unwrap_err().contains("no Postgres host"));
        assert!(!parse_database_url("postgres://user:pw@").unwrap_err().contains("pw"));
        assert!(parse_database_url("sqlite:").is_err() && parse_database_url(" ").is_err());
        assert!(
            !DatabaseUrl::Postgres("postgres://reg:secret@h/registry".into()).masked().contains("secret")
        );
    }
}
