//! The providers linked to an account, and unlinking one (never the account's last
//! way in).
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::Provider;
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
