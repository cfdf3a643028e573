//! Operations clients ask the registry to perform (upstream `Registry.Operation`).
//!
//! Package operations arrive over the HTTP API: `publish` (unsigned) and the
//! authenticated `unpublish`/`transfer`, whose JSON payload travels as a *string* so
//! the signature can be checked against the exact bytes the client signed. Package-set
//! updates arrive the same way, optionally signed. Every type here encodes with
//! upstream's key order (alphabetical, as its record codecs emit them).

use std::collections::BTreeMap;

use crate::json::{self, Codec, DecodeError, Map, Obj, Value};
use crate::limited::UnpublishReason;
use crate::{Location, PackageName, Version};

/// Bounds of request fields (bytes). Each is far above real values and far below what
/// would hurt: a value over its bound is refused naming the field.
pub const MAX_REF_BYTES: usize = 255;
/// A hex signature: 4096 digits is a 16384-bit RSA signature; Ed25519's is 128.
pub const MAX_SIGNATURE_BYTES: usize = 4096;
/// The signed JSON text of an unpublish or transfer.
pub const MAX_SIGNED_PAYLOAD_BYTES: usize = 64 * 1024;
/// The JSON text of a package-set update (every package of a large set fits).
pub const MAX_PACKAGE_SET_PAYLOAD_BYTES: usize = 512 * 1024;

/// `POST /api/v1/publish`: publish `name@version` from `ref` of its repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishData {
    pub name: PackageName,
    /// Required for a package's first version; must match the registered one after.
    pub location: Option<Location>,
    pub git_ref: String,
    pub version: Version,
    pub compiler: Option<Version>,
    pub resolutions: Option<BTreeMap<PackageName, Version>>,
}

/// An unpublish request: remove a version published less than 48 hours ago.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpublishData {
    pub name: PackageName,
    pub version: Version,
    pub reason: UnpublishReason,
}

/// A transfer request: move a package to a new location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferData {
    pub name: PackageName,
    pub new_location: Location,
}

/// The operations that must be signed by an owner (or pacchettibotti).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticatedOperation {
    Unpublish(UnpublishData),
    Transfer(TransferData),
}

impl AuthenticatedOperation {
    pub fn package_name(&self) -> &PackageName {
        match self {
            AuthenticatedOperation::Unpublish(u) => &u.name,
            AuthenticatedOperation::Transfer(t) => &t.name,
        }
    }
}

/// A signed operation: `{"payload": "<JSON text>", "signature": "<hex>"}`.
///
/// `raw_payload` is kept byte for byte: the signature covers exactly these bytes, and
/// re-encoding the parsed operation could change whitespace or key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedData {
    pub operation: AuthenticatedOperation,
    pub raw_payload: String,
    pub signature: String,
}

/// Either kind of package operation (upstream `PackageOperation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageOperation {
    Publish(PublishData),
    Authenticated(AuthenticatedData),
}

impl PackageOperation {
    pub fn package_name(&self) -> &PackageName {
        match self {
            PackageOperation::Publish(p) => &p.name,
            PackageOperation::Authenticated(a) => a.operation.package_name(),
        }
    }
}

/// A batch change to the latest package set: `None` removes a package; a package
/// not listed is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSetUpdateData {
    pub compiler: Option<Version>,
    pub packages: BTreeMap<PackageName, Option<Version>>,
}

impl PackageSetUpdateData {
    /// Compiler changes and removals are reserved to trustees (pacchettibotti's key).
    /// Any `compiler` key counts, even one naming the current compiler.
    pub fn is_restricted(&self) -> bool {
        self.compiler.is_some() || self.packages.values().any(Option::is_none)
    }

    /// The compact canonical text used to recognise duplicate requests: `compiler`
    /// (if any) then `packages`, names in string order, removals as `null`.
    pub fn canonical(&self) -> String {
        self.to_compact()
    }
}

/// `POST /api/v1/package-sets`: `{"payload": "<JSON text>", "signature"?: "<hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSetUpdateRequest {
    pub update: PackageSetUpdateData,
    pub raw_payload: String,
    pub signature: Option<String>,
}

fn put(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.insert(key.to_owned(), value);
}

