//! Access tokens (`KeyStore`) on a fixed clock: expiry and not-before at their leeway
//! edges, tampering, foreign keys and algorithms, each claim checked, and picking up a
//! key added by another instance (reload on an unknown `kid`, at most every 5 s).
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::*;
use crate::config::TokenSettings;
use crate::domain::Role;
use crate::idm::tokens::{ACCESS_TYPE, AccessClaims, KeyStore, LEEWAY_SECS, TokenSubject};

fn new_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// A store over `key` alone, in a fresh database.
async fn store_for(key: &SigningKey, settings: TokenSettings, now: i64) -> KeyStore {
    let db = crate::store::memory().await.expect("store");
    KeyStore::from_key(db, key, settings, now)
        .await
        .expect("key store")
}

fn subject() -> TokenSubject {
    TokenSubject {
        user_id: "user-1".into(),
        session_id: "session-1".into(),
        tenant_id: "tenant-1".into(),
        role: Role::Developer,
        amr: vec!["pwd".into()],
    }
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

/// The claims `KeyStore::issue` would write at `now`.
fn claims_at(settings: &TokenSettings, now: i64) -> AccessClaims {
    AccessClaims {
        iss: settings.issuer.clone(),
        sub: "user-1".into(),
        aud: settings.audience.clone(),
        exp: now + i64::from(settings.access_ttl_secs),
        iat: now,
        nbf: now,
        jti: "jti-1".into(),
        sid: "session-1".into(),
        tid: "tenant-1".into(),
        role: "USER".into(),
        amr: vec!["pwd".into()],
        typ: ACCESS_TYPE.into(),
    }
}

/// A token with these claims, signed by `key` under `kid`.
fn forge(key: &SigningKey, kid: &str, claims: &AccessClaims) -> String {
    let der = key.to_pkcs8_der().expect("pkcs8");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes()))
        .expect("encode")
}

#[tokio::test]
async fn an_issued_token_names_its_subject() {
    let f = fixture().await;
    let t = f.signup("subject@example.com").await;
    let s = f.keys.verify(&t.access_token, T0).await.expect("valid");
    assert_eq!(s.user_id, t.user.id);
    assert_eq!(s.tenant_id, t.user.tenant_id);
    assert_eq!(s.role, t.user.role);
    assert!(!s.session_id.is_empty());
}

#[tokio::test]
async fn an_access_token_expires_at_its_ttl_plus_the_leeway() {
    let key = new_key();
    let settings = TokenSettings::default();
    let ttl = i64::from(settings.access_ttl_secs);
    let ks = store_for(&key, settings, T0).await;
    let token = ks.issue(&subject(), T0).expect("issue");
    // Uncached first: the expired check refuses, and refusals are not remembered.
    assert!(ks.verify(&token, T0 + ttl + LEEWAY_SECS).await.is_none());
    assert!(
        ks.verify(&token, T0 + ttl + LEEWAY_SECS - 1)
            .await
            .is_some()
    );
    // Now cached: the cache still checks the times against `now`.
    assert!(ks.verify(&token, T0 + ttl + LEEWAY_SECS).await.is_none());
    assert!(ks.verify(&token, T0 + ttl + 3600).await.is_none());
    assert!(
        ks.verify(&token, T0 + ttl + LEEWAY_SECS - 1)
            .await
            .is_some()
    );
}

#[tokio::test]
async fn an_access_token_is_not_valid_before_its_issue_minus_the_leeway() {
    let key = new_key();
    let ks = store_for(&key, TokenSettings::default(), T0).await;
    let token = ks.issue(&subject(), T0 + 1000).expect("issue");
    assert!(
        ks.verify(&token, T0 + 1000 - LEEWAY_SECS - 1)
            .await
            .is_none()
    );
    assert!(ks.verify(&token, T0 + 1000 - LEEWAY_SECS).await.is_some());
    // Cached, and still refused too early.
    assert!(
        ks.verify(&token, T0 + 1000 - LEEWAY_SECS - 1)
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_tampered_token_is_refused() {
    let f = fixture().await;
    let t = f.signup("tamper@example.com").await;
    let token = t.access_token.clone();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);

    // The payload made an admin's, the signature kept.
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["role"], "USER");
    claims["role"] = "ADMIN".into();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let escalated = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert!(f.keys.verify(&escalated, T0).await.is_none());

    // One signature byte flipped.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert!(f.keys.verify(&flipped, T0).await.is_none());

    // No signature at all, and not a JWT at all.
    assert!(
        f.keys
            .verify(&format!("{}.{}.", parts[0], parts[1]), T0)
            .await
            .is_none()
    );
    assert!(f.keys.verify("garbage", T0).await.is_none());

    // The original is still good (and was not hurt by the attempts).
    assert!(f.keys.verify(&token, T0).await.is_some());
}

#[tokio::test]
async fn a_token_of_another_key_store_is_refused() {
    let f = fixture().await;
    let settings = f.settings.tokens.clone();
    let foreign = store_for(&new_key(), settings, T0).await;
    let token = foreign.issue(&subject(), T0).expect("issue");
    assert!(
        foreign.verify(&token, T0).await.is_some(),
        "valid where issued"
    );
    // Unknown kid: a reload of our own keys (allowed at T0 + 10) still does not know it.
    assert!(f.keys.verify(&token, T0 + 10).await.is_none());
}

