//! Changing a key: its settings (never wider than its holder may create), rotation
//! (with a grace period), revocation, deletion, and short-lived keys for the
//! deployment's internal services.
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::api_keys::{
    ApiKey, KeyChanges, KeySpec, MAX_GRACE_SECS, NewApiKey, TEMPORARY_TTL, check_expiry,
    check_scopes, parse_ips, parse_name,
};
use super::audit::{self, Event};
use super::error::{Error, Result};
use super::{ClientInfo, Idm};
use crate::domain::{Environment, IpAllowlist, Scope, ScopeList, TenantRole};
use crate::entities::api_key::{self, Column};

/// What a temporary key is made with.
pub struct TemporaryKey {
    pub ttl_secs: i64,
    pub scopes: Vec<Scope>,
    pub environment: Environment,
    /// Shown in the key's name ("Temporary key (label)").
    pub label: Option<String>,
}

impl Idm {
    /// Changes a key. Its holder can never widen it beyond what they may create: the
    /// role policy applies as at creation; a temporary key's scopes can only narrow and
    /// its expiry only come sooner; an expired key made to work again by a later expiry
    /// counts against `max_active_per_user`.
    pub async fn update_api_key(
        &self,
        user_id: &str,
        id: &str,
        changes: KeyChanges,
        now: i64,
    ) -> Result<ApiKey> {
        let user = self.user(user_id, now).await?;
        let txn = self.begin_write().await?;
        self.lock_user(&txn, user_id).await?;
        let m = self.owned_key(&txn, user_id, id).await?;
        if m.revoked_at.is_some_and(|t| t <= now) {
            return Err(Error::bad_input(
                "This key is revoked and can no longer be changed.",
            ));
        }
        self.check_key_role(user.role)?;
        let mut am: api_key::ActiveModel = m.clone().into();
        if let Some(name) = changes.name {
            am.name = Set(parse_name(&name)?);
        }
        if let Some(scopes) = changes.scopes {
            check_scopes(&scopes)?;
            let own = m.scopes.to_vec();
            if m.temporary && scopes.iter().any(|s| !own.contains(s)) {
                return Err(Error::bad_input(
                    "The scopes of a temporary key can only be narrowed, never widened.",
                ));
            }
            am.scopes = Set(ScopeList::new(&scopes));
        }
        if let Some(ips) = changes.ips {
            am.ips = Set(parse_ips(&ips)?);
        }
        let mut policy_needed = false;
        if let Some(t) = changes.expires_at {
            check_expiry(Some(t), now)?;
            if m.temporary && m.expires_at.is_none_or(|old| t > old) {
                return Err(Error::bad_input(
                    "A temporary key's expiry can only be brought forward, never extended.",
                ));
            }
            // An expired key with a later expiry works again, as a new one would.
            policy_needed = m.expires_at.is_some_and(|old| old <= now);
            am.expires_at = Set(Some(t));
        }
        if policy_needed {
            self.check_key_policy(&txn, (user_id, user.role), m.temporary, Some(&m.id), now)
                .await?;
        }
        let updated = am.update(&txn).await?;
        txn.commit().await?;
        self.key_cache.invalidate(Some(&m.key_hash), None);
        Ok(self.to_api_key(updated, now))
    }

    /// A new secret with the same settings. The old key stops at once, or when the
    /// grace period ends. Of two racing rotations one wins; the other is a CONFLICT.
    #[tracing::instrument(skip_all)]
    pub async fn rotate_api_key(
        &self,
        user_id: &str,
        id: &str,
        grace_secs: i64,
        client: &ClientInfo,
        now: i64,
    ) -> Result<NewApiKey> {
        if !(0..=MAX_GRACE_SECS).contains(&grace_secs) {
            return Err(Error::bad_input(format!(
                "gracePeriodSeconds must be between 0 and {MAX_GRACE_SECS} (7 days)."
            )));
        }
        let old = self.owned_key(&self.db, user_id, id).await?;
        if old.replaced_by.is_some() {
            return Err(Error::Conflict(
                "This key was already rotated; rotate its replacement.".into(),
            ));
        }
        if old.revoked_at.is_some() || old.expires_at.is_some_and(|t| t <= now) {
            return Err(Error::bad_input("Only an active key can be rotated."));
        }
        let spec = KeySpec {
            name: old.name.clone(),
            scopes: old.scopes.to_vec(),
            environment: old.environment,
            expires_at: old.expires_at,
            ips: Vec::new(),
        };
        let ips = old.ips.clone();
        let role = self.user(user_id, now).await?.role;
        let txn = self.begin_write().await?;
        self.lock_user(&txn, user_id).await?;
        // A rotation makes a key as a creation does: the same policies (the old key,
        // which stops, is not counted; during a grace it is the one extra key allowed).
        self.check_key_policy(&txn, (user_id, role), old.temporary, Some(&old.id), now)
            .await?;
        let new = self
            .insert_key(
                &txn,
                (&old.user_id, &old.tenant_id),
                &spec,
                &ips,
                old.temporary,
                now,
            )
            .await?;
        let claimed = api_key::Entity::update_many()
            .col_expr(Column::ReplacedBy, Expr::value(new.key.id.clone()))
            .col_expr(Column::RevokedAt, Expr::value(now + grace_secs))
            .filter(Column::Id.eq(old.id.clone()))
            .filter(Column::ReplacedBy.is_null())
            .filter(Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            txn.rollback().await?;
            return Err(Error::Conflict(
                "This key was rotated by another request.".into(),
            ));
        }
        txn.commit().await?;
        self.key_cache.invalidate(Some(&old.key_hash), None);
        audit::record(
            &self.db,
            Event::ApiKeyRotated,
            Some(user_id),
            client,
            Some(format!(
                "{} -> {} (grace {grace_secs}s)",
                old.id, new.key.id
            )),
            now,
        )
        .await;
        Ok(new)
    }

