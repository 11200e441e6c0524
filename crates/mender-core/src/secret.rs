//! [`Secret`]: a value that must never reach a log. Its `Debug` and `Display` print
//! `[redacted]`; the value is reached only through [`Secret::expose`], which makes every
//! place that handles the raw value easy to find.

use std::fmt;

/// A password, token or key kept out of logs and error messages.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The raw value; use it only where it must leave (a header, a hash, a comparison).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// The raw value, unwrapped.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl Secret<String> {
    /// The raw value as text.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::from("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            password: Secret,
        }
        let h = Holder {
            password: "hunter2".into(),
        };
        assert!(!format!("{h:?}").contains("hunter2"));
        assert_eq!(s.expose_str(), "hunter2");
        let parsed: Secret = serde_json::from_str("\"pw\"").unwrap();
        assert_eq!(parsed.expose_str(), "pw");
    }
}
