//! The login that waits for a second factor. A password login of a user with 2FA on
//! creates a pending login (an `mfa_token`, 5 minutes); `verify_2fa_code` completes it
//! with a TOTP code (±1 step) or a recovery code. Every attempt takes one of the pending
//! login's `verify_2fa_per_challenge` slots before the code is looked at, so concurrent
//! guesses are counted too; when they are gone the login must start over.
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::crypto::{random_token, token_hash};
use super::error::{Error, Result};
use super::rate_limit::{Action, Subject};
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

impl Idm {
    /// Called by a login of a user with 2FA on, once its first factor passed
    /// (`first_factor`: "pwd" or "fed", what the finished login's `amr` starts with).
    pub async fn begin_second_factor(
        &self,
        user_id: &str,
        first_factor: &str,
        now: i64,
    ) -> Result<Challenge> {
        let token = random_token();
        mfa_challenge::ActiveModel {
            token_hash: Set(token_hash(&token)),
            user_id: Set(user_id.to_owned()),
            created_at: Set(now),
            expires_at: Set(now + CHALLENGE_TTL_SECS),
            attempts: Set(0),
            used_at: Set(None),
            first_factor: Set(first_factor.to_owned()),
        }
        .insert(&self.db)
        .await?;
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
        self.limits
            .hit(Action::SecondFactor, Subject::Ip(client.ip), now)
            .await?;
        // Failures also count per account, so guesses spread over many addresses and
        // many pending logins are bounded too.
        self.limits
            .check(Action::SecondFactor, Subject::Account(user_id), now)
            .await?;
        let none_pending = || {
            Error::unauthenticated(
                "No sign-in of this user is waiting for a second factor (or it expired); log in with your password again.",
            )
        };
        let mut q = mfa_challenge::Entity::find()
            .filter(mfa_challenge::Column::UserId.eq(user_id))
            .filter(mfa_challenge::Column::UsedAt.is_null())
            .filter(mfa_challenge::Column::ExpiresAt.gt(now));
        if let Some(t) = mfa_token {
            q = q.filter(mfa_challenge::Column::TokenHash.eq(token_hash(t)));
        }
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
            self.limits
                .hit(Action::SecondFactor, Subject::Account(user_id), now)
                .await?;
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
        self.complete_login(&user, &amr, client, Some("second factor".into()), now)
            .await
    }
}
