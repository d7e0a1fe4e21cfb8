//! API keys: the model, creation (with the policies), listing, reading and updating.
//! Keys belong to a user (and so to a tenant). Rotation, revocation, deletion and
//! temporary keys are in `api_key_changes`; the listings in `api_key_lists`.
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Set,
};

use super::audit::{self, Event};
use super::crypto::token_hash;
use super::error::{Error, Result};
use super::{ClientInfo, Idm};
use crate::domain::{ApiKeySecret, Environment, IpAllowlist, Role, Scope, ScopeList};
use crate::entities::api_key::{self, Column};

pub const MAX_GRACE_SECS: i64 = 7 * 24 * 3600;
pub const MAX_PAGE: u64 = 64;
/// The most keys a one-array listing (REST) answers: the newest.
pub const MAX_LISTED: u64 = 500;
/// The scopes of a key made where none can be asked for: the signup key, and the REST
/// families whose documents have no scopes (Torale, Truvera).
pub const UNSCOPED_DEFAULT: [Scope; 2] = [Scope::Read, Scope::Write];
pub const TEMPORARY_TTL: std::ops::RangeInclusive<i64> = 60..=86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Revoked,
    Expired,
}

/// A key as shown to its owner: never the secret, never the hash.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub user_id: String,
    pub tenant_id: String,
    pub name: String,
    pub prefix: String,
    pub environment: Environment,
    pub scopes: Vec<Scope>,
    pub ips: Vec<String>,
    pub status: Status,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A key with its secret, returned once at creation or rotation.
#[derive(Debug)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: ApiKeySecret,
}

pub struct KeySpec {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub environment: Environment,
    pub expires_at: Option<i64>,
    pub ips: Vec<String>,
}

#[derive(Default)]
pub struct KeyChanges {
    pub name: Option<String>,
    pub scopes: Option<Vec<Scope>>,
    pub ips: Option<Vec<String>>,
    pub expires_at: Option<i64>,
}

pub struct Page {
    pub items: Vec<ApiKey>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

pub(super) fn parse_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(Error::bad_input("The key name must be 1 to 64 characters."));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::bad_input(
            "The key name must not contain control characters.",
        ));
    }
    Ok(name.to_owned())
}

pub(super) fn check_scopes(scopes: &[Scope]) -> Result<()> {
    if scopes.is_empty() {
        return Err(Error::bad_input(
            "A key needs at least one scope (READ, WRITE or DELETE).",
        ));
    }
    Ok(())
}

pub(super) fn check_expiry(expires_at: Option<i64>, now: i64) -> Result<()> {
    match expires_at {
        Some(t) if t <= now => Err(Error::bad_input("The expiry must be in the future.")),
        _ => Ok(()),
    }
}

pub(super) fn parse_ips(ips: &[String]) -> Result<IpAllowlist> {
    IpAllowlist::parse(ips).map_err(Error::BadInput)
}

impl Idm {
    pub(super) fn to_api_key(&self, m: api_key::Model, now: i64) -> ApiKey {
        let status = if m.revoked_at.is_some_and(|t| t <= now) {
            Status::Revoked
        } else if m.expires_at.is_some_and(|t| t <= now) {
            Status::Expired
        } else {
            Status::Active
        };
        let pending = self.key_cache.pending_use(&m.id);
        ApiKey {
            environment: m.environment,
            scopes: m.scopes.to_vec(),
            ips: m.ips.display(),
            last_used_at: Ord::max(m.last_used_at, pending),
            id: m.id,
            user_id: m.user_id,
            tenant_id: m.tenant_id,
            name: m.name,
            prefix: m.prefix,
            status,
            created_at: m.created_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
        }
    }

