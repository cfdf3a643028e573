//! A lower bound on the modules any flood must compile over a window, whatever
//! build plans it picks: the minimum (each version's own modules once)
//! plus every version that no single build can serve.
//!
//! A version `D@d` is built once per distinct set of dependency versions it is
//! compiled against. Take a package `Q` that every plan holding `D@d` puts under
//! it, and the jobs whose every plan holds `D@d`. Each such job allows only some
//! versions of `Q` (found by solving it with `Q` held to each version in turn).
//! If no one version of `Q` is allowed by all of them, `D@d` must be built at
//! least as many times as the fewest versions of `Q` that meet every job's set.
//!
//! "Every plan holds" is decided from the ranges alone (every version a range
//! accepts leads there), which can only miss cases: the bound stays a lower bound.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use registry_core::solver::{DependencyIndex, ManifestDeps, MatrixSolverResult, Solver};
use registry_core::{PackageName, Version};

type Pv = (PackageName, Version);

/// A version that every flood over the window compiles at least `builds` times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Forced {
    pub version: Pv,
    pub builds: usize,
    /// The package below it whose version the jobs cannot agree on.
    pub dependency: PackageName,
    /// Jobs that must build `version`, each with the versions of `dependency` its
    /// plans allow; together they allow no single one.
    pub witnesses: Vec<(Pv, BTreeSet<Version>)>,
}

impl Forced {
    pub fn describe(&self) -> String {
        let jobs: Vec<String> = self
            .witnesses
            .iter()
            .map(|((n, v), allowed)| {
                let allowed: Vec<String> =
                    allowed.iter().map(|q| format!("{}@{q}", self.dependency)).collect();
                format!("{n}@{v} allows only {}", allowed.join(" or "))
            })
            .collect();
        format!(
            "{}@{} is built at least {} times: {}",
            self.version.0,
            self.version.1,
            self.builds,
            jobs.join("; ")
        )
    }
}

/// What `jobs` (a flood's jobs, each with the plan it got) force over `manifests`
/// (the window): every version some job's plans cannot share.
pub(crate) fn forced_builds(manifests: &[ManifestDeps], jobs: &[MatrixSolverResult]) -> Vec<Forced> {
    let window = Window::new(manifests);
    let multi: Vec<&PackageName> =
        window.versions.iter().filter(|(_, vs)| vs.len() > 1).map(|(n, _)| n).collect();
    let mut pinned: HashMap<(PackageName, Version), Solver> = HashMap::new();
    for &q in &multi {
        for &version in &window.versions[q] {
            let mut index = window.index.clone();
            index.get_mut(q).expect("a window package").retain(|v, _| *v == version);
            pinned.insert((q.clone(), version), Solver::new(&index));
        }
    }
    // The jobs whose plan (the one they got) holds each version.
    let mut holding: BTreeMap<Pv, Vec<Pv>> = BTreeMap::new();
    for job in jobs {
        let own = (job.name.clone(), job.version);
        holding.entry(own.clone()).or_default().push(own.clone());
        for (n, v) in &job.resolutions {
            holding.entry((n.clone(), *v)).or_default().push(own.clone());
        }
    }
    let mut reach = Reach::default();
    let mut allowed: HashMap<(Pv, PackageName), BTreeSet<Version>> = HashMap::new();
    let mut forced = Vec::new();
    for (version, holders) in &holding {
        let mut worst: Option<Forced> = None;
        for &q in &multi {
            if *q == version.0 || !reach.must(&window, version, &Target::Package(q.clone())) {
                continue;
            }
            let target = Target::Version(version.clone());
            let mut family: Vec<(Pv, BTreeSet<Version>)> = Vec::new();
            for job in holders {
                if job != version && !reach.must(&window, job, &target) {
                    continue;
                }
                let set = allowed
                    .entry((job.clone(), q.clone()))
                    .or_insert_with(|| {
                        let required = &window.manifests[job].dependencies;
                        window.versions[q]
                            .iter()
                            .copied()
                            .filter(|&v| pinned[&(q.clone(), v)].solve(required).is_ok())
                            .collect()
                    })
                    .clone();
                family.push((job.clone(), set));
            }
            let builds = fewest_meeting_all(&window.versions[q], &family);
            if builds > 1 && worst.as_ref().is_none_or(|w| builds > w.builds) {
                worst = Some(Forced {
                    version: version.clone(),
                    builds,
                    dependency: q.clone(),
                    witnesses: witnesses(&family),
                });
            }
        }
        forced.extend(worst);
    }
    forced
}

/// The fewest versions that meet every set of `family` (1 when they share one).
fn fewest_meeting_all(versions: &BTreeSet<Version>, family: &[(Pv, BTreeSet<Version>)]) -> usize {
    let versions: Vec<Version> = versions.iter().copied().collect();
    let sets: BTreeSet<&BTreeSet<Version>> = family.iter().map(|(_, s)| s).collect();
    // Versions of one package in a window are few (at most a handful).
    (1..=versions.len())
        .find(|&size| {
            (0u32..1 << versions.len()).filter(|mask| mask.count_ones() as usize == size).any(|mask| {
                sets.iter().all(|set| {
                    versions.iter().enumerate().any(|(i, v)| mask & (1 << i) != 0 && set.contains(v))
                })
            })
        })
        .unwrap_or(versions.len())
}

/// Two jobs allowing no common version if there are such, else every distinct set.
fn witnesses(family: &[(Pv, BTreeSet<Version>)]) -> Vec<(Pv, BTreeSet<Version>)> {
    for (i, a) in family.iter().enumerate() {
        if let Some(b) = family[i + 1..].iter().find(|b| a.1.is_disjoint(&b.1)) {
            return vec![a.clone(), b.clone()];
        }
    }
    let mut seen = BTreeSet::new();
    family.iter().filter(|(_, set)| seen.insert(set.clone())).cloned().collect()
}

