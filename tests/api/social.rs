//! Social login against local stand-ins for Google, Apple, X and GitHub (tests/api/
//! providers.rs): ID tokens and every way they must be refused, provider access tokens,
//! the linking rule (including the pre-registration takeover), the web
//! authorization-code flow with PKCE, and linking / unlinking providers.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::sea_query::Expr;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::authenticator::SoftAuthenticator;
use crate::helpers::{Gql, PASSWORD, SERVICE_TOKEN, TestApp, jwt_part};
use crate::providers::{
    Key, OTHER_REDIRECT_URI, Person, Provider, Providers, REDIRECT_URI, b64_json, now, person,
    rsa_public_pem, sign,
};
use crate::two_factor::with_2fa;

use Provider::{Apple, Github, Google, X};

/// Declares a test that starts the provider stand-in, then the server pointed at it
/// (`Providers::configure`, then the test's own settings), once on SQLite and once on
/// PostgreSQL (skipped when LATCHKEY_TEST_POSTGRES_URL is not set, as db_test! does).
macro_rules! social_test {
    ($name:ident, |$app:ident, $idp:ident| $body:block) => {
        social_test!($name, |_s, _p| {}, |$app, $idp| $body);
    };
    ($name:ident, |$s:ident, $sp:ident| $configure:block, |$app:ident, $idp:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::helpers::{Backend, spawn_app_with};

            #[allow(unused_variables)]
            fn configure($s: &mut latchkey::config::Settings, $sp: &Providers) $configure

            #[allow(unused_variables)]
            async fn run($app: TestApp, $idp: Providers) $body

            async fn go(backend: Backend) {
                let idp = Providers::start().await;
                let app = spawn_app_with(backend, |s| {
                    idp.configure(s);
                    configure(s, &idp);
                })
                .await;
                match app {
                    Some(app) => run(app, idp).await,
                    None => eprintln!("skipped: LATCHKEY_TEST_POSTGRES_URL is not set"),
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                go(Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                go(Backend::Postgres).await
            }
        }
    };
}

/// The selection every social login asks for.
macro_rules! login_result {
    () => {
        "{ __typename ... on AuthPayload { accessToken refreshToken user { id email emailVerified firstName } } ... on TwoFactorRequired { userId mfaToken methods } }"
    };
}

const GOOGLE_AUTH: &str = concat!(
    "mutation($t: String!, $n: String) { google_auth(token: $t, nonce: $n) ",
    login_result!(),
    " }"
);
const APPLE_AUTH: &str = concat!(
    "mutation($t: String!, $n: String, $f: String) { apple_auth(token: $t, nonce: $n, firstName: $f) ",
    login_result!(),
    " }"
);
const X_AUTH: &str = concat!(
    "mutation($t: String!) { x_auth(token: $t) ",
    login_result!(),
    " }"
);
const GITHUB_AUTH: &str = concat!(
    "mutation($t: String!) { github_auth(token: $t) ",
    login_result!(),
    " }"
);
const START: &str = "mutation($p: OAuthProvider!, $r: String!) { oauthAuthorizationUrl(provider: $p, redirectUri: $r) { url state } }";
const CALLBACK: &str = concat!(
    "mutation($p: OAuthProvider!, $c: String!, $s: String!, $f: String) { oauthCallback(provider: $p, code: $c, state: $s, firstName: $f) ",
    login_result!(),
    " }"
);
const LINKED: &str = "{ linkedProviders { provider email linkedAt lastLoginAt } }";
const UNLINK: &str = "mutation($p: OAuthProvider!) { unlinkProvider(provider: $p) }";
const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }";
const ME: &str = "{ me { id email emailVerified firstName twoFactorEnabled } }";

// ---- helpers -------------------------------------------------------------------

/// google_auth / apple_auth with an ID token.
async fn id_login(app: &TestApp, p: Provider, token: &str, nonce: Option<&str>) -> Gql {
    match p {
        Google => {
            app.gql(GOOGLE_AUTH, json!({ "t": token, "n": nonce }))
                .await
        }
        Apple => apple_login(app, token, nonce, None).await,
        _ => panic!("{p:?} has no ID tokens"),
    }
}

async fn apple_login(app: &TestApp, token: &str, nonce: Option<&str>, first: Option<&str>) -> Gql {
    app.gql(APPLE_AUTH, json!({ "t": token, "n": nonce, "f": first }))
        .await
}

/// x_auth / github_auth with a provider access token.
async fn token_login(app: &TestApp, p: Provider, token: &str) -> Gql {
    let q = match p {
        X => X_AUTH,
        Github => GITHUB_AUTH,
        _ => panic!("{p:?} signs in with ID tokens"),
    };
    app.gql(q, json!({ "t": token })).await
}

/// `who` signs in at `p` the way an app does: an ID token (Google, Apple) or an
/// access token (X, GitHub).
async fn sign_in(app: &TestApp, idp: &Providers, p: Provider, who: &Person) -> Gql {
    match p {
        Google | Apple => {
            let token = Providers::id_token(p, &Providers::claims(p, who));
            id_login(app, p, &token, None).await
        }
        X | Github => token_login(app, p, &idp.access_token(p, who.clone())).await,
    }
}

/// The one field of a successful answer, which must be an AuthPayload.
fn payload(r: &Gql) -> Value {
    let data = r.ok().as_object().expect("data object");
    let v = data.values().next().expect("a field").clone();
    assert_eq!(v["__typename"], "AuthPayload", "{}", r.0);
    v
}

fn user_id(r: &Gql) -> String {
    payload(r)["user"]["id"].as_str().expect("id").to_owned()
}

/// `who` signs in at `p`; returns (user id, access token).
async fn signed_in(app: &TestApp, idp: &Providers, p: Provider, who: &Person) -> (String, String) {
    let v = payload(&sign_in(app, idp, p, who).await);
    (
        v["user"]["id"].as_str().expect("id").to_owned(),
        v["accessToken"].as_str().expect("access").to_owned(),
    )
}

#[track_caller]
fn refused(r: &Gql, code: &str, words: &[&str]) {
    r.expect_code(code);
    let m = r.message();
    assert!(
        words.iter().any(|w| m.contains(w)),
        "expected one of {words:?} in the message: {}",
        r.0
    );
}

async fn google_with(app: &TestApp, claims: &Value, nonce: Option<&str>) -> Gql {
    id_login(app, Google, &Providers::id_token(Google, claims), nonce).await
}

fn google_claims(sub: &str, email: &str) -> Value {
    Providers::claims(Google, &person(sub).email(email, true))
}

/// `claims` with `key` set to `value`.
fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

async fn audit_events(app: &TestApp, user_id: &str) -> Vec<(String, Option<String>)> {
    app.audit_rows(user_id)
        .await
        .into_iter()
        .map(|r| (r.event, r.detail))
        .collect()
}

async fn has_event(app: &TestApp, user_id: &str, event: &str) -> bool {
    audit_events(app, user_id)
        .await
        .iter()
        .any(|(e, _)| e == event)
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.gql_as(token, ME, json!({})).await.ok()["me"].clone()
}

async fn linked(app: &TestApp, token: &str) -> Vec<Value> {
    app.gql_as(token, LINKED, json!({})).await.ok()["linkedProviders"]
        .as_array()
        .expect("list")
        .clone()
}

fn providers_of(list: &[Value]) -> Vec<&str> {
    list.iter()
        .map(|l| l["provider"].as_str().expect("provider"))
        .collect()
}

async fn unlink(app: &TestApp, token: &str, p: Provider) -> Gql {
    app.gql_as(token, UNLINK, json!({ "p": p.gql() })).await
}

