//! File globbing over an in-memory list of paths, with the semantics the registry
//! gets from `fast-glob` 3.3.3 as upstream calls it.
//!
//! Upstream passes options `fast-glob` ignores, so what is in force is its default:
//! case-sensitive matching, wildcards (`*`, `?`, `**`) never match a name starting
//! with `.` unless the pattern segment itself starts with `.`, directories are
//! returned as matches, and `!pattern` entries exclude matches (a directory they
//! match is not descended into). Patterns without wildcards are "static": they are
//! returned exactly as written (`src/`, `./purs.json`) if the path exists. Matches of
//! wildcard patterns are printed relative to the package root, except that a
//! pattern group whose common base directory is written with `./` keeps it.
//!
//! Supported syntax: `*`, `?`, `**`, `[...]` classes (`!`/`^` negation, ranges),
//! `{a,b}` and `{1..3}` braces, `\` escapes, `(a|b)`, `@(..)`, `?(..)`, `*(..)`,
//! `+(..)`. The negated extglob `!(..)` is refused with an error.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

/// What a path in a package directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link whose real path is outside the package directory (or does
    /// not exist). The I/O layer resolves links; inside links are listed as what
    /// they point to.
    Outside,
}

/// A package directory listing: relative `/`-separated paths, without `.` or `..`
/// segments, every ancestor a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, EntryKind>,
}

impl Tree {
    /// Builds a listing; missing ancestor directories are added.
    pub fn new<S: AsRef<str>>(entries: impl IntoIterator<Item = (S, EntryKind)>) -> Result<Tree, String> {
        let mut tree = Tree::default();
        for (path, kind) in entries {
            let path = path.as_ref().trim_end_matches('/');
            if path.is_empty()
                || path.starts_with('/')
                || path.split('/').any(|s| s.is_empty() || s == "." || s == "..")
            {
                return Err(format!(
                    "Invalid path '{path}' in a package listing: paths must be relative, '/'-separated and free of '.' and '..' segments"
                ));
            }
            tree.insert(path, kind)?;
        }
        Ok(tree)
    }

    fn insert(&mut self, path: &str, kind: EntryKind) -> Result<(), String> {
        let mut ancestor = String::new();
        let segments: Vec<&str> = path.split('/').collect();
        for segment in &segments[..segments.len() - 1] {
            if !ancestor.is_empty() {
                ancestor.push('/');
            }
            ancestor.push_str(segment);
            match self.entries.get(&ancestor) {
                None => {
                    self.entries.insert(ancestor.clone(), EntryKind::Dir);
                }
                Some(EntryKind::Dir) => {}
                Some(_) => {
                    return Err(format!("'{path}' is listed inside '{ancestor}', which is not a directory"));
                }
            }
        }
        match self.entries.get(path) {
            Some(existing)
                if *existing != kind && !(kind == EntryKind::Dir && *existing == EntryKind::Dir) =>
            {
                Err(format!("'{path}' is listed twice with different kinds"))
            }
            _ => {
                self.entries.insert(path.to_owned(), kind);
                Ok(())
            }
        }
    }

    pub fn get(&self, path: &str) -> Option<EntryKind> {
        self.entries.get(path).copied()
    }

    /// Every entry, in path order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, EntryKind)> {
        self.entries.iter().map(|(p, k)| (p.as_str(), *k))
    }

    /// `path` and everything below it.
    pub fn subtree<'a>(&'a self, path: &'a str) -> impl Iterator<Item = (&'a str, EntryKind)> + 'a {
        self.entries().filter(move |(p, _)| *p == path || is_below(p, path))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Copies `path` (with its subtree) from `source`, creating its ancestors.
    pub(crate) fn copy_from(&mut self, source: &Tree, path: &str) {
        let copied: Vec<(String, EntryKind)> = source.subtree(path).map(|(p, k)| (p.to_owned(), k)).collect();
        for (p, k) in copied {
            // Paths from a valid tree are valid here.
            let _ = self.insert(&p, k);
        }
    }

    /// Removes `path` with its subtree.
    pub(crate) fn remove(&mut self, path: &str) {
        self.entries.retain(|p, _| p != path && !is_below(p, path));
    }
}

