//! Finding 12: an ID token whose `nbf` is in the future is refused, and a token with
//! several audiences signs in only when its `azp` (authorized party) is one of our
//! client ids (OIDC Core 3.1.3.7). Finding 16, for providers: unlinking one needs a
//! fresh sign-in.
use serde_json::{Value, json};

use super::age_sessions;
use crate::helpers::{Gql, PASSWORD, TestApp};
use crate::providers::{Provider, Providers, now, person};

use Provider::Google;

const GOOGLE_AUTH: &str = "mutation($t: String!) { google_auth(token: $t) { __typename ... on AuthPayload { accessToken user { id email } } } }";
const LINKED: &str = "{ linkedProviders { provider } }";
const UNLINK: &str = "mutation($p: OAuthProvider!) { unlinkProvider(provider: $p) }";

/// Google's claims for a verified `email` (aud and azp: our web client id).
fn claims(sub: &str, email: &str) -> Value {
    Providers::claims(Google, &person(sub).email(email, true))
}

async fn google(app: &TestApp, claims: &Value) -> Gql {
    let token = Providers::id_token(Google, claims);
    app.gql(GOOGLE_AUTH, json!({ "t": token })).await
}

#[track_caller]
fn signed_in(r: &Gql) -> String {
    let v = &r.ok()["google_auth"];
    assert_eq!(v["__typename"], "AuthPayload", "{}", r.0);
    v["user"]["id"].as_str().expect("user id").to_owned()
}

#[track_caller]
fn refused(r: &Gql, words: &[&str]) {
    r.expect_code("UNAUTHENTICATED");
    assert!(
        words.iter().any(|w| r.message().contains(w)),
        "expected one of {words:?} in the message: {}",
        r.0
    );
    assert!(r.data()["google_auth"].is_null(), "{}", r.0);
}

fn providers_of(r: &Gql) -> Vec<String> {
    r.ok()["linkedProviders"]
        .as_array()
        .expect("list")
        .iter()
        .map(|l| l["provider"].as_str().expect("provider").to_owned())
        .collect()
}

review_social_test!(an_id_token_not_valid_yet_is_refused, |app, _idp| {
    let t = now();
    let mut c = claims("g-nbf", "nbf@example.com");
    c["nbf"] = json!(t + 3600);
    refused(&google(&app, &c).await, &["nbf", "not valid yet"]);
    // An nbf in the past is what real tokens carry: it signs in.
    let mut c = claims("g-nbf", "nbf@example.com");
    c["nbf"] = json!(t - 10);
    signed_in(&google(&app, &c).await);
});

review_social_test!(
    an_id_token_with_several_audiences_must_name_us_as_its_azp,
    |app, _idp| {
        let ours = Google.client_id();
        let other = "other-client-id";
        // Issued to another app that listed us as an extra audience.
        let mut c = claims("g-azp", "azp@example.com");
        c["aud"] = json!([other, ours]);
        c["azp"] = json!(other);
        refused(&google(&app, &c).await, &["azp"]);
        // Several audiences and no azp at all.
        let mut c = claims("g-azp", "azp@example.com");
        c["aud"] = json!([other, ours]);
        c.as_object_mut().expect("claims").remove("azp");
        refused(&google(&app, &c).await, &["azp"]);
        // Several audiences with azp ours: signs in.
        let mut c = claims("g-azp", "azp@example.com");
        c["aud"] = json!([other, ours]);
        c["azp"] = json!(ours);
        let id = signed_in(&google(&app, &c).await);
        // Another of our client ids as azp is ours too.
        let mut c = claims("g-azp", "azp@example.com");
        c["aud"] = json!([other, Google.client_ids()[1]]);
        c["azp"] = json!(Google.client_ids()[1]);
        assert_eq!(signed_in(&google(&app, &c).await), id);
        // One audience (ours): azp is not required.
        let mut c = claims("g-azp", "azp@example.com");
        c.as_object_mut().expect("claims").remove("azp");
        assert_eq!(signed_in(&google(&app, &c).await), id);
    }
);

review_social_test!(
    unlinking_a_provider_needs_a_sign_in_of_at_most_fifteen_minutes_ago,
    |app, _idp| {
        let t = app.signup_verified("unlink@example.com").await;
        // Google asserts the verified address: the identity links to this account.
        let linked_id = signed_in(&google(&app, &claims("g-unlink", "unlink@example.com")).await);
        assert_eq!(linked_id, t.user_id);
        assert_eq!(
            providers_of(&app.gql_as(&t.access, LINKED, json!({})).await),
            ["GOOGLE"]
        );
        age_sessions(&app, &t.user_id, 3600).await;
        let r = app
            .gql_as(&t.access, UNLINK, json!({ "p": "GOOGLE" }))
            .await;
        r.expect_code("FORBIDDEN");
        assert!(r.message().contains("Sign in again"), "{}", r.0);
        assert_eq!(
            providers_of(&app.gql_as(&t.access, LINKED, json!({})).await),
            ["GOOGLE"]
        );
        // A new sign-in may.
        let fresh = app.login_tokens("unlink@example.com", PASSWORD).await;
        let r = app
            .gql_as(&fresh.access, UNLINK, json!({ "p": "GOOGLE" }))
            .await;
        assert_eq!(r.ok()["unlinkProvider"], true);
    }
);
