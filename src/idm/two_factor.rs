//! Two-factor authentication with TOTP (RFC 6238: SHA-1, 6 digits, 30 s, what Google
//! Authenticator, 1Password and Authy read) and single-use recovery codes: setting it
//! up, turning it off, and checking a second factor. A code's time step is remembered,
//! so no code is accepted twice, replays within its 30 s window included. (The login
//! that waits for a second factor is in `mfa_login`.)
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set,
};
use totp_rs::{Builder, Secret, Totp};

use super::accounts::user_subject;
use super::audit::{self, Event};
use super::crypto::token_hash;
use super::error::{Error, Result};
use super::rate_limit::Action;
use super::{ClientInfo, Idm};
use crate::entities::{mfa_challenge, recovery_code, two_factor, user};

pub const RECOVERY_CODE_COUNT: usize = 10;
const STEP_SECS: i64 = 30;

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

/// The authenticator for `secret`, labelled `issuer:account` (their colons made spaces).
pub fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<Totp> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("totp: {e}")))
}

/// The time step `code` matches at `now` (±1 step), if it is later than `last_step`.
pub fn matching_step(secret: &[u8], code: &str, now: i64, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) || now < STEP_SECS {
        return None;
    }
    let t = totp(secret, "x", "x").ok()?;
    let origin = now / STEP_SECS;
    // Oldest first, so that a code of an already used step cannot hide a newer match.
    (origin - 1..=origin + 1)
        .filter(|step| *step > last_step)
        .find(|step| {
            // Checked: a clock near i64::MAX must not overflow (found by fuzzing).
            let at = step
                .checked_mul(STEP_SECS)
                .and_then(|t| u64::try_from(t).ok());
            at.is_some_and(|at| t.check(&code, at) == u64::try_from(*step).ok())
        })
}

/// A recovery code as typed: case, spaces and dashes do not matter.
pub fn normalise_recovery(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Ten codes of 80 random bits each, shown as XXXX-XXXX-XXXX-XXXX (base32).
fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let b32 = Secret::from(bytes.to_vec()).to_base32();
            let chars: Vec<char> = b32.chars().take(16).collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
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
        Ok(codes)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_clock_at_the_end_of_time_does_not_overflow() {
        assert_eq!(
            matching_step(b"12345678901234567890", "123456", i64::MAX, 0),
            None
        );
    }

    use super::*;

    const SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors_match_at_a_fixed_clock() {
        // RFC 6238 appendix B (SHA-1), last six digits.
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert!(
                matching_step(SECRET, code, time, 0).is_some(),
                "{time} {code}"
            );
        }
    }

    #[test]
    fn a_step_either_side_is_accepted_and_no_further() {
        let t = totp(SECRET, "i", "a").expect("totp");
        let now = 1_700_000_000;
        let code_at = |secs: i64| t.generate(secs as u64).to_string();
        assert!(matching_step(SECRET, &code_at(now - 30), now, 0).is_some());
        assert!(matching_step(SECRET, &code_at(now + 30), now, 0).is_some());
        assert!(matching_step(SECRET, &code_at(now - 90), now, 0).is_none());
        assert!(matching_step(SECRET, &code_at(now + 90), now, 0).is_none());
    }

    #[test]
    fn a_used_step_is_never_accepted_again() {
        let t = totp(SECRET, "i", "a").expect("totp");
        let now = 1_700_000_000;
        let code = t.generate(now as u64).to_string();
        let step = matching_step(SECRET, &code, now, 0).expect("first use");
        assert_eq!(step, now / 30);
        assert_eq!(matching_step(SECRET, &code, now, step), None);
        assert_eq!(matching_step(SECRET, &code, now + 10, step), None);
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in ["", "12345", "1234567", "abcdef", "12 34 5x"] {
            assert_eq!(matching_step(SECRET, bad, 1_700_000_000, 0), None);
        }
    }

    #[test]
    fn recovery_codes_are_distinct_and_typed_loosely() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut uniq = codes.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 10);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 19 && c.matches('-').count() == 3)
        );
        assert_eq!(
            normalise_recovery(&codes[0].to_lowercase().replace('-', " ")),
            normalise_recovery(&codes[0])
        );
    }
}
