//! Input globs as purs expands them: `*`, `?`, `[…]` within a path component, `**` for any
//! number of directories (none included). Wildcards do not match names starting with `.`.
//! Matches keep the pattern's own spelling of its literal prefix (`./src/A.purs` stays so).

use std::path::Path;

/// The files a pattern matches, sorted.
pub fn expand(pattern: &str) -> Vec<String> {
    let components: Vec<&str> = pattern.split('/').collect();
    let (start, rest) = if pattern.starts_with('/') {
        ("/".to_owned(), &components[1..])
    } else {
        (String::new(), &components[..])
    };
    let mut found = Vec::new();
    walk(&start, rest, &mut found);
    found.retain(|p| Path::new(p).is_file());
    found.sort();
    found.dedup();
    found
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else if prefix.ends_with('/') {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}/{name}")
    }
}

fn dir_of(prefix: &str) -> &Path {
    if prefix.is_empty() { Path::new(".") } else { Path::new(prefix) }
}

fn walk(prefix: &str, components: &[&str], found: &mut Vec<String>) {
    let Some((&component, rest)) = components.split_first() else {
        found.push(prefix.to_owned());
        return;
    };
    if component.is_empty() {
        // `a//b`, or a trailing slash: nothing to match here.
        walk(prefix, rest, found);
    } else if component == "**" {
        walk(prefix, rest, found);
        for sub in list(dir_of(prefix)).into_iter().filter(|(_, is_dir)| *is_dir) {
            if !sub.0.starts_with('.') {
                walk(&join(prefix, &sub.0), components, found);
            }
        }
    } else if !component.contains(['*', '?', '[']) {
        let next = join(prefix, component);
        if rest.is_empty() || Path::new(&next).is_dir() {
            walk(&next, rest, found);
        }
    } else {
        for (name, is_dir) in list(dir_of(prefix)) {
            if (rest.is_empty() || is_dir) && matches(component, &name) {
                walk(&join(prefix, &name), rest, found);
            }
        }
    }
}

fn list(dir: &Path) -> Vec<(String, bool)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<(String, bool)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path().is_dir())))
        .collect();
    names.sort();
    names
}

/// Whether `name` matches one wildcard component.
pub fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|skip| match_from(&p[1..], &n[skip..])),
        Some('?') => !n.is_empty() && match_from(&p[1..], &n[1..]),
        Some('[') => match (class_end(p), n.first()) {
            (Some(end), Some(&c)) => class_matches(&p[1..end], c) && match_from(&p[end + 1..], &n[1..]),
            (Some(_), None) => false,
            (None, _) => n.first() == Some(&'[') && match_from(&p[1..], &n[1..]),
        },
        Some(&c) => n.first() == Some(&c) && match_from(&p[1..], &n[1..]),
    }
}

fn class_end(p: &[char]) -> Option<usize> {
    // A `]` right after `[` (or `[!`) is a member, not the end.
    let skip = if matches!(p.get(1), Some('!' | '^')) { 3 } else { 2 };
    p.iter().skip(skip).position(|&c| c == ']').map(|i| i + skip)
}

fn class_matches(class: &[char], c: char) -> bool {
    let (negated, members) = match class.first() {
        Some('!' | '^') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut hit = false;
    let mut i = 0;
    while i < members.len() {
        if i + 2 < members.len() && members[i + 1] == '-' {
            hit |= members[i] <= c && c <= members[i + 2];
            i += 3;
        } else {
            hit |= members[i] == c;
            i += 1;
        }
    }
    hit != negated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_within_a_component() {
        assert!(matches("*.purs", "Main.purs"));
        assert!(!matches("*.purs", "Main.js"));
        assert!(!matches("*.purs", ".Hidden.purs"));
        assert!(matches("M?in.purs", "Main.purs"));
        assert!(matches("[A-C]*.purs", "Bar.purs"));
        assert!(!matches("[!A-C]*.purs", "Bar.purs"));
        assert!(matches("[]]x", "]x"));
    }

    #[test]
    fn double_star_spans_zero_or_more_directories() {
        let root = std::env::temp_dir().join(format!("standin-glob-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for file in ["src/A.purs", "src/B/C.purs", "src/B/D/E.purs", "src/.hidden/F.purs", "src/B/G.js"] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let base = root.to_str().unwrap();
        let got = expand(&format!("{base}/src/**/*.purs"));
        let rel: Vec<&str> = got.iter().map(|p| p.strip_prefix(base).unwrap()).collect();
        assert_eq!(rel, ["/src/A.purs", "/src/B/C.purs", "/src/B/D/E.purs"]);
        assert_eq!(expand(&format!("{base}/src/B/*.js")).len(), 1);
        assert!(expand(&format!("{base}/nothing/**/*.purs")).is_empty());
        let literal = format!("{base}/./src/A.purs");
        assert_eq!(expand(&literal), vec![literal]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