async fn new_api_key(app: &TestApp, token: &str) -> String {
    let r = app
        .gql_as(
            token,
            "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }",
            json!({ "i": { "name": "squatter's key" } }),
        )
        .await;
    r.ok()["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned()
}

async fn verify_api_key(app: &TestApp, key: &str) -> Value {
    let r = app
        .gql_with(
            "query($k: String!) { verifyApiKey(key: $k) { valid reason } }",
            json!({ "k": key }),
            &[("x-service-token", SERVICE_TOKEN)],
        )
        .await;
    r.ok()["verifyApiKey"].clone()
}

async fn register_passkey(app: &TestApp, token: &str) -> SoftAuthenticator {
    let r = app
        .gql_as(
            token,
            "mutation { generatePasskeyRegistrationChallenge { options } }",
            json!({}),
        )
        .await;
    let options = r.ok()["generatePasskeyRegistrationChallenge"]["options"].clone();
    let mut auth = SoftAuthenticator::default();
    let cred = auth.create(&options).expect("create credential");
    app.gql_as(
        token,
        "mutation($c: JSON!, $n: String!) { registerPasskey(credential: $c, device_name: $n) { id } }",
        json!({ "c": cred, "n": "laptop" }),
    )
    .await
    .ok();
    auth
}

async fn passkey_count(app: &TestApp, token: &str) -> usize {
    app.gql_as(token, "{ userPasskeys { id } }", json!({}))
        .await
        .ok()["userPasskeys"]
        .as_array()
        .expect("list")
        .len()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

async fn start_flow(app: &TestApp, p: Provider, redirect: &str) -> Gql {
    app.gql(START, json!({ "p": p.gql(), "r": redirect })).await
}

/// oauthAuthorizationUrl to REDIRECT_URI: (url, state).
async fn begin(app: &TestApp, p: Provider) -> (String, String) {
    let r = start_flow(app, p, REDIRECT_URI).await;
    let s = &r.ok()["oauthAuthorizationUrl"];
    (
        s["url"].as_str().expect("url").to_owned(),
        s["state"].as_str().expect("state").to_owned(),
    )
}

/// The browser: opens the authorization URL, the provider signs the user in and
/// redirects back; returns the (code, state) of the redirect.
async fn browse(url: &str) -> (String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = client.get(url).send().await.expect("authorize");
    let status = resp.status();
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    let Some(location) = location.filter(|_| status == reqwest::StatusCode::FOUND) else {
        panic!(
            "the provider did not redirect ({status}): {}",
            resp.text().await.unwrap_or_default()
        );
    };
    let q = query_of(&location);
    (q["code"].clone(), q["state"].clone())
}

async fn callback(app: &TestApp, p: Provider, code: &str, state: &str) -> Gql {
    app.gql(CALLBACK, json!({ "p": p.gql(), "c": code, "s": state }))
        .await
}

/// A whole web flow for whoever `next_user` named at `p`.
async fn web_flow(app: &TestApp, p: Provider) -> Gql {
    let (url, state) = begin(app, p).await;
    let (code, back) = browse(&url).await;
    assert_eq!(back, state);
    callback(app, p, &code, &state).await
}

fn s256(verifier: &str) -> String {
    B64.encode(Sha256::digest(verifier.as_bytes()))
}

async fn oauth_states(app: &TestApp) -> Vec<latchkey::entities::oauth_state::Model> {
    latchkey::entities::oauth_state::Entity::find()
        .all(&app.state.idm.db)
        .await
        .expect("oauth_states")
}

/// Sets a column of every flow in flight (tests have one at a time).
async fn tamper_states(app: &TestApp, col: latchkey::entities::oauth_state::Column, v: Value) {
    use latchkey::entities::oauth_state;
    let expr = match v {
        Value::String(s) => Expr::value(s),
        Value::Number(n) => Expr::value(n.as_i64().expect("i64")),
        other => panic!("{other}"),
    };
    oauth_state::Entity::update_many()
        .col_expr(col, expr)
        .exec(&app.state.idm.db)
        .await
        .expect("update oauth_states");
}

// ---- ID tokens -----------------------------------------------------------------

social_test!(
    a_google_id_token_signs_up_then_signs_in_the_same_user,
    |app, idp| {
        let who = person("108234567890123456789")
            .email("gina@example.com", true)
            .name("Gina");
        let token = Providers::id_token(Google, &Providers::claims(Google, &who));
        assert_eq!(jwt_part(&token, 0)["alg"], "RS256");
        let r = id_login(&app, Google, &token, None).await;
        let p = payload(&r);
        assert_eq!(p["user"]["email"], "gina@example.com");
        assert_eq!(p["user"]["emailVerified"], true);
        let id = p["user"]["id"].as_str().unwrap().to_owned();
        let access = p["accessToken"].as_str().unwrap();
        assert_eq!(jwt_part(access, 1)["amr"], json!(["fed"]));
        assert_eq!(me(&app, access).await["id"], id.as_str());
        let refreshed = app.gql(REFRESH, json!({ "t": p["refreshToken"] })).await;
        refreshed.ok();
        let events = audit_events(&app, &id).await;
        assert!(
            events
                .iter()
                .any(|(e, d)| e == "signup" && d.as_deref() == Some("google sign-in")),
            "{events:?}"
        );
        assert!(events.iter().any(|(e, _)| e == "login_ok"), "{events:?}");

        // The same subject again (a new token): the same user.
        let again = Providers::id_token(Google, &Providers::claims(Google, &who));
        assert_eq!(user_id(&id_login(&app, Google, &again, None).await), id);
        // The iOS app's client id is an accepted audience too, alone or in a list.
        let ios = Google.client_ids()[1];
        let claims = with(Providers::claims(Google, &who), "aud", json!(ios));
        assert_eq!(user_id(&google_with(&app, &claims, None).await), id);
        let claims = with(
            Providers::claims(Google, &who),
            "aud",
            json!(["someone-else", ios]),
        );
        assert_eq!(user_id(&google_with(&app, &claims, None).await), id);
        // A nonce the caller passes must be the token's.
        let claims = with(Providers::claims(Google, &who), "nonce", json!("n-123456"));
        assert_eq!(
            user_id(&google_with(&app, &claims, Some("n-123456")).await),
            id
        );

        // Five ID tokens, one JWKS fetch: the keys are cached.
        assert_eq!(idp.jwks_fetches(), 1);

        let list = linked(&app, access).await;
        assert_eq!(providers_of(&list), ["GOOGLE"]);
        assert_eq!(list[0]["email"], "gina@example.com");
        for f in ["linkedAt", "lastLoginAt"] {
            let at = list[0][f].as_str().unwrap();
            chrono::DateTime::parse_from_rfc3339(at).unwrap_or_else(|e| panic!("{f} {at}: {e}"));
        }
    }
);

social_test!(google_issuer_with_and_without_scheme, |app, _idp| {
    let who = person("g-iss").email("iss@example.com", true);
    let mut ids = Vec::new();
    for iss in ["https://accounts.google.com", "accounts.google.com"] {
        let claims = with(Providers::claims(Google, &who), "iss", json!(iss));
        ids.push(user_id(&google_with(&app, &claims, None).await));
    }
    assert_eq!(ids[0], ids[1]);
    // Not any spelling: http, another host, a look-alike.
    for iss in [
        "http://accounts.google.com",
        "https://accounts.google.com.evil.example",
        "https://evil.example",
        "",
    ] {
        let claims = with(Providers::claims(Google, &who), "iss", json!(iss));
        let r = google_with(&app, &claims, None).await;
        r.expect_code("UNAUTHENTICATED");
    }
    // Apple's issuer has one spelling.
    let apple = person("a-iss").email("apple-iss@example.com", true);
    let claims = with(
        Providers::claims(Apple, &apple),
        "iss",
        json!("appleid.apple.com"),
    );
    let r = id_login(&app, Apple, &Providers::id_token(Apple, &claims), None).await;
    r.expect_code("UNAUTHENTICATED");
    // Google's issuer is no good for Apple.
    let claims = with(
        Providers::claims(Apple, &apple),
        "iss",
        json!("https://accounts.google.com"),
    );
    let r = id_login(&app, Apple, &Providers::id_token(Apple, &claims), None).await;
    r.expect_code("UNAUTHENTICATED");
});

social_test!(
    apple_identity_token_with_a_private_relay_address,
    |app, _idp| {
        let relay = "x7k2m9q4tr@privaterelay.appleid.com";
        let who = person("001234.0a1b2c3d4e5f.1234").email(relay, true);
        let claims = Providers::claims(Apple, &who);
        // As Apple writes them: strings, not booleans.
        assert_eq!(claims["email_verified"], "true");
        assert_eq!(claims["is_private_email"], "true");
        let token = Providers::id_token(Apple, &claims);
        assert_eq!(jwt_part(&token, 0)["alg"], "ES256");
        let r = apple_login(&app, &token, None, Some("Ada")).await;
        let p = payload(&r);
        assert_eq!(p["user"]["email"], relay);
        assert_eq!(p["user"]["emailVerified"], true);
        assert_eq!(p["user"]["firstName"], "Ada");
        let id = p["user"]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            jwt_part(p["accessToken"].as_str().unwrap(), 1)["amr"],
            json!(["fed"])
        );
        // Apple sends the name on the first sign-in only; later ones keep it.
        let r = apple_login(&app, &Providers::id_token(Apple, &claims), None, None).await;
        let p = payload(&r);
        assert_eq!(p["user"]["id"], id.as_str());
        assert_eq!(p["user"]["firstName"], "Ada");
        let events = audit_events(&app, &id).await;
        assert!(
            events
                .iter()
                .any(|(e, d)| e == "signup" && d.as_deref() == Some("apple sign-in")),
            "{events:?}"
        );

        // Native apps give Apple the SHA-256 (hex) of their nonce and pass the raw one.
        let raw = "raw-nonce-0123456789";
        let hashed = hex::encode(Sha256::digest(raw.as_bytes()));
        let claims = with(Providers::claims(Apple, &who), "nonce", json!(hashed));
        let r = apple_login(&app, &Providers::id_token(Apple, &claims), Some(raw), None).await;
        assert_eq!(user_id(&r), id);
        let claims = with(Providers::claims(Apple, &who), "nonce", json!(raw));
        let r = apple_login(&app, &Providers::id_token(Apple, &claims), Some(raw), None).await;
        assert_eq!(user_id(&r), id);
        let r = apple_login(
            &app,
            &Providers::id_token(Apple, &claims),
            Some("another"),
            None,
        )
        .await;
        refused(&r, "UNAUTHENTICATED", &["nonce"]);

        // The iOS app's client id is an audience too; another app's is not.
        let ios = with(
            Providers::claims(Apple, &who),
            "aud",
            json!(Apple.client_ids()[1]),
        );
        assert_eq!(
            user_id(&apple_login(&app, &Providers::id_token(Apple, &ios), None, None).await),
            id
        );
        let other = with(Providers::claims(Apple, &who), "aud", json!("com.evil.app"));
        let r = apple_login(&app, &Providers::id_token(Apple, &other), None, None).await;
        refused(&r, "UNAUTHENTICATED", &["aud"]);

        // email_verified "false" (a string too): a new account, its email not verified.
        let unverified = person("000999.ffff.0001").email("apple-unverified@example.com", false);
        let claims = Providers::claims(Apple, &unverified);
        assert_eq!(claims["email_verified"], "false");
        let p = payload(&apple_login(&app, &Providers::id_token(Apple, &claims), None, None).await);
        assert_eq!(p["user"]["email"], "apple-unverified@example.com");
        assert_eq!(p["user"]["emailVerified"], false);
        assert_ne!(p["user"]["id"], id.as_str());
    }
);

social_test!(id_tokens_with_wrong_claims_are_refused, |app, _idp| {
    let base = || google_claims("g-claims", "claims@example.com");
    let t = now();
    let app_nonce = "nonce-of-the-app";
    let hashed = hex::encode(Sha256::digest(app_nonce.as_bytes()));
    let cases: [(&str, Value, Option<&str>, &[&str]); 8] = [
        (
            "another app's audience",
            with(base(), "aud", json!("someone-else.apps.example")),
            None,
            &["aud"],
        ),
        (
            "an audience list without us",
            with(base(), "aud", json!(["a.apps.example", "b.apps.example"])),
            None,
            &["aud"],
        ),
        (
            "another issuer",
            with(base(), "iss", json!("https://evil.example")),
            None,
            &["iss"],
        ),
        (
            "expired",
            with(with(base(), "exp", json!(t - 120)), "iat", json!(t - 3720)),
            None,
            &["expired"],
        ),
        (
            "issued in the future",
            with(with(base(), "iat", json!(t + 600)), "exp", json!(t + 4200)),
            None,
            &["iat", "future"],
        ),
        (
            "another nonce",
            with(base(), "nonce", json!("nonce-of-the-token")),
            Some("nonce-of-the-app"),
            &["nonce"],
        ),
        (
            "the SHA-256 of the nonce (only Apple's native SDKs do that)",
            with(base(), "nonce", json!(hashed)),
            Some(app_nonce),
            &["nonce"],
        ),
        (
            "no nonce where one is expected",
            base(),
            Some("nonce-of-the-app"),
            &["nonce"],
        ),
    ];
    for (what, claims, nonce, words) in cases {
        let r = google_with(&app, &claims, nonce).await;
        r.expect_code("UNAUTHENTICATED");
        assert!(
            words.iter().any(|w| r.message().contains(w)),
            "{what}: expected one of {words:?} in the message: {}",
            r.0
        );
    }
    // Missing exp / iat / sub / aud: refused.
    for claim in ["exp", "iat", "sub", "aud", "iss"] {
        let mut c = base();
        c.as_object_mut().unwrap().remove(claim);
        let r = google_with(&app, &c, None).await;
        assert_eq!(
            r.code(),
            Some("UNAUTHENTICATED"),
            "without {claim}: {}",
            r.0
        );
    }
    // The leeway is 30 s: ten seconds either way is fine.
    let r = google_with(&app, &with(base(), "exp", json!(t - 10)), None).await;
    let id = user_id(&r);
    let r = google_with(&app, &with(base(), "iat", json!(t + 10)), None).await;
    assert_eq!(user_id(&r), id);
    // Apple: the same checks (ES256 path).
    let apple = Providers::claims(
        Apple,
        &person("a-claims").email("a-claims@example.com", true),
    );
    for (what, claims) in [
        (
            "expired",
            with(
                with(apple.clone(), "exp", json!(t - 120)),
                "iat",
                json!(t - 3720),
            ),
        ),
        ("aud", with(apple.clone(), "aud", json!("com.evil.app"))),
        (
            "iss",
            with(apple.clone(), "iss", json!("https://accounts.google.com")),
        ),
    ] {
        let r = id_login(&app, Apple, &Providers::id_token(Apple, &claims), None).await;
        assert_eq!(r.code(), Some("UNAUTHENTICATED"), "{what}: {}", r.0);
    }
});

social_test!(
    id_token_signatures_and_algorithms_are_checked,
    |app, _idp| {
        let claims = google_claims("g-sig", "sig@example.com");
        let good = Providers::id_token(Google, &claims);
        let parts: Vec<&str> = good.split('.').collect();

        // alg "none", no signature.
        let none = format!(
            "{}.{}.",
            b64_json(&json!({ "alg": "none", "typ": "JWT", "kid": "rsa1" })),
            b64_json(&claims)
        );
        google_with_token(&app, &none)
            .await
            .expect_code("UNAUTHENTICATED");
        // ... and with a signature copied from a real token.
        let none_sig = format!(
            "{}.{}.{}",
            b64_json(&json!({ "alg": "none", "typ": "JWT", "kid": "rsa1" })),
            parts[1],
            parts[2]
        );
        google_with_token(&app, &none_sig)
            .await
            .expect_code("UNAUTHENTICATED");

        // HS256 "signed" with the public key, as if it were an HMAC secret.
        let pem = rsa_public_pem(Key::Rsa1);
        // (The PEM is the real public key: it verifies a real token.)
        let real = DecodingKey::from_rsa_pem(pem.as_bytes()).expect("public pem");
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[Google.client_id()]);
        jsonwebtoken::decode::<Value>(&good, &real, &v).expect("the PEM verifies rsa1 tokens");
        let n = B64.decode(Key::Rsa1.jwk()["n"].as_str().unwrap()).unwrap();
        let jwk_text = Key::Rsa1.jwk().to_string();
        let secrets: [&[u8]; 4] = [
            pem.as_bytes(),
            pem.trim_end().as_bytes(),
            &n,
            jwk_text.as_bytes(),
        ];
        for secret in secrets {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("rsa1".into());
            let token =
                jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(secret)).unwrap();
            let r = google_with_token(&app, &token).await;
            refused(&r, "UNAUTHENTICATED", &["RS256 or ES256"]);
        }

        // One character of the signature changed.
        let mut sig: Vec<char> = parts[2].chars().collect();
        sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
        let flipped = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            sig.iter().collect::<String>()
        );
        refused(
            &google_with_token(&app, &flipped).await,
            "UNAUTHENTICATED",
            &["signature"],
        );
        // The claims changed after signing (another subject).
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64_json(&with(claims.clone(), "sub", json!("someone-else"))),
            parts[2]
        );
        refused(
            &google_with_token(&app, &forged).await,
            "UNAUTHENTICATED",
            &["signature"],
        );
        // Signed with another key, under rsa1's kid.
        let other = sign(Key::Rsa2, &Key::Rsa1.header(), &claims);
        refused(
            &google_with_token(&app, &other).await,
            "UNAUTHENTICATED",
            &["signature"],
        );
        // An ES256 signature under an RSA key's kid, and RS256 under an EC key's kid.
        let mut h = Key::Ec1.header();
        h.kid = Some("rsa1".into());
        google_with_token(&app, &sign(Key::Ec1, &h, &claims))
            .await
            .expect_code("UNAUTHENTICATED");
        let mut h = Key::Rsa1.header();
        h.kid = Some("ec1".into());
        google_with_token(&app, &sign(Key::Rsa1, &h, &claims))
            .await
            .expect_code("UNAUTHENTICATED");
        // No kid.
        let mut h = Key::Rsa1.header();
        h.kid = None;
        refused(
            &google_with_token(&app, &sign(Key::Rsa1, &h, &claims)).await,
            "UNAUTHENTICATED",
            &["kid", "key"],
        );
        // Not a JWT at all.
        for junk in ["not-a-jwt", "a.b.c", &good[..good.len() / 2]] {
            google_with_token(&app, junk)
                .await
                .expect_code("UNAUTHENTICATED");
        }
        // Nothing above made an account; the genuine token does.
        let p = payload(&google_with_token(&app, &good).await);
        assert_eq!(p["user"]["email"], "sig@example.com");
    }
);

