//! Social login: provider token exchanges (the TokenBot names google_auth, apple_auth,
//! x_auth, github_auth), the web authorization-code flow, and the providers linked to
//! an account.
use async_graphql::{Context, Enum, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::directives::{public, user_token};
use super::state;
use super::types::{LoginResult, time};
use crate::idm::social::{LinkedProvider as Linked, Provider};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OAuthProvider")]
pub enum OAuthProvider {
    Google,
    Apple,
    X,
    Github,
}

impl From<OAuthProvider> for Provider {
    fn from(p: OAuthProvider) -> Self {
        match p {
            OAuthProvider::Google => Provider::Google,
            OAuthProvider::Apple => Provider::Apple,
            OAuthProvider::X => Provider::X,
            OAuthProvider::Github => Provider::Github,
        }
    }
}

impl From<Provider> for OAuthProvider {
    fn from(p: Provider) -> Self {
        match p {
            Provider::Google => OAuthProvider::Google,
            Provider::Apple => OAuthProvider::Apple,
            Provider::X => OAuthProvider::X,
            Provider::Github => OAuthProvider::Github,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "OAuthStart")]
pub struct OAuthStart {
    /// The provider's authorization URL (PKCE S256, state, nonce).
    pub url: String,
    pub state: String,
}

/// A provider account linked to the signed-in user.
#[derive(SimpleObject)]
pub struct LinkedProvider {
    pub provider: OAuthProvider,
    /// The email the provider gave at the last sign-in, if any.
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
    pub last_login_at: DateTime<Utc>,
}

impl From<Linked> for LinkedProvider {
    fn from(l: Linked) -> Self {
        Self {
            provider: l.provider.into(),
            email: l.email,
            linked_at: time(l.linked_at),
            last_login_at: time(l.last_login_at),
        }
    }
}

#[derive(Default)]
pub struct SocialQuery;

#[Object]
impl SocialQuery {
    /// The social providers linked to the signed-in user.
    #[graphql(directive = user_token::apply(None))]
    async fn linked_providers(&self, ctx: &Context<'_>) -> Result<Vec<LinkedProvider>> {
        let (idm, caller) = state(ctx)?;
        let list = idm.linked_providers(caller.acting()?.user_id).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct SocialMutation;

#[Object]
impl SocialMutation {
    /// Signs in with a Google ID token. `nonce`: the one the app gave Google, if any.
    #[graphql(name = "google_auth", directive = public::apply())]
    async fn google_auth(
        &self,
        ctx: &Context<'_>,
        token: String,
        nonce: Option<String>,
    ) -> Result<LoginResult> {
        let (idm, caller) = state(ctx)?;
        let step = idm
            .id_token_login(
                Provider::Google,
                &token,
                nonce.as_deref(),
                None,
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(step.into())
    }

    /// Signs in with an Apple identity token. `nonce`: the raw nonce whose SHA-256 the
    /// app gave Apple (or the nonce itself); `firstName`: Apple sends the name to the app
    /// on the first sign-in only.
    #[graphql(name = "apple_auth", directive = public::apply())]
    async fn apple_auth(
        &self,
        ctx: &Context<'_>,
        token: String,
        nonce: Option<String>,
        first_name: Option<String>,
    ) -> Result<LoginResult> {
        let (idm, caller) = state(ctx)?;
        let step = idm
            .id_token_login(
                Provider::Apple,
                &token,
                nonce.as_deref(),
                first_name.as_deref(),
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(step.into())
    }

    /// Signs in with an X OAuth 2.0 user access token.
    #[graphql(name = "x_auth", directive = public::apply())]
    async fn x_auth(&self, ctx: &Context<'_>, token: String) -> Result<LoginResult> {
        let (idm, caller) = state(ctx)?;
        let step = idm
            .access_token_login(Provider::X, &token, &caller.client, caller.now)
            .await?;
        Ok(step.into())
    }

    /// Signs in with a GitHub OAuth access token.
    #[graphql(name = "github_auth", directive = public::apply())]
    async fn github_auth(&self, ctx: &Context<'_>, token: String) -> Result<LoginResult> {
        let (idm, caller) = state(ctx)?;
        let step = idm
            .access_token_login(Provider::Github, &token, &caller.client, caller.now)
            .await?;
        Ok(step.into())
    }

    /// Starts a web sign-in: the provider URL to send the browser to. `redirectUri`
    /// must be on the server's allowlist.
    #[graphql(directive = public::apply())]
    async fn oauth_authorization_url(
        &self,
        ctx: &Context<'_>,
        provider: OAuthProvider,
        redirect_uri: String,
    ) -> Result<OAuthStart> {
        let (idm, caller) = state(ctx)?;
        let start = idm
            .oauth_authorization_url(
                provider.into(),
                &redirect_uri,
                caller.user.as_ref().map(|u| u.user_id.as_str()),
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(OAuthStart {
            url: start.url,
            state: start.state,
        })
    }

    /// Finishes a web sign-in with the code and state the provider sent back.
    /// `firstName`: Apple posts the user's name to the redirect page on the first
    /// sign-in only; pass it on.
    #[graphql(directive = public::apply())]
    async fn oauth_callback(
        &self,
        ctx: &Context<'_>,
        provider: OAuthProvider,
        code: String,
        state: String,
        first_name: Option<String>,
    ) -> Result<LoginResult> {
        let (idm, caller) = self::state(ctx)?;
        let step = idm
            .oauth_callback(
                provider.into(),
                &code,
                &state,
                first_name.as_deref(),
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(step.into())
    }

    /// Links another provider to the signed-in user: start with oauthAuthorizationUrl
    /// sent with the same user's access token, then pass the code and state the provider
    /// sent to the redirect page here (instead of oauthCallback). Needs a verified email
    /// and a sign-in within the last 15 minutes; answers the linked providers.
    #[graphql(directive = user_token::apply(None))]
    async fn link_provider(
        &self,
        ctx: &Context<'_>,
        provider: OAuthProvider,
        code: String,
        state: String,
    ) -> Result<Vec<LinkedProvider>> {
        let (idm, caller) = self::state(ctx)?;
        let user = caller.acting()?;
        let list = idm
            .link_provider(
                (user.user_id, user.session_id),
                provider.into(),
                &code,
                &state,
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// Unlinks a provider from the signed-in user, unless it is the only way to sign in.
    #[graphql(directive = user_token::apply(None))]
    async fn unlink_provider(&self, ctx: &Context<'_>, provider: OAuthProvider) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        let user = caller.acting()?;
        Ok(idm
            .unlink_provider(
                (user.user_id, user.session_id),
                provider.into(),
                &caller.client,
                caller.now,
            )
            .await?)
    }
}
