//! X and GitHub access tokens: we ask the provider who the token belongs to.
//! X: GET `userinfo_url` (API v2 users/me). GitHub: first GitHub's token check
//! (POST `{api_url}/applications/{client_id}/token`: was it issued to this app?), then
//! GET `{api_url}/user` and `{api_url}/user/emails` (the primary, verified address).
//! X has no such check: any X app's token for a user signs that user in (README).
//! A token the provider refuses
//! is UNAUTHENTICATED; a provider that cannot be reached or answers an error is an
//! error that names it.
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Provider, ProviderIdentity};
use crate::idm::Idm;
use crate::idm::error::{Error, Result};

#[derive(Deserialize)]
struct XUser {
    data: XUserData,
}

#[derive(Deserialize)]
struct XUserData {
    id: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

fn down(p: Provider, what: &dyn std::fmt::Display) -> Error {
    tracing::warn!(provider = p.as_str(), error = %what, "provider request");
    Error::unavailable(format!(
        "{} could not be reached or answered an error; try again shortly.",
        p.name()
    ))
}

fn first_name(name: Option<String>) -> Option<String> {
    name.map(|n| n.trim().chars().take(64).collect::<String>())
        .filter(|n| !n.is_empty())
}

impl Idm {
    /// GitHub's "check a token" API: is this access token one that GitHub issued to
    /// this app (`oauth.github.client_id`)? Without it, a token any other GitHub app
    /// obtained for a user would sign that user in here.
    pub async fn github_token_is_ours(&self, token: &str) -> Result<()> {
        let p = Provider::Github;
        let s = self.provider_settings(p)?;
        let secret = s.client_secret.expose_secret();
        if secret.is_empty() {
            return Err(Error::bad_input(
                "github sign-in by access token needs oauth.github.client_secret, to check that tokens were issued to this app",
            ));
        }
        let client_id = s.client_id.split(',').next().unwrap_or_default().trim();
        let url = format!(
            "{}/applications/{client_id}/token",
            s.api_url.trim_end_matches('/')
        );
        let answer = self
            .http
            .post(url)
            .basic_auth(client_id, Some(secret))
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .json(&serde_json::json!({ "access_token": token }))
            .send()
            .await
            .map_err(|e| down(p, &e))?;
        match answer.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => {
                Err(Error::unauthenticated(
                    "GitHub says this access token was not issued to this app (or it is revoked).",
                ))
            }
            s => {
                // 401/403: GitHub refused our own client id and secret.
                Err(down(p, &s))
            }
        }
    }

    /// GET `url` with the caller's token. `Ok(None)`: the provider answered 403/404
    /// (a scope the token lacks), for optional lookups.
    async fn provider_get<T: DeserializeOwned>(
        &self,
        p: Provider,
        url: &str,
        token: &str,
    ) -> Result<Option<T>> {
        let answer = self
            .http
            .get(url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| down(p, &e))?;
        match answer.status() {
            StatusCode::UNAUTHORIZED => Err(Error::unauthenticated(format!(
                "{} did not accept this access token (it may be expired or revoked).",
                p.name()
            ))),
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => answer.json().await.map(Some).map_err(|e| down(p, &e)),
            s => Err(down(p, &s)),
        }
    }

    /// Who an X or GitHub access token belongs to.
    pub async fn provider_user(&self, p: Provider, token: &str) -> Result<ProviderIdentity> {
        let s = self.provider_settings(p)?;
        let refused =
            || Error::unauthenticated(format!("{} did not accept this access token.", p.name()));
        match p {
            Provider::X => {
                let me: XUser = self
                    .provider_get(p, &s.userinfo_url, token)
                    .await?
                    .ok_or_else(refused)?;
                Ok(ProviderIdentity {
                    provider: p,
                    subject: me.data.id,
                    email: None,
                    email_verified: false,
                    first_name: first_name(me.data.name),
                })
            }
            Provider::Github => {
                let base = s.api_url.trim_end_matches('/');
                let me: GithubUser = self
                    .provider_get(p, &format!("{base}/user"), token)
                    .await?
                    .ok_or_else(refused)?;
                let emails: Vec<GithubEmail> = self
                    .provider_get(p, &format!("{base}/user/emails"), token)
                    .await?
                    .unwrap_or_default();
                let primary = emails.into_iter().find(|e| e.primary && e.verified);
                Ok(ProviderIdentity {
                    provider: p,
                    subject: me.id.to_string(),
                    email_verified: primary.is_some(),
                    email: primary.map(|e| e.email),
                    first_name: first_name(me.name),
                })
            }
            Provider::Google | Provider::Apple => Err(Error::bad_input(format!(
                "{} signs in with an ID token, not an access token.",
                p.name()
            ))),
        }
    }
}
