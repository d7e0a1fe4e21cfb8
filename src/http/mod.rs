//! The HTTP surface: GraphQL (POST; GET for GraphiQL and queries), JWKS, health and
//! metrics. Each request's credentials are read once, by `extract`, and judged by the
//! core (`Idm::authenticate`).
pub mod extract;
mod graphiql;
pub mod graphql;
mod ops;
pub mod static_files;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{get, post};
use axum::{Router, middleware};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::graphql::schema::AppSchema;
use crate::idm::Idm;

#[derive(Clone)]
pub struct AppState {
    pub idm: Arc<Idm>,
    pub schema: AppSchema,
}

pub fn router(state: AppState) -> Router {
    let settings = state.idm.settings.clone();
    let post = post(graphql::post_graphql).route_layer(middleware::from_fn(graphql::require_json));
    let graphql = get(graphql::get_graphql)
        .merge(post)
        .fallback(graphql::other_method);
    let router = Router::new()
        .route("/graphql", graphql)
        // GraphiQL's 1.6 MB of scripts and styles go gzipped (to a quarter) when asked.
        .route(
            "/assets/graphiql/{file}",
            get(graphiql::asset).layer(CompressionLayer::new()),
        )
        .route("/.well-known/jwks.json", get(ops::jwks))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz));
    // With `[metrics] listen` set, /metrics is served there only (`metrics_router`).
    let router = if settings.metrics.listen.is_none() {
        router.route("/metrics", get(ops::metrics))
    } else {
        router
    };
    // The server's own pages and their browser session (`[console] enabled`).
    let router = if settings.console.enabled {
        router.merge(crate::pages::router())
    } else {
        router
    };
    let router = router
        // The GraphQL extractor streams the body, so axum's DefaultBodyLimit would not
        // bound it: this layer does, answering 413.
        .layer(RequestBodyLimitLayer::new(settings.graphql.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            graphql::explain_too_large,
        ));
    // REST (`[rest] enabled`) after those layers: its guard bounds its bodies and writes
    // its errors in each route family's shape. Forward auth comes after CORS too: the
    // CORS layer would answer a proxy's OPTIONS question itself, unjudged.
    let rest = settings.rest.enabled.then(|| crate::rest::router(&state));
    let (router, forward) = match rest {
        Some(r) => (router.merge(r.api), r.forward),
        None => (router, Router::new()),
    };
    router
        .layer(cors(&settings.cors_origins))
        .merge(forward)
        .with_state(state)
}

/// /metrics alone, for its own listener (`[metrics] listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}

/// CORS for the configured browser origins only. Credentials travel in headers, never
/// cookies, so no `Access-Control-Allow-Credentials`.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
        ])
        .max_age(Duration::from_secs(600))
}
