//! The providers linked to an account, and unlinking one (never the account's last
//! way in).
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{Provider, ProviderIdentity};
use crate::entities::identity;
use crate::idm::audit::{self, Event};
use crate::idm::error::{Error, Result};
use crate::idm::{ClientInfo, Idm};

/// A provider linked to an account.
#[derive(Debug, Clone)]
pub struct LinkedProvider {
    pub provider: Provider,
    pub email: Option<String>,
    pub linked_at: i64,
    pub last_login_at: i64,
}

impl Idm {
    pub async fn linked_providers(&self, user_id: &str) -> Result<Vec<LinkedProvider>> {
        Ok(identity::Entity::find()
            .filter(identity::Column::UserId.eq(user_id))
            .order_by_asc(identity::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|i| {
                Some(LinkedProvider {
                    provider: Provider::parse(&i.provider)?,
                    email: i.email,
                    linked_at: i.created_at,
                    last_login_at: i.last_login_at,
                })
            })
            .collect())
    }

    /// Links another provider to the signed-in user through the web flow (the code and
    /// state the provider sent back to `redirect_uri`, as for `oauth_callback`). A
    /// provider is a whole way in, so this needs a fresh sign-in, as adding a passkey
    /// does; the provider account must not be linked to anyone, and the user must not
    /// have this provider linked already.
    #[allow(clippy::too_many_arguments)]
    pub async fn link_provider(
        &self,
        (user_id, sid): (&str, Option<&str>),
        p: Provider,
        code: &str,
        state: &str,
        client: &ClientInfo,
        now: i64,
    ) -> Result<Vec<LinkedProvider>> {
        // An account whose email nobody has proven may hold nothing that outlives the
        // proof (`unproven`): a squatter's linked provider would open the account after
        // its owner verified it.
        self.require_verified_email(user_id).await?;
        self.require_fresh_sign_in((user_id, sid), &format!("link {}", p.name()), now)
            .await?;
        let who: ProviderIdentity = self
            .identity_from_code(p, code, state, Some(user_id), client, now)
            .await?;
        let holder = identity::Entity::find()
            .filter(identity::Column::Provider.eq(p.as_str()))
            .filter(identity::Column::Subject.eq(who.subject.clone()))
            .one(&self.db)
            .await?;
        match holder {
            Some(h) if h.user_id == user_id => return self.linked_providers(user_id).await,
            Some(_) => {
                return Err(Error::Conflict(format!(
                    "This {} account is linked to another account of this server; unlink it there first.",
                    p.name()
                )));
            }
            None => {}
        }
        let mine = identity::Entity::find()
            .filter(identity::Column::UserId.eq(user_id))
            .filter(identity::Column::Provider.eq(p.as_str()))
            .one(&self.db)
            .await?;
        if mine.is_some() {
            return Err(Error::Conflict(format!(
                "Another {} account is linked to this account already; unlink it first.",
                p.name()
            )));
        }
        let email = super::provider_email(who.email.as_deref()).filter(|_| who.email_verified);
        self.link_identity(&self.db, user_id, &who, email.as_deref(), now)
            .await
            .map_err(|e| {
                if super::is_race(&e) {
                    Error::Conflict(format!(
                        "This {} account was just linked; reload.",
                        p.name()
                    ))
                } else {
                    e
                }
            })?;
        audit::record(
            &self.db,
            Event::SocialLinked,
            Some(user_id),
            client,
            Some(format!("{} (linked while signed in)", p.as_str())),
            now,
        )
        .await;
        self.linked_providers(user_id).await
    }

    /// Unlinks a provider, unless it is the account's only way to sign in (no
    /// password, no passkey, no other provider).
    pub async fn unlink_provider(
        &self,
        (user_id, sid): (&str, Option<&str>),
        p: Provider,
        client: &ClientInfo,
        now: i64,
    ) -> Result<bool> {
        let ways = self.sign_in_methods(user_id).await?;
        if !ways.providers.iter().any(|l| l == p.as_str()) {
            return Err(Error::not_found(format!(
                "{} is not linked to this account.",
                p.name()
            )));
        }
        self.require_fresh_sign_in((user_id, sid), &format!("unlink {}", p.name()), now)
            .await?;
        let others = ways.providers.iter().filter(|l| *l != p.as_str()).count();
        if !ways.password && ways.passkeys == 0 && others == 0 {
            return Err(Error::bad_input(format!(
                "{} is this account's only way to sign in. Set a password (request a password reset) or add a passkey first.",
                p.name()
            )));
        }
        let done = identity::Entity::delete_many()
            .filter(identity::Column::UserId.eq(user_id))
            .filter(identity::Column::Provider.eq(p.as_str()))
            .exec(&self.db)
            .await?;
        audit::record(
            &self.db,
            Event::SocialUnlinked,
            Some(user_id),
            client,
            Some(p.as_str().into()),
            now,
        )
        .await;
        Ok(done.rows_affected > 0)
    }
}
