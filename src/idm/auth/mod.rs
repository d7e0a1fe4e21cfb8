//! Who a caller is, decided in one place for every transport.
//!
//! The edge (GraphQL over HTTP today; REST, forward auth, the pages and WebSocket
//! subscriptions next) only reads its credential headers into a `Presented` value and
//! takes the request's `now` once. `Idm::authenticate` makes every decision (a JWT and
//! its live session, an API key with its allowlist and its owner's state, the service
//! token, the `noauth` development user) and answers a `Caller`; `Idm::authorize`
//! (see `rule`) decides whether that caller may use something guarded by a `Rule`.
//! A transport calls those two and nothing else.
mod rule;

pub use rule::Rule;

use std::fmt;
use std::sync::OnceLock;

use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::{ClientInfo, Idm};
use crate::domain::{Environment, Scope};

/// A verified user access token (or the development user in `noauth` mode).
#[derive(Debug, Clone, Default)]
pub struct UserCaller {
    pub user_id: String,
    pub session_id: String,
    /// The token's tenant (`tid`).
    pub tenant_id: String,
}

/// A verified API key.
#[derive(Debug, Clone, Default)]
pub struct KeyCaller {
    pub key_id: String,
    pub user_id: String,
    pub tenant_id: String,
    pub environment: Environment,
    pub scopes: Vec<Scope>,
}

/// Why presented credentials were refused. A refused request is never anonymous:
/// every guarded field answers UNAUTHENTICATED with this reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A credential header sent twice or not in visible ASCII.
    Unreadable,
    /// `Authorization` with a scheme other than `Bearer`.
    BadScheme,
    InvalidToken,
    InvalidKey,
    TwoKeys,
    InvalidServiceToken,
    /// The store could not be asked (the error is logged).
    SessionUncheckable,
    KeyUncheckable,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::Unreadable => {
                "A credential header (Authorization, X-API-Key or X-Service-Token) is not readable: send it once, in visible ASCII."
            }
            Refused::BadScheme => "Unsupported Authorization header: use `Bearer <token>`.",
            Refused::InvalidToken => "Invalid or expired access token; sign in again.",
            Refused::InvalidKey => "Invalid or missing API key",
            Refused::TwoKeys => "Send one API key, not two.",
            Refused::InvalidServiceToken => "Invalid service token.",
            Refused::SessionUncheckable => "Your session could not be checked; try again.",
            Refused::KeyUncheckable => "The API key could not be checked; try again.",
        })
    }
}

/// One request's caller: what `authenticate` established, the client, and the
/// request's `now` (taken once at the edge; every rule of the request uses it).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub user: Option<UserCaller>,
    pub key: Option<KeyCaller>,
    pub service: bool,
    pub refused: Option<Refused>,
    pub client: ClientInfo,
    pub now: i64,
}

/// The user on whose behalf a request acts, by user token or through their API key.
#[derive(Debug, Clone, Copy)]
pub struct Acting<'a> {
    pub user_id: &'a str,
    /// The session of a user token; None through an API key. Actions that need a
    /// (fresh) session say so themselves, in the core.
    pub session_id: Option<&'a str>,
}

impl Caller {
    /// An anonymous caller at `now`.
    pub fn at(client: ClientInfo, now: i64) -> Self {
        Caller {
            client,
            now,
            ..Caller::default()
        }
    }

    pub fn kind(&self) -> &'static str {
        if self.user.is_some() {
            "a user access token"
        } else if self.key.is_some() {
            "an API key"
        } else if self.service {
            "the service token"
        } else {
            "anonymous requests"
        }
    }

    /// The caller's current tenant: a user token's `tid`, or the API key's tenant.
    pub fn current_tenant(&self) -> Option<&str> {
        match (&self.user, &self.key) {
            (Some(u), _) => Some(&u.tenant_id),
            (None, Some(k)) => Some(&k.tenant_id),
            _ => None,
        }
    }

    /// The acting user and the caller's current tenant, for what acts in a tenant.
    pub fn acting_in_tenant(&self) -> super::Result<(&str, &str)> {
        let user = self.acting()?.user_id;
        let tenant = self
            .current_tenant()
            .ok_or_else(|| super::Error::unauthenticated("Sign in first."))?;
        Ok((user, tenant))
    }

    /// The user acting. The field's rule has already admitted the caller; this only
    /// names whom it admitted (a user token first, as when both are sent).
    pub fn acting(&self) -> super::Result<Acting<'_>> {
        match (&self.user, &self.key) {
            (Some(u), _) => Ok(Acting {
                user_id: &u.user_id,
                session_id: Some(&u.session_id),
            }),
            (None, Some(k)) => Ok(Acting {
                user_id: &k.user_id,
                session_id: None,
            }),
            _ => Err(super::Error::unauthenticated(
                "This acts on a user's account: send a user access token or an API key.",
            )),
        }
    }
}

