//! Upstream's `.env` file (read by its `dotenv` loader): `KEY=value` lines whose values
//! are defaults — a variable already in the environment wins. Values are secrets as
//! often as not, so nothing here prints one: errors name the line, never its value.

use std::collections::BTreeMap;
use std::path::Path;

/// The variables of `.env` text, in `dotenv`'s syntax: blank lines and `#` comments,
/// an optional `export `, values bare (a ` #` starts a comment), in double quotes
/// (`\n` becomes a newline) or in single quotes (literal).
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {number} is not KEY=value"));
        };
        let key = key.trim();
        let valid_key = !key.is_empty()
            && !key.starts_with(|c: char| c.is_ascii_digit())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(format!("line {number}: '{key}' is not a variable name (letters, digits and _)"));
        }
        let value = value.trim();
        let value = if let Some(rest) = value.strip_prefix('"') {
            let Some(end) = rest.find('"') else {
                return Err(format!("line {number}: the value of {key} has no closing double quote"));
            };
            rest[..end].replace("\\n", "\n")
        } else if let Some(rest) = value.strip_prefix('\'') {
            let Some(end) = rest.find('\'') else {
                return Err(format!("line {number}: the value of {key} has no closing single quote"));
            };
            rest[..end].to_owned()
        } else {
            value.split(" #").next().unwrap_or("").trim().to_owned()
        };
        vars.insert(key.to_owned(), value);
    }
    Ok(vars)
}

/// The variables of the `.env` file at `path` that the environment does not set
/// (`present` says whether it does); none if there is no such file.
pub fn defaults(path: &Path, present: impl Fn(&str) -> bool) -> Result<BTreeMap<String, String>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("reading {} failed: {e}", path.display())),
    };
    let mut vars = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    vars.retain(|key, _| !present(key));
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_syntax_as_upstream_writes_it() {
        let vars = parse(
            "# comment\n\nSERVER_PORT=9000\nDATABASE_URL=\"sqlite:db/registry.sqlite3\"\nexport A='x #y'\nB=bare # note\nC=\"l1\\nl2\"\nEMPTY=\n",
        )
        .unwrap();
        assert_eq!(vars["SERVER_PORT"], "9000");
        assert_eq!(vars["DATABASE_URL"], "sqlite:db/registry.sqlite3");
        assert_eq!(vars["A"], "x #y");
        assert_eq!(vars["B"], "bare");
        assert_eq!(vars["C"], "l1\nl2");
        assert_eq!(vars["EMPTY"], "");
    }

    #[test]
    fn bad_lines_are_named_without_their_values() {
        let err = parse("OK=1\nTOKEN \"ghp_secret\"\n").unwrap_err();
        assert_eq!(err, "line 2 is not KEY=value");
        let err = parse("TOKEN=\"ghp_secret\n").unwrap_err();
        assert!(err.contains("line 1") && !err.contains("ghp_secret"), "{err}");
        assert!(parse("1X=2").unwrap_err().contains("not a variable name"));
    }
}
