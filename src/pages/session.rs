//! The browser session of the pages, after the IETF "OAuth 2.0 for Browser-Based
//! Applications" guidance: the refresh token never reaches a page script. The pages sign
//! in through `POST /session/graphql` (a GraphQL request as for /graphql); every
//! `refreshToken` in its answer is taken out and set as an HttpOnly, SameSite=Strict
//! cookie: `lk_refresh` scoped to /session over http, `__Host-lk_refresh` (Secure,
//! Path=/) over https. `POST /session/refresh`
//! exchanges the cookie for an access token, which the page keeps in memory only;
//! `POST /session/logout` revokes the session and clears the cookie.
//!
//! CSRF: each route takes only `Content-Type: application/json` (a cross-site page
//! cannot send that without a CORS preflight), refuses a request whose `Sec-Fetch-Site`
//! is not same-origin or whose `Origin` is another origin (so even a `cors_origins`
//! origin, whose preflight passes, is refused here), and the cookie is SameSite=Strict.
use async_graphql::Value;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::AppState;
use crate::http::extract::Head;
use crate::http::graphql::{
    Format, Params, is_json, parse_body, refusal, reply, request_error, run,
};

/// The refresh cookie over http (development): scoped to /session.
const REFRESH_COOKIE: &str = "lk_refresh";
/// The refresh cookie over https: the `__Host-` prefix makes the browser refuse one that
/// is not Secure, has a Domain or a Path other than /, so a sibling subdomain can
/// neither plant nor overwrite it (a planted cookie would sign the victim into the
/// planter's account). The prefix asks for Path=/, which the http name's scoping gives
/// up for this.
const HOST_REFRESH_COOKIE: &str = "__Host-lk_refresh";

fn https(app: &AppState) -> bool {
    app.idm.settings.public_url.starts_with("https://")
}

/// (the refresh cookie's name, its Path) for this deployment.
fn refresh_cookie(app: &AppState) -> (&'static str, &'static str) {
    if https(app) {
        (HOST_REFRESH_COOKIE, "/")
    } else {
        (REFRESH_COOKIE, "/session")
    }
}
/// Says "this browser has a session" to `/` (which the refresh cookie, scoped to
/// /session, does not reach); it carries nothing secret.
const SIGNED_IN_COOKIE: &str = "lk_signed_in";

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

pub fn signed_in(headers: &HeaderMap) -> bool {
    cookie(headers, SIGNED_IN_COOKIE).is_some()
}

/// The two cookies: set to `token` for `max_age` seconds, or cleared (None).
fn set_cookies(app: &AppState, token: Option<&str>) -> [HeaderValue; 2] {
    let secure = if https(app) { "; Secure" } else { "" };
    let (name, path) = refresh_cookie(app);
    let max_age = match token {
        Some(_) => app.idm.settings.tokens.refresh_ttl_secs,
        None => 0,
    };
    let refresh = format!(
        "{name}={}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        token.unwrap_or("")
    );
    let hint = format!(
        "{SIGNED_IN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        if token.is_some() { "1" } else { "" }
    );
    [refresh, hint].map(|c| HeaderValue::from_str(&c).unwrap_or(HeaderValue::from_static("")))
}

/// The CSRF checks of every /session route: Some(the refusal) when one fails.
fn cross_site(app: &AppState, headers: &HeaderMap) -> Option<Response> {
    if !is_json(headers) {
        return Some(request_error(
            Format::Json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send a POST with Content-Type: application/json.",
        ));
    }
    let site_ok = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| matches!(v, "same-origin" | "none"));
    let public = app.idm.settings.public_url.trim_end_matches('/');
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|o| {
            o == public
                || host.is_some_and(|h| o == format!("http://{h}") || o == format!("https://{h}"))
        });
    if site_ok && origin_ok {
        return None;
    }
    Some(request_error(
        Format::Json,
        StatusCode::FORBIDDEN,
        "This endpoint serves this server's own pages only (a request from another site is refused).",
    ))
}

