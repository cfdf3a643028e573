//! npm `semver`'s `validRange(range, { loose: true, includePrerelease: false })`.
//!
//! The registry's lenient range parser first runs legacy (Bower-era) ranges through
//! npm `semver` 7.7.4 to desugar `^`, `~`, x-ranges, hyphen ranges and stray spaces,
//! then repairs the result. Reproducing that step byte for byte is what keeps our
//! conversions of old `bower.json` files identical to upstream's, so this module
//! follows semver's own regular expressions (their whitespace-bounded "safe" forms)
//! and its replacement steps in the same order.
//!
//! Known approximation: numbers above JavaScript's `Number.MAX_SAFE_INTEGER` make the
//! whole range invalid here; npm would sometimes silently drop such a comparator
//! instead. Either way the registry then rejects the range, because registry versions
//! are 32-bit.

use std::cell::Cell;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// JavaScript's `\s` (WhiteSpace and LineTerminator), which semver's regexes use.
const WS_CHARS: &str =
    r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";
const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;
/// semver refuses version strings longer than this.
const MAX_LENGTH: usize = 256;

fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0B' | '\x0C' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

/// `String.prototype.trim`.
pub(crate) fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_space)
}

/// `s.split(/\s+/)`, keeping the empty leading/trailing pieces JavaScript keeps.
fn split_ws(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_js_space(c) {
            out.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !is_js_space(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            start = end;
        }
    }
    out.push(&s[start..]);
    out
}

/// `s.replace(/\s+/g, ' ')`.
fn collapse_ws(s: &str) -> String {
    split_ws(s).join(" ")
}

struct Patterns {
    hyphen: Regex,
    comparator_trim: Regex,
    tilde_trim: Regex,
    caret_trim: Regex,
    caret: Regex,
    tilde: Regex,
    xrange: Regex,
    star: Regex,
    gte0: Regex,
    build: Regex,
    comparator: Regex,
    version: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let ws = format!("[{WS_CHARS}]");
    let num = "0|[1-9][0-9]*";
    let num_loose = "[0-9]+";
    let non_num = "[0-9]*[a-zA-Z-][a-zA-Z0-9-]*";
    let main_loose = format!(r"({num_loose})\.({num_loose})\.({num_loose})");
    let pre_id = format!("(?:{non_num}|{num})");
    let pre_id_loose = format!("(?:{non_num}|{num_loose})");
    let pre = format!(r"(?:-({pre_id}(?:\.{pre_id})*))");
    let pre_loose = format!(r"(?:-?({pre_id_loose}(?:\.{pre_id_loose})*))");
    let build_id = "[a-zA-Z0-9-]+";
    let build = format!(r"(?:\+({build_id}(?:\.{build_id})*))");
    let loose_plain = format!("[v={WS_CHARS}]*{main_loose}{pre_loose}?{build}?");
    let gtlt = "((?:<|>)?=?)";
    let xid = format!(r"{num}|x|X|\*");
    let xid_loose = format!(r"{num_loose}|x|X|\*");
    let xplain = format!(r"[v={WS_CHARS}]*({xid})(?:\.({xid})(?:\.({xid})(?:{pre})?{build}?)?)?");
    let xplain_loose = format!(
        r"[v={WS_CHARS}]*({xid_loose})(?:\.({xid_loose})(?:\.({xid_loose})(?:{pre_loose})?{build}?)?)?"
    );
    let lone_tilde = "(?:~>?)";
    let lone_caret = r"(?:\^)";
    let re = |src: String| Regex::new(&src).expect("semver patterns are valid");
    Patterns {
        hyphen: re(format!("^{ws}?({xplain_loose}){ws}-{ws}({xplain_loose}){ws}?$")),
        comparator_trim: re(format!("({ws}?){gtlt}{ws}?({loose_plain}|{xplain})")),
        tilde_trim: re(format!("({ws}?){lone_tilde}{ws}")),
        caret_trim: re(format!("({ws}?){lone_caret}{ws}")),
        caret: re(format!("^{lone_caret}{xplain_loose}$")),
        tilde: re(format!("^{lone_tilde}{xplain_loose}$")),
        xrange: re(format!("^{gtlt}{ws}?{xplain_loose}$")),
        star: re(format!(r"(<|>)?=?{ws}?\*")),
        gte0: re(format!(r"^{ws}?>={ws}?0\.0\.0{ws}?$")),
        build: re(build.clone()),
        comparator: re(format!("^{gtlt}{ws}?({loose_plain})$|^$")),
        version: re(format!("^{loose_plain}$")),
    }
});

