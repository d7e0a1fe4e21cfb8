//! What a user edits about themself: the first name and the username, and the welcome
//! flag.
use sea_orm::sea_query::Expr;

use super::accounts::optional_text;
use super::audit::{self, Event};
use super::error::Result;
use super::users::User;
use super::{ClientInfo, Idm};
use crate::entities::user;

/// A change to the profile: None leaves a field as it is; Some("") clears it.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProfileChange<'a> {
    pub first_name: Option<&'a str>,
    pub username: Option<&'a str>,
}

impl Idm {
    pub async fn update_profile(
        &self,
        user_id: &str,
        change: ProfileChange<'_>,
        client: &ClientInfo,
        now: i64,
    ) -> Result<User> {
        let mut cols = Vec::new();
        let mut changed = Vec::new();
        if let Some(v) = change.first_name {
            let v = optional_text(Some(v), "The first name", 128)?;
            cols.push((user::Column::FirstName, Expr::value(v)));
            changed.push("first name");
        }
        if let Some(v) = change.username {
            let v = optional_text(Some(v), "The username", 64)?;
            cols.push((user::Column::Username, Expr::value(v)));
            changed.push("username");
        }
        // The user must exist (and be active: a deactivated user has no token anyway).
        self.user(user_id, now).await?;
        if cols.is_empty() {
            return self.user(user_id, now).await;
        }
        self.update_user(user_id, cols, now).await?;
        audit::record(
            &self.db,
            Event::ProfileUpdated,
            Some(user_id),
            client,
            Some(changed.join(", ")),
            now,
        )
        .await;
        self.user(user_id, now).await
    }

    pub async fn mark_welcome_seen(&self, user_id: &str, now: i64) -> Result<User> {
        self.update_user(
            user_id,
            vec![(user::Column::HasSeenWelcome, Expr::value(true))],
            now,
        )
        .await?;
        self.user(user_id, now).await
    }
}
