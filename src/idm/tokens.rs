//! Access tokens: EdDSA JWTs with a `kid`, signed by a key kept in the database
//! (generated on first start, encrypted at rest when a master key is set), and checked
//! explicitly: algorithm allowlist, `iss`, `aud`, `exp`/`nbf`/`iat` against the given
//! `now` with a small leeway, and a token-type claim so that no other token we might
//! mint is accepted as an access token. `jku`/`x5u`/`jwk` headers are never consulted:
//! the key is found by `kid` among our own keys only.
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, RwLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::crypto::b64url;
use crate::config::TokenSettings;
use crate::domain::{MasterKey, Role};
use crate::entities::signing_key;

/// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 10;
/// The value of our token-type claim for access tokens.
pub const ACCESS_TYPE: &str = "access";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub sid: String,
    pub tid: String,
    pub role: String,
    pub amr: Vec<String>,
    /// Token type: always "access" here. Other tokens carry other values.
    pub typ: String,
}

/// What a verified access token says about its bearer.
#[derive(Debug, Clone)]
pub struct TokenSubject {
    pub user_id: String,
    pub session_id: String,
    pub tenant_id: String,
    pub role: Role,
    pub amr: Vec<String>,
}

struct Keys {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: serde_json::Value,
}

pub struct KeyStore {
    db: DatabaseConnection,
    master: MasterKey,
    settings: TokenSettings,
    keys: RwLock<Keys>,
    last_reload: AtomicI64,
    /// Tokens whose signature and claims checked out, by SHA-256 of the token: a token
    /// presented again skips the signature check (its times are still checked against
    /// `now`; its session's liveness is checked by the caller every time).
    verified: Mutex<HashMap<[u8; 32], (TokenSubject, AccessClaimsTimes)>>,
}

#[derive(Debug, Clone, Copy)]
struct AccessClaimsTimes {
    exp: i64,
    nbf: i64,
    iat: i64,
}

impl AccessClaimsTimes {
    fn fresh(&self, now: i64) -> bool {
        self.exp > now - LEEWAY_SECS
            && self.nbf <= now + LEEWAY_SECS
            && self.iat <= now + LEEWAY_SECS
    }
}

const VERIFIED_MAX: usize = 100_000;

fn kid_of(public: &[u8]) -> String {
    b64url(&Sha256::digest(public)[..12])
}