struct Window<'a> {
    index: DependencyIndex,
    versions: BTreeMap<PackageName, BTreeSet<Version>>,
    manifests: HashMap<Pv, &'a ManifestDeps>,
}

impl<'a> Window<'a> {
    fn new(manifests: &'a [ManifestDeps]) -> Self {
        let mut window =
            Window { index: BTreeMap::new(), versions: BTreeMap::new(), manifests: HashMap::new() };
        for m in manifests {
            window.index.entry(m.name.clone()).or_default().insert(m.version, m.dependencies.clone());
            window.versions.entry(m.name.clone()).or_default().insert(m.version);
            window.manifests.insert((m.name.clone(), m.version), m);
        }
        window
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Target {
    /// Any version of the package.
    Package(PackageName),
    Version(Pv),
}

/// Whether every plan holding a version also holds a target below it, memoised.
#[derive(Default)]
struct Reach {
    memo: HashMap<(Pv, Target), bool>,
}

impl Reach {
    fn must(&mut self, window: &Window<'_>, from: &Pv, target: &Target) -> bool {
        let key = (from.clone(), target.clone());
        if let Some(&known) = self.memo.get(&key) {
            return known;
        }
        // Registry dependencies have no cycles; should one appear, it proves nothing.
        self.memo.insert(key.clone(), false);
        let mut found = false;
        if let Some(manifest) = window.manifests.get(from) {
            for (dependency, range) in &manifest.dependencies {
                let accepted: Vec<Version> = window
                    .versions
                    .get(dependency)
                    .map(|vs| vs.iter().copied().filter(|v| range.includes(*v)).collect())
                    .unwrap_or_default();
                if accepted.is_empty() {
                    continue;
                }
                let direct = match target {
                    Target::Package(q) => dependency == q,
                    Target::Version((d, dv)) => dependency == d && accepted == [*dv],
                };
                if direct || accepted.iter().all(|v| self.must(window, &(dependency.clone(), *v), target)) {
                    found = true;
                    break;
                }
            }
        }
        self.memo.insert(key, found);
        found
    }
}

#[cfg(test)]
mod tests {
    use registry_core::Range;

    use super::*;

    fn n(s: &str) -> PackageName {
        PackageName::parse(s).unwrap()
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn manifest(name: &str, version: &str, deps: &[(&str, &str)]) -> ManifestDeps {
        ManifestDeps {
            name: n(name),
            version: v(version),
            dependencies: deps.iter().map(|(d, r)| (n(d), Range::parse(r).unwrap())).collect(),
        }
    }

    fn job(name: &str, version: &str, plan: &[(&str, &str)]) -> MatrixSolverResult {
        MatrixSolverResult {
            compiler: v("0.15.16"),
            name: n(name),
            version: v(version),
            resolutions: plan.iter().map(|(p, pv)| (n(p), v(pv))).collect(),
        }
    }

    /// `mid` accepts both `base`s; `old` needs base 1 and `new` base 2, and both need
    /// `mid`: whatever the plans, `mid` is built against each base.
    fn two_camps(new_needs_mid: bool) -> (Vec<ManifestDeps>, Vec<MatrixSolverResult>) {
        let mut manifests = vec![
            manifest("base", "1.0.0", &[]),
            manifest("base", "2.0.0", &[]),
            manifest("mid", "1.0.0", &[("base", ">=1.0.0 <3.0.0")]),
            manifest("old", "1.0.0", &[("base", ">=1.0.0 <2.0.0"), ("mid", ">=1.0.0 <2.0.0")]),
        ];
        let mut jobs = vec![
            job("base", "1.0.0", &[]),
            job("base", "2.0.0", &[]),
            job("mid", "1.0.0", &[("base", "2.0.0")]),
            job("old", "1.0.0", &[("base", "1.0.0"), ("mid", "1.0.0")]),
        ];
        if new_needs_mid {
            manifests.push(manifest(
                "new",
                "1.0.0",
                &[("base", ">=2.0.0 <3.0.0"), ("mid", ">=1.0.0 <2.0.0")],
            ));
            jobs.push(job("new", "1.0.0", &[("base", "2.0.0"), ("mid", "1.0.0")]));
        } else {
            manifests.push(manifest("new", "1.0.0", &[("base", ">=2.0.0 <3.0.0")]));
            jobs.push(job("new", "1.0.0", &[("base", "2.0.0")]));
        }
        (manifests, jobs)
    }

    #[test]
    fn a_version_two_jobs_need_over_disjoint_dependency_versions_is_built_twice() {
        let (manifests, jobs) = two_camps(true);
        let forced = forced_builds(&manifests, &jobs);
        assert_eq!(forced.len(), 1, "{forced:?}");
        assert_eq!(forced[0].version, (n("mid"), v("1.0.0")));
        assert_eq!(forced[0].builds, 2);
        assert_eq!(forced[0].dependency, n("base"));
        assert_eq!(
            forced[0].describe(),
            "mid@1.0.0 is built at least 2 times: old@1.0.0 allows only base@1.0.0; new@1.0.0 allows only base@2.0.0"
        );
    }

    #[test]
    fn one_build_serves_every_job_when_a_dependency_version_suits_them_all() {
        // Only `old` pins base 1; mid's own job could take base 1 as well.
        let (manifests, jobs) = two_camps(false);
        assert_eq!(forced_builds(&manifests, &jobs), []);
    }
}