fn is_below(path: &str, dir: &str) -> bool {
    dir == "." || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

/// The result of matching a list of patterns, as upstream's `FastGlob.match`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobMatches {
    /// Matches inside the package directory, printed as `fast-glob` prints them.
    pub succeeded: Vec<String>,
    /// Matches that resolve outside the package directory ([`EntryKind::Outside`]).
    pub failed: Vec<String>,
    /// Patterns that point outside the package directory (`../x`, `/x`): a listing
    /// of the package cannot say what they match.
    pub outside_patterns: Vec<String>,
}

/// Matches `patterns` against `tree` as `fast-glob` would in the package directory.
pub fn glob(tree: &Tree, patterns: &[impl AsRef<str>]) -> Result<GlobMatches, String> {
    let mut expanded = Vec::new();
    for pattern in patterns {
        for p in expand_braces(pattern.as_ref()) {
            expanded.push(remove_duplicate_slashes(&p));
        }
    }
    let (negative_texts, positive): (Vec<&String>, Vec<&String>) =
        expanded.iter().partition(|p| p.starts_with('!') && !p.starts_with("!("));
    // Negative patterns reject entries even when hidden (`fast-glob` matches them with
    // `dot: true`); those naming a fixed last segment or ending in `/**` also stop
    // the walk from entering the directories they match.
    let mut negative = Vec::new();
    let mut pruning = Vec::new();
    for pattern in negative_texts {
        let body = strip_current_dir(&pattern[1..]);
        negative.push(Pattern::compile(body, true)?);
        let last = body.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if body.ends_with("/**") || !is_dynamic(last) {
            pruning.push(Pattern::compile(body, false)?);
        }
    }
    let excluded = |path: &str, is_dir: bool| negative.iter().any(|n| n.matches(path, is_dir));
    let prunes = |path: &str| pruning.iter().any(|n| n.matches(path, true));

    let mut out = GlobMatches::default();
    let mut seen = BTreeSet::new();
    let mut push = |out: &mut GlobMatches, printed: String, kind: EntryKind| {
        if seen.insert(strip_current_dir(&printed).to_owned()) {
            if kind == EntryKind::Outside { out.failed.push(printed) } else { out.succeeded.push(printed) }
        }
    };

    let mut dynamic: Vec<&String> = Vec::new();
    for pattern in positive {
        if pattern.is_empty() {
            continue;
        }
        if pattern.starts_with('/') || pattern.starts_with("..") || pattern.starts_with("./..") {
            out.outside_patterns.push(pattern.clone());
        } else if is_dynamic(pattern) {
            dynamic.push(pattern);
        } else if let Some(path) = normalise_static(pattern) {
            let kind = if path.is_empty() { Some(EntryKind::Dir) } else { tree.get(&path) };
            if let Some(kind) = kind
                && !static_excluded(strip_current_dir(pattern), kind, &negative)
            {
                push(&mut out, pattern.clone(), kind);
            }
        } else {
            out.outside_patterns.push(pattern.clone());
        }
    }

    // fast-glob walks one directory per group of patterns sharing a base; when any
    // pattern's base is the root, one walk from the root serves them all.
    let mut groups: Vec<(String, Vec<&String>)> = Vec::new();
    if dynamic.iter().any(|p| glob_parent(p) == ".") {
        groups.push((".".to_owned(), dynamic));
    } else {
        for pattern in dynamic {
            let base = glob_parent(pattern);
            match groups.iter_mut().find(|(b, _)| *b == base) {
                Some((_, members)) => members.push(pattern),
                None => groups.push((base, vec![pattern])),
            }
        }
    }
    for (base, members) in groups {
        let compiled: Vec<Pattern> = members
            .iter()
            .map(|p| Pattern::compile(strip_current_dir(p), false))
            .collect::<Result<_, _>>()?;
        let root = strip_current_dir(&base).to_owned();
        let root = if root.is_empty() { ".".to_owned() } else { root };
        for (path, kind) in tree.entries() {
            if !is_below(path, &root) {
                continue;
            }
            let is_dir = kind == EntryKind::Dir;
            if excluded(path, is_dir) || pruned(path, &root, &prunes) {
                continue;
            }
            if compiled.iter().any(|p| p.matches(path, is_dir)) {
                let printed =
                    if root == "." { path.to_owned() } else { format!("{base}{}", &path[root.len()..]) };
                push(&mut out, printed, kind);
            }
        }
    }
    Ok(out)
}

