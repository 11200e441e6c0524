//! Database URLs: which backend, where, and how to print it without its password.

use std::path::{Path, PathBuf};

use crate::OpenError;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// One SQLite file per service in this directory.
    Sqlite(PathBuf),
    /// One schema per service in this PostgreSQL database.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a configured URL; SQLite URLs name a directory.
    pub fn parse(url: &str) -> Result<Self, OpenError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(dir) = url.strip_prefix("sqlite://") {
            Ok(Self::Sqlite(PathBuf::from(dir)))
        } else {
            Err(OpenError::UnsupportedUrl(redact(url)))
        }
    }

    /// SQLite files in `dir`.
    pub fn sqlite_dir(dir: &Path) -> Self {
        Self::Sqlite(dir.to_path_buf())
    }

    /// A description safe to print: no password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("SQLite files in {}", dir.display()),
            Self::Postgres(url) => format!("PostgreSQL {}", redact(url)),
        }
    }
}

/// Removes the password from a URL so it can be logged.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
    {
        let user = userinfo.split(':').next().unwrap_or("");
        let masked = if userinfo.contains(':') {
            format!("{user}:***")
        } else {
            user.to_owned()
        };
        return format!("{scheme}://{masked}@{host}");
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_redact() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u:p@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(
            DatabaseUrl::parse("mysql://u:secret@h/db")
                .unwrap_err()
                .to_string()
                .contains("u:***@h/db")
        );
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
