//! The audit log of security events. Recording never fails the operation it records:
//! a failure to write is logged as an error with the event, so it is not lost silently.
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};

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
    TenantCreated,
    TenantRenamed,
    TenantSwitched,
    MemberInvited,
    InvitationRevoked,
    InvitationDeclined,
    MemberJoined,
    MemberRoleChanged,
    MemberRemoved,
    OwnershipTransferred,
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
            Event::TenantCreated => "tenant_created",
            Event::TenantRenamed => "tenant_renamed",
            Event::TenantSwitched => "tenant_switched",
            Event::MemberInvited => "member_invited",
            Event::InvitationRevoked => "invitation_revoked",
            Event::InvitationDeclined => "invitation_declined",
            Event::MemberJoined => "member_joined",
            Event::MemberRoleChanged => "member_role_changed",
            Event::MemberRemoved => "member_removed",
            Event::OwnershipTransferred => "ownership_transferred",
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
    // One statement: the user's tenant when the event happened (the event keeps it if
    // they move) comes from a subquery, not from a read of its own.
    let tenant = match user_id {
        Some(id) => SimpleExpr::SubQuery(
            None,
            Box::new(
                Query::select()
                    .column(user::Column::TenantId)
                    .from(user::Entity)
                    .and_where(Expr::col(user::Column::Id).eq(id))
                    .to_owned()
                    .into(),
            ),
        ),
        None => Expr::value(Option::<String>::None),
    };
    let insert = Query::insert()
        .into_table(audit_log::Entity)
        .columns([
            audit_log::Column::At,
            audit_log::Column::Event,
            audit_log::Column::UserId,
            audit_log::Column::Ip,
            audit_log::Column::Detail,
            audit_log::Column::UserAgent,
            audit_log::Column::TenantId,
        ])
        .values_panic([
            Expr::value(now),
            Expr::value(event.as_str()),
            Expr::value(user_id.map(str::to_owned)),
            Expr::value(client.ip.map(|ip| ip.to_string())),
            Expr::value(detail),
            Expr::value(super::sessions::clip(client.user_agent.as_deref(), 256)),
            tenant,
        ])
        .to_owned();
    if let Err(e) = db.execute(&insert).await {
        tracing::error!(error = %e, event = event.as_str(), user_id, "writing the audit log");
    }
}