/// Whether a field named `refreshToken` is selected under an alias (its value would
/// then escape the stripping below).
fn aliases_refresh_token(doc: &ExecutableDocument) -> bool {
    fn walk(set: &SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(f) => {
                (f.node.name.node == "refreshToken" && f.node.alias.is_some())
                    || walk(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => walk(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    doc.operations
        .iter()
        .any(|(_, op)| walk(&op.node.selection_set.node))
        || doc
            .fragments
            .values()
            .any(|f| walk(&f.node.selection_set.node))
}

/// Takes every string `refreshToken` out of `value`; the last one found is returned.
fn take_refresh_tokens(value: &mut Value, found: &mut Option<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(_)) = map.get("refreshToken")
                && let Some(Value::String(t)) = map.shift_remove("refreshToken")
            {
                *found = Some(t);
            }
            for v in map.values_mut() {
                take_refresh_tokens(v, found);
            }
        }
        Value::List(items) => items.iter_mut().for_each(|v| take_refresh_tokens(v, found)),
        _ => {}
    }
}

/// Runs one GraphQL request for a page and moves its refresh token into the cookie.
async fn run_for_page(
    app: &AppState,
    head: &Head,
    req: async_graphql::Request,
) -> (Option<String>, async_graphql::Response) {
    let caller = head.caller(app).await;
    let mut resp = run(app, req, &caller).await;
    let mut token = None;
    take_refresh_tokens(&mut resp.data, &mut token);
    (token, resp)
}

/// POST /session/graphql: one GraphQL operation (no batch), its refresh tokens kept in
/// the cookie.
pub async fn graphql(State(app): State<AppState>, head: Head, body: Bytes) -> Response {
    if let Some(refused) = cross_site(&app, &head.headers) {
        return refused;
    }
    let format = Format::negotiate(&head.headers).unwrap_or(Format::Json);
    let req = match parse_body(&body, 1) {
        Ok(Params::Single(req)) => *req,
        Ok(Params::Batch(_)) => {
            return request_error(
                format,
                StatusCode::BAD_REQUEST,
                "Send one operation, not a batch.",
            );
        }
        Err(msg) => return request_error(format, StatusCode::BAD_REQUEST, &msg),
    };
    if async_graphql::parser::parse_query(&req.query).is_ok_and(|d| aliases_refresh_token(&d)) {
        return request_error(
            format,
            StatusCode::BAD_REQUEST,
            "Select refreshToken without an alias here: this endpoint keeps it in a cookie.",
        );
    }
    let (token, mut resp) = run_for_page(&app, &head, req).await;
    if let Some(token) = token {
        for c in set_cookies(&app, Some(&token)) {
            resp.http_headers.append(header::SET_COOKIE, c);
        }
    }
    reply(format, resp)
}

const REFRESH: &str = "mutation Refresh($t: String!) { refreshToken(refreshToken: $t) { \
     accessToken refreshToken tokenType expiresIn \
     user { id email emailVerified firstName username role twoFactorEnabled } } }";

fn not_signed_in(app: &AppState, message: &str) -> Response {
    let mut resp = refusal(
        Format::Json,
        StatusCode::UNAUTHORIZED,
        message,
        "UNAUTHENTICATED",
    );
    for c in set_cookies(app, None) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// POST /session/refresh: the cookie's refresh token for a new pair; the access token
/// in the answer, the new refresh token in the cookie.
pub async fn refresh(State(app): State<AppState>, head: Head) -> Response {
    if let Some(refused) = cross_site(&app, &head.headers) {
        return refused;
    }
    let Some(token) = cookie(&head.headers, refresh_cookie(&app).0).map(str::to_owned) else {
        return not_signed_in(&app, "This browser is not signed in.");
    };
    let req = async_graphql::Request::new(REFRESH)
        .variables(async_graphql::Variables::from_json(json!({ "t": token })));
    let (next, mut resp) = run_for_page(&app, &head, req).await;
    let Some(next) = next else {
        let first = resp.errors.first();
        let message = first
            .map(|e| e.message.clone())
            .unwrap_or_else(|| "This session has ended; sign in again.".into());
        let code = first
            .and_then(|e| e.extensions.as_ref())
            .and_then(|x| x.get("code"))
            .and_then(|c| match c {
                Value::String(code) => Some(code.clone()),
                _ => None,
            });
        // Only a refused token ends the browser's session; a rate limit or an outage
        // keeps the cookie for the next try.
        return match code.as_deref() {
            Some("RATE_LIMITED") => refusal(
                Format::Json,
                StatusCode::TOO_MANY_REQUESTS,
                &message,
                "RATE_LIMITED",
            ),
            Some("UNAUTHENTICATED") | None => not_signed_in(&app, &message),
            Some(_) => refusal(
                Format::Json,
                StatusCode::SERVICE_UNAVAILABLE,
                &message,
                "INTERNAL_SERVER_ERROR",
            ),
        };
    };
    for c in set_cookies(&app, Some(&next)) {
        resp.http_headers.append(header::SET_COOKIE, c);
    }
    reply(Format::Json, resp)
}

/// POST /session/logout: revokes the cookie's session and clears the cookies.
pub async fn logout(State(app): State<AppState>, head: Head) -> Response {
    if let Some(refused) = cross_site(&app, &head.headers) {
        return refused;
    }
    if let Some(token) = cookie(&head.headers, refresh_cookie(&app).0) {
        let caller = head.caller(&app).await;
        if let Err(e) = app
            .idm
            .sign_out_with_refresh_token(token, &caller.client, caller.now)
            .await
        {
            tracing::warn!(error = %e, "signing a browser session out");
            return refusal(
                Format::Json,
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing out failed for now; try again.",
                "INTERNAL_SERVER_ERROR",
            );
        }
    }
    let mut resp = axum::Json(json!({ "signedOut": true })).into_response();
    for c in set_cookies(&app, None) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_taken_out_wherever_they_are() {
        let mut v = Value::from_json(json!({
            "login": { "accessToken": "a", "refreshToken": "r1", "user": { "id": "u" } },
            "list": [{ "refreshToken": "r2" }],
            "refreshToken": { "accessToken": "b", "refreshToken": "r3" }
        }))
        .unwrap();
        let mut found = None;
        take_refresh_tokens(&mut v, &mut found);
        let text = v.to_string();
        assert!(
            !text.contains("r1") && !text.contains("r2") && !text.contains("r3"),
            "{text}"
        );
        assert!(text.contains("accessToken"), "{text}");
        assert!(found.is_some());
    }

    #[test]
    fn an_aliased_refresh_token_is_found() {
        let doc = |q: &str| async_graphql::parser::parse_query(q).unwrap();
        assert!(aliases_refresh_token(&doc(
            "mutation { login(email: \"\", password: \"\") { ... on AuthPayload { r: refreshToken } } }"
        )));
        assert!(aliases_refresh_token(&doc(
            "mutation { x: refreshToken(refreshToken: \"\") { accessToken } }"
        )));
        assert!(aliases_refresh_token(&doc(
            "query { ...F } fragment F on Query { a: refreshToken }"
        )));
        assert!(!aliases_refresh_token(&doc(
            "mutation { login(email: \"\", password: \"\") { ... on AuthPayload { refreshToken } } }"
        )));
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; lk_refresh=tok; b=2"),
        );
        assert_eq!(cookie(&h, "lk_refresh"), Some("tok"));
        assert_eq!(cookie(&h, "lk_signed_in"), None);
    }
}
