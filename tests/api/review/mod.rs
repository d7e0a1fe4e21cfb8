//! Tests for the findings of the security review: each test fails on the server before
//! the fixes and passes after them. This module holds what the files below share: a
//! test declaration with the provider stand-ins, second-factor logins from a chosen
//! client, password changes and reset links from the outbox, ageing a session, and a
//! request with raw (non-UTF-8) header bytes.
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Gql, TestApp, link_token};

/// Declares a test that starts the provider stand-ins (tests/api/providers.rs), then
/// the server pointed at them, once on SQLite and once on PostgreSQL (skipped when
/// LATCHKEY_TEST_POSTGRES_URL is not set, as db_test! does).
macro_rules! review_social_test {
    ($name:ident, |$app:ident, $idp:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_variables)]
            async fn run($app: crate::helpers::TestApp, $idp: crate::providers::Providers) $body

            async fn go(backend: crate::helpers::Backend) {
                let stand_in = crate::providers::Providers::start().await;
                let app = crate::helpers::spawn_app_with(backend, |s| stand_in.configure(s)).await;
                match app {
                    Some(app) => run(app, stand_in).await,
                    None => eprintln!("skipped: LATCHKEY_TEST_POSTGRES_URL is not set"),
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                go(crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                go(crate::helpers::Backend::Postgres).await
            }
        }
    };
}

mod credentials;
mod factors;
mod id_tokens;
mod identity;
mod keys;
mod passwords;

/// A password that passes the strength rules, for changes and resets.
pub const NEW_PASSWORD: &str = "another-Zebra-lamp-42";

pub const LOGIN_2FA: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { __typename ... on TwoFactorRequired { userId mfaToken methods } ... on AuthPayload { accessToken } } }";
pub const VERIFY_2FA: &str = "mutation($u: ID!, $t: String!, $m: String) { verify_2fa_code(user_id: $u, token: $t, mfa_token: $m) { accessToken refreshToken user { id twoFactorEnabled } } }";
pub const CHANGE_PASSWORD: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
pub const REQUEST_RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
pub const VALIDATE_RESET: &str = "query($t: String!) { validatePasswordResetToken(token: $t) }";
pub const CONFIRM_RESET: &str =
    "mutation($t: String!, $p: String!) { confirmPasswordReset(token: $t, newPassword: $p) }";
pub const SET_ACTIVE: &str =
    "mutation($u: ID!, $a: Boolean!) { setUserActive(userId: $u, active: $a) { id isActive } }";

/// A password login of a user with 2FA on, sent with `headers`: the
/// TwoFactorRequired answer (userId, mfaToken, methods).
pub async fn pending_login(
    app: &TestApp,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> Value {
    let r = app
        .gql_with(LOGIN_2FA, json!({ "e": email, "p": password }), headers)
        .await;
    let l = r.ok()["login"].clone();
    assert_eq!(l["__typename"], "TwoFactorRequired", "{l}");
    l
}

/// verify_2fa_code(user_id, token, mfa_token) sent with `headers`; `mfa` may be null.
pub async fn verify_code(
    app: &TestApp,
    user: &Value,
    code: &str,
    mfa: &Value,
    headers: &[(&str, &str)],
) -> Gql {
    app.gql_with(
        VERIFY_2FA,
        json!({ "u": user, "t": code, "m": mfa }),
        headers,
    )
    .await
}

pub async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> Gql {
    app.gql_as(token, CHANGE_PASSWORD, json!({ "c": current, "n": new }))
        .await
}

/// The messages in the outbox right now (no waiting), oldest first.
pub fn outbox_now(app: &TestApp) -> Vec<String> {
    let mut paths: Vec<_> = std::fs::read_dir(&app.outbox)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

/// The outbox's password-reset messages right now.
pub fn reset_messages(app: &TestApp) -> Vec<String> {
    outbox_now(app)
        .into_iter()
        .filter(|m| m.contains("/reset-password?token="))
        .collect()
}

/// Asks for a password reset of `email` and waits (up to 15 s) for its link; returns
/// the link's token.
pub async fn reset_link_token(app: &TestApp, email: &str) -> String {
    let r = app.gql(REQUEST_RESET, json!({ "e": email })).await;
    assert_eq!(r.ok()["requestPasswordReset"], true);
    let to = format!("To: {email}");
    for _ in 0..300 {
        if let Some(m) = reset_messages(app).into_iter().find(|m| m.contains(&to)) {
            return link_token(&m, "/reset-password");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reset message to {email}");
}

/// Moves the start of every session of `user_id` back by `secs`: the sessions stay
/// valid, but their sign-in is no longer fresh.
pub async fn age_sessions(app: &TestApp, user_id: &str, secs: i64) {
    use latchkey::entities::session;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let old = latchkey::clock::now() - secs;
    let r = session::Entity::update_many()
        .col_expr(session::Column::CreatedAt, Expr::value(old))
        .filter(session::Column::UserId.eq(user_id))
        .exec(&app.state.idm.db)
        .await
        .expect("age sessions");
    assert!(r.rows_affected > 0, "no session of {user_id} to age");
}

/// POST /graphql with `query` and headers given as raw bytes (which need not be
/// UTF-8 or visible ASCII).
pub async fn gql_raw(app: &TestApp, query: &str, headers: &[(&'static str, &[u8])]) -> Gql {
    use reqwest::header::{HeaderMap, HeaderValue};
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            *name,
            HeaderValue::from_bytes(value).expect("a header value reqwest can send"),
        );
    }
    let resp = app
        .client
        .post(format!("{}/graphql", app.url))
        .headers(map)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("request");
    Gql(resp.json().await.expect("json body"))
}

/// Seconds since the epoch of an RFC 3339 answer field.
pub fn timestamp(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
        .timestamp()
}

/// RFC 3339 of seconds since the epoch.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0)
        .expect("a time")
        .to_rfc3339()
}