async fn google_with_token(app: &TestApp, token: &str) -> Gql {
    id_login(app, Google, token, None).await
}

social_test!(
    an_unknown_kid_is_refused_until_the_provider_publishes_it,
    |app, idp| {
        let claims = google_claims("g-kid", "kid@example.com");
        let rsa2_token = sign(Key::Rsa2, &Key::Rsa2.header(), &claims);
        let started = Instant::now();
        let r = google_with_token(&app, &rsa2_token).await;
        refused(&r, "UNAUTHENTICATED", &["kid", "key"]);
        let fetched = idp.jwks_fetches();
        assert_eq!(fetched, 1, "the first token fetches the JWKS once");

        // Google rotates rsa2 in. Within 5 s of the last fetch the server does not look again.
        idp.rotate_in_rsa2();
        let r = google_with_token(&app, &rsa2_token).await;
        if started.elapsed() < Duration::from_secs(4) {
            r.expect_code("UNAUTHENTICATED");
            assert_eq!(idp.jwks_fetches(), fetched, "refetched within 5 s");
        }

        // Once 5 s have passed, a burst of tokens with unknown kids makes one fetch, not 20.
        let wait = Duration::from_millis(5300).saturating_sub(started.elapsed());
        tokio::time::sleep(wait).await;
        let before = idp.jwks_fetches();
        let tokens: Vec<String> = (0..20)
            .map(|i| {
                let mut h = Key::Rsa1.header();
                h.kid = Some(format!("unknown-{i}"));
                sign(Key::Rsa1, &h, &claims)
            })
            .collect();
        let answers =
            futures_util::future::join_all(tokens.iter().map(|t| google_with_token(&app, t))).await;
        for r in &answers {
            refused(r, "UNAUTHENTICATED", &["kid", "key"]);
        }
        let burst = idp.jwks_fetches() - before;
        assert!(
            (1..=2).contains(&burst),
            "20 unknown kids made {burst} JWKS fetches"
        );
        // That fetch found rsa2: its tokens are accepted now, without another fetch.
        let p = payload(&google_with_token(&app, &rsa2_token).await);
        assert_eq!(p["user"]["email"], "kid@example.com");
        assert_eq!(idp.jwks_fetches() - before, burst);
        // rsa1 tokens still work (the cached set).
        let p = payload(&google_with(&app, &claims, None).await);
        assert_eq!(p["user"]["email"], "kid@example.com");
        assert_eq!(idp.jwks_fetches() - before, burst);
    }
);