/// Negations of a static match, which `fast-glob` tests against the pattern text:
/// with a trailing slash only directory patterns and patterns ending in `*` (whose
/// expression allows a final `/`) can match it.
fn static_excluded(path: &str, kind: EntryKind, negative: &[Pattern]) -> bool {
    let is_dir = kind == EntryKind::Dir;
    match path.strip_suffix('/') {
        None => negative.iter().any(|n| n.matches(path, is_dir)),
        Some(dir) => negative.iter().any(|n| (n.dirs_only || n.ends_with_star) && n.matches(dir, true)),
    }
}

/// Whether a directory between `root` and `path` is excluded (and so never entered).
fn pruned(path: &str, root: &str, prunes: &impl Fn(&str) -> bool) -> bool {
    let mut end = path.len();
    while let Some(i) = path[..end].rfind('/') {
        let ancestor = &path[..i];
        if ancestor == root || !is_below(ancestor, root) {
            break;
        }
        if prunes(ancestor) {
            return true;
        }
        end = i;
    }
    false
}

fn strip_current_dir(pattern: &str) -> &str {
    let mut p = pattern;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p
}

/// `fast-glob` collapses repeated slashes (except a leading pair).
fn remove_duplicate_slashes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for (i, c) in pattern.char_indices() {
        if c == '/' && i > 1 && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

/// A static pattern's path: `.` segments dropped, `..` resolved; `None` if it
/// climbs out of the root.
fn normalise_static(pattern: &str) -> Option<String> {
    let mut segments: Vec<&str> = Vec::new();
    for segment in pattern.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    Some(segments.join("/"))
}

/// `fast-glob`'s `isDynamicPattern` for our options.
fn is_dynamic(pattern: &str) -> bool {
    if pattern.contains('\\') || pattern.contains(['*', '?']) || pattern.starts_with('!') {
        return true;
    }
    let class = pattern.find('[').is_some_and(|i| pattern[i + 1..].contains(']'));
    let group = pattern.find('(').is_some_and(|i| pattern[i..].contains('|') && pattern[i..].contains(')'));
    let extglob = ["!(", "*(", "+(", "?(", "@("].iter().any(|e| pattern.contains(e)) && pattern.contains(')');
    class || group || extglob
}

/// `glob-parent`: the directory a pattern's walk starts from. Like the original it
/// treats a lone `?` as a literal character (so `sr?/x` walks from `sr?`).
fn glob_parent(pattern: &str) -> String {
    let mut s = pattern.to_owned();
    let enclosure = s.find(['{', '[']).is_some_and(|_| s.ends_with(['}', ']']));
    if enclosure {
        s.push('/');
    }
    s.push('a');
    loop {
        s = posix_dirname(&s);
        if !(is_glob(&s) || globby(&s)) {
            break;
        }
    }
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(n)) if "!*?|[]{}()".contains(*n) => {}
            _ => out.push(c),
        }
    }
    out
}

/// Node's `path.posix.dirname`.
fn posix_dirname(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    match trimmed.rfind('/') {
        None => ".".into(),
        Some(0) => "/".into(),
        Some(i) => {
            let dir = trimmed[..i].trim_end_matches('/');
            if dir.is_empty() { "/".into() } else { dir.into() }
        }
    }
}

/// `glob-parent`'s extra test: an unescaped `{` or `[`, or an unclosed `(`.
fn globby(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        let unescaped = i == 0 || chars[i - 1] != '\\';
        unescaped
            && (c == '{' || c == '[' || (c == '(' && i + 1 < chars.len() && !chars[i + 1..].contains(&')')))
    })
}

