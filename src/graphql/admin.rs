//! Administration: roles and account deactivation, for ADMIN users.
use async_graphql::{Context, ID, Object, Result};

use super::directives::user_token;
use super::state;
use super::types::{Role, User};

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    #[graphql(directive = user_token::apply(Some(vec![Role::Admin])))]
    async fn set_user_role(&self, ctx: &Context<'_>, user_id: ID, role: Role) -> Result<User> {
        let (idm, caller) = state(ctx)?;
        let admin = caller.acting()?;
        Ok(idm
            .set_user_role(
                admin.user_id,
                &user_id,
                role.into(),
                &caller.client,
                caller.now,
            )
            .await?
            .into())
    }

    /// Deactivating signs the user out everywhere; their tokens stop working at once.
    #[graphql(directive = user_token::apply(Some(vec![Role::Admin])))]
    async fn set_user_active(&self, ctx: &Context<'_>, user_id: ID, active: bool) -> Result<User> {
        let (idm, caller) = state(ctx)?;
        let admin = caller.acting()?;
        Ok(idm
            .set_user_active(admin.user_id, &user_id, active, &caller.client, caller.now)
            .await?
            .into())
    }
}
