//! Two-factor authentication with TOTP (RFC 6238: SHA-1, 6 digits, 30 s, what Google
//! Authenticator, 1Password and Authy read) and single-use recovery codes: setting it
//! up, turning it off, and checking a second factor. A code's time step is remembered,
//! so no code is accepted twice, replays within its 30 s window included. (The login
//! that waits for a second factor is in `mfa_login`; the codes themselves in `codes`.)
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set,
};

use totp_rs::Secret;

use super::accounts::user_subject;
use super::audit::{self, Event};
use super::crypto::token_hash;
use super::error::{Error, Result};
use super::rate_limit::Action;
use super::{ClientInfo, Idm};
use crate::entities::{mfa_challenge, recovery_code, two_factor, user};

mod codes;

use codes::new_recovery_codes;
pub use codes::{RECOVERY_CODE_COUNT, matching_step, normalise_recovery, totp};

pub struct Setup {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_png_base64: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    RecoveryCode,
}

/// Deletes a user's TOTP secret, recovery codes and pending second-factor logins, on
/// `db` (the caller's transaction, which also turns the user's flag off).
pub(super) async fn remove_two_factor<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<()> {
    two_factor::Entity::delete_by_id(user_id.to_owned())
        .exec(db)
        .await?;
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    mfa_challenge::Entity::delete_many()
        .filter(mfa_challenge::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

impl Idm {
    fn seal_secret(&self, secret: &[u8]) -> Result<String> {
        Ok(match self.keys.master().seal(secret)? {
            Some(sealed) => format!("enc:{sealed}"),
            None => format!("b32:{}", Secret::from(secret.to_vec()).to_base32()),
        })
    }

    fn open_secret(&self, stored: &str) -> Result<Vec<u8>> {
        if let Some(sealed) = stored.strip_prefix("enc:") {
            return Ok(self.keys.master().open(sealed)?);
        }
        let b32 = stored.strip_prefix("b32:").unwrap_or(stored);
        Secret::try_from_base32(b32)
            .map(|s| s.as_ref().to_vec())
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored TOTP secret: {e}")))
    }

    fn issuer(&self) -> &str {
        &self.settings.webauthn.rp_name
    }

    /// A new secret, pending until `enable_2fa` confirms it; replaces an earlier pending one.
    pub async fn generate_2fa(&self, user_id: &str, sid: Option<&str>, now: i64) -> Result<Setup> {
        self.require_verified_email(user_id).await?;
        self.require_fresh_sign_in((user_id, sid), "set up two-factor authentication", now)
            .await?;
        let user = self.user(user_id, now).await?;
        if user.two_factor_enabled {
            return Err(Error::bad_input(
                "Two-factor authentication is already on; disable it first to set up another authenticator.",
            ));
        }
        let mut secret = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let account = user.email.clone().unwrap_or_else(|| user.id.clone());
        let t = totp(&secret, self.issuer(), &account)?;
        let setup = Setup {
            secret_base32: Secret::from(secret.to_vec()).to_base32(),
            otpauth_url: t
                .to_url()
                .map_err(|e| Error::Internal(anyhow::anyhow!("otpauth url: {e}")))?,
            qr_png_base64: t
                .to_qr_base64()
                .map_err(|e| Error::Internal(anyhow::anyhow!("qr: {e}")))?,
        };
        let sealed = self.seal_secret(&secret)?;
        let existing = two_factor::Entity::find_by_id(user_id.to_owned())
            .one(&self.db)
            .await?;
        match existing {
            Some(row) => {
                let mut am: two_factor::ActiveModel = row.into();
                am.pending_secret = Set(Some(sealed));
                am.updated_at = Set(now);
                am.update(&self.db).await?;
            }
            None => {
                two_factor::ActiveModel {
                    user_id: Set(user_id.to_owned()),
                    secret: Set(None),
                    pending_secret: Set(Some(sealed)),
                    last_step: Set(0),
                    enabled_at: Set(None),
                    updated_at: Set(now),
                }
                .insert(&self.db)
                .await?;
            }
        }
        Ok(setup)
    }

    /// Confirms the pending secret with a current code: 2FA goes on, the user's other
    /// sessions (which never passed a second factor) are signed out, and ten recovery
    /// codes are returned, once.
    pub async fn enable_2fa(
        &self,
        user_id: &str,
        sid: Option<&str>,
        code: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Vec<String>> {
        self.require_verified_email(user_id).await?;
        self.require_fresh_sign_in((user_id, sid), "set up two-factor authentication", now)
            .await?;
        let row = two_factor::Entity::find_by_id(user_id.to_owned())
            .one(&self.db)
            .await?;
        let Some(pending) = row.as_ref().and_then(|r| r.pending_secret.clone()) else {
            return Err(Error::bad_input(
                "Start with generate_2fa: there is no authenticator waiting to be confirmed.",
            ));
        };
        if self.user(user_id, now).await?.two_factor_enabled {
            return Err(Error::bad_input("Two-factor authentication is already on."));
        }
        let secret = self.open_secret(&pending)?;
        let Some(step) = matching_step(&secret, code, now, 0) else {
            return Err(Error::bad_input(
                "That code is not valid; enter the current code from your authenticator app.",
            ));
        };
        let codes = new_recovery_codes();
        let txn = self.begin_write().await?;
        two_factor::Entity::update_many()
            .col_expr(two_factor::Column::Secret, Expr::value(pending))
            .col_expr(
                two_factor::Column::PendingSecret,
                Expr::value(Option::<String>::None),
            )
            .col_expr(two_factor::Column::LastStep, Expr::value(step))
            .col_expr(two_factor::Column::EnabledAt, Expr::value(now))
            .col_expr(two_factor::Column::UpdatedAt, Expr::value(now))
            .filter(two_factor::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        self.store_recovery_codes(&txn, user_id, &codes, now)
            .await?;
        self.commit_two_factor_flag(txn, user_id, true, now).await?;
        self.revoke_sessions(user_id, None, sid, now).await?;
        audit::record(
            &self.db,
            Event::TwoFactorEnabled,
            Some(user_id),
            client,
            None,
            now,
        )
        .await;
        Ok(codes)
    }

    /// Sets the user's 2FA flag as the last write of `txn` and commits it.
    async fn commit_two_factor_flag(
        &self,
        txn: DatabaseTransaction,
        user_id: &str,
        on: bool,
        now: i64,
    ) -> Result<()> {
        let flag = vec![(user::Column::TwoFactorEnabled, Expr::value(on))];
        self.update_user_on(&txn, user_id, flag, now).await?;
        txn.commit().await?;
        // A read between the update and the commit may have cached the old row.
        self.users.forget(user_id);
        Ok(())
    }

    async fn store_recovery_codes<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: &str,
        codes: &[String],
        now: i64,
    ) -> Result<()> {
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(user_id))
            .exec(db)
            .await?;
        let rows = codes.iter().map(|c| recovery_code::ActiveModel {
            code_hash: Set(token_hash(&normalise_recovery(c))),
            user_id: Set(user_id.to_owned()),
            created_at: Set(now),
            used_at: Set(None),
        });
        recovery_code::Entity::insert_many(rows).exec(db).await?;
        Ok(())
    }

    /// Checks a second factor of a user with 2FA on and uses it up: a TOTP code's step
    /// can never be accepted again, a recovery code works once.
    /// `use_second_factor`, with its outcome audited: a recovery code used, or a failed
    /// second factor.
    ///
    /// Every second-factor check goes through here, so each counts against the
    /// caller's IP and the account: the account's slot is taken before the code is
    /// looked at and given back only when it was right (`rate_limit`).
    pub async fn check_second_factor(
        &self,
        user_id: &str,
        code: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Option<Factor>> {
        let check = self
            .limits
            .begin_secret_check(Action::SecondFactor, &user_subject(user_id), client.ip, now)
            .await?;
        let factor = self.use_second_factor(user_id, code, now).await?;
        if factor.is_some() {
            self.limits.passed(check).await;
        }
        let event = match factor {
            Some(Factor::Totp) => None,
            Some(Factor::RecoveryCode) => Some(Event::RecoveryCodeUsed),
            None => Some(Event::SecondFactorFailed),
        };
        if let Some(event) = event {
            audit::record(&self.db, event, Some(user_id), client, None, now).await;
        }
        Ok(factor)
    }

    async fn use_second_factor(
        &self,
        user_id: &str,
        code: &str,
        now: i64,
    ) -> Result<Option<Factor>> {
        let Some(row) = two_factor::Entity::find_by_id(user_id.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let Some(stored) = row.secret.as_deref() else {
            return Ok(None);
        };
        let secret = self.open_secret(stored)?;
        if let Some(step) = matching_step(&secret, code, now, row.last_step) {
            let claimed = two_factor::Entity::update_many()
                .col_expr(two_factor::Column::LastStep, Expr::value(step))
                .filter(two_factor::Column::UserId.eq(user_id))
                .filter(two_factor::Column::LastStep.lt(step))
                .exec(&self.db)
                .await?;
            return Ok((claimed.rows_affected == 1).then_some(Factor::Totp));
        }
        let normalised = normalise_recovery(code);
        if normalised.len() != 16 {
            return Ok(None);
        }
        let used = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
            .filter(recovery_code::Column::CodeHash.eq(token_hash(&normalised)))
            .filter(recovery_code::Column::UserId.eq(user_id))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok((used.rows_affected == 1).then_some(Factor::RecoveryCode))
    }

    /// For an account-management action: a current code or a recovery code, else
    /// BAD_USER_INPUT (and the failure is audited).
    /// The session must be a fresh sign-in (`require_fresh_sign_in`): with a stolen
    /// access token alone, neither the factor nor its recovery codes can be changed.
    async fn require_second_factor(
        &self,
        (user_id, sid): (&str, Option<&str>),
        action: &str,
        code: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Factor> {
        self.require_fresh_sign_in((user_id, sid), action, now)
            .await?;
        if !self.user(user_id, now).await?.two_factor_enabled {
            return Err(Error::bad_input("Two-factor authentication is not on."));
        }
        self.check_second_factor(user_id, code, client, now)
            .await?
            .ok_or_else(|| {
                Error::bad_input(
                    "That code is not valid; enter a current code or an unused recovery code.",
                )
            })
    }

    pub async fn disable_2fa(
        &self,
        (user_id, sid): (&str, Option<&str>),
        code: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        self.require_second_factor(
            (user_id, sid),
            "turn two-factor authentication off",
            code,
            client,
            now,
        )
        .await?;
        let txn = self.begin_write().await?;
        remove_two_factor(&txn, user_id).await?;
        self.commit_two_factor_flag(txn, user_id, false, now)
            .await?;
        audit::record(
            &self.db,
            Event::TwoFactorDisabled,
            Some(user_id),
            client,
            None,
            now,
        )
        .await;
        Ok(true)
    }

    pub async fn regenerate_recovery_codes(
        &self,
        (user_id, sid): (&str, Option<&str>),
        code: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Vec<String>> {
        self.require_second_factor((user_id, sid), "make new recovery codes", code, client, now)
            .await?;
        let codes = new_recovery_codes();
        let txn = self.begin_write().await?;
        self.store_recovery_codes(&txn, user_id, &codes, now)
            .await?;
        txn.commit().await?;
        audit::record(
            &self.db,
            Event::RecoveryCodesRegenerated,
            Some(user_id),
            client,
            Some("the older codes no longer work".into()),
            now,
        )
        .await;
        Ok(codes)
    }
}