/// `is-glob` in its default (strict) mode.
fn is_glob(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    let c: Vec<char> = s.chars().collect();
    let find = |ch: char, from: usize| -> isize {
        c.iter().skip(from).position(|&x| x == ch).map_or(-1, |p| (p + from) as isize)
    };
    // is-extglob: the leftmost of an escape pair or `X(...)`.
    let mut i = 0;
    while i < c.len() {
        if c[i] == '\\' && i + 1 < c.len() {
            i += 2;
            continue;
        }
        if "@?!+*".contains(c[i]) && c.get(i + 1) == Some(&'(') && find(')', i + 2) >= 0 {
            return true;
        }
        i += 1;
    }
    if c[0] == '!' {
        return true;
    }
    let (mut pipe, mut close_square, mut close_curly, mut close_paren, mut backslash) =
        (-2isize, -2isize, -2isize, -2isize, -2isize);
    let mut index = 0usize;
    while index < c.len() {
        let at = |k: usize| c.get(k).copied();
        let idx = index as isize;
        if c[index] == '*' {
            return true;
        }
        if at(index + 1) == Some('?') && "].+)".contains(c[index]) {
            return true;
        }
        if close_square != -1 && c[index] == '[' && at(index + 1) != Some(']') {
            if close_square < idx {
                close_square = find(']', index);
            }
            if close_square > idx {
                if backslash == -1 || backslash > close_square {
                    return true;
                }
                backslash = find('\\', index);
                if backslash == -1 || backslash > close_square {
                    return true;
                }
            }
        }
        if close_curly != -1 && c[index] == '{' && at(index + 1) != Some('}') {
            close_curly = find('}', index);
            if close_curly > idx {
                backslash = find('\\', index);
                if backslash == -1 || backslash > close_curly {
                    return true;
                }
            }
        }
        if close_paren != -1
            && c[index] == '('
            && at(index + 1) == Some('?')
            && at(index + 2).is_some_and(|x| ":!=".contains(x))
            && at(index + 3) != Some(')')
        {
            close_paren = find(')', index);
            if close_paren > idx {
                backslash = find('\\', index);
                if backslash == -1 || backslash > close_paren {
                    return true;
                }
            }
        }
        if pipe != -1 && c[index] == '(' && at(index + 1) != Some('|') {
            if pipe < idx {
                pipe = find('|', index);
            }
            if pipe != -1 && at(pipe as usize + 1) != Some(')') {
                close_paren = find(')', pipe as usize);
                if close_paren > pipe {
                    backslash = find('\\', pipe as usize);
                    if backslash == -1 || backslash > close_paren {
                        return true;
                    }
                }
            }
        }
        if c[index] == '\\' {
            let open = at(index + 1);
            index += 2;
            let close = match open {
                Some('{') => Some('}'),
                Some('(') => Some(')'),
                Some('[') => Some(']'),
                _ => None,
            };
            if let Some(close) = close {
                let n = find(close, index);
                if n != -1 {
                    index = n as usize + 1;
                }
            }
            if at(index) == Some('!') {
                return true;
            }
        } else {
            index += 1;
        }
    }
    false
}

/// Brace expansion as `micromatch.braces(pattern, { expand: true })` for the common
/// forms: comma lists (nested) and `{1..3}` / `{a..c}` ranges.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '{' => {
                if let Some((end, alternatives)) = brace_body(&chars, i) {
                    let prefix: String = chars[..i].iter().collect();
                    let suffix: String = chars[end + 1..].iter().collect();
                    return alternatives
                        .iter()
                        .flat_map(|alt| expand_braces(&format!("{prefix}{alt}{suffix}")))
                        .collect();
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    vec![pattern.to_owned()]
}

/// The closing index and alternatives of the brace group opening at `open`, if it
/// is an expandable group.
fn brace_body(chars: &[char], open: usize) -> Option<(usize, Vec<String>)> {
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut i = open + 1;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                current.push(c);
                current.push(chars[i + 1]);
                i += 1;
            }
            '{' => {
                depth += 1;
                current.push(c);
            }
            '}' if depth > 0 => {
                depth -= 1;
                current.push(c);
            }
            '}' => {
                parts.push(current);
                if parts.len() > 1 {
                    return Some((i, parts));
                }
                return range(&parts[0]).map(|alts| (i, alts));
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
        i += 1;
    }
    None
}

