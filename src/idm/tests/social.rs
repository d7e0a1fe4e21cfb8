//! Google and Apple ID tokens on the fixed clock: `exp`, `iat` and `nbf` against `now`
//! with `LEEWAY_SECS` at their exact edges, and the `aud`, `azp`, `iss`, `nonce`, `sub`,
//! algorithm and key checks. Tokens are signed with P-256 keys made here; the JWKS is
//! served by a local HTTP server the provider settings point at.
use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::SecretKey;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::idm::error::Error;
use crate::idm::social::Provider;
use crate::idm::social::id_tokens::LEEWAY_SECS;

const GOOGLE_ISS: &str = "https://accounts.google.com";
const APPLE_ISS: &str = "https://appleid.apple.com";
const WEB: &str = "web.apps.example";
const IOS: &str = "ios.apps.example";
const APPLE_APP: &str = "com.example.web";
const NONCE: &str = "n-0S6_WzA2Mj";

/// The provider's side: its signing key (published as `k1`), a key it does not use for
/// `k1` (published as `k2`), and the core configured with its JWKS.
struct Idp {
    f: Fixture,
    k1: EncodingKey,
    k2: EncodingKey,
}

fn jwk(key: &SecretKey, kid: &str, alg: &str) -> Value {
    let point = p256::EncodedPoint::from(key.public_key());
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": B64.encode(point.x().expect("x")),
        "y": B64.encode(point.y().expect("y")),
        "kid": kid,
        "alg": alg,
        "use": "sig",
    })
}

fn encoding(key: &SecretKey) -> EncodingKey {
    let pem = key.to_pkcs8_pem(LineEnding::LF).expect("pem");
    EncodingKey::from_ec_pem(pem.as_bytes()).expect("encoding key")
}

async fn provider() -> Idp {
    let k1 = SecretKey::random(&mut rand::rngs::OsRng);
    let k2 = SecretKey::random(&mut rand::rngs::OsRng);
    let k3 = SecretKey::random(&mut rand::rngs::OsRng);
    // k3 is an EC key that claims to be for RS256.
    let jwks = json!({ "keys": [jwk(&k1, "k1", "ES256"), jwk(&k2, "k2", "ES256"), jwk(&k3, "k3", "RS256")] });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let f = fixture_with(|s| {
        s.oauth.google.client_id = format!("{WEB}, {IOS}");
        s.oauth.google.issuer = GOOGLE_ISS.into();
        s.oauth.google.jwks_url = url.clone();
        s.oauth.apple.client_id = APPLE_APP.into();
        s.oauth.apple.issuer = APPLE_ISS.into();
        s.oauth.apple.jwks_url = url;
    })
    .await;
    Idp {
        f,
        k1: encoding(&k1),
        k2: encoding(&k2),
    }
}

fn header(kid: Option<&str>) -> Header {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = kid.map(str::to_owned);
    h
}

/// A Google ID token issued at `now`, valid for an hour, for the web client.
fn google_claims(now: i64) -> Value {
    json!({
        "iss": GOOGLE_ISS,
        "aud": WEB,
        "sub": "110169484474386276334",
        "exp": now + 3600,
        "iat": now,
        "email": "alice@example.com",
        "email_verified": true,
        "nonce": NONCE,
        "given_name": "Alice",
    })
}

