//! Passkeys on the fixed clock: what registration needs (a verified email, a fresh
//! sign-in), login options that do not tell emails apart, the ceremony store (its TTL at
//! the exact second, single use, bound to its kind and user), `echoed_challenge`, and
//! another user's passkeys left alone. A small software authenticator makes real
//! credentials where a test needs one.
use super::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use p256::ecdsa::{DerSignature, SigningKey, signature::Signer};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::entities::webauthn_ceremony;
use crate::idm::error::Error;
use crate::idm::passkeys::{CEREMONY_TTL_SECS, echoed_challenge};
use crate::idm::step_up::FRESH_SIGN_IN_SECS;

const IP: &str = "192.0.2.1";
/// What the default `[webauthn]` settings expect.
const ORIGIN: &str = "http://localhost:8080";

/// A P-256 authenticator answering as a browser's `credential.toJSON()` does, with
/// "none" attestation and the UV flag set.
#[derive(Default)]
struct Authenticator {
    creds: Vec<(Vec<u8>, SigningKey, Vec<u8>, u32)>,
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    match b.len() {
        n if n < 24 => out.push(0x40 | n as u8),
        n if n < 256 => out.extend([0x58, n as u8]),
        n => {
            out.push(0x59);
            out.extend((n as u16).to_be_bytes());
        }
    }
    out.extend(b);
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    out.push(0x60 | s.len() as u8);
    out.extend(s.as_bytes());
}

/// UP, UV, BE, BS.
const FLAGS: u8 = 0x01 | 0x04 | 0x08 | 0x10;

fn client_data(kind: &str, challenge: &str) -> String {
    json!({ "type": kind, "challenge": challenge, "origin": ORIGIN, "crossOrigin": false })
        .to_string()
}

impl Authenticator {
    fn create(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let challenge = pk["challenge"].as_str().expect("challenge");
        let rp_id = pk["rp"]["id"].as_str().expect("rp.id");
        let handle = B64
            .decode(pk["user"]["id"].as_str().expect("user.id"))
            .expect("user handle");
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let id: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
        let point = key.verifying_key().to_encoded_point(false);
        // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut cose, point.x().expect("x"));
        cose.push(0x22);
        cbor_bytes(&mut cose, point.y().expect("y"));
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(FLAGS | 0x40);
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(&id);
        auth_data.extend(&cose);
        let mut att = vec![0xa3];
        cbor_text(&mut att, "fmt");
        cbor_text(&mut att, "none");
        cbor_text(&mut att, "attStmt");
        att.push(0xa0);
        cbor_text(&mut att, "authData");
        cbor_bytes(&mut att, &auth_data);
        let cred_id = B64.encode(&id);
        self.creds.push((id, key, handle, 0));
        json!({
            "id": cred_id,
            "rawId": cred_id,
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(client_data("webauthn.create", challenge)),
                "attestationObject": B64.encode(att),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    fn get(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let challenge = pk["challenge"].as_str().expect("challenge");
        let rp_id = pk["rpId"].as_str().expect("rpId");
        let data = client_data("webauthn.get", challenge);
        let (id, key, handle, counter) = self.creds.first_mut().expect("a credential");
        *counter += 1;
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(FLAGS);
        auth_data.extend(counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(data.as_bytes()));
        let sig: DerSignature = key.sign(&signed);
        let id = B64.encode(id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(data),
                "authenticatorData": B64.encode(auth_data),
                "signature": B64.encode(sig.as_bytes()),
                "userHandle": B64.encode(handle),
            },
            "clientExtensionResults": {},
        })
    }
}

/// The core without the sign-in rate limit (these tests ask for many challenges).
async fn passkey_fixture() -> Fixture {
    fixture_with(|s| s.rate_limit.login_per_minute = 0).await
}

/// A user signed up at T0 and their session id.
async fn signed_up(f: &Fixture, email: &str) -> (String, String) {
    let tokens = f.signup(email).await;
    let subject = f
        .keys
        .verify(&tokens.access_token, T0)
        .await
        .expect("access token");
    (tokens.user.id, subject.session_id)
}

/// A user with a verified email, signed up at T0, and their session id.
async fn verified(f: &Fixture, email: &str) -> (String, String) {
    let (id, sid) = signed_up(f, email).await;
    f.verify_email_at(&id, T0).await;
    (id, sid)
}

fn challenge_of(options: &Value) -> String {
    options["publicKey"]["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned()
}

/// A credential that answers `challenge` and is otherwise nothing WebAuthn accepts.
fn answering(challenge: &str) -> Value {
    json!({ "response": { "clientDataJSON": B64.encode(json!({ "challenge": challenge }).to_string()) } })
}

fn is_gone(e: &Error) -> bool {
    matches!(e, Error::BadInput(m) if m.contains("unknown, expired or already used"))
}

/// Got past the ceremony lookup, and failed on the credential itself.
fn is_past_lookup(e: &Error, what: &str) -> bool {
    matches!(e, Error::BadInput(m) if m.contains(&format!("not a valid WebAuthn {what}")))
}

/// The JSON with every string, number and boolean blanked: its shape.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), shape(v))).collect(),
        Value::Array(a) => a.iter().map(shape).collect(),
        Value::String(_) => json!(""),
        Value::Number(_) => json!(0),
        Value::Bool(_) => json!(false),
        Value::Null => Value::Null,
    }
}

