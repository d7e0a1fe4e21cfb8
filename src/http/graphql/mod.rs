//! GraphQL over HTTP, as the GraphQL-over-HTTP specification writes it. POST runs
//! queries and mutations (one, or a batch); GET runs queries only (a mutation over GET
//! is 405, so no link can make a browser change anything) and, to a browser asking for
//! HTML without a `query`, serves GraphiQL. Every answer, errors included, is JSON of
//! the media type the client accepts (`wire`).
mod params;
mod wire;

use async_graphql::parser::types::OperationType;
use async_graphql::{Request, Response};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;

use super::AppState;
use super::extract::Head;
use crate::graphql::errors::annotate;
use crate::idm::auth::Caller;
pub use params::{Params, from_body as parse_body};
pub use wire::{Format, refusal, reply, request_error};
use wire::{not_acceptable, reply_batch};

fn finish(mut resp: Response) -> Response {
    for err in &mut resp.errors {
        annotate(err);
    }
    resp
}

/// Runs one operation as `caller`; its errors carry their contract codes.
pub async fn run(app: &AppState, req: Request, caller: &Caller) -> Response {
    finish(app.schema.execute(req.data(caller.clone())).await)
}

fn too_large(format: Format, max: usize) -> axum::response::Response {
    let message = format!(
        "The request body is larger than the {max} bytes this server accepts (graphql.max_body_bytes)."
    );
    request_error(format, StatusCode::PAYLOAD_TOO_LARGE, &message)
}

/// Whether reading the body failed on the body limit (a chunked body is only found to be
/// too large while it is read).
pub fn over_limit(e: &axum::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if err.to_string().contains("length limit exceeded") {
            return true;
        }
        source = err.source();
    }
    false
}

/// The body limit's own 413 (a Content-Length over the limit) gets the same JSON error
/// body as a chunked body found too large while read.
pub async fn explain_too_large(
    State(app): State<AppState>,
    req: axum::extract::Request,
    next: Next,
) -> axum::response::Response {
    let format = Format::negotiate(req.headers()).unwrap_or(Format::Json);
    let resp = next.run(req).await;
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/"));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        return too_large(format, app.idm.settings.graphql.max_body_bytes);
    }
    resp
}

/// The body is read first and the caller judged after it, at the request's `now`.
pub async fn post_graphql(
    State(app): State<AppState>,
    head: Head,
    body: Body,
) -> axum::response::Response {
    let Some(format) = Format::negotiate(&head.headers) else {
        return not_acceptable();
    };
    let settings = &app.idm.settings.graphql;
    let bytes = match axum::body::to_bytes(body, settings.max_body_bytes).await {
        Ok(b) => b,
        Err(e) if over_limit(&e) => return too_large(format, settings.max_body_bytes),
        Err(_) => {
            return request_error(
                format,
                StatusCode::BAD_REQUEST,
                "The request body could not be read; send it again.",
            );
        }
    };
    let params = match params::from_body(&bytes, settings.max_batch) {
        Ok(p) => p,
        Err(msg) => return request_error(format, StatusCode::BAD_REQUEST, &msg),
    };
    let caller = head.caller(&app).await;
    match params {
        Params::Single(req) => reply(format, run(&app, *req, &caller).await),
        Params::Batch(reqs) => {
            let mut resps = Vec::with_capacity(reqs.len());
            for req in reqs {
                resps.push(run(&app, req, &caller).await);
            }
            reply_batch(format, resps)
        }
    }
}

/// Whether the request's Content-Type is `application/json` (any parameters).
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Only `application/json` POSTs reach the GraphQL engine: a form, multipart or
/// text/plain post (what a cross-site page can send without a CORS preflight), or one
/// without a Content-Type, is refused with 415.
pub async fn require_json(req: axum::extract::Request, next: Next) -> axum::response::Response {
    if is_json(req.headers()) {
        return next.run(req).await;
    }
    let format = Format::negotiate(req.headers()).unwrap_or(Format::Json);
    request_error(
        format,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Send GraphQL as a POST with Content-Type: application/json.",
    )
}

/// Whether the operation that a request would run is a mutation or subscription.
fn is_write(query: &str, operation: Option<&str>) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return false; // the executor reports the syntax error
    };
    let ops: Vec<_> = doc.operations.iter().collect();
    ops.iter()
        .filter(|(name, _)| operation.is_none() || name.map(|n| n.as_str()) == operation)
        .any(|(_, op)| op.node.ty != OperationType::Query)
}

fn wants_html(head: &Head) -> bool {
    head.headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

fn with_allow(mut resp: axum::response::Response, allow: &'static str) -> axum::response::Response {
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

pub async fn get_graphql(
    State(app): State<AppState>,
    head: Head,
    uri: Uri,
) -> axum::response::Response {
    let parsed = params::from_query_string(uri.query().unwrap_or(""));
    if parsed.is_none() && wants_html(&head) {
        return super::graphiql::page();
    }
    let Some(format) = Format::negotiate(&head.headers) else {
        return not_acceptable();
    };
    let req = match parsed {
        None => {
            return request_error(
                format,
                StatusCode::BAD_REQUEST,
                "`query` is required: pass the GraphQL document in the `query` parameter.",
            );
        }
        Some(Err(msg)) => return request_error(format, StatusCode::BAD_REQUEST, &msg),
        Some(Ok(req)) => req,
    };
    if is_write(&req.query, req.operation_name.as_deref()) {
        let resp = request_error(
            format,
            StatusCode::METHOD_NOT_ALLOWED,
            "Mutations are not allowed over GET; send them as a POST with Content-Type: application/json.",
        );
        return with_allow(resp, "POST");
    }
    let caller = head.caller(&app).await;
    reply(format, run(&app, req, &caller).await)
}

/// Any other method on /graphql: 405, naming the two that work, in a JSON body.
pub async fn other_method(head: Head) -> axum::response::Response {
    let format = Format::negotiate(&head.headers).unwrap_or(Format::Json);
    let resp = request_error(
        format,
        StatusCode::METHOD_NOT_ALLOWED,
        "/graphql answers GET (queries, and GraphiQL in a browser) and POST (queries and mutations).",
    );
    with_allow(resp, "GET, POST")
}