fn encode_package_map<T>(map: &BTreeMap<PackageName, T>, f: impl Fn(&T) -> Value) -> Value {
    Value::Object(map.iter().map(|(name, v)| (name.to_string(), f(v))).collect())
}

fn decode_package_map<T>(
    value: &Value,
    f: impl Fn(&Value) -> Result<T, DecodeError>,
) -> Result<BTreeMap<PackageName, T>, DecodeError> {
    let obj = Obj::new(value)?;
    let mut out = BTreeMap::new();
    for (key, v) in obj.map() {
        let name = PackageName::parse(key)
            .map_err(|e| DecodeError::new(format!("Invalid package name '{key}': {e}")).at(key))?;
        out.insert(name, f(v).map_err(|e| e.at(key))?);
    }
    Ok(out)
}

impl Codec for PublishData {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        if let Some(compiler) = &self.compiler {
            put(&mut map, "compiler", compiler.encode());
        }
        if let Some(location) = &self.location {
            put(&mut map, "location", location.encode());
        }
        put(&mut map, "name", self.name.encode());
        put(&mut map, "ref", Value::String(self.git_ref.clone()));
        if let Some(resolutions) = &self.resolutions {
            put(&mut map, "resolutions", encode_package_map(resolutions, Version::encode));
        }
        put(&mut map, "version", self.version.encode());
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(PublishData {
            name: obj.req("name", PackageName::decode)?,
            location: obj.opt("location", Location::decode)?,
            git_ref: obj.req_str_max("ref", MAX_REF_BYTES)?.to_owned(),
            version: obj.req("version", Version::decode)?,
            compiler: obj.opt("compiler", Version::decode)?,
            resolutions: obj.opt("resolutions", |v| decode_package_map(v, Version::decode))?,
        })
    }
}

impl Codec for UnpublishData {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        put(&mut map, "name", self.name.encode());
        put(&mut map, "reason", Value::String(self.reason.to_string()));
        put(&mut map, "version", self.version.encode());
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(UnpublishData {
            name: obj.req("name", PackageName::decode)?,
            version: obj.req("version", Version::decode)?,
            reason: obj.req("reason", |v| json::parsed(v, UnpublishReason::parse))?,
        })
    }
}

impl Codec for TransferData {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        put(&mut map, "name", self.name.encode());
        put(&mut map, "newLocation", self.new_location.encode());
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(TransferData {
            name: obj.req("name", PackageName::decode)?,
            new_location: obj.req("newLocation", Location::decode)?,
        })
    }
}

impl Codec for AuthenticatedOperation {
    fn encode(&self) -> Value {
        match self {
            AuthenticatedOperation::Unpublish(u) => u.encode(),
            AuthenticatedOperation::Transfer(t) => t.encode(),
        }
    }

    /// Tries unpublish first, then transfer, as upstream does. When neither fits, the
    /// error reported is the one for the operation the payload's keys point at.
    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let unpublish = match UnpublishData::decode(value) {
            Ok(u) => return Ok(AuthenticatedOperation::Unpublish(u)),
            Err(e) => e,
        };
        let transfer = match TransferData::decode(value) {
            Ok(t) => return Ok(AuthenticatedOperation::Transfer(t)),
            Err(e) => e,
        };
        let looks_like_transfer = value.get("newLocation").is_some() && value.get("reason").is_none();
        let (kind, err) = if looks_like_transfer { ("transfer", transfer) } else { ("unpublish", unpublish) };
        Err(err.map_message(|m| {
            format!(
                "Expected an unpublish payload {{name, version, reason}} or a transfer payload \
                 {{name, newLocation}}; as {kind}: {m}"
            )
        }))
    }
}

/// Decodes a `{"payload": "<JSON text>", ...}` envelope's payload string.
fn parse_embedded_payload(raw: &str) -> Result<Value, DecodeError> {
    json::parse(raw).map_err(|e| {
        DecodeError::new(format!("The payload string is not valid JSON: {}", e.message())).at("payload")
    })
}

