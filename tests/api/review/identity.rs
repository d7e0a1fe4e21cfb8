//! Finding 4: one email rule everywhere. An address with a character that case folding
//! or Unicode compatibility turns into another letter (the Kelvin sign `K` for `k`)
//! can neither sign up, nor sign in, nor be asserted by a provider, nor ask for a reset
//! in the name of the account whose plain address it folds into; an international
//! domain is one account whether typed in Unicode or in punycode.
use std::time::Duration;

use serde_json::json;

use super::{REQUEST_RESET, reset_link_token, reset_messages};
use crate::db_test;
use crate::helpers::{PASSWORD, TestApp};
use crate::providers::{Provider, Providers, person};

/// `kate@example.com` with a KELVIN SIGN (U+212A) for the `k`.
const KELVIN_KATE: &str = "\u{212A}ate@example.com";
const KATE: &str = "kate@example.com";

const GOOGLE_AUTH: &str = "mutation($t: String!) { google_auth(token: $t) { __typename ... on AuthPayload { user { id email } } } }";
const GITHUB_AUTH: &str = "mutation($t: String!) { github_auth(token: $t) { __typename ... on AuthPayload { user { id email } } } }";

async fn signup_attempt(app: &TestApp, email: &str) -> crate::helpers::Gql {
    app.gql(
        "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { auth { user { id } } } }",
        json!({ "e": email, "p": PASSWORD }),
    )
    .await
}

db_test!(
    a_kelvin_sign_look_alike_can_neither_sign_up_nor_sign_in_as_kate,
    |app| {
        let kate = app.signup_verified(KATE).await;
        // Signup: refused as input, not a CONFLICT with kate's account.
        signup_attempt(&app, KELVIN_KATE)
            .await
            .expect_code("BAD_USER_INPUT");
        // Login with kate's password: nobody is signed in.
        let r = app.login(KELVIN_KATE, PASSWORD).await;
        r.expect_code("UNAUTHENTICATED");
        assert!(r.data()["login"].is_null(), "{}", r.0);
        // Kate herself is unaffected.
        let l = app.login_tokens(KATE, PASSWORD).await;
        assert_eq!(l.user_id, kate.user_id);
    }
);

review_social_test!(
    providers_asserting_a_kelvin_sign_look_alike_do_not_sign_in_as_kate,
    |app, idp| {
        let kate = app.signup_verified(KATE).await;

        let who = person("108000000000000000042").email(KELVIN_KATE, true);
        let claims = Providers::claims(Provider::Google, &who);
        assert_eq!(claims["email_verified"], true);
        let token = Providers::id_token(Provider::Google, &claims);
        let r = app.gql(GOOGLE_AUTH, json!({ "t": token })).await;
        r.expect_code("BAD_USER_INPUT");
        assert!(r.message().contains("cannot be used"), "{}", r.0);
        assert!(r.data()["google_auth"].is_null(), "{}", r.0);

        let who = person("4242").github_email(KELVIN_KATE, true, true);
        let token = idp.access_token(Provider::Github, who);
        let r = app.gql(GITHUB_AUTH, json!({ "t": token })).await;
        r.expect_code("BAD_USER_INPUT");
        assert!(r.message().contains("cannot be used"), "{}", r.0);
        assert!(r.data()["github_auth"].is_null(), "{}", r.0);

        // Neither identity was linked to kate.
        let linked = app
            .gql_as(&kate.access, "{ linkedProviders { provider } }", json!({}))
            .await;
        assert_eq!(linked.ok()["linkedProviders"], json!([]), "{}", linked.0);
    }
);

db_test!(
    an_international_domain_is_one_account_and_a_look_alike_domain_is_refused,
    |app| {
        app.signup_verified(KATE).await;
        // A non-ASCII character in the domain that maps to an ASCII letter.
        signup_attempt(&app, "kate@\u{212A}example.com")
            .await
            .expect_code("BAD_USER_INPUT");
        // An IDN domain: Unicode at signup, punycode at login, one account.
        let jose = app.signup("jose@exämple.com").await;
        let by_punycode = app.login_tokens("jose@xn--exmple-cua.com", PASSWORD).await;
        assert_eq!(by_punycode.user_id, jose.user_id);
        let by_unicode = app.login_tokens("jose@exämple.com", PASSWORD).await;
        assert_eq!(by_unicode.user_id, jose.user_id);
        // And the punycode form is the same address at signup too.
        let r = signup_attempt(&app, "jose@xn--exmple-cua.com").await;
        assert!(r.code().is_some(), "a second account for jose: {}", r.0);
    }
);

db_test!(
    a_reset_asked_for_a_look_alike_address_sends_kate_nothing,
    |app| {
        app.signup_verified(KATE).await;
        assert!(reset_messages(&app).is_empty());
        let r = app.gql(REQUEST_RESET, json!({ "e": KELVIN_KATE })).await;
        assert_eq!(r.ok()["requestPasswordReset"], true);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let sent = reset_messages(&app);
        assert!(sent.is_empty(), "a reset link was sent: {sent:?}");
        // A reset asked for kate's own address arrives; still no other one.
        reset_link_token(&app, KATE).await;
        let sent = reset_messages(&app);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(sent[0].contains(&format!("To: {KATE}")), "{}", sent[0]);
    }
);
