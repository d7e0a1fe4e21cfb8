//! The login that waits for a second factor. A password login of a user with 2FA on
//! creates a pending login (an `mfa_token`, 5 minutes); `verify_2fa_code` completes it
//! with a TOTP code (±1 step) or a recovery code. Every attempt takes one of the pending
//! login's `verify_2fa_per_challenge` slots before the code is looked at, so concurrent
//! guesses are counted too; when they are gone the login must start over. The code
//! check itself (`check_second_factor`) also counts against the caller's IP and the
//! account.
//!
//! Without the `mfa_token` (the documents call `verify_2fa_code` with `user_id` and
//! `token` only), the newest pending login *opened by the same client* is completed:
//! the pending login keeps a hash of the IP and User-Agent that passed the first factor,
//! so a stranger who knows only a user id cannot race the owner's pending login with
//! guessed codes from elsewhere.
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::crypto::{random_token, token_hash};
use super::error::{Error, Result};
use super::sessions::Tokens;
use super::two_factor::Factor;
use super::{ClientInfo, Idm};
use crate::entities::mfa_challenge;

pub const CHALLENGE_TTL_SECS: i64 = 300;
pub const METHODS: [&str; 2] = ["totp", "recovery_code"];

/// A login waiting for its second factor.
pub struct Challenge {
    pub user_id: String,
    pub mfa_token: String,
}

/// Which client opened a pending login: SHA-256 of its IP and User-Agent.
fn client_hash(client: &ClientInfo) -> String {
    let ip = client.ip.map(|ip| ip.to_string()).unwrap_or_default();
    let agent = client.user_agent.as_deref().unwrap_or("");
    token_hash(&format!("{ip}\n{agent}"))
}

/// Voids every pending second-factor login of the user, on `db` (the caller's
/// transaction): a password change or reset, turning 2FA off, and deactivation end them.
pub(super) async fn void_pending_logins<C: sea_orm::ConnectionTrait>(
    db: &C,
    user_id: &str,
) -> Result<()> {
    mfa_challenge::Entity::delete_many()
        .filter(mfa_challenge::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

impl Idm {
    /// Called by a login of a user with 2FA on, once its first factor passed
    /// (`first_factor`: "pwd" or "fed", what the finished login's `amr` starts with).
    /// `password`: the hash a password login verified (see `password_still_current`).
    pub async fn begin_second_factor(
        &self,
        user_id: &str,
        first_factor: &str,
        password: Option<&str>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Challenge> {
        let token = random_token();
        let txn = self.begin_write().await?;
        if let Some(hash) = password {
            self.password_still_current(&txn, user_id, hash).await?;
        }
        mfa_challenge::ActiveModel {
            token_hash: Set(token_hash(&token)),
            user_id: Set(user_id.to_owned()),
            created_at: Set(now),
            expires_at: Set(now + CHALLENGE_TTL_SECS),
            attempts: Set(0),
            used_at: Set(None),
            first_factor: Set(first_factor.to_owned()),
            client_hash: Set(Some(client_hash(client))),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(Challenge {
            user_id: user_id.to_owned(),
            mfa_token: token,
        })
    }

    /// Completes a pending login with a TOTP or recovery code.
    #[tracing::instrument(skip_all)]
    pub async fn verify_2fa_code(
        &self,
        user_id: &str,
        code: &str,
        mfa_token: Option<&str>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Tokens> {
        let none_pending = || {
            Error::unauthenticated(
                "No sign-in of this user is waiting for a second factor (or it expired); log in with your password again.",
            )
        };
        let mut q = mfa_challenge::Entity::find()
            .filter(mfa_challenge::Column::UserId.eq(user_id))
            .filter(mfa_challenge::Column::UsedAt.is_null())
            .filter(mfa_challenge::Column::ExpiresAt.gt(now));
        q = match mfa_token {
            Some(t) => q.filter(mfa_challenge::Column::TokenHash.eq(token_hash(t))),
            None => q.filter(mfa_challenge::Column::ClientHash.eq(client_hash(client))),
        };
        let challenge = q
            .order_by_desc(mfa_challenge::Column::CreatedAt)
            .one(&self.db)
            .await?
            .ok_or_else(none_pending)?;
        let max = i32::try_from(Ord::max(
            self.settings.rate_limit.verify_2fa_per_challenge,
            1,
        ))
        .unwrap_or(5);
        let slot = mfa_challenge::Entity::update_many()
            .col_expr(
                mfa_challenge::Column::Attempts,
                Expr::col(mfa_challenge::Column::Attempts).add(1),
            )
            .filter(mfa_challenge::Column::TokenHash.eq(challenge.token_hash.clone()))
            .filter(mfa_challenge::Column::Attempts.lt(max))
            .exec(&self.db)
            .await?;
        if slot.rows_affected != 1 {
            return Err(Error::RateLimited { retry_after: 0 });
        }
        let Some(factor) = self.check_second_factor(user_id, code, client, now).await? else {
            return Err(Error::unauthenticated("That code is not valid."));
        };
        let done = mfa_challenge::Entity::update_many()
            .col_expr(mfa_challenge::Column::UsedAt, Expr::value(now))
            .filter(mfa_challenge::Column::TokenHash.eq(challenge.token_hash))
            .filter(mfa_challenge::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        if done.rows_affected != 1 {
            return Err(none_pending());
        }
        let user = self.find_user(user_id).await?.ok_or_else(none_pending)?;
        if !user.is_active {
            return Err(Error::forbidden(
                "This account is deactivated; contact an administrator.",
            ));
        }
        let second = match factor {
            Factor::Totp => "otp",
            Factor::RecoveryCode => "rc",
        };
        let amr = [challenge.first_factor.as_str(), second, "mfa"];
        self.complete_login(&user, &amr, None, client, Some("second factor".into()), now)
            .await
    }
}