async fn ceremony(f: &Fixture, challenge: &str) -> Option<webauthn_ceremony::Model> {
    webauthn_ceremony::Entity::find_by_id(challenge.to_owned())
        .one(&f.db)
        .await
        .expect("read ceremony")
}

#[tokio::test]
async fn registration_needs_a_verified_email() {
    let f = passkey_fixture().await;
    let (alice, sid) = signed_up(&f, "alice@example.com").await;
    let r = f.passkey_registration_options(&alice, Some(&sid), T0).await;
    assert!(matches!(r, Err(Error::Forbidden(_))), "{r:?}");
    let (bob, bob_sid) = verified(&f, "bob@example.com").await;
    let options = f
        .passkey_registration_options(&bob, Some(&bob_sid), T0)
        .await
        .expect("verified");
    let pk = &options["publicKey"];
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        pk["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    let row = ceremony(&f, &challenge_of(&options)).await.expect("saved");
    assert_eq!(row.kind, "register");
    assert_eq!(row.user_id.as_deref(), Some(bob.as_str()));
    assert_eq!(row.expires_at, T0 + CEREMONY_TTL_SECS);
}

#[tokio::test]
async fn registration_needs_a_fresh_sign_in_of_this_user() {
    let f = passkey_fixture().await;
    let (alice, sid) = verified(&f, "alice@example.com").await;
    let (_, bob_sid) = verified(&f, "bob@example.com").await;
    let at = |sid, now| f.passkey_registration_options(&alice, sid, now);
    let none = at(None, T0).await;
    assert!(matches!(none, Err(Error::Forbidden(_))), "{none:?}");
    let other = at(Some(bob_sid.as_str()), T0).await;
    assert!(matches!(other, Err(Error::Forbidden(_))), "{other:?}");
    let unknown = at(Some("no-such-session"), T0).await;
    assert!(matches!(unknown, Err(Error::Forbidden(_))), "{unknown:?}");
    at(Some(sid.as_str()), T0 + FRESH_SIGN_IN_SECS)
        .await
        .expect("fresh to the last second");
    let stale = at(Some(sid.as_str()), T0 + FRESH_SIGN_IN_SECS + 1).await;
    assert!(matches!(stale, Err(Error::Forbidden(_))), "{stale:?}");
    // A session signed in later is fresh again.
    let later = f.signup_at("carol@example.com", T0 + 5000).await;
    let carol_sid = f
        .keys
        .verify(&later.access_token, T0 + 5000)
        .await
        .expect("token")
        .session_id;
    f.verify_email_at(&later.user.id, T0 + 5000).await;
    f.passkey_registration_options(&later.user.id, Some(&carol_sid), T0 + 5000 + 60)
        .await
        .expect("fresh");
}

#[tokio::test]
async fn a_registration_ceremony_lives_for_its_ttl_and_no_longer() {
    let f = passkey_fixture().await;
    let (alice, sid) = verified(&f, "alice@example.com").await;
    let c = client(IP);
    let options = || f.passkey_registration_options(&alice, Some(&sid), T0);
    let register =
        |cred, now| f.register_passkey(&alice, Some(sid.as_str()), cred, "Laptop", &c, now);

    let late = challenge_of(&options().await.expect("options"));
    let e = register(answering(&late), T0 + CEREMONY_TTL_SECS)
        .await
        .unwrap_err();
    assert!(is_gone(&e), "{e:?}");

    let in_time = challenge_of(&options().await.expect("options"));
    let e = register(answering(&in_time), T0 + CEREMONY_TTL_SECS - 1)
        .await
        .unwrap_err();
    assert!(is_past_lookup(&e, "registration"), "{e:?}");

    // A real credential in the last second registers.
    let mut authenticator = Authenticator::default();
    let cred = authenticator.create(&options().await.expect("options"));
    let info = register(cred, T0 + CEREMONY_TTL_SECS - 1)
        .await
        .expect("register");
    assert_eq!(info.device_name, "Laptop");
    assert!(info.backed_up);
    let listed = f.user_passkeys(&alice).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, info.id);
}

