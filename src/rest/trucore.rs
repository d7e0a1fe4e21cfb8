//! TruCore (document 000): signup, login, the email links, and the customer's keys.
//! Each handler calls the core function of the GraphQL field of the same meaning.
use axum::Extension;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{Id, JsonBody};
use super::failure::Answer;
use super::keys::{KeyEnvironment, KeyRequest, KeyScope, KeyView, key_spec, status, time};
use crate::http::AppState;
use crate::idm::accounts::{LoginStep, NewAccount};
use crate::idm::api_keys::{ApiKey, KeySpec};
use crate::idm::auth::Caller;
use crate::idm::mfa_login::METHODS;

/// Email and password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    pub email: String,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    pub first_name: Option<String>,
    pub username: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SignedUp {
    /// The access token (a JWT, 24 h).
    pub token: String,
    /// Single use: exchange it for a new pair.
    pub refresh_token: String,
    pub tenant_id: String,
    /// The first key's secret, shown once; null when signup keys are off.
    pub api_key: Option<String>,
    pub email_verified: bool,
}

pub async fn signup(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<SignupBody>,
) -> Answer<SignedUp> {
    let new = NewAccount {
        email: &b.email,
        password: &b.password,
        first_name: b.first_name.as_deref(),
        username: b.username.as_deref(),
        invitation_token: None,
    };
    let done = app.idm.signup(new, &caller.client, caller.now).await?;
    Ok(Json(SignedUp {
        email_verified: done.tokens.user.email_verified,
        token: done.tokens.access_token,
        refresh_token: done.tokens.refresh_token,
        tenant_id: done.tenant_id,
        api_key: done.api_key.map(|k| k.secret.expose().to_owned()),
    }))
}

/// Tokens, or (with two-factor authentication on) the second step to take.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoggedIn {
    Tokens {
        token: String,
        refresh_token: String,
        /// Seconds until the access token expires.
        expires_in: i64,
    },
    SecondFactor {
        two_factor_required: bool,
        user_id: String,
        /// Send it with the code to `verifyTwoFactorLogin` (GraphQL).
        mfa_token: String,
        methods: Vec<String>,
    },
}

pub async fn login(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<Credentials>,
) -> Answer<LoggedIn> {
    let step = app
        .idm
        .login(&b.email, &b.password, &caller.client, caller.now)
        .await?;
    Ok(Json(match step {
        LoginStep::Tokens(t) => LoggedIn::Tokens {
            token: t.access_token,
            refresh_token: t.refresh_token,
            expires_in: t.expires_in,
        },
        LoginStep::SecondFactor(c) => LoggedIn::SecondFactor {
            two_factor_required: true,
            user_id: c.user_id,
            mfa_token: c.mfa_token,
            methods: METHODS.iter().map(|m| m.to_string()).collect(),
        },
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Sent {
    pub sent: bool,
}

pub async fn request_verification(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Answer<Sent> {
    let sent = app
        .idm
        .request_email_verification(caller.acting()?.user_id, caller.now)
        .await?;
    Ok(Json(Sent { sent }))
}

/// A one-time token from an emailed link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct EmailVerified {
    pub email_verified: bool,
}

pub async fn confirm_verification(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<TokenBody>,
) -> Answer<EmailVerified> {
    let email_verified = app
        .idm
        .confirm_email_verification(&b.token, &caller.client, caller.now)
        .await?;
    Ok(Json(EmailVerified { email_verified }))
}

#[derive(Serialize, ToSchema)]
pub struct VerificationStatus {
    pub email: Option<String>,
    pub email_verified: bool,
}

pub async fn verification_status(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Answer<VerificationStatus> {
    let user = app.idm.user(caller.acting()?.user_id, caller.now).await?;
    Ok(Json(VerificationStatus {
        email: user.email,
        email_verified: user.email_verified,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    pub email: String,
}

pub async fn request_reset(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<EmailBody>,
) -> Answer<Sent> {
    let sent = app
        .idm
        .request_password_reset(&b.email, &caller.client, caller.now)
        .await?;
    Ok(Json(Sent { sent }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    pub token: String,
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

#[derive(Serialize, ToSchema)]
pub struct Reset {
    pub reset: bool,
}

pub async fn confirm_reset(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<ResetBody>,
) -> Answer<Reset> {
    let reset = app
        .idm
        .confirm_password_reset(&b.token, &b.new_password, &caller.client, caller.now)
        .await?;
    Ok(Json(Reset { reset }))
}

#[derive(Serialize, ToSchema)]
pub struct Valid {
    pub valid: bool,
}

pub async fn validate_reset(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<TokenBody>,
) -> Answer<Valid> {
    let valid = app
        .idm
        .validate_password_reset_token(&b.token, &caller.client, caller.now)
        .await?;
    Ok(Json(Valid { valid }))
}

/// A new customer key: a label, and optionally what a key can be given.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerKey {
    #[schema(min_length = 1, max_length = 64)]
    pub label: String,
    /// Default `["read"]`.
    pub scopes: Option<Vec<KeyScope>>,
    /// Default `live`.
    pub environment: Option<KeyEnvironment>,
    pub expires_at: Option<DateTime<Utc>>,
    /// IPs or CIDRs the key may be used from; empty or left out: any.
    pub ips: Option<Vec<String>>,
}

/// A customer key; `secret` only in the answer that made it.
#[derive(Serialize, ToSchema)]
pub struct CustomerKey {
    pub key_id: String,
    pub tenant_id: String,
    pub label: String,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl KeyRequest for NewCustomerKey {
    fn spec(self) -> KeySpec {
        key_spec(
            self.label,
            self.scopes,
            self.environment,
            self.expires_at,
            self.ips,
        )
    }
}

impl KeyView for CustomerKey {
    fn view(k: ApiKey, secret: Option<String>) -> Self {
        CustomerKey {
            key_id: k.id,
            tenant_id: k.tenant_id,
            label: k.name,
            status: status(k.status).into(),
            prefix: k.prefix,
            created_at: time(k.created_at),
            last_used_at: k.last_used_at.map(time),
            expires_at: k.expires_at.map(time),
            secret,
        }
    }
}

/// Rotation revokes the old key in the same operation (no grace period).
pub async fn rotate_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer<CustomerKey> {
    let new = app
        .idm
        .rotate_api_key(caller.acting()?.user_id, &id, 0, &caller.client, caller.now)
        .await?;
    Ok(Json(CustomerKey::with_secret(new)))
}

/// Revokes the caller's key, or (an OWNER or ADMIN) any key of the caller's tenant.
pub async fn revoke_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer<CustomerKey> {
    let tenant = caller.current_tenant().unwrap_or_default();
    let key = app
        .idm
        .revoke_api_key_in(
            caller.acting()?.user_id,
            tenant,
            &id,
            &caller.client,
            caller.now,
        )
        .await?;
    Ok(Json(CustomerKey::view(key, None)))
}

/// Every key of the caller's tenant that the caller may see (REST.md): all members'
/// for its OWNERs and ADMINs, the caller's own made there for a MEMBER.
pub async fn list_keys(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Answer<Vec<CustomerKey>> {
    let tenant = caller.current_tenant().unwrap_or_default();
    let keys = app
        .idm
        .tenant_keys_visible_to(caller.acting()?.user_id, tenant, caller.now)
        .await?;
    Ok(Json(
        keys.into_iter()
            .map(|k| CustomerKey::view(k, None))
            .collect(),
    ))
}