// ---- the linking rule ----------------------------------------------------------

social_test!(
    one_subject_is_one_user_and_a_verified_email_links_providers,
    |app, idp| {
        let g = person("g-one").email("one@example.com", true);
        let (id, access) = signed_in(&app, &idp, Google, &g).await;
        // The same subject with another email (changed at Google): still the same user.
        let moved = person("g-one").email("moved@example.com", true);
        assert_eq!(signed_in(&app, &idp, Google, &moved).await.0, id);
        // Another provider vouching for the account's email: linked to the same user.
        let a = person("a-one").email("one@example.com", true);
        assert_eq!(signed_in(&app, &idp, Apple, &a).await.0, id);
        let gh = person("4242").github_email("one@example.com", true, true);
        assert_eq!(signed_in(&app, &idp, Github, &gh).await.0, id);
        assert_eq!(signed_in(&app, &idp, Apple, &a).await.0, id);
        let events = audit_events(&app, &id).await;
        assert_eq!(
            events.iter().filter(|(e, _)| e == "social_linked").count(),
            2,
            "{events:?}"
        );
        let mut list = providers_of(&linked(&app, &access).await)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        list.sort();
        assert_eq!(list, ["APPLE", "GITHUB", "GOOGLE"]);
        // The account's email is still the one it was made with.
        assert_eq!(me(&app, &access).await["email"], "one@example.com");
    }
);

social_test!(
    a_verified_provider_email_links_to_a_verified_password_account,
    |app, idp| {
        let t = app.signup_verified("owner@example.com").await;
        let who = person("g-owner").email("owner@example.com", true);
        let (id, access) = signed_in(&app, &idp, Google, &who).await;
        assert_eq!(id, t.user_id);
        assert!(has_event(&app, &id, "social_linked").await);
        assert!(!has_event(&app, &id, "social_account_claimed").await);
        // Linking takes nothing away: the password and the old session still work.
        app.login_tokens("owner@example.com", PASSWORD).await;
        app.me(&t.access).await.ok();
        assert_eq!(me(&app, &access).await["emailVerified"], true);
    }
);

