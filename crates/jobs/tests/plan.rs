//! Build plans given by the request are checked against the manifest's ranges,
//! with or without a compiler (upstream validates both).

mod support;

use std::collections::BTreeMap;

use registry_core::{PackageName, Version};
use registry_workload::{GitIdentity, Variant, write_git_repo};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn resolutions_without_a_compiler_must_satisfy_the_manifest() {
    let reg = TestRegistry::new();
    let alpha1 = manifest("alpha", "1.0.0", &[]);
    let alpha2 = manifest("alpha", "2.0.0", &[]);
    let beta = manifest("beta", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    write_git_repo(
        &reg.source_repo("alpha"),
        &[(&alpha1, Variant::Normal), (&alpha2, Variant::Normal)],
        &GitIdentity::default(),
    )
    .unwrap();
    write_git_repo(&reg.source_repo("beta"), &[(&beta, Variant::Normal)], &GitIdentity::default()).unwrap();
    reg.publish(&request(&alpha1, true)).await.ok();
    reg.publish(&request(&alpha2, false)).await.ok();

    let alpha = PackageName::parse("alpha").unwrap();
    let with = |resolutions: BTreeMap<PackageName, Version>| {
        let mut req = request(&beta, true);
        req.compiler = None;
        req.resolutions = Some(resolutions);
        req
    };

    let outside =
        reg.publish(&with(BTreeMap::from([(alpha.clone(), Version::parse("2.0.0").unwrap())]))).await;
    assert!(
        outside.error().contains("The resolutions given for beta@1.0.0 do not satisfy its manifest: alpha@2.0.0 is outside >=1.0.0 <2.0.0"),
        "{}",
        outside.error()
    );
    let missing = reg.publish(&with(BTreeMap::new())).await;
    assert!(
        missing.error().contains("do not satisfy its manifest: alpha (>=1.0.0 <2.0.0) is missing"),
        "{}",
        missing.error()
    );
    assert!(reg.stored("beta", "1.0.0").is_none() && !reg.metadata_has("beta", "1.0.0"));

    // Resolutions inside the ranges, still without a compiler, publish.
    reg.publish(&with(BTreeMap::from([(alpha, Version::parse("1.0.0").unwrap())]))).await.ok();
    assert!(reg.index_has("beta", "1.0.0"));
}
