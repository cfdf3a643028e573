//! Property tests: printing what was parsed gives back the input (print ∘ parse = id),
//! and decoding what was encoded gives back the value, for every core type.

use std::collections::BTreeMap;

use proptest::prelude::*;
use registry_core::json::Codec;
use registry_core::limited::{Description, UnpublishReason};
use registry_core::metadata::{PublishedMetadata, UnpublishedMetadata};
use registry_core::{
    Date, License, Location, Manifest, Metadata, Owner, PackageName, PackageSet, Range, Sha256, Timestamp,
    Version,
};

fn name() -> impl Strategy<Value = PackageName> {
    "[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,3}"
        .prop_filter("reserved prefix", |s| !s.starts_with("purescript-"))
        .prop_map(|s| PackageName::parse(&s).unwrap())
}

fn version() -> impl Strategy<Value = Version> {
    (0u32..=i32::MAX as u32, 0u32..1000, 0u32..1000).prop_map(|(a, b, c)| Version::new(a % 50, b, c))
}

fn range() -> impl Strategy<Value = Range> {
    (version(), version()).prop_filter_map("empty range", |(a, b)| Range::new(a.min(b), a.max(b)))
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    // 1900..2200 in milliseconds.
    (-2_208_988_800_000i64..7_258_118_400_000).prop_map(Timestamp::from_unix_millis)
}

fn sha256() -> impl Strategy<Value = Sha256> {
    proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| Sha256::of_bytes(&b))
}

fn text() -> impl Strategy<Value = String> {
    "[ -~éß\u{1F35D}\n\t\"\\\\]{0,30}"
}

fn location() -> impl Strategy<Value = Location> {
    let subdir = proptest::option::of("[a-z]{1,6}(/[a-z]{1,6})?");
    prop_oneof![
        // Valid GitHub names only: others are refused by decoding.
        (
            "[A-Za-z0-9](-?[A-Za-z0-9]){0,11}",
            "[A-Za-z0-9._-]{1,16}".prop_filter("not . or ..", |r| r != "." && r != ".."),
            subdir.clone()
        )
            .prop_map(|(owner, repo, subdir)| Location::GitHub { owner, repo, subdir }),
        ("(https|http|git)://[a-z0-9.]{1,10}/[a-z0-9_~/-]{1,20}(\\.git)?", subdir)
            .prop_map(|(url, subdir)| Location::Git { url, subdir }),
    ]
}

fn owner() -> impl Strategy<Value = Owner> {
    (proptest::option::of(text()), "ssh-ed25519|ssh-rsa", "[A-Za-z0-9+/]{20,40}")
        .prop_map(|(id, keytype, public)| Owner { id, keytype, public })
}

fn globs() -> impl Strategy<Value = Option<Vec<String>>> {
    proptest::option::of(proptest::collection::vec("[a-z*/.]{1,12}", 1..3))
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        (
            name(),
            version(),
            r"MIT|BSD-3-Clause|Apache-2\.0",
            proptest::option::of(text()),
            location(),
            text(),
        ),
        (
            proptest::option::of(proptest::collection::vec(owner(), 1..3)),
            globs(),
            globs(),
            proptest::collection::btree_map(name(), range(), 0..5),
        ),
    )
        .prop_map(
            |((name, version, license, description, location, git_ref), (owners, inc, exc, deps))| Manifest {
                name,
                version,
                license: License::parse(&license).unwrap(),
                description: description.map(|d| Description::parse(&d).unwrap()),
                location,
                git_ref,
                owners,
                include_files: inc,
                exclude_files: exc,
                dependencies: deps,
            },
        )
}

