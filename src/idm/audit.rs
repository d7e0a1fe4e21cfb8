//! The audit log of security events. Recording never fails the operation it records:
//! a failure to write is logged as an error with the event, so it is not lost silently.
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, NotSet, Set};

use super::ClientInfo;
use crate::entities::{audit_log, user};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Signup,
    LoginOk,
    LoginFailed,
    PasswordChanged,
    PasswordReset,
    SessionRevoked,
    RefreshTokenReused,
    EmailVerified,
    RoleChanged,
    UserDeactivated,
    UserActivated,
    ApiKeyCreated,
    ApiKeyRotated,
    ApiKeyRevoked,
    ApiKeyDeleted,
    TwoFactorEnabled,
    TwoFactorDisabled,
    RecoveryCodeUsed,
    SecondFactorFailed,
    PasskeyRegistered,
    PasskeyDeleted,
    PasskeyCloneSuspected,
    SocialLinked,
    SocialUnlinked,
    SocialAccountClaimed,
    ProfileUpdated,
    RecoveryCodesRegenerated,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Signup => "signup",
            Event::LoginOk => "login_ok",
            Event::LoginFailed => "login_failed",
            Event::PasswordChanged => "password_changed",
            Event::PasswordReset => "password_reset",
            Event::SessionRevoked => "session_revoked",
            Event::RefreshTokenReused => "refresh_token_reused",
            Event::EmailVerified => "email_verified",
            Event::RoleChanged => "role_changed",
            Event::UserDeactivated => "user_deactivated",
            Event::UserActivated => "user_activated",
            Event::ApiKeyCreated => "api_key_created",
            Event::ApiKeyRotated => "api_key_rotated",
            Event::ApiKeyRevoked => "api_key_revoked",
            Event::ApiKeyDeleted => "api_key_deleted",
            Event::TwoFactorEnabled => "two_factor_enabled",
            Event::TwoFactorDisabled => "two_factor_disabled",
            Event::RecoveryCodeUsed => "recovery_code_used",
            Event::SecondFactorFailed => "second_factor_failed",
            Event::PasskeyRegistered => "passkey_registered",
            Event::PasskeyDeleted => "passkey_deleted",
            Event::PasskeyCloneSuspected => "passkey_clone_suspected",
            Event::SocialLinked => "social_linked",
            Event::SocialUnlinked => "social_unlinked",
            Event::SocialAccountClaimed => "social_account_claimed",
            Event::ProfileUpdated => "profile_updated",
            Event::RecoveryCodesRegenerated => "recovery_codes_regenerated",
        }
    }
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    event: Event,
    user_id: Option<&str>,
    client: &ClientInfo,
    detail: Option<String>,
    now: i64,
) {
    // The user's tenant when the event happened (the event keeps it if they move).
    let tenant_id = match user_id {
        Some(id) => user::Entity::find_by_id(id.to_owned())
            .one(db)
            .await
            .ok()
            .flatten()
            .map(|u| u.tenant_id),
        None => None,
    };
    let row = audit_log::ActiveModel {
        id: NotSet,
        at: Set(now),
        event: Set(event.as_str().to_owned()),
        user_id: Set(user_id.map(str::to_owned)),
        ip: Set(client.ip.map(|ip| ip.to_string())),
        detail: Set(detail),
        user_agent: Set(super::sessions::clip(client.user_agent.as_deref(), 256)),
        tenant_id: Set(tenant_id),
    };
    if let Err(e) = row.insert(db).await {
        tracing::error!(error = %e, event = event.as_str(), user_id, "writing the audit log");
    }
}
