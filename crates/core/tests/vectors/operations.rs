//! Operation codecs and GitHub-issue operation reading (operations.json).

use registry_core::json::{Codec, print_pretty};
use registry_core::operation::{
    AuthenticatedData, IssueDecoding, IssueOperation, PackageOperation, PackageSetUpdateData, PublishData,
    decode_issue_operation, first_object, read_issue_event,
};
use registry_core::{Location, json};
use serde_json::{Value, json};

use crate::support::*;

#[test]
fn operations() {
    run_cases("operations.json", |function, input, expect, _| match function {
        "Operation.packageSetUpdateCodec round-trip" => round_trip::<PackageSetUpdateData>(input, expect),
        "Operation.publishCodec round-trip" => round_trip::<PublishData>(input, expect),
        "Operation.authenticatedCodec round-trip" => round_trip::<AuthenticatedData>(input, expect),
        "GitHubIssue.readOperation" => {
            let decoded = read_issue_event(input).map_err(|e| e.to_string())?;
            same(describe_decoding(&decoded), expect.clone())
        }
        "GitHubIssue.firstObject then publishCodec decode" => {
            let text = first_object(input_str(input)?);
            let result = json::parse(text).and_then(|v| PublishData::decode(&v));
            if expect["ok"] == true {
                let publish = result.map_err(|e| e.to_string())?;
                return same(
                    describe_operation(&PackageOperation::Publish(publish)),
                    expect["value"].clone(),
                );
            }
            // Upstream prints nested "Could not decode <Codec>:" wrappers; our errors carry
            // the innermost message plus the JSON path, so those two parts are compared.
            let err = match result {
                Ok(p) => return Err(format!("decoded {p:?}, expected failure")),
                Err(e) => e,
            };
            let want = expect["error"].as_str().ok_or("expect.error is not a string")?;
            let (want_path, _) = want.split_once(':').ok_or("expect.error has no path prefix")?;
            let want_innermost = want.lines().last().unwrap_or("").trim();
            same((err.path().as_str(), err.message()), (want_path, want_innermost))
        }
        _ => Ok(false),
    });
}

/// Decodes the case input and checks the indented re-encoding.
fn round_trip<T: Codec>(input: &Value, expect: &Value) -> Result<bool, String> {
    let decoded = T::from_json_str(input_str(input)?).map_err(|e| e.to_string())?;
    let want = expect["printed_indented"].as_str().ok_or("expect.printed_indented missing")?;
    same(print_pretty(&decoded.encode()).trim_end(), want)
}

/// The vectors' tagged description of a decoded issue.
fn describe_decoding(decoded: &IssueDecoding) -> Value {
    match decoded {
        IssueDecoding::NotJson => json!("NotJson"),
        IssueDecoding::Malformed { issue, username, error } => {
            json!({"MalformedJson": {"issueNumber": issue, "username": username, "error": error}})
        }
        IssueDecoding::Decoded { issue, username, operation } => {
            let operation = match operation {
                IssueOperation::PackageSet(update) => json!({"Left": {"PackageSetUpdate": {
                    "compiler": update.compiler.map(|c| c.to_string()),
                    "packages": update.packages.iter()
                        .map(|(n, v)| (n.to_string(), v.map_or(Value::Null, |v| json!(v.to_string()))))
                        .collect::<serde_json::Map<_, _>>(),
                }}}),
                IssueOperation::Package(op) => json!({ "Right": describe_operation(op) }),
            };
            json!({"DecodedOperation": {"issueNumber": issue, "username": username, "operation": operation}})
        }
    }
}

fn describe_operation(op: &PackageOperation) -> Value {
    match op {
        PackageOperation::Publish(p) => json!({"Publish": {
            "name": p.name.to_string(),
            "ref": p.git_ref,
            "version": p.version.to_string(),
            "location": p.location.as_ref().map(describe_location),
            "compiler": p.compiler.map(|c| c.to_string()),
            "resolutions": p.resolutions.as_ref().map(|r| r.iter()
                .map(|(n, v)| (n.to_string(), json!(v.to_string())))
                .collect::<serde_json::Map<_, _>>()),
        }}),
        PackageOperation::Authenticated(a) => {
            json!({"Authenticated": {"payload": a.raw_payload, "signature": a.signature}})
        }
    }
}

fn describe_location(location: &Location) -> Value {
    match location {
        Location::GitHub { owner, repo, subdir } => {
            json!({"GitHub": {"owner": owner, "repo": repo, "subdir": subdir}})
        }
        Location::Git { url, subdir } => json!({"Git": {"url": url, "subdir": subdir}}),
    }
}

/// `decode_issue_operation` is what `read_issue_event` applies; a body with none of the
/// operation keys must not decode.
#[test]
fn issue_json_without_operation_keys_is_malformed() {
    assert!(decode_issue_operation(&json!({"title": "x"})).is_err());
}
