//! Administration: roles and deactivation. Deactivating a user revokes every session,
//! so their access tokens stop working at once.
use sea_orm::sea_query::Expr;

use super::accounts::{AccountRow, insert_account};
use super::audit::{self, Event};
use super::error::{Error, Result};
use super::users::User;
use super::{ClientInfo, Idm};
use crate::domain::Role;
use crate::entities::user;

/// The fixed user that `noauth` development mode acts as.
pub const DEV_USER_EMAIL: &str = "dev@latchkey.localhost";

impl Idm {
    pub async fn set_user_role(
        &self,
        admin_id: &str,
        target: &str,
        role: Role,
        client: &ClientInfo,
        now: i64,
    ) -> Result<User> {
        let user = self.user(target, now).await?;
        if admin_id == target && role != Role::Admin {
            return Err(Error::bad_input(
                "You cannot remove your own ADMIN role; ask another administrator.",
            ));
        }
        self.write_role(&user.id, role, now).await?;
        audit::record(
            &self.db,
            Event::RoleChanged,
            Some(&user.id),
            client,
            Some(format!("{} -> {role} by {admin_id}", user.role)),
            now,
        )
        .await;
        self.user(target, now).await
    }

    async fn write_role(&self, user_id: &str, role: Role, now: i64) -> Result<()> {
        self.update_user(user_id, vec![(user::Column::Role, Expr::value(role))], now)
            .await
    }

    pub async fn set_user_active(
        &self,
        admin_id: &str,
        target: &str,
        active: bool,
        client: &ClientInfo,
        now: i64,
    ) -> Result<User> {
        let user = self.user(target, now).await?;
        if admin_id == target && !active {
            return Err(Error::bad_input("You cannot deactivate your own account."));
        }
        self.update_user(
            &user.id,
            vec![(user::Column::IsActive, Expr::value(active))],
            now,
        )
        .await?;
        let event = if active {
            self.key_cache.invalidate(None, Some(&user.id));
            Event::UserActivated
        } else {
            self.revoke_sessions(&user.id, None, None, now).await?;
            super::mfa_login::void_pending_logins(&self.db, &user.id).await?;
            self.key_cache.invalidate(None, Some(&user.id));
            Event::UserDeactivated
        };
        audit::record(
            &self.db,
            event,
            Some(&user.id),
            client,
            Some(format!("by {admin_id}")),
            now,
        )
        .await;
        self.user(target, now).await
    }

    /// `latchkey user set-role`: bootstraps the first administrator from the shell.
    pub async fn set_role_by_email(&self, email: &str, role: Role, now: i64) -> Result<User> {
        let user = self
            .find_user_by_email(email)
            .await?
            .ok_or_else(|| Error::not_found(format!("No account with the email `{email}`.")))?;
        self.write_role(&user.id, role, now).await?;
        let client = ClientInfo::default();
        audit::record(
            &self.db,
            Event::RoleChanged,
            Some(&user.id),
            &client,
            Some(format!("{} -> {role} by the command line", user.role)),
            now,
        )
        .await;
        self.user(&user.id, now).await
    }

    /// The development user of `noauth` mode, created on first use.
    pub async fn dev_user(&self, now: i64) -> Result<User> {
        if let Some(u) = self.find_user_by_email(DEV_USER_EMAIL).await? {
            return Ok(User::from_model(u));
        }
        let model = insert_account(
            &self.db,
            AccountRow {
                email: Some(DEV_USER_EMAIL.into()),
                email_verified: true,
                password_hash: None,
                first_name: Some("Dev".into()),
                username: Some("dev".into()),
                role: Role::Admin,
                join: None,
            },
            now,
        )
        .await?;
        Ok(User::from_model(model))
    }
}

/// A page of users for the administrator.
#[derive(Debug, Clone)]
pub struct UserPage {
    pub items: Vec<User>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

pub const MAX_USER_PAGE: u64 = 100;

/// `q` as a LIKE pattern that matches it anywhere, its own `%`, `_` and `\` literal.
fn contains_pattern(q: &str) -> String {
    let mut p = String::from("%");
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Idm {
    /// Users newest first, those whose email contains `query` (any case) when given.
    pub async fn list_users(
        &self,
        query: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<UserPage> {
        use sea_orm::sea_query::{ExprTrait, Func, LikeExpr};
        use sea_orm::{EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

        if !(1..=MAX_USER_PAGE).contains(&limit) {
            return Err(Error::bad_input(format!(
                "limit must be 1..{MAX_USER_PAGE}."
            )));
        }
        if offset > 1_000_000 {
            return Err(Error::bad_input(
                "offset must be 0..1000000; search by email instead.",
            ));
        }
        let query = query.map(str::trim).filter(|q| !q.is_empty());
        if query.is_some_and(|q| q.chars().count() > 254) {
            return Err(Error::bad_input(
                "query is at most 254 characters (part of an email).",
            ));
        }
        let mut find = user::Entity::find();
        if let Some(q) = query {
            let pattern = contains_pattern(&q.to_lowercase());
            find = find.filter(
                Func::lower(Expr::col(user::Column::Email))
                    .like(LikeExpr::new(pattern).escape('\\')),
            );
        }
        let total = find.clone().count(&self.db).await?;
        let rows = find
            .order_by_desc(user::Column::CreatedAt)
            .order_by_desc(user::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(UserPage {
            items: rows.into_iter().map(User::from_model).collect(),
            total,
            offset,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_search_matches_its_wildcards_literally() {
        assert_eq!(super::contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
