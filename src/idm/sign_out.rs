//! Signing out: this session, every session, every other one, the session of a
//! browser's refresh cookie, or one session by id. Each is audited.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::audit::{self, Event};
use super::crypto::token_hash;
use super::error::{Error, Result};
use super::{ClientInfo, Idm};
use crate::entities::{refresh_token, session};

impl Idm {
    /// Signs out: this session (`sid`), or every session of the user.
    pub async fn logout(
        &self,
        user_id: &str,
        sid: Option<&str>,
        all: bool,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        let ids = match (all, sid) {
            (true, _) => self.revoke_sessions(user_id, None, None, now).await?,
            (false, Some(sid)) => self.revoke_sessions(user_id, Some(sid), None, now).await?,
            (false, None) => {
                return Err(Error::bad_input(
                    "There is no session to sign out of here (an API key has none): pass allSessions: true to sign out everywhere.",
                ));
            }
        };
        audit::record(
            &self.db,
            Event::SessionRevoked,
            Some(user_id),
            client,
            Some(format!("logout: {} session(s)", ids.len())),
            now,
        )
        .await;
        Ok(true)
    }

    /// Signs out every session of the user but the caller's own (`sid`), in one
    /// statement: how many ended. An API key has no session to keep: refused.
    pub async fn revoke_other_sessions(
        &self,
        user_id: &str,
        sid: Option<&str>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<u64> {
        let Some(sid) = sid else {
            return Err(Error::bad_input(
                "There is no session of yours to keep here (an API key has none): use logout(allSessions: true) to sign out everywhere.",
            ));
        };
        let ids = self.revoke_sessions(user_id, None, Some(sid), now).await?;
        audit::record(
            &self.db,
            Event::SessionRevoked,
            Some(user_id),
            client,
            Some(format!("every other session: {}", ids.len())),
            now,
        )
        .await;
        Ok(ids.len() as u64)
    }

    /// Signs out the session a refresh token belongs to (the browser pages hold one in a
    /// cookie). A used token still names its session, and signing out ends it. False
    /// when the token names no live session.
    pub async fn sign_out_with_refresh_token(
        &self,
        token: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        if token.len() > 256 {
            return Ok(false);
        }
        let Some(row) = refresh_token::Entity::find_by_id(token_hash(token))
            .one(&self.db)
            .await?
        else {
            return Ok(false);
        };
        let Some(sess) = session::Entity::find_by_id(row.session_id)
            .one(&self.db)
            .await?
        else {
            return Ok(false);
        };
        if sess.revoked_at.is_some() || sess.expires_at <= now {
            return Ok(false);
        }
        self.logout(&sess.user_id, Some(&sess.id), false, client, now)
            .await
    }

    pub async fn revoke_session(
        &self,
        user_id: &str,
        sid: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        let owned = session::Entity::find_by_id(sid.to_owned())
            .filter(session::Column::UserId.eq(user_id))
            .one(&self.db)
            .await?;
        if owned.is_none() {
            return Err(Error::not_found("No session with this id."));
        }
        self.revoke_sessions(user_id, Some(sid), None, now).await?;
        audit::record(
            &self.db,
            Event::SessionRevoked,
            Some(user_id),
            client,
            Some(format!("session {sid}")),
            now,
        )
        .await;
        Ok(true)
    }
}
