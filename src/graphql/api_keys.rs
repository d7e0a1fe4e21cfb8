//! API keys: the owner's lifecycle operations, and verification for internal services.
use async_graphql::{Context, ID, Object, Result};

use super::directives::{api_key, service_token, tenant_role, user_token};
use super::state;
use super::types::{
    ApiKey, ApiKeyPage, ApiKeyScope, ApiKeyVerification, CreateApiKeyInput, NewApiKey, TenantRole,
    UpdateApiKeyInput,
};
use crate::domain::Scope;
use crate::idm::Error;
use crate::idm::api_key_changes::TemporaryKey;
use crate::idm::api_keys::{KeyChanges, KeySpec};

fn scopes(list: Option<Vec<ApiKeyScope>>) -> Vec<Scope> {
    list.unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect()
}

/// An omitted or null scope list means the contract's default, `[READ]`.
fn scopes_or_read(list: Option<Vec<ApiKeyScope>>) -> Vec<Scope> {
    scopes(Some(list.unwrap_or_else(|| vec![ApiKeyScope::Read])))
}

#[derive(Default)]
pub struct ApiKeysQuery;

#[Object]
impl ApiKeysQuery {
    /// The caller's keys, newest first. `limit` is 1..64.
    #[graphql(directive = user_token::apply(None), directive = api_key::apply(Some(vec![ApiKeyScope::Read])))]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(0)")] offset: Option<i32>,
        #[graphql(default_with = "Some(64)")] limit: Option<i32>,
    ) -> Result<ApiKeyPage> {
        let (idm, caller) = state(ctx)?;
        let page = idm
            .list_api_keys(
                caller.acting()?.user_id,
                i64::from(offset.unwrap_or(0)),
                i64::from(limit.unwrap_or(64)),
                caller.now,
            )
            .await?;
        Ok(page.into())
    }

    #[graphql(directive = user_token::apply(None), directive = api_key::apply(Some(vec![ApiKeyScope::Read])))]
    async fn api_key(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ApiKey>> {
        let (idm, caller) = state(ctx)?;
        Ok(Some(
            idm.get_api_key(caller.acting()?.user_id, &id, caller.now)
                .await?
                .into(),
        ))
    }

    /// Every member's keys made in the current tenant, newest first. `limit` is 1..64.
    #[graphql(
        directive = user_token::apply(None),
        directive = tenant_role::apply(vec![TenantRole::Owner, TenantRole::Admin])
    )]
    async fn tenant_api_keys(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(0)")] offset: Option<i32>,
        #[graphql(default_with = "Some(64)")] limit: Option<i32>,
    ) -> Result<ApiKeyPage> {
        let (idm, caller) = state(ctx)?;
        let tenant = caller.current_tenant().unwrap_or_default();
        let page = idm
            .list_tenant_api_keys(
                tenant,
                i64::from(offset.unwrap_or(0)),
                i64::from(limit.unwrap_or(64)),
                caller.now,
            )
            .await?;
        Ok(page.into())
    }

    /// For the deployment's other services: is this key valid, for these scopes, from
    /// this IP?
    #[graphql(directive = service_token::apply())]
    async fn verify_api_key(
        &self,
        ctx: &Context<'_>,
        key: String,
        scopes: Option<Vec<ApiKeyScope>>,
        ip: Option<String>,
    ) -> Result<ApiKeyVerification> {
        let (idm, caller) = state(ctx)?;
        let ip = match ip.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(
                s.parse()
                    .map_err(|_| Error::bad_input(format!("`{s}` is not an IP address.")))?,
            ),
            None => None,
        };
        Ok(idm
            .verify_key(&key, ip, &self::scopes(scopes), caller.now)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct ApiKeysMutation;

#[Object]
impl ApiKeysMutation {
    /// A new key; its secret is in the answer and never shown again.
    #[graphql(directive = user_token::apply(None))]
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> Result<NewApiKey> {
        let (idm, caller) = state(ctx)?;
        let spec = KeySpec {
            name: input.name,
            scopes: scopes_or_read(input.scopes),
            environment: input
                .environment
                .unwrap_or(super::types::KeyEnvironment::Live)
                .into(),
            expires_at: input.expires_at.map(|t| t.timestamp()),
            ips: input.ips.unwrap_or_default(),
        };
        Ok(idm
            .create_api_key_in(
                caller.acting()?.user_id,
                caller.current_tenant().unwrap_or_default(),
                spec,
                &caller.client,
                caller.now,
            )
            .await?
            .into())
    }

    #[graphql(directive = user_token::apply(None))]
    async fn update_api_key(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateApiKeyInput,
    ) -> Result<ApiKey> {
        let (idm, caller) = state(ctx)?;
        let changes = KeyChanges {
            name: input.name,
            scopes: input.scopes.map(|s| scopes(Some(s))),
            ips: input.ips,
            expires_at: input.expires_at.map(|t| t.timestamp()),
        };
        Ok(idm
            .update_api_key(caller.acting()?.user_id, &id, changes, caller.now)
            .await?
            .into())
    }

    /// Same settings, new secret; the old key stops at once or after the grace period.
    #[graphql(directive = user_token::apply(None))]
    async fn rotate_api_key(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default_with = "Some(0)")] grace_period_seconds: Option<i32>,
    ) -> Result<NewApiKey> {
        let (idm, caller) = state(ctx)?;
        let grace = i64::from(grace_period_seconds.unwrap_or(0));
        Ok(idm
            .rotate_api_key(
                caller.acting()?.user_id,
                &id,
                grace,
                &caller.client,
                caller.now,
            )
            .await?
            .into())
    }

    #[graphql(directive = user_token::apply(None), directive = api_key::apply(Some(vec![ApiKeyScope::Delete])))]
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<ApiKey> {
        let (idm, caller) = state(ctx)?;
        let tenant = caller.current_tenant().unwrap_or_default();
        Ok(idm
            .revoke_api_key_in(
                caller.acting()?.user_id,
                tenant,
                &id,
                &caller.client,
                caller.now,
            )
            .await?
            .into())
    }

    #[graphql(directive = user_token::apply(None), directive = api_key::apply(Some(vec![ApiKeyScope::Delete])))]
    async fn delete_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (idm, caller) = state(ctx)?;
        Ok(idm
            .delete_api_key(caller.acting()?.user_id, &id, &caller.client, caller.now)
            .await?)
    }

    /// A short-lived key for a user (60 s to 24 h), for internal services.
    #[graphql(directive = service_token::apply())]
    async fn create_temporary_api_key(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        #[graphql(default_with = "Some(900)")] ttl_seconds: Option<i32>,
        #[graphql(default_with = "Some(vec![ApiKeyScope::Read])")] scopes: Option<Vec<ApiKeyScope>>,
    ) -> Result<NewApiKey> {
        let (idm, caller) = state(ctx)?;
        let ttl = i64::from(ttl_seconds.unwrap_or(900));
        Ok(idm
            .create_temporary_key(
                &user_id,
                TemporaryKey {
                    ttl_secs: ttl,
                    scopes: scopes_or_read(scopes),
                    environment: crate::domain::Environment::Live,
                    label: None,
                },
                &caller.client,
                caller.now,
            )
            .await?
            .into())
    }
}
