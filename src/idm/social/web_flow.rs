//! The web authorization-code flow, with the oauth2 crate: `oauthAuthorizationUrl`
//! builds the provider's URL (PKCE S256, a random state and, for the OpenID providers,
//! a nonce) and stores the flow server-side for 10 minutes, keyed by the state's
//! SHA-256; `oauthCallback` claims it once, exchanges the code with the verifier at
//! `token_url`, and continues as the token exchange does. The redirect URI must be on
//! the `[oauth] redirect_uris` allowlist (exact match): no open redirect.
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::{Provider, ProviderIdentity};
use crate::config::ProviderSettings;
use crate::entities::oauth_state;
use crate::idm::accounts::LoginStep;
use crate::idm::crypto::{random_token, token_hash};
use crate::idm::error::{Error, Result};
use crate::idm::rate_limit::{Action, Subject};
use crate::idm::{ClientInfo, Idm};

/// How long a user may take at the provider.
pub const FLOW_TTL_SECS: i64 = 600;
/// Apple's client-secret JWTs are made per request and live this long.
const APPLE_SECRET_TTL_SECS: i64 = 300;

/// The token response's OpenID field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type TokenAnswer = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The start of a web sign-in.
pub struct FlowStart {
    pub url: String,
    pub state: String,
}

fn scopes(p: Provider) -> &'static [&'static str] {
    match p {
        Provider::Google => &["openid", "email", "profile"],
        Provider::Apple => &["name", "email"],
        Provider::X => &["users.read", "tweet.read"],
        Provider::Github => &["read:user", "user:email"],
    }
}

fn misconfigured(p: Provider, what: &str) -> Error {
    Error::Internal(anyhow::anyhow!(
        "setting `oauth.{}.{what}` is not a valid URL",
        p.as_str()
    ))
}

/// Apple's client secret: an ES256 JWT from the team id, key id and .p8 key.
fn apple_client_secret(s: &ProviderSettings, now: i64) -> Result<String> {
    #[derive(Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        sub: &'a str,
        aud: &'a str,
        iat: i64,
        exp: i64,
    }
    let key = EncodingKey::from_ec_pem(s.private_key.expose_secret().as_bytes()).map_err(|e| {
        Error::Internal(anyhow::anyhow!(
            "setting `oauth.apple.private_key` is not a PKCS#8 EC key (.p8): {e}"
        ))
    })?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(s.key_id.clone());
    let client_id = s.client_id.split(',').next().unwrap_or_default().trim();
    let claims = Claims {
        iss: &s.team_id,
        sub: client_id,
        aud: &s.issuer,
        iat: now,
        exp: now + APPLE_SECRET_TTL_SECS,
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| Error::Internal(anyhow::anyhow!("signing Apple's client secret: {e}")))
}

