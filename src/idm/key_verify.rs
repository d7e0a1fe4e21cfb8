//! API-key verification: the hot path of every keyed request, shared by key
//! authentication and `verifyApiKey`.
//!
//! A key is looked up by its SHA-256 (one indexed read) and the row is cached in
//! process for `CACHE_TTL_SECS`. Every change this instance makes to a key or its user
//! (revoke, rotate, delete, update, deactivate) drops the cached entries and bumps an
//! epoch, so a lookup that raced with the change cannot put a stale row back: on this
//! instance no entry outlives a change; on another instance sharing the database, at
//! most `CACHE_TTL_SECS`.
//!
//! `lastUsedAt` is not written on every request: uses are noted in memory and a
//! background task writes them in one batch every `FLUSH_EVERY_SECS` (and at shutdown).
//! Reads on this instance merge the pending uses, so they show at once; other instances
//! see them within `FLUSH_EVERY_SECS`.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::Idm;
use super::error::Result;
use sha2::{Digest, Sha256};

use crate::domain::{ApiKeySecret, Environment, IpAllowlist, Scope};
use crate::entities::{api_key, user};

pub const CACHE_TTL_SECS: i64 = 5;
pub const FLUSH_EVERY_SECS: u64 = 3;
const CACHE_MAX: usize = 50_000;

/// Why a key was refused (the edge names each one in the contract's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    Revoked,
    Expired,
    IpNotAllowed,
    InsufficientScope,
    UserInactive,
}

/// A key row as the verifier needs it.
#[derive(Debug, Clone)]
pub struct KeyFacts {
    pub id: String,
    pub user_id: String,
    pub tenant_id: String,
    pub environment: Environment,
    pub scopes: Vec<Scope>,
    ips: IpAllowlist,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    user_active: bool,
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub refusal: Option<Refusal>,
    /// Known key (valid or not).
    pub key: Option<Arc<KeyFacts>>,
}

/// A lookup's result (None: no such key) and when it was made.
type CachedKey = (Option<Arc<KeyFacts>>, i64);

#[derive(Default)]
pub struct KeyCache {
    /// SHA-256 of the key → (facts or None for unknown, fetched at)
    entries: Mutex<HashMap<[u8; 32], CachedKey>>,
    epoch: AtomicU64,
    /// key id → last use not yet written
    pending_uses: Mutex<HashMap<String, i64>>,
}

impl KeyCache {
    fn get(&self, hash: &[u8; 32], now: i64) -> Option<Option<Arc<KeyFacts>>> {
        let map = self.entries.lock().ok()?;
        let (facts, at) = map.get(hash)?;
        (now - at < CACHE_TTL_SECS).then(|| facts.clone())
    }

    fn put(&self, hash: [u8; 32], facts: Option<Arc<KeyFacts>>, now: i64, epoch: u64) {
        if let Ok(mut map) = self.entries.lock() {
            // Checked under the lock: an invalidation after our read wins.
            if self.epoch.load(Ordering::SeqCst) != epoch {
                return;
            }
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(hash, (facts, now));
        }
    }

    /// Drops every cached key of `user_id`, or the one whose stored (hex) hash is
    /// `hash`.
    pub fn invalidate(&self, hash: Option<&str>, user_id: Option<&str>) {
        if let Ok(mut map) = self.entries.lock() {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            if let Some(h) = hash.and_then(|h| <[u8; 32]>::try_from(hex::decode(h).ok()?).ok()) {
                map.remove(&h);
            }
            if let Some(u) = user_id {
                map.retain(|_, (f, _)| f.as_ref().is_none_or(|f| f.user_id != u));
            }
        }
    }

    fn note_use(&self, key_id: &str, now: i64) {
        if let Ok(mut m) = self.pending_uses.lock() {
            match m.get_mut(key_id) {
                Some(at) => *at = now,
                None => {
                    m.insert(key_id.to_owned(), now);
                }
            }
        }
    }

    /// The not-yet-written last use of a key.
    pub fn pending_use(&self, key_id: &str) -> Option<i64> {
        self.pending_uses.lock().ok()?.get(key_id).copied()
    }

    /// Writes the noted uses in one batch.
    pub async fn flush_uses(&self, db: &DatabaseConnection) -> Result<()> {
        let pending: Vec<(String, i64)> = match self.pending_uses.lock() {
            Ok(mut m) => m.drain().collect(),
            Err(_) => return Ok(()),
        };
        let mut by_time: HashMap<i64, Vec<String>> = HashMap::new();
        for (id, at) in pending {
            by_time.entry(at).or_default().push(id);
        }
        for (at, ids) in by_time {
            api_key::Entity::update_many()
                .col_expr(api_key::Column::LastUsedAt, Expr::value(at))
                .filter(api_key::Column::Id.is_in(ids))
                .exec(db)
                .await?;
        }
        Ok(())
    }
}

impl Idm {
    /// Checks `raw` as a key used from `ip` for `scopes`. Malformed, unknown and
    /// deleted keys are all `NotFound`.
    #[tracing::instrument(skip_all)]
    pub async fn verify_key(
        &self,
        raw: &str,
        ip: Option<IpAddr>,
        scopes: &[Scope],
        now: i64,
    ) -> Result<Verification> {
        let not_found = Verification {
            refusal: Some(Refusal::NotFound),
            key: None,
        };
        if !ApiKeySecret::is_well_formed(&self.settings.api_keys.prefix, raw) {
            return Ok(not_found);
        }
        let digest: [u8; 32] = Sha256::digest(raw.as_bytes()).into();
        let facts = match self.key_cache.get(&digest, now) {
            Some(f) => f,
            None => {
                let epoch = self.key_cache.epoch.load(Ordering::SeqCst);
                let f = self
                    .load_key_facts(&hex::encode(digest))
                    .await?
                    .map(Arc::new);
                self.key_cache.put(digest, f.clone(), now, epoch);
                f
            }
        };
        let Some(key) = facts else {
            return Ok(not_found);
        };
        let refusal = if key.revoked_at.is_some_and(|t| t <= now) {
            Some(Refusal::Revoked)
        } else if key.expires_at.is_some_and(|t| t <= now) {
            Some(Refusal::Expired)
        } else if !key.user_active {
            Some(Refusal::UserInactive)
        } else if !key.ips.allows(ip) {
            Some(Refusal::IpNotAllowed)
        } else if !scopes.iter().all(|s| key.scopes.contains(s)) {
            Some(Refusal::InsufficientScope)
        } else {
            None
        };
        if refusal.is_none() {
            self.key_cache.note_use(&key.id, now);
        }
        Ok(Verification {
            refusal,
            key: Some(key),
        })
    }

    async fn load_key_facts(&self, hash: &str) -> Result<Option<KeyFacts>> {
        let found = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(hash))
            .filter(api_key::Column::DeletedAt.is_null())
            .find_also_related(user::Entity)
            .one(&self.db)
            .await?;
        let Some((k, u)) = found else { return Ok(None) };
        Ok(Some(KeyFacts {
            environment: k.environment,
            scopes: k.scopes.to_vec(),
            ips: k.ips.clone(),
            user_active: u.is_some_and(|u| u.is_active),
            id: k.id,
            user_id: k.user_id,
            tenant_id: k.tenant_id,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
        }))
    }
}