fn range(body: &str) -> Option<Vec<String>> {
    let (from, to) = body.split_once("..")?;
    if let (Ok(a), Ok(b)) = (from.parse::<i64>(), to.parse::<i64>()) {
        let values: Vec<i64> = if a <= b { (a..=b).collect() } else { (b..=a).rev().collect() };
        return (values.len() <= 10_000).then(|| values.iter().map(i64::to_string).collect());
    }
    let (mut a, mut b) = (from.chars(), to.chars());
    match (a.next(), a.next(), b.next(), b.next()) {
        (Some(x), None, Some(y), None) if x.is_ascii_alphabetic() && y.is_ascii_alphabetic() => {
            let (lo, hi) = (x.min(y) as u8, x.max(y) as u8);
            let mut letters: Vec<String> = (lo..=hi).map(|c| (c as char).to_string()).collect();
            if x > y {
                letters.reverse();
            }
            Some(letters)
        }
        _ => None,
    }
}

/// A compiled pattern: one matcher per `/`-separated segment.
struct Pattern {
    segments: Vec<Segment>,
    dirs_only: bool,
    /// Whether wildcards may match hidden names (`fast-glob` uses this for negations).
    dot: bool,
    ends_with_star: bool,
}

enum Segment {
    Globstar,
    Name { regex: Regex, leading_wildcard: bool },
}

impl Pattern {
    fn compile(pattern: &str, dot: bool) -> Result<Pattern, String> {
        let dirs_only = pattern.ends_with('/');
        let body = pattern.trim_end_matches('/');
        let segments = body
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s == "**" {
                    return Ok(Segment::Globstar);
                }
                let regex = Regex::new(&format!("^(?:{})$", segment_regex(s)?))
                    .map_err(|e| format!("Invalid glob '{pattern}': {e}"))?;
                // An extglob such as `*(a|b)` at the start does not protect hidden names.
                let leading_wildcard = s.starts_with(['*', '?']) && !s[1..].starts_with('(');
                Ok(Segment::Name { regex, leading_wildcard })
            })
            .collect::<Result<_, String>>()?;
        Ok(Pattern { segments, dirs_only, dot, ends_with_star: body.ends_with('*') })
    }

    fn matches(&self, path: &str, is_dir: bool) -> bool {
        if self.dirs_only && !is_dir {
            return false;
        }
        let names: Vec<&str> = path.split('/').collect();
        match_segments(&self.segments, &names, self.dot)
    }
}

fn match_segments(segments: &[Segment], names: &[&str], dot: bool) -> bool {
    match segments.split_first() {
        None => names.is_empty(),
        Some((Segment::Globstar, rest)) => {
            // `**` spans any number of names, none of them hidden.
            for skip in 0..=names.len() {
                if match_segments(rest, &names[skip..], dot) {
                    return true;
                }
                if !dot && skip < names.len() && names[skip].starts_with('.') {
                    return false;
                }
            }
            false
        }
        Some((Segment::Name { regex, leading_wildcard }, rest)) => match names.split_first() {
            Some((name, more)) => {
                !(!dot && *leading_wildcard && name.starts_with('.'))
                    && regex.is_match(name)
                    && match_segments(rest, more, dot)
            }
            None => false,
        },
    }
}

/// The regular expression for one segment's glob syntax.
fn segment_regex(segment: &str) -> Result<String, String> {
    let chars: Vec<char> = segment.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\\' => {
                if let Some(n) = next {
                    out.push_str(&regex::escape(&n.to_string()));
                    i += 1;
                }
            }
            '*' | '?' | '@' | '+' | '!' if next == Some('(') => {
                let close = closing_paren(&chars, i + 1)
                    .ok_or_else(|| format!("Unclosed '(' in the glob segment '{segment}'"))?;
                let inner: String = chars[i + 2..close].iter().collect();
                let alternatives =
                    inner.split('|').map(segment_regex).collect::<Result<Vec<_>, _>>()?.join("|");
                let suffix = match c {
                    '*' => "*",
                    '?' => "?",
                    '+' => "+",
                    '@' => "",
                    _ => {
                        return Err(format!(
                            "The negated pattern '!(...)' in the glob segment '{segment}' is not supported; list the files to keep instead"
                        ));
                    }
                };
                out.push_str(&format!("(?:{alternatives}){suffix}"));
                i = close;
            }
            '*' => {
                while chars.get(i + 1) == Some(&'*') {
                    i += 1;
                }
                out.push_str("[^/]*");
            }
            '?' => out.push_str("[^/]"),
            '(' => match closing_paren(&chars, i) {
                Some(close) if chars[i + 1..close].contains(&'|') => {
                    let inner: String = chars[i + 1..close].iter().collect();
                    let alternatives =
                        inner.split('|').map(segment_regex).collect::<Result<Vec<_>, _>>()?.join("|");
                    out.push_str(&format!("(?:{alternatives})"));
                    i = close;
                }
                _ => out.push_str(r"\("),
            },
            '[' => match class(&chars, i) {
                Some((end, class)) => {
                    out.push_str(&class);
                    i = end;
                }
                None => out.push_str(r"\["),
            },
            _ => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    Ok(out)
}

