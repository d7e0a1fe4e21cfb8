//! Accounts: signup, login, tokens, sessions, email verification, password reset.
//! Each resolver parses its arguments, calls one core function and maps the result.
use async_graphql::{Context, ID, Object, Result};

use super::directives::{api_key, public, user_token};
use super::state;
use super::types::{ApiKeyScope, AuthPayload, LoginResult, Session, SignupResult, User};
use crate::idm::accounts::NewAccount;

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in user (or the owner of the API key).
    #[graphql(directive = user_token::apply(None), directive = api_key::apply(Some(vec![ApiKeyScope::Read])))]
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let (idm, caller) = state(ctx)?;
        let mut user = idm.user(caller.acting()?.user_id, caller.now).await?;
        // `tenantId` is the caller's current tenant: the token's, or the key's.
        if let Some(tenant) = caller.current_tenant().filter(|t| !t.is_empty()) {
            user.tenant_id = tenant.to_owned();
        }
        Ok(user.into())
    }

    /// Whether a password-reset token can still be used (to show the form or an error).
    #[graphql(directive = public::apply())]
    async fn validate_password_reset_token(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .validate_password_reset_token(&token, &caller.client, caller.now)
            .await?)
    }

    /// The signed-in user's live sessions, newest first.
    #[graphql(directive = user_token::apply(None))]
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<Session>> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        let list = idm
            .list_sessions(user.user_id, user.session_id, caller.now)
            .await?;
        Ok(list.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Creates an account (and its tenant) and signs it in. A verification email is sent.
    /// With `invitationToken`, joins that tenant instead (the email must be the invited
    /// one, and counts as verified).
    #[graphql(directive = public::apply())]
    async fn signup(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        first_name: Option<String>,
        username: Option<String>,
        invitation_token: Option<String>,
    ) -> Result<SignupResult> {
        let (idm, caller) = state(ctx)?;
        let new = NewAccount {
            email: &email,
            password: &password,
            first_name: first_name.as_deref(),
            username: username.as_deref(),
            invitation_token: invitation_token.as_deref(),
        };
        let done = idm.signup(new, &caller.client, caller.now).await?;
        Ok(SignupResult {
            email_verified: done.tokens.user.email_verified,
            tenant_id: ID(done.tenant_id),
            api_key: done.api_key.map(Into::into),
            auth: done.tokens.into(),
        })
    }

    #[graphql(directive = public::apply())]
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<LoginResult> {
        let (idm, caller) = state(ctx)?;

        Ok(idm
            .login(&email, &password, &caller.client, caller.now)
            .await?
            .into())
    }

    /// Exchanges a refresh token (single use) for a new token pair.
    #[graphql(directive = public::apply())]
    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .refresh(&refresh_token, &caller.client, caller.now)
            .await?
            .into())
    }

    #[graphql(directive = user_token::apply(None))]
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] all_sessions: Option<bool>,
    ) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        Ok(idm
            .logout(
                user.user_id,
                user.session_id,
                all_sessions.unwrap_or(false),
                &caller.client,
                caller.now,
            )
            .await?)
    }

    #[graphql(directive = user_token::apply(None))]
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .revoke_session(caller.acting()?.user_id, &id, &caller.client, caller.now)
            .await?)
    }

    /// Signs out every session of the signed-in user but this one, at once; answers how
    /// many ended.
    #[graphql(directive = user_token::apply(None))]
    async fn revoke_other_sessions(&self, ctx: &Context<'_>) -> Result<i32> {
        let (idm, caller) = state(ctx)?;
        let me = caller.acting()?;
        let n = idm
            .revoke_other_sessions(me.user_id, me.session_id, &caller.client, caller.now)
            .await?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    #[graphql(directive = user_token::apply(None))]
    async fn mark_welcome_seen(&self, ctx: &Context<'_>) -> Result<User> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .mark_welcome_seen(caller.acting()?.user_id, caller.now)
            .await?
            .into())
    }

    /// Changes the signed-in user's first name and username (1..128 and 1..64
    /// characters). An omitted or null argument leaves that field as it is; an empty
    /// string clears it.
    #[graphql(directive = user_token::apply(None))]
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        first_name: Option<String>,
        username: Option<String>,
    ) -> Result<User> {
        let (idm, caller) = state(ctx)?;
        let change = crate::idm::profile::ProfileChange {
            first_name: first_name.as_deref(),
            username: username.as_deref(),
        };
        Ok(idm
            .update_profile(caller.acting()?.user_id, change, &caller.client, caller.now)
            .await?
            .into())
    }

    /// Changes the password; the user's other sessions are signed out.
    #[graphql(directive = user_token::apply(None))]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        Ok(idm
            .change_password(
                user.user_id,
                user.session_id,
                &current_password,
                &new_password,
                &caller.client,
                caller.now,
            )
            .await?)
    }

    #[graphql(directive = user_token::apply(None))]
    async fn request_email_verification(&self, ctx: &Context<'_>) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .request_email_verification(caller.acting()?.user_id, caller.now)
            .await?)
    }

    #[graphql(directive = public::apply())]
    async fn confirm_email_verification(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .confirm_email_verification(&token, &caller.client, caller.now)
            .await?)
    }

    /// Always true, whether or not the address is known.
    #[graphql(directive = public::apply())]
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .request_password_reset(&email, &caller.client, caller.now)
            .await?)
    }

    /// Sets a new password from a reset link; every session of the user is signed out.
    #[graphql(directive = public::apply())]
    async fn confirm_password_reset(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .confirm_password_reset(&token, &new_password, &caller.client, caller.now)
            .await?)
    }
}