/// Tracks numbers JavaScript could not represent exactly (see the module docs).
struct Numbers {
    overflow: Cell<bool>,
}

impl Numbers {
    fn value(&self, digits: &str) -> u64 {
        let trimmed = digits.trim_start_matches('0');
        match trimmed.parse::<u64>() {
            Ok(n) if n <= MAX_SAFE_INTEGER => n,
            _ if trimmed.is_empty() => 0,
            _ => {
                self.overflow.set(true);
                0
            }
        }
    }

    /// `+digits + 1`, printed.
    fn succ(&self, digits: &str) -> String {
        (self.value(digits) + 1).to_string()
    }
}

/// semver's `isX`: absent, `x`, `X` or `*`.
fn is_x(id: Option<&str>) -> bool {
    matches!(id, None | Some("") | Some("x") | Some("X") | Some("*"))
}

fn group<'a>(caps: &Captures<'a>, i: usize) -> Option<&'a str> {
    caps.get(i).map(|m| m.as_str())
}

/// `validRange(range, { loose: true })`: the desugared range, or `None` when npm
/// considers it invalid.
pub fn valid_range_loose(range: &str) -> Option<String> {
    let numbers = Numbers { overflow: Cell::new(false) };
    let raw = collapse_ws(js_trim(range));
    let mut sets: Vec<Vec<String>> = Vec::new();
    for part in raw.split("||") {
        let comparators = parse_range(js_trim(part), &numbers)?;
        if !comparators.is_empty() {
            sets.push(comparators);
        }
    }
    if numbers.overflow.get() || sets.is_empty() {
        return None;
    }
    if sets.len() > 1 {
        let first = sets[0].clone();
        sets.retain(|c| c[0] != NULL_SET);
        if sets.is_empty() {
            sets = vec![first];
        } else if sets.len() > 1
            && let Some(any) = sets.iter().find(|c| c.len() == 1 && c[0].is_empty())
        {
            sets = vec![any.clone()];
        }
    }
    let formatted = sets.iter().map(|comps| comps.join(" ")).collect::<Vec<_>>().join("||");
    Some(if formatted.is_empty() { "*".to_owned() } else { formatted })
}

const NULL_SET: &str = "<0.0.0-0";

/// One `||`-separated part: its comparators' printed values, or `None` if a
/// comparator cannot be built (semver throws).
fn parse_range(range: &str, numbers: &Numbers) -> Option<Vec<String>> {
    let p = &*PATTERNS;
    let range = p.hyphen.replace(range, |caps: &Captures| hyphen_replace(caps, numbers)).into_owned();
    let range = p.comparator_trim.replace_all(&range, "${1}${2}${3}").into_owned();
    let range = p.tilde_trim.replace_all(&range, "${1}~").into_owned();
    let range = p.caret_trim.replace_all(&range, "${1}^").into_owned();

    let desugared: Vec<String> = range.split(' ').map(|comp| parse_comparator(comp, numbers)).collect();
    let joined = desugared.join(" ");
    let list: Vec<String> = split_ws(&joined)
        .into_iter()
        .map(|comp| p.gte0.replace(js_trim(comp), "").into_owned())
        .filter(|comp| p.comparator.is_match(comp))
        .collect();

    let mut values: Vec<String> = Vec::new();
    for comp in &list {
        let value = comparator_value(comp)?;
        if value == NULL_SET {
            return Some(vec![value]);
        }
        if !values.contains(&value) {
            values.push(value);
        }
    }
    if values.len() > 1 {
        values.retain(|v| !v.is_empty());
    }
    Some(values)
}

/// `new Comparator(comp, { loose: true }).value`.
fn comparator_value(comp: &str) -> Option<String> {
    let comp = split_ws(js_trim(comp)).join(" ");
    let caps = PATTERNS.comparator.captures(&comp)?;
    let operator = match group(&caps, 1).unwrap_or("") {
        "=" => "",
        op => op,
    };
    match group(&caps, 2) {
        None | Some("") => Some(String::new()),
        Some(version) => Some(format!("{operator}{}", loose_version(version)?)),
    }
}