impl KeyStore {
    /// Loads the signing keys, creating the first one on a fresh database.
    pub async fn load_or_create(
        db: DatabaseConnection,
        master: MasterKey,
        settings: TokenSettings,
        now: i64,
    ) -> anyhow::Result<Self> {
        let mut rows = signing_key::Entity::find().all(&db).await?;
        if rows.is_empty() {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let der = key
                .to_pkcs8_der()
                .map_err(|e| anyhow::anyhow!("pkcs8: {e}"))?;
            let public = key.verifying_key().to_bytes();
            let (private_key, encrypted) = match master.seal(der.as_bytes())? {
                Some(sealed) => (sealed, true),
                None => (STANDARD.encode(der.as_bytes()), false),
            };
            let row = signing_key::ActiveModel {
                kid: Set(kid_of(&public)),
                private_key: Set(private_key),
                public_key: Set(b64url(&public)),
                encrypted: Set(encrypted),
                created_at: Set(now),
            };
            // Two instances starting on one fresh database may both insert: both keys
            // are then valid, and each signs with the newest it sees.
            if let Err(e) = row.insert(&db).await {
                tracing::warn!(error = %e, "signing key insert failed; reloading");
            }
            rows = signing_key::Entity::find().all(&db).await?;
        }
        let keys = Self::build(&master, rows)?;
        Ok(Self {
            db,
            master,
            settings,
            keys: RwLock::new(keys),
            last_reload: AtomicI64::new(now),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// A store over `key` in `db` (a fresh, migrated database such as
    /// `store::memory()`), with no master key: for tests and fuzzing. The key row is
    /// written as `load_or_create` writes its own, and the store is then
    /// `load_or_create`'s, reloads included.
    pub async fn from_key(
        db: DatabaseConnection,
        key: &SigningKey,
        settings: TokenSettings,
        now: i64,
    ) -> anyhow::Result<Self> {
        let master = MasterKey::parse("").map_err(|e| anyhow::anyhow!("master key: {e}"))?;
        let der = key
            .to_pkcs8_der()
            .map_err(|e| anyhow::anyhow!("pkcs8: {e}"))?;
        let public = key.verifying_key().to_bytes();
        signing_key::ActiveModel {
            kid: Set(kid_of(&public)),
            private_key: Set(STANDARD.encode(der.as_bytes())),
            public_key: Set(b64url(&public)),
            encrypted: Set(false),
            created_at: Set(now),
        }
        .insert(&db)
        .await?;
        Self::load_or_create(db, master, settings, now).await
    }

    fn build(master: &MasterKey, mut rows: Vec<signing_key::Model>) -> anyhow::Result<Keys> {
        rows.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
        let newest = rows
            .last()
            .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        let der = if newest.encrypted {
            master.open(&newest.private_key)?
        } else {
            STANDARD.decode(&newest.private_key)?
        };
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        for row in &rows {
            verifying.insert(
                row.kid.clone(),
                DecodingKey::from_ed_components(&row.public_key)?,
            );
            jwks.push(serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                "kid": row.kid, "x": row.public_key,
            }));
        }
        Ok(Keys {
            signing_kid: newest.kid.clone(),
            signing: EncodingKey::from_ed_der(&der),
            verifying,
            jwks: serde_json::json!({ "keys": jwks }),
        })
    }

    /// Re-reads the key table (another instance may have added a key), at most once
    /// every 5 seconds.
    async fn reload(&self, now: i64) -> anyhow::Result<()> {
        let last = self.last_reload.load(Ordering::Relaxed);
        if now - last < 5
            || self
                .last_reload
                .compare_exchange(last, now, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        let rows = signing_key::Entity::find()
            .order_by_asc(signing_key::Column::CreatedAt)
            .all(&self.db)
            .await?;
        let keys = Self::build(&self.master, rows)?;
        *self
            .keys
            .write()
            .map_err(|_| anyhow::anyhow!("key lock poisoned"))? = keys;
        Ok(())
    }

    /// The master key, for the other secrets kept at rest (TOTP).
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.keys
            .read()
            .map(|k| k.jwks.clone())
            .unwrap_or_else(|_| serde_json::json!({ "keys": [] }))
    }

    pub fn access_ttl(&self) -> i64 {
        i64::from(self.settings.access_ttl_secs)
    }

    #[tracing::instrument(skip_all)]
    pub fn issue(&self, subject: &TokenSubject, now: i64) -> anyhow::Result<String> {
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: subject.user_id.clone(),
            aud: self.settings.audience.clone(),
            exp: now + self.access_ttl(),
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: subject.session_id.clone(),
            tid: subject.tenant_id.clone(),
            role: subject.role.as_str().to_owned(),
            amr: subject.amr.clone(),
            typ: ACCESS_TYPE.to_owned(),
        };
        let keys = self
            .keys
            .read()
            .map_err(|_| anyhow::anyhow!("key lock poisoned"))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(keys.signing_kid.clone());
        header.typ = Some("at+jwt".into());
        Ok(jsonwebtoken::encode(&header, &claims, &keys.signing)?)
    }

    /// Verifies signature and claims. Any failure is one answer: not a valid token.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, token: &str, now: i64) -> Option<TokenSubject> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((subject, times)) = self.verified.lock().ok()?.get(&digest) {
            return times.fresh(now).then(|| subject.clone());
        }
        let (subject, times) = self.verify_uncached(token, now).await?;
        if let Ok(mut map) = self.verified.lock() {
            if map.len() >= VERIFIED_MAX {
                map.clear();
            }
            map.insert(digest, (subject.clone(), times));
        }
        Some(subject)
    }

    async fn verify_uncached(
        &self,
        token: &str,
        now: i64,
    ) -> Option<(TokenSubject, AccessClaimsTimes)> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::EdDSA {
            return None;
        }
        let kid = header.kid?;
        let known = self.keys.read().ok()?.verifying.contains_key(&kid);
        if !known && let Err(e) = self.reload(now).await {
            tracing::error!(error = %e, "reloading signing keys");
        }
        let keys = self.keys.read().ok()?;
        let key = keys.verifying.get(&kid)?;
        let claims = self.validate(token, key, now)?;
        let times = AccessClaimsTimes {
            exp: claims.exp,
            nbf: claims.nbf,
            iat: claims.iat,
        };
        let subject = TokenSubject {
            role: claims.role.parse().ok()?,
            user_id: claims.sub,
            session_id: claims.sid,
            tenant_id: claims.tid,
            amr: claims.amr,
        };
        Some((subject, times))
    }

    fn validate(&self, token: &str, key: &DecodingKey, now: i64) -> Option<AccessClaims> {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[&self.settings.issuer]);
        v.set_audience(&[&self.settings.audience]);
        v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        // Time is checked below against the caller's `now`, not the library's clock.
        v.validate_exp = false;
        v.validate_nbf = false;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &v)
            .ok()?
            .claims;
        let fresh = claims.exp > now - LEEWAY_SECS
            && claims.nbf <= now + LEEWAY_SECS
            && claims.iat <= now + LEEWAY_SECS;
        (fresh && claims.typ == ACCESS_TYPE).then_some(claims)
    }
}
