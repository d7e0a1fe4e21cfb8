//! Accounts whose email nobody had proven, once someone proves it.
//!
//! Anyone can sign up with any address; until the mailbox is proven, the account may be
//! a squatter's, made ahead of the address's owner. So an unproven account may hold
//! nothing that outlives the proof: it cannot enrol a second factor or a passkey
//! (`require_verified_email`), and when the mailbox is proven by someone who did not
//! sign in to the account (a password-reset link, a provider asserting the email), the
//! account is handed over clean (`strip_unproven_account`): its sessions, API keys,
//! passkeys, two-factor secret, linked identities and open passkey ceremonies go.
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Idm;
use super::error::{Error, Result};
use super::two_factor::remove_two_factor;
use crate::entities::{api_key, identity, passkey, user, webauthn_ceremony};

impl Idm {
    /// Refuses strong factors (TOTP, passkeys) on an account whose email is unproven.
    pub async fn require_verified_email(&self, user_id: &str) -> Result<()> {
        let user = self
            .find_user(user_id)
            .await?
            .ok_or_else(|| Error::unauthenticated("Sign in again."))?;
        if user.email.is_some() && !user.email_verified {
            return Err(Error::forbidden(
                "Verify your email address first: two-factor authentication, passkeys and linked providers need a verified email (requestEmailVerification sends the link again).",
            ));
        }
        Ok(())
    }

    /// Hands an unproven account over clean, in one transaction, with `changes` to the
    /// user row (the email becomes verified, two-factor off).
    pub async fn strip_unproven_account(
        &self,
        user_id: &str,
        mut changes: Vec<(user::Column, SimpleExpr)>,
        now: i64,
    ) -> Result<()> {
        changes.push((user::Column::EmailVerified, Expr::value(true)));
        changes.push((user::Column::TwoFactorEnabled, Expr::value(false)));
        let txn = self.begin_write().await?;
        self.revoke_sessions_on(&txn, user_id, None, None, now)
            .await?;
        self.update_user_on(&txn, user_id, changes, now).await?;
        remove_two_factor(&txn, user_id).await?;
        passkey::Entity::delete_many()
            .filter(passkey::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        webauthn_ceremony::Entity::delete_many()
            .filter(webauthn_ceremony::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        identity::Entity::delete_many()
            .filter(identity::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(now))
            .filter(api_key::Column::UserId.eq(user_id))
            // A rotated-out key still in its grace period goes too (found by the
            // core unit tests: it outlived the hand-over by up to 7 days).
            .filter(
                api_key::Column::RevokedAt
                    .is_null()
                    .or(api_key::Column::RevokedAt.gt(now)),
            )
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.users.forget(user_id);
        self.key_cache.invalidate(None, Some(user_id));
        Ok(())
    }
}
