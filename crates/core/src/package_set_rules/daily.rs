//! Daily automatic package sets (upstream's `PackageSetUpdater` script): which
//! recently published versions are candidates for the next set. The clock is a
//! parameter, so the 24-hour window is testable to the millisecond.

use std::collections::BTreeMap;

use crate::metadata::Metadata;
use crate::name::PackageName;
use crate::package_set::PackageSet;
use crate::time::Timestamp;
use crate::version::Version;

/// How recent a publish must be to count, as upstream: 24 hours.
pub const DAILY_WINDOW_HOURS: i64 = 24;
const DAILY_WINDOW_MILLIS: i64 = DAILY_WINDOW_HOURS * 3_600_000;

/// Recently published versions, sorted into candidates and the reasons others are not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyCandidates {
    /// Per package, its highest recent version, when the package is not in the set
    /// or that version is higher than the set's.
    pub candidates: BTreeMap<PackageName, Version>,
    /// Packages whose highest recent version is not above the set's: (recent, set's).
    pub not_newer: BTreeMap<PackageName, (Version, Version)>,
    /// Recent versions passed over because a higher one was also published recently
    /// (upstream's "ineligible" uploads), ascending.
    pub superseded: BTreeMap<PackageName, Vec<Version>>,
}

/// Whether `published` lies within the window ending at `now`. As upstream
/// (`now - published <= 24 h`) the bound is inclusive, and a time after `now` (clock
/// skew between the server and this machine) counts as recent.
pub fn published_recently(published: Timestamp, now: Timestamp) -> bool {
    now.unix_millis() - published.unix_millis() <= DAILY_WINDOW_MILLIS
}

