//! Reading a REST call's input: a JSON body (required or optional), the query string
//! and path segments. Every refusal is a `Failure` naming what to fix: malformed JSON,
//! a wrong type or an unknown field (the request types deny unknown fields), non-UTF-8,
//! a body that is not JSON. The guard has already read the body under its limit.
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::failure::Failure;
use crate::http::graphql::is_json;

/// A required JSON body.
pub struct JsonBody<T>(pub T);

/// A JSON body that may be left out (an empty body reads as `None`).
pub struct OptionalBody<T>(pub Option<T>);

async fn read<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<Option<T>, Failure> {
    let json = is_json(req.headers());
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|_| Failure::bad_input("The request body could not be read."))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !json {
        return Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the body as JSON, with Content-Type: application/json.",
        ));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::bad_input("The request body is not UTF-8 text."))?;
    // serde reads a struct from an array too (`[null, null]`): only objects are bodies.
    if !text.trim_start().starts_with('{') {
        return Err(Failure::bad_input(
            "The JSON body must be an object: {\"field\": value, ...}.",
        ));
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = plain_types(&e.inner().to_string());
        Failure::bad_input(if path == "." {
            format!("The JSON body is not valid: {inner}.")
        } else {
            format!("The JSON body is not valid: `{path}`: {inner}.")
        })
    })?;
    Ok(Some(value))
}

/// serde's words for Rust's integer types, as a person would say them.
fn plain_types(message: &str) -> String {
    ["i64", "u64", "i32", "u32", "u16", "u8"]
        .iter()
        .fold(message.to_owned(), |m, t| {
            m.replace(&format!("expected {t}"), "expected an integer")
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Failure> {
        read(req, state).await?.map(JsonBody).ok_or_else(|| {
            Failure::bad_input("This call needs a JSON body (Content-Type: application/json).")
        })
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Failure> {
        Ok(OptionalBody(read(req, state).await?))
    }
}

/// The query string, read into `T` (which denies unknown parameters).
pub struct QueryOf<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryOf<T> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Failure> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(QueryOf)
            .map_err(|e| Failure::bad_input(format!("The query string is not valid: {e}.")))
    }
}

/// The one path segment of a route (an id), percent-decoded; never longer than 128.
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        let axum::extract::Path(id) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| Failure::bad_input("The id in the path is not valid UTF-8 text."))?;
        if id.is_empty() || id.len() > 128 {
            return Err(Failure::bad_input(
                "The id in the path must be 1 to 128 characters.",
            ));
        }
        Ok(Id(id))
    }
}