#[tokio::test]
async fn a_sign_in_ceremony_lives_for_its_ttl_and_no_longer() {
    let f = passkey_fixture().await;
    let c = client(IP);
    let late = challenge_of(
        &f.passkey_login_options(None, &c, T0)
            .await
            .expect("options"),
    );
    let e = f
        .login_with_passkey(answering(&late), None, &c, T0 + CEREMONY_TTL_SECS)
        .await
        .unwrap_err();
    assert!(is_gone(&e), "{e:?}");
    let in_time = challenge_of(
        &f.passkey_login_options(None, &c, T0)
            .await
            .expect("options"),
    );
    let e = f
        .login_with_passkey(answering(&in_time), None, &c, T0 + CEREMONY_TTL_SECS - 1)
        .await
        .unwrap_err();
    assert!(is_past_lookup(&e, "assertion"), "{e:?}");
}

#[tokio::test]
async fn a_ceremony_is_claimed_once() {
    let f = passkey_fixture().await;
    let (alice, sid) = verified(&f, "alice@example.com").await;
    let c = client(IP);

    let login = challenge_of(
        &f.passkey_login_options(None, &c, T0)
            .await
            .expect("options"),
    );
    let first = f
        .login_with_passkey(answering(&login), None, &c, T0 + 1)
        .await
        .unwrap_err();
    assert!(is_past_lookup(&first, "assertion"), "{first:?}");
    let second = f
        .login_with_passkey(answering(&login), None, &c, T0 + 2)
        .await
        .unwrap_err();
    assert!(is_gone(&second), "{second:?}");
    assert!(ceremony(&f, &login).await.is_none());

    // A credential that registered cannot register again.
    let mut authenticator = Authenticator::default();
    let options = f
        .passkey_registration_options(&alice, Some(&sid), T0)
        .await
        .expect("options");
    let cred = authenticator.create(&options);
    f.register_passkey(&alice, Some(&sid), cred.clone(), "Key", &c, T0 + 1)
        .await
        .expect("register");
    let replay = f
        .register_passkey(&alice, Some(&sid), cred, "Key", &c, T0 + 2)
        .await
        .unwrap_err();
    assert!(is_gone(&replay), "{replay:?}");
    assert_eq!(f.user_passkeys(&alice).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_ceremony_answers_only_its_own_kind_and_user() {
    let f = passkey_fixture().await;
    let (alice, sid) = verified(&f, "alice@example.com").await;
    let (bob, bob_sid) = verified(&f, "bob@example.com").await;
    let c = client(IP);
    let reg = challenge_of(
        &f.passkey_registration_options(&alice, Some(&sid), T0)
            .await
            .expect("options"),
    );
    // A registration challenge is no sign-in challenge, and the attempt leaves it open.
    let e = f
        .login_with_passkey(answering(&reg), None, &c, T0 + 1)
        .await
        .unwrap_err();
    assert!(is_gone(&e), "{e:?}");
    assert!(ceremony(&f, &reg).await.is_some());
    let login = challenge_of(
        &f.passkey_login_options(None, &c, T0)
            .await
            .expect("options"),
    );
    let e = f
        .register_passkey(&alice, Some(&sid), answering(&login), "K", &c, T0 + 1)
        .await
        .unwrap_err();
    assert!(is_gone(&e), "{e:?}");
    // Alice's registration challenge is not Bob's.
    let e = f
        .register_passkey(&bob, Some(&bob_sid), answering(&reg), "K", &c, T0 + 1)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::BadInput(m) if m.contains("another account")),
        "{e:?}"
    );
    assert!(f.user_passkeys(&bob).await.expect("list").is_empty());
}

