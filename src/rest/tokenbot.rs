//! TokenBot (document 003, its REST part): keys with scopes, environments, expiry and
//! IP allowlists; rotation with a grace period.
use axum::Extension;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{Id, OptionalBody};
use super::failure::Answer;
use super::keys::{KeyEnvironment, KeyRequest, KeyScope, KeyView, key_spec, status, time};
use crate::http::AppState;
use crate::idm::api_keys::{ApiKey, KeySpec};
use crate::idm::auth::Caller;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBotNewKey {
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// Default `["read"]`.
    pub scopes: Option<Vec<KeyScope>>,
    /// Default `live`.
    pub environment: Option<KeyEnvironment>,
    pub expires_at: Option<DateTime<Utc>>,
    /// IPs or CIDRs the key may be used from; empty or left out: any.
    pub ips: Option<Vec<String>>,
}

/// A key; `secret` only in the answer that made it.
#[derive(Serialize, ToSchema)]
pub struct TokenBotKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub environment: KeyEnvironment,
    pub scopes: Vec<KeyScope>,
    pub ips: Vec<String>,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl KeyRequest for TokenBotNewKey {
    fn spec(self) -> KeySpec {
        key_spec(
            self.name,
            self.scopes,
            self.environment,
            self.expires_at,
            self.ips,
        )
    }
}

impl KeyView for TokenBotKey {
    fn view(k: ApiKey, secret: Option<String>) -> Self {
        TokenBotKey {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            environment: k.environment.into(),
            scopes: k.scopes.into_iter().map(Into::into).collect(),
            ips: k.ips,
            status: status(k.status).into(),
            created_at: time(k.created_at),
            expires_at: k.expires_at.map(time),
            secret,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TokenBotDeleted {
    pub deleted: bool,
}

pub async fn delete_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer<TokenBotDeleted> {
    let deleted = app
        .idm
        .delete_api_key(caller.acting()?.user_id, &id, &caller.client, caller.now)
        .await?;
    Ok(Json(TokenBotDeleted { deleted }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBotRotation {
    /// How long the old key keeps working (0 to 604800 seconds); default 0.
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_period_seconds: Option<i64>,
}

pub async fn rotate_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
    OptionalBody(b): OptionalBody<TokenBotRotation>,
) -> Answer<TokenBotKey> {
    let grace = b.and_then(|r| r.grace_period_seconds).unwrap_or(0);
    let new = app
        .idm
        .rotate_api_key(
            caller.acting()?.user_id,
            &id,
            grace,
            &caller.client,
            caller.now,
        )
        .await?;
    Ok(Json(TokenBotKey::with_secret(new)))
}
