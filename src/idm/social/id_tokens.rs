//! Google and Apple ID tokens, verified in full: the signature against the provider's
//! JWKS (cached; fetched again when an unknown `kid` appears, at most once per
//! `REFETCH_SECS`), the algorithm fixed to RS256 or ES256 (never `none`, never HMAC),
//! `iss`, `aud` among the configured client ids, `azp` present and ours when there are
//! several audiences (OIDC Core 3.1.3.7), `exp`/`iat`/`nbf` against the
//! core's `now` with a small leeway, and `nonce` when the caller has one.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::{Provider, ProviderIdentity};
use crate::idm::Idm;
use crate::idm::error::{Error, Result};

/// Seconds of clock difference tolerated on `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 30;
/// A JWKS is fetched again at most this often, whatever tokens arrive.
const REFETCH_SECS: u64 = 5;
/// A cached JWKS older than this is fetched again before use.
const MAX_AGE_SECS: u64 = 3600;

struct Fetched {
    keys: JwkSet,
    /// The last attempt, successful or not: attempts are at least REFETCH_SECS apart.
    at: Instant,
    /// Whether that attempt succeeded.
    ok: bool,
}

/// The providers' key sets, by JWKS URL.
#[derive(Default)]
pub struct JwksCache {
    sets: Mutex<HashMap<String, Fetched>>,
}

fn find(set: &JwkSet, kid: &str) -> Option<Jwk> {
    set.keys
        .iter()
        .find(|k| k.common.key_id.as_deref() == Some(kid))
        .cloned()
}

impl JwksCache {
    /// The key `kid` of the set at `url`. The lock is held across a fetch, so a burst
    /// of tokens with a new kid makes one request.
    #[allow(clippy::disallowed_methods)] // the cache's own timing, not a rule's
    async fn key(&self, http: &reqwest::Client, p: Provider, url: &str, kid: &str) -> Result<Jwk> {
        let mut sets = self.sets.lock().await;
        if let Some(f) = sets.get(url) {
            let fresh = f.at.elapsed() < Duration::from_secs(MAX_AGE_SECS);
            if let Some(k) = find(&f.keys, kid).filter(|_| fresh) {
                return Ok(k);
            }
            if f.at.elapsed() < Duration::from_secs(REFETCH_SECS) {
                return Err(if f.ok {
                    unknown_kid(p)
                } else {
                    unreachable_keys(p)
                });
            }
        }
        match fetch(http, p, url).await {
            Ok(keys) => {
                let key = find(&keys, kid);
                sets.insert(
                    url.to_owned(),
                    Fetched {
                        keys,
                        at: Instant::now(),
                        ok: true,
                    },
                );
                key.ok_or_else(|| unknown_kid(p))
            }
            Err(e) => {
                // A provider that is down: keep using a set we have, stale or not, and
                // do not ask again for REFETCH_SECS.
                let f = sets.entry(url.to_owned()).or_insert_with(|| Fetched {
                    keys: JwkSet { keys: Vec::new() },
                    at: Instant::now(),
                    ok: false,
                });
                f.at = Instant::now();
                f.ok = false;
                find(&f.keys, kid).ok_or(e)
            }
        }
    }
}

fn unknown_kid(p: Provider) -> Error {
    Error::unauthenticated(format!(
        "This {} ID token is signed with a key {} does not publish.",
        p.name(),
        p.name()
    ))
}

fn unreachable_keys(p: Provider) -> Error {
    Error::unavailable(format!(
        "{}'s signing keys could not be fetched; try again shortly.",
        p.name()
    ))
}

async fn fetch(http: &reqwest::Client, p: Provider, url: &str) -> Result<JwkSet> {
    let down = |what: &dyn std::fmt::Display| {
        tracing::warn!(provider = p.as_str(), error = %what, "fetching JWKS");
        unreachable_keys(p)
    };
    let answer = http.get(url).send().await.map_err(|e| down(&e))?;
    if !answer.status().is_success() {
        return Err(down(&answer.status()));
    }
    answer.json::<JwkSet>().await.map_err(|e| down(&e))
}