social_test!(
    an_email_the_provider_does_not_verify_never_links,
    |app, idp| {
        let unverified = app.signup("taken@example.com").await;
        let verified = app.signup_verified("verified@example.com").await;
        for (i, email) in ["taken@example.com", "verified@example.com"]
            .into_iter()
            .enumerate()
        {
            let g = person(&format!("g-unv-{i}")).email(email, false);
            sign_in(&app, &idp, Google, &g)
                .await
                .expect_code("CONFLICT");
            let a = person(&format!("a-unv-{i}")).email(email, false);
            sign_in(&app, &idp, Apple, &a).await.expect_code("CONFLICT");
            // An ID token with the email but no email_verified claim at all.
            let mut claims =
                Providers::claims(Google, &person(&format!("g-unv-b{i}")).email(email, true));
            claims.as_object_mut().unwrap().remove("email_verified");
            google_with(&app, &claims, None)
                .await
                .expect_code("CONFLICT");
        }
        // Both accounts are untouched.
        for (t, email, v) in [
            (&unverified, "taken@example.com", false),
            (&verified, "verified@example.com", true),
        ] {
            let m = me(&app, &t.access).await;
            assert_eq!(m["emailVerified"], v);
            assert_eq!(app.login_tokens(email, PASSWORD).await.user_id, t.user_id);
            assert!(!has_event(&app, &t.user_id, "social_account_claimed").await);
            assert!(!has_event(&app, &t.user_id, "social_linked").await);
            assert!(linked(&app, &t.access).await.is_empty());
        }
        // No account has it: a new account, its email not verified.
        let fresh = person("g-fresh").email("fresh@example.com", false);
        let p = payload(&sign_in(&app, &idp, Google, &fresh).await);
        assert_eq!(p["user"]["email"], "fresh@example.com");
        assert_eq!(p["user"]["emailVerified"], false);
        assert_ne!(p["user"]["id"], unverified.user_id.as_str());
        assert_ne!(p["user"]["id"], verified.user_id.as_str());
    }
);

social_test!(
    a_verified_provider_email_takes_over_an_account_nobody_verified,
    |app, idp| {
        // Someone signs up with the victim's address (never verified) and arms the
        // account as far as it can be: an API key and a session. Two-factor and
        // passkeys need a proven mailbox, so they cannot be planted.
        let squatter = app.signup("victim@example.com").await;
        let key = new_api_key(&app, &squatter.access).await;
        for q in [
            "mutation { generate_2fa { secret } }",
            "mutation { generatePasskeyRegistrationChallenge { options } }",
        ] {
            app.gql_as(&squatter.access, q, json!({}))
                .await
                .expect_code("FORBIDDEN");
        }
        assert_eq!(verify_api_key(&app, &key).await["valid"], true);
        assert_eq!(me(&app, &squatter.access).await["emailVerified"], false);

        // The owner signs in with Google, which vouches for the address.
        let owner = person("g-victim").email("victim@example.com", true);
        let r = sign_in(&app, &idp, Google, &owner).await;
        // An AuthPayload, not TwoFactorRequired: the squatter's second factor is gone.
        let p = payload(&r);
        assert_eq!(p["user"]["id"], squatter.user_id.as_str(), "same account");
        assert_eq!(p["user"]["emailVerified"], true);
        let access = p["accessToken"].as_str().unwrap().to_owned();
        let m = me(&app, &access).await;
        assert_eq!(m["emailVerified"], true);
        assert_eq!(m["twoFactorEnabled"], false);

        // Every way the squatter had in is closed.
        app.login("victim@example.com", PASSWORD)
            .await
            .expect_code("UNAUTHENTICATED");
        app.gql(REFRESH, json!({ "t": squatter.refresh }))
            .await
            .expect_code("UNAUTHENTICATED");
        app.me(&squatter.access)
            .await
            .expect_code("UNAUTHENTICATED");
        let v = verify_api_key(&app, &key).await;
        assert_eq!(v["valid"], false, "{v}");
        assert_eq!(v["reason"], "REVOKED", "{v}");
        app.gql_with("{ me { id } }", json!({}), &[("x-api-key", &key)])
            .await
            .expect_code("UNAUTHENTICATED");
        assert_eq!(passkey_count(&app, &access).await, 0);

        // The owner's session works, and the record says what happened.
        assert_eq!(providers_of(&linked(&app, &access).await), ["GOOGLE"]);
        assert!(has_event(&app, &squatter.user_id, "social_account_claimed").await);
        // Signing in again is plain sign-in.
        let again = sign_in(&app, &idp, Google, &owner).await;
        assert_eq!(user_id(&again), squatter.user_id);
    }
);

social_test!(x_shares_no_email, |app, idp| {
    let who = person("1445923456789012").name("Xavier");
    let p = payload(&sign_in(&app, &idp, X, &who).await);
    assert_eq!(p["user"]["email"], Value::Null);
    assert_eq!(p["user"]["emailVerified"], false);
    let id = p["user"]["id"].as_str().unwrap().to_owned();
    let access = p["accessToken"].as_str().unwrap();
    assert_eq!(jwt_part(access, 1)["amr"], json!(["fed"]));
    assert_eq!(me(&app, access).await["email"], Value::Null);
    assert!(
        audit_events(&app, &id)
            .await
            .iter()
            .any(|(e, d)| e == "signup" && d.as_deref() == Some("x sign-in"))
    );
    // Again, with another token: the same user. Someone else: another user.
    assert_eq!(signed_in(&app, &idp, X, &who).await.0, id);
    let other = person("99").name("Yolanda");
    assert_ne!(signed_in(&app, &idp, X, &other).await.0, id);
    let list = linked(&app, access).await;
    assert_eq!(providers_of(&list), ["X"]);
    assert_eq!(list[0]["email"], Value::Null);
});

social_test!(github_uses_the_primary_verified_email, |app, idp| {
    // The primary verified address, not a verified secondary nor an unverified one.
    let who = person("5001")
        .github_email("old@example.com", false, true)
        .github_email("main@example.com", true, true)
        .github_email("spare@example.com", false, false);
    let p = payload(&sign_in(&app, &idp, Github, &who).await);
    assert_eq!(p["user"]["email"], "main@example.com");
    assert_eq!(p["user"]["emailVerified"], true);
    let first = p["user"]["id"].as_str().unwrap().to_owned();
    assert!(
        audit_events(&app, &first)
            .await
            .iter()
            .any(|(e, d)| e == "signup" && d.as_deref() == Some("github sign-in"))
    );

    // An unverified primary next to a verified secondary: no verified email, so it
    // does not link to the account that has the secondary address.
    let side = app.signup_verified("side@example.com").await;
    let who = person("5002")
        .github_email("unverified@example.com", true, false)
        .github_email("side@example.com", false, true);
    let p = payload(&sign_in(&app, &idp, Github, &who).await);
    assert_ne!(p["user"]["id"], side.user_id.as_str());
    assert_ne!(p["user"]["email"], "side@example.com");
    assert_eq!(p["user"]["emailVerified"], false);
    assert!(linked(&app, &side.access).await.is_empty());
    app.login_tokens("side@example.com", PASSWORD).await;

    // A primary verified address that an account has: linked.
    let who = person("5003").github_email("side@example.com", true, true);
    assert_eq!(signed_in(&app, &idp, Github, &who).await.0, side.user_id);
});

social_test!(
    provider_tokens_the_provider_refuses_are_unauthenticated,
    |app, idp| {
        for p in [X, Github] {
            let r = token_login(&app, p, "not-a-token-the-provider-knows").await;
            r.expect_code("UNAUTHENTICATED");
        }
        // A GitHub token is not an X token, nor the reverse.
        let gh = idp.access_token(Github, person("77"));
        token_login(&app, X, &gh)
            .await
            .expect_code("UNAUTHENTICATED");
        let x = idp.access_token(X, person("78"));
        token_login(&app, Github, &x)
            .await
            .expect_code("UNAUTHENTICATED");
        // Token substitution: a token some other GitHub app obtained for a user (whose
        // verified email has an account here) works at GitHub's user API, but GitHub's
        // application check says it is not this app's: refused, nothing linked.
        app.signup("gh-victim@example.com").await;
        let foreign = idp.foreign_access_token(
            Github,
            person("79").github_email("gh-victim@example.com", true, true),
        );
        let r = token_login(&app, Github, &foreign).await;
        r.expect_code("UNAUTHENTICATED");
        assert!(r.message().contains("this app"), "{}", r.message());
        app.login_tokens("gh-victim@example.com", crate::helpers::PASSWORD)
            .await;
    }
);

