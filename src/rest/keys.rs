//! What the key routes of every family share: scopes and environments as the
//! documents write them (lower case), timestamps, and a key's settings from a body.
use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::JsonBody;
use super::failure::Answer;
use crate::domain::{Environment, Scope};
use crate::http::AppState;
use crate::idm::api_keys::{ApiKey, KeySpec, NewApiKey, Status, UNSCOPED_DEFAULT};
use crate::idm::auth::Caller;

/// How a family shows a key: from the core's key and, in the answer that made it
/// only, its secret.
pub trait KeyView: Serialize + Sized {
    fn view(key: ApiKey, secret: Option<String>) -> Self;

    fn with_secret(new: NewApiKey) -> Self {
        let secret = new.secret.expose().to_owned();
        Self::view(new.key, Some(secret))
    }
}

/// A body that asks for a key's settings (TruCore, TokenBot).
pub trait KeyRequest: DeserializeOwned {
    fn spec(self) -> KeySpec;
}

/// A key's status as the documents write it.
pub fn status(s: Status) -> &'static str {
    match s {
        Status::Active => "active",
        Status::Revoked => "revoked",
        Status::Expired => "expired",
    }
}

/// `POST` of a new key, in the family's body and view.
pub async fn create<B: KeyRequest, V: KeyView>(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<B>,
) -> Answer<V> {
    let new = app
        .idm
        .create_api_key_in(
            caller.acting()?.user_id,
            caller.current_tenant().unwrap_or_default(),
            b.spec(),
            &caller.client,
            caller.now,
        )
        .await?;
    Ok(Json(V::with_secret(new)))
}

/// `GET` of the caller's keys as one array (the newest `MAX_LISTED`), never a secret.
pub async fn list<V: KeyView>(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Answer<Vec<V>> {
    let keys = app
        .idm
        .all_api_keys(caller.acting()?.user_id, caller.now)
        .await?;
    Ok(Json(keys.into_iter().map(|k| V::view(k, None)).collect()))
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyScope {
    Read,
    Write,
    Delete,
}

impl From<KeyScope> for Scope {
    fn from(s: KeyScope) -> Self {
        match s {
            KeyScope::Read => Scope::Read,
            KeyScope::Write => Scope::Write,
            KeyScope::Delete => Scope::Delete,
        }
    }
}

impl From<Scope> for KeyScope {
    fn from(s: Scope) -> Self {
        match s {
            Scope::Read => KeyScope::Read,
            Scope::Write => KeyScope::Write,
            Scope::Delete => KeyScope::Delete,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyEnvironment {
    Live,
    Test,
    Dev,
}

impl From<KeyEnvironment> for Environment {
    fn from(e: KeyEnvironment) -> Self {
        match e {
            KeyEnvironment::Live => Environment::Live,
            KeyEnvironment::Test => Environment::Test,
            KeyEnvironment::Dev => Environment::Dev,
        }
    }
}

impl From<Environment> for KeyEnvironment {
    fn from(e: Environment) -> Self {
        match e {
            Environment::Live => KeyEnvironment::Live,
            Environment::Test => KeyEnvironment::Test,
            Environment::Dev => KeyEnvironment::Dev,
        }
    }
}

pub fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// A key's settings from a body that can ask for them: scopes default to `["read"]`
/// (as GraphQL's `createApiKey`), the environment to `live`.
pub fn key_spec(
    name: String,
    scopes: Option<Vec<KeyScope>>,
    environment: Option<KeyEnvironment>,
    expires_at: Option<DateTime<Utc>>,
    ips: Option<Vec<String>>,
) -> KeySpec {
    KeySpec {
        name,
        scopes: scopes
            .unwrap_or_else(|| vec![KeyScope::Read])
            .into_iter()
            .map(Into::into)
            .collect(),
        environment: environment.unwrap_or(KeyEnvironment::Live).into(),
        expires_at: expires_at.map(|t| t.timestamp()),
        ips: ips.unwrap_or_default(),
    }
}

/// A key made by a family whose document asks for no scopes (Torale, Truvera): what
/// the signup key gets.
pub fn unscoped_spec(name: String, ips: Option<Vec<String>>) -> KeySpec {
    KeySpec {
        name,
        scopes: UNSCOPED_DEFAULT.to_vec(),
        environment: Environment::Live,
        expires_at: None,
        ips: ips.unwrap_or_default(),
    }
}