/// `true`, or Apple's `"true"`.
fn truthy(v: &Option<Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: i64,
    /// Not before: a token may be issued ahead of its use.
    nbf: Option<i64>,
    /// One audience (a string) or several (an array); `jsonwebtoken` has checked that
    /// ours is among them.
    aud: Value,
    /// The authorized party (OIDC Core 3.1.3.7): with several audiences, the one the
    /// token was issued to, which must be us.
    azp: Option<String>,
    email: Option<String>,
    email_verified: Option<Value>,
    nonce: Option<String>,
    given_name: Option<String>,
}

impl Idm {
    /// Verifies a Google or Apple ID token; returns who it names.
    pub async fn verify_id_token(
        &self,
        p: Provider,
        token: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<ProviderIdentity> {
        let s = self.provider_settings(p)?;
        let refused = |why: &str| {
            Error::unauthenticated(format!("This {} ID token was refused: {why}.", p.name()))
        };
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| refused("it is not a signed JWT (or its algorithm is not allowed)"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(refused("it must be signed with RS256 or ES256"));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| refused("its header names no key (kid)"))?;
        let jwk = self.jwks.key(&self.http, p, &s.jwks_url, kid).await?;
        if jwk
            .common
            .key_algorithm
            .is_some_and(|a| a.to_string() != format!("{:?}", header.alg))
        {
            return Err(refused("its algorithm does not match its key"));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| refused("its key is unusable"))?;
        let audiences: Vec<&str> = s
            .client_id
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect();
        let mut issuers = vec![s.issuer.clone()];
        if p == Provider::Google {
            // Google writes its issuer with and without the scheme.
            if let Some(bare) = s.issuer.strip_prefix("https://") {
                issuers.push(bare.to_owned());
            }
        }
        let mut v = Validation::new(header.alg);
        v.set_audience(&audiences);
        v.set_issuer(&issuers);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Time is checked below against the core's `now`.
        v.validate_exp = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &v)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                match e.kind() {
                    K::InvalidAudience => refused("it was issued to another app (aud)"),
                    K::InvalidIssuer => refused("it was not issued by the configured issuer (iss)"),
                    K::InvalidSignature => refused("its signature does not verify"),
                    K::MissingRequiredClaim(c) => refused(&format!("it has no `{c}` claim")),
                    _ => refused("it is malformed or its signature does not verify"),
                }
            })?
            .claims;
        if claims.exp + LEEWAY_SECS < now {
            return Err(refused("it has expired"));
        }
        if claims.iat > now + LEEWAY_SECS {
            return Err(refused("it was issued in the future (iat)"));
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
            return Err(refused("it is not valid yet (nbf)"));
        }
        // With one audience (ours), `azp` may name another of the app's clients (Google
        // puts the Android client there); with several, it says which of them the token
        // was issued to, and that must be us.
        if claims.aud.as_array().is_some_and(|a| a.len() > 1) {
            match claims.azp.as_deref() {
                Some(azp) if audiences.contains(&azp) => {}
                Some(_) => return Err(refused("it was issued to another app (azp)")),
                None => {
                    return Err(refused(
                        "it names several audiences but no authorized party (azp)",
                    ));
                }
            }
        }
        if let Some(expected) = nonce {
            let hashed = hex::encode(Sha256::digest(expected.as_bytes()));
            // Apple's native SDKs put the SHA-256 of the app's nonce in the token.
            let ok = claims
                .nonce
                .as_deref()
                .is_some_and(|n| n == expected || (p == Provider::Apple && n == hashed));
            if !ok {
                return Err(refused("its nonce does not match"));
            }
        }
        if claims.sub.is_empty() || claims.sub.len() > 255 {
            return Err(refused("its subject is not usable"));
        }
        Ok(ProviderIdentity {
            provider: p,
            subject: claims.sub,
            email_verified: claims.email.is_some() && truthy(&claims.email_verified),
            email: claims.email,
            first_name: claims.given_name,
        })
    }
}
