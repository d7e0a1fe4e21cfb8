//! The one error type of the core. The edge maps each variant to its wire code (for
//! GraphQL, `graphql::errors`); `Internal` carries context for the log and none for
//! the client.
use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Too many attempts; try again in {retry_after} seconds.")]
    RateLimited { retry_after: u64 },
    /// A service we depend on (a social provider, the captcha verifier) failed or could
    /// not be reached. The message names the service, never the detail.
    #[error("{0}")]
    Unavailable(String),
    #[error("Internal server error")]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn unauthenticated(msg: impl Into<String>) -> Self {
        Error::Unauthenticated(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Error::Forbidden(msg.into())
    }
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Error::BadInput(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound(msg.into())
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Error::Unavailable(msg.into())
    }
}

impl From<DbErr> for Error {
    fn from(e: DbErr) -> Self {
        Error::Internal(anyhow::Error::new(e).context("database"))
    }
}

/// True when a database error is a unique-constraint violation (a race lost to another
/// insert of the same key), on SQLite and PostgreSQL alike.
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