/// `new SemVer(version, { loose: true }).version`.
fn loose_version(version: &str) -> Option<String> {
    if version.len() > MAX_LENGTH {
        return None;
    }
    let caps = PATTERNS.version.captures(js_trim(version))?;
    let place = |i: usize| -> Option<u64> {
        let digits = group(&caps, i)?.trim_start_matches('0');
        if digits.is_empty() {
            return Some(0);
        }
        digits.parse::<u64>().ok().filter(|n| *n <= MAX_SAFE_INTEGER)
    };
    let mut out = format!("{}.{}.{}", place(1)?, place(2)?, place(3)?);
    if let Some(pre) = group(&caps, 4) {
        let ids: Vec<String> = pre.split('.').map(prerelease_id).collect();
        out.push('-');
        out.push_str(&ids.join("."));
    }
    Some(out)
}

/// Numeric prerelease identifiers become numbers (losing leading zeros).
fn prerelease_id(id: &str) -> String {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = id.trim_start_matches('0');
        if trimmed.is_empty() {
            return "0".to_owned();
        }
        if let Ok(n) = trimmed.parse::<u64>()
            && n < MAX_SAFE_INTEGER
        {
            return n.to_string();
        }
    }
    id.to_owned()
}

fn parse_comparator(comp: &str, numbers: &Numbers) -> String {
    let p = &*PATTERNS;
    let comp = p.build.replace(comp, "").into_owned();
    let comp =
        split_ws(js_trim(&comp)).iter().map(|c| replace_caret(c, numbers)).collect::<Vec<_>>().join(" ");
    let comp =
        split_ws(js_trim(&comp)).iter().map(|c| replace_tilde(c, numbers)).collect::<Vec<_>>().join(" ");
    let comp = split_ws(&comp).iter().map(|c| replace_xrange(c, numbers)).collect::<Vec<_>>().join(" ");
    p.star.replace(js_trim(&comp), "").into_owned()
}

fn replace_caret(comp: &str, n: &Numbers) -> String {
    PATTERNS
        .caret
        .replace(comp, |caps: &Captures| {
            let (major, minor, patch, pre) = (group(caps, 1), group(caps, 2), group(caps, 3), group(caps, 4));
            if is_x(major) {
                return String::new();
            }
            let big = major.unwrap_or_default();
            if is_x(minor) {
                return format!(">={big}.0.0 <{}.0.0-0", n.succ(big));
            }
            let mi = minor.unwrap_or_default();
            if is_x(patch) {
                return if big == "0" {
                    format!(">={big}.{mi}.0 <{big}.{}.0-0", n.succ(mi))
                } else {
                    format!(">={big}.{mi}.0 <{}.0.0-0", n.succ(big))
                };
            }
            let pa = patch.unwrap_or_default();
            let lower = match pre {
                Some(pre) if !pre.is_empty() => format!(">={big}.{mi}.{pa}-{pre}"),
                _ => format!(">={big}.{mi}.{pa}"),
            };
            let upper = if big == "0" {
                if mi == "0" {
                    format!("<{big}.{mi}.{}-0", n.succ(pa))
                } else {
                    format!("<{big}.{}.0-0", n.succ(mi))
                }
            } else {
                format!("<{}.0.0-0", n.succ(big))
            };
            format!("{lower} {upper}")
        })
        .into_owned()
}

fn replace_tilde(comp: &str, n: &Numbers) -> String {
    PATTERNS
        .tilde
        .replace(comp, |caps: &Captures| {
            let (major, minor, patch, pre) = (group(caps, 1), group(caps, 2), group(caps, 3), group(caps, 4));
            if is_x(major) {
                return String::new();
            }
            let big = major.unwrap_or_default();
            if is_x(minor) {
                return format!(">={big}.0.0 <{}.0.0-0", n.succ(big));
            }
            let mi = minor.unwrap_or_default();
            if is_x(patch) {
                return format!(">={big}.{mi}.0 <{big}.{}.0-0", n.succ(mi));
            }
            let pa = patch.unwrap_or_default();
            match pre {
                Some(pre) if !pre.is_empty() => format!(">={big}.{mi}.{pa}-{pre} <{big}.{}.0-0", n.succ(mi)),
                _ => format!(">={big}.{mi}.{pa} <{big}.{}.0-0", n.succ(mi)),
            }
        })
        .into_owned()
}

