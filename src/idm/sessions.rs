//! Sessions and refresh tokens. A session is one sign-in; its refresh tokens form a
//! family: each refresh uses one up and hands out the next. Presenting a used token
//! again (a stolen copy, or a race) revokes the whole family.
//!
//! Access tokens name their session (`sid`); a revoked session's tokens stop working at
//! once on this instance (the cache below learns of the revocation as it happens) and
//! within `CHECK_TTL_SECS` on other instances sharing the database.
use std::collections::HashMap;
use std::sync::Mutex;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::audit::{self, Event};
use super::crypto::{random_token, token_hash};
use super::error::{Error, Result};
use super::rate_limit::{Action, Subject};
use super::tokens::TokenSubject;
use super::users::User;
use super::{ClientInfo, Idm};
use crate::entities::{refresh_token, session, user};

/// How long a positive "session is live" answer is trusted before asking the database.
pub const CHECK_TTL_SECS: i64 = 5;
const CACHE_MAX: usize = 100_000;

/// A freshly issued token pair.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user: User,
}

#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub current: bool,
}

/// Which sessions are live, as last seen. Only a shortcut: the database is the truth,
/// so dropping entries is always safe.
#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, (bool, i64)>>,
}

impl SessionCache {
    fn get(&self, sid: &str, now: i64) -> Option<bool> {
        let map = self.entries.lock().ok()?;
        match map.get(sid) {
            Some((false, _)) => Some(false),
            Some((true, at)) if now - at < CHECK_TTL_SECS => Some(true),
            _ => None,
        }
    }

    fn put(&self, sid: &str, live: bool, now: i64) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(sid.to_owned(), (live, now));
        }
    }

    pub(super) fn revoke_all(&self, sids: &[String], now: i64) {
        for sid in sids {
            self.put(sid, false, now);
        }
    }
}

pub(super) fn clip(s: Option<&str>, max: usize) -> Option<String> {
    s.map(|s| s.chars().take(max).collect())
}

impl Idm {
    /// Starts a session for `user` and issues its first token pair.
    pub async fn start_session<C: ConnectionTrait>(
        &self,
        db: &C,
        user: &user::Model,
        amr: &[&str],
        client: &ClientInfo,
        now: i64,
    ) -> Result<Tokens> {
        let sid = uuid::Uuid::new_v4().to_string();
        let refresh_ttl = i64::from(self.settings.tokens.refresh_ttl_secs);
        session::ActiveModel {
            id: Set(sid.clone()),
            user_id: Set(user.id.clone()),
            tenant_id: Set(Some(user.tenant_id.clone())),
            amr: Set(amr.join(" ")),
            created_at: Set(now),
            last_used_at: Set(Some(now)),
            expires_at: Set(now + refresh_ttl),
            revoked_at: Set(None),
            ip: Set(client.ip.map(|ip| ip.to_string())),
            user_agent: Set(clip(client.user_agent.as_deref(), 256)),
        }
        .insert(db)
        .await?;
        let refresh = self.insert_refresh_token(db, &sid, now).await?;
        self.token_pair(
            user,
            &sid,
            amr.iter().map(|s| s.to_string()).collect(),
            refresh,
            now,
        )
    }

    async fn insert_refresh_token<C: ConnectionTrait>(
        &self,
        db: &C,
        sid: &str,
        now: i64,
    ) -> Result<String> {
        let token = random_token();
        refresh_token::ActiveModel {
            token_hash: Set(token_hash(&token)),
            session_id: Set(sid.to_owned()),
            created_at: Set(now),
            expires_at: Set(now + i64::from(self.settings.tokens.refresh_ttl_secs)),
            used_at: Set(None),
        }
        .insert(db)
        .await?;
        Ok(token)
    }

    fn token_pair(
        &self,
        user: &user::Model,
        sid: &str,
        amr: Vec<String>,
        refresh: String,
        now: i64,
    ) -> Result<Tokens> {
        let user = User::from_model(user.clone());
        let subject = TokenSubject {
            user_id: user.id.clone(),
            session_id: sid.to_owned(),
            tenant_id: user.tenant_id.clone(),
            role: user.role,
            amr,
        };
        Ok(Tokens {
            access_token: self.keys.issue(&subject, now)?,
            refresh_token: refresh,
            expires_in: self.keys.access_ttl(),
            user,
        })
    }

