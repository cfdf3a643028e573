//! The planner against upstream's algorithm on small random package sets.

use proptest::prelude::*;

use super::model::{ModelVersion, Recorder, Reporting, V1, V2, World, name};
use super::{BatchResult, Options, plan_batch, upstream_sequential};
use crate::package_set_rules::Change;
use crate::version::Version;

/// One package of a random world; the masks select among lower-numbered packages.
#[derive(Debug, Clone)]
struct PackageSpec {
    in_old: bool,
    /// 0–3 none, 4–7 update (or add when not in the old set), 8–9 remove (or add).
    change: u8,
    old_deps: u64,
    flipped_deps: u64,
    old_accepts_v2: u64,
    new_accepts_v1: u64,
    new_accepts_v2: u64,
    broken: bool,
    /// The new version also provides the module of that package.
    takes_module_of: Option<u8>,
}

fn sparse() -> impl Strategy<Value = u64> {
    (any::<u64>(), any::<u64>()).prop_map(|(a, b)| a & b)
}

fn dense() -> impl Strategy<Value = u64> {
    (any::<u64>(), any::<u64>()).prop_map(|(a, b)| a | b)
}

fn arb_package() -> impl Strategy<Value = PackageSpec> {
    (
        prop::bool::weighted(0.8),
        0u8..10,
        sparse(),
        (sparse(), any::<u64>()).prop_map(|(a, b)| a & b),
        dense(),
        dense(),
        (dense(), any::<u64>()).prop_map(|(a, b)| a | b),
        prop::bool::weighted(0.15),
        prop::option::weighted(0.08, 0u8..12),
    )
        .prop_map(
            |(
                in_old,
                change,
                old_deps,
                flipped_deps,
                old_accepts_v2,
                new_accepts_v1,
                new_accepts_v2,
                broken,
                takes_module_of,
            )| PackageSpec {
                in_old,
                change,
                old_deps,
                flipped_deps,
                old_accepts_v2,
                new_accepts_v1,
                new_accepts_v2,
                broken,
                takes_module_of,
            },
        )
}

fn bit(mask: u64, i: usize) -> bool {
    mask >> i & 1 == 1
}

fn pkg(i: usize) -> String {
    format!("p{i}")
}

/// Builds the world; `shuffle` reorders the batch instead of dependency order.
fn build_world(specs: &[PackageSpec], shuffle: Option<&[u32]>) -> World {
    let n = specs.len();
    let old_deps = |a: usize| (0..a).filter(move |&b| bit(specs[a].old_deps, b));
    let new_deps = |a: usize| (0..a).filter(move |&b| bit(specs[a].old_deps ^ specs[a].flipped_deps, b));
    // The old set must contain the dependencies of its members.
    let mut in_old: Vec<bool> = specs.iter().map(|s| s.in_old).collect();
    for a in (0..n).rev() {
        if in_old[a] {
            for b in old_deps(a) {
                in_old[b] = true;
            }
        }
    }
    let mut world = World::default();
    let modules = |a: usize, new: bool| {
        let mut out: std::collections::BTreeSet<String> = [format!("M{a}")].into();
        if let Some(other) = specs[a].takes_module_of.map(usize::from).filter(|&o| new && o < n && o != a) {
            out.insert(format!("M{other}"));
        }
        out
    };
    let accepts = |on_v1: bool, on_v2: bool| {
        [(on_v1, V1), (on_v2, V2)].into_iter().filter(|(ok, _)| *ok).map(|(_, v)| v).collect()
    };
    let mut updates = Vec::new();
    let mut removals = Vec::new();
    for a in 0..n {
        let spec = &specs[a];
        let new_version = |world: &mut World, version: Version| {
            let deps = new_deps(a)
                .map(|b| (name(&pkg(b)), accepts(bit(spec.new_accepts_v1, b), bit(spec.new_accepts_v2, b))))
                .collect();
            world.add(
                &pkg(a),
                version,
                ModelVersion { deps, broken: spec.broken, modules: modules(a, true) },
            );
        };
        if in_old[a] {
            let deps =
                old_deps(a).map(|b| (name(&pkg(b)), accepts(true, bit(spec.old_accepts_v2, b)))).collect();
            world.add(&pkg(a), V1, ModelVersion { deps, broken: false, modules: modules(a, false) });
            world.old.insert(name(&pkg(a)), V1);
            match spec.change {
                4..=7 => {
                    new_version(&mut world, V2);
                    updates.push((a, Change::Update(V2)));
                }
                8..=9 => removals.push((a, Change::Remove)),
                _ => {}
            }
        } else if spec.change >= 4 {
            new_version(&mut world, V1);
            updates.push((a, Change::Update(V1)));
        }
    }
    // Updates in dependency order, then removals in reverse (as `order_changes`).
    removals.reverse();
    let mut changes: Vec<(usize, Change)> = updates.into_iter().chain(removals).collect();
    if let Some(keys) = shuffle {
        changes.sort_by_key(|(a, _)| keys.get(*a).copied().unwrap_or(0));
    }
    world.changes = changes.into_iter().map(|(a, c)| (name(&pkg(a)), c)).collect();
    world
}

