//! Builds the schema: the per-area objects merged into Query and Mutation, the auth
//! policy read off the printed SDL, and the guard extension that enforces it.
use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema};

use super::accounts::{AccountsMutation, AccountsQuery};
use super::admin::AdminMutation;
use super::api_keys::{ApiKeysMutation, ApiKeysQuery};
use super::audit::AuditQuery;
use super::directives::{AuthPolicy, Guard};
use super::doc_cache::DocumentCache;
use super::invitations::{InvitationsMutation, InvitationsQuery};
use super::limits::Limits;
use super::passkeys::{PasskeysMutation, PasskeysQuery};
use super::social::{SocialMutation, SocialQuery};
use super::tenants::{MembersMutation, TenantsMutation, TenantsQuery};
use super::two_factor::TwoFactorMutation;
use crate::config::GraphqlSettings;
use crate::idm::Idm;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(
    AccountsQuery,
    ApiKeysQuery,
    PasskeysQuery,
    SocialQuery,
    AuditQuery,
    TenantsQuery,
    InvitationsQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(
    AccountsMutation,
    ApiKeysMutation,
    TwoFactorMutation,
    PasskeysMutation,
    SocialMutation,
    AdminMutation,
    TenantsMutation,
    MembersMutation,
    InvitationsMutation,
);

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// The SDL the server serves (what `latchkey schema` prints and schema.graphql holds).
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}

/// The access policy read off the printed schema. Fails when a root field carries no
/// auth directive.
pub fn policy() -> Result<AuthPolicy, String> {
    AuthPolicy::from_sdl(&sdl())
}

/// The served schema, with the request limits of `limits` (checked by `Limits`, which
/// lets the standard introspection query through), guarded by `policy`.
pub fn build(idm: Arc<Idm>, limits: &GraphqlSettings, policy: Arc<AuthPolicy>) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .extension(Limits::new(limits))
        .extension(DocumentCache::default())
        .extension(Guard { policy })
        .data(idm);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if !limits.suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}
