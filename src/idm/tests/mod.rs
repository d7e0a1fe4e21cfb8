//! Unit tests of the core on a fixed clock: an `Idm` over a fresh in-memory SQLite
//! store, driven through its own functions with explicit `now` values, so every
//! expiry, window and grace period is tested at its edges without waiting.
mod api_keys;
mod auth;
mod logins;
mod passkeys;
mod sessions;
mod social;
mod tokens;
mod two_factor;

use tempfile::TempDir;

use super::accounts::NewAccount;
use super::sessions::Tokens;
use super::{ClientInfo, Idm};
use crate::config::Settings;
use crate::metrics::Metrics;

/// The fixed instant the tests start at (2027-01-15T08:00:00Z).
pub const T0: i64 = 1_800_000_000;
/// A password the strength rules accept.
pub const PASSWORD: &str = "correct-Horse-battery-9";

/// The core over a fresh store; the outbox lives as long as the fixture.
pub struct Fixture {
    pub idm: Idm,
    _outbox: TempDir,
}

impl std::ops::Deref for Fixture {
    type Target = Idm;
    fn deref(&self) -> &Idm {
        &self.idm
    }
}

/// A client on one address.
pub fn client(ip: &str) -> ClientInfo {
    ClientInfo {
        ip: ip.parse().ok(),
        user_agent: Some("unit-test".into()),
    }
}

/// The core with default settings (limits in process, mail to a temporary outbox),
/// changed by `configure`.
pub async fn fixture_with(configure: impl FnOnce(&mut Settings)) -> Fixture {
    let outbox = tempfile::tempdir().expect("outbox dir");
    let mut settings = Settings {
        service_token: "unit-service-token".into(),
        ..Settings::default()
    };
    settings.mail.outbox_dir = outbox.path().to_path_buf();
    configure(&mut settings);
    let db = crate::store::memory().await.expect("in-memory store");
    let metrics = Metrics::new().expect("metrics");
    let idm = Idm::open(settings, db, metrics, T0).await.expect("idm");
    Fixture {
        idm,
        _outbox: outbox,
    }
}

pub async fn fixture() -> Fixture {
    fixture_with(|_| {}).await
}

impl Fixture {
    /// Signs up `email` at `now` from 192.0.2.1 and answers the first tokens.
    pub async fn signup_at(&self, email: &str, now: i64) -> Tokens {
        let new = NewAccount {
            email,
            password: PASSWORD,
            first_name: None,
            username: None,
            invitation_token: None,
        };
        self.idm
            .signup(new, &client("192.0.2.1"), now)
            .await
            .expect("signup")
            .tokens
    }

    pub async fn signup(&self, email: &str) -> Tokens {
        self.signup_at(email, T0).await
    }

    /// The session id named by a pair's access token (verified at its own `iat`).
    pub async fn sid_of(&self, t: &Tokens) -> String {
        use base64::Engine;
        let payload = t.access_token.split('.').nth(1).expect("a JWT");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url");
        let claims: super::tokens::AccessClaims = serde_json::from_slice(&bytes).expect("claims");
        self.keys
            .verify(&t.access_token, claims.iat)
            .await
            .expect("a valid access token")
            .session_id
    }

    /// Marks a user's email verified at `now`, as a confirmed link would.
    pub async fn verify_email_at(&self, user_id: &str, now: i64) {
        use crate::entities::user;
        self.update_user(
            user_id,
            vec![(
                user::Column::EmailVerified,
                sea_orm::sea_query::Expr::value(true),
            )],
            now,
        )
        .await
        .expect("verify email");
    }
}
