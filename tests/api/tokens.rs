//! Access tokens: claims, the JWKS, and every way a forged or stale token is refused.
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, jwt_part};

/// Mints a token with the server's own private key and chosen claims.
async fn mint(app: &TestApp, claims: &Value, header: Option<Header>) -> String {
    let keys = latchkey::entities::signing_key::Entity::find()
        .all(&app.state.idm.db)
        .await
        .expect("keys");
    let key = &keys[0];
    assert!(!key.encrypted);
    let der = STANDARD.decode(&key.private_key).expect("der");
    let mut header = header.unwrap_or_else(|| Header::new(Algorithm::EdDSA));
    if header.kid.is_none() {
        header.kid = Some(key.kid.clone());
    }
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&der)).expect("encode")
}

fn claims_of(token: &str) -> Value {
    jwt_part(token, 1)
}

db_test!(
    access_tokens_carry_the_documented_claims_and_a_published_kid,
    |app| {
        let t = app.signup("claims@example.com").await;
        let header = jwt_part(&t.access, 0);
        assert_eq!(header["alg"], "EdDSA");
        let kid = header["kid"].as_str().expect("kid");
        let c = claims_of(&t.access);
        for claim in [
            "iss", "sub", "aud", "exp", "iat", "jti", "sid", "tid", "role", "amr",
        ] {
            assert!(!c[claim].is_null(), "missing {claim}: {c}");
        }
        assert_eq!(c["sub"], t.user_id.as_str());
        assert_eq!(c["aud"], "latchkey");
        assert_eq!(c["role"], "USER");
        assert_eq!(c["amr"], json!(["pwd"]));
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            86400
        );
        assert!(c["tid"].as_str().unwrap().starts_with("cust_"));
        let jwks: Value = app
            .client
            .get(format!("{}/.well-known/jwks.json", app.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .expect("kid in jwks");
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        // The published key really verifies the token.
        let dk = jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        v.set_audience(&["latchkey"]);
        jsonwebtoken::decode::<Value>(&t.access, &dk, &v).expect("verifies with the JWKS key");
    }
);

db_test!(a_tampered_token_is_refused, |app| {
    let t = app.signup("tamper@example.com").await;
    let mut c = claims_of(&t.access);
    c["role"] = json!("ADMIN");
    let parts: Vec<&str> = t.access.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(c.to_string()),
        parts[2]
    );
    app.me(&forged).await.expect_code("UNAUTHENTICATED");
    let mut sig = parts[2].to_owned();
    sig.replace_range(0..2, if sig.starts_with("AA") { "BB" } else { "AA" });
    app.me(&format!("{}.{}.{}", parts[0], parts[1], sig))
        .await
        .expect_code("UNAUTHENTICATED");
    app.me("not.a.jwt").await.expect_code("UNAUTHENTICATED");
});

db_test!(alg_none_and_hmac_tokens_are_refused, |app| {
    let t = app.signup("none@example.com").await;
    let c = claims_of(&t.access);
    let kid = jwt_part(&t.access, 0)["kid"].clone();
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT", "kid": kid }).to_string());
    let body = URL_SAFE_NO_PAD.encode(c.to_string());
    app.me(&format!("{none_header}.{body}."))
        .await
        .expect_code("UNAUTHENTICATED");
    // HS256 keyed with the public key (the classic confusion attack).
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = kid.as_str().map(str::to_owned);
    let hs = jsonwebtoken::encode(&h, &c, &EncodingKey::from_secret(x.as_bytes())).unwrap();
    app.me(&hs).await.expect_code("UNAUTHENTICATED");
});

db_test!(
    a_token_signed_by_another_key_is_refused_even_with_our_kid_or_an_embedded_jwk,
    |app| {
        let t = app.signup("otherkey@example.com").await;
        let c = claims_of(&t.access);
        let kid = jwt_part(&t.access, 0)["kid"].as_str().unwrap().to_owned();
        let other = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let der = other.to_pkcs8_der().unwrap();
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(kid);
        let forged =
            jsonwebtoken::encode(&h, &c, &EncodingKey::from_ed_der(der.as_bytes())).unwrap();
        app.me(&forged).await.expect_code("UNAUTHENTICATED");
        // The same, pointing at the attacker's key through jku / x5u: never consulted.
        let mut h = Header::new(Algorithm::EdDSA);
        h.jku = Some("http://127.0.0.1:9/jwks.json".into());
        h.x5u = Some("http://127.0.0.1:9/cert.pem".into());
        let forged =
            jsonwebtoken::encode(&h, &c, &EncodingKey::from_ed_der(der.as_bytes())).unwrap();
        app.me(&forged).await.expect_code("UNAUTHENTICATED");
    }
);

db_test!(expired_future_and_foreign_tokens_are_refused, |app| {
    let t = app.signup("stale@example.com").await;
    let base = claims_of(&t.access);
    // The untouched claims re-signed work: the refusals below are due to the change.
    app.me(&mint(&app, &base, None).await).await.ok();
    let now = latchkey::clock::now();
    let cases: Vec<(&str, Value)> = vec![
        (
            "expired",
            json!({ "exp": now - 120, "iat": now - 1000, "nbf": now - 1000 }),
        ),
        ("not yet valid", json!({ "nbf": now + 600 })),
        ("issued in the future", json!({ "iat": now + 600 })),
        ("other issuer", json!({ "iss": "https://evil.example" })),
        ("other audience", json!({ "aud": "someone-else" })),
        ("other token type", json!({ "typ": "mfa" })),
    ];
    for (what, change) in cases {
        let mut c = base.clone();
        for (k, v) in change.as_object().unwrap() {
            c[k] = v.clone();
        }
        let token = mint(&app, &c, None).await;
        let r = app.me(&token).await;
        assert_eq!(r.code(), Some("UNAUTHENTICATED"), "{what}: {}", r.0);
    }
    // A missing expiry is refused too.
    let mut c = base.clone();
    c.as_object_mut().unwrap().remove("exp");
    app.me(&mint(&app, &c, None).await)
        .await
        .expect_code("UNAUTHENTICATED");
});

db_test!(an_unknown_kid_is_refused, |app| {
    let t = app.signup("kid@example.com").await;
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("not-our-kid".into());
    let token = mint(&app, &claims_of(&t.access), Some(h)).await;
    app.me(&token).await.expect_code("UNAUTHENTICATED");
});