/// The provider's name as a word of the message.
fn names(message: &str, provider: &str) -> bool {
    message
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w == provider)
}

social_test!(a_provider_that_is_down_is_an_internal_error, |app, idp| {
    // Answering 503.
    idp.break_api(X);
    idp.break_api(Github);
    for (p, name) in [(X, "X"), (Github, "GitHub")] {
        let r = sign_in(&app, &idp, p, &person("31337")).await;
        r.expect_code("INTERNAL_SERVER_ERROR");
        assert!(names(r.message(), name), "{}", r.0);
    }
    // Not answering at all.
    let port = closed_port();
    let mut settings = (*app.state.idm.settings).clone();
    settings.oauth.x.userinfo_url = format!("http://127.0.0.1:{port}/2/users/me");
    settings.oauth.github.api_url = format!("http://127.0.0.1:{port}");
    let down = app.sibling_with(settings).await;
    for (p, name) in [(X, "X"), (Github, "GitHub")] {
        let r = sign_in(&down, &idp, p, &person("31338")).await;
        r.expect_code("INTERNAL_SERVER_ERROR");
        assert!(names(r.message(), name), "{}", r.0);
    }
});

social_test!(
    a_provider_without_a_client_id_is_off,
    |s, _p| {
        s.oauth.google.client_id = String::new();
        s.oauth.apple.client_id = String::new();
        s.oauth.x.client_id = String::new();
        s.oauth.github.client_id = String::new();
    },
    |app, idp| {
        for p in Provider::ALL {
            let expected = format!("{} sign-in is not configured", p.as_str());
            let who = person("12345").email("off@example.com", true);
            let r = sign_in(&app, &idp, p, &who).await;
            r.expect_code("BAD_USER_INPUT");
            assert_eq!(r.message(), expected);
            let r = start_flow(&app, p, REDIRECT_URI).await;
            r.expect_code("BAD_USER_INPUT");
            assert_eq!(r.message(), expected);
            callback(&app, p, "some-code", "some-state")
                .await
                .expect_code("BAD_USER_INPUT");
        }
        assert_eq!(idp.jwks_fetches(), 0);
    }
);

social_test!(a_user_with_two_factor_gets_the_second_step, |app, idp| {
    // with_2fa verifies the email (two-factor needs it), so Google links to the
    // account and does not take it over.
    let (t, _secret, codes) = with_2fa(&app, "tf@example.com").await;
    let who = person("g-tf").email("tf@example.com", true);
    let r = sign_in(&app, &idp, Google, &who).await;
    let step = r.ok()["google_auth"].clone();
    assert_eq!(step["__typename"], "TwoFactorRequired", "{step}");
    assert_eq!(step["userId"], t.user_id.as_str());
    assert!(
        step["methods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "totp"),
        "{step}"
    );
    let r = app
        .gql(
            "mutation($u: ID!, $t: String!, $m: String) { verify_2fa_code(user_id: $u, token: $t, mfa_token: $m) { accessToken user { id } } }",
            json!({ "u": step["userId"], "t": codes[0], "m": step["mfaToken"] }),
        )
        .await;
    assert_eq!(r.ok()["verify_2fa_code"]["user"]["id"], t.user_id.as_str());
    // The token says what happened: federated, then a recovery code.
    let access = r.ok()["verify_2fa_code"]["accessToken"].as_str().unwrap();
    assert_eq!(jwt_part(access, 1)["amr"], json!(["fed", "rc", "mfa"]));
    // Again: the identity is linked now, and the second factor is still asked for.
    let r = sign_in(&app, &idp, Google, &who).await;
    assert_eq!(r.ok()["google_auth"]["__typename"], "TwoFactorRequired");
});

social_test!(a_deactivated_user_cannot_sign_in_socially, |app, idp| {
    let admin = app.signup("chief@example.com").await;
    app.make_admin("chief@example.com").await;
    let who = person("g-gone").email("gone@example.com", true);
    let (id, _) = signed_in(&app, &idp, Google, &who).await;
    app.gql_as(
        &admin.access,
        "mutation($u: ID!, $a: Boolean!) { setUserActive(userId: $u, active: $a) { id } }",
        json!({ "u": id, "a": false }),
    )
    .await
    .ok();
    sign_in(&app, &idp, Google, &who)
        .await
        .expect_code("FORBIDDEN");
});

// ---- linked providers ----------------------------------------------------------

social_test!(linked_providers_and_unlinking, |app, idp| {
    app.gql(LINKED, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql(UNLINK, json!({ "p": "GOOGLE" }))
        .await
        .expect_code("UNAUTHENTICATED");

    // A Google-only account: Google is its only way in.
    let g = person("g-solo").email("solo@example.com", true);
    let (id, access) = signed_in(&app, &idp, Google, &g).await;
    unlink(&app, &access, Apple).await.expect_code("NOT_FOUND");
    unlink(&app, &access, Google)
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(providers_of(&linked(&app, &access).await), ["GOOGLE"]);
    // With Apple linked too, Google may go.
    let a = person("a-solo").email("solo@example.com", true);
    assert_eq!(signed_in(&app, &idp, Apple, &a).await.0, id);
    let mut both = providers_of(&linked(&app, &access).await)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    both.sort();
    assert_eq!(both, ["APPLE", "GOOGLE"]);
    assert_eq!(
        unlink(&app, &access, Google).await.ok()["unlinkProvider"],
        true
    );
    assert_eq!(providers_of(&linked(&app, &access).await), ["APPLE"]);
    assert!(has_event(&app, &id, "social_unlinked").await);
    unlink(&app, &access, Google).await.expect_code("NOT_FOUND");
    unlink(&app, &access, Apple)
        .await
        .expect_code("BAD_USER_INPUT");

    // A password account may unlink its only provider.
    let t = app.signup_verified("pw@example.com").await;
    let g = person("g-pw").email("pw@example.com", true);
    assert_eq!(signed_in(&app, &idp, Google, &g).await.0, t.user_id);
    assert_eq!(
        unlink(&app, &t.access, Google).await.ok()["unlinkProvider"],
        true
    );
    assert!(linked(&app, &t.access).await.is_empty());
    app.login_tokens("pw@example.com", PASSWORD).await;

    // So may an account with a passkey.
    let g = person("g-pk").email("pk-social@example.com", true);
    let (_, access) = signed_in(&app, &idp, Google, &g).await;
    register_passkey(&app, &access).await;
    assert_eq!(
        unlink(&app, &access, Google).await.ok()["unlinkProvider"],
        true
    );
    assert!(linked(&app, &access).await.is_empty());
    // And that passkey is now the only way in: it cannot be deleted.
    let list = app
        .gql_as(&access, "{ userPasskeys { id } }", json!({}))
        .await;
    let id = list.ok()["userPasskeys"][0]["id"].clone();
    let r = app
        .gql_as(
            &access,
            "mutation($i: ID!) { deletePasskey(id: $i) }",
            json!({ "i": id }),
        )
        .await;
    r.expect_code("BAD_USER_INPUT");
    assert!(
        r.message().contains("only way to sign in"),
        "{}",
        r.message()
    );

    // Each user sees their own providers only.
    let x = person("1234567").name("Xena");
    let (_, x_access) = signed_in(&app, &idp, X, &x).await;
    assert_eq!(providers_of(&linked(&app, &x_access).await), ["X"]);
    unlink(&app, &x_access, Google)
        .await
        .expect_code("NOT_FOUND");
});

// ---- the web flow --------------------------------------------------------------

social_test!(google_web_flow_round_trip, |app, idp| {
    idp.next_user(
        Google,
        person("g-web").email("web@example.com", true).name("Wendy"),
    );
    let (url, state) = begin(&app, Google).await;
    assert!(url.starts_with(&idp.url("/google/authorize?")), "{url}");
    let q = query_of(&url);
    assert_eq!(q["response_type"], "code");
    assert!(
        Google.client_ids().contains(&q["client_id"].as_str()),
        "{q:?}"
    );
    assert_eq!(q["redirect_uri"], REDIRECT_URI);
    assert_eq!(q["state"], state);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43, "{q:?}");
    let scopes: Vec<&str> = q["scope"].split(' ').collect();
    assert!(
        scopes.contains(&"openid") && scopes.contains(&"email"),
        "{q:?}"
    );
    assert!(q["nonce"].len() >= 16, "{q:?}");
    assert!(state.len() >= 16);
    // What the server keeps: a hash of the state, the verifier of the challenge.
    let rows = oauth_states(&app).await;
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].state_hash, state, "the state is stored hashed");
    assert_eq!(rows[0].provider, "google");
    assert_eq!(rows[0].redirect_uri, REDIRECT_URI);
    assert_eq!(s256(&rows[0].pkce_verifier), q["code_challenge"]);
    assert_eq!(rows[0].nonce, q["nonce"]);

    let (code, back) = browse(&url).await;
    assert_eq!(back, state);
    let seen = idp.authorizations();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].provider, Google);
    assert_eq!(seen[0].params, q, "the provider got the URL's parameters");
    let r = callback(&app, Google, &code, &state).await;
    let p = payload(&r);
    assert_eq!(p["user"]["email"], "web@example.com");
    assert_eq!(p["user"]["emailVerified"], true);
    assert_eq!(
        jwt_part(p["accessToken"].as_str().unwrap(), 1)["amr"],
        json!(["fed"])
    );
    // The code exchange the provider saw.
    let reqs = idp.token_requests();
    assert_eq!(reqs.len(), 1);
    let f = &reqs[0].form;
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], code);
    assert_eq!(f["redirect_uri"], REDIRECT_URI);
    assert_eq!(s256(&f["code_verifier"]), q["code_challenge"]);

    // The state is single use.
    callback(&app, Google, &code, &state)
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(oauth_states(&app).await.len(), 0);

    // An ID token whose nonce is not the one of the authorization URL: refused.
    idp.tamper_id_token_nonce("not-the-nonce-of-this-flow");
    let r = web_flow(&app, Google).await;
    refused(&r, "UNAUTHENTICATED", &["nonce"]);

    // Another allowed redirect URI goes through to the provider and back as it is.
    let r = start_flow(&app, Google, OTHER_REDIRECT_URI).await;
    let url = r.ok()["oauthAuthorizationUrl"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(query_of(&url)["redirect_uri"], OTHER_REDIRECT_URI);
});

