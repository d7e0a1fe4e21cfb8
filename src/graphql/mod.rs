//! The GraphQL layer: resolvers parse arguments, call one core function and map its
//! result. Authorization is the directives' business (see `directives`).
pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod directives;
pub mod doc_cache;
pub mod errors;
pub mod invitations;
pub mod limits;
pub mod passkeys;
pub mod schema;
pub mod social;
pub mod tenants;
pub mod two_factor;
pub mod types;

use std::sync::Arc;

use async_graphql::Context;

use crate::idm::auth::Caller;
use crate::idm::{self, Idm};

/// The core and the caller of this request.
pub fn state<'a>(ctx: &Context<'a>) -> Result<(&'a Idm, &'a Caller), idm::Error> {
    let idm = ctx
        .data_opt::<Arc<Idm>>()
        .ok_or_else(|| idm::Error::Internal(anyhow::anyhow!("no idm in schema data")))?;
    let caller = ctx
        .data_opt::<Caller>()
        .ok_or_else(|| idm::Error::Internal(anyhow::anyhow!("no caller in request data")))?;
    Ok((idm.as_ref(), caller))
}
