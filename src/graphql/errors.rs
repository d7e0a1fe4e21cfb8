//! The one place where core errors become GraphQL errors: the contract's
//! `extensions.code`, `retryAfter` for rate limits, and no internal detail ever.
use async_graphql::{ErrorExtensionValues, ServerError, Value};

use crate::idm;

pub fn to_graphql(e: &idm::Error) -> async_graphql::Error {
    if let idm::Error::Internal(inner) = e {
        tracing::error!(error = format!("{inner:#}"), "internal error");
    }
    let mut err = async_graphql::Error::new(e.to_string());
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", e.code());
    if let idm::Error::RateLimited { retry_after } = e {
        ext.set("retryAfter", Value::from(*retry_after));
    }
    err.extensions = Some(ext);
    err
}

/// Gives an error coming out of a resolver its code: from the core error it carries,
/// or INTERNAL_SERVER_ERROR (message hidden) when it carries something else.
pub fn annotate(err: &mut ServerError) {
    if err
        .extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some())
    {
        return;
    }
    let core = err
        .source
        .as_ref()
        .and_then(|s| s.downcast_ref::<idm::Error>());
    let mapped = match core {
        Some(e) => to_graphql(e),
        None if err.source.is_some() => {
            tracing::error!(error = %err.message, "unexpected resolver error");
            to_graphql(&idm::Error::Internal(anyhow::anyhow!("{}", err.message)))
        }
        // Argument parsing and validation: the client's input.
        None => {
            let mut e = async_graphql::Error::new(err.message.clone());
            let mut ext = ErrorExtensionValues::default();
            ext.set("code", "BAD_USER_INPUT");
            e.extensions = Some(ext);
            e
        }
    };
    err.message = mapped.message;
    err.extensions = mapped.extensions;
    err.source = None;
}