fn replace_xrange(comp: &str, n: &Numbers) -> String {
    let comp = js_trim(comp);
    PATTERNS
        .xrange
        .replace(comp, |caps: &Captures| {
            let whole = group(caps, 0).unwrap_or_default().to_owned();
            let mut gtlt = group(caps, 1).unwrap_or("").to_owned();
            let (major, minor, patch) = (group(caps, 2), group(caps, 3), group(caps, 4));
            let x_major = is_x(major);
            let x_minor = x_major || is_x(minor);
            let x_patch = x_minor || is_x(patch);
            if gtlt == "=" && x_patch {
                gtlt.clear();
            }
            let mut pre = "";
            let mut big = major.unwrap_or_default().to_owned();
            let mut mi = minor.unwrap_or_default().to_owned();
            if x_major {
                if gtlt == ">" || gtlt == "<" { NULL_SET.to_owned() } else { "*".to_owned() }
            } else if !gtlt.is_empty() && x_patch {
                if x_minor {
                    mi = "0".to_owned();
                }
                let pa = "0";
                if gtlt == ">" {
                    gtlt = ">=".to_owned();
                    if x_minor {
                        big = n.succ(&big);
                        mi = "0".to_owned();
                    } else {
                        mi = n.succ(&mi);
                    }
                } else if gtlt == "<=" {
                    gtlt = "<".to_owned();
                    if x_minor {
                        big = n.succ(&big);
                    } else {
                        mi = n.succ(&mi);
                    }
                }
                if gtlt == "<" {
                    pre = "-0";
                }
                format!("{gtlt}{big}.{mi}.{pa}{pre}")
            } else if x_minor {
                format!(">={big}.0.0 <{}.0.0-0", n.succ(&big))
            } else if x_patch {
                format!(">={big}.{mi}.0 <{big}.{}.0-0", n.succ(&mi))
            } else {
                whole
            }
        })
        .into_owned()
}

/// semver's `hyphenReplace` (without prereleases included).
fn hyphen_replace(caps: &Captures, n: &Numbers) -> String {
    let from_text = group(caps, 1).unwrap_or_default();
    let (fmaj, fmin, fpat) = (group(caps, 2), group(caps, 3), group(caps, 4));
    let to_text = group(caps, 7).unwrap_or_default();
    let (tmaj, tmin, tpat, tpre) = (group(caps, 8), group(caps, 9), group(caps, 10), group(caps, 11));
    let from = if is_x(fmaj) {
        String::new()
    } else if is_x(fmin) {
        format!(">={}.0.0", fmaj.unwrap_or_default())
    } else if is_x(fpat) {
        format!(">={}.{}.0", fmaj.unwrap_or_default(), fmin.unwrap_or_default())
    } else {
        format!(">={from_text}")
    };
    let to = if is_x(tmaj) {
        String::new()
    } else if is_x(tmin) {
        format!("<{}.0.0-0", n.succ(tmaj.unwrap_or_default()))
    } else if is_x(tpat) {
        format!("<{}.{}.0-0", tmaj.unwrap_or_default(), n.succ(tmin.unwrap_or_default()))
    } else if let Some(pre) = tpre.filter(|p| !p.is_empty()) {
        format!(
            "<={}.{}.{}-{pre}",
            tmaj.unwrap_or_default(),
            tmin.unwrap_or_default(),
            tpat.unwrap_or_default()
        )
    } else {
        format!("<={to_text}")
    };
    js_trim(&format!("{from} {to}")).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desugars_like_npm() {
        // Expected strings are what semver 7.7.4's validRange(r, {loose: true}) prints.
        let cases = [
            ("^1.2.3", ">=1.2.3 <2.0.0-0"),
            ("~1.2", ">=1.2.0 <1.3.0-0"),
            ("1.x || >=2.5.0 || 5.0.0 - 7.2.3", ">=1.0.0 <2.0.0-0||>=2.5.0||>=5.0.0 <=7.2.3"),
            ("> 1.2.3 < 1.2.5", ">1.2.3 <1.2.5"),
            ("v1.0.0", "1.0.0"),
            ("=1.0.0", "1.0.0"),
            ("*", "*"),
            ("", "*"),
            (">=0.0.0", "*"),
            ("<0.0.0-0", "<0.0.0-0"),
            ("1.2.3-beta+build", "1.2.3-beta"),
        ];
        for (input, want) in cases {
            assert_eq!(valid_range_loose(input).as_deref(), Some(want), "input {input:?}");
        }
        assert_eq!(valid_range_loose("not a range"), None);
        assert_eq!(valid_range_loose("^99999999999999999"), None);
    }

    #[test]
    fn whitespace_splitting_matches_javascript() {
        assert_eq!(split_ws(" a  b "), vec!["", "a", "b", ""]);
        assert_eq!(split_ws(""), vec![""]);
        assert_eq!(collapse_ws("a \t\u{3000}b"), "a b");
    }
}
