//! The websocket protocol: every binary frame holds one msgpack `ProtoMsg`
//! `{"hdr": {"proto", "typ", "sid", "props"}, "body"}`. Frames are kept as msgpack values so
//! that whatever a peer sends (props of any type, bodies of other protocols) passes through
//! unchanged; only the header fields the router needs are read or written.

use rmpv::Value;

/// The largest frame either side may send (upstream's 8 MiB read limit).
pub const MESSAGE_SIZE_LIMIT: usize = 8 * 1024 * 1024;

/// How the server checks that a socket's peer is still there: a websocket ping every
/// `interval`, and the socket ends when nothing (not even a pong) arrived for `interval` plus
/// `wait`. Upstream pings every 54 s and waits 60 s for the pong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Time between pings.
    pub interval: std::time::Duration,
    /// How long after a ping an answer may take.
    pub wait: std::time::Duration,
}

impl Default for Keepalive {
    fn default() -> Self {
        Self {
            interval: std::time::Duration::from_secs(54),
            wait: std::time::Duration::from_secs(60),
        }
    }
}

/// Protocol 4: commands to the mender-client (`check-update`, `send-inventory`).
pub const PROTO_MENDER_CLIENT: u64 = 4;

/// Protocol 1: the remote terminal.
pub const PROTO_SHELL: u64 = 1;
/// Shell message type that opens a terminal.
pub const TYPE_NEW: &str = "new";
/// Shell message type that closes a terminal.
pub const TYPE_STOP: &str = "stop";
/// Shell `status` property for an error.
const STATUS_ERROR: i64 = 2;

/// Why a frame is not a `ProtoMsg`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    /// Not msgpack, or bytes left over after one value.
    #[error("malformed msgpack")]
    Malformed,
    /// msgpack, but not a map with a `hdr` map holding an integer `proto`.
    #[error("not a ProtoMsg")]
    NotProtoMsg,
    /// A shell message from a device that names no session.
    #[error("shell message without a session id")]
    NoSession,
}

/// One decoded `ProtoMsg`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtoMsg(Value);

impl ProtoMsg {
    /// Decodes one frame.
    pub fn decode(frame: &[u8]) -> Result<Self, ProtoError> {
        let mut rest = frame;
        let v = rmpv::decode::read_value(&mut rest).map_err(|_| ProtoError::Malformed)?;
        if !rest.is_empty() {
            return Err(ProtoError::Malformed);
        }
        let msg = Self(v);
        match msg.hdr().and_then(|h| field(h, "proto")) {
            Some(p) if p.as_u64().is_some() => Ok(msg),
            _ => Err(ProtoError::NotProtoMsg),
        }
    }

    /// A new message of protocol `proto`, type `typ`, session `sid`, with `props` and `body`.
    pub fn new(proto: u64, typ: &str, sid: &str, props: Vec<(&str, Value)>, body: &[u8]) -> Self {
        let props = props
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect();
        let hdr = vec![
            (Value::from("proto"), Value::from(proto)),
            (Value::from("typ"), Value::from(typ)),
            (Value::from("sid"), Value::from(sid)),
            (Value::from("props"), Value::Map(props)),
        ];
        Self(Value::Map(vec![
            (Value::from("hdr"), Value::Map(hdr)),
            (Value::from("body"), Value::Binary(body.to_vec())),
        ]))
    }

    /// A shell `stop` with error status, telling one side that the other went away.
    pub fn shell_stop(sid: &str, user: Option<&str>, why: &str) -> Self {
        let mut props = vec![("status", Value::from(STATUS_ERROR))];
        if let Some(u) = user {
            props.push(("user_id", Value::from(u)));
        }
        Self::new(PROTO_SHELL, TYPE_STOP, sid, props, why.as_bytes())
    }