social_test!(apple_web_flow_sends_a_client_secret_jwt, |app, idp| {
    let relay = "webrelay01@privaterelay.appleid.com";
    idp.next_user(Apple, person("001111.aaaa.0001").email(relay, true));
    let (url, state) = begin(&app, Apple).await;
    let q = query_of(&url);
    assert!(url.starts_with(&idp.url("/apple/authorize?")), "{url}");
    assert_eq!(q["response_type"], "code");
    assert!(
        Apple.client_ids().contains(&q["client_id"].as_str()),
        "{q:?}"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["nonce"].len() >= 16, "{q:?}");
    let (code, _) = browse(&url).await;
    // Apple posts the name to the redirect page on the first sign-in only; the page
    // passes it on.
    let r = app
        .gql(
            CALLBACK,
            json!({ "p": Apple.gql(), "c": code, "s": state, "f": "Ada" }),
        )
        .await;
    let p = payload(&r);
    assert_eq!(p["user"]["firstName"], "Ada");
    assert_eq!(p["user"]["email"], relay);
    assert_eq!(p["user"]["emailVerified"], true);
    // The stand-in verified the client secret; here is what it was.
    let reqs = idp.token_requests();
    assert_eq!(reqs.len(), 1);
    assert!(!reqs[0].basic_auth, "Apple takes the client in the body");
    let f = &reqs[0].form;
    assert_eq!(f["client_id"], q["client_id"]);
    let secret = &f["client_secret"];
    let h = jwt_part(secret, 0);
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["kid"], crate::providers::APPLE_KEY_ID);
    let c = jwt_part(secret, 1);
    assert_eq!(c["iss"], crate::providers::APPLE_TEAM_ID);
    assert_eq!(c["sub"], q["client_id"]);
    assert_eq!(c["aud"], "https://appleid.apple.com");
    assert!(c["exp"].as_i64().unwrap() > now());
});

social_test!(x_and_github_web_flows_use_the_access_token, |app, idp| {
    idp.next_user(X, person("20001").name("Xia"));
    idp.next_user(
        Github,
        person("20002").github_email("octo@example.com", true, true),
    );
    for p in [X, Github] {
        let (url, state) = begin(&app, p).await;
        let q = query_of(&url);
        assert!(
            url.starts_with(&idp.url(&format!("/{}/authorize?", p.as_str()))),
            "{url}"
        );
        assert_eq!(q["client_id"], p.client_id());
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(!q["scope"].is_empty(), "{q:?}");
        let (code, _) = browse(&url).await;
        let r = callback(&app, p, &code, &state).await;
        let user = payload(&r)["user"].clone();
        match p {
            X => assert_eq!(user["email"], Value::Null),
            _ => {
                assert_eq!(user["email"], "octo@example.com");
                assert_eq!(user["emailVerified"], true);
            }
        }
    }
    let reqs = idp.token_requests();
    let seen: Vec<Provider> = reqs.iter().map(|r| r.provider).collect();
    assert_eq!(seen, [X, Github]);
    for r in &reqs {
        assert_eq!(r.form["grant_type"], "authorization_code");
        assert_eq!(r.form["redirect_uri"], REDIRECT_URI);
    }
});

social_test!(
    the_callback_refuses_unknown_reused_expired_and_crossed_states,
    |app, idp| {
        use latchkey::entities::oauth_state::Column;
        idp.next_user(Google, person("g-states").email("states@example.com", true));
        idp.next_user(
            Github,
            person("30003").github_email("gh-states@example.com", true, true),
        );

        let (url, state) = begin(&app, Google).await;
        let (code, _) = browse(&url).await;
        // A state the server never made.
        for bad in ["made-up-state", "", &state[..state.len() - 1]] {
            callback(&app, Google, &code, bad)
                .await
                .expect_code("BAD_USER_INPUT");
        }
        // A state made for Google, used with GitHub.
        callback(&app, Github, &code, &state)
            .await
            .expect_code("BAD_USER_INPUT");
        assert!(
            idp.token_requests().is_empty(),
            "no code exchange for a bad state"
        );

        // An expired state.
        let (url, state) = begin(&app, Google).await;
        let (code, _) = browse(&url).await;
        tamper_states(&app, Column::ExpiresAt, json!(0)).await;
        callback(&app, Google, &code, &state)
            .await
            .expect_code("BAD_USER_INPUT");
        assert!(idp.token_requests().is_empty());

        // A good one works once.
        let (url, state) = begin(&app, Github).await;
        let (code, _) = browse(&url).await;
        payload(&callback(&app, Github, &code, &state).await);
        callback(&app, Github, &code, &state)
            .await
            .expect_code("BAD_USER_INPUT");
        assert_eq!(idp.token_requests().len(), 1);
    }
);