fn metadata() -> impl Strategy<Value = Metadata> {
    let published = (
        any::<u32>(),
        proptest::collection::btree_set(version(), 1..4),
        sha256(),
        timestamp(),
        proptest::option::of(text()),
    )
        .prop_map(|(bytes, compilers, hash, published_time, git_ref)| PublishedMetadata {
            bytes: bytes.into(),
            compilers: compilers.into_iter().collect(),
            hash,
            published_time,
            git_ref,
        });
    let unpublished = (timestamp(), text(), timestamp()).prop_map(|(p, reason, u)| UnpublishedMetadata {
        published_time: p,
        reason: UnpublishReason::parse(&reason).unwrap(),
        unpublished_time: u,
    });
    (
        location(),
        proptest::option::of(proptest::collection::vec(owner(), 1..3)),
        proptest::collection::btree_map(version(), published, 0..4),
        proptest::collection::btree_map(version(), unpublished, 0..2),
    )
        .prop_map(|(location, owners, published, unpublished)| Metadata {
            location,
            owners,
            published,
            unpublished,
        })
}

fn package_set() -> impl Strategy<Value = PackageSet> {
    (version(), version(), -100_000i64..200_000, proptest::collection::btree_map(name(), version(), 0..20))
        .prop_map(|(version, compiler, days, packages)| PackageSet {
            version,
            compiler,
            published: Date::from_days(days),
            packages,
        })
}

/// encode → print → parse → decode gives the value back, and printing again gives the same text.
fn assert_codec<T: Codec + PartialEq + std::fmt::Debug>(value: &T) {
    for printed in [value.to_compact(), value.to_pretty()] {
        let decoded = T::from_json_str(&printed).unwrap_or_else(|e| panic!("{e}: {printed}"));
        assert_eq!(&decoded, value);
        assert_eq!(decoded.to_compact(), value.to_compact());
    }
}

proptest! {
    #[test]
    fn names_print_back(name in name()) {
        prop_assert_eq!(PackageName::parse(name.as_str()).unwrap(), name.clone());
        assert_codec(&name);
    }

    #[test]
    fn versions_and_ranges_print_back(v in version(), r in range()) {
        prop_assert_eq!(Version::parse(&v.to_string()).unwrap(), v);
        prop_assert_eq!(Range::parse(&r.to_string()).unwrap(), r);
        assert_codec(&v);
        assert_codec(&r);
    }

    #[test]
    fn timestamps_and_dates_print_back(t in timestamp()) {
        let printed = t.to_string();
        prop_assert_eq!(printed.len(), 24);
        prop_assert_eq!(Timestamp::parse_iso(&printed).unwrap(), t);
        prop_assert_eq!(Date::parse(&t.date().to_string()).unwrap(), t.date());
        assert_codec(&t);
    }

    #[test]
    fn hashes_print_back(h in sha256()) {
        prop_assert_eq!(Sha256::parse(h.as_str()).unwrap(), h.clone());
        assert_codec(&h);
    }

    #[test]
    fn locations_and_owners_round_trip(l in location(), o in owner()) {
        assert_codec(&l);
        let decoded = Owner::from_json_str(&o.to_compact()).unwrap();
        prop_assert_eq!(decoded.id, o.id);
    }

    #[test]
    fn manifests_round_trip(m in manifest()) {
        assert_codec(&m);
        let line = registry_core::manifest_index::print_entry([&m]);
        prop_assert_eq!(registry_core::manifest_index::parse_entry(&line).unwrap(), vec![m]);
    }

    #[test]
    fn metadata_round_trips(m in metadata()) {
        assert_codec(&m);
    }

    #[test]
    fn package_sets_round_trip(s in package_set()) {
        assert_codec(&s);
    }

    #[test]
    fn out_of_range_version_places_are_rejected(n in (i32::MAX as u64 + 1)..u64::MAX) {
        let text = format!("{n}.0.0");
        prop_assert!(Version::parse(&text).is_err());
    }
}

#[test]
fn dependencies_keep_name_order_when_printed() {
    let mut deps = BTreeMap::new();
    for n in ["zeta", "alpha", "mid-dle"] {
        deps.insert(PackageName::parse(n).unwrap(), Range::parse(">=1.0.0 <2.0.0").unwrap());
    }
    let printed = registry_core::manifest::encode_dependencies(&deps).to_string();
    assert_eq!(printed, r#"{"alpha":">=1.0.0 <2.0.0","mid-dle":">=1.0.0 <2.0.0","zeta":">=1.0.0 <2.0.0"}"#);
}
