//! REST errors: one `Failure` (a status and a message a person can act on) produced by
//! the handlers, the body readers and the guard, and written in the shape of the route's
//! family (REST.md "Errors") by the guard, which is the only place that knows the family.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::idm;

/// The documents the routes come from; each writes its errors its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// TruCore, TokenBot, Truvera: `{"error": "<Code>", "message": "..."}`.
    Coded,
    /// Torale: `{"detail": "..."}`.
    Detail,
    /// Forward auth: coded, with the messages REST.md gives for refused keys.
    Forward,
}

/// A refused or failed REST call.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, message)
    }

    /// Written in the family's shape, with `WWW-Authenticate` on a 401 and
    /// `Retry-After` on a 429; never cached.
    pub fn render(&self, family: Family) -> Response {
        let body = match family {
            Family::Coded | Family::Forward => {
                json!({ "error": error_code(self.status), "message": self.message })
            }
            Family::Detail => json!({ "detail": self.message }),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// The `error` word of the coded families: the status's reason phrase in one word.
pub fn error_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        _ => "InternalServerError",
    }
}

impl From<idm::Error> for Failure {
    fn from(e: idm::Error) -> Self {
        use idm::Error::*;
        let status = match &e {
            Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Forbidden(_) => StatusCode::FORBIDDEN,
            BadInput(_) => StatusCode::BAD_REQUEST,
            NotFound(_) => StatusCode::NOT_FOUND,
            Conflict(_) => StatusCode::CONFLICT,
            RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Internal(inner) => {
                tracing::error!(error = format!("{inner:#}"), "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Failure {
            status,
            message: e.to_string(),
            retry_after: match e {
                RateLimited { retry_after } => Some(retry_after),
                _ => None,
            },
        }
    }
}

/// A handler's failure travels to the guard as an extension of an empty response; the
/// guard writes it in the route's family shape.
impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

pub type Answer<T> = Result<axum::Json<T>, Failure>;
