//! Finding 16: setting up, turning off or regenerating two-factor authentication, and
//! deleting a passkey, need a sign-in of at most 15 minutes ago, so a stolen (still
//! valid) access token cannot change the account's factors. And `verify_2fa_code`
//! without `mfa_token` completes only a pending login opened by the same client (IP
//! and User-Agent).
use serde_json::json;

use super::{age_sessions, pending_login, verify_code};
use crate::authenticator::SoftAuthenticator;
use crate::db_test;
use crate::helpers::{Gql, PASSWORD, TestApp};
use crate::two_factor::{code_at, with_2fa};

const GENERATE: &str = "mutation { generate_2fa { secret } }";
const DISABLE: &str = "mutation($t: String!) { disable_2fa(token: $t) }";
const REGENERATE: &str = "mutation($t: String!) { regenerateRecoveryCodes(token: $t) }";
const PASSKEYS: &str = "{ userPasskeys { id } }";
const DELETE_PASSKEY: &str = "mutation($i: ID!) { deletePasskey(id: $i) }";

/// An hour: far beyond the 15 minutes of a fresh sign-in.
const HOUR: i64 = 3600;

#[track_caller]
fn needs_fresh_sign_in(r: &Gql) {
    r.expect_code("FORBIDDEN");
    assert!(r.message().contains("Sign in again"), "{}", r.0);
}

async fn two_factor_enabled(app: &TestApp, token: &str) -> bool {
    let r = app
        .gql_as(token, "{ me { twoFactorEnabled } }", json!({}))
        .await;
    r.ok()["me"]["twoFactorEnabled"]
        .as_bool()
        .expect("twoFactorEnabled")
}

db_test!(setting_up_two_factor_needs_a_fresh_sign_in, |app| {
    let t = app.signup_verified("stale-setup@example.com").await;
    age_sessions(&app, &t.user_id, HOUR).await;
    // The token is still valid...
    app.me(&t.access).await.ok();
    // ...but not for enrolling an authenticator.
    let r = app.gql_as(&t.access, GENERATE, json!({})).await;
    needs_fresh_sign_in(&r);
    assert!(r.data()["generate_2fa"].is_null(), "{}", r.0);
    assert!(!two_factor_enabled(&app, &t.access).await);
    // A new sign-in may.
    let fresh = app.login_tokens("stale-setup@example.com", PASSWORD).await;
    app.gql_as(&fresh.access, GENERATE, json!({})).await.ok();
});

db_test!(
    turning_two_factor_off_or_regenerating_its_codes_needs_a_fresh_sign_in,
    |app| {
        let email = "stale-2fa@example.com";
        let (t, secret, codes) = with_2fa(&app, email).await;
        age_sessions(&app, &t.user_id, HOUR).await;
        // A current code (the step after the one that enabled 2FA, within ±1 step).
        let code = code_at(&secret, latchkey::clock::now() + 30);
        let r = app.gql_as(&t.access, DISABLE, json!({ "t": code })).await;
        needs_fresh_sign_in(&r);
        assert!(r.data()["disable_2fa"].is_null(), "{}", r.0);
        let r = app
            .gql_as(&t.access, REGENERATE, json!({ "t": codes[0] }))
            .await;
        needs_fresh_sign_in(&r);
        assert!(r.data()["regenerateRecoveryCodes"].is_null(), "{}", r.0);
        assert!(two_factor_enabled(&app, &t.access).await);
        // After a new sign-in (with its second factor), 2FA can be turned off.
        let l = pending_login(&app, email, PASSWORD, &[]).await;
        let r = verify_code(&app, &l["userId"], &codes[1], &l["mfaToken"], &[]).await;
        let fresh = r.ok()["verify_2fa_code"]["accessToken"]
            .as_str()
            .expect("access")
            .to_owned();
        let r = app.gql_as(&fresh, DISABLE, json!({ "t": codes[2] })).await;
        assert_eq!(r.ok()["disable_2fa"], true);
    }
);

db_test!(deleting_a_passkey_needs_a_fresh_sign_in, |app| {
    let t = app.signup_verified("stale-passkey@example.com").await;
    let r = app
        .gql_as(
            &t.access,
            "mutation { generatePasskeyRegistrationChallenge { options } }",
            json!({}),
        )
        .await;
    let options = r.ok()["generatePasskeyRegistrationChallenge"]["options"].clone();
    let mut auth = SoftAuthenticator::default();
    let cred = auth.create(&options).expect("create credential");
    let r = app
        .gql_as(
            &t.access,
            "mutation($c: JSON!, $n: String!) { registerPasskey(credential: $c, device_name: $n) { id } }",
            json!({ "c": cred, "n": "laptop" }),
        )
        .await;
    let id = r.ok()["registerPasskey"]["id"].clone();
    age_sessions(&app, &t.user_id, HOUR).await;
    let r = app
        .gql_as(&t.access, DELETE_PASSKEY, json!({ "i": id }))
        .await;
    needs_fresh_sign_in(&r);
    let list = app.gql_as(&t.access, PASSKEYS, json!({})).await;
    assert_eq!(list.ok()["userPasskeys"].as_array().expect("list").len(), 1);
    let fresh = app
        .login_tokens("stale-passkey@example.com", PASSWORD)
        .await;
    let r = app
        .gql_as(&fresh.access, DELETE_PASSKEY, json!({ "i": id }))
        .await;
    assert_eq!(r.ok()["deletePasskey"], true);
});

db_test!(
    a_second_factor_without_mfa_token_completes_only_a_login_from_the_same_client,
    |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    },
    |app| {
        let email = "same-client@example.com";
        let (t, _, codes) = with_2fa(&app, email).await;
        let a = [("user-agent", "agent-A"), ("x-forwarded-for", "10.1.1.1")];
        let b = [("user-agent", "agent-B"), ("x-forwarded-for", "10.2.2.2")];
        let l = pending_login(&app, email, PASSWORD, &a).await;
        assert_eq!(l["userId"], t.user_id.as_str());
        let user = json!(t.user_id);
        let none = json!(null);
        // Another client (another IP and User-Agent), with only the user id.
        let r = verify_code(&app, &user, &codes[0], &none, &b).await;
        r.expect_code("UNAUTHENTICATED");
        assert!(r.data()["verify_2fa_code"].is_null(), "{}", r.0);
        // Only the IP, or only the User-Agent, of the client is not the client either.
        let same_agent = [("user-agent", "agent-A"), ("x-forwarded-for", "10.2.2.2")];
        verify_code(&app, &user, &codes[1], &none, &same_agent)
            .await
            .expect_code("UNAUTHENTICATED");
        let same_ip = [("user-agent", "agent-B"), ("x-forwarded-for", "10.1.1.1")];
        verify_code(&app, &user, &codes[2], &none, &same_ip)
            .await
            .expect_code("UNAUTHENTICATED");
        // The client that passed the password completes it.
        let r = verify_code(&app, &user, &codes[3], &none, &a).await;
        let p = &r.ok()["verify_2fa_code"];
        assert_eq!(p["user"]["id"], t.user_id.as_str());
        app.me(p["accessToken"].as_str().expect("access"))
            .await
            .ok();
    }
);
