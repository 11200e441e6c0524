//! Domain types of deviceauth: admission statuses, devices, authentication sets, tokens,
//! and their JSON shapes as upstream renders them.

use mender_core::{AuthSetId, DeviceId, TenantId, Timestamp, TokenId};

use crate::crypto::KeyInfo;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// Name of the only limit deviceauth knows.
pub const LIMIT_MAX_DEVICES: &str = "max_devices";

/// Admission status of a device or an authentication set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A device with no authentication set (yet).
    Noauth,
    /// Waiting for a user's decision.
    Pending,
    /// Admitted: may obtain tokens.
    Accepted,
    /// Refused by a user.
    Rejected,
    /// Admitted in advance: accepted on the first matching request.
    Preauthorized,
}

impl Status {
    /// Every status, in upstream's order.
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Rejected,
        Status::Accepted,
        Status::Preauthorized,
        Status::Noauth,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Noauth => "noauth",
            Status::Pending => "pending",
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::Preauthorized => "preauthorized",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The device status implied by the statuses of its authentication sets
    /// (upstream's precedence: accepted, preauthorized, pending, rejected, else noauth).
    pub fn of_device(sets: impl IntoIterator<Item = Status>) -> Status {
        let sets: Vec<Status> = sets.into_iter().collect();
        [
            Status::Accepted,
            Status::Preauthorized,
            Status::Pending,
            Status::Rejected,
        ]
        .into_iter()
        .find(|s| sets.contains(s))
        .unwrap_or(Status::Noauth)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A device as stored, with its authentication sets. Times are whole seconds (the store
/// keeps seconds). Serializes as upstream renders it: the fields in this order, the identity
/// as an object, no tenant, hash or revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Device id (UUID).
    pub id: DeviceId,
    /// Tenant, empty in the open-source server.
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// Canonical identity data (sorted-key JSON object).
    #[serde(rename = "identity_data", serialize_with = "identity_object")]
    pub id_data: String,
    /// Hex SHA-256 of `id_data`: the device's unique key.
    #[serde(skip)]
    pub id_data_sha256: String,
    /// Overall admission status.
    pub status: Status,
    /// Set while the decommission workflow runs; tokens stop working.
    pub decommissioning: bool,
    /// Creation time.
    pub created_ts: Timestamp,
    /// Last change.
    pub updated_ts: Timestamp,
    /// Authentication sets, oldest first.
    pub auth_sets: Vec<AuthSet>,
    /// Last time the device used a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_in_time: Option<Timestamp>,
    /// Bumped on every change; inventory uses it to order status updates.
    #[serde(skip)]
    pub revision: i64,
    /// Whether the `provision_device` workflow has completed for the device (set through the
    /// internal API by that workflow, as in upstream's next release); not rendered.
    #[serde(skip)]
    pub provisioned: bool,
}

/// One (identity, public key) pair a device authenticated with. Serializes as upstream
/// renders it, like [`Device`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthSet {
    /// Auth set id (UUID); also the `jti` of tokens issued for it.
    pub id: AuthSetId,
    /// Owning device.
    #[serde(skip)]
    pub device_id: DeviceId,
    /// Canonical identity data.
    #[serde(rename = "identity_data", serialize_with = "identity_object")]
    pub id_data: String,
    /// Hex SHA-256 of `id_data`.
    #[serde(skip)]
    pub id_data_sha256: String,
    /// Normalised PEM public key.
    pub pubkey: String,
    /// Creation time.
    pub ts: Timestamp,
    /// Admission status of this set.
    pub status: Status,
    /// The key's type and size, computed from `pubkey` (mender-rs only: `pubkey_type` and
    /// `pubkey_bits` after upstream's fields, so that weak keys are visible).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyInfo>,
}

impl AuthSet {
    /// The id of the tokens issued for this set (upstream uses the auth set id as `jti`).
    pub fn token_id(&self) -> TokenId {
        TokenId::new(self.id.as_str())
    }
}

/// A device to create together with its first authentication set.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Device id to use if the device is new.
    pub device_id: DeviceId,
    /// Auth set id to use if the set is new.
    pub auth_set_id: AuthSetId,
    /// Canonical identity data.
    pub id_data: String,
    /// Hex SHA-256 of `id_data`.
    pub id_data_sha256: String,
    /// Normalised PEM public key.
    pub pubkey: String,
}