/// `count` independent islands on an unchanged `prelude`: each has a leaf, maybe a
/// dependant of it, and exactly one change.
fn build_islands(kinds: &[(u8, bool)]) -> World {
    let mut world = World::default();
    world.add("prelude", V1, ModelVersion::default());
    world.old.insert(name("prelude"), V1);
    let on = |deps: &[(&str, &[Version])]| ModelVersion {
        deps: deps.iter().map(|(d, vs)| (name(d), vs.iter().copied().collect())).collect(),
        ..ModelVersion::default()
    };
    for (i, &(kind, has_dependant)) in kinds.iter().enumerate() {
        let leaf = format!("l{i}");
        let dependant = format!("d{i}");
        world.add(&leaf, V1, on(&[("prelude", &[V1])]));
        world.old.insert(name(&leaf), V1);
        let dependant_accepts: &[Version] = if kind == 1 { &[V1] } else { &[V1, V2] };
        if has_dependant || kind == 6 {
            world.add(&dependant, V1, on(&[(&leaf, dependant_accepts)]));
            world.old.insert(name(&dependant), V1);
        }
        let change = match kind {
            // 0 fine update, 1 update breaking the dependant, 2 broken update
            0..=2 => {
                world.add(&leaf, V2, ModelVersion { broken: kind == 2, ..on(&[("prelude", &[V1])]) });
                (leaf, Change::Update(V2))
            }
            // 3 fine addition, 4 broken addition
            3 | 4 => {
                let added = format!("n{i}");
                world.add(&added, V1, ModelVersion { broken: kind == 4, ..on(&[(&leaf, &[V1])]) });
                (added, Change::Update(V1))
            }
            // 5 removal of a leaf (aborts when its dependant stays), 6 removal of a dependant
            5 => (leaf, Change::Remove),
            _ => (dependant, Change::Remove),
        };
        world.changes.push((name(&change.0), change.1));
    }
    world
}

struct Compared {
    planned: BatchResult,
    upstream: BatchResult,
    repeated: bool,
}

fn compare(world: &World, reporting: Reporting, with_modules: bool, options: Options) -> Compared {
    let graph = world.graph();
    let modules = world.modules();
    let batch = world.batch(&graph, with_modules.then_some(&modules));
    let mut planner_oracle = Recorder::new(world, reporting);
    let planned = plan_batch(&batch, options, &mut |s| planner_oracle.compile(s)).expect("plans");
    let mut upstream_oracle = Recorder::new(world, reporting);
    let upstream = upstream_sequential(&batch, &mut |s| upstream_oracle.compile(s)).expect("runs");
    Compared { planned, upstream, repeated: planner_oracle.repeated }
}

fn log2_ceil(k: usize) -> usize {
    if k <= 1 { 0 } else { (usize::BITS - (k - 1).leading_zeros()) as usize }
}

fn bound(k: usize, f: usize) -> usize {
    2 + 2 * f * log2_ceil(k)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn accepts_exactly_what_upstream_accepts(
        specs in prop::collection::vec(arb_package(), 2..14),
        shuffle in prop::option::weighted(0.3, prop::collection::vec(any::<u32>(), 14)),
        blind in prop::bool::weighted(0.25),
        overshoot in prop::sample::select(vec![0usize, 2, usize::MAX]),
    ) {
        let world = build_world(&specs, shuffle.as_deref());
        let reporting = if blind { Reporting::Blind } else { Reporting::Attributed };
        let c = compare(&world, reporting, true, Options { overshoot });
        prop_assert!(!c.repeated, "a state was compiled twice: {:#?}", c.planned.rounds);
        prop_assert_eq!(&c.planned.accepted, &c.upstream.accepted, "{:#?}", c.planned.rounds);
        prop_assert_eq!(c.planned.accepted.len() + c.planned.rejected.len(), world.changes.len());
        prop_assert!(
            c.planned.compiles <= c.upstream.compiles.saturating_add(overshoot),
            "{} compiles, upstream {}: {:#?}", c.planned.compiles, c.upstream.compiles, c.planned.rounds
        );
    }

    #[test]
    fn independent_changes_stay_within_the_bound(
        kinds in prop::collection::vec((0u8..7, any::<bool>()), 1..16),
    ) {
        let world = build_islands(&kinds);
        let c = compare(&world, Reporting::Attributed, false, Options::default());
        prop_assert!(!c.repeated);
        prop_assert_eq!(&c.planned.accepted, &c.upstream.accepted);
        let (k, f) = (world.changes.len(), c.upstream.rejected.len());
        prop_assert!(c.planned.compiles <= c.upstream.compiles);
        prop_assert!(c.planned.compiles <= bound(k, f), "k={} f={}: {:#?}", k, f, c.planned.rounds);
    }

    #[test]
    fn blind_bisection_of_independent_changes_stays_within_the_bound(
        kinds in prop::collection::vec((0u8..7, any::<bool>()), 1..16),
    ) {
        let world = build_islands(&kinds);
        let c = compare(&world, Reporting::Blind, false, Options { overshoot: usize::MAX });
        prop_assert!(!c.repeated);
        prop_assert_eq!(&c.planned.accepted, &c.upstream.accepted);
        let (k, f) = (world.changes.len(), c.upstream.rejected.len());
        prop_assert!(c.planned.compiles <= bound(k, f), "k={} f={}: {:#?}", k, f, c.planned.rounds);
    }
}

