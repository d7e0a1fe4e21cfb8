//! What the key routes of every family share: scopes and environments as the
//! documents write them (lower case), timestamps, and a key's settings from a body.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Environment, Scope};
use crate::idm::api_keys::{KeySpec, UNSCOPED_DEFAULT};

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