/// A stored device token (the token itself is never stored, only its id and lifetime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// `jti`, equal to the auth set id.
    pub id: TokenId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// `sub`.
    pub device_id: DeviceId,
    /// `iat`.
    pub issued_at: Timestamp,
    /// `exp`.
    pub expires_at: Timestamp,
}

/// What the token verifier needs to know about a token id, read in one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenState {
    /// Device the token was issued to.
    pub device_id: DeviceId,
    /// Tenant of the token.
    pub tenant_id: TenantId,
    /// Current status of the token's auth set.
    pub auth_set_status: Status,
    /// Whether the device is being decommissioned.
    pub decommissioning: bool,
    /// The device's last check-in.
    pub check_in_time: Option<Timestamp>,
}

/// Device list filter (management list and search).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Any of these statuses (empty: all).
    pub status: Vec<Status>,
    /// Any of these ids (empty: all).
    pub ids: Vec<DeviceId>,
}

/// The identity data as a JSON object (stored canonical strings always parse).
pub fn identity_value(id_data: &str) -> Value {
    serde_json::from_str(id_data).unwrap_or_else(|_| Value::Object(Default::default()))
}

fn identity_object<S: Serializer>(id_data: &str, s: S) -> Result<S::Ok, S::Error> {
    identity_value(id_data).serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_status_precedence() {
        use Status::*;
        assert_eq!(Status::of_device([]), Noauth);
        assert_eq!(Status::of_device([Rejected, Pending]), Pending);
        assert_eq!(
            Status::of_device([Rejected, Preauthorized, Pending]),
            Preauthorized
        );
        assert_eq!(
            Status::of_device([Rejected, Accepted, Preauthorized]),
            Accepted
        );
        assert_eq!(Status::of_device([Rejected]), Rejected);
        assert_eq!(Status::parse("accepted"), Some(Accepted));
        assert_eq!(Status::parse("Accepted"), None);
    }

    #[test]
    fn renders_upstream_json() {
        let set = AuthSet {
            id: "a1".into(),
            device_id: "d1".into(),
            id_data: r#"{"mac":"00:01"}"#.into(),
            id_data_sha256: "h".into(),
            pubkey: "PEM".into(),
            status: Status::Pending,
            ts: Timestamp::from_unix_secs(1_700_000_000),
            key: None,
        };
        let mut device = Device {
            id: "d1".into(),
            tenant_id: TenantId::default(),
            id_data: set.id_data.clone(),
            id_data_sha256: "h".into(),
            status: Status::Pending,
            decommissioning: false,
            created_ts: Timestamp::EPOCH,
            updated_ts: Timestamp::from_unix_secs(1_700_000_001),
            check_in_time: None,
            revision: 2,
            provisioned: false,
            auth_sets: vec![set],
        };
        // Field order and whole-second RFC 3339 times, byte for byte.
        assert_eq!(
            serde_json::to_string(&device).unwrap(),
            r#"{"id":"d1","identity_data":{"mac":"00:01"},"status":"pending","decommissioning":false,"created_ts":"1970-01-01T00:00:00Z","updated_ts":"2023-11-14T22:13:21Z","auth_sets":[{"id":"a1","identity_data":{"mac":"00:01"},"pubkey":"PEM","ts":"2023-11-14T22:13:20Z","status":"pending"}]}"#
        );
        device.check_in_time = Some(Timestamp::from_unix_secs(86_400));
        assert_eq!(
            serde_json::to_value(&device).unwrap()["check_in_time"],
            "1970-01-02T00:00:00Z"
        );
        // A key's type and size follow upstream's fields.
        device.auth_sets[0].key = Some(KeyInfo {
            kind: crate::crypto::KeyKind::EcdsaP224,
            bits: 224,
        });
        assert!(
            serde_json::to_string(&device.auth_sets[0])
                .unwrap()
                .ends_with(r#""status":"pending","pubkey_type":"ecdsa","pubkey_bits":224}"#)
        );
    }
}
