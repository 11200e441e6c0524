//! Device JWTs: the claim set deviceauth issues (upstream's, RS256/EdDSA, no `kid`) and the
//! checks a presented token must pass before its database state is looked up.

use mender_core::jwt::{KeySet, SigningKey};
use mender_core::{AuthSetId, DeviceId, Secret, TenantId, Timestamp, TokenId};
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

/// What a token is issued for.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The accepted auth set (the token's `jti`).
    pub auth_set_id: &'a AuthSetId,
    /// The device (`sub`).
    pub device_id: &'a DeviceId,
    /// The tenant (`mender.tenant`, left out when empty).
    pub tenant: &'a TenantId,
}

/// Signs a token for an accepted auth set, valid `lifetime` seconds from `now` (whole
/// seconds, as JWT dates are); returns it with the record to store.
pub fn issue(
    key: &SigningKey,
    issuer: &str,
    lifetime: u64,
    subject: Subject<'_>,
    now: Timestamp,
) -> Result<(Secret, TokenRecord)> {
    let iat = now.unix_secs();
    let exp = iat.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    let claims = Claims {
        jti: subject.auth_set_id.as_str(),
        sub: subject.device_id.as_str(),
        iss: issuer,
        iat,
        exp,
        tenant: subject.tenant.as_str(),
        device: true,
        plan: "enterprise",
        addons: &ADDONS,
        trial: false,
    };
    let token = key
        .encode(None, &claims)
        .map_err(|e| Error::Internal(format!("signing device token: {e}")))?;
    let record = TokenRecord {
        id: TokenId::new(subject.auth_set_id.as_str()),
        tenant_id: subject.tenant.clone(),
        device_id: subject.device_id.clone(),
        issued_at: Timestamp::from_unix_secs(iat),
        expires_at: Timestamp::from_unix_secs(exp),
    };
    Ok((Secret::new(token), record))
}

/// The claims of a token that passed the stateless checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// `jti`.
    pub jti: TokenId,
    /// `sub`.
    pub sub: DeviceId,
    /// `mender.tenant` (empty if absent).
    pub tenant: TenantId,
    /// All claims, for the caller's identity.
    pub claims: Value,
}

/// Checks signature, algorithm, `exp`, `nbf`, `mender.device: true` and non-empty
/// `jti`/`sub`/`iss`.
pub fn check(keys: &KeySet, token: &Secret, now: Timestamp) -> Result<Checked> {
    let unauthorized = || Error::Unauthorized("unauthorized".into());
    let claims = keys
        .verify(token.expose_str(), now)
        .map_err(|_| unauthorized())?;
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
        jti: jti.into(),
        sub: sub.into(),
        tenant: s("mender.tenant").into(),
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_secs(secs)
    }

    /// A fresh signing key and the key set that verifies it.
    fn signer() -> (SigningKey, KeySet) {
        let (key, _) = SigningKey::generate_rsa().unwrap();
        let keys = KeySet::single(key.verifying_key());
        (key, keys)
    }

    #[test]
    fn issued_claims_and_checks() {
        let (key, keys) = signer();
        let subject = Subject {
            auth_set_id: &"set-1".into(),
            device_id: &"dev-1".into(),
            tenant: &TenantId::default(),
        };
        // A fraction of a second is dropped: JWT dates are whole seconds.
        let now = Timestamp::from_unix_millis(1_000_900);
        let (token, rec) = issue(&key, "Mender", 100, subject, now).unwrap();
        let u = mender_core::jwt::decode_unverified(token.expose_str()).unwrap();
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
        assert_eq!(rec.expires_at, at(1_100));
        assert_eq!(rec.issued_at, at(1_000));
        assert_eq!(format!("{token:?}"), "[redacted]");
        assert_eq!(check(&keys, &token, at(1_050)).unwrap().sub, "dev-1");
        assert!(check(&keys, &token, at(1_100)).is_err(), "expired");
        let sign = |claims: Value| Secret::new(key.encode(None, &claims).unwrap());
        // A user-looking token signed by the same key is refused.
        let user = sign(json!({"jti": "j", "sub": "u", "iss": "Mender", "mender.user": true}));
        assert!(check(&keys, &user, at(0)).is_err());
        let no_sub = sign(json!({"jti": "j", "iss": "Mender", "mender.device": true}));
        assert!(check(&keys, &no_sub, at(0)).is_err());
        // Not valid before `nbf`.
        let later = sign(
            json!({"jti": "j", "sub": "d", "iss": "Mender", "mender.device": true, "nbf": 2_000}),
        );
        assert!(check(&keys, &later, at(1_999)).is_err(), "before nbf");
        assert_eq!(check(&keys, &later, at(2_000)).unwrap().jti, "j");
    }

    #[test]
    fn tenant_claim_when_set() {
        let (key, keys) = signer();
        let tenant = TenantId::from("t1");
        let subject = Subject {
            auth_set_id: &"s".into(),
            device_id: &"d".into(),
            tenant: &tenant,
        };
        let (token, rec) = issue(&key, "Mender", 10, subject, at(5)).unwrap();
        let checked = check(&keys, &token, at(6)).unwrap();
        assert_eq!(checked.tenant, "t1");
        assert_eq!(checked.claims["mender.tenant"], "t1");
        assert_eq!(rec.tenant_id, "t1");
    }
}
