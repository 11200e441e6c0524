//! The auth request body and signature exactly as mender-client builds them: a Go
//! `json.Encoder` line `{"id_data":"<identity JSON as a string>","tenant_token":"..","pubkey":"<PEM>"}`
//! with a trailing newline, signed over those exact bytes.

use mender_core::gojson;
use serde_json::Value;

use crate::DeviceKey;

/// The auth request path on the device API.
pub const AUTH_REQUESTS_PATH: &str = "/api/devices/v1/authentication/auth_requests";

/// Builds a signed auth request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    id_data: String,
    tenant_token: String,
    pubkey: Option<String>,
}

/// The bytes to send and the `X-MEN-Signature` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The exact body.
    pub body: Vec<u8>,
    /// Base64 signature of `body`.
    pub signature: String,
}

impl AuthRequest {
    /// A request for this identity (a JSON object, encoded with sorted keys like Go does).
    pub fn new(identity: &Value) -> Self {
        Self::with_raw_id_data(gojson::to_string(identity))
    }

    /// A request whose `id_data` string is exactly `id_data` (for malformed-input tests).
    pub fn with_raw_id_data(id_data: impl Into<String>) -> Self {
        Self {
            id_data: id_data.into(),
            tenant_token: String::new(),
            pubkey: None,
        }
    }

    /// Sets the tenant token (ignored by the open-source server).
    pub fn tenant_token(mut self, token: impl Into<String>) -> Self {
        self.tenant_token = token.into();
        self
    }

    /// Sends this PEM instead of the signing key's own public key (for mismatch tests).
    pub fn pubkey(mut self, pem: impl Into<String>) -> Self {
        self.pubkey = Some(pem.into());
        self
    }

    /// The body bytes for `key`, without signing.
    pub fn body(&self, key: &DeviceKey) -> Vec<u8> {
        let pubkey = self.pubkey.clone().unwrap_or_else(|| key.public_pem());
        let mut out = String::from("{\"id_data\":");
        gojson::write_string(&mut out, &self.id_data);
        out.push_str(",\"tenant_token\":");
        gojson::write_string(&mut out, &self.tenant_token);
        out.push_str(",\"pubkey\":");
        gojson::write_string(&mut out, &pubkey);
        out.push_str("}\n");
        out.into_bytes()
    }

    /// The body signed with `key`.
    pub fn sign(&self, key: &DeviceKey) -> SignedRequest {
        let body = self.body(key);
        let signature = key.sign(&body);
        SignedRequest { body, signature }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_matches_mender_client_layout() {
        let key = DeviceKey::ed25519();
        let req = AuthRequest::new(&json!({"sn": "1", "mac": "02:00<"})).sign(&key);
        let text = String::from_utf8(req.body.clone()).unwrap();
        assert!(text.starts_with(r#"{"id_data":"{\"mac\":\"02:00\\u003c\",\"sn\":\"1\"}","tenant_token":"","pubkey":"-----BEGIN PUBLIC KEY-----\n"#));
        assert!(text.ends_with("-----END PUBLIC KEY-----\\n\"}\n"));
        let parsed: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(parsed["pubkey"], key.public_pem());
        // Ed25519 is deterministic: the header is the signature of exactly these bytes.
        assert_eq!(req.signature, key.sign(&req.body));
    }
}
