//! Tenants with members. A user belongs to one or more tenants with a role; a session
//! lives in one of them (the access token's `tid`), and `switch_tenant` starts a new
//! session in another. A tenant the caller is not a member of is NOT_FOUND, never
//! FORBIDDEN: its existence is not told.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::accounts::optional_text;
use super::audit::{self, Event};
use super::error::{Error, Result};
use super::sessions::Tokens;
use super::users::User;
use super::{ClientInfo, Idm};
use crate::domain::{TenantId, TenantRole};
use crate::entities::{membership, session, tenant, user};

pub const MAX_PAGE: u64 = 64;
const MAX_NAME_CHARS: usize = 128;

/// A tenant as one of its members sees it.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub my_role: TenantRole,
    pub member_count: u64,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub role: TenantRole,
    pub joined_at: i64,
}

pub struct MemberPage {
    pub items: Vec<Member>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

fn not_found() -> Error {
    Error::not_found("No tenant with this id among yours.")
}

/// A tenant's name: 1 to 128 characters, no control characters.
pub fn parse_name(name: &str) -> Result<String> {
    optional_text(Some(name), "The tenant name", MAX_NAME_CHARS)?
        .ok_or_else(|| Error::bad_input("The tenant name must not be empty."))
}

/// The name of the tenant signup makes: "<local part>'s team".
pub fn default_name(email: Option<&str>) -> String {
    match email
        .and_then(|e| e.split('@').next())
        .filter(|l| !l.is_empty())
    {
        Some(local) => format!("{}'s team", local.chars().take(100).collect::<String>()),
        None => "My team".to_owned(),
    }
}

/// Inserts a tenant with `owner` as its OWNER (signup, `createTenant`).
pub(super) async fn insert_tenant<C: ConnectionTrait>(
    db: &C,
    name: String,
    owner: Option<&str>,
    now: i64,
) -> std::result::Result<String, sea_orm::DbErr> {
    let id = TenantId::generate().into_string();
    tenant::ActiveModel {
        id: Set(id.clone()),
        name: Set(name),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    if let Some(user_id) = owner {
        insert_membership(db, &id, user_id, TenantRole::Owner, now).await?;
    }
    Ok(id)
}

/// The user's membership of the tenant, read on `db` (a write transaction where the
/// answer must hold for the write). Ids longer than any we make are no member.
pub(super) async fn membership<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<membership::Model>> {
    if tenant_id.len() > 32 || user_id.len() > 64 {
        return Ok(None);
    }
    Ok(
        membership::Entity::find_by_id((tenant_id.to_owned(), user_id.to_owned()))
            .one(db)
            .await?,
    )
}

pub(super) async fn insert_membership<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    user_id: &str,
    role: TenantRole,
    now: i64,
) -> std::result::Result<(), sea_orm::DbErr> {
    membership::ActiveModel {
        tenant_id: Set(tenant_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        role: Set(role),
        joined_at: Set(now),
    }
    .insert(db)
    .await
    .map(|_| ())
}

impl Idm {
    /// The user's role in the tenant, or None when not a member. Read from the store on
    /// every call: a demotion or a removal takes effect on the member's next call.
    pub async fn tenant_role(&self, tenant_id: &str, user_id: &str) -> Result<Option<TenantRole>> {
        Ok(membership(&self.db, tenant_id, user_id)
            .await?
            .map(|m| m.role))
    }

    async fn to_tenant(&self, t: tenant::Model, my_role: TenantRole) -> Result<Tenant> {
        let member_count = membership::Entity::find()
            .filter(membership::Column::TenantId.eq(t.id.as_str()))
            .count(&self.db)
            .await?;
        Ok(Tenant {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
            my_role,
            member_count,
        })
    }

    /// A tenant of the user's; any other is NOT_FOUND.
    pub async fn tenant_of(&self, user_id: &str, tenant_id: &str) -> Result<Tenant> {
        let role = self
            .tenant_role(tenant_id, user_id)
            .await?
            .ok_or_else(not_found)?;
        let t = tenant::Entity::find_by_id(tenant_id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        self.to_tenant(t, role).await
    }

    /// Every tenant the user belongs to, oldest membership first.
    pub async fn tenants_of(&self, user_id: &str) -> Result<Vec<Tenant>> {
        let rows = membership::Entity::find()
            .filter(membership::Column::UserId.eq(user_id))
            .order_by_asc(membership::Column::JoinedAt)
            .order_by_asc(membership::Column::TenantId)
            .find_also_related(tenant::Entity)
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (m, t) in rows {
            if let Some(t) = t {
                out.push(self.to_tenant(t, m.role).await?);
            }
        }
        Ok(out)
    }

    /// A page of the tenant's members (the caller must be one), OWNERs first, then by
    /// when they joined.
    pub async fn members(
        &self,
        user_id: &str,
        tenant_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<MemberPage> {
        let (offset, limit) = super::page_bounds(offset, limit, MAX_PAGE)?;
        self.tenant_role(tenant_id, user_id)
            .await?
            .ok_or_else(not_found)?;
        let base = membership::Entity::find().filter(membership::Column::TenantId.eq(tenant_id));
        let total = base.clone().count(&self.db).await?;
        let rows = base
            .order_by_asc(membership::Column::JoinedAt)
            .order_by_asc(membership::Column::UserId)
            .offset(offset)
            .limit(limit)
            .find_also_related(user::Entity)
            .all(&self.db)
            .await?;
        let items = rows
            .into_iter()
            .filter_map(|(m, u)| {
                u.map(|u| {
                    let mut user = User::from_model(u);
                    user.tenant_id = m.tenant_id.clone();
                    Member {
                        user,
                        role: m.role,
                        joined_at: m.joined_at,
                    }
                })
            })
            .collect();
        Ok(MemberPage {
            items,
            total,
            offset,
            limit,
        })
    }

    /// A new tenant with the caller as its OWNER. The caller's session stays where it
    /// is; `switch_tenant` moves into the new one.
    pub async fn create_tenant(
        &self,
        user_id: &str,
        name: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Tenant> {
        let name = parse_name(name)?;
        let user = self.user(user_id, now).await?;
        let txn = self.begin_write().await?;
        let id = insert_tenant(&txn, name, Some(&user.id), now).await?;
        txn.commit().await?;
        audit::record(
            &self.db,
            Event::TenantCreated,
            Some(user_id),
            client,
            Some(id.clone()),
            now,
        )
        .await;
        self.tenant_of(user_id, &id).await
    }

    /// Renames the tenant (the rule has checked the caller's role there).
    pub async fn rename_tenant(
        &self,
        user_id: &str,
        tenant_id: &str,
        name: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Tenant> {
        let name = parse_name(name)?;
        self.tenant_role(tenant_id, user_id)
            .await?
            .ok_or_else(not_found)?;
        tenant::Entity::update_many()
            .col_expr(tenant::Column::Name, Expr::value(name))
            .filter(tenant::Column::Id.eq(tenant_id))
            .exec(&self.db)
            .await?;
        audit::record(
            &self.db,
            Event::TenantRenamed,
            Some(user_id),
            client,
            Some(tenant_id.to_owned()),
            now,
        )
        .await;
        self.tenant_of(user_id, tenant_id).await
    }

    /// The authentication methods of a session (they carry over to the sessions it
    /// starts in other tenants); None when there is no such session.
    pub(super) async fn session_amr(&self, session_id: &str) -> Result<Option<Vec<String>>> {
        Ok(session::Entity::find_by_id(session_id.to_owned())
            .one(&self.db)
            .await?
            .map(|s| s.amr.split_whitespace().map(str::to_owned).collect()))
    }

    /// In `db` (a write transaction): makes `tenant_id` the tenant the user's sign-ins
    /// land in and starts a session there with `amr`. The caller commits, then drops
    /// the cached user.
    pub(super) async fn start_session_in<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: &str,
        tenant_id: &str,
        amr: &[String],
        client: &ClientInfo,
        now: i64,
    ) -> Result<Tokens> {
        let mut row = user::Entity::find_by_id(user_id.to_owned())
            .one(db)
            .await?
            .ok_or_else(|| Error::unauthenticated("Sign in again."))?;
        user::Entity::update_many()
            .col_expr(user::Column::TenantId, Expr::value(tenant_id))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(user_id))
            .exec(db)
            .await?;
        row.tenant_id = tenant_id.to_owned();
        let amr: Vec<&str> = amr.iter().map(String::as_str).collect();
        self.start_session(db, &row, &amr, client, now).await
    }

    /// Tokens of a new session in another of the user's tenants, as strong as the
    /// session asking (its authentication methods carry over). That tenant becomes the
    /// one the user's next sign-in lands in.
    pub async fn switch_tenant(
        &self,
        user_id: &str,
        session_id: &str,
        tenant_id: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Tokens> {
        self.tenant_role(tenant_id, user_id)
            .await?
            .ok_or_else(not_found)?;
        let amr = self
            .session_amr(session_id)
            .await?
            .ok_or_else(|| Error::unauthenticated("Your session has ended; sign in again."))?;
        let txn = self.begin_write().await?;
        // Checked again inside the write: a removal meanwhile wins.
        if membership(&txn, tenant_id, user_id).await?.is_none() {
            return Err(not_found());
        }
        let tokens = self
            .start_session_in(&txn, user_id, tenant_id, &amr, client, now)
            .await?;
        txn.commit().await?;
        self.users.forget(user_id);
        audit::record(
            &self.db,
            Event::TenantSwitched,
            Some(user_id),
            client,
            Some(tenant_id.to_owned()),
            now,
        )
        .await;
        Ok(tokens)
    }
}