#[tokio::test]
async fn sign_in_options_do_not_tell_whether_an_email_has_an_account() {
    let f = passkey_fixture().await;
    let c = client(IP);
    f.signup("known@example.com").await;
    let (with_key, sid) = verified(&f, "keyed@example.com").await;
    let mut authenticator = Authenticator::default();
    let options = f
        .passkey_registration_options(&with_key, Some(&sid), T0)
        .await
        .expect("options");
    f.register_passkey(
        &with_key,
        Some(&sid),
        authenticator.create(&options),
        "K",
        &c,
        T0,
    )
    .await
    .expect("register");

    let nobody = f.passkey_login_options(None, &c, T0).await.expect("none");
    let unknown = f
        .passkey_login_options(Some("stranger@example.com"), &c, T0)
        .await
        .expect("unknown");
    let known = f
        .passkey_login_options(Some("known@example.com"), &c, T0)
        .await
        .expect("known");
    assert_eq!(shape(&unknown), shape(&nobody));
    assert_eq!(shape(&known), shape(&unknown));
    for o in [&nobody, &unknown, &known] {
        let allowed = o["publicKey"]["allowCredentials"].as_array();
        assert!(allowed.is_none_or(|a| a.is_empty()), "{o}");
        let row = ceremony(&f, &challenge_of(o)).await.expect("saved");
        assert_eq!((row.kind.as_str(), row.user_id), ("login", None));
    }
    assert_ne!(challenge_of(&unknown), challenge_of(&known));

    // An email with passkeys is offered them (the code's stated exception)...
    let keyed = f
        .passkey_login_options(Some("Keyed@Example.com"), &c, T0)
        .await
        .expect("keyed");
    let allowed = keyed["publicKey"]["allowCredentials"]
        .as_array()
        .expect("allowCredentials");
    assert_eq!(allowed.len(), 1);
    let row = ceremony(&f, &challenge_of(&keyed)).await.expect("saved");
    assert_eq!(row.user_id.as_deref(), Some(with_key.as_str()));
    // ... unless the account is deactivated: then it looks like any unknown email.
    f.set_user_active("an-admin", &with_key, false, &c, T0 + 1)
        .await
        .expect("deactivate");
    let inactive = f
        .passkey_login_options(Some("keyed@example.com"), &c, T0 + 1)
        .await
        .expect("inactive");
    assert_eq!(shape(&inactive), shape(&unknown));
}

#[tokio::test]
async fn a_registered_passkey_signs_in_and_is_excluded_from_the_next_registration() {
    let f = passkey_fixture().await;
    let c = client(IP);
    let (alice, sid) = verified(&f, "alice@example.com").await;
    let mut authenticator = Authenticator::default();
    let options = f
        .passkey_registration_options(&alice, Some(&sid), T0)
        .await
        .expect("options");
    let cred = authenticator.create(&options);
    let cred_id = cred["id"].as_str().expect("id").to_owned();
    f.register_passkey(&alice, Some(&sid), cred, "Phone", &c, T0 + 1)
        .await
        .expect("register");
    let again = f
        .passkey_registration_options(&alice, Some(&sid), T0 + 2)
        .await
        .expect("options");
    let excluded: Vec<&str> = again["publicKey"]["excludeCredentials"]
        .as_array()
        .expect("excludeCredentials")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(excluded, vec![cred_id.as_str()]);

    // By email, then usernameless.
    for email in [Some("alice@example.com"), None] {
        let options = f
            .passkey_login_options(email, &c, T0 + 10)
            .await
            .expect("options");
        let assertion = authenticator.get(&options);
        let tokens = f
            .login_with_passkey(assertion, None, &c, T0 + 10 + CEREMONY_TTL_SECS - 1)
            .await
            .expect("sign in");
        assert_eq!(tokens.user.id, alice);
    }
    let used = f.user_passkeys(&alice).await.expect("list");
    assert_eq!(used[0].last_used_at, Some(T0 + 10 + CEREMONY_TTL_SECS - 1));
}