fn closing_paren(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A `[...]` class starting at `open`: its end index and regex form.
fn class(chars: &[char], open: usize) -> Option<(usize, String)> {
    let mut i = open + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut body = String::new();
    let start = i;
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && i > start {
            let prefix = if negated { "^/" } else { "" };
            return Some((i, format!("[{prefix}{body}]")));
        }
        if c == '[' && chars.get(i + 1) == Some(&':') {
            let rest: String = chars[i..].iter().collect();
            if let Some(end) = rest.find(":]") {
                body.push_str(&rest[..end + 2]);
                i += rest[..end + 2].chars().count();
                continue;
            }
        }
        match c {
            '\\' | ']' | '[' | '&' | '~' => {
                body.push('\\');
                body.push(c);
            }
            '-' => body.push('-'),
            _ => body.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Tree {
        Tree::new([
            ("purs.json", EntryKind::File),
            ("README.md", EntryKind::File),
            ("src/Main.purs", EntryKind::File),
            ("src/.hidden/A.purs", EntryKind::File),
            ("src/Data/B.purs", EntryKind::File),
            ("test/sub/T.purs", EntryKind::File),
            ("test/Main.purs", EntryKind::File),
            (".github/w.yml", EntryKind::File),
        ])
        .unwrap()
    }

    fn matched(patterns: &[&str]) -> Vec<String> {
        let mut got = glob(&tree(), patterns).unwrap().succeeded;
        got.sort();
        got
    }

    #[test]
    fn static_patterns_come_back_as_written() {
        assert_eq!(matched(&["src/"]), ["src/"]);
        assert_eq!(matched(&["./purs.json", "nothing"]), ["./purs.json"]);
        assert_eq!(matched(&["src//Main.purs"]), ["src/Main.purs"]);
    }

    #[test]
    fn wildcards_skip_hidden_names_and_include_directories() {
        assert_eq!(matched(&["src/**"]), ["src/Data", "src/Data/B.purs", "src/Main.purs"]);
        assert_eq!(
            matched(&["*.json", "./src/**"]),
            ["purs.json", "src", "src/Data", "src/Data/B.purs", "src/Main.purs"]
        );
        assert_eq!(matched(&["./src/**/*.purs"]), ["./src/Data/B.purs", "./src/Main.purs"]);
        assert_eq!(matched(&["src/**/.*"]), ["src/.hidden"]);
        assert_eq!(matched(&["**/"]), ["src", "src/Data", "test", "test/sub"]);
    }

    #[test]
    fn negations_prune_directories() {
        assert_eq!(matched(&["test/**", "!test/sub"]), ["test/Main.purs"]);
        assert_eq!(matched(&["{src,test}/*.purs"]), ["src/Main.purs", "test/Main.purs"]);
        assert_eq!(matched(&["src/@(Main|Data)*"]), ["src/Data", "src/Main.purs"]);
        assert!(glob(&tree(), &["src/!(Main).purs"]).is_err());
    }

    #[test]
    fn braces_expand_lists_and_ranges() {
        assert_eq!(expand_braces("a{b,c{d,e}}f"), ["abf", "acdf", "acef"]);
        assert_eq!(expand_braces("x{1..3}"), ["x1", "x2", "x3"]);
        assert_eq!(expand_braces("{a}"), ["{a}"]);
    }
}
