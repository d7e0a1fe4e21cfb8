//! The identity core: every rule lives here. Functions take the store, the settings
//! they need and `now` (seconds since the epoch) explicitly, and return domain values
//! or `Error`. Nothing here knows about HTTP or GraphQL.
pub mod accounts;
pub mod activity;
pub mod admin;
pub mod api_key_changes;
pub mod api_key_lists;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod captcha;
pub mod crypto;
pub mod email_links;
pub mod email_tokens;
pub mod error;
pub mod invitations;
pub mod key_verify;
pub mod mail;
pub mod mfa_login;
pub mod passkeys;
pub mod passwords;
pub mod profile;
pub mod rate_limit;
pub mod sessions;
pub mod sign_out;
pub mod social;
pub mod step_up;
pub mod tenant_members;
pub mod tenants;
pub mod tokens;
pub mod two_factor;
pub mod unproven;
pub mod users;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

pub use error::{Error, Result};

use crate::config::Settings;
use crate::metrics::Metrics;
/// The one outbound HTTP client: short timeouts, so a provider that hangs costs a
/// request a few seconds, never a worker forever.
fn outbound_http() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Who is on the other end of a request, as far as the core needs to know.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// The core's state: one per process, shared by every request.
pub struct Idm {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub hasher: passwords::Hasher,
    pub keys: tokens::KeyStore,
    pub mailer: mail::Mailer,
    pub sessions: sessions::SessionCache,
    pub key_cache: key_verify::KeyCache,
    pub users: users::UserCache,
    pub limits: rate_limit::RateLimiter,
    pub metrics: Metrics,
    /// The WebAuthn relying party (`[webauthn]`).
    pub webauthn: webauthn_rs::Webauthn,
    /// Outbound HTTP: the captcha verifier and the social providers (timeouts set).
    pub http: reqwest::Client,
    /// Google's and Apple's signing keys.
    pub jwks: social::id_tokens::JwksCache,
    /// `noauth` development mode: who a request without credentials acts as.
    pub noauth_user: auth::DevUser,
}

impl Idm {
    /// The core over `db` (connected and migrated): loads or creates the signing key
    /// and sets up the caches, the limiter (Redis when `redis_url` is set), the mailer,
    /// the password hasher and the outbound HTTP client.
    pub async fn open(
        settings: Settings,
        db: DatabaseConnection,
        metrics: Metrics,
        now: i64,
    ) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;
        let keys = tokens::KeyStore::load_or_create(
            db.clone(),
            settings.master_key.clone(),
            settings.tokens.clone(),
            now,
        )
        .await?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Idm {
            hasher: passwords::Hasher::new(cores)?,
            mailer: mail::Mailer::new(&settings)?,
            sessions: sessions::SessionCache::default(),
            key_cache: key_verify::KeyCache::default(),
            users: users::UserCache::default(),
            limits: rate_limit::RateLimiter::new(
                crate::config::RateLimitSettings {
                    invitations_per_hour: settings.tenants.invitations_per_hour,
                    ..settings.rate_limit.clone()
                },
                settings.redis_url.expose_secret(),
            )
            .await?,
            metrics,
            webauthn: passkeys::relying_party(&settings.webauthn)?,
            http: outbound_http()?,
            jwks: Default::default(),
            noauth_user: Default::default(),
            settings: Arc::new(settings),
            keys,
            db,
        })
    }

    /// Whether the store answers (readiness).
    pub async fn ping_store(&self) -> Result<()> {
        Ok(self.db.ping().await?)
    }

    /// The public signing keys, as a JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        self.keys.jwks()
    }

    /// Writes the API keys' noted uses (see `key_verify`).
    pub async fn flush_key_uses(&self) -> Result<()> {
        self.key_cache.flush_uses(&self.db).await
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that two such transactions queue on the busy timeout;
    /// a deferred one that read first could not upgrade and failed with "database is
    /// locked" (SQLITE_BUSY_SNAPSHOT) instead. PostgreSQL ignores the mode.
    pub async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        Ok(self
            .db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?)
    }
}

/// A page's `offset` and `limit` checked (limit 1..=`max`, offset from 0), as unsigned.
pub(crate) fn page_bounds(offset: i64, limit: i64, max: u64) -> Result<(u64, u64)> {
    if !(1..=max as i64).contains(&limit) {
        return Err(Error::bad_input(format!(
            "limit must be between 1 and {max}."
        )));
    }
    if offset < 0 {
        return Err(Error::bad_input("offset must not be negative."));
    }
    Ok((offset as u64, limit as u64))
}
