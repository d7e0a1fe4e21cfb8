//! The flows behind the emailed links: email verification and password reset.
use sea_orm::sea_query::Expr;

use super::accounts::parse_password;
use super::audit::{self, Event};
use super::email_tokens::{self, Purpose};
use super::error::{Error, Result};
use super::rate_limit::{Action, Subject};
use super::{ClientInfo, Idm};
use crate::domain::Email;
use crate::entities::user;

/// The background half of `request_password_reset`: an active account with the
/// address gets a new link (voiding its older ones).
async fn send_reset_link(
    db: &sea_orm::DatabaseConnection,
    mailer: &super::mail::Mailer,
    email: &str,
    now: i64,
) -> Result<()> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let Some(user) = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .filter(user::Column::IsActive.eq(true))
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let token = email_tokens::issue(db, &user.id, Purpose::ResetPassword, now).await?;
    mailer.send_link_later(Purpose::ResetPassword, email.to_owned(), token);
    Ok(())
}

impl Idm {
    pub async fn request_email_verification(&self, user_id: &str, now: i64) -> Result<bool> {
        self.limits
            .hit(Action::Mail, Subject::Account(user_id), now)
            .await?;
        let user = self.user(user_id, now).await?;
        let Some(email) = user.email else {
            return Err(Error::bad_input(
                "This account has no email address to verify.",
            ));
        };
        if user.email_verified {
            return Err(Error::bad_input("Your email address is already verified."));
        }
        let token = email_tokens::issue(&self.db, user_id, Purpose::VerifyEmail, now).await?;
        self.mailer
            .send_link_later(Purpose::VerifyEmail, email, token);
        Ok(true)
    }

    pub async fn confirm_email_verification(
        &self,
        token: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        self.limits
            .hit(Action::TokenCheck, Subject::Ip(client.ip), now)
            .await?;
        let Some(user_id) =
            email_tokens::consume(&self.db, token, Purpose::VerifyEmail, now).await?
        else {
            return Err(Error::bad_input(
                "This verification link is invalid, expired or already used; request a new one.",
            ));
        };
        self.update_user(
            &user_id,
            vec![(user::Column::EmailVerified, Expr::value(true))],
            now,
        )
        .await?;
        audit::record(
            &self.db,
            Event::EmailVerified,
            Some(&user_id),
            client,
            None,
            now,
        )
        .await;
        Ok(true)
    }

    /// Always true: whether the address is known is not revealed, by answer or timing.
    /// The answer waits only for the rate limits, which are the same for every address;
    /// looking the account up, writing the token and sending the email happen after it,
    /// in the background (a failure there is logged, never answered).
    pub async fn request_password_reset(
        &self,
        email: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        self.limits
            .hit(Action::Mail, Subject::Ip(client.ip), now)
            .await?;
        self.limits
            .hit(
                Action::Mail,
                Subject::Account(&Email::lookup_key(email)),
                now,
            )
            .await?;
        let Some(email) = Email::normalise(email) else {
            return Ok(true); // no account can have it
        };
        let db = self.db.clone();
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            if let Err(e) = send_reset_link(&db, &mailer, &email, now).await {
                tracing::error!(error = %e, "sending a password reset link");
            }
        });
        Ok(true)
    }

    pub async fn validate_password_reset_token(
        &self,
        token: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        self.limits
            .hit(Action::TokenCheck, Subject::Ip(client.ip), now)
            .await?;
        Ok(
            email_tokens::peek(&self.db, token, Purpose::ResetPassword, now)
                .await?
                .is_some(),
        )
    }

    /// Sets a new password from a reset link; the link proves control of the address,
    /// so the email becomes verified. Every session of the user is revoked; on an
    /// account whose email was unproven, its API keys, identities and any factors go too.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        self.limits
            .hit(Action::TokenCheck, Subject::Ip(client.ip), now)
            .await?;
        let invalid = || {
            Error::bad_input(
                "This password reset link is invalid, expired or already used; request a new one.",
            )
        };
        let user_id = email_tokens::peek(&self.db, token, Purpose::ResetPassword, now)
            .await?
            .ok_or_else(invalid)?;
        let user = self.find_user(&user_id).await?.ok_or_else(invalid)?;
        let password = parse_password(
            new,
            user.email.as_deref(),
            &[user.first_name.as_deref(), user.username.as_deref()],
        )?;
        if email_tokens::consume(&self.db, token, Purpose::ResetPassword, now)
            .await?
            .is_none()
        {
            return Err(invalid());
        }
        if user.email_verified {
            self.revoke_sessions(&user_id, None, None, now).await?;
        } else {
            // The link proves the mailbox for the first time: whatever the account
            // gathered before may be a squatter's (`unproven`).
            self.strip_unproven_account(&user_id, Vec::new(), now)
                .await?;
        }
        self.set_password(&user_id, password, true, now).await?;
        // Logins waiting for a second factor were opened with the old password, and the
        // mailbox is proven now: older verification links have nothing left to do.
        super::mfa_login::void_pending_logins(&self.db, &user_id).await?;
        email_tokens::void(&self.db, &user_id, Purpose::VerifyEmail, now).await?;
        audit::record(
            &self.db,
            Event::PasswordReset,
            Some(&user_id),
            client,
            None,
            now,
        )
        .await;
        Ok(true)
    }
}
