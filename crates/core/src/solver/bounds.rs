//! Version bounds that remember where they came from, and the maps of them the
//! solver works on.
//!
//! Provenance never steers the algorithm: every decision looks only at the bound
//! versions. So the engine is generic over [`Provenance`]: it runs with `()` (no
//! bookkeeping at all) to find a solution, and again with [`Pos`] only when it has
//! to explain a failure.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::rc::Rc;

use crate::range::Range;
use crate::version::Version;

/// A package, as its position in the interned index's sorted name list, so that
/// comparing ids compares names.
pub(crate) type Id = u32;

/// Where a bound came from, combined the way upstream's `SolverPosition` semigroup does.
pub(crate) trait Provenance: Clone + Debug {
    /// A range the caller asked for directly.
    fn root(package: Id) -> Self;
    /// The single version under trial while branching.
    fn trial() -> Self;
    /// A dependency range declared by `package@version`.
    fn solving(package: Id, version: Version) -> Self;
    /// Both provenances of two bounds with the same version (commutative).
    fn append(&mut self, other: &Self);
    /// Keeps this position's local part and adds `other`'s set of root packages
    /// (upstream's `dependency other self`).
    fn add_roots_of(&mut self, other: &Self);
}

impl Provenance for () {
    fn root(_: Id) -> Self {}
    fn trial() -> Self {}
    fn solving(_: Id, _: Version) -> Self {}
    fn append(&mut self, _: &Self) {}
    fn add_roots_of(&mut self, _: &Self) {}
}

/// The local part of a position. `Trial` absorbs everything, then `Root`; sets of
/// `Solving` package versions are unioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Local {
    Root,
    Trial,
    /// Sorted, without duplicates.
    Solving(Vec<(Id, Version)>),
}

/// Full provenance: the local position plus the root packages (sorted ids) whose
/// requirements led here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pos {
    pub local: Local,
    pub global: Vec<Id>,
}

impl Provenance for Pos {
    fn root(package: Id) -> Self {
        Pos { local: Local::Root, global: vec![package] }
    }

    fn trial() -> Self {
        Pos { local: Local::Trial, global: Vec::new() }
    }

    fn solving(package: Id, version: Version) -> Self {
        Pos { local: Local::Solving(vec![(package, version)]), global: Vec::new() }
    }

    fn append(&mut self, other: &Self) {
        self.local = match (&self.local, &other.local) {
            (Local::Trial, _) | (_, Local::Trial) => Local::Trial,
            (Local::Root, _) | (_, Local::Root) => Local::Root,
            (Local::Solving(a), Local::Solving(b)) => Local::Solving(sorted_union(a, b)),
        };
        self.add_roots_of(other);
    }

    fn add_roots_of(&mut self, other: &Self) {
        if !other.global.is_empty() {
            self.global = sorted_union(&self.global, &other.global);
        }
    }
}

fn sorted_union<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i].clone());
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j].clone());
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i].clone());
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// A version together with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Sourced<P> {
    pub version: Version,
    pub pos: P,
}

/// `[lower, upper)`, possibly empty (`lower >= upper` records a conflict).
#[derive(Debug, Clone)]
pub(crate) struct Bounds<P> {
    pub lower: Sourced<P>,
    pub upper: Sourced<P>,
}

impl<P: Provenance> Bounds<P> {
    pub fn from_range(range: &Range, pos: P) -> Self {
        Bounds {
            lower: Sourced { version: range.lower(), pos: pos.clone() },
            upper: Sourced { version: range.upper(), pos },
        }
    }

    /// Exactly `version`, as tried while branching.
    pub fn sole_version(version: Version) -> Self {
        Bounds {
            lower: Sourced { version, pos: P::trial() },
            upper: Sourced { version: version.bump_patch(), pos: P::trial() },
        }
    }

    pub fn lower(&self) -> Version {
        self.lower.version
    }

    pub fn upper(&self) -> Version {
        self.upper.version
    }

    /// Some version could satisfy these bounds.
    pub fn is_good(&self) -> bool {
        self.lower.version < self.upper.version
    }

    pub fn satisfies(&self, version: Version) -> bool {
        self.lower.version <= version && version < self.upper.version
    }

    /// Intersects with `other`: the higher lower bound and the lower upper bound,
    /// merging provenance where both sides name the same version.
    pub fn tighten(&mut self, other: &Self) {
        keep_extreme(&mut self.lower, &other.lower, |mine, theirs| theirs > mine);
        keep_extreme(&mut self.upper, &other.upper, |mine, theirs| theirs < mine);
    }

    /// The smallest bounds containing both (upstream's `Loose` semigroup).
    pub fn loosen(&mut self, other: &Self) {
        keep_extreme(&mut self.lower, &other.lower, |mine, theirs| theirs < mine);
        keep_extreme(&mut self.upper, &other.upper, |mine, theirs| theirs > mine);
    }

    /// Whether intersecting `other` into `self` would change a bound of `other`
    /// (upstream's `wouldUpdate self other`).
    pub fn is_tighter_somewhere_than(&self, other: &Self) -> bool {
        self.lower.version > other.lower.version || self.upper.version < other.upper.version
    }