    /// The owner's key (not deleted); another user's key is NOT_FOUND.
    pub(super) async fn owned_key<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: &str,
        id: &str,
    ) -> Result<api_key::Model> {
        if id.len() > 64 {
            return Err(Error::not_found("No API key with this id."));
        }
        api_key::Entity::find_by_id(id.to_owned())
            .filter(Column::UserId.eq(user_id))
            .filter(Column::DeletedAt.is_null())
            .one(db)
            .await?
            .ok_or_else(|| Error::not_found("No API key with this id."))
    }

    pub(super) async fn insert_key<C: ConnectionTrait>(
        &self,
        db: &C,
        owner: (&str, &str),
        spec: &KeySpec,
        ips: &IpAllowlist,
        temporary: bool,
        now: i64,
    ) -> Result<NewApiKey> {
        let secret = ApiKeySecret::generate(&self.settings.api_keys.prefix, spec.environment);
        let model = api_key::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            user_id: Set(owner.0.to_owned()),
            tenant_id: Set(owner.1.to_owned()),
            name: Set(spec.name.clone()),
            prefix: Set(secret.public_prefix()),
            key_hash: Set(token_hash(secret.expose())),
            environment: Set(spec.environment),
            scopes: Set(ScopeList::new(&spec.scopes)),
            ips: Set(ips.clone()),
            temporary: Set(temporary),
            created_at: Set(now),
            expires_at: Set(spec.expires_at),
            last_used_at: Set(None),
            revoked_at: Set(None),
            deleted_at: Set(None),
            replaced_by: Set(None),
        }
        .insert(db)
        .await?;
        Ok(NewApiKey {
            key: self.to_api_key(model, now),
            secret,
        })
    }

    /// `require_role`: who may create keys may change them; below it, a key can only
    /// be revoked or deleted.
    pub(super) fn check_key_role(&self, role: Role) -> Result<()> {
        if let Some(required) = self.settings.api_keys.require_role
            && role < required
        {
            return Err(Error::forbidden(format!(
                "Creating API keys requires the {required} role (so does rotating or changing one)."
            )));
        }
        Ok(())
    }

    /// Applies `require_role` and, for a key that is not temporary, `max_active_per_user`
    /// (not counting `except`, the key being rotated or made active again). Every way a
    /// key comes to work (creation, rotation, an update of its expiry) passes here.
    pub(super) async fn check_key_policy<C: ConnectionTrait>(
        &self,
        db: &C,
        (user_id, role): (&str, Role),
        temporary: bool,
        except: Option<&str>,
        now: i64,
    ) -> Result<()> {
        self.check_key_role(role)?;
        let policy = &self.settings.api_keys;
        let max = u64::from(policy.max_active_per_user);
        if max > 0 && !temporary {
            let active = api_key::Entity::find()
                .filter(Column::UserId.eq(user_id))
                .filter(Column::Id.ne(except.unwrap_or("")))
                .filter(Column::Temporary.eq(false))
                .filter(Column::DeletedAt.is_null())
                .filter(Column::RevokedAt.is_null().or(Column::RevokedAt.gt(now)))
                .filter(Column::ExpiresAt.is_null().or(Column::ExpiresAt.gt(now)))
                .count(db)
                .await?;
            if active >= max {
                return Err(Error::bad_input(if max == 1 {
                    "One active key per user: revoke before creating.".to_owned()
                } else {
                    format!(
                        "At most {max} active keys per user: revoke one before creating another."
                    )
                }));
            }
        }
        Ok(())
    }

    /// A key in the user's default tenant (the one their sign-in lands in).
    pub async fn create_api_key(
        &self,
        user_id: &str,
        spec: KeySpec,
        client: &ClientInfo,
        now: i64,
    ) -> Result<NewApiKey> {
        let tenant = self.user(user_id, now).await?.tenant_id;
        self.create_api_key_in(user_id, &tenant, spec, client, now)
            .await
    }

    /// A key of the user's that belongs to `tenant_id` (the caller's current tenant);
    /// the user must be a member there.
    #[tracing::instrument(skip_all)]
    pub async fn create_api_key_in(
        &self,
        user_id: &str,
        tenant_id: &str,
        spec: KeySpec,
        client: &ClientInfo,
        now: i64,
    ) -> Result<NewApiKey> {
        let user = self.user(user_id, now).await?;
        let spec = KeySpec {
            name: parse_name(&spec.name)?,
            ..spec
        };
        check_scopes(&spec.scopes)?;
        check_expiry(spec.expires_at, now)?;
        let ips = parse_ips(&spec.ips)?;
        // The policy check and the insert share a transaction so that racing creations
        // cannot both slip under `max_active_per_user` (SQLite serialises writers; on
        // PostgreSQL the user row is locked first).
        let txn = self.begin_write().await?;
        self.lock_user(&txn, user_id).await?;
        self.check_key_policy(&txn, (user_id, user.role), false, None, now)
            .await?;
        if super::tenants::membership(&txn, tenant_id, user_id)
            .await?
            .is_none()
        {
            return Err(Error::forbidden(
                "You are no longer a member of this tenant; switch to another or sign in again.",
            ));
        }
        let new = self
            .insert_key(&txn, (&user.id, tenant_id), &spec, &ips, false, now)
            .await?;
        txn.commit().await?;
        audit::record(
            &self.db,
            Event::ApiKeyCreated,
            Some(user_id),
            client,
            Some(new.key.id.clone()),
            now,
        )
        .await;
        Ok(new)
    }

    /// Serialises the key changes of one user (PostgreSQL; SQLite's `begin_write`
    /// already serialises every writer).
    pub(super) async fn lock_user<C: ConnectionTrait>(&self, db: &C, user_id: &str) -> Result<()> {
        if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            crate::entities::user::Entity::find_by_id(user_id.to_owned())
                .lock_exclusive()
                .one(db)
                .await?;
        }
        Ok(())
    }

    /// The first key of a new account, when `api_keys.signup_key` is on and the new
    /// user's role may create keys.
    pub async fn signup_key<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: &str,
        tenant_id: &str,
        now: i64,
    ) -> Result<Option<NewApiKey>> {
        let policy = &self.settings.api_keys;
        if !policy.signup_key || policy.require_role.is_some_and(|r| r > Role::User) {
            return Ok(None);
        }
        let spec = KeySpec {
            name: "Default key".into(),
            scopes: UNSCOPED_DEFAULT.to_vec(),
            environment: Environment::Live,
            expires_at: None,
            ips: Vec::new(),
        };
        Ok(Some(
            self.insert_key(
                db,
                (user_id, tenant_id),
                &spec,
                &IpAllowlist::default(),
                false,
                now,
            )
            .await?,
        ))
    }
}
