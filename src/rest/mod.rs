//! REST beside GraphQL (REST.md): the routes of the documents latchkey is modelled on,
//! forward auth for reverse proxies (`/auth/check`) and `/openapi.json`, all from one
//! route table (`table`). Every route is a thin handler over the core function of the
//! GraphQL field of the same meaning; the guard (`guard`) authenticates and authorizes
//! through the same `Idm::authenticate` / `Idm::authorize`. `[rest] enabled = false`
//! serves none of it.
pub mod body;
pub mod failure;
pub mod forward_auth;
pub mod guard;
pub mod keys;
pub mod openapi;
pub mod table;
pub mod tokenbot;
pub mod torale;
pub mod trucore;
pub mod truvera;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};

use crate::http::AppState;
use failure::{Failure, Family};
use guard::{Guarded, Policy};

/// The REST routes and `/openapi.json` (`api`), and forward auth (`forward`), each
/// guarded by its row of the table. Forward auth is served apart so that no layer of
/// the API (CORS answers OPTIONS itself) stands between a proxy's question and the
/// guard.
pub struct Routers {
    pub api: Router<AppState>,
    pub forward: Router<AppState>,
}

pub fn router(app: &AppState) -> Routers {
    let routes = table::routes();
    let doc = openapi::document(&routes, &app.idm.settings.public_url);
    let doc = serde_json::to_vec(&doc).unwrap_or_default();
    let mut by_path: BTreeMap<&'static str, (MethodRouter<AppState>, Family, Vec<&str>)> =
        BTreeMap::new();
    for route in routes {
        let guarded = Guarded {
            app: app.clone(),
            policy: Arc::new(Policy::of(&route)),
        };
        let handler = route
            .handler
            .route_layer(axum::middleware::from_fn_with_state(guarded, guard::guard));
        let entry = by_path
            .entry(route.path)
            .or_insert_with(|| (MethodRouter::new(), route.family, Vec::new()));
        entry.0 = std::mem::take(&mut entry.0).merge(handler);
        entry.2.extend(route.methods.iter().map(|m| m.as_str()));
        if route.methods.contains(&axum::http::Method::GET) {
            entry.2.push("HEAD"); // axum answers HEAD for every GET route
        }
    }
    let (mut api, mut forward) = (Router::new(), Router::new());
    for (path, (methods, family, allowed)) in by_path {
        let allow = allowed.join(", ");
        let other = move || async move { method_not_allowed(family, &allow) };
        let methods = methods.fallback(other);
        if family == Family::Forward {
            forward = forward.route(path, methods);
        } else {
            api = api.route(path, methods);
        }
    }
    let json = HeaderValue::from_static("application/json");
    let openapi = get(move || async move {
        let no_cache = HeaderValue::from_static("no-cache");
        (
            [
                (header::CONTENT_TYPE, json),
                (header::CACHE_CONTROL, no_cache),
            ],
            doc,
        )
    })
    .fallback(|| async { method_not_allowed(Family::Coded, "GET, HEAD") });
    Routers {
        api: api.route("/openapi.json", openapi),
        forward,
    }
}

fn method_not_allowed(family: Family, allow: &str) -> Response {
    let mut resp = Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("This path answers {allow} only."),
    )
    .render(family);
    if let Ok(v) = HeaderValue::from_str(allow) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp.into_response()
}