impl Codec for AuthenticatedData {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        put(&mut map, "payload", Value::String(self.raw_payload.clone()));
        put(&mut map, "signature", Value::String(self.signature.clone()));
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        let raw_payload = obj.req_str_max("payload", MAX_SIGNED_PAYLOAD_BYTES)?.to_owned();
        let signature = obj.req_str_max("signature", MAX_SIGNATURE_BYTES)?.to_owned();
        let payload = parse_embedded_payload(&raw_payload)?;
        let operation = AuthenticatedOperation::decode(&payload).map_err(|e| e.at("payload"))?;
        Ok(AuthenticatedData { operation, raw_payload, signature })
    }
}

impl Codec for PackageOperation {
    fn encode(&self) -> Value {
        match self {
            PackageOperation::Publish(p) => p.encode(),
            PackageOperation::Authenticated(a) => a.encode(),
        }
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        match PublishData::decode(value) {
            Ok(p) => Ok(PackageOperation::Publish(p)),
            Err(publish_err) => match AuthenticatedData::decode(value) {
                Ok(a) => Ok(PackageOperation::Authenticated(a)),
                Err(auth_err) if value.get("payload").is_some() => Err(auth_err),
                Err(_) => Err(publish_err),
            },
        }
    }
}

impl Codec for PackageSetUpdateData {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        if let Some(compiler) = &self.compiler {
            put(&mut map, "compiler", compiler.encode());
        }
        let packages =
            encode_package_map(&self.packages, |v| v.as_ref().map_or(Value::Null, Version::encode));
        put(&mut map, "packages", packages);
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        let packages = obj.req("packages", |v| {
            decode_package_map(v, |entry| match entry {
                Value::Null => Ok(None),
                other => Version::decode(other).map(Some),
            })
        })?;
        Ok(PackageSetUpdateData { compiler: obj.opt("compiler", Version::decode)?, packages })
    }
}

impl Codec for PackageSetUpdateRequest {
    fn encode(&self) -> Value {
        let mut map = Map::new();
        put(&mut map, "payload", Value::String(self.raw_payload.clone()));
        if let Some(signature) = &self.signature {
            put(&mut map, "signature", Value::String(signature.clone()));
        }
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        let raw_payload = obj.req_str_max("payload", MAX_PACKAGE_SET_PAYLOAD_BYTES)?.to_owned();
        let signature = obj.opt_str_max("signature", MAX_SIGNATURE_BYTES)?.map(str::to_owned);
        let payload = parse_embedded_payload(&raw_payload)?;
        let update = PackageSetUpdateData::decode(&payload).map_err(|e| e.at("payload"))?;
        Ok(PackageSetUpdateRequest { update, raw_payload, signature })
    }
}

/// An operation found in a GitHub issue or comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOperation {
    PackageSet(PackageSetUpdateData),
    Package(PackageOperation),
}

/// What reading a GitHub issue event gave (upstream `OperationDecoding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueDecoding {
    /// The text holds no JSON object: the issue is ordinary discussion.
    NotJson,
    /// JSON was found but is not a valid operation; `error` is meant for the author.
    Malformed {
        issue: u64,
        username: String,
        error: String,
    },
    Decoded {
        issue: u64,
        username: String,
        operation: IssueOperation,
    },
}

/// Text from the first `{` to the last `}` (users wrap JSON in prose and code fences).
/// Without both braces the whole text is returned, so that it fails to parse.
pub fn first_object(text: &str) -> &str {
    match (text.find('{'), text.rfind('}')) {
        (Some(start), Some(end)) if start <= end => &text[start..=end],
        _ => text,
    }
}

/// Reads a GitHub `issues` or `issue_comment` event: the comment body if there is a
/// comment, else the issue body; the operation is chosen by the keys present.
///
/// Upstream also runs a JSON-repair pass (trailing commas and the like) before parsing;
/// that is not reproduced, so such input counts as not JSON here.
pub fn read_issue_event(event: &Value) -> Result<IssueDecoding, DecodeError> {
    let obj = Obj::new(event)?;
    let issue = obj.req("issue", |v| Obj::new(v)?.req("number", json::as_u64))?;
    let username = obj.req("sender", |v| Obj::new(v)?.req_str("login").map(str::to_owned))?;
    let body = match obj.opt("comment", |v| Obj::new(v)?.req_str("body"))? {
        Some(body) => body,
        None => obj.req("issue", |v| Obj::new(v)?.opt_str("body"))?.unwrap_or(""),
    };
    let Ok(value) = json::parse(first_object(body)) else {
        return Ok(IssueDecoding::NotJson);
    };
    Ok(match decode_issue_operation(&value) {
        Ok(operation) => IssueDecoding::Decoded { issue, username, operation },
        Err(error) => IssueDecoding::Malformed { issue, username, error: error.to_string() },
    })
}

