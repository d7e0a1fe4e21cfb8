//! The credential extractor: turns a request's credentials (Bearer JWT, Bearer API key,
//! X-API-Key, X-Service-Token) into one `Caller`. A credential that is present but
//! invalid marks the caller invalid, never anonymous.
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::AppState;
use crate::auth::{Caller, KeyCaller, UserCaller};
use crate::idm::{ClientInfo, now};

pub const INVALID_TOKEN: &str = "Invalid or expired access token; sign in again.";
pub const INVALID_KEY: &str = "Invalid or missing API key";
pub const INVALID_SERVICE: &str = "Invalid service token.";
pub const BAD_SCHEME: &str = "Unsupported Authorization header: use `Bearer <token>`.";

impl<S> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(caller_from(&app, &parts.headers, peer).await)
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The client's address: the socket peer, unless the peer is a trusted proxy, in which
/// case the right-most X-Forwarded-For entry that is not itself a trusted proxy.
pub fn client_ip(app: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
    let proxies = &app.idm.settings.trusted_proxies;
    let trusted = |ip: &IpAddr| proxies.iter().any(|net| net.contains(ip));
    let peer = peer?;
    if !trusted(&peer) {
        return Some(peer);
    }
    // Every X-Forwarded-For line, in order: a proxy may append its own line rather
    // than extend the client's, and the client writes the first one.
    let lines: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    let hops = lines
        .iter()
        .flat_map(|line| line.split(','))
        .rev()
        .map(|h| h.trim().parse::<IpAddr>().ok());
    // The right-most hop that is not a trusted proxy; an unreadable hop there is where
    // the trusted chain ends, so the peer stands.
    for hop in hops {
        match hop {
            Some(ip) if trusted(&ip) => continue,
            Some(ip) => return Some(ip),
            None => return Some(peer),
        }
    }
    Some(peer)
}

/// How an `Authorization` header value is to be taken, before anything is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization<'a> {
    /// `Bearer <api key>`: a token with our `<prefix>_<env>_` start (trimmed).
    ApiKey(&'a str),
    /// `Bearer <anything else>`: verified as an access token (trimmed).
    AccessToken(&'a str),
    /// Any other scheme, or no space after the scheme: refused with `BAD_SCHEME`.
    BadScheme,
}

/// The credentials a request's headers present, classified without any look-up: the
/// pure part of `caller_from`. A credential header that is present but unreadable (not
/// visible ASCII) or sent twice makes the request's credentials `refused`: an invalid
/// credential, never an absent one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presented<'a> {
    pub authorization: Option<Authorization<'a>>,
    /// `X-API-Key` (trimmed).
    pub api_key: Option<&'a str>,
    /// `X-Service-Token` (trimmed).
    pub service_token: Option<&'a str>,
    /// Why the credential headers cannot be read, if they cannot.
    pub refused: Option<&'static str>,
}

impl Presented<'_> {
    /// Whether the request carries any credential header at all (readable or not).
    pub fn any(&self) -> bool {
        self.authorization.is_some()
            || self.api_key.is_some()
            || self.service_token.is_some()
            || self.refused.is_some()
    }
}

pub const UNREADABLE_CREDENTIAL: &str = "A credential header (Authorization, X-API-Key or X-Service-Token) is not readable: send it once, in visible ASCII.";

/// A credential header: None when absent; Err when sent twice or not visible ASCII.
fn credential_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    first.to_str().map(|v| Some(v.trim())).map_err(|_| ())
}

/// API keys are told apart from JWTs by their `<prefix>_<env>_` start.
pub fn looks_like_api_key(prefix: &str, token: &str) -> bool {
    token
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            ["live_", "test_", "dev_"]
                .iter()
                .any(|env| rest.starts_with(env))
        })
}

/// Classifies an `Authorization` header value (already trimmed).
pub fn classify_authorization<'a>(value: &'a str, api_key_prefix: &str) -> Authorization<'a> {
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if looks_like_api_key(api_key_prefix, token) {
                Authorization::ApiKey(token)
            } else {
                Authorization::AccessToken(token)
            }
        }
        _ => Authorization::BadScheme,
    }
}

