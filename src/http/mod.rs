//! The HTTP surface: GraphQL (POST; GET for GraphiQL and queries), JWKS, health and
//! metrics. Credentials are turned into a `Caller` once, by `extract`.
pub mod extract;
mod graphql;
mod ops;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::UserCaller;
use crate::graphql::schema::AppSchema;
use crate::idm::Idm;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub idm: Arc<Idm>,
    pub schema: AppSchema,
    /// Set in `noauth` development mode: who @userToken fields act as.
    pub dev_user: Option<UserCaller>,
}

impl AppState {
    /// API keys are told apart from JWTs by their `<prefix>_<env>_` start.
    pub fn looks_like_api_key(&self, token: &str) -> bool {
        let prefix = &self.idm.settings.api_keys.prefix;
        token
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|rest| {
                ["live_", "test_", "dev_"]
                    .iter()
                    .any(|env| rest.starts_with(env))
            })
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        .route("/.well-known/jwks.json", get(ops::jwks))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        // The GraphQL extractor streams the body, so axum's DefaultBodyLimit would not
        // bound it: this layer does, answering 413.
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .with_state(state)
}
