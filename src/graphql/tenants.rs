//! Tenants: the caller's tenants, the current one and its members; creating, renaming
//! and switching. `@tenantRole` on a field narrows its credential to the roles listed
//! (enforced by the guard, read off the SDL like every directive).
use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::directives::{api_key, tenant_role, user_token};
use super::state;
use super::types::{ApiKeyScope, AuthPayload, TenantRole, User, time};
use crate::idm::tenants as core;

#[derive(SimpleObject, Clone)]
pub struct Tenant {
    pub id: ID,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The caller's role in it.
    pub my_role: TenantRole,
    pub member_count: i32,
}

impl From<core::Tenant> for Tenant {
    fn from(t: core::Tenant) -> Self {
        Tenant {
            id: ID(t.id),
            name: t.name,
            created_at: time(t.created_at),
            my_role: t.my_role.into(),
            member_count: i32::try_from(t.member_count).unwrap_or(i32::MAX),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct Member {
    pub user: User,
    pub role: TenantRole,
    pub joined_at: chrono::DateTime<chrono::Utc>,
}

#[derive(SimpleObject)]
pub struct MemberPage {
    pub items: Vec<Member>,
    pub total: i32,
    pub offset: i32,
    pub limit: i32,
}

#[derive(Default)]
pub struct TenantsQuery;

#[Object]
impl TenantsQuery {
    /// Every tenant the user belongs to.
    #[graphql(directive = user_token::apply(None))]
    async fn tenants(&self, ctx: &Context<'_>) -> Result<Vec<Tenant>> {
        let (idm, caller) = state(ctx)?;
        let list = idm.tenants_of(caller.acting()?.user_id).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// The caller's current tenant: the token's `tid`, or the key's tenant.
    #[graphql(directive = user_token::apply(None), directive = api_key::apply(Some(vec![ApiKeyScope::Read])))]
    async fn current_tenant(&self, ctx: &Context<'_>) -> Result<Tenant> {
        let (idm, caller) = state(ctx)?;
        let (user, tenant) = caller.acting_in_tenant()?;
        Ok(idm.tenant_of(user, tenant).await?.into())
    }

    /// The current tenant's members, owners and earliest first. `limit` is 1..64.
    #[graphql(directive = user_token::apply(None), directive = api_key::apply(Some(vec![ApiKeyScope::Read])))]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(0)")] offset: Option<i32>,
        #[graphql(default_with = "Some(64)")] limit: Option<i32>,
    ) -> Result<MemberPage> {
        let (idm, caller) = state(ctx)?;
        let (user, tenant) = caller.acting_in_tenant()?;
        let page = idm
            .members(
                user,
                tenant,
                i64::from(offset.unwrap_or(0)),
                i64::from(limit.unwrap_or(64)),
            )
            .await?;
        let n = |v: u64| i32::try_from(v).unwrap_or(i32::MAX);
        Ok(MemberPage {
            items: page.items.into_iter().map(member).collect(),
            total: n(page.total),
            offset: n(page.offset),
            limit: n(page.limit),
        })
    }
}

#[derive(Default)]
pub struct TenantsMutation;

#[Object]
impl TenantsMutation {
    /// A new tenant; the caller is its OWNER.
    #[graphql(directive = user_token::apply(None))]
    async fn create_tenant(&self, ctx: &Context<'_>, name: String) -> Result<Tenant> {
        let (idm, caller) = state(ctx)?;
        let me = caller.acting()?;
        Ok(idm
            .create_tenant(me.user_id, &name, &caller.client, caller.now)
            .await?
            .into())
    }

    #[graphql(
        directive = user_token::apply(None),
        directive = tenant_role::apply(vec![TenantRole::Owner, TenantRole::Admin])
    )]
    async fn rename_tenant(&self, ctx: &Context<'_>, name: String) -> Result<Tenant> {
        let (idm, caller) = state(ctx)?;
        let (user, tenant) = caller.acting_in_tenant()?;
        Ok(idm
            .rename_tenant(user, tenant, &name, &caller.client, caller.now)
            .await?
            .into())
    }

    /// Tokens for a new session in another of the user's tenants.
    #[graphql(directive = user_token::apply(None))]
    async fn switch_tenant(&self, ctx: &Context<'_>, tenant_id: ID) -> Result<AuthPayload> {
        let (idm, caller) = state(ctx)?;
        let me = caller.acting()?;
        let session = me
            .session_id
            .ok_or_else(|| crate::idm::Error::unauthenticated("This needs a user access token."))?;
        Ok(idm
            .switch_tenant(me.user_id, session, &tenant_id, &caller.client, caller.now)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct MembersMutation;

#[Object]
impl MembersMutation {
    /// Sets a member's role to ADMIN or MEMBER (an OWNER comes by `transferOwnership`).
    #[graphql(
        directive = user_token::apply(None),
        directive = tenant_role::apply(vec![TenantRole::Owner, TenantRole::Admin])
    )]
    async fn set_member_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: TenantRole,
    ) -> Result<Member> {
        let (idm, caller) = state(ctx)?;
        let m = idm
            .set_member_role(
                caller.acting_in_tenant()?,
                &user_id,
                role.into(),
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(member(m))
    }

    /// Removes a member from the current tenant: their sessions there end and the keys
    /// they made there are revoked at once.
    #[graphql(
        directive = user_token::apply(None),
        directive = tenant_role::apply(vec![TenantRole::Owner, TenantRole::Admin])
    )]
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .remove_member(
                caller.acting_in_tenant()?,
                &user_id,
                &caller.client,
                caller.now,
            )
            .await?)
    }

    /// Makes a member the OWNER; the caller becomes an ADMIN.
    #[graphql(
        directive = user_token::apply(None),
        directive = tenant_role::apply(vec![TenantRole::Owner])
    )]
    async fn transfer_ownership(&self, ctx: &Context<'_>, user_id: ID) -> Result<Member> {
        let (idm, caller) = state(ctx)?;
        let m = idm
            .transfer_ownership(
                caller.acting_in_tenant()?,
                &user_id,
                &caller.client,
                caller.now,
            )
            .await?;
        Ok(member(m))
    }

    /// Leaves one of the user's tenants (the last OWNER cannot).
    #[graphql(directive = user_token::apply(None))]
    async fn leave_tenant(&self, ctx: &Context<'_>, tenant_id: ID) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .leave_tenant(
                caller.acting()?.user_id,
                &tenant_id,
                &caller.client,
                caller.now,
            )
            .await?)
    }
}

fn member(m: core::Member) -> Member {
    Member {
        user: m.user.into(),
        role: m.role.into(),
        joined_at: time(m.joined_at),
    }
}
