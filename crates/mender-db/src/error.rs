//! The two ways the database layer fails: opening a database ([`OpenError`], at start) and
//! running a statement ([`Error`], at run time).

/// Errors opening or migrating a database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is neither `sqlite://` nor `postgres://`.
    #[error(
        "database URL {0:?} is not supported: use postgres://USER@HOST:PORT/DB for PostgreSQL, or leave it unset to use SQLite in the data directory"
    )]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("cannot open the {service} database at {location}: {source}")]
    Connect {
        /// Service name.
        service: String,
        /// File or server, without credentials.
        location: String,
        /// Cause.
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("cannot migrate the {service} database: {source}")]
    Migrate {
        /// Service name.
        service: String,
        /// Cause.
        source: sqlx::migrate::MigrateError,
    },
}

/// A statement failed.
#[derive(Debug, thiserror::Error)]
#[error("database error: {0}")]
pub struct Error(#[from] sqlx::Error);

impl Error {
    /// Whether a unique constraint refused the write (a duplicate key).
    pub fn is_unique_violation(&self) -> bool {
        self.0
            .as_database_error()
            .is_some_and(|d| d.is_unique_violation())
    }

    /// Whether a value read from the database could not be decoded into its Rust type.
    pub fn is_decode(&self) -> bool {
        matches!(
            self.0,
            sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. }
        )
    }

    /// Whether a bound text value was refused because it holds a NUL character, which
    /// PostgreSQL cannot store (the input was invalid, not the database).
    pub fn is_invalid_text(&self) -> bool {
        matches!(&self.0, sqlx::Error::Encode(e) if e.is::<NulInText>())
    }

    /// A decoding failure of our own making: a stored value that the domain type refuses.
    pub fn decode(message: impl Into<String>) -> Self {
        Self(sqlx::Error::Decode(message.into().into()))
    }
}

/// A text value held a NUL character.
#[derive(Debug, thiserror::Error)]
#[error("text must not contain a NUL character")]
pub(crate) struct NulInText;