social_test!(
    a_code_or_verifier_the_provider_refuses_is_unauthenticated,
    |app, idp| {
        use latchkey::entities::oauth_state::Column;
        idp.next_user(Google, person("g-grant").email("grant@example.com", true));
        // A code the provider never issued (invalid_grant).
        let (url, state) = begin(&app, Google).await;
        browse(&url).await;
        callback(&app, Google, "forged-code", &state)
            .await
            .expect_code("UNAUTHENTICATED");
        // The right code, but not the verifier of the challenge.
        let (url, state) = begin(&app, Google).await;
        let (code, _) = browse(&url).await;
        let wrong = "W".repeat(64);
        tamper_states(&app, Column::PkceVerifier, json!(wrong)).await;
        callback(&app, Google, &code, &state)
            .await
            .expect_code("UNAUTHENTICATED");
        let last = idp.token_requests().last().cloned().unwrap();
        assert_eq!(last.form["code_verifier"], wrong);
        assert_eq!(last.form["code"], code);
        // No account was made.
        let users = latchkey::entities::user::Entity::find()
            .count(&app.state.idm.db)
            .await
            .unwrap();
        assert_eq!(users, 0);
    }
);

social_test!(the_redirect_uri_must_be_allowed_exactly, |app, _idp| {
    for bad in [
        "https://evil.example/oauth/callback",
        "https://app.example.com/oauth/callback/",
        "https://app.example.com/oauth/callback?next=/admin",
        "https://app.example.com/oauth/callbackx",
        "https://app.example.com/oauth/callback#x",
        "https://app.example.com@evil.example/oauth/callback",
        "http://app.example.com/oauth/callback",
        "",
    ] {
        for p in Provider::ALL {
            let r = start_flow(&app, p, bad).await;
            assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{p:?} {bad}: {}", r.0);
        }
    }
    assert!(oauth_states(&app).await.is_empty());
    for p in Provider::ALL {
        start_flow(&app, p, OTHER_REDIRECT_URI).await.ok();
    }
});

social_test!(
    concurrent_first_sign_ins_of_one_subject_make_one_user,
    |app, _idp| {
        // Twenty first sign-ins at once (the core, straight after the token check) race
        // to create the account and its identity; the losers' unique violations are
        // retried and find the winner's rows.
        use latchkey::idm::social::{Provider as Core, ProviderIdentity};
        let runs = (0..20).map(|_| {
            let idm = app.state.idm.clone();
            tokio::spawn(async move {
                let who = ProviderIdentity {
                    provider: Core::Google,
                    subject: "g-race".into(),
                    email: Some("race@example.com".into()),
                    email_verified: true,
                    first_name: None,
                };
                let step = idm
                    .social_login(who, &Default::default(), latchkey::clock::now())
                    .await;
                match step {
                    Ok(latchkey::idm::accounts::LoginStep::Tokens(t)) => Ok(t.user.id),
                    Ok(_) => Err("second factor".to_owned()),
                    Err(e) => Err(e.to_string()),
                }
            })
        });
        let answers = futures_util::future::join_all(runs).await;
        let ids: std::collections::HashSet<String> = answers
            .into_iter()
            .map(|a| a.expect("task").expect("every sign-in succeeds"))
            .collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
    }
);

const LINK: &str = "mutation($p: OAuthProvider!, $c: String!, $s: String!) { linkProvider(provider: $p, code: $c, state: $s) { provider email } }";

/// The web flow, started by the holder of `token` (None: anonymously), up to the
/// provider's redirect, for whoever `who` is at `p`: (code, state).
async fn provider_redirect(
    app: &TestApp,
    idp: &Providers,
    p: Provider,
    who: Person,
    token: Option<&str>,
) -> (String, String) {
    idp.next_user(p, who);
    let (url, state) = match token {
        None => begin(app, p).await,
        Some(t) => {
            let r = app
                .gql_as(t, START, json!({ "p": p.gql(), "r": REDIRECT_URI }))
                .await;
            let s = &r.ok()["oauthAuthorizationUrl"];
            (
                s["url"].as_str().expect("url").to_owned(),
                s["state"].as_str().expect("state").to_owned(),
            )
        }
    };
    let (code, back) = browse(&url).await;
    assert_eq!(back, state);
    (code, state)
}

social_test!(
    a_signed_in_user_links_another_provider_through_the_web_flow,
    |app, idp| {
        // A squatter on an address nobody proved links nothing: the provider would open
        // the account once its owner verified the email (review finding).
        let squatter = app.signup("victim@example.com").await;
        let (code, state) = provider_redirect(
            &app,
            &idp,
            X,
            person("x-squat").name("Sq"),
            Some(&squatter.access),
        )
        .await;
        let r = app
            .gql_as(
                &squatter.access,
                LINK,
                json!({ "p": "X", "c": code, "s": state }),
            )
            .await;
        refused(&r, "FORBIDDEN", &["Verify your email"]);
        assert!(linked(&app, &squatter.access).await.is_empty());

        let me = app.signup_verified("linker@example.com").await;
        let gh = || person("777001").github_email("elsewhere@example.com", true, true);
        // A flow someone else started (a code and state planted on me), or nobody
        // signed in started, does not link.
        let attacker = app.signup_verified("planter@example.com").await;
        for starter in [Some(attacker.access.as_str()), None] {
            let (code, state) = provider_redirect(&app, &idp, Github, gh(), starter).await;
            let r = app
                .gql_as(
                    &me.access,
                    LINK,
                    json!({ "p": "GITHUB", "c": code, "s": state }),
                )
                .await;
            refused(&r, "BAD_USER_INPUT", &["not started by this account"]);
        }
        assert!(linked(&app, &me.access).await.is_empty());
        let (code, state) = provider_redirect(&app, &idp, Github, gh(), Some(&me.access)).await;
        let r = app
            .gql_as(
                &me.access,
                LINK,
                json!({ "p": "GITHUB", "c": code, "s": state }),
            )
            .await;
        assert_eq!(
            providers_of(r.ok()["linkProvider"].as_array().unwrap()),
            ["GITHUB"]
        );
        // The state was spent: a replay is refused.
        let r = app
            .gql_as(
                &me.access,
                LINK,
                json!({ "p": "GITHUB", "c": code, "s": state }),
            )
            .await;
        refused(&r, "BAD_USER_INPUT", &["state"]);
        // Signing in with that GitHub account now opens this account (not a new one).
        assert_eq!(signed_in(&app, &idp, Github, &gh()).await.0, me.user_id);
        let events = audit_events(&app, &me.user_id).await;
        assert!(
            events.iter().any(|(e, _)| e == "social_linked"),
            "{events:?}"
        );
        // Another user cannot take it, nor link a second GitHub account to this one.
        let other = app.signup_verified("other-linker@example.com").await;
        let (code, state) = provider_redirect(&app, &idp, Github, gh(), Some(&other.access)).await;
        let r = app
            .gql_as(
                &other.access,
                LINK,
                json!({ "p": "GITHUB", "c": code, "s": state }),
            )
            .await;
        refused(&r, "CONFLICT", &["another account"]);
        let (code, state) = provider_redirect(
            &app,
            &idp,
            Github,
            person("777002").github_email("x@example.com", true, true),
            Some(&me.access),
        )
        .await;
        let r = app
            .gql_as(
                &me.access,
                LINK,
                json!({ "p": "GITHUB", "c": code, "s": state }),
            )
            .await;
        refused(&r, "CONFLICT", &["unlink it first"]);
        // Not with an API key (no sign-in behind it), not signed out.
        let key = new_api_key(&app, &me.access).await;
        let (code, state) = provider_redirect(
            &app,
            &idp,
            Google,
            person("g-linker").email("linker@example.com", true),
            Some(&me.access),
        )
        .await;
        let vars = json!({ "p": "GOOGLE", "c": code, "s": state });
        app.gql_with(LINK, vars.clone(), &[("x-api-key", &key)])
            .await
            .expect_code("FORBIDDEN");
        app.gql(LINK, vars).await.expect_code("UNAUTHENTICATED");
    }
);
