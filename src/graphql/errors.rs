//! The one place where core errors and refusals become GraphQL's wire words: the
//! contract's `extensions.code`, `retryAfter` for rate limits, the `reason` of a
//! refused key, and no internal detail ever.
use async_graphql::{ErrorExtensionValues, Response, ServerError, Value};

use crate::idm;
use crate::idm::key_verify::Refusal;

/// The contract's `extensions.code` of a core error.
pub fn code(e: &idm::Error) -> &'static str {
    use idm::Error::*;
    match e {
        Unauthenticated(_) => "UNAUTHENTICATED",
        Forbidden(_) => "FORBIDDEN",
        BadInput(_) => "BAD_USER_INPUT",
        NotFound(_) => "NOT_FOUND",
        Conflict(_) => "CONFLICT",
        RateLimited { .. } => "RATE_LIMITED",
        Unavailable(_) | Internal(_) => "INTERNAL_SERVER_ERROR",
    }
}

/// The contract's `ApiKeyVerification.reason` of a refused key.
pub fn refusal_reason(r: Refusal) -> &'static str {
    match r {
        Refusal::NotFound => "NOT_FOUND",
        Refusal::Revoked => "REVOKED",
        Refusal::Expired => "EXPIRED",
        Refusal::IpNotAllowed => "IP_NOT_ALLOWED",
        Refusal::InsufficientScope => "INSUFFICIENT_SCOPE",
        Refusal::UserInactive => "USER_INACTIVE",
    }
}

/// A whole response refused before execution (a malformed or unacceptable request),
/// as BAD_USER_INPUT with `message`.
pub fn refused_request(message: &str) -> Response {
    let mut err = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code(&idm::Error::bad_input(message)));
    err.extensions = Some(ext);
    Response::from_errors(vec![err])
}

pub fn to_graphql(e: &idm::Error) -> async_graphql::Error {
    if let idm::Error::Internal(inner) = e {
        tracing::error!(error = format!("{inner:#}"), "internal error");
    }
    let mut err = async_graphql::Error::new(e.to_string());
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code(e));
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
        None => to_graphql(&idm::Error::bad_input(err.message.clone())),
    };
    err.message = mapped.message;
    err.extensions = mapped.extensions;
    err.source = None;
}