/// A deterministic generator for the measurements.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Average compile counts; run with
/// `cargo test -p registry-core --lib package_set_batch::properties::measure -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure() {
    const SAMPLES: usize = 200;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    println!("independent changes (islands), {SAMPLES} samples each: average compiles");
    println!("  k   f  upstream  planner  blind(overshoot 0)  blind(bisect)  bound");
    for k in [10usize, 15, 20, 25, 30] {
        for f in 0..=3usize {
            let mut sums = [0usize; 4];
            for _ in 0..SAMPLES {
                let mut kinds: Vec<(u8, bool)> =
                    (0..k).map(|_| ([0u8, 0, 0, 3, 6][rng.below(5) as usize], rng.below(2) == 0)).collect();
                let mut broken = 0;
                while broken < f {
                    let at = rng.below(k as u64) as usize;
                    if [0, 3, 6].contains(&kinds[at].0) {
                        kinds[at].0 = [1u8, 2, 4, 5][rng.below(4) as usize];
                        // A breaking leaf update needs a dependant to break.
                        kinds[at].1 = true;
                        broken += 1;
                    }
                }
                let world = build_islands(&kinds);
                let attributed = compare(&world, Reporting::Attributed, false, Options::default());
                assert_eq!(attributed.upstream.rejected.len(), f);
                let blind = compare(&world, Reporting::Blind, false, Options::default());
                let bisect = compare(&world, Reporting::Blind, false, Options { overshoot: usize::MAX });
                for (sum, c) in sums.iter_mut().zip([
                    attributed.upstream.compiles,
                    attributed.planned.compiles,
                    blind.planned.compiles,
                    bisect.planned.compiles,
                ]) {
                    *sum += c;
                }
            }
            let avg = |s: usize| s as f64 / SAMPLES as f64;
            println!(
                "{k:3} {f:3}  {:8.2} {:8.2} {:19.2} {:14.2} {:6}",
                avg(sums[0]),
                avg(sums[1]),
                avg(sums[2]),
                avg(sums[3]),
                bound(k, f)
            );
        }
    }

    println!("random dependency graphs (40 packages, each depending on ~1/8 of the earlier ones)");
    println!("attributed reports; rows by batch size k and upstream rejections f: average compiles");
    println!("    k    f  samples  upstream  planner");
    let mut rows: std::collections::BTreeMap<(usize, usize), [usize; 3]> = Default::default();
    for sample in 0..3000 {
        let n = 40;
        let change_odds = [6u64, 10, 16][sample % 3];
        let specs: Vec<PackageSpec> = (0..n)
            .map(|_| {
                let r = |rng: &mut XorShift| rng.next();
                let changed = rng.below(40) < change_odds;
                PackageSpec {
                    in_old: rng.below(10) < 9,
                    change: if !changed {
                        0
                    } else if rng.below(8) == 0 {
                        8
                    } else {
                        4
                    },
                    old_deps: r(&mut rng) & r(&mut rng) & r(&mut rng),
                    flipped_deps: r(&mut rng) & r(&mut rng) & r(&mut rng) & r(&mut rng) & r(&mut rng),
                    old_accepts_v2: !(r(&mut rng) & r(&mut rng) & r(&mut rng) & r(&mut rng) & r(&mut rng)),
                    new_accepts_v1: !(r(&mut rng) & r(&mut rng) & r(&mut rng) & r(&mut rng)),
                    new_accepts_v2: !(r(&mut rng) & r(&mut rng) & r(&mut rng) & r(&mut rng) & r(&mut rng)),
                    broken: rng.below(30) == 0,
                    takes_module_of: None,
                }
            })
            .collect();
        let world = build_world(&specs, None);
        let k = world.changes.len();
        if !(8..=32).contains(&k) {
            continue;
        }
        let c = compare(&world, Reporting::Attributed, false, Options::default());
        assert_eq!(c.planned.accepted, c.upstream.accepted);
        let row = rows.entry((k / 8 * 8, c.upstream.rejected.len().min(4))).or_default();
        row[0] += 1;
        row[1] += c.upstream.compiles;
        row[2] += c.planned.compiles;
    }
    for ((k, f), [samples, upstream, planner]) in rows {
        let avg = |s: usize| s as f64 / samples as f64;
        let f = if f == 4 { "4+".to_string() } else { f.to_string() };
        println!(
            "{:>5} {f:>4}  {samples:7}  {:8.2}  {:7.2}",
            format!("{k}-{}", k + 7),
            avg(upstream),
            avg(planner)
        );
    }
}
