//! GraphQL object types. They wrap domain values and expose chosen fields only.
use async_graphql::{Enum, ID, SimpleObject, Union};
use chrono::{DateTime, Utc};

use crate::domain;
use crate::idm::accounts::User as DomainUser;
use crate::idm::sessions::{SessionInfo, Tokens};

pub fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
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
