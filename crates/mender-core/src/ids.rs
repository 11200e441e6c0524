//! Typed ids, so that a function taking a tenant, a device and an auth set cannot be handed
//! them in the wrong order. Each is a string on the wire and in the database (upstream's ids
//! are UUIDs or, for tenants, object ids; the empty tenant is the open-source server's one).

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Defines a string id newtype with the conversions every id needs.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }

            /// Whether the id is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(
    /// A tenant; empty in the open-source server.
    TenantId
);
string_id!(
    /// A device (the same id in deviceauth, inventory and deployments).
    DeviceId
);
string_id!(
    /// One identity-and-key pair a device authenticated with.
    AuthSetId
);
string_id!(
    /// A user.
    UserId
);
string_id!(
    /// A deployment.
    DeploymentId
);
string_id!(
    /// An artifact.
    ArtifactId
);
string_id!(
    /// A workflow job.
    JobId
);
string_id!(
    /// A token's `jti`.
    TokenId
);

impl TenantId {
    /// The open-source server's only tenant: the empty id.
    pub fn default_tenant() -> Self {
        Self(String::new())
    }
}

/// A new random id in upstream's format (a UUID, hyphenated, lower case).
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_strings_on_the_wire() {
        let d = DeviceId::new("abc");
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"abc\"");
        assert_eq!(serde_json::from_str::<DeviceId>("\"abc\"").unwrap(), d);
        assert_eq!(d, "abc");
        assert_eq!(format!("{d}"), "abc");
        assert_eq!(format!("{d:?}"), "DeviceId(\"abc\")");
        assert!(TenantId::default_tenant().is_empty());
        assert_eq!(new_uuid().len(), 36);
    }
}