    /// Exchanges a refresh token for a new pair. A token used before revokes its family.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, token: &str, client: &ClientInfo, now: i64) -> Result<Tokens> {
        self.limits
            .hit(Action::Refresh, Subject::Ip(client.ip), now)
            .await?;
        let invalid =
            || Error::unauthenticated("This refresh token is invalid or expired; sign in again.");
        if token.len() > 256 {
            return Err(invalid());
        }
        let hash = token_hash(token);
        let Some(row) = refresh_token::Entity::find_by_id(hash.clone())
            .one(&self.db)
            .await?
        else {
            return Err(invalid());
        };
        let Some(sess) = session::Entity::find_by_id(row.session_id.clone())
            .one(&self.db)
            .await?
        else {
            return Err(invalid());
        };
        if sess.revoked_at.is_some() || sess.expires_at <= now {
            return Err(invalid());
        }
        if row.used_at.is_some() {
            return Err(self.reuse_detected(&sess, client, now).await);
        }
        if row.expires_at <= now {
            return Err(invalid());
        }
        let Some(mut user) = user::Entity::find_by_id(sess.user_id.clone())
            .one(&self.db)
            .await?
        else {
            return Err(invalid());
        };
        if !user.is_active {
            return Err(Error::unauthenticated("This account is deactivated."));
        }
        // The session's tenant (the token's `tid`), while the user is still a member.
        if let Some(tenant) = &sess.tenant_id {
            user.tenant_id = tenant.clone();
        }
        if self.tenant_role(&user.tenant_id, &user.id).await?.is_none() {
            return Err(Error::unauthenticated(
                "You are no longer a member of this session's tenant; sign in again.",
            ));
        }
        let txn = self.begin_write().await?;
        let claimed = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
            .filter(refresh_token::Column::TokenHash.eq(hash))
            .filter(refresh_token::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            drop(txn);
            return Err(self.reuse_detected(&sess, client, now).await);
        }
        let next = self.insert_refresh_token(&txn, &sess.id, now).await?;
        let refresh_ttl = i64::from(self.settings.tokens.refresh_ttl_secs);
        session::Entity::update_many()
            .col_expr(session::Column::LastUsedAt, Expr::value(now))
            .col_expr(session::Column::ExpiresAt, Expr::value(now + refresh_ttl))
            .col_expr(
                session::Column::Ip,
                Expr::value(client.ip.map(|ip| ip.to_string())),
            )
            .col_expr(
                session::Column::UserAgent,
                Expr::value(clip(client.user_agent.as_deref(), 256)),
            )
            .filter(session::Column::Id.eq(sess.id.clone()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        let amr = sess.amr.split_whitespace().map(str::to_owned).collect();
        self.token_pair(&user, &sess.id, amr, next, now)
    }

    async fn reuse_detected(&self, sess: &session::Model, client: &ClientInfo, now: i64) -> Error {
        if let Err(e) = self
            .revoke_sessions(&sess.user_id, Some(&sess.id), None, now)
            .await
        {
            return e;
        }
        audit::record(
            &self.db,
            Event::RefreshTokenReused,
            Some(&sess.user_id),
            client,
            Some(format!("session {}", sess.id)),
            now,
        )
        .await;
        Error::unauthenticated(
            "This refresh token was already used, so its session has been revoked to be safe; sign in again.",
        )
    }

    /// Revokes sessions of `user_id`: one (`only`), or all but `keep`, or all.
    pub async fn revoke_sessions(
        &self,
        user_id: &str,
        only: Option<&str>,
        keep: Option<&str>,
        now: i64,
    ) -> Result<Vec<String>> {
        self.revoke_sessions_on(&self.db, user_id, only, keep, now)
            .await
    }

    /// `revoke_sessions` on a given connection (a transaction). The cache marks them
    /// revoked at once: if the transaction rolls back, that errs on the safe side for
    /// the cache's few seconds.
    pub async fn revoke_sessions_on<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: &str,
        only: Option<&str>,
        keep: Option<&str>,
        now: i64,
    ) -> Result<Vec<String>> {
        let mut q = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::RevokedAt.is_null());
        if let Some(sid) = only {
            q = q.filter(session::Column::Id.eq(sid));
        }
        if let Some(sid) = keep {
            q = q.filter(session::Column::Id.ne(sid));
        }
        let ids: Vec<String> = q.all(db).await?.into_iter().map(|s| s.id).collect();
        if ids.is_empty() {
            return Ok(ids);
        }
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(now))
            .filter(session::Column::Id.is_in(ids.clone()))
            .filter(session::Column::RevokedAt.is_null())
            .exec(db)
            .await?;
        self.sessions.revoke_all(&ids, now);
        Ok(ids)
    }

    /// Is this session live (not revoked, not expired, its user active)?
    pub async fn session_is_live(&self, sid: &str, now: i64) -> Result<bool> {
        if let Some(live) = self.sessions.get(sid, now) {
            return Ok(live);
        }
        let live = match session::Entity::find_by_id(sid.to_owned())
            .one(&self.db)
            .await?
        {
            Some(s) if s.revoked_at.is_none() && s.expires_at > now => {
                user::Entity::find_by_id(s.user_id)
                    .one(&self.db)
                    .await?
                    .is_some_and(|u| u.is_active)
            }
            _ => false,
        };
        self.sessions.put(sid, live, now);
        Ok(live)
    }

    pub async fn list_sessions(
        &self,
        user_id: &str,
        current: Option<&str>,
        now: i64,
    ) -> Result<Vec<SessionInfo>> {
        let rows = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .order_by_desc(session::Column::CreatedAt)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|s| SessionInfo {
                current: current == Some(s.id.as_str()),
                id: s.id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect())
    }
}