/// One credential header as the edge read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header<'a> {
    #[default]
    Absent,
    /// Sent twice, or not visible ASCII.
    Unreadable,
    /// The value, trimmed.
    Value(&'a str),
}

/// The credentials a request presents, read by the edge without any look-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Presented<'a> {
    pub authorization: Header<'a>,
    pub api_key: Header<'a>,
    pub service_token: Header<'a>,
}

impl Presented<'_> {
    fn all(&self) -> [Header<'_>; 3] {
        [self.authorization, self.api_key, self.service_token]
    }

    /// Whether the request carries any credential header at all (readable or not).
    pub fn any(&self) -> bool {
        self.all().iter().any(|h| *h != Header::Absent)
    }

    /// Whether a credential header cannot be read: the request's credentials are then
    /// refused as a whole, never read as absent.
    pub fn unreadable(&self) -> bool {
        self.all().contains(&Header::Unreadable)
    }
}

/// How an `Authorization` header value is to be taken, before anything is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization<'a> {
    /// `Bearer <api key>`: a token with our `<prefix>_<env>_` start (trimmed).
    ApiKey(&'a str),
    /// `Bearer <anything else>`: verified as an access token (trimmed).
    AccessToken(&'a str),
    /// Any other scheme, or no space after the scheme.
    BadScheme,
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

/// Whether the presented service token is the configured one, compared in constant
/// time; an empty configured token matches nothing.
pub fn service_token_matches(presented: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// The `noauth` development user, set once at start-up when that mode is on.
pub type DevUser = OnceLock<UserCaller>;

impl Idm {
    /// Establishes who presents `presented`. A credential that is present but invalid
    /// marks the caller refused, never anonymous; the development user stands in only
    /// for a request that sends no credential at all.
    pub async fn authenticate(
        &self,
        presented: &Presented<'_>,
        client: ClientInfo,
        now: i64,
    ) -> Caller {
        let mut caller = Caller::at(client, now);
        if presented.unreadable() {
            caller.refused = Some(Refused::Unreadable);
            return caller;
        }
        if let Header::Value(value) = presented.authorization {
            match classify_authorization(value, &self.settings.api_keys.prefix) {
                Authorization::ApiKey(token) => self.authenticate_key(&mut caller, token).await,
                Authorization::AccessToken(token) => {
                    self.authenticate_token(&mut caller, token).await
                }
                Authorization::BadScheme => caller.refused = Some(Refused::BadScheme),
            }
        }
        if let Header::Value(key) = presented.api_key {
            if caller.key.is_some() {
                caller.refused = Some(Refused::TwoKeys);
            } else {
                self.authenticate_key(&mut caller, key).await;
            }
        }
        if let Header::Value(token) = presented.service_token {
            if service_token_matches(token, self.settings.service_token.expose_secret()) {
                caller.service = true;
            } else {
                caller.refused = caller.refused.or(Some(Refused::InvalidServiceToken));
            }
        }
        if !presented.any() {
            caller.user = self.noauth_user.get().cloned();
        }
        caller
    }

    /// A JWT: its signature and claims, then its session, which must still be live.
    async fn authenticate_token(&self, caller: &mut Caller, token: &str) {
        let Some(sub) = self.keys.verify(token, caller.now).await else {
            caller.refused = Some(Refused::InvalidToken);
            return;
        };
        match self.session_is_live(&sub.session_id, caller.now).await {
            Ok(true) => {
                caller.user = Some(UserCaller {
                    user_id: sub.user_id,
                    session_id: sub.session_id,
                    tenant_id: sub.tenant_id,
                })
            }
            Ok(false) => caller.refused = Some(Refused::InvalidToken),
            Err(e) => {
                tracing::error!(error = %e, "checking a session");
                caller.refused = Some(Refused::SessionUncheckable);
            }
        }
    }

    /// A key: found, not revoked or expired, from an allowed address, its owner active.
    /// Scopes are the rule's business (`authorize`), which names the missing one.
    async fn authenticate_key(&self, caller: &mut Caller, raw: &str) {
        match self
            .verify_key(raw, caller.client.ip, &[], caller.now)
            .await
        {
            Ok(v) => match (v.refusal, v.key) {
                (None, Some(k)) => {
                    caller.key = Some(KeyCaller {
                        key_id: k.id.clone(),
                        user_id: k.user_id.clone(),
                        tenant_id: k.tenant_id.clone(),
                        environment: k.environment,
                        scopes: k.scopes.clone(),
                    })
                }
                _ => caller.refused = Some(Refused::InvalidKey),
            },
            Err(e) => {
                tracing::error!(error = %e, "verifying an API key");
                caller.refused = Some(Refused::KeyUncheckable);
            }
        }
    }
}
