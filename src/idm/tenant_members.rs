//! Changing a tenant's members: roles, removal, leaving, and the transfer of ownership.
//! The rules: an ADMIN manages MEMBERs and ADMINs, never an OWNER, and makes no OWNER;
//! only an OWNER transfers ownership; the last OWNER can neither leave nor be removed.
//! A member removed (or leaving) loses at once their sessions in that tenant and the
//! keys they made in it. A user of another tenant is NOT_FOUND.
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::audit::{self, Event};
use super::error::{Error, Result};
use super::tenants::{Member, default_name, insert_tenant, membership};
use super::users::User;
use super::{ClientInfo, Idm};
use crate::domain::TenantRole;
use crate::entities::{api_key, membership, session, user};

fn no_member() -> Error {
    Error::not_found("No member with this id in this tenant.")
}

impl Idm {
    /// The target's membership of the tenant, read in `db` (a write transaction).
    async fn member_row<C: ConnectionTrait>(
        &self,
        db: &C,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<membership::Model> {
        membership(db, tenant_id, user_id)
            .await?
            .ok_or_else(no_member)
    }

    async fn owners<C: ConnectionTrait>(&self, db: &C, tenant_id: &str) -> Result<u64> {
        Ok(membership::Entity::find()
            .filter(membership::Column::TenantId.eq(tenant_id))
            .filter(membership::Column::Role.eq(TenantRole::Owner.as_str()))
            .count(db)
            .await?)
    }

    async fn member_view(&self, m: membership::Model, now: i64) -> Result<Member> {
        let mut user: User = self.user(&m.user_id, now).await?;
        user.tenant_id = m.tenant_id;
        Ok(Member {
            user,
            role: m.role,
            joined_at: m.joined_at,
        })
    }

    /// Sets a member's role to ADMIN or MEMBER. The actor's role is read in the same
    /// write as the change, so a demotion of the actor meanwhile wins.
    pub async fn set_member_role(
        &self,
        actor: (&str, &str),
        target: &str,
        role: TenantRole,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Member> {
        let (actor_id, tenant_id) = actor;
        if role == TenantRole::Owner {
            return Err(Error::bad_input(
                "An OWNER is made by transferOwnership, not by setting a role.",
            ));
        }
        let txn = self.begin_write().await?;
        let me = self.member_row(&txn, tenant_id, actor_id).await?;
        let them = self.member_row(&txn, tenant_id, target).await?;
        if them.role == TenantRole::Owner {
            return Err(Error::forbidden(
                "An OWNER's role cannot be set: the OWNER transfers ownership first.",
            ));
        }
        if me.role < TenantRole::Admin {
            return Err(Error::forbidden(
                "This action requires the OWNER or ADMIN role in this tenant.",
            ));
        }
        membership::Entity::update_many()
            .col_expr(membership::Column::Role, Expr::value(role.as_str()))
            .filter(membership::Column::TenantId.eq(tenant_id))
            .filter(membership::Column::UserId.eq(target))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        audit::record(
            &self.db,
            Event::MemberRoleChanged,
            Some(target),
            client,
            Some(format!(
                "{tenant_id}: {} -> {role} by {actor_id}",
                them.role
            )),
            now,
        )
        .await;
        let updated = membership::Model { role, ..them };
        self.member_view(updated, now).await
    }

    /// Removes a member (not an OWNER; an ADMIN removes MEMBERs and ADMINs).
    pub async fn remove_member(
        &self,
        actor: (&str, &str),
        target: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        let (actor_id, tenant_id) = actor;
        if target == actor_id {
            return Err(Error::bad_input(
                "To leave a tenant yourself, use leaveTenant.",
            ));
        }
        let txn = self.begin_write().await?;
        let me = self.member_row(&txn, tenant_id, actor_id).await?;
        let them = self.member_row(&txn, tenant_id, target).await?;
        if me.role < TenantRole::Admin {
            return Err(Error::forbidden(
                "This action requires the OWNER or ADMIN role in this tenant.",
            ));
        }
        if them.role == TenantRole::Owner {
            return Err(Error::forbidden(
                "An OWNER cannot be removed: they transfer ownership first.",
            ));
        }
        self.end_membership(&txn, tenant_id, target, now).await?;
        txn.commit().await?;
        self.forget_member(target);
        audit::record(
            &self.db,
            Event::MemberRemoved,
            Some(target),
            client,
            Some(format!("{tenant_id} by {actor_id}")),
            now,
        )
        .await;
        Ok(true)
    }

    /// The user leaves one of their tenants (the last OWNER cannot).
    pub async fn leave_tenant(
        &self,
        user_id: &str,
        tenant_id: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        let txn = self.begin_write().await?;
        let me = self
            .member_row(&txn, tenant_id, user_id)
            .await
            .map_err(|_| Error::not_found("No tenant with this id among yours."))?;
        if me.role == TenantRole::Owner && self.owners(&txn, tenant_id).await? <= 1 {
            return Err(Error::bad_input(
                "You are this tenant's last OWNER: transfer ownership before you leave.",
            ));
        }
        self.end_membership(&txn, tenant_id, user_id, now).await?;
        txn.commit().await?;
        self.forget_member(user_id);
        audit::record(
            &self.db,
            Event::MemberRemoved,
            Some(user_id),
            client,
            Some(format!("{tenant_id}: left")),
            now,
        )
        .await;
        Ok(true)
    }

    /// Makes a member the OWNER; the OWNER handing over becomes an ADMIN.
    pub async fn transfer_ownership(
        &self,
        owner: (&str, &str),
        target: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Member> {
        let (owner_id, tenant_id) = owner;
        if target == owner_id {
            return Err(Error::bad_input("You are the OWNER already."));
        }
        let txn = self.begin_write().await?;
        let me = self.member_row(&txn, tenant_id, owner_id).await?;
        let them = self.member_row(&txn, tenant_id, target).await?;
        if me.role != TenantRole::Owner {
            return Err(Error::forbidden("Only an OWNER transfers ownership."));
        }
        for (who, role) in [(target, TenantRole::Owner), (owner_id, TenantRole::Admin)] {
            membership::Entity::update_many()
                .col_expr(membership::Column::Role, Expr::value(role.as_str()))
                .filter(membership::Column::TenantId.eq(tenant_id))
                .filter(membership::Column::UserId.eq(who))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        audit::record(
            &self.db,
            Event::OwnershipTransferred,
            Some(owner_id),
            client,
            Some(format!("{tenant_id} to {target}")),
            now,
        )
        .await;
        let updated = membership::Model {
            role: TenantRole::Owner,
            ..them
        };
        self.member_view(updated, now).await
    }

    /// Ends a membership in `db`: the row, the user's sessions in that tenant, the keys
    /// they made in it; and moves their default tenant elsewhere (a new one of their
    /// own when they have none left).
    async fn end_membership<C: ConnectionTrait>(
        &self,
        db: &C,
        tenant_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<()> {
        // Serialised with the user's key creations (which lock the user and check the
        // membership): no key made meanwhile survives the removal.
        self.lock_user(db, user_id).await?;
        membership::Entity::delete_many()
            .filter(membership::Column::TenantId.eq(tenant_id))
            .filter(membership::Column::UserId.eq(user_id))
            .exec(db)
            .await?;
        let sessions: Vec<String> = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::TenantId.eq(tenant_id))
            .filter(session::Column::RevokedAt.is_null())
            .all(db)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        if !sessions.is_empty() {
            session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Expr::value(now))
                .filter(session::Column::Id.is_in(sessions.clone()))
                .exec(db)
                .await?;
            self.sessions.revoke_all(&sessions, now);
        }
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(now))
            .filter(api_key::Column::UserId.eq(user_id))
            .filter(api_key::Column::TenantId.eq(tenant_id))
            .filter(
                api_key::Column::RevokedAt
                    .is_null()
                    .or(api_key::Column::RevokedAt.gt(now)),
            )
            .exec(db)
            .await?;
        let Some(row) = user::Entity::find_by_id(user_id.to_owned()).one(db).await? else {
            return Ok(());
        };
        if row.tenant_id == tenant_id {
            let next = membership::Entity::find()
                .filter(membership::Column::UserId.eq(user_id))
                .order_by_asc(membership::Column::JoinedAt)
                .one(db)
                .await?;
            let next = match next {
                Some(m) => m.tenant_id,
                None => {
                    insert_tenant(db, default_name(row.email.as_deref()), Some(user_id), now)
                        .await?
                }
            };
            user::Entity::update_many()
                .col_expr(user::Column::TenantId, Expr::value(next))
                .col_expr(user::Column::UpdatedAt, Expr::value(now))
                .filter(user::Column::Id.eq(user_id))
                .exec(db)
                .await?;
        }
        Ok(())
    }

    /// Drops what this instance caches about a user whose memberships changed.
    fn forget_member(&self, user_id: &str) {
        self.users.forget(user_id);
        self.key_cache.invalidate(None, Some(user_id));
    }
}
