//! Torale (document 002): the signed-in user, the welcome flag, and one key per user
//! (`[api_keys] max_active_per_user = 1` gives the document's rule).
use axum::Extension;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{Id, JsonBody};
use super::failure::Answer;
use super::keys::{KeyView, time, unscoped_spec};
use crate::http::AppState;
use crate::idm::api_keys::{ApiKey, Status};
use crate::idm::auth::Caller;

#[derive(Serialize, ToSchema)]
pub struct ToraleUser {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub username: Option<String>,
    pub is_active: bool,
    pub has_seen_welcome: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn me(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Answer<ToraleUser> {
    let u = app.idm.user(caller.acting()?.user_id, caller.now).await?;
    Ok(Json(ToraleUser {
        id: u.id,
        email: u.email,
        first_name: u.first_name,
        username: u.username,
        is_active: u.is_active,
        has_seen_welcome: u.has_seen_welcome,
        created_at: time(u.created_at),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ToraleStatus {
    /// `success`, or `revoked` for a key.
    pub status: String,
}

pub async fn mark_welcome_seen(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Answer<ToraleStatus> {
    app.idm
        .mark_welcome_seen(caller.acting()?.user_id, caller.now)
        .await?;
    Ok(Json(ToraleStatus {
        status: "success".into(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToraleNewKey {
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
}

/// A key as Torale lists it: never the secret.
#[derive(Serialize, ToSchema)]
pub struct KeyInfo {
    pub id: String,
    pub user_id: String,
    pub key_prefix: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub is_active: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    /// The secret, shown once.
    pub key: String,
    pub key_info: KeyInfo,
}

/// Torale's listing never shows a secret, not even in the answer that made the key
/// (that one is `CreatedKey.key`).
impl KeyView for KeyInfo {
    fn view(k: ApiKey, _secret: Option<String>) -> Self {
        KeyInfo {
            is_active: k.status == Status::Active,
            id: k.id,
            user_id: k.user_id,
            key_prefix: k.prefix,
            name: k.name,
            created_at: time(k.created_at),
            last_used_at: k.last_used_at.map(time),
        }
    }
}

/// The key gets read and write, as the signup key (the document asks for no scopes).
pub async fn create_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<ToraleNewKey>,
) -> Answer<CreatedKey> {
    let new = app
        .idm
        .create_api_key_in(
            caller.acting()?.user_id,
            caller.current_tenant().unwrap_or_default(),
            unscoped_spec(b.name, None),
            &caller.client,
            caller.now,
        )
        .await?;
    Ok(Json(CreatedKey {
        key: new.secret.expose().to_owned(),
        key_info: KeyInfo::view(new.key, None),
    }))
}

pub async fn revoke_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer<ToraleStatus> {
    app.idm
        .revoke_api_key(caller.acting()?.user_id, &id, &caller.client, caller.now)
        .await?;
    Ok(Json(ToraleStatus {
        status: "revoked".into(),
    }))
}