    pub async fn revoke_api_key(
        &self,
        user_id: &str,
        id: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<ApiKey> {
        let m = self.owned_key(&self.db, user_id, id).await?;
        self.revoke_key_row(user_id, m, client, now).await
    }

    /// Revokes the actor's own key, or, when the actor is an OWNER or ADMIN of
    /// `tenant_id` (the caller's current tenant), any member's key made in it. Any other
    /// key is NOT_FOUND.
    pub async fn revoke_api_key_in(
        &self,
        user_id: &str,
        tenant_id: &str,
        id: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<ApiKey> {
        let m = match self.owned_key(&self.db, user_id, id).await {
            Ok(m) => m,
            Err(Error::NotFound(msg)) => {
                let admin = matches!(
                    self.tenant_role(tenant_id, user_id).await?,
                    Some(TenantRole::Owner | TenantRole::Admin)
                );
                let found = if admin {
                    api_key::Entity::find_by_id(id.to_owned())
                        .filter(Column::TenantId.eq(tenant_id))
                        .filter(Column::DeletedAt.is_null())
                        .one(&self.db)
                        .await?
                } else {
                    None
                };
                found.ok_or(Error::NotFound(msg))?
            }
            Err(e) => return Err(e),
        };
        self.revoke_key_row(user_id, m, client, now).await
    }

    async fn revoke_key_row(
        &self,
        actor: &str,
        m: api_key::Model,
        client: &ClientInfo,
        now: i64,
    ) -> Result<ApiKey> {
        if m.revoked_at.is_none_or(|t| t > now) {
            api_key::Entity::update_many()
                .col_expr(Column::RevokedAt, Expr::value(now))
                .filter(Column::Id.eq(m.id.clone()))
                .exec(&self.db)
                .await?;
            let detail = if m.user_id == actor {
                m.id.clone()
            } else {
                format!("{} (of {}, by {actor})", m.id, m.user_id)
            };
            audit::record(
                &self.db,
                Event::ApiKeyRevoked,
                Some(&m.user_id),
                client,
                Some(detail),
                now,
            )
            .await;
        }
        self.key_cache.invalidate(Some(&m.key_hash), None);
        let fresh = api_key::Entity::find_by_id(m.id.clone())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::not_found("No API key with this id."))?;
        Ok(self.to_api_key(fresh, now))
    }

    /// Revokes and hides the key: it is gone from listings and lookups.
    pub async fn delete_api_key(
        &self,
        user_id: &str,
        id: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        let m = self.owned_key(&self.db, user_id, id).await?;
        let revoked_at = m.revoked_at.filter(|t| *t <= now).unwrap_or(now);
        api_key::Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(revoked_at))
            .col_expr(Column::DeletedAt, Expr::value(now))
            .filter(Column::Id.eq(m.id.clone()))
            .exec(&self.db)
            .await?;
        self.key_cache.invalidate(Some(&m.key_hash), None);
        audit::record(
            &self.db,
            Event::ApiKeyDeleted,
            Some(user_id),
            client,
            Some(m.id),
            now,
        )
        .await;
        Ok(true)
    }

    /// A short-lived key for `user_id`, for the deployment's internal services.
    pub async fn create_temporary_key(
        &self,
        user_id: &str,
        temp: TemporaryKey,
        client: &ClientInfo,
        now: i64,
    ) -> Result<NewApiKey> {
        let TemporaryKey {
            ttl_secs,
            scopes,
            environment,
            label,
        } = temp;
        if !TEMPORARY_TTL.contains(&ttl_secs) {
            return Err(Error::bad_input(
                "ttlSeconds must be between 60 and 86400 (24 hours).",
            ));
        }
        check_scopes(&scopes)?;
        let user = self.user(user_id, now).await?;
        if !user.is_active {
            return Err(Error::bad_input("This user is deactivated."));
        }
        let name = match label {
            Some(l) => parse_name(&format!("Temporary key ({l})"))?,
            None => "Temporary key".into(),
        };
        let spec = KeySpec {
            name,
            scopes,
            environment,
            expires_at: Some(now + ttl_secs),
            ips: Vec::new(),
        };
        let new = self
            .insert_key(
                &self.db,
                (&user.id, &user.tenant_id),
                &spec,
                &IpAllowlist::default(),
                true,
                now,
            )
            .await?;
        audit::record(
            &self.db,
            Event::ApiKeyCreated,
            Some(user_id),
            client,
            Some(format!("{} (temporary, {ttl_secs}s)", new.key.id)),
            now,
        )
        .await;
        Ok(new)
    }
}