#[tokio::test]
async fn a_known_kid_with_another_keys_signature_is_refused() {
    let key = new_key();
    let settings = TokenSettings::default();
    let ks = store_for(&key, settings.clone(), T0).await;
    let kid = kid_of(&ks.issue(&subject(), T0).expect("issue"));
    // Sanity: our own key forging these claims is accepted...
    let genuine = forge(&key, &kid, &claims_at(&settings, T0));
    assert!(ks.verify(&genuine, T0).await.is_some());
    // ...and an attacker's key claiming our kid is not.
    let forged = forge(&new_key(), &kid, &claims_at(&settings, T0));
    assert!(ks.verify(&forged, T0).await.is_none());
}

#[tokio::test]
async fn an_hmac_token_keyed_with_our_public_key_is_refused() {
    let key = new_key();
    let ks = store_for(&key, TokenSettings::default(), T0).await;
    let kid = kid_of(&ks.issue(&subject(), T0).expect("issue"));
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid);
    let public = key.verifying_key().to_bytes();
    for secret in [public.to_vec(), URL_SAFE_NO_PAD.encode(public).into_bytes()] {
        let token = jsonwebtoken::encode(
            &header,
            &claims_at(&TokenSettings::default(), T0),
            &EncodingKey::from_secret(&secret),
        )
        .expect("encode");
        assert!(ks.verify(&token, T0).await.is_none());
    }
}

/// One change to otherwise valid claims.
type Mutation = fn(&mut AccessClaims);

#[tokio::test]
async fn issuer_audience_and_token_type_are_each_checked() {
    let key = new_key();
    let settings = TokenSettings::default();
    let ks = store_for(&key, settings.clone(), T0).await;
    let kid = kid_of(&ks.issue(&subject(), T0).expect("issue"));
    let good = claims_at(&settings, T0);
    assert!(ks.verify(&forge(&key, &kid, &good), T0).await.is_some());

    let mutations: [(&str, Mutation); 5] = [
        ("issuer", |c| c.iss = "https://evil.example".into()),
        ("audience", |c| c.aud = "someone-else".into()),
        ("token type", |c| c.typ = "refresh".into()),
        ("role", |c| c.role = "superuser".into()),
        ("issued in the future", |c| c.iat += LEEWAY_SECS + 1),
    ];
    for (what, mutate) in mutations {
        let mut claims = good.clone();
        mutate(&mut claims);
        let token = forge(&key, &kid, &claims);
        assert!(ks.verify(&token, T0).await.is_none(), "{what} not checked");
    }
}

#[tokio::test]
async fn a_store_with_another_issuer_or_audience_refuses_the_same_key() {
    let key = new_key();
    let ours = TokenSettings::default();
    let ks = store_for(&key, ours.clone(), T0).await;
    let token = ks.issue(&subject(), T0).expect("issue");
    let other_iss = TokenSettings {
        issuer: "https://other.example".into(),
        ..ours.clone()
    };
    let other_aud = TokenSettings {
        audience: "other-audience".into(),
        ..ours.clone()
    };
    for settings in [other_iss, other_aud] {
        let other = store_for(&key, settings, T0).await;
        assert!(other.verify(&token, T0).await.is_none());
    }
    let same = store_for(&key, ours, T0).await;
    assert!(
        same.verify(&token, T0).await.is_some(),
        "same key and settings"
    );
}

#[tokio::test]
async fn a_key_added_by_another_instance_is_picked_up_no_sooner_than_5s_after_the_last_reload() {
    let db = crate::store::memory().await.expect("store");
    let settings = TokenSettings::default();
    let (k1, k2) = (new_key(), new_key());
    let a = KeyStore::from_key(db.clone(), &k1, settings.clone(), T0)
        .await
        .expect("instance a");
    // Another instance on the same database adds a newer key and signs with it.
    let b = KeyStore::from_key(db.clone(), &k2, settings.clone(), T0 + 1)
        .await
        .expect("instance b");
    let old = a.issue(&subject(), T0 + 1).expect("issue a");
    let new = b.issue(&subject(), T0 + 1).expect("issue b");
    assert_ne!(kid_of(&old), kid_of(&new));
    assert!(b.verify(&old, T0 + 1).await.is_some(), "b knows both keys");

    // `a` loaded at T0: an unknown kid does not reload before T0 + 5...
    assert!(a.verify(&new, T0 + 4).await.is_none());
    assert_eq!(kid_of(&a.issue(&subject(), T0 + 4).unwrap()), kid_of(&old));
    // ...and at T0 + 5 it does: the token verifies and `a` now signs with the newest key.
    assert!(a.verify(&new, T0 + 5).await.is_some());
    assert_eq!(kid_of(&a.issue(&subject(), T0 + 5).unwrap()), kid_of(&new));
    assert!(
        a.verify(&old, T0 + 5).await.is_some(),
        "old keys stay valid"
    );
    assert_eq!(a.jwks()["keys"].as_array().map(Vec::len), Some(2));

    // A third key right after that reload waits for the next window (T0 + 10).
    let c = KeyStore::from_key(db.clone(), &new_key(), settings, T0 + 6)
        .await
        .expect("instance c");
    let newest = c.issue(&subject(), T0 + 6).expect("issue c");
    assert!(a.verify(&newest, T0 + 9).await.is_none());
    assert!(a.verify(&newest, T0 + 10).await.is_some());
}
