//! Invitations to a tenant: by email, with a 256-bit token stored as its SHA-256, single
//! use, open for `[tenants] invitation_ttl_secs`, at most one pending per address and
//! tenant, rate limited per tenant and per inviter. Accepting needs a signed-in user
//! whose verified email is the invited address.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::audit::{self, Event};
use super::crypto::{random_token, token_hash};
use super::error::{Error, Result, is_unique_violation};
use super::rate_limit::{Action, Subject};
use super::sessions::Tokens;
use super::tenants::insert_membership;
use super::{ClientInfo, Idm};
use crate::domain::{Email, TenantRole};
use crate::entities::{invitation, membership, tenant, user};

const MAX_PENDING_LISTED: u64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: String,
    pub tenant_id: String,
    pub tenant_name: String,
    pub email: String,
    pub role: TenantRole,
    pub status: Status,
    pub invited_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

fn status(m: &invitation::Model, now: i64) -> Status {
    if m.accepted_at.is_some() {
        Status::Accepted
    } else if m.revoked_at.is_some() || m.declined_at.is_some() {
        Status::Revoked
    } else if m.expires_at <= now {
        Status::Expired
    } else {
        Status::Pending
    }
}

fn view(m: invitation::Model, tenant_name: String, now: i64) -> Invitation {
    Invitation {
        status: status(&m, now),
        id: m.id,
        tenant_id: m.tenant_id,
        tenant_name,
        email: m.email,
        role: m.role,
        invited_by: m.invited_by,
        created_at: m.created_at,
        expires_at: m.expires_at,
    }
}

fn not_found() -> Error {
    Error::not_found("No invitation with this id.")
}

fn invalid_token() -> Error {
    Error::bad_input("This invitation link is invalid, expired or already used; ask for a new one.")
}

/// The open invitations: neither accepted, revoked nor declined, and not expired.
fn pending(now: i64) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(invitation::Column::AcceptedAt.is_null())
        .add(invitation::Column::RevokedAt.is_null())
        .add(invitation::Column::DeclinedAt.is_null())
        .add(invitation::Column::ExpiresAt.gt(now))
}

/// Marks a pending invitation accepted, in `db`; false when it was not pending any
/// more (used, revoked, declined, expired: a racing accept won).
pub(super) async fn claim<C: sea_orm::ConnectionTrait>(db: &C, id: &str, now: i64) -> Result<bool> {
    let done = invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(id))
        .filter(pending(now))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

impl Idm {
    /// The pending invitation whose token this is.
    async fn pending_by_token(&self, token: &str, now: i64) -> Result<invitation::Model> {
        if token.len() > 256 {
            return Err(invalid_token());
        }
        invitation::Entity::find()
            .filter(invitation::Column::TokenHash.eq(token_hash(token)))
            .filter(pending(now))
            .one(&self.db)
            .await?
            .ok_or_else(invalid_token)
    }

    /// The pending invitation a signup presents; its address must be the one signing up.
    pub(super) async fn invitation_for_signup(
        &self,
        token: &str,
        email: &str,
        now: i64,
    ) -> Result<invitation::Model> {
        let m = self.pending_by_token(token, now).await?;
        if m.email != email {
            return Err(Error::bad_input(
                "This invitation is for another email address: sign up with the invited one.",
            ));
        }
        Ok(m)
    }

    async fn to_invitation(&self, m: invitation::Model, now: i64) -> Result<Invitation> {
        let tenant_name = tenant::Entity::find_by_id(m.tenant_id.clone())
            .one(&self.db)
            .await?
            .map(|t| t.name)
            .unwrap_or_default();
        Ok(view(m, tenant_name, now))
    }

