//! What later signature checks depend on: owner keys are checked when a manifest brings
//! them in, and refusals read as one sentence.

mod support;

use registry_workload::Variant;
use support::*;

fn owned(name: &str, version: &str, owners: Vec<registry_core::Owner>) -> registry_core::Manifest {
    let mut m = manifest(name, version, &[]);
    m.owners = Some(owners);
    m
}

/// An owner key that cannot be read would make every later signature check of the
/// package fail, the trustee's included: it is refused at publish, naming the entry.
#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_with_an_unreadable_owner_key_is_refused() {
    let reg = TestRegistry::new();
    let owner = keygen(reg.root(), "owner", "owner@example.org");
    let mut broken = owner.owner();
    broken.public.truncate(24);
    broken.id = Some("broken@example.org".into());
    let bad = owned("keyed", "1.0.0", vec![owner.owner(), broken]);
    reg.commit_source("keyed", &files(&bad, Variant::Normal), "v1.0.0");
    let refused = reg.publish(&request(&bad, true)).await;
    let error = refused.error();
    assert!(
        error.contains(
            "The public key of owner 2 (\"broken@example.org\") in the manifest's \"owners\" cannot be read"
        ),
        "{error}"
    );
    assert!(reg.stored("keyed", "1.0.0").is_none());

    let good = owned("keyed", "1.0.1", vec![owner.owner()]);
    reg.commit_source("keyed", &files(&good, Variant::Normal), "v1.0.1");
    reg.publish(&request(&good, true)).await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_unpublish_signature_reads_as_one_sentence() {
    let reg = TestRegistry::new();
    let owner = keygen(reg.root(), "owner", "owner@example.org");
    let stranger = keygen(reg.root(), "stranger", "stranger@example.org");
    let m = owned("solo", "1.0.0", vec![owner.owner()]);
    reg.commit_source("solo", &files(&m, Variant::Normal), "v1.0.0");
    reg.publish(&request(&m, true)).await.ok();
    let unpublisher = registry_jobs::unpublish::Unpublisher::new(None);
    let refused = reg.unpublish(&unpublisher, &stranger.unpublish("solo", "1.0.0")).await;
    let error = refused.error();
    assert!(error.contains("None of the owner keys are suitable to verify the payload. Sign"), "{error}");
    assert!(!error.contains(".."), "{error}");
}
