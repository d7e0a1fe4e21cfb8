//! Two-factor authentication (TOTP and recovery codes). Operation and argument names
//! follow the TokenBot docs verbatim (snake_case), as the contract requires.
use async_graphql::{Context, ID, Object, Result};

use super::directives::{public, user_token};
use super::state;
use super::types::{AuthPayload, TwoFactorEnabled, TwoFactorSetup};

#[derive(Default)]
pub struct TwoFactorMutation;

#[Object]
impl TwoFactorMutation {
    /// A new authenticator secret (pending until enable_2fa confirms it).
    #[graphql(name = "generate_2fa", directive = user_token::apply(None))]
    async fn generate_2fa(&self, ctx: &Context<'_>) -> Result<TwoFactorSetup> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        let s = idm
            .generate_2fa(user.user_id, user.session_id, caller.now)
            .await?;
        Ok(TwoFactorSetup {
            secret: s.secret_base32,
            otpauth_url: s.otpauth_url,
            qr_code_png: s.qr_png_base64,
        })
    }

    /// Confirms the pending secret with a current code; returns ten recovery codes, once.
    #[graphql(name = "enable_2fa", directive = user_token::apply(None))]
    async fn enable_2fa(&self, ctx: &Context<'_>, token: String) -> Result<TwoFactorEnabled> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        let codes = idm
            .enable_2fa(
                user.user_id,
                user.session_id,
                &token,
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(TwoFactorEnabled {
            enabled: true,
            recovery_codes: codes,
        })
    }

    /// Completes a login that answered TwoFactorRequired: a TOTP code or a recovery code.
    #[graphql(name = "verify_2fa_code", directive = public::apply())]
    async fn verify_2fa_code(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "user_id")] user_id: ID,
        token: String,
        #[graphql(name = "mfa_token")] mfa_token: Option<String>,
    ) -> Result<AuthPayload> {
        let (idm, caller) = state(ctx)?;
        let tokens = idm
            .verify_2fa_code(
                &user_id,
                &token,
                mfa_token.as_deref(),
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(tokens.into())
    }

    /// Turns 2FA off; needs a current code or a recovery code.
    #[graphql(name = "disable_2fa", directive = user_token::apply(None))]
    async fn disable_2fa(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        Ok(idm
            .disable_2fa(
                (user.user_id, user.session_id),
                &token,
                &caller.client,
                caller.now,
            )
            .await?)
    }

    /// Replaces the recovery codes; needs a current code or a recovery code.
    #[graphql(directive = user_token::apply(None))]
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<Vec<String>> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        Ok(idm
            .regenerate_recovery_codes(
                (user.user_id, user.session_id),
                &token,
                &caller.client,
                caller.now,
            )
            .await?)
    }
}
