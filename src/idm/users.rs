//! Reading and writing user rows. `user()` is on the path of every authenticated
//! request (`me`, role checks), so it is served from a small in-process cache: every
//! write to a user on this instance goes through `update_user` and drops the entry at
//! once; a write on another instance sharing the database shows here within
//! `CACHE_TTL_SECS`.
use std::collections::HashMap;
use std::sync::Mutex;

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::Idm;
use super::error::{Error, Result};
use crate::domain::{Email, Role};
use crate::entities::user;

/// A user as the rest of the system sees it: no password hash.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub username: Option<String>,
    pub role: Role,
    pub is_active: bool,
    pub has_seen_welcome: bool,
    pub two_factor_enabled: bool,
    pub created_at: i64,
}

impl User {
    pub fn from_model(m: user::Model) -> Self {
        User {
            id: m.id,
            tenant_id: m.tenant_id,
            email: m.email,
            email_verified: m.email_verified,
            first_name: m.first_name,
            username: m.username,
            role: m.role,
            is_active: m.is_active,
            has_seen_welcome: m.has_seen_welcome,
            two_factor_enabled: m.two_factor_enabled,
            created_at: m.created_at,
        }
    }
}

pub const CACHE_TTL_SECS: i64 = 5;
const CACHE_MAX: usize = 100_000;

#[derive(Default)]
pub struct UserCache {
    entries: Mutex<HashMap<String, (User, i64)>>,
}

impl UserCache {
    fn get(&self, id: &str, now: i64) -> Option<User> {
        let map = self.entries.lock().ok()?;
        let (user, at) = map.get(id)?;
        (now - at < CACHE_TTL_SECS).then(|| user.clone())
    }

    fn put(&self, user: &User, now: i64) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(user.id.clone(), (user.clone(), now));
        }
    }

    pub fn forget(&self, id: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(id);
        }
    }
}

impl Idm {
    /// The row, uncached: for password checks and writes.
    pub async fn find_user(&self, id: &str) -> Result<Option<user::Model>> {
        if id.len() > 64 {
            return Ok(None);
        }
        Ok(user::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// The user as the rest of the system sees it (cached, see the module doc).
    pub async fn user(&self, id: &str, now: i64) -> Result<User> {
        if let Some(u) = self.users.get(id, now) {
            return Ok(u);
        }
        let m = self
            .find_user(id)
            .await?
            .ok_or_else(|| Error::not_found("No user with this id."))?;
        let user = User::from_model(m);
        self.users.put(&user, now);
        Ok(user)
    }

    /// The first user of a tenant (its owner: signup makes a tenant with one user).
    pub async fn tenant_owner(&self, tenant_id: &str) -> Result<Option<String>> {
        use sea_orm::{QueryOrder, QuerySelect};
        if tenant_id.len() > 128 {
            return Ok(None);
        }
        let found = user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant_id))
            .order_by_asc(user::Column::CreatedAt)
            .order_by_asc(user::Column::Id)
            .limit(1)
            .one(&self.db)
            .await?;
        Ok(found.map(|u| u.id))
    }

    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<user::Model>> {
        let Some(email) = Email::normalise(email).filter(|e| e.len() <= 320) else {
            return Ok(None);
        };
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&self.db)
            .await?)
    }

    /// Sets columns of one user (and `updated_at`), dropping the cached copy.
    pub async fn update_user(
        &self,
        user_id: &str,
        changes: Vec<(user::Column, SimpleExpr)>,
        now: i64,
    ) -> Result<()> {
        self.update_user_on(&self.db, user_id, changes, now).await
    }

    /// `update_user` on a given connection (a transaction): callers in a transaction
    /// call `users.forget` again after committing, since a read in between may have
    /// cached the old row.
    pub async fn update_user_on<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: &str,
        changes: Vec<(user::Column, SimpleExpr)>,
        now: i64,
    ) -> Result<()> {
        let mut q = user::Entity::update_many().col_expr(user::Column::UpdatedAt, Expr::value(now));
        for (col, value) in changes {
            q = q.col_expr(col, value);
        }
        q.filter(user::Column::Id.eq(user_id)).exec(db).await?;
        self.users.forget(user_id);
        Ok(())
    }
}

/// The ways a user can sign in.
pub struct SignInMethods {
    pub password: bool,
    pub passkeys: u64,
    /// Linked providers, one entry per identity ("google", "x", ...).
    pub providers: Vec<String>,
}

impl Idm {
    /// How `user_id` can sign in; callers keep the last way from being removed.
    pub async fn sign_in_methods(&self, user_id: &str) -> Result<SignInMethods> {
        use sea_orm::PaginatorTrait;
        let user = self
            .find_user(user_id)
            .await?
            .ok_or_else(|| super::Error::unauthenticated("Sign in again."))?;
        let passkeys = crate::entities::passkey::Entity::find()
            .filter(crate::entities::passkey::Column::UserId.eq(user_id))
            .count(&self.db)
            .await?;
        let providers = crate::entities::identity::Entity::find()
            .filter(crate::entities::identity::Column::UserId.eq(user_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|i| i.provider)
            .collect();
        Ok(SignInMethods {
            password: user.password_hash.is_some(),
            passkeys,
            providers,
        })
    }
}
