//! Domain types of deviceauth: admission statuses, devices, authentication sets, tokens,
//! and their JSON shapes as upstream renders them.

use serde::ser::SerializeStruct;
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

/// A device as stored, with its authentication sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Device id (UUID).
    pub id: String,
    /// Tenant, empty in the open-source server.
    pub tenant_id: String,
    /// Canonical identity data (sorted-key JSON object).
    pub id_data: String,
    /// Hex SHA-256 of `id_data`: the device's unique key.
    pub id_data_sha256: String,
    /// Overall admission status.
    pub status: Status,
    /// Set while the decommission workflow runs; tokens stop working.
    pub decommissioning: bool,
    /// Creation time (unix seconds).
    pub created_ts: i64,
    /// Last change (unix seconds).
    pub updated_ts: i64,
    /// Last time the device used a token (unix seconds).
    pub check_in_time: Option<i64>,
    /// Bumped on every change; inventory uses it to order status updates.
    pub revision: i64,
    /// Authentication sets, oldest first.
    pub auth_sets: Vec<AuthSet>,
}

/// One (identity, public key) pair a device authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSet {
    /// Auth set id (UUID); also the `jti` of tokens issued for it.
    pub id: String,
    /// Owning device.
    pub device_id: String,
    /// Canonical identity data.
    pub id_data: String,
    /// Hex SHA-256 of `id_data`.
    pub id_data_sha256: String,
    /// Normalised PEM public key.
    pub pubkey: String,
    /// Admission status of this set.
    pub status: Status,
    /// Creation time (unix seconds).
    pub ts: i64,
}

/// A device to create together with its first authentication set.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Device id to use if the device is new.
    pub device_id: String,
    /// Auth set id to use if the set is new.
    pub auth_set_id: String,
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
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// `sub`.
    pub device_id: String,
    /// `iat`.
    pub issued_at: i64,
    /// `exp`.
    pub expires_at: i64,
}

/// What the token verifier needs to know about a token id, read in one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenState {
    /// Device the token was issued to.
    pub device_id: String,
    /// Tenant of the token.
    pub tenant_id: String,
    /// Current status of the token's auth set.
    pub auth_set_status: Status,
    /// Whether the device is being decommissioned.
    pub decommissioning: bool,
    /// The device's last check-in.
    pub check_in_time: Option<i64>,
}

/// Device list filter (management list and search).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Any of these statuses (empty: all).
    pub status: Vec<Status>,
    /// Any of these ids (empty: all).
    pub ids: Vec<String>,
}

/// Formats unix seconds as RFC 3339 (UTC).
pub fn rfc3339(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The identity data as a JSON object (stored canonical strings always parse).
pub fn identity_value(id_data: &str) -> Value {
    serde_json::from_str(id_data).unwrap_or_else(|_| Value::Object(Default::default()))
}

impl Serialize for AuthSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("AuthSet", 5)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("identity_data", &identity_value(&self.id_data))?;
        st.serialize_field("pubkey", &self.pubkey)?;
        st.serialize_field("ts", &rfc3339(self.ts))?;
        st.serialize_field("status", &self.status)?;
        st.end()
    }
}

impl Serialize for Device {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Device", 8)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("identity_data", &identity_value(&self.id_data))?;
        st.serialize_field("status", &self.status)?;
        st.serialize_field("decommissioning", &self.decommissioning)?;
        st.serialize_field("created_ts", &rfc3339(self.created_ts))?;
        st.serialize_field("updated_ts", &rfc3339(self.updated_ts))?;
        st.serialize_field("auth_sets", &self.auth_sets)?;
        if let Some(t) = self.check_in_time {
            st.serialize_field("check_in_time", &rfc3339(t))?;
        }
        st.end()
    }
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
    fn rfc3339_formatting() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
