//! Forward auth (`/auth/check`): a reverse proxy (nginx `auth_request`, Traefik
//! `ForwardAuth`, Caddy `forward_auth`, Envoy `ext_authz`) asks whether a request may
//! pass, and forwards the caller's identity to the API behind it. No GraphQL and no
//! body: the credential is judged by the core (`authenticate`, on the cached key path)
//! and the scope the original method needs by the same `authorize` as every field.
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::failure::Failure;
use crate::domain::Scope;
use crate::http::AppState;
use crate::idm::Error;
use crate::idm::auth::{Caller, Rule};

/// The scopes an API key needs for the original request's method: `read` for
/// GET/HEAD/OPTIONS, `write` for POST/PUT/PATCH, `delete` for DELETE, and all three
/// for any other method (a method we cannot name gets no less than everything).
pub fn scopes_for(method: &str) -> Vec<Scope> {
    match method.to_ascii_uppercase().as_str() {
        "GET" | "HEAD" | "OPTIONS" => vec![Scope::Read],
        "POST" | "PUT" | "PATCH" => vec![Scope::Write],
        "DELETE" => vec![Scope::Delete],
        _ => Scope::ALL.to_vec(),
    }
}

/// The original method: what the proxy says it was (`X-Forwarded-Method` or
/// `X-Original-Method`), else this request's own (Envoy forwards the method itself).
/// A proxy may pass the client's own headers on beside the one it sets (nginx's
/// `auth_request` does), so a header sent twice, empty, unreadable, or the two headers
/// naming different methods, is no method we can name: it needs every scope.
fn original_method<'a>(headers: &'a HeaderMap, own: &'a Method) -> &'a str {
    const UNKNOWN: &str = "";
    let mut named: Option<&str> = None;
    for name in ["x-forwarded-method", "x-original-method"] {
        for value in headers.get_all(name) {
            let Some(m) = value.to_str().ok().map(str::trim).filter(|m| !m.is_empty()) else {
                return UNKNOWN;
            };
            match named {
                Some(seen) if !seen.eq_ignore_ascii_case(m) => return UNKNOWN,
                _ => named = Some(m),
            }
        }
    }
    named.unwrap_or(own.as_str())
}

fn put(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

pub async fn check(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let method = original_method(&headers, &method);
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Every identity header, empty where it does not apply: a proxy that copies only
    // the headers of this answer then never lets a client's own copy through.
    if let Some(user) = &caller.user {
        put(&mut resp, "x-latchkey-user-id", &user.user_id);
        put(&mut resp, "x-latchkey-tenant-id", &user.tenant_id);
        put(&mut resp, "x-latchkey-credential", "user_token");
        for name in [
            "x-latchkey-key-id",
            "x-latchkey-scopes",
            "x-latchkey-environment",
        ] {
            put(&mut resp, name, "");
        }
        return resp;
    }
    let rule = Rule {
        key_scopes: Some(scopes_for(method)),
        ..Rule::default()
    };
    if let Err(e) = app.idm.authorize(&rule, &caller).await {
        let mut failure = Failure::from(e);
        // The documents write this one without a full stop.
        failure.message = failure.message.trim_end_matches('.').to_owned();
        return failure.into_response();
    }
    let Some(key) = &caller.key else {
        return Failure::from(Error::unauthenticated("Invalid or missing API key")).into_response();
    };
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
    put(&mut resp, "x-latchkey-user-id", &key.user_id);
    put(&mut resp, "x-latchkey-tenant-id", &key.tenant_id);
    put(&mut resp, "x-latchkey-credential", "api_key");
    put(&mut resp, "x-latchkey-key-id", &key.key_id);
    put(&mut resp, "x-latchkey-scopes", &scopes.join(","));
    put(
        &mut resp,
        "x-latchkey-environment",
        key.environment.as_str(),
    );
    resp
}
