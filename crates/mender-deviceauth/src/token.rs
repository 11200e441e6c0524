//! Device JWTs: the claim set deviceauth issues (upstream's, RS256/EdDSA, no `kid`) and the
//! checks a presented token must pass before its database state is looked up.

use mender_core::jwt::{KeySet, SigningKey};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::TokenRecord;

/// Upstream's addon list: every addon enabled.
#[derive(Debug, Serialize)]
struct Addon {
    name: &'static str,
    enabled: bool,
}

const ADDONS: [Addon; 3] = [
    Addon {
        name: "configure",
        enabled: true,
    },
    Addon {
        name: "troubleshoot",
        enabled: true,
    },
    Addon {
        name: "monitor",
        enabled: true,
    },
];

/// The claims of a device token.
#[derive(Debug, Serialize)]
struct Claims<'a> {
    jti: &'a str,
    sub: &'a str,
    iss: &'a str,
    iat: i64,
    exp: i64,
    #[serde(rename = "mender.tenant", skip_serializing_if = "str::is_empty")]
    tenant: &'a str,
    #[serde(rename = "mender.device")]
    device: bool,
    #[serde(rename = "mender.plan")]
    plan: &'static str,
    #[serde(rename = "mender.addons")]
    addons: &'static [Addon],
    #[serde(rename = "mender.trial")]
    trial: bool,
}

/// Signs a token for an accepted auth set; returns it with the record to store.
pub fn issue(
    key: &SigningKey,
    issuer: &str,
    lifetime: u64,
    auth_set_id: &str,
    device_id: &str,
    tenant: &str,
    now: i64,
) -> Result<(String, TokenRecord)> {
    let exp = now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    let claims = Claims {
        jti: auth_set_id,
        sub: device_id,
        iss: issuer,
        iat: now,
        exp,
        tenant,
        device: true,
        plan: "enterprise",
        addons: &ADDONS,
        trial: false,
    };
    let token = key
        .encode(None, &claims)
        .map_err(|e| Error::Internal(format!("signing device token: {e}")))?;
    let record = TokenRecord {
        id: auth_set_id.to_owned(),
        tenant_id: tenant.to_owned(),
        device_id: device_id.to_owned(),
        issued_at: now,
        expires_at: exp,
    };
    Ok((token, record))
}

/// The claims of a token that passed the stateless checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// `jti`.
    pub jti: String,
    /// `sub`.
    pub sub: String,
    /// `mender.tenant` (empty if absent).
    pub tenant: String,
    /// All claims, for the caller's identity.
    pub claims: Value,
}

/// Checks signature, algorithm, `exp`, `mender.device: true` and non-empty `jti`/`sub`/`iss`.
pub fn check(keys: &KeySet, token: &str, now: i64) -> Result<Checked> {
    let unauthorized = || Error::Unauthorized("unauthorized".into());
    let claims = keys.verify(token, now).map_err(|_| unauthorized())?;
    let s = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if claims.get("mender.device").and_then(Value::as_bool) != Some(true) {
        return Err(unauthorized());
    }
    let (jti, sub) = (s("jti"), s("sub"));
    if jti.is_empty() || sub.is_empty() || s("iss").is_empty() {
        return Err(unauthorized());
    }
    Ok(Checked {
        jti,
        sub,
        tenant: s("mender.tenant"),
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issued_claims_and_checks() {
        let (key, _) = SigningKey::generate_rsa().unwrap();
        let keys = KeySet::single(key.verifying_key());
        let (token, rec) = issue(&key, "Mender", 100, "set-1", "dev-1", "", 1_000).unwrap();
        let u = mender_core::jwt::decode_unverified(&token).unwrap();
        assert_eq!(u.header.get("kid"), None);
        assert_eq!(u.header["alg"], "RS256");
        let c = &u.claims;
        assert_eq!(
            (c["jti"].as_str(), c["sub"].as_str(), c["iss"].as_str()),
            (Some("set-1"), Some("dev-1"), Some("Mender"))
        );
        assert_eq!(
            (c["iat"].as_i64(), c["exp"].as_i64()),
            (Some(1_000), Some(1_100))
        );
        assert_eq!(c["mender.device"], true);
        assert_eq!(c["mender.plan"], "enterprise");
        assert_eq!(c["mender.trial"], false);
        assert_eq!(
            c["mender.addons"][1],
            json!({"name": "troubleshoot", "enabled": true})
        );
        assert!(c.get("mender.tenant").is_none());
        assert_eq!(rec.expires_at, 1_100);
        assert_eq!(check(&keys, &token, 1_050).unwrap().sub, "dev-1");
        assert!(check(&keys, &token, 1_100).is_err(), "expired");
        // A user-looking token signed by the same key is refused.
        let user = key
            .encode(
                None,
                &json!({"jti": "j", "sub": "u", "iss": "Mender", "mender.user": true}),
            )
            .unwrap();
        assert!(check(&keys, &user, 0).is_err());
        let no_sub = key
            .encode(
                None,
                &json!({"jti": "j", "iss": "Mender", "mender.device": true}),
            )
            .unwrap();
        assert!(check(&keys, &no_sub, 0).is_err());
    }
}