impl Idm {
    fn oauth_client(&self, p: Provider, redirect_uri: &str, now: i64) -> Result<OAuthClient> {
        let s = self.provider_settings(p)?;
        let client_id = s.client_id.split(',').next().unwrap_or_default().trim();
        let apple_jwt = p == Provider::Apple && !s.private_key.expose_secret().is_empty();
        let secret = if apple_jwt {
            apple_client_secret(s, now)?
        } else {
            s.client_secret.expose_secret().to_owned()
        };
        let mut client = oauth2::Client::new(ClientId::new(client_id.to_owned()))
            .set_auth_uri(
                AuthUrl::new(s.auth_url.clone()).map_err(|_| misconfigured(p, "auth_url"))?,
            )
            .set_token_uri(
                TokenUrl::new(s.token_url.clone()).map_err(|_| misconfigured(p, "token_url"))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_owned())
                    .map_err(|_| Error::bad_input("redirectUri is not a valid URL."))?,
            );
        if !secret.is_empty() {
            client = client.set_client_secret(ClientSecret::new(secret));
        }
        if p == Provider::Apple {
            // Apple takes client_id and client_secret in the form body only.
            client = client.set_auth_type(AuthType::RequestBody);
        }
        Ok(client)
    }

    /// oauthAuthorizationUrl: the provider's URL for this redirect URI.
    /// `[oauth] redirect_uris` (exact match), and, with the server's own pages on, its
    /// own callback page for this provider (`{public_url}/oauth/callback/{provider}`).
    fn redirect_uri_allowed(&self, p: Provider, redirect_uri: &str) -> bool {
        let s = &self.settings;
        let own = s.console.enabled
            && redirect_uri
                .strip_prefix(s.public_url.trim_end_matches('/'))
                .and_then(|rest| rest.strip_prefix("/oauth/callback/"))
                == Some(p.as_str());
        own || s.oauth.redirect_uris.iter().any(|u| u == redirect_uri)
    }

    /// Starts a web flow. `started_by`: the signed-in user asking (a user token), whom a
    /// `link_provider` with this flow's state must be.
    pub async fn oauth_authorization_url(
        &self,
        p: Provider,
        redirect_uri: &str,
        started_by: Option<&str>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<FlowStart> {
        self.provider_settings(p)?;
        // Each start stores a row for 10 minutes: counted like a sign-in attempt.
        self.limits
            .hit(Action::Login, Subject::Ip(client.ip), now)
            .await?;
        if !self.redirect_uri_allowed(p, redirect_uri) {
            return Err(Error::bad_input(
                "redirectUri is not on this server's allowlist ([oauth] redirect_uris); add it there, exactly as the app sends it.",
            ));
        }
        let client = self.oauth_client(p, redirect_uri, now)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = random_token();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes(p).iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge);
        if matches!(p, Provider::Google | Provider::Apple) {
            request = request.add_extra_param("nonce", nonce.clone());
        }
        if p == Provider::Apple {
            // Apple sends name and email only to a form POST.
            request = request.add_extra_param("response_mode", "form_post");
        }
        let (url, state) = request.url();
        oauth_state::Entity::delete_many()
            .filter(oauth_state::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        oauth_state::ActiveModel {
            state_hash: Set(token_hash(state.secret())),
            provider: Set(p.as_str().to_owned()),
            redirect_uri: Set(redirect_uri.to_owned()),
            pkce_verifier: Set(verifier.secret().to_owned()),
            nonce: Set(nonce),
            expires_at: Set(now + FLOW_TTL_SECS),
            user_id: Set(started_by.map(str::to_owned)),
        }
        .insert(&self.db)
        .await?;
        Ok(FlowStart {
            url: url.to_string(),
            state: state.secret().to_owned(),
        })
    }

    /// oauthCallback: the code the provider sent back, with the state we made.
    #[tracing::instrument(skip_all, fields(provider = p.as_str()))]
    pub async fn oauth_callback(
        &self,
        p: Provider,
        code: &str,
        state: &str,
        first_name: Option<&str>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<LoginStep> {
        let who = self
            .identity_from_code(p, code, state, None, client, now)
            .await?;
        self.social_login(who.or_first_name(first_name), client, now)
            .await
    }

    /// Who the provider says signed in: the state claimed once, the code exchanged
    /// with its PKCE verifier, the ID token or the provider's API checked.
    /// With `linking`, the flow must have been started by that user.
    pub(super) async fn identity_from_code(
        &self,
        p: Provider,
        code: &str,
        state: &str,
        linking: Option<&str>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<ProviderIdentity> {
        self.provider_settings(p)?;
        self.limits
            .hit(Action::Login, Subject::Ip(client.ip), now)
            .await?;
        if code.is_empty() || code.len() > 4096 || state.len() > 512 {
            return Err(Error::bad_input("The code or state is malformed."));
        }
        let gone = || {
            Error::bad_input(
                "This sign-in state is unknown, expired or already used; start the sign-in again.",
            )
        };
        let hash = token_hash(state);
        let flow = oauth_state::Entity::find_by_id(hash.clone())
            .one(&self.db)
            .await?
            .filter(|f| f.expires_at > now && f.provider == p.as_str())
            .ok_or_else(gone)?;
        if let Some(user_id) = linking
            && flow.user_id.as_deref() != Some(user_id)
        {
            return Err(Error::bad_input(
                "This flow was not started by this account: start linking again from your account (oauthAuthorizationUrl, signed in).",
            ));
        }
        let claimed = oauth_state::Entity::delete_many()
            .filter(oauth_state::Column::StateHash.eq(hash))
            .exec(&self.db)
            .await?;
        if claimed.rows_affected != 1 {
            return Err(gone());
        }
        let answer = self
            .oauth_client(p, &flow.redirect_uri, now)?
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => Error::unauthenticated(format!(
                    "{} refused the authorization code ({}); start the sign-in again.",
                    p.name(),
                    r.error()
                )),
                other => {
                    tracing::warn!(provider = p.as_str(), error = %other, "token exchange");
                    Error::unavailable(format!(
                        "{} could not be reached or answered an error; try again shortly.",
                        p.name()
                    ))
                }
            })?;
        match p {
            Provider::Google | Provider::Apple => {
                let id_token = answer.extra_fields().id_token.as_deref().ok_or_else(|| {
                    Error::unavailable(format!("{} answered without an ID token.", p.name()))
                })?;
                self.verify_id_token(p, id_token, Some(&flow.nonce), now)
                    .await
            }
            Provider::X | Provider::Github => {
                self.provider_user(p, answer.access_token().secret()).await
            }
        }
    }
}
