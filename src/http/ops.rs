//! Operational endpoints: liveness, readiness, Prometheus metrics and the JWKS.
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

/// How long readiness waits for the database. The pool itself retries a refused
/// connection until its acquire timeout (5 s); a load balancer should hear sooner.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Ready when the database answers within `READY_WAIT`.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(READY_WAIT, app.idm.ping_store()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
        Err(_) => {
            tracing::warn!("readiness: the database did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.idm.metrics.render(),
    )
}

pub async fn jwks(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(app.idm.jwks()),
    )
}
