//! Passkeys (WebAuthn). Operation and argument names follow the TokenBot docs
//! verbatim, as the contract requires. `options` and `credential` are the browser's
//! own JSON (`{"publicKey": …}` in, `credential.toJSON()` back).
use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::directives::{public, user_token};
use super::state;
use super::types::{AuthPayload, time};
use crate::idm::passkeys::PasskeyInfo;

#[derive(SimpleObject)]
pub struct PasskeyChallenge {
    /// WebAuthn JSON `{"publicKey": {...}}` for navigator.credentials.create/get.
    pub options: Json<Value>,
}

#[derive(SimpleObject)]
pub struct Passkey {
    pub id: ID,
    pub device_name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub backed_up: bool,
}

impl From<PasskeyInfo> for Passkey {
    fn from(p: PasskeyInfo) -> Self {
        Self {
            id: p.id.into(),
            device_name: p.device_name,
            created_at: time(p.created_at),
            last_used_at: p.last_used_at.map(time),
            backed_up: p.backed_up,
        }
    }
}

#[derive(Default)]
pub struct PasskeysQuery;

#[Object]
impl PasskeysQuery {
    /// The signed-in user's passkeys, oldest first.
    #[graphql(directive = user_token::apply(None))]
    async fn user_passkeys(&self, ctx: &Context<'_>) -> Result<Vec<Passkey>> {
        let (idm, caller) = state(ctx)?;
        let list = idm.user_passkeys(caller.acting()?.user_id).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct PasskeysMutation;

#[Object]
impl PasskeysMutation {
    /// Options for navigator.credentials.create (a discoverable credential; the user's
    /// passkeys are excluded). Valid for 5 minutes, once.
    #[graphql(directive = user_token::apply(None))]
    async fn generate_passkey_registration_challenge(
        &self,
        ctx: &Context<'_>,
    ) -> Result<PasskeyChallenge> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        let options = idm
            .passkey_registration_options(user.user_id, user.session_id, caller.now)
            .await?;
        Ok(PasskeyChallenge {
            options: Json(options),
        })
    }

    /// Stores the credential the browser created (credential.toJSON()).
    #[graphql(directive = user_token::apply(None))]
    async fn register_passkey(
        &self,
        ctx: &Context<'_>,
        credential: Json<Value>,
        #[graphql(name = "device_name")] device_name: String,
    ) -> Result<Passkey> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        let p = idm
            .register_passkey(
                user.user_id,
                user.session_id,
                credential.0,
                &device_name,
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(p.into())
    }

    /// Options for navigator.credentials.get: that user's passkeys, or with no email a
    /// discoverable (usernameless) challenge. Valid for 5 minutes, once.
    #[graphql(directive = public::apply())]
    async fn generate_passkey_login_challenge(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
    ) -> Result<PasskeyChallenge> {
        let (idm, caller) = state(ctx)?;
        let options = idm
            .passkey_login_options(email.as_deref(), &caller.client, caller.now)
            .await?;
        Ok(PasskeyChallenge {
            options: Json(options),
        })
    }

    /// Signs in with the browser's assertion (credential.toJSON()). `recaptcha_token` is
    /// required when `[captcha] verify_url` is set.
    #[graphql(directive = public::apply())]
    async fn login_with_passkey(
        &self,
        ctx: &Context<'_>,
        credential: Json<Value>,
        #[graphql(name = "recaptcha_token")] recaptcha_token: Option<String>,
    ) -> Result<AuthPayload> {
        let (idm, caller) = state(ctx)?;
        let tokens = idm
            .login_with_passkey(
                credential.0,
                recaptcha_token.as_deref(),
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(tokens.into())
    }

    #[graphql(directive = user_token::apply(None))]
    async fn rename_passkey(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "device_name")] device_name: String,
    ) -> Result<Passkey> {
        let (idm, caller) = state(ctx)?;
        let p = idm
            .rename_passkey(caller.acting()?.user_id, &id, &device_name)
            .await?;
        Ok(p.into())
    }

    #[graphql(directive = user_token::apply(None))]
    async fn delete_passkey(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        Ok(idm
            .delete_passkey(
                (user.user_id, user.session_id),
                &id,
                &caller.client,
                caller.now,
            )
            .await?)
    }
}
