//! GraphQL over HTTP. POST runs queries and mutations (single or batched). GET serves
//! GraphiQL to a browser and runs queries only: a mutation over GET is refused, so no
//! link can make a browser change anything.
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, ParseRequestError, Response};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse};

use super::AppState;
use super::extract::Head;
use crate::graphql::errors::{annotate, refused_request as refuse};
use crate::idm::auth::Caller;

fn finish(mut resp: Response) -> Response {
    for err in &mut resp.errors {
        annotate(err);
    }
    resp
}

/// A request body that could not be read as GraphQL: 413 when it passed
/// `graphql.max_body_bytes` (a chunked body is only found to be too large while it is
/// read), else 400; either way a GraphQL error a person can act on, never Debug text.
fn unreadable_body(app: &AppState, e: &ParseRequestError) -> axum::response::Response {
    let too_large = match e {
        ParseRequestError::PayloadTooLarge => true,
        ParseRequestError::Io(io) => io.to_string().contains("length limit exceeded"),
        _ => false,
    };
    if too_large {
        return too_large_response(app.idm.settings.graphql.max_body_bytes);
    }
    let message = match e {
        ParseRequestError::InvalidRequest(inner) => {
            format!("The request body is not a GraphQL request in JSON: {inner}.")
        }
        _ => "The request body could not be read; send a GraphQL request as JSON.".to_owned(),
    };
    (
        StatusCode::BAD_REQUEST,
        GraphQLResponse::from(refuse(&message)),
    )
        .into_response()
}

fn too_large_response(max: usize) -> axum::response::Response {
    let message = format!(
        "The request body is larger than the {max} bytes this server accepts (graphql.max_body_bytes)."
    );
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        GraphQLResponse::from(refuse(&message)),
    )
        .into_response()
}

/// The body limit's own 413 (a Content-Length over the limit) gets the same GraphQL
/// error body as a chunked body found too large while read.
pub async fn explain_too_large(
    State(app): State<AppState>,
    req: Request,
    next: Next,
) -> axum::response::Response {
    let resp = next.run(req).await;
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        return too_large_response(app.idm.settings.graphql.max_body_bytes);
    }
    resp
}

/// The body is read first and the caller judged after it, at the request's `now`.
pub async fn post_graphql(
    State(app): State<AppState>,
    head: Head,
    req: Result<GraphQLBatchRequest, GraphQLRejection>,
) -> axum::response::Response {
    let req = match req {
        Ok(req) => req.into_inner(),
        Err(GraphQLRejection(e)) => return unreadable_body(&app, &e),
    };
    let caller = head.caller(&app).await;
    let max = app.idm.settings.graphql.max_batch;
    if let BatchRequest::Batch(entries) = &req
        && entries.len() > max
    {
        let msg = format!(
            "A batch may hold at most {max} operations; this one holds {}.",
            entries.len()
        );
        return GraphQLResponse::from(refuse(&msg)).into_response();
    }
    let req = req.data(caller);
    let resp = match app.schema.execute_batch(req).await {
        BatchResponse::Single(r) => BatchResponse::Single(finish(r)),
        BatchResponse::Batch(rs) => BatchResponse::Batch(rs.into_iter().map(finish).collect()),
    };
    GraphQLResponse::from(resp).into_response()
}

/// Only `application/json` POSTs reach the GraphQL engine: a form, multipart or
/// text/plain post (what a cross-site page can send without a CORS preflight), or one
/// without a Content-Type, is refused with 415.
pub async fn require_json(req: Request, next: Next) -> axum::response::Response {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if json {
        return next.run(req).await;
    }
    let body = GraphQLResponse::from(refuse(
        "Send GraphQL as a POST with Content-Type: application/json.",
    ));
    (StatusCode::UNSUPPORTED_MEDIA_TYPE, body).into_response()
}

/// GraphiQL loads its scripts and styles from unpkg; nothing else may run or frame it.
fn graphiql_headers() -> [(HeaderName, &'static str); 4] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline' https://unpkg.com; style-src 'unsafe-inline' https://unpkg.com; \
             font-src https://unpkg.com data:; img-src 'self' data: https://unpkg.com https://graphql.org; connect-src 'self'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ]
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

pub async fn get_graphql(
    State(app): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> axum::response::Response {
    let has_query = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("query=")));
    if !has_query {
        let page = Html(GraphiQLSource::build().endpoint("/graphql").finish());
        return (graphiql_headers(), page).into_response();
    }
    let req = match async_graphql::http::parse_query_string(uri.query().unwrap_or("")) {
        Ok(r) => r,
        Err(e) => {
            return GraphQLResponse::from(refuse(&format!("Malformed GraphQL GET request: {e}")))
                .into_response();
        }
    };
    if is_write(&req.query, req.operation_name.as_deref()) {
        return GraphQLResponse::from(refuse("Mutations are not allowed over GET; send them as a POST with Content-Type: application/json.")).into_response();
    }
    let resp = finish(app.schema.execute(req.data(caller)).await);
    GraphQLResponse::from(resp).into_response()
}
