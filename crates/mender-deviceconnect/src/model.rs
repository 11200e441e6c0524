//! deviceconnect's domain types: a device's connection status and its record.

use mender_core::{DeviceId, Timestamp};
use serde::Serialize;

/// Whether a device's mender-connect holds a websocket to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A websocket is open.
    Connected,
    /// No websocket is open.
    Disconnected,
    /// A stored value this version does not know.
    Unknown,
}

impl Status {
    /// The stored (and rendered) text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Connected => "connected",
            Status::Disconnected => "disconnected",
            Status::Unknown => "unknown",
        }
    }

    /// The status a stored text names.
    pub fn parse(s: &str) -> Self {
        match s {
            "connected" => Status::Connected,
            "disconnected" => Status::Disconnected,
            _ => Status::Unknown,
        }
    }
}

/// A device's record, rendered as upstream's `ConnectionState`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The device.
    pub device_id: DeviceId,
    /// Its connection status.
    pub status: Status,
    /// When the record was created.
    pub created_ts: Timestamp,
    /// When the status last changed.
    pub updated_ts: Timestamp,
}
