//! The one error type of the core. The GraphQL edge maps each variant to the contract's
//! `extensions.code`; `Internal` carries context for the log and none for the client.
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
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::BadInput(_) => "BAD_USER_INPUT",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Conflict(_) => "CONFLICT",
            Error::RateLimited { .. } => "RATE_LIMITED",
            Error::Unavailable(_) | Error::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

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
