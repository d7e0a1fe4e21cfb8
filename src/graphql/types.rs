//! GraphQL object types. They wrap domain values and expose chosen fields only.
use async_graphql::{Enum, ID, InputObject, SimpleObject, Union};
use chrono::{DateTime, Utc};

use crate::domain;
use crate::idm::accounts::LoginStep;
use crate::idm::api_keys as keys;
use crate::idm::key_verify::Verification;
use crate::idm::mfa_login::METHODS;
use crate::idm::sessions::{SessionInfo, Tokens};
use crate::idm::users::User as DomainUser;

pub fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TenantRole {
    Owner,
    Admin,
    Member,
}

impl From<domain::TenantRole> for TenantRole {
    fn from(r: domain::TenantRole) -> Self {
        match r {
            domain::TenantRole::Owner => TenantRole::Owner,
            domain::TenantRole::Admin => TenantRole::Admin,
            domain::TenantRole::Member => TenantRole::Member,
        }
    }
}

impl From<TenantRole> for domain::TenantRole {
    fn from(r: TenantRole) -> Self {
        match r {
            TenantRole::Owner => domain::TenantRole::Owner,
            TenantRole::Admin => domain::TenantRole::Admin,
            TenantRole::Member => domain::TenantRole::Member,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Developer,
    Admin,
}

impl From<domain::Role> for Role {
    fn from(r: domain::Role) -> Self {
        match r {
            domain::Role::User => Role::User,
            domain::Role::Developer => Role::Developer,
            domain::Role::Admin => Role::Admin,
        }
    }
}

impl From<Role> for domain::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::User => domain::Role::User,
            Role::Developer => domain::Role::Developer,
            Role::Admin => domain::Role::Admin,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ApiKeyScope {
    Read,
    Write,
    Delete,
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "User")]
pub struct User {
    pub id: ID,
    pub tenant_id: ID,
    pub email: Option<String>,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub username: Option<String>,
    pub role: Role,
    pub is_active: bool,
    pub has_seen_welcome: bool,
    pub two_factor_enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<DomainUser> for User {
    fn from(u: DomainUser) -> Self {
        Self {
            id: ID(u.id),
            tenant_id: ID(u.tenant_id),
            email: u.email,
            email_verified: u.email_verified,
            first_name: u.first_name,
            username: u.username,
            role: u.role.into(),
            is_active: u.is_active,
            has_seen_welcome: u.has_seen_welcome,
            two_factor_enabled: u.two_factor_enabled,
            created_at: time(u.created_at),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct AuthPayload {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i32,
    pub user: User,
}

impl From<Tokens> for AuthPayload {
    fn from(t: Tokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer".into(),
            expires_in: i32::try_from(t.expires_in).unwrap_or(i32::MAX),
            user: t.user.into(),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct TwoFactorRequired {
    pub user_id: ID,
    pub mfa_token: String,
    pub methods: Vec<String>,
}

#[derive(Union, Clone)]
pub enum LoginResult {
    AuthPayload(AuthPayload),
    TwoFactorRequired(TwoFactorRequired),
}

#[derive(SimpleObject)]
pub struct SignupResult {
    pub auth: AuthPayload,
    pub tenant_id: ID,
    /// The tenant's first key, shown once; null where signup keys are off.
    pub api_key: Option<NewApiKey>,
    pub email_verified: bool,
}

#[derive(SimpleObject)]
pub struct Session {
    pub id: ID,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub current: bool,
}

impl From<SessionInfo> for Session {
    fn from(s: SessionInfo) -> Self {
        Self {
            id: ID(s.id),
            created_at: time(s.created_at),
            last_used_at: s.last_used_at.map(time),
            expires_at: time(s.expires_at),
            ip: s.ip,
            user_agent: s.user_agent,
            current: s.current,
        }
    }
}

impl From<ApiKeyScope> for domain::Scope {
    fn from(s: ApiKeyScope) -> Self {
        match s {
            ApiKeyScope::Read => domain::Scope::Read,
            ApiKeyScope::Write => domain::Scope::Write,
            ApiKeyScope::Delete => domain::Scope::Delete,
        }
    }
}

impl From<domain::Scope> for ApiKeyScope {
    fn from(s: domain::Scope) -> Self {
        match s {
            domain::Scope::Read => ApiKeyScope::Read,
            domain::Scope::Write => ApiKeyScope::Write,
            domain::Scope::Delete => ApiKeyScope::Delete,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum KeyEnvironment {
    Live,
    Test,
    Dev,
}

impl From<KeyEnvironment> for domain::Environment {
    fn from(e: KeyEnvironment) -> Self {
        match e {
            KeyEnvironment::Live => domain::Environment::Live,
            KeyEnvironment::Test => domain::Environment::Test,
            KeyEnvironment::Dev => domain::Environment::Dev,
        }
    }
}

impl From<domain::Environment> for KeyEnvironment {
    fn from(e: domain::Environment) -> Self {
        match e {
            domain::Environment::Live => KeyEnvironment::Live,
            domain::Environment::Test => KeyEnvironment::Test,
            domain::Environment::Dev => KeyEnvironment::Dev,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ApiKeyStatus {
    Active,
    Revoked,
    Expired,
}

#[derive(SimpleObject, Clone)]
pub struct ApiKey {
    pub id: ID,
    pub name: String,
    pub prefix: String,
    pub environment: KeyEnvironment,
    pub scopes: Vec<ApiKeyScope>,
    pub ips: Vec<String>,
    pub status: ApiKeyStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whose key it is (in `tenantApiKeys`, any member's).
    pub user_id: ID,
    /// The tenant it was made in.
    pub tenant_id: ID,
}

impl From<keys::ApiKey> for ApiKey {
    fn from(k: keys::ApiKey) -> Self {
        Self {
            id: ID(k.id),
            name: k.name,
            prefix: k.prefix,
            environment: k.environment.into(),
            scopes: k.scopes.into_iter().map(Into::into).collect(),
            ips: k.ips,
            status: match k.status {
                keys::Status::Active => ApiKeyStatus::Active,
                keys::Status::Revoked => ApiKeyStatus::Revoked,
                keys::Status::Expired => ApiKeyStatus::Expired,
            },
            created_at: time(k.created_at),
            expires_at: k.expires_at.map(time),
            last_used_at: k.last_used_at.map(time),
            revoked_at: k.revoked_at.map(time),
            user_id: ID(k.user_id),
            tenant_id: ID(k.tenant_id),
        }
    }
}

#[derive(SimpleObject)]
pub struct NewApiKey {
    pub api_key: ApiKey,
    /// The whole key; never returned again.
    pub secret: String,
}

impl From<keys::NewApiKey> for NewApiKey {
    fn from(k: keys::NewApiKey) -> Self {
        Self {
            secret: k.secret.expose().to_owned(),
            api_key: k.key.into(),
        }
    }
}

#[derive(SimpleObject)]
pub struct ApiKeyPage {
    pub items: Vec<ApiKey>,
    pub total: i32,
    pub offset: i32,
    pub limit: i32,
}

/// A count for an `Int` field (a page's total, offset, limit): capped at i32::MAX.
pub fn int(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<keys::Page> for ApiKeyPage {
    fn from(p: keys::Page) -> Self {
        Self {
            items: p.items.into_iter().map(Into::into).collect(),
            total: int(p.total),
            offset: int(p.offset),
            limit: int(p.limit),
        }
    }
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub name: String,
    #[graphql(default_with = "Some(vec![ApiKeyScope::Read])")]
    pub scopes: Option<Vec<ApiKeyScope>>,
    #[graphql(default_with = "Some(KeyEnvironment::Live)")]
    pub environment: Option<KeyEnvironment>,
    pub expires_at: Option<DateTime<Utc>>,
    #[graphql(default_with = "Some(Vec::new())")]
    pub ips: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct UpdateApiKeyInput {
    pub name: Option<String>,
    pub scopes: Option<Vec<ApiKeyScope>>,
    pub ips: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct ApiKeyVerification {
    pub valid: bool,
    /// null when valid; else NOT_FOUND | REVOKED | EXPIRED | IP_NOT_ALLOWED | INSUFFICIENT_SCOPE | USER_INACTIVE
    pub reason: Option<String>,
    pub key_id: Option<ID>,
    pub user_id: Option<ID>,
    pub tenant_id: Option<ID>,
    pub scopes: Vec<ApiKeyScope>,
    pub environment: Option<KeyEnvironment>,
}

impl From<Verification> for ApiKeyVerification {
    fn from(v: Verification) -> Self {
        let key = v.key;
        Self {
            valid: v.refusal.is_none(),
            reason: v
                .refusal
                .map(|r| super::errors::refusal_reason(r).to_owned()),
            key_id: key.as_ref().map(|k| ID(k.id.clone())),
            user_id: key.as_ref().map(|k| ID(k.user_id.clone())),
            tenant_id: key.as_ref().map(|k| ID(k.tenant_id.clone())),
            scopes: key
                .as_ref()
                .map(|k| k.scopes.iter().map(|s| (*s).into()).collect())
                .unwrap_or_default(),
            environment: key.as_ref().map(|k| k.environment.into()),
        }
    }
}

#[derive(SimpleObject)]
pub struct TwoFactorSetup {
    /// base32
    pub secret: String,
    /// otpauth://totp/...
    pub otpauth_url: String,
    /// base64 PNG of otpauthUrl
    pub qr_code_png: String,
}

#[derive(SimpleObject)]
pub struct TwoFactorEnabled {
    pub enabled: bool,
    /// One-time codes, shown once.
    pub recovery_codes: Vec<String>,
}

impl From<LoginStep> for LoginResult {
    fn from(step: LoginStep) -> Self {
        match step {
            LoginStep::Tokens(t) => LoginResult::AuthPayload(t.into()),
            LoginStep::SecondFactor(c) => LoginResult::TwoFactorRequired(TwoFactorRequired {
                user_id: ID(c.user_id),
                mfa_token: c.mfa_token,
                methods: METHODS.iter().map(|m| m.to_string()).collect(),
            }),
        }
    }
}
