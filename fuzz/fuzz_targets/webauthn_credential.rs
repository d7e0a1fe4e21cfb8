//! The passkey credential path (`latchkey::idm::passkeys`): the challenge echoed in a
//! credential's clientDataJSON (`echoed_challenge`), the serde parse of the browser's
//! JSON into webauthn-rs's `RegisterPublicKeyCredential` / `PublicKeyCredential`, and
//! `finish_passkey_registration` against our relying party (`relying_party` with the
//! default `[webauthn]` settings) and a real registration state.
//!
//! Two kinds of input:
//! - `Json`: arbitrary bytes, as the GraphQL `credential` argument would carry them.
//! - `Built`: a credential assembled from parts: clientDataJSON with our challenge or
//!   another, our origin or another, any type and extra fields; an attestation object in
//!   CBOR (fmt, attStmt, authData with the RP ID hash, flags, counter, credential id and a
//!   COSE key, all chosen), so the checks past the base64 and JSON layers are reached.
//!
//! Invariants: never panics; an echoed challenge is 1..=128 characters without trailing
//! `=`, and is the one in clientDataJSON; parsed credentials serialise and parse back to
//! the same JSON; a registration that finishes has the credential id of its authData.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use latchkey::config::WebauthnSettings;
use latchkey::idm::passkeys::{echoed_challenge, relying_party};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};

struct Fixture {
    webauthn: Webauthn,
    state: PasskeyRegistration,
    challenge: String,
    settings: WebauthnSettings,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let settings = WebauthnSettings::default();
        let webauthn = relying_party(&settings).expect("relying party");
        let (ccr, state) = webauthn
            .start_passkey_registration(Uuid::from_u128(1), "alice@example.com", "Alice", None)
            .expect("registration");
        let options = serde_json::to_value(&ccr).expect("options");
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("challenge")
            .to_owned();
        Fixture {
            webauthn,
            state,
            challenge,
            settings,
        }
    })
}

#[derive(Debug, Arbitrary)]
enum Input<'a> {
    Json(&'a [u8]),
    Built(Built<'a>),
}

#[derive(Debug, Arbitrary)]
struct Built<'a> {
    client_data: ClientData<'a>,
    /// base64url with `=` padding instead of without.
    padded: bool,
    attestation: Attestation<'a>,
    id: &'a str,
    raw_id: &'a [u8],
    /// `public-key`, or this.
    type_: Option<&'a str>,
    transports: Option<Vec<&'a str>>,
    extensions: Option<Vec<(&'a str, bool)>>,
    /// Parse as an assertion too (with these parts as the response).
    assertion: Option<Assertion<'a>>,
}

#[derive(Debug, Arbitrary)]
enum ClientData<'a> {
    Raw(&'a [u8]),
    Fields {
        /// `webauthn.create`, `webauthn.get`, or this.
        type_: Option<Option<&'a str>>,
        challenge: Challenge<'a>,
        /// Ours, or this.
        origin: Option<&'a str>,
        cross_origin: Option<bool>,
        extra: Vec<(&'a str, &'a str)>,
    },
}

#[derive(Debug, Arbitrary)]
enum Challenge<'a> {
    Ours,
    OursPadded,
    Other(&'a str),
    Number(i64),
    Missing,
}

#[derive(Debug, Arbitrary)]
enum Attestation<'a> {
    Raw(&'a [u8]),
    Cbor {
        /// `none`, `packed`, or this.
        fmt: Option<Option<&'a str>>,
        att_stmt: Vec<(&'a str, &'a [u8])>,
        auth_data: AuthData<'a>,
    },
}

#[derive(Debug, Arbitrary)]
enum AuthData<'a> {
    Raw(&'a [u8]),
    Parts {
        our_rp_hash: bool,
        flags: u8,
        counter: u32,
        aaguid: [u8; 16],
        cred_id: &'a [u8],
        key: CoseKey<'a>,
        extensions: Option<&'a [u8]>,
        trailing: &'a [u8],
    },
}

#[derive(Debug, Arbitrary)]
enum CoseKey<'a> {
    Raw(&'a [u8]),
    /// kty 2 (EC2), alg, crv, x, y.
    Ec2 {
        alg: i8,
        crv: u8,
        x: [u8; 32],
        y: [u8; 32],
    },
    /// kty 1 (OKP), alg, crv, x.
    Okp {
        alg: i8,
        crv: u8,
        x: &'a [u8],
    },
}

#[derive(Debug, Arbitrary)]
struct Assertion<'a> {
    authenticator_data: &'a [u8],
    signature: &'a [u8],
    user_handle: Option<&'a [u8]>,
}

