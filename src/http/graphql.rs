//! GraphQL over HTTP. POST runs queries and mutations (single or batched). GET serves
//! GraphiQL to a browser and runs queries only: a mutation over GET is refused, so no
//! link can make a browser change anything.
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchResponse, ErrorExtensionValues, Response, ServerError};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::Uri;
use axum::response::{Html, IntoResponse};

use super::AppState;
use crate::auth::Caller;
use crate::graphql::errors::annotate;

fn finish(mut resp: Response) -> Response {
    for err in &mut resp.errors {
        annotate(err);
    }
    resp
}

pub async fn post_graphql(
    State(app): State<AppState>,
    caller: Caller,
    req: GraphQLBatchRequest,
) -> GraphQLResponse {
    let req = req.into_inner().data(caller);
    let resp = match app.schema.execute_batch(req).await {
        BatchResponse::Single(r) => BatchResponse::Single(finish(r)),
        BatchResponse::Batch(rs) => BatchResponse::Batch(rs.into_iter().map(finish).collect()),
    };
    resp.into()
}

fn refuse(message: &str) -> Response {
    let mut err = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", "BAD_USER_INPUT");
    err.extensions = Some(ext);
    Response::from_errors(vec![err])
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
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
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