/// Classifies an issue's JSON by its keys, as upstream does.
pub fn decode_issue_operation(value: &Value) -> Result<IssueOperation, DecodeError> {
    let obj = Obj::new(value)?;
    let has = |keys: &[&str]| keys.iter().all(|k| obj.has(k));
    if has(&["packages"]) {
        PackageSetUpdateData::decode(value).map(IssueOperation::PackageSet)
    } else if has(&["name", "ref", "version"]) {
        PublishData::decode(value).map(|p| IssueOperation::Package(PackageOperation::Publish(p)))
    } else if has(&["payload", "signature"]) {
        AuthenticatedData::decode(value).map(|a| IssueOperation::Package(PackageOperation::Authenticated(a)))
    } else {
        let keys: Vec<&str> = obj.map().keys().map(String::as_str).collect();
        Err(DecodeError::new(format!(
            "Could not match JSON keys to a registry operation.\n\nReceived keys: {}\n\nExpected one of:\n  \
             - Package set update: {{ packages, compiler? }}\n  \
             - Publish: {{ name, ref, compiler?, version, location?, resolutions? }}\n  \
             - Authenticated (unpublish/transfer): {{ payload, signature }}",
            keys.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(text: &str) -> Result<PublishData, DecodeError> {
        PublishData::from_json_str(text)
    }

    #[test]
    fn publish_errors_name_the_field() {
        let err = publish(r#"{"name":"prelude","ref":"v1","version":"1.0"}"#).unwrap_err();
        assert_eq!(err.path(), "$.version");
        let err = publish(r#"{"name":"prelude","version":"1.0.0"}"#).unwrap_err();
        assert_eq!(err.to_string(), "Missing required field 'ref'");
        let err = publish(r#"{"name":"a","ref":"v1","version":"1.0.0","resolutions":{"Bad":"1.0.0"}}"#)
            .unwrap_err();
        assert_eq!(err.path(), "$.resolutions.Bad");
    }

    #[test]
    fn publish_encodes_keys_alphabetically_and_drops_absent_options() {
        let p = publish(
            r#"{"version":"1.0.0","resolutions":{"b":"1.0.0","a":"2.0.0"},"ref":"v1.0.0","name":"x"}"#,
        )
        .unwrap();
        assert_eq!(
            p.to_compact(),
            r#"{"name":"x","ref":"v1.0.0","resolutions":{"a":"2.0.0","b":"1.0.0"},"version":"1.0.0"}"#
        );
    }

    #[test]
    fn authenticated_keeps_raw_payload_and_picks_the_operation() {
        let raw = r#"{ "name": "a", "newLocation": {"githubOwner":"o","githubRepo":"r"} }"#;
        let body = serde_json::json!({"payload": raw, "signature": "00"});
        let data = AuthenticatedData::decode(&body).unwrap();
        assert_eq!(data.raw_payload, raw);
        assert!(matches!(data.operation, AuthenticatedOperation::Transfer(_)));
        assert_eq!(data.encode(), body);

        let bad = serde_json::json!({"payload": r#"{"name":"a","newLocation":{}}"#, "signature": "00"});
        let err = AuthenticatedData::decode(&bad).unwrap_err();
        assert!(err.message().contains("as transfer"), "{err}");
        assert_eq!(err.path(), "$.payload.newLocation");

        let not_json = serde_json::json!({"payload": "{oops", "signature": "00"});
        let err = AuthenticatedData::decode(&not_json).unwrap_err();
        assert!(err.to_string().starts_with("The payload string is not valid JSON"), "{err}");
    }

    #[test]
    fn every_string_field_is_bounded_and_named() {
        let long = |n: usize| "x".repeat(n + 1);
        let err = publish(&format!(r#"{{"name":"a","ref":"{}","version":"1.0.0"}}"#, long(MAX_REF_BYTES)))
            .unwrap_err();
        assert_eq!(
            (err.path().as_str(), err.message()),
            ("$.ref", "Exceeds limit of 255 bytes (got 256 bytes)")
        );
        let transfer = r#"{"name":"a","newLocation":{"githubOwner":"o","githubRepo":"r"}}"#;
        let err = AuthenticatedData::decode(
            &serde_json::json!({"payload": transfer, "signature": long(MAX_SIGNATURE_BYTES)}),
        )
        .unwrap_err();
        assert_eq!(err.path(), "$.signature");
        let padded = format!("{transfer}{}", " ".repeat(MAX_SIGNED_PAYLOAD_BYTES));
        let err = AuthenticatedData::decode(&serde_json::json!({"payload": padded, "signature": "00"}))
            .unwrap_err();
        assert_eq!(err.path(), "$.payload");
        assert!(err.message().contains("Exceeds limit of 65536 bytes"), "{err}");
        let set = format!(r#"{{"packages":{{}}}}{}"#, " ".repeat(MAX_PACKAGE_SET_PAYLOAD_BYTES));
        assert_eq!(
            PackageSetUpdateRequest::decode(&serde_json::json!({ "payload": set })).unwrap_err().path(),
            "$.payload"
        );
        let err = PackageSetUpdateRequest::decode(
            &serde_json::json!({"payload": r#"{"packages":{}}"#, "signature": long(MAX_SIGNATURE_BYTES)}),
        )
        .unwrap_err();
        assert_eq!(err.path(), "$.signature");
    }

    /// Signatures are deterministic, so an owner repeating an earlier operation adds a
    /// field of their own (e.g. a nonce) to get a fresh payload; it is ignored.
    #[test]
    fn extra_payload_fields_are_ignored() {
        let raw = r#"{"name":"a","newLocation":{"githubOwner":"o","githubRepo":"r"},"nonce":"2026-02-01T10:00:00Z"}"#;
        let data =
            AuthenticatedData::decode(&serde_json::json!({"payload": raw, "signature": "00"})).unwrap();
        assert!(matches!(&data.operation, AuthenticatedOperation::Transfer(t) if t.name.as_str() == "a"));
        assert_eq!(data.raw_payload, raw, "the signed text is kept whole");
        let raw = r#"{"name":"a","version":"1.0.0","reason":"oops","nonce":7}"#;
        let data =
            AuthenticatedData::decode(&serde_json::json!({"payload": raw, "signature": "00"})).unwrap();
        assert!(matches!(data.operation, AuthenticatedOperation::Unpublish(_)));
    }

    #[test]
    fn unpublish_reason_is_limited() {
        let raw = format!(r#"{{"name":"a","version":"1.0.0","reason":"{}"}}"#, "x".repeat(301));
        let err =
            AuthenticatedData::decode(&serde_json::json!({"payload": raw, "signature": ""})).unwrap_err();
        assert!(err.message().contains("Exceeds limit of 300"), "{err}");
        assert_eq!(err.path(), "$.payload.reason");
    }

    #[test]
    fn package_set_canonical_form_and_restriction() {
        let raw = r#"{"packages":{"old-pkg":null,"aff":"8.0.0"},"compiler":"0.15.15"}"#;
        let request = PackageSetUpdateRequest::decode(&serde_json::json!({ "payload": raw })).unwrap();
        assert_eq!(
            request.update.canonical(),
            r#"{"compiler":"0.15.15","packages":{"aff":"8.0.0","old-pkg":null}}"#
        );
        assert!(request.update.is_restricted());
        assert_eq!(request.signature, None);
        let plain = PackageSetUpdateData::from_json_str(r#"{"packages":{"aff":"8.0.0"}}"#).unwrap();
        assert!(!plain.is_restricted());
    }

    #[test]
    fn first_object_spans_first_to_last_brace() {
        assert_eq!(first_object("see ```{\"a\":{}}``` ok"), "{\"a\":{}}");
        assert_eq!(first_object("no json"), "no json");
    }

    #[test]
    fn issue_keys_that_match_nothing_are_reported() {
        let event =
            serde_json::json!({"issue": {"number": 3, "body": "{\"hello\": 1}"}, "sender": {"login": "u"}});
        match read_issue_event(&event).unwrap() {
            IssueDecoding::Malformed { issue: 3, error, .. } => {
                assert!(error.contains("Received keys: hello"), "{error}")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