// --- a little CBOR encoder ---
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}
fn int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        head(out, 0, i as u64)
    } else {
        head(out, 1, (-1 - i) as u64)
    }
}
fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}
fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn cose(key: &CoseKey) -> Vec<u8> {
    let mut out = Vec::new();
    match key {
        CoseKey::Raw(r) => out.extend_from_slice(r),
        CoseKey::Ec2 { alg, crv, x, y } => {
            head(&mut out, 5, 5);
            int(&mut out, 1);
            int(&mut out, 2);
            int(&mut out, 3);
            int(&mut out, i64::from(*alg));
            int(&mut out, -1);
            int(&mut out, i64::from(*crv));
            int(&mut out, -2);
            bytes(&mut out, x);
            int(&mut out, -3);
            bytes(&mut out, y);
        }
        CoseKey::Okp { alg, crv, x } => {
            head(&mut out, 5, 4);
            int(&mut out, 1);
            int(&mut out, 1);
            int(&mut out, 3);
            int(&mut out, i64::from(*alg));
            int(&mut out, -1);
            int(&mut out, i64::from(*crv));
            int(&mut out, -2);
            bytes(&mut out, x);
        }
    }
    out
}

fn auth_data(a: &AuthData, rp_id: &str) -> (Vec<u8>, Option<Vec<u8>>) {
    match a {
        AuthData::Raw(r) => (r.to_vec(), None),
        AuthData::Parts {
            our_rp_hash,
            flags,
            counter,
            aaguid,
            cred_id,
            key,
            extensions,
            trailing,
        } => {
            let mut out = Vec::new();
            if *our_rp_hash {
                out.extend_from_slice(&Sha256::digest(rp_id.as_bytes()));
            } else {
                out.extend_from_slice(&Sha256::digest(b"evil.example"));
            }
            out.push(*flags);
            out.extend(counter.to_be_bytes());
            out.extend_from_slice(aaguid);
            out.extend((cred_id.len().min(0xffff) as u16).to_be_bytes());
            out.extend_from_slice(cred_id);
            out.extend(cose(key));
            if let Some(e) = extensions {
                out.extend_from_slice(e);
            }
            out.extend_from_slice(trailing);
            (out, Some(cred_id.to_vec()))
        }
    }
}

fn b64(b: &[u8], padded: bool) -> String {
    if padded {
        URL_SAFE.encode(b)
    } else {
        URL_SAFE_NO_PAD.encode(b)
    }
}

/// Parse, serialise, parse, serialise: the two serialisations agree.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Option<T> {
    let parsed: T = serde_json::from_value(v.clone()).ok()?;
    let once = serde_json::to_value(&parsed).expect("serialise");
    let again: T = serde_json::from_value(once.clone()).expect("parse back");
    assert_eq!(serde_json::to_value(&again).expect("serialise"), once);
    Some(parsed)
}