fn apple_claims(now: i64) -> Value {
    json!({
        "iss": APPLE_ISS,
        "aud": APPLE_APP,
        "sub": "001234.abcdef.0042",
        "exp": now + 600,
        "iat": now,
        "email": "alice@privaterelay.appleid.com",
        "email_verified": "true",
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().expect("object") {
        if v.is_null() {
            claims.as_object_mut().expect("object").remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

impl Idp {
    fn sign(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&header(Some("k1")), claims, &self.k1).expect("sign")
    }

    async fn verify(
        &self,
        p: Provider,
        token: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<crate::idm::social::ProviderIdentity, Error> {
        self.f.verify_id_token(p, token, nonce, now).await
    }

    /// Verifies Google `claims` (signed with k1) at `now`, with our nonce.
    async fn google(&self, claims: &Value, now: i64) -> Result<String, Error> {
        self.verify(Provider::Google, &self.sign(claims), Some(NONCE), now)
            .await
            .map(|id| id.subject)
    }
}

/// A refusal whose message names `why`.
fn refused(r: Result<String, Error>, why: &str) {
    match r {
        Err(Error::Unauthenticated(m)) if m.contains(why) => {}
        other => panic!("expected a refusal naming {why:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_token_names_its_user() {
    let p = &provider().await;
    let id = p
        .verify(
            Provider::Google,
            &p.sign(&google_claims(T0)),
            Some(NONCE),
            T0,
        )
        .await
        .expect("valid");
    assert_eq!(id.provider, Provider::Google);
    assert_eq!(id.subject, "110169484474386276334");
    assert_eq!(id.email.as_deref(), Some("alice@example.com"));
    assert!(id.email_verified);
    assert_eq!(id.first_name.as_deref(), Some("Alice"));
}

#[tokio::test]
async fn an_expired_token_is_refused_beyond_the_leeway_only() {
    let p = &provider().await;
    let exp = |t: i64| with(google_claims(T0 - 7200), json!({ "exp": t }));
    p.google(&exp(T0 + 1), T0).await.expect("exp in the future");
    p.google(&exp(T0), T0).await.expect("exp now");
    p.google(&exp(T0 - LEEWAY_SECS), T0)
        .await
        .expect("exp at the edge of the leeway");
    refused(p.google(&exp(T0 - LEEWAY_SECS - 1), T0).await, "expired");
    // The same token, checked later, expires at the same second.
    let token = exp(T0);
    p.google(&token, T0 + LEEWAY_SECS).await.expect("edge");
    refused(p.google(&token, T0 + LEEWAY_SECS + 1).await, "expired");
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused_beyond_the_leeway() {
    let p = &provider().await;
    let iat = |t: i64| with(google_claims(T0), json!({ "iat": t, "exp": T0 + 3600 }));
    p.google(&iat(T0 + LEEWAY_SECS), T0)
        .await
        .expect("iat at the edge");
    refused(p.google(&iat(T0 + LEEWAY_SECS + 1), T0).await, "(iat)");
    let e = p
        .google(&with(google_claims(T0), json!({ "iat": null })), T0)
        .await;
    assert!(matches!(e, Err(Error::Unauthenticated(_))), "no iat: {e:?}");
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused_beyond_the_leeway() {
    let p = &provider().await;
    let nbf = |t: i64| with(google_claims(T0), json!({ "nbf": t }));
    p.google(&google_claims(T0), T0).await.expect("no nbf");
    p.google(&nbf(T0 - 60), T0).await.expect("nbf in the past");
    p.google(&nbf(T0 + LEEWAY_SECS), T0)
        .await
        .expect("nbf at the edge");
    refused(p.google(&nbf(T0 + LEEWAY_SECS + 1), T0).await, "(nbf)");
    // Valid once the clock reaches it.
    p.google(&nbf(T0 + 600), T0 + 600 - LEEWAY_SECS)
        .await
        .expect("later");
}

#[tokio::test]
async fn the_audience_must_be_one_of_our_client_ids() {
    let p = &provider().await;
    let aud = |a: Value| with(google_claims(T0), json!({ "aud": a }));
    p.google(&aud(json!(IOS)), T0)
        .await
        .expect("our other client");
    refused(p.google(&aud(json!("someone-else")), T0).await, "(aud)");
    refused(p.google(&aud(json!([])), T0).await, "(aud)");
    // Without one, the token does not even parse into our claims.
    let e = p
        .google(&with(google_claims(T0), json!({ "aud": null })), T0)
        .await;
    refused(e, "was refused");
}

#[tokio::test]
async fn several_audiences_need_an_authorized_party_that_is_ours() {
    let p = &provider().await;
    let claims =
        |aud: Value, azp: Value| with(google_claims(T0), json!({ "aud": aud, "azp": azp }));
    p.google(&claims(json!([WEB, "other-app"]), json!(WEB)), T0)
        .await
        .expect("azp ours");
    p.google(&claims(json!([WEB, IOS]), json!(IOS)), T0)
        .await
        .expect("azp our other client");
    refused(
        p.google(&claims(json!([WEB, "other-app"]), json!("other-app")), T0)
            .await,
        "(azp)",
    );
    refused(
        p.google(&claims(json!([WEB, IOS]), Value::Null), T0).await,
        "no authorized party",
    );
    // One audience (ours): azp may name another client of the app (Google's Android).
    p.google(&claims(json!(WEB), json!("android.apps.example")), T0)
        .await
        .expect("single audience");
    p.google(&claims(json!([WEB]), json!("android.apps.example")), T0)
        .await
        .expect("one-element array");
}

#[tokio::test]
async fn the_issuer_must_be_the_provider_s() {
    let p = &provider().await;
    let iss = |i: &str| with(google_claims(T0), json!({ "iss": i }));
    // Google writes its issuer with and without the scheme.
    p.google(&iss("accounts.google.com"), T0)
        .await
        .expect("bare Google issuer");
    refused(p.google(&iss(APPLE_ISS), T0).await, "(iss)");
    refused(
        p.google(&iss("https://accounts.google.com.evil"), T0).await,
        "(iss)",
    );
    refused(
        p.google(&with(google_claims(T0), json!({ "iss": null })), T0)
            .await,
        "`iss`",
    );
    let apple = |i: &str| p.sign(&with(apple_claims(T0), json!({ "iss": i })));
    let bare = p
        .verify(Provider::Apple, &apple("appleid.apple.com"), None, T0)
        .await;
    assert!(matches!(bare, Err(Error::Unauthenticated(_))), "{bare:?}");
    p.verify(Provider::Apple, &apple(APPLE_ISS), None, T0)
        .await
        .expect("Apple");
    let google_token = p
        .verify(
            Provider::Apple,
            &p.sign(&with(google_claims(T0), json!({ "aud": APPLE_APP }))),
            None,
            T0,
        )
        .await;
    assert!(
        matches!(google_token, Err(Error::Unauthenticated(_))),
        "{google_token:?}"
    );
}

#[tokio::test]
async fn the_nonce_must_match_when_the_caller_has_one() {
    let p = &provider().await;
    let token = p.sign(&google_claims(T0));
    let g = |token: String, nonce: Option<&'static str>| async move {
        p.verify(Provider::Google, &token, nonce, T0)
            .await
            .map(|i| i.subject)
    };
    g(token.clone(), Some(NONCE)).await.expect("same nonce");
    g(token.clone(), None).await.expect("no nonce expected");
    refused(g(token.clone(), Some("another")).await, "nonce");
    let without = p.sign(&with(google_claims(T0), json!({ "nonce": null })));
    refused(g(without.clone(), Some(NONCE)).await, "nonce");
    g(without, None).await.expect("none expected, none given");
    let hashed = hex::encode(Sha256::digest(NONCE.as_bytes()));
    // Only Apple's native SDKs put the nonce's SHA-256 in the token.
    let google_hashed = p.sign(&with(google_claims(T0), json!({ "nonce": hashed })));
    refused(g(google_hashed, Some(NONCE)).await, "nonce");
    let apple = |nonce: &str| p.sign(&with(apple_claims(T0), json!({ "nonce": nonce })));
    for n in [NONCE, hashed.as_str()] {
        p.verify(Provider::Apple, &apple(n), Some(NONCE), T0)
            .await
            .expect("Apple nonce or its hash");
    }
    let e = p
        .verify(Provider::Apple, &apple("another"), Some(NONCE), T0)
        .await;
    assert!(matches!(e, Err(Error::Unauthenticated(_))), "{e:?}");
}

#[tokio::test]
async fn only_es256_or_rs256_signatures_by_a_published_key_are_accepted() {
    let p = &provider().await;
    let claims = google_claims(T0);
    let verify = |token: String| async move {
        p.verify(Provider::Google, &token, None, T0)
            .await
            .map(|i| i.subject)
    };
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("k1".into());
    let hmac =
        jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(b"guessable")).expect("hs256");
    refused(verify(hmac).await, "RS256 or ES256");
    let body = B64.encode(claims.to_string());
    let none = format!("{}.{body}.", B64.encode(r#"{"alg":"none","kid":"k1"}"#));
    refused(verify(none).await, "not a signed JWT");
    refused(verify("not.a.jwt".into()).await, "not a signed JWT");
    let no_kid = jsonwebtoken::encode(&header(None), &claims, &p.k1).expect("sign");
    refused(verify(no_kid).await, "(kid)");
    let unknown = jsonwebtoken::encode(&header(Some("k9")), &claims, &p.k1).expect("sign");
    refused(verify(unknown).await, "does not publish");
    // k2 is published, but it did not make k1's signature.
    let forged = jsonwebtoken::encode(&header(Some("k1")), &claims, &p.k2).expect("sign");
    refused(verify(forged).await, "signature");
    let k3 = jsonwebtoken::encode(&header(Some("k3")), &claims, &p.k1).expect("sign");
    refused(verify(k3).await, "does not match its key");
    let tampered = {
        let token = p.sign(&claims);
        let parts: Vec<&str> = token.split('.').collect();
        let other = B64.encode(with(claims.clone(), json!({ "sub": "someone-else" })).to_string());
        format!("{}.{other}.{}", parts[0], parts[2])
    };
    refused(verify(tampered).await, "signature");
    // And the genuine article, after all that.
    let k2 = jsonwebtoken::encode(&header(Some("k2")), &claims, &p.k2).expect("sign");
    verify(k2).await.expect("k2 signs as k2");
    verify(p.sign(&claims)).await.expect("k1");
}

#[tokio::test]
async fn the_subject_must_be_present_and_usable() {
    let p = &provider().await;
    let sub = |s: Value| with(google_claims(T0), json!({ "sub": s }));
    refused(p.google(&sub(json!("")), T0).await, "subject");
    refused(p.google(&sub(json!("s".repeat(256))), T0).await, "subject");
    let longest = "s".repeat(255);
    assert_eq!(
        p.google(&sub(json!(longest)), T0).await.expect("255"),
        longest
    );
    let none = p
        .google(&with(google_claims(T0), json!({ "sub": null })), T0)
        .await;
    refused(none, "was refused");
}

#[tokio::test]
async fn an_email_is_verified_only_when_the_provider_says_so() {
    let p = &provider().await;
    let apple = |changes: Value| p.sign(&with(apple_claims(T0), changes));
    let verified = |token: String| async move {
        p.verify(Provider::Apple, &token, None, T0)
            .await
            .expect("valid")
    };
    // Apple writes the flag as a string.
    assert!(verified(apple(json!({}))).await.email_verified);
    assert!(
        verified(apple(json!({ "email_verified": true })))
            .await
            .email_verified
    );
    assert!(
        !verified(apple(json!({ "email_verified": "false" })))
            .await
            .email_verified
    );
    assert!(
        !verified(apple(json!({ "email_verified": null })))
            .await
            .email_verified
    );
    let no_email = verified(apple(json!({ "email": null }))).await;
    assert!(!no_email.email_verified);
    assert_eq!(no_email.email, None);
}

#[tokio::test]
async fn a_provider_without_a_client_id_is_off() {
    let p = &provider().await;
    let token = p.sign(&google_claims(T0));
    for off in [Provider::X, Provider::Github] {
        let e = p.verify(off, &token, None, T0).await;
        assert!(matches!(e, Err(Error::BadInput(_))), "{off:?}: {e:?}");
    }
    let bare = fixture().await;
    let e = bare
        .verify_id_token(Provider::Google, &token, None, T0)
        .await;
    assert!(matches!(e, Err(Error::BadInput(_))), "{e:?}");
}
