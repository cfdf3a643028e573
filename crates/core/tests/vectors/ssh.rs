//! SSH keys, raw signatures and `Auth.verifyPayload` (upstream `lib/test/Registry/SSH.purs`
//! and `app/test/App/Auth.purs`).

use registry_core::Owner;
use registry_core::auth::{self, PrivateKey, PublicKey};
use registry_core::json::Codec;
use serde_json::Value;

use crate::support::*;

#[test]
fn ssh() {
    let Some(doc) = load("ssh.json") else { return };
    let keys = &doc["keys"];
    let key_text = |name: &Value| -> Result<&str, String> {
        let name = name.as_str().ok_or_else(|| format!("key reference is not a string: {name}"))?;
        keys[name].as_str().ok_or_else(|| format!("no key text named {name:?}"))
    };
    // An owner is given inline or by the name of an owner object in `keys`.
    let owner = |value: &Value| -> Result<Owner, String> {
        let value = match value.as_str() {
            Some(name) => &keys[name],
            None => value,
        };
        Owner::decode(value).map_err(|e| format!("owner {value}: {e}"))
    };

    fn text(value: &Value) -> Result<&str, String> {
        value.as_str().ok_or_else(|| format!("not a string: {value}"))
    }

    run_cases("ssh.json", |function, input, expect, case| match function {
        "SSH.parsePrivateKey" => {
            let passphrase = input["passphrase"].as_str();
            let parsed = PrivateKey::parse(key_text(&input["key_ref"])?, passphrase);
            // Where the vectors hold the matching public key, the derived one must equal it.
            if let (Ok(key), Some(public)) =
                (&parsed, keys[format!("{}_pub", text(&input["key_ref"])?)].as_str())
            {
                same(key.public_key().to_string().as_str(), public)?;
            }
            expect_parse(expect, parsed.map(|key| key.public_key().to_string()).map_err(|e| e.to_string()))
        }
        "SSH.parsePublicKey" => {
            let parsed = PublicKey::parse(key_text(&input["key_ref"])?);
            expect_parse(expect, parsed.map(|key| key.to_string()).map_err(|e| e.to_string()))
        }
        "SSH.sign" => {
            let key =
                PrivateKey::parse(key_text(&input["private_key_ref"])?, None).map_err(|e| e.to_string())?;
            let signature = key.sign(text(&input["payload"])?).map_err(|e| e.to_string())?;
            same(signature.as_str(), expect_value_str(expect)?)
        }
        "SSH.verify" => {
            let key = PublicKey::parse(key_text(&input["public_key_ref"])?).map_err(|e| e.to_string())?;
            let signature = hex::decode(text(&input["signature"])?).map_err(|e| e.to_string())?;
            let verified = key.verify(text(&input["payload"])?.as_bytes(), &signature).is_ok();
            let want = expect["value"].as_bool().ok_or("expect.value is not a boolean")?;
            same(case["verifies"].as_bool(), Some(want))?;
            same(verified, want)
        }
        "Auth.verifyPayload" => {
            let trustee = owner(&input["pacchettibotti"])?;
            let owners = input["owners"].as_array().ok_or("owners is not a list")?;
            let owners = owners.iter().map(&owner).collect::<Result<Vec<_>, _>>()?;
            let result =
                auth::verify(&trustee, &owners, text(&input["rawPayload"])?, text(&input["signature"])?);
            same(case["verifies"].as_bool(), Some(result.is_ok()))?;
            expect_parse(expect, result.map(|()| String::new()).map_err(|e| e.to_string()))
        }
        _ => Ok(false),
    });
}
