//! Truvera (document 004): keys listed by page, each with an alias and an IP
//! allowlist, addressed by their public id (`key`); temporary keys for the
//! deployment's own services (`CERTS-TOKEN`).
use axum::Extension;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::{Id, JsonBody, OptionalBody, QueryOf};
use super::failure::{Answer, Failure};
use super::keys::{time, unscoped_spec};
use crate::domain::Environment;
use crate::http::AppState;
use crate::idm::api_key_changes::TemporaryKey;
use crate::idm::api_keys::{ApiKey, KeyChanges};
use crate::idm::auth::Caller;

/// A page of keys: `limit` 1..64 (default 64), `offset` from 0.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TruveraPage {
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    #[param(minimum = 1, maximum = 64)]
    pub limit: Option<i64>,
}

/// A key as Truvera lists it: `key` is its public id, never its secret.
#[derive(Serialize, ToSchema)]
pub struct TruveraKey {
    pub ips: Vec<String>,
    pub alias: String,
    pub key: String,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
}

/// A new key: `jwt` is its secret, shown once.
#[derive(Serialize, ToSchema)]
pub struct TruveraNewKey {
    pub ips: Vec<String>,
    pub alias: String,
    pub key: String,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
    pub jwt: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TruveraKeyBody {
    /// IPs or CIDRs the key may be used from; empty: any.
    pub ips: Option<Vec<String>>,
    /// The key's name (1 to 64 characters); default "API key".
    #[schema(min_length = 1, max_length = 64)]
    pub alias: Option<String>,
}

fn key(k: ApiKey) -> TruveraKey {
    TruveraKey {
        ips: k.ips,
        alias: k.name,
        key: k.id,
        created: time(k.created_at),
        expires: k.expires_at.map(time),
    }
}

pub async fn list_keys(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryOf(page): QueryOf<TruveraPage>,
) -> Answer<Vec<TruveraKey>> {
    let page = app
        .idm
        .list_api_keys(
            caller.acting()?.user_id,
            page.offset.unwrap_or(0),
            page.limit.unwrap_or(64),
            caller.now,
        )
        .await?;
    Ok(Json(page.items.into_iter().map(key).collect()))
}

/// The key gets read and write, as the signup key (the document asks for no scopes).
pub async fn create_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    OptionalBody(b): OptionalBody<TruveraKeyBody>,
) -> Answer<TruveraNewKey> {
    let b = b.unwrap_or(TruveraKeyBody {
        ips: None,
        alias: None,
    });
    let name = b.alias.unwrap_or_else(|| "API key".into());
    let new = app
        .idm
        .create_api_key_in(
            caller.acting()?.user_id,
            caller.current_tenant().unwrap_or_default(),
            unscoped_spec(name, b.ips),
            &caller.client,
            caller.now,
        )
        .await?;
    let jwt = new.secret.expose().to_owned();
    let k = key(new.key);
    Ok(Json(TruveraNewKey {
        ips: k.ips,
        alias: k.alias,
        key: k.key,
        created: k.created,
        expires: k.expires,
        jwt,
    }))
}

pub async fn update_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
    JsonBody(b): JsonBody<TruveraKeyBody>,
) -> Answer<TruveraKey> {
    let changes = KeyChanges {
        name: b.alias,
        ips: b.ips,
        ..KeyChanges::default()
    };
    let k = app
        .idm
        .update_api_key(caller.acting()?.user_id, &id, changes, caller.now)
        .await?;
    Ok(Json(key(k)))
}

#[derive(Serialize, ToSchema)]
pub struct TruveraRevoked {
    pub revoked: bool,
}

pub async fn revoke_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer<TruveraRevoked> {
    app.idm
        .revoke_api_key(caller.acting()?.user_id, &id, &caller.client, caller.now)
        .await?;
    Ok(Json(TruveraRevoked { revoked: true }))
}

/// For whom a temporary key is made: `userId`, or the owner of `selectedTeamId`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TemporaryKeyBody {
    pub user_id: Option<String>,
    /// Named in the key's name.
    pub subaccount: Option<String>,
    /// The tenant; with `userId`, the user must belong to it.
    pub selected_team_id: Option<String>,
    /// A `test` environment key instead of `live`.
    pub is_testmode: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryKeyAnswer {
    /// The secret (15 minutes, `read`, as GraphQL's `createTemporaryApiKey`).
    pub key: String,
    pub selected_team_id: String,
}

const TEMPORARY_TTL_SECS: i64 = 900;

pub async fn temporary_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<TemporaryKeyBody>,
) -> Answer<TemporaryKeyAnswer> {
    let no_user = || Failure::from(crate::idm::Error::not_found("No such user in this team."));
    let user_id = match (b.user_id, b.selected_team_id.as_deref()) {
        (Some(user), team) => {
            // An unknown user and one of another team answer alike.
            let u = app.idm.user(&user, caller.now).await.map_err(|e| match e {
                crate::idm::Error::NotFound(_) => no_user(),
                other => other.into(),
            })?;
            if team.is_some_and(|t| t != u.tenant_id) {
                return Err(no_user());
            }
            u.id
        }
        (None, Some(team)) => app.idm.tenant_owner(team).await?.ok_or_else(no_user)?,
        (None, None) => {
            return Err(Failure::bad_input(
                "Name the user: send `userId` or `selectedTeamId`.",
            ));
        }
    };
    let temp = TemporaryKey {
        ttl_secs: TEMPORARY_TTL_SECS,
        scopes: vec![crate::domain::Scope::Read],
        environment: if b.is_testmode.unwrap_or(false) {
            Environment::Test
        } else {
            Environment::Live
        },
        label: b.subaccount,
    };
    let new = app
        .idm
        .create_temporary_key(&user_id, temp, &caller.client, caller.now)
        .await?;
    Ok(Json(TemporaryKeyAnswer {
        key: new.secret.expose().to_owned(),
        selected_team_id: new.key.tenant_id,
    }))
}