#[tokio::test]
async fn echoed_challenge_reads_only_a_well_formed_client_data() {
    let wrap = |encoded: Value| json!({ "response": { "clientDataJSON": encoded } });
    let data = |v: Value| json!(B64.encode(v.to_string()));
    assert_eq!(
        echoed_challenge(&answering("abc-_123")).expect("plain"),
        "abc-_123"
    );
    // Padding, on the encoding or on the challenge, is dropped.
    let padded = STANDARD.encode(json!({ "challenge": "abc" }).to_string());
    assert!(padded.ends_with('='), "{padded}");
    assert_eq!(
        echoed_challenge(&wrap(json!(padded))).expect("padded"),
        "abc"
    );
    assert_eq!(echoed_challenge(&answering("abcd==")).expect("pad"), "abcd");
    // 128 characters is the longest challenge read.
    let longest = "a".repeat(128);
    assert_eq!(
        echoed_challenge(&answering(&longest)).expect("128"),
        longest
    );

    let bad = [
        json!({}),
        json!({ "response": {} }),
        json!({ "response": { "clientDataJSON": 7 } }),
        wrap(json!("not base64 !")),
        wrap(json!(B64.encode("not json"))),
        wrap(data(json!({ "type": "webauthn.get" }))),
        wrap(data(json!({ "challenge": 42 }))),
        answering(""),
        answering(&"a".repeat(129)),
        json!("a string"),
    ];
    for credential in bad {
        let e = echoed_challenge(&credential).unwrap_err();
        assert!(
            matches!(&e, Error::BadInput(m) if m.contains("clientDataJSON")),
            "{credential}: {e:?}"
        );
    }
}

#[tokio::test]
async fn another_user_s_passkey_cannot_be_renamed_or_removed() {
    let f = passkey_fixture().await;
    let c = client(IP);
    let (alice, sid) = verified(&f, "alice@example.com").await;
    let (bob, bob_sid) = verified(&f, "bob@example.com").await;
    let mut authenticator = Authenticator::default();
    let options = f
        .passkey_registration_options(&alice, Some(&sid), T0)
        .await
        .expect("options");
    let key = f
        .register_passkey(
            &alice,
            Some(&sid),
            authenticator.create(&options),
            "Mine",
            &c,
            T0,
        )
        .await
        .expect("register");

    let rename = f.rename_passkey(&bob, &key.id, "Stolen").await;
    assert!(matches!(rename, Err(Error::NotFound(_))), "{rename:?}");
    let delete = f
        .delete_passkey((&bob, Some(&bob_sid)), &key.id, &c, T0 + 1)
        .await;
    assert!(matches!(delete, Err(Error::NotFound(_))), "{delete:?}");
    let kept = f.user_passkeys(&alice).await.expect("list");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].device_name, "Mine");

    // Its owner may, removal with a fresh sign-in only.
    let renamed = f
        .rename_passkey(&alice, &key.id, "  Work laptop ")
        .await
        .expect("rename");
    assert_eq!(renamed.device_name, "Work laptop");
    let stale = f
        .delete_passkey(
            (&alice, Some(&sid)),
            &key.id,
            &c,
            T0 + FRESH_SIGN_IN_SECS + 1,
        )
        .await;
    assert!(matches!(stale, Err(Error::Forbidden(_))), "{stale:?}");
    let done = f
        .delete_passkey((&alice, Some(&sid)), &key.id, &c, T0 + FRESH_SIGN_IN_SECS)
        .await
        .expect("delete");
    assert!(done);
    assert!(f.user_passkeys(&alice).await.expect("list").is_empty());
}