    /// The encoded frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = rmpv::encode::write_value(&mut out, &self.0);
        out
    }

    /// The protocol number.
    pub fn proto(&self) -> u64 {
        self.hdr()
            .and_then(|h| field(h, "proto"))
            .and_then(Value::as_u64)
            .unwrap_or_default()
    }

    /// The message type, empty when absent.
    pub fn typ(&self) -> &str {
        self.hdr_str("typ")
    }

    /// The session id, empty when absent.
    pub fn sid(&self) -> &str {
        self.hdr_str("sid")
    }

    /// The body's bytes (binary or string), empty when absent.
    pub fn body(&self) -> &[u8] {
        match field(&self.0, "body") {
            Some(Value::Binary(b)) => b,
            Some(Value::String(s)) => s.as_bytes(),
            _ => &[],
        }
    }

    /// Property `key` of the header.
    pub fn prop(&self, key: &str) -> Option<&Value> {
        self.hdr()
            .and_then(|h| field(h, "props"))
            .and_then(|p| field(p, key))
    }

    /// Stamps the message as coming from `user` in session `sid`: what the device needs to
    /// route it (upstream overwrites `sid` and sets `props.user_id`).
    pub fn stamp(&mut self, sid: &str, user: &str) {
        let Some(hdr) = self.hdr_mut() else { return };
        set(hdr, "sid", Value::from(sid));
        let props = match field_mut(hdr, "props") {
            Some(p @ Value::Map(_)) => p,
            _ => {
                set(hdr, "props", Value::Map(Vec::new()));
                match field_mut(hdr, "props") {
                    Some(p) => p,
                    None => return,
                }
            }
        };
        set(props, "user_id", Value::from(user));
    }

    fn hdr(&self) -> Option<&Value> {
        field(&self.0, "hdr").filter(|h| h.is_map())
    }

    fn hdr_mut(&mut self) -> Option<&mut Value> {
        field_mut(&mut self.0, "hdr").filter(|h| h.is_map())
    }

    fn hdr_str(&self, key: &str) -> &str {
        self.hdr()
            .and_then(|h| field(h, key))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// The value under string key `key` of a map.
fn field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    match map {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn field_mut<'a>(map: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    match map {
        Value::Map(entries) => entries
            .iter_mut()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Sets `key` of a map to `value`, adding the entry when missing.
fn set(map: &mut Value, key: &str, value: Value) {
    if let Some(v) = field_mut(map, key) {
        *v = value;
    } else if let Value::Map(entries) = map {
        entries.push((Value::from(key), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamping_sets_the_session_and_the_user_and_keeps_the_rest() {
        let mut m = ProtoMsg::new(
            PROTO_SHELL,
            "shell",
            "forged",
            vec![("x", Value::from(7))],
            b"ls\n",
        );
        m.stamp("sid-1", "user-1");
        let back = ProtoMsg::decode(&m.encode()).unwrap();
        assert_eq!(
            (back.sid(), back.typ(), back.body()),
            ("sid-1", "shell", &b"ls\n"[..])
        );
        let props = field(back.hdr().unwrap(), "props").unwrap();
        assert_eq!(field(props, "user_id").unwrap().as_str(), Some("user-1"));
        assert_eq!(field(props, "x").unwrap().as_i64(), Some(7));
    }

    #[test]
    fn a_header_without_props_gets_them() {
        let hdr = Value::Map(vec![(Value::from("proto"), Value::from(1))]);
        let mut m = ProtoMsg(Value::Map(vec![(Value::from("hdr"), hdr)]));
        m.stamp("s", "u");
        assert_eq!(m.sid(), "s");
        assert!(m.body().is_empty());
    }

    #[test]
    fn junk_is_refused() {
        assert_eq!(ProtoMsg::decode(&[0x93, 0x01]), Err(ProtoError::Malformed));
        assert_eq!(ProtoMsg::decode(&[0x01, 0x02]), Err(ProtoError::Malformed));
        // A valid value that is not a ProtoMsg.
        assert_eq!(ProtoMsg::decode(&[0x01]), Err(ProtoError::NotProtoMsg));
    }
}
