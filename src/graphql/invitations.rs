//! Invitations to the current tenant: sent by its OWNERs and ADMINs, accepted or
//! declined by the invited (verified) address.
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};

use super::directives::{tenant_role, user_token};
use super::state;
use super::types::{AuthPayload, TenantRole, User, time};
use crate::idm::invitations::{self as core, Status};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Invitation {
    pub id: ID,
    pub tenant_id: ID,
    pub tenant_name: String,
    pub email: String,
    pub role: TenantRole,
    pub status: InvitationStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    #[graphql(skip)]
    pub invited_by_id: Option<String>,
}

#[async_graphql::ComplexObject]
impl Invitation {
    /// Who sent it (null when that account is gone).
    async fn invited_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let (idm, caller) = state(ctx)?;
        let Some(id) = &self.invited_by_id else {
            return Ok(None);
        };
        Ok(idm.user(id, caller.now).await.ok().map(Into::into))
    }
}

impl From<core::Invitation> for Invitation {
    fn from(i: core::Invitation) -> Self {
        Invitation {
            id: ID(i.id),
            tenant_id: ID(i.tenant_id),
            tenant_name: i.tenant_name,
            email: i.email,
            role: i.role.into(),
            status: match i.status {
                Status::Pending => InvitationStatus::Pending,
                Status::Accepted => InvitationStatus::Accepted,
                Status::Revoked => InvitationStatus::Revoked,
                Status::Expired => InvitationStatus::Expired,
            },
            created_at: time(i.created_at),
            expires_at: time(i.expires_at),
            invited_by_id: i.invited_by,
        }
    }
}

#[derive(Default)]
pub struct InvitationsQuery;

#[Object]
impl InvitationsQuery {
    /// The current tenant's pending invitations, newest first.
    #[graphql(
        directive = user_token::apply(None),
        directive = tenant_role::apply(vec![TenantRole::Owner, TenantRole::Admin])
    )]
    async fn invitations(&self, ctx: &Context<'_>) -> Result<Vec<Invitation>> {
        let (idm, caller) = state(ctx)?;
        let (_, tenant) = caller.acting_in_tenant()?;
        let list = idm.invitations(tenant, caller.now).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// Pending invitations addressed to the user's verified email.
    #[graphql(directive = user_token::apply(None))]
    async fn my_invitations(&self, ctx: &Context<'_>) -> Result<Vec<Invitation>> {
        let (idm, caller) = state(ctx)?;
        let list = idm
            .my_invitations(caller.acting()?.user_id, caller.now)
            .await?;
        Ok(list.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct InvitationsMutation;

#[Object]
impl InvitationsMutation {
    /// Mails `{public_url}/accept-invite?token=...` to the address.
    #[graphql(
        directive = user_token::apply(None),
        directive = tenant_role::apply(vec![TenantRole::Owner, TenantRole::Admin])
    )]
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        email: String,
        #[graphql(default_with = "Some(TenantRole::Member)")] role: Option<TenantRole>,
    ) -> Result<Invitation> {
        let (idm, caller) = state(ctx)?;
        let role = role.unwrap_or(TenantRole::Member).into();
        Ok(idm
            .invite_member(
                caller.acting_in_tenant()?,
                &email,
                role,
                &caller.client,
                caller.now,
            )
            .await?
            .into())
    }

    #[graphql(
        directive = user_token::apply(None),
        directive = tenant_role::apply(vec![TenantRole::Owner, TenantRole::Admin])
    )]
    async fn revoke_invitation(&self, ctx: &Context<'_>, id: ID) -> Result<Invitation> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .revoke_invitation(caller.acting_in_tenant()?, &id, &caller.client, caller.now)
            .await?
            .into())
    }

    /// Joins the invitation's tenant; answers tokens for it.
    #[graphql(directive = user_token::apply(None))]
    async fn accept_invitation(&self, ctx: &Context<'_>, token: String) -> Result<AuthPayload> {
        let (idm, caller) = state(ctx)?;
        let me = caller.acting()?;
        let session = me.session_id.unwrap_or_default();
        Ok(idm
            .accept_invitation(me.user_id, session, &token, &caller.client, caller.now)
            .await?
            .into())
    }

    #[graphql(directive = user_token::apply(None))]
    async fn decline_invitation(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .decline_invitation(caller.acting()?.user_id, &id, &caller.client, caller.now)
            .await?)
    }
}