/// The candidates for a daily package set made from `latest`: for each package, the
/// highest of its published versions (unpublished ones are not looked at) whose
/// `publishedTime` is within the last 24 hours before `now`.
pub fn daily_candidates(
    latest: &PackageSet,
    metadata: &BTreeMap<PackageName, Metadata>,
    now: Timestamp,
) -> DailyCandidates {
    let mut out = DailyCandidates::default();
    for (name, meta) in metadata {
        // `published` is ordered by version, so the last recent one is the highest.
        let mut recent: Vec<Version> = meta
            .published
            .iter()
            .filter(|(_, p)| published_recently(p.published_time, now))
            .map(|(v, _)| *v)
            .collect();
        let Some(highest) = recent.pop() else { continue };
        if !recent.is_empty() {
            out.superseded.insert(name.clone(), recent);
        }
        match latest.packages.get(name) {
            Some(in_set) if *in_set >= highest => {
                out.not_newer.insert(name.clone(), (highest, *in_set));
            }
            _ => {
                out.candidates.insert(name.clone(), highest);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Codec;

    const NOW: i64 = 1_800_000_000_000;
    const HOUR: i64 = 3_600_000;

    fn name(s: &str) -> PackageName {
        PackageName::parse(s).unwrap()
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn ts(ms: i64) -> String {
        Timestamp::from_unix_millis(ms).to_string()
    }

    fn published_entry(version: &str, at: i64) -> String {
        format!(
            r#""{version}":{{"bytes":1,"compilers":["0.15.15"],"hash":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","publishedTime":"{}"}}"#,
            ts(at)
        )
    }

    /// Metadata with `published` versions at the given times (ms) and `unpublished` ones.
    fn metadata(published: &[(&str, i64)], unpublished: &[(&str, i64)]) -> Metadata {
        let published: Vec<String> = published.iter().map(|(v, at)| published_entry(v, *at)).collect();
        let unpublished: Vec<String> = unpublished
            .iter()
            .map(|(v, at)| {
                format!(
                    r#""{v}":{{"publishedTime":"{}","reason":"mistake","unpublishedTime":"{}"}}"#,
                    ts(*at),
                    ts(*at + 1000)
                )
            })
            .collect();
        Metadata::from_json_str(&format!(
            r#"{{"location":{{"githubOwner":"o","githubRepo":"r"}},"published":{{{}}},"unpublished":{{{}}}}}"#,
            published.join(","),
            unpublished.join(",")
        ))
        .unwrap()
    }

    fn set(packages: &[(&str, &str)]) -> PackageSet {
        PackageSet {
            version: v("1.0.0"),
            compiler: v("0.15.15"),
            published: crate::time::Date::parse("2026-01-01").unwrap(),
            packages: packages.iter().map(|(n, ver)| (name(n), v(ver))).collect(),
        }
    }

    fn run(latest: &PackageSet, all: &[(&str, Metadata)]) -> DailyCandidates {
        let all = all.iter().map(|(n, m)| (name(n), m.clone())).collect();
        daily_candidates(latest, &all, Timestamp::from_unix_millis(NOW))
    }

    #[test]
    fn the_window_is_24_hours_inclusive() {
        let exactly = metadata(&[("1.0.0", NOW - 24 * HOUR)], &[]);
        let just_over = metadata(&[("1.0.0", NOW - 24 * HOUR - 1)], &[]);
        let future = metadata(&[("1.0.0", NOW + HOUR)], &[]);
        let out = run(&set(&[]), &[("exactly", exactly), ("over", just_over), ("future", future)]);
        let chosen: Vec<&str> = out.candidates.keys().map(PackageName::as_str).collect();
        assert_eq!(chosen, ["exactly", "future"]);
        assert!(out.not_newer.is_empty() && out.superseded.is_empty());
    }

    #[test]
    fn new_and_higher_versions_are_kept_lower_and_equal_are_not() {
        let recent = NOW - HOUR;
        let out = run(
            &set(&[("higher", "1.0.0"), ("equal", "2.0.0"), ("lower", "3.0.0")]),
            &[
                ("fresh", metadata(&[("0.1.0", recent)], &[])),
                ("higher", metadata(&[("1.0.0", NOW - 100 * HOUR), ("1.0.1", recent)], &[])),
                ("equal", metadata(&[("2.0.0", recent)], &[])),
                ("lower", metadata(&[("2.5.0", recent), ("3.0.0", NOW - 100 * HOUR)], &[])),
            ],
        );
        let expected: BTreeMap<PackageName, Version> =
            [(name("fresh"), v("0.1.0")), (name("higher"), v("1.0.1"))].into();
        assert_eq!(out.candidates, expected);
        let expected: BTreeMap<PackageName, (Version, Version)> =
            [(name("equal"), (v("2.0.0"), v("2.0.0"))), (name("lower"), (v("2.5.0"), v("3.0.0")))].into();
        assert_eq!(out.not_newer, expected);
    }

    #[test]
    fn the_highest_recent_version_is_chosen_even_if_published_first() {
        let m = metadata(
            &[
                ("1.0.0", NOW - 2 * HOUR),
                ("1.2.0", NOW - 3 * HOUR),
                ("1.1.0", NOW - HOUR),
                ("2.0.0", NOW - 48 * HOUR),
            ],
            &[],
        );
        let out = run(&set(&[("pkg", "0.9.0")]), &[("pkg", m)]);
        assert_eq!(out.candidates.get(&name("pkg")), Some(&v("1.2.0")));
        assert_eq!(out.superseded.get(&name("pkg")), Some(&vec![v("1.0.0"), v("1.1.0")]));
    }

    #[test]
    fn unpublished_versions_are_ignored() {
        let m = metadata(&[("1.0.0", NOW - HOUR)], &[("1.1.0", NOW - HOUR)]);
        let only_unpublished = metadata(&[("1.0.0", NOW - 100 * HOUR)], &[("2.0.0", NOW - HOUR)]);
        let out = run(&set(&[]), &[("pkg", m), ("gone", only_unpublished)]);
        let expected: BTreeMap<PackageName, Version> = [(name("pkg"), v("1.0.0"))].into();
        assert_eq!(out.candidates, expected);
        assert!(out.superseded.is_empty());
    }
}
