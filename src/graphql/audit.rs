//! The audit log as an API: an administrator's view of every event, and each user's
//! own recent security activity. Newest first, with opaque cursors.
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::directives::user_token;
use super::state;
use super::types::{Role, User, int, time};
use crate::idm::activity::{self, EventFilter};
use crate::idm::admin;

/// One security event (a row of the audit log).
#[derive(SimpleObject)]
pub struct SecurityEvent {
    pub id: ID,
    /// The event's name: signup, login_ok, login_failed, api_key_created, ...
    #[graphql(name = "type")]
    pub kind: String,
    pub user_id: Option<ID>,
    pub tenant_id: Option<ID>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct SecurityEventPage {
    /// Newest first.
    pub items: Vec<SecurityEvent>,
    /// Pass as `after` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

impl From<activity::EventPage> for SecurityEventPage {
    fn from(p: activity::EventPage) -> Self {
        Self {
            items: p
                .items
                .into_iter()
                .map(|e| SecurityEvent {
                    id: ID(e.id.to_string()),
                    kind: e.event,
                    user_id: e.user_id.map(ID),
                    tenant_id: e.tenant_id.map(ID),
                    ip: e.ip,
                    user_agent: e.user_agent,
                    detail: e.detail,
                    at: time(e.at),
                })
                .collect(),
            next_cursor: p.next,
        }
    }
}

#[derive(SimpleObject)]
pub struct UserPage {
    pub items: Vec<User>,
    pub total: i32,
    pub offset: i32,
    pub limit: i32,
}

impl From<admin::UserPage> for UserPage {
    fn from(p: admin::UserPage) -> Self {
        Self {
            items: p.items.into_iter().map(Into::into).collect(),
            total: int(p.total),
            offset: int(p.offset),
            limit: int(p.limit),
        }
    }
}

/// A negative or absurd Int from the wire: refused by the core's range check.
fn count(n: Option<i32>, default: i32) -> i64 {
    i64::from(n.unwrap_or(default))
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Users newest first; `query` matches part of an email (any case). `limit` is 1..100.
    #[graphql(directive = user_token::apply(Some(vec![Role::Admin])))]
    async fn users(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        #[graphql(default_with = "Some(0)")] offset: Option<i32>,
        #[graphql(default_with = "Some(50)")] limit: Option<i32>,
    ) -> Result<UserPage> {
        let (idm, _) = state(ctx)?;
        let offset = u64::try_from(count(offset, 0))
            .map_err(|_| crate::idm::Error::bad_input("offset must be 0 or more."))?;
        let limit = u64::try_from(count(limit, 50)).unwrap_or(0);
        Ok(idm
            .list_users(query.as_deref(), offset, limit)
            .await?
            .into())
    }

    /// Every security event, newest first; by user and by type (the event's name).
    /// `limit` is 1..100.
    #[graphql(directive = user_token::apply(Some(vec![Role::Admin])))]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
        #[graphql(name = "type")] kind: Option<String>,
        after: Option<String>,
        #[graphql(default_with = "Some(50)")] limit: Option<i32>,
    ) -> Result<SecurityEventPage> {
        let (idm, _) = state(ctx)?;
        let filter = EventFilter {
            user_id: user_id.as_ref().map(|id| id.as_str()),
            event: kind.as_deref(),
        };
        Ok(idm
            .security_events(filter, after.as_deref(), count(limit, 50))
            .await?
            .into())
    }

    /// The signed-in user's own security events (sign-ins, changes, keys), newest first.
    /// `limit` is 1..100.
    #[graphql(directive = user_token::apply(None))]
    async fn my_activity(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        #[graphql(default_with = "Some(50)")] limit: Option<i32>,
    ) -> Result<SecurityEventPage> {
        let (idm, caller) = state(ctx)?;
        let me = caller.acting()?;
        let filter = EventFilter {
            user_id: Some(me.user_id),
            event: None,
        };
        Ok(idm
            .security_events(filter, after.as_deref(), count(limit, 50))
            .await?
            .into())
    }
}