    /// Invites `email` into the inviter's current tenant as ADMIN or MEMBER (an OWNER
    /// comes from `transferOwnership` once they have joined; an ADMIN can make no
    /// OWNER anyway). The email carries the link; the answer never the token.
    pub async fn invite_member(
        &self,
        inviter: (&str, &str),
        email: &str,
        role: TenantRole,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Invitation> {
        let (inviter_id, tenant_id) = inviter;
        if role == TenantRole::Owner {
            return Err(Error::bad_input(
                "Invite as ADMIN or MEMBER; transfer ownership once they have joined.",
            ));
        }
        let email = Email::parse(email).map_err(Error::BadInput)?;
        let address = email.as_str().to_owned();
        self.limits
            .hit(
                Action::Invite,
                Subject::Account(&format!("tenant:{tenant_id}")),
                now,
            )
            .await?;
        self.limits
            .hit(
                Action::Invite,
                Subject::Account(&format!("user:{inviter_id}")),
                now,
            )
            .await?;
        let txn = self.begin_write().await?;
        let member = membership::Entity::find()
            .filter(membership::Column::TenantId.eq(tenant_id))
            .inner_join(user::Entity)
            .filter(user::Column::Email.eq(address.as_str()))
            .one(&txn)
            .await?;
        if member.is_some() {
            return Err(Error::Conflict(
                "This address belongs to a member of this tenant already.".into(),
            ));
        }
        let open = invitation::Entity::find()
            .filter(invitation::Column::TenantId.eq(tenant_id))
            .filter(invitation::Column::Email.eq(address.as_str()))
            .filter(pending(now))
            .one(&txn)
            .await?;
        if open.is_some() {
            return Err(Error::Conflict(
                "An invitation to this address is pending already; revoke it to send a new one."
                    .into(),
            ));
        }
        let token = random_token();
        let ttl = i64::from(self.settings.tenants.invitation_ttl_secs);
        let row = invitation::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            tenant_id: Set(tenant_id.to_owned()),
            email: Set(address.clone()),
            role: Set(role),
            token_hash: Set(token_hash(&token)),
            invited_by: Set(Some(inviter_id.to_owned())),
            created_at: Set(now),
            expires_at: Set(now + ttl),
            accepted_at: Set(None),
            revoked_at: Set(None),
            declined_at: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        let invitation = self.to_invitation(row, now).await?;
        audit::record(
            &self.db,
            Event::MemberInvited,
            Some(inviter_id),
            client,
            Some(format!("{} as {} to {tenant_id}", invitation.id, role)),
            now,
        )
        .await;
        self.mailer
            .send_invitation_later(address, invitation.tenant_name.clone(), token);
        Ok(invitation)
    }

    /// The tenant's pending invitations, newest first.
    pub async fn invitations(&self, tenant_id: &str, now: i64) -> Result<Vec<Invitation>> {
        self.pending_where(invitation::Column::TenantId.eq(tenant_id), now)
            .await
    }

    /// The pending invitations addressed to the user's verified email.
    pub async fn my_invitations(&self, user_id: &str, now: i64) -> Result<Vec<Invitation>> {
        let user = self.user(user_id, now).await?;
        let Some(email) = user.email.filter(|_| user.email_verified) else {
            return Ok(Vec::new());
        };
        self.pending_where(invitation::Column::Email.eq(email), now)
            .await
    }

    /// The newest pending invitations that match `which`.
    async fn pending_where(
        &self,
        which: sea_orm::sea_query::SimpleExpr,
        now: i64,
    ) -> Result<Vec<Invitation>> {
        let rows = invitation::Entity::find()
            .filter(which)
            .filter(pending(now))
            .order_by_desc(invitation::Column::CreatedAt)
            .limit(MAX_PENDING_LISTED)
            .all(&self.db)
            .await?;
        // The tenants' names in one read, not one per invitation.
        let ids: std::collections::BTreeSet<String> =
            rows.iter().map(|m| m.tenant_id.clone()).collect();
        let names: std::collections::HashMap<String, String> = tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        Ok(rows
            .into_iter()
            .map(|m| {
                let name = names.get(&m.tenant_id).cloned().unwrap_or_default();
                view(m, name, now)
            })
            .collect())
    }

    /// Revokes a pending invitation of the caller's tenant; one of another tenant is
    /// NOT_FOUND.
    pub async fn revoke_invitation(
        &self,
        actor: (&str, &str),
        id: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Invitation> {
        let (actor_id, tenant_id) = actor;
        if id.len() > 64 {
            return Err(not_found());
        }
        let m = invitation::Entity::find_by_id(id.to_owned())
            .filter(invitation::Column::TenantId.eq(tenant_id))
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        if status(&m, now) != Status::Pending {
            return Err(Error::bad_input(
                "Only a pending invitation can be revoked.",
            ));
        }
        invitation::Entity::update_many()
            .col_expr(invitation::Column::RevokedAt, Expr::value(now))
            .filter(invitation::Column::Id.eq(m.id.as_str()))
            .filter(pending(now))
            .exec(&self.db)
            .await?;
        audit::record(
            &self.db,
            Event::InvitationRevoked,
            Some(actor_id),
            client,
            Some(m.id.clone()),
            now,
        )
        .await;
        let m = invitation::Entity::find_by_id(m.id)
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        self.to_invitation(m, now).await
    }

    /// Declines an invitation addressed to the user's verified email.
    pub async fn decline_invitation(
        &self,
        user_id: &str,
        id: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        let user = self.user(user_id, now).await?;
        let Some(email) = user.email.filter(|_| user.email_verified) else {
            return Err(not_found());
        };
        if id.len() > 64 {
            return Err(not_found());
        }
        let done = invitation::Entity::update_many()
            .col_expr(invitation::Column::DeclinedAt, Expr::value(now))
            .filter(invitation::Column::Id.eq(id))
            .filter(invitation::Column::Email.eq(email))
            .filter(pending(now))
            .exec(&self.db)
            .await?;
        if done.rows_affected != 1 {
            return Err(not_found());
        }
        let detail = Some(id.to_owned());
        audit::record(
            &self.db,
            Event::InvitationDeclined,
            Some(user_id),
            client,
            detail,
            now,
        )
        .await;
        Ok(true)
    }

    /// Joins the invitation's tenant: the signed-in user's verified email must be the
    /// invited address. Single use (of two racing accepts one wins); answers tokens of a
    /// new session in the joined tenant.
    pub async fn accept_invitation(
        &self,
        user_id: &str,
        session_id: &str,
        token: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Tokens> {
        self.limits
            .hit(Action::TokenCheck, Subject::Ip(client.ip), now)
            .await?;
        let m = self.pending_by_token(token, now).await?;
        let user = self.user(user_id, now).await?;
        let verified = user.email.as_deref().filter(|_| user.email_verified);
        if verified != Some(m.email.as_str()) {
            return Err(Error::forbidden(
                "This invitation is for another email address: sign in with the invited (and verified) address.",
            ));
        }
        let amr = self.session_amr(session_id).await?.unwrap_or_default();
        let txn = self.begin_write().await?;
        if !claim(&txn, &m.id, now).await? {
            return Err(invalid_token());
        }
        match insert_membership(&txn, &m.tenant_id, user_id, m.role, now).await {
            Ok(()) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::Conflict(
                    "You are a member of this tenant already.".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let tokens = self
            .start_session_in(&txn, user_id, &m.tenant_id, &amr, client, now)
            .await?;
        txn.commit().await?;
        self.users.forget(user_id);
        audit::record(
            &self.db,
            Event::MemberJoined,
            Some(user_id),
            client,
            Some(format!("{} as {}", m.tenant_id, m.role)),
            now,
        )
        .await;
        Ok(tokens)
    }
}