fn check(credential: &Value) {
    let f = fixture();
    match echoed_challenge(credential) {
        Ok(c) => {
            assert!(!c.ends_with('='));
            assert!(c.len() <= 128);
            // It is the clientDataJSON's challenge, less its padding.
            let raw = credential
                .pointer("/response/clientDataJSON")
                .and_then(Value::as_str)
                .expect("clientDataJSON");
            let decoded = URL_SAFE_NO_PAD
                .decode(raw.trim_end_matches('='))
                .expect("base64");
            let client: Value = serde_json::from_slice(&decoded).expect("json");
            let echoed = client["challenge"].as_str().expect("challenge");
            assert_eq!(echoed.trim_end_matches('='), c);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    if let Some(reg) = round_trip::<RegisterPublicKeyCredential>(credential) {
        if let Ok(passkey) = f.webauthn.finish_passkey_registration(&reg, &f.state) {
            let _ = serde_json::to_string(&passkey).expect("a passkey serialises");
            // webauthn-rs refuses credentials whose echoed challenge is not ours, so a
            // finished registration echoes ours (byte for byte; the ceremony lookup
            // then compares the text).
            let echoed = echoed_challenge(credential).expect("an echoed challenge");
            let decode = |s: &str| {
                URL_SAFE_NO_PAD
                    .decode(s)
                    .or_else(|_| STANDARD_NO_PAD.decode(s))
                    .ok()
            };
            let ours = decode(f.challenge.trim_end_matches('='));
            assert!(ours.is_some());
            assert_eq!(decode(&echoed), ours);
        }
    }
    if let Some(assertion) = round_trip::<PublicKeyCredential>(credential) {
        let _ = f.webauthn.identify_discoverable_authentication(&assertion);
    }
}

fn build(b: &Built) -> Value {
    let f = fixture();
    let client_data: Vec<u8> = match &b.client_data {
        ClientData::Raw(r) => r.to_vec(),
        ClientData::Fields {
            type_,
            challenge,
            origin,
            cross_origin,
            extra,
        } => {
            let mut m = serde_json::Map::new();
            for (k, v) in extra.iter().take(8) {
                m.insert((*k).to_owned(), json!(v));
            }
            m.insert(
                "type".into(),
                json!(match type_ {
                    None => "webauthn.create",
                    Some(None) => "webauthn.get",
                    Some(Some(t)) => t,
                }),
            );
            match challenge {
                Challenge::Ours => {
                    m.insert("challenge".into(), json!(f.challenge));
                }
                Challenge::OursPadded => {
                    m.insert("challenge".into(), json!(format!("{}==", f.challenge)));
                }
                Challenge::Other(c) => {
                    m.insert("challenge".into(), json!(c));
                }
                Challenge::Number(n) => {
                    m.insert("challenge".into(), json!(n));
                }
                Challenge::Missing => {}
            }
            m.insert(
                "origin".into(),
                json!(origin.unwrap_or(f.settings.origin.as_str())),
            );
            if let Some(c) = cross_origin {
                m.insert("crossOrigin".into(), json!(c));
            }
            serde_json::to_vec(&Value::Object(m)).expect("json")
        }
    };
    let attestation = match &b.attestation {
        Attestation::Raw(r) => r.to_vec(),
        Attestation::Cbor {
            fmt,
            att_stmt,
            auth_data: a,
        } => {
            let (data, _) = auth_data(a, &f.settings.rp_id);
            let mut out = Vec::new();
            head(&mut out, 5, 3);
            text(&mut out, "fmt");
            text(
                &mut out,
                match fmt {
                    None => "none",
                    Some(None) => "packed",
                    Some(Some(s)) => s,
                },
            );
            text(&mut out, "attStmt");
            let stmt: Vec<_> = att_stmt.iter().take(4).collect();
            head(&mut out, 5, stmt.len() as u64);
            for (k, v) in stmt {
                text(&mut out, k);
                bytes(&mut out, v);
            }
            text(&mut out, "authData");
            bytes(&mut out, &data);
            out
        }
    };
    let mut response = json!({
        "attestationObject": b64(&attestation, b.padded),
        "clientDataJSON": b64(&client_data, b.padded),
    });
    if let Some(t) = &b.transports {
        response["transports"] = json!(t);
    }
    if let Some(a) = &b.assertion {
        response["authenticatorData"] = json!(b64(a.authenticator_data, b.padded));
        response["signature"] = json!(b64(a.signature, b.padded));
        if let Some(h) = a.user_handle {
            response["userHandle"] = json!(b64(h, b.padded));
        }
    }
    let mut credential = json!({
        "id": b.id,
        "rawId": b64(b.raw_id, b.padded),
        "type": b.type_.unwrap_or("public-key"),
        "response": response,
    });
    if let Some(ext) = &b.extensions {
        let m: serde_json::Map<String, Value> = ext
            .iter()
            .take(8)
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        credential["clientExtensionResults"] = Value::Object(m);
    }
    credential
}

fuzz_target!(|input: Input| {
    match input {
        Input::Json(bytes) => {
            if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
                check(&v);
            }
        }
        Input::Built(b) => check(&build(&b)),
    }
});