/// Reads the `Authorization`, `X-API-Key` and `X-Service-Token` headers.
pub fn presented<'a>(headers: &'a HeaderMap, api_key_prefix: &str) -> Presented<'a> {
    let auth = credential_header(headers, "authorization");
    let key = credential_header(headers, "x-api-key");
    let service = credential_header(headers, "x-service-token");
    let refused =
        (auth.is_err() || key.is_err() || service.is_err()).then_some(UNREADABLE_CREDENTIAL);
    Presented {
        authorization: auth
            .ok()
            .flatten()
            .map(|auth| classify_authorization(auth, api_key_prefix)),
        api_key: key.ok().flatten(),
        service_token: service.ok().flatten(),
        refused,
    }
}

/// Whether the presented service token is the configured one, compared in constant
/// time; an empty configured token matches nothing.
pub fn service_token_matches(presented: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

pub async fn caller_from(app: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> Caller {
    let mut caller = Caller {
        client: ClientInfo {
            ip: client_ip(app, headers, peer),
            user_agent: header(headers, "user-agent").map(str::to_owned),
        },
        ..Caller::default()
    };
    let now = now();
    let presented = presented(headers, &app.idm.settings.api_keys.prefix);
    if let Some(reason) = presented.refused {
        caller.invalid = Some(reason);
        return caller;
    }
    match presented.authorization {
        Some(Authorization::ApiKey(token)) => {
            authenticate_key(app, &mut caller, token, now).await;
        }
        Some(Authorization::AccessToken(token)) => match app.idm.keys.verify(token, now).await {
            Some(sub) => match app.idm.session_is_live(&sub.session_id, now).await {
                Ok(true) => {
                    caller.user = Some(UserCaller {
                        user_id: sub.user_id,
                        session_id: sub.session_id,
                        tenant_id: sub.tenant_id,
                        role: sub.role,
                        amr: sub.amr,
                    })
                }
                Ok(false) => caller.invalid = Some(INVALID_TOKEN),
                Err(e) => {
                    tracing::error!(error = %e, "checking a session");
                    caller.invalid = Some("Your session could not be checked; try again.");
                }
            },
            None => caller.invalid = Some(INVALID_TOKEN),
        },
        Some(Authorization::BadScheme) => caller.invalid = Some(BAD_SCHEME),
        None => {}
    }
    if let Some(key) = presented.api_key {
        if caller.key.is_some() {
            caller.invalid = Some("Send one API key, not two.");
        } else {
            authenticate_key(app, &mut caller, key, now).await;
        }
    }
    if let Some(token) = presented.service_token {
        let expected = app.idm.settings.service_token.expose_secret();
        if service_token_matches(token, expected) {
            caller.service = true;
        } else {
            caller.invalid = caller.invalid.or(Some(INVALID_SERVICE));
        }
    }
    // `noauth`: the development user stands in only for a request that sends no
    // credential at all; a sent one is judged as usual, never upgraded.
    if !presented.any() {
        caller.user = app.dev_user.clone();
    }
    caller
}

/// Scopes are not checked here: the field's `@apiKey(scopes)` guard does that, and
/// answers FORBIDDEN naming the missing scope.
async fn authenticate_key(app: &AppState, caller: &mut Caller, raw: &str, now: i64) {
    match app.idm.verify_key(raw, caller.client.ip, &[], now).await {
        Ok(v) => match (v.refusal, v.key) {
            (None, Some(k)) => {
                caller.key = Some(KeyCaller {
                    key_id: k.id.clone(),
                    user_id: k.user_id.clone(),
                    tenant_id: k.tenant_id.clone(),
                    scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
                })
            }
            _ => caller.invalid = Some(INVALID_KEY),
        },
        Err(e) => {
            tracing::error!(error = %e, "verifying an API key");
            caller.invalid = Some("The API key could not be checked; try again.");
        }
    }
}