    /// Marks these bounds as needed because of `because`: adds the root packages of
    /// both of its bounds to both of ours.
    pub fn as_dependency_of(&mut self, because: &Self) {
        for pos in [&mut self.lower.pos, &mut self.upper.pos] {
            pos.add_roots_of(&because.lower.pos);
            pos.add_roots_of(&because.upper.pos);
        }
    }
}

fn keep_extreme<P: Provenance>(
    mine: &mut Sourced<P>,
    theirs: &Sourced<P>,
    prefer_theirs: impl Fn(Version, Version) -> bool,
) {
    if theirs.version == mine.version {
        mine.pos.append(&theirs.pos);
    } else if prefer_theirs(mine.version, theirs.version) {
        *mine = theirs.clone();
    }
}

/// A package version's dependencies, sorted by package id. Shared between solver
/// states because most of them never change once the registry is pruned.
pub(crate) type Deps<P> = Rc<Vec<(Id, Bounds<P>)>>;

/// Required bounds per package.
pub(crate) type Required<P> = BTreeMap<Id, Bounds<P>>;

/// Union of two dependency maps, intersecting the bounds of shared packages
/// (upstream's `SemigroupMap` append).
pub(crate) fn union_tightened<P: Provenance>(
    a: &[(Id, Bounds<P>)],
    b: &[(Id, Bounds<P>)],
) -> Vec<(Id, Bounds<P>)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => {
                out.push(a[i].clone());
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j].clone());
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let mut merged = a[i].1.clone();
                merged.tighten(&b[j].1);
                out.push((a[i].0, merged));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// The packages present in both, with the loosest bounds of the two.
pub(crate) fn intersection_loosened<P: Provenance>(
    a: Vec<(Id, Bounds<P>)>,
    b: &[(Id, Bounds<P>)],
) -> Vec<(Id, Bounds<P>)> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let mut j = 0;
    for (id, mut bounds) in a {
        while j < b.len() && b[j].0 < id {
            j += 1;
        }
        if j < b.len() && b[j].0 == id {
            bounds.loosen(&b[j].1);
            out.push((id, bounds));
            j += 1;
        }
    }
    out
}

/// Drops the dependencies that `required` already implies and tightens the others
/// with it (upstream's `addFrom`). Returns `None` when nothing changes.
pub(crate) fn without_implied<P: Provenance>(
    required: &Required<P>,
    deps: &[(Id, Bounds<P>)],
) -> Option<Vec<(Id, Bounds<P>)>> {
    if !deps.iter().any(|(id, _)| required.contains_key(id)) {
        return None;
    }
    let kept = deps
        .iter()
        .filter_map(|(id, local)| match required.get(id) {
            None => Some((*id, local.clone())),
            Some(global) if local.is_tighter_somewhere_than(global) => {
                let mut merged = local.clone();
                merged.tighten(global);
                Some((*id, merged))
            }
            Some(_) => None,
        })
        .collect();
    Some(kept)
}

/// Inserts `bounds` for `id`, intersecting with what is already there.
pub(crate) fn tighten_into<P: Provenance>(required: &mut Required<P>, id: Id, bounds: &Bounds<P>) {
    match required.get_mut(&id) {
        Some(existing) => existing.tighten(bounds),
        None => {
            required.insert(id, bounds.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32) -> Version {
        Version::new(major, 0, 0)
    }

    fn bounds(lower: u32, upper: u32, who: Id) -> Bounds<Pos> {
        Bounds {
            lower: Sourced { version: v(lower), pos: Pos::solving(who, v(0)) },
            upper: Sourced { version: v(upper), pos: Pos::solving(who, v(0)) },
        }
    }

    #[test]
    fn tightening_merges_provenance_of_equal_bounds_only() {
        let mut a = bounds(1, 5, 1);
        a.tighten(&bounds(1, 3, 2));
        assert_eq!(a.lower(), v(1));
        assert_eq!(a.upper(), v(3));
        assert_eq!(a.lower.pos.local, Local::Solving(vec![(1, v(0)), (2, v(0))]));
        assert_eq!(a.upper.pos.local, Local::Solving(vec![(2, v(0))]));
    }

    #[test]
    fn trial_then_root_absorb_other_local_positions() {
        let mut p = Pos::solving(3, v(1));
        p.append(&Pos::root(7));
        assert_eq!(p, Pos { local: Local::Root, global: vec![7] });
        p.append(&Pos::trial());
        assert_eq!(p.local, Local::Trial);
    }

    #[test]
    fn loosening_keeps_the_widest_bounds() {
        let mut a = bounds(2, 3, 1);
        a.loosen(&bounds(1, 5, 2));
        assert_eq!((a.lower(), a.upper()), (v(1), v(5)));
    }

    #[test]
    fn implied_dependencies_are_dropped() {
        let mut required = Required::new();
        required.insert(1, bounds(1, 5, 9));
        let deps = vec![(1, bounds(0, 6, 2)), (2, bounds(0, 1, 2))];
        let kept = without_implied(&required, &deps).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0, 2);
        let tighter = vec![(1, bounds(0, 4, 2))];
        let kept = without_implied(&required, &tighter).unwrap();
        assert_eq!((kept[0].1.lower(), kept[0].1.upper()), (v(1), v(4)));
    }
}
