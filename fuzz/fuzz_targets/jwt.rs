//! Access-token verification (`latchkey::idm::tokens::KeyStore::verify`) on arbitrary
//! input, over a store holding one known Ed25519 key in an in-memory SQLite database
//! (`KeyStore::from_key`), so a token naming an unknown `kid` takes the real reload path.
//!
//! Three kinds of input:
//! - `Raw`: any text as a token (and `jsonwebtoken::decode_header` on it).
//! - `Built`: a token whose header and claims are JSON objects assembled key by key
//!   from a complete, valid set, with keys replaced, added (duplicates included) or
//!   removed and values of any JSON type; its signature is ours, another key's, garbage
//!   or ours with a byte flipped; its parts encoded canonically or not. The signature
//!   is real, so the claim checks are reached, not only the base64 and signature layers.
//! - `Mutated`: a token issued by `KeyStore::issue` for an arbitrary subject, with bytes
//!   overwritten.
//!
//! Invariants: never panics; a token that verifies has alg EdDSA, our kid, our signature,
//! every occurrence of `iss`/`aud`/`typ` exactly ours/"access", fresh `exp`/`nbf`/`iat`
//! (10 s leeway) and a known role, and the subject is what its claims say; the complete
//! valid token verifies; an issued token verifies to its subject; a mutated issued token
//! either fails or verifies to the very same subject.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};
use jsonwebtoken::Algorithm;
use latchkey::config::TokenSettings;
use latchkey::domain::Role;
use latchkey::idm::tokens::{KeyStore, TokenSubject};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const LEEWAY: i64 = 10;
/// `now` is this plus a u32: 2001 to 2137 (the server's clock, never the caller's).
const BASE_NOW: i64 = 1_000_000_000;

struct Fixture {
    store: KeyStore,
    key: SigningKey,
    other: SigningKey,
    kid: String,
    settings: TokenSettings,
    rt: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = SigningKey::from_bytes(&[7; 32]);
        let settings = TokenSettings::default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let store = rt
            .block_on(async {
                let db = latchkey::store::memory().await?;
                KeyStore::from_key(db, &key, settings.clone(), BASE_NOW).await
            })
            .expect("key store");
        let kid = store.jwks()["keys"][0]["kid"]
            .as_str()
            .expect("kid")
            .to_owned();
        Fixture {
            store,
            key,
            other: SigningKey::from_bytes(&[8; 32]),
            kid,
            settings,
            rt,
        }
    })
}

#[derive(Debug, Arbitrary)]
enum Input<'a> {
    Raw { token: &'a str, now: u32 },
    Built(Built<'a>),
    Mutated(Mutated<'a>),
}

#[derive(Debug, Arbitrary)]
struct Built<'a> {
    now: u32,
    header: Vec<Op<'a, HKey<'a>>>,
    claims: Vec<Op<'a, CKey<'a>>>,
    signature: Sig,
    header_encoding: Encoding,
    payload_encoding: Encoding,
}

#[derive(Debug, Arbitrary)]
struct Mutated<'a> {
    now: u32,
    user_id: &'a str,
    session_id: &'a str,
    tenant_id: &'a str,
    role: u8,
    amr: Vec<&'a str>,
    edits: Vec<(u16, u8)>,
}

#[derive(Debug, Arbitrary)]
enum Op<'a, K> {
    /// Replace the first entry with this key (append if none).
    Set(K, Val<'a>),
    /// Append, duplicating the key if present.
    Add(K, Val<'a>),
    Remove(K),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum HKey<'a> {
    Alg,
    Kid,
    Typ,
    Cty,
    Jku,
    Jwk,
    X5u,
    X5c,
    Crit,
    Enc,
    Other(&'a str),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum CKey<'a> {
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    Jti,
    Sid,
    Tid,
    Role,
    Amr,
    Typ,
    Other(&'a str),
}

/// A JSON value; `Good` is the value that passes for its key.
#[derive(Debug, Arbitrary)]
enum Val<'a> {
    Good,
    Str(&'a str),
    Int(i64),
    /// `now` plus this.
    RelTime(i32),
    Float(f64),
    Bool(bool),
    Null,
    Arr(Vec<Val<'a>>),
    Obj(Vec<(&'a str, Val<'a>)>),
    Alg(AlgName),
    Role(u8),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum AlgName {
    EdDsa,
    Hs256,
    Rs256,
    Es256,
    Ps256,
    None,
    LowerEdDsa,
}

#[derive(Debug, Arbitrary)]
enum Sig {
    Ours,
    OtherKey,
    Garbage(Vec<u8>),
    Flipped(u8, u8),
    Empty,
}

#[derive(Debug, Clone, Copy, PartialEq, Arbitrary)]
enum Encoding {
    UrlNoPad,
    UrlPad,
    Standard,
}

fn header_name(k: HKey) -> String {
    match k {
        HKey::Alg => "alg",
        HKey::Kid => "kid",
        HKey::Typ => "typ",
        HKey::Cty => "cty",
        HKey::Jku => "jku",
        HKey::Jwk => "jwk",
        HKey::X5u => "x5u",
        HKey::X5c => "x5c",
        HKey::Crit => "crit",
        HKey::Enc => "enc",
        HKey::Other(s) => s,
    }
    .to_owned()
}

fn claim_name(k: CKey) -> String {
    match k {
        CKey::Iss => "iss",
        CKey::Sub => "sub",
        CKey::Aud => "aud",
        CKey::Exp => "exp",
        CKey::Nbf => "nbf",
        CKey::Iat => "iat",
        CKey::Jti => "jti",
        CKey::Sid => "sid",
        CKey::Tid => "tid",
        CKey::Role => "role",
        CKey::Amr => "amr",
        CKey::Typ => "typ",
        CKey::Other(s) => s,
    }
    .to_owned()
}

/// The passing value for each key.
fn good(name: &str, now: i64) -> Value {
    let f = fixture();
    match name {
        "alg" => json!("EdDSA"),
        "kid" => json!(f.kid),
        "iss" => json!(f.settings.issuer),
        "aud" => json!(f.settings.audience),
        "exp" => json!(now + 3600),
        "nbf" | "iat" => json!(now),
        "sub" => json!("user-1"),
        "sid" => json!("session-1"),
        "tid" => json!("cust_0123456789ab"),
        "jti" => json!("jti-1"),
        "role" => json!("USER"),
        "amr" => json!(["pwd"]),
        _ => json!("x"),
    }
}

fn value(v: &Val, name: &str, now: i64, header: bool, depth: u8) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    match v {
        // `typ` passes as "at+jwt" in the header and "access" in the claims.
        Val::Good if name == "typ" => json!(if header { "at+jwt" } else { "access" }),
        Val::Good => good(name, now),
        Val::Str(s) => json!(s),
        Val::Int(i) => json!(i),
        Val::RelTime(d) => json!(now + i64::from(*d)),
        Val::Float(x) => serde_json::Number::from_f64(*x)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Val::Bool(b) => json!(b),
        Val::Null => Value::Null,
        Val::Arr(items) => Value::Array(
            items
                .iter()
                .map(|i| value(i, name, now, header, depth + 1))
                .collect(),
        ),
        Val::Obj(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, i)| ((*k).to_owned(), value(i, k, now, header, depth + 1)))
                .collect(),
        ),
        Val::Alg(a) => json!(match a {
            AlgName::EdDsa => "EdDSA",
            AlgName::Hs256 => "HS256",
            AlgName::Rs256 => "RS256",
            AlgName::Es256 => "ES256",
            AlgName::Ps256 => "PS256",
            AlgName::None => "none",
            AlgName::LowerEdDsa => "eddsa",
        }),
        Val::Role(r) => json!(["USER", "developer", "Admin", "ROOT", "", "user "][*r as usize % 6]),
    }
}

/// Applies the ops to an ordered list of entries (duplicates allowed).
fn apply<K: Copy>(
    entries: &mut Vec<(String, Value)>,
    ops: &[Op<'_, K>],
    name: fn(K) -> String,
    now: i64,
    header: bool,
) {
    for op in ops.iter().take(32) {
        match op {
            Op::Set(k, v) => {
                let n = name(*k);
                let v = value(v, &n, now, header, 0);
                match entries.iter_mut().find(|(e, _)| *e == n) {
                    Some(e) => e.1 = v,
                    None => entries.push((n, v)),
                }
            }
            Op::Add(k, v) => {
                let n = name(*k);
                let v = value(v, &n, now, header, 0);
                entries.push((n, v));
            }
            Op::Remove(k) => {
                let n = name(*k);
                entries.retain(|(e, _)| *e != n);
            }
        }
    }
}

/// The object as JSON text, in order, duplicates kept.
fn object_text(entries: &[(String, Value)]) -> String {
    let fields: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{}", json!(k), v))
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn encode(bytes: &[u8], e: Encoding) -> String {
    match e {
        Encoding::UrlNoPad => URL_SAFE_NO_PAD.encode(bytes),
        Encoding::UrlPad => URL_SAFE.encode(bytes),
        Encoding::Standard => STANDARD.encode(bytes),
    }
}

fn all<'v>(entries: &'v [(String, Value)], name: &str) -> Vec<&'v Value> {
    entries
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v)
        .collect()
}

/// The one value of `name`, if it occurs exactly once.
fn one<'v>(entries: &'v [(String, Value)], name: &str) -> Option<&'v Value> {
    match all(entries, name).as_slice() {
        [v] => Some(*v),
        _ => None,
    }
}

fn verify(token: &str, now: i64) -> Option<TokenSubject> {
    let f = fixture();
    f.rt.block_on(f.store.verify(token, now))
}

/// What holds of any token that verifies.
fn check_accepted(token: &str, subject: &TokenSubject) {
    let f = fixture();
    let header = jsonwebtoken::decode_header(token).expect("a verified token has a header");
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(f.kid.as_str()));
    let _ = subject.role.as_str();
}

fn run_built(b: &Built) {
    let f = fixture();
    let now = BASE_NOW + i64::from(b.now);

    let mut header: Vec<(String, Value)> = ["alg", "kid", "typ"]
        .iter()
        .map(|n| (n.to_string(), value(&Val::Good, n, now, true, 0)))
        .collect();
    apply(&mut header, &b.header, header_name, now, true);
    let mut claims: Vec<(String, Value)> = [
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "tid", "role", "amr", "typ",
    ]
    .iter()
    .map(|n| (n.to_string(), value(&Val::Good, n, now, false, 0)))
    .collect();
    apply(&mut claims, &b.claims, claim_name, now, false);

    let message = format!(
        "{}.{}",
        encode(object_text(&header).as_bytes(), b.header_encoding),
        encode(object_text(&claims).as_bytes(), b.payload_encoding)
    );
    let signature: Vec<u8> = match &b.signature {
        Sig::Ours => f.key.sign(message.as_bytes()).to_bytes().to_vec(),
        Sig::OtherKey => f.other.sign(message.as_bytes()).to_bytes().to_vec(),
        Sig::Garbage(g) => g.clone(),
        Sig::Flipped(at, x) => {
            let mut s = f.key.sign(message.as_bytes()).to_bytes().to_vec();
            s[*at as usize % 64] ^= x | 1;
            s
        }
        Sig::Empty => Vec::new(),
    };
    let token = format!("{message}.{}", URL_SAFE_NO_PAD.encode(&signature));
    let _ = jsonwebtoken::decode_header(&token);

    let accepted = verify(&token, now);

    // What every accepted token satisfies.
    if let Some(s) = &accepted {
        check_accepted(&token, s);
        assert!(matches!(b.signature, Sig::Ours), "accepted a bad signature");
        let is = |name: &str, want: &Value| {
            let vs = all(&claims, name);
            !vs.is_empty() && vs.iter().all(|v| *v == want)
        };
        assert!(is("iss", &json!(f.settings.issuer)));
        assert!(is("aud", &json!(f.settings.audience)));
        assert!(is("typ", &json!("access")));
        let int = |name: &str| one(&claims, name).and_then(Value::as_i64).expect(name);
        assert!(int("exp") > now - LEEWAY);
        assert!(int("nbf") <= now + LEEWAY);
        assert!(int("iat") <= now + LEEWAY);
        assert!(int("exp") >= 0 && int("nbf") >= 0);
        let text = |name: &str| one(&claims, name).and_then(Value::as_str).expect(name);
        assert_eq!(s.user_id, text("sub"));
        assert_eq!(s.session_id, text("sid"));
        assert_eq!(s.tenant_id, text("tid"));
        assert_eq!(Ok(s.role), text("role").parse::<Role>());
        let amr: Vec<String> =
            serde_json::from_value(one(&claims, "amr").expect("amr").clone()).expect("amr");
        assert_eq!(s.amr, amr);
        let _ = text("jti");
        assert_eq!(one(&header, "alg"), Some(&json!("EdDSA")));
        assert_eq!(one(&header, "kid"), Some(&json!(f.kid)));
    }

    // The complete valid token (whatever the extra, unknown claims) must verify.
    let known = [
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "tid", "role", "amr", "typ",
    ];
    let header_ok = header.len() <= 3
        && one(&header, "alg") == Some(&json!("EdDSA"))
        && one(&header, "kid") == Some(&json!(f.kid))
        && header
            .iter()
            .all(|(k, _)| ["alg", "kid", "typ"].contains(&k.as_str()))
        && all(&header, "typ").len() <= 1
        && one(&header, "typ").is_none_or(Value::is_string);
    let fresh_u = |name: &str, ok: &dyn Fn(i64) -> bool| {
        one(&claims, name)
            .and_then(Value::as_i64)
            .is_some_and(|t| t >= 0 && ok(t))
    };
    let claims_ok = known.iter().all(|n| all(&claims, n).len() == 1)
        && one(&claims, "iss") == Some(&json!(f.settings.issuer))
        && one(&claims, "aud") == Some(&json!(f.settings.audience))
        && one(&claims, "typ") == Some(&json!("access"))
        && ["sub", "sid", "tid", "jti"]
            .iter()
            .all(|n| one(&claims, n).is_some_and(Value::is_string))
        && fresh_u("exp", &|t| t > now - LEEWAY)
        && fresh_u("nbf", &|t| t <= now + LEEWAY)
        && one(&claims, "iat")
            .and_then(Value::as_i64)
            .is_some_and(|t| t <= now + LEEWAY)
        && one(&claims, "role")
            .and_then(Value::as_str)
            .is_some_and(|r| r.parse::<Role>().is_ok())
        && one(&claims, "amr")
            .is_some_and(|a| serde_json::from_value::<Vec<String>>(a.clone()).is_ok());
    if header_ok
        && claims_ok
        && matches!(b.signature, Sig::Ours)
        && b.header_encoding == Encoding::UrlNoPad
        && b.payload_encoding == Encoding::UrlNoPad
    {
        assert!(accepted.is_some(), "refused a valid token: {token}");
    }
}

fn run_mutated(m: &Mutated) {
    let f = fixture();
    let now = BASE_NOW + i64::from(m.now);
    let subject = TokenSubject {
        user_id: m.user_id.to_owned(),
        session_id: m.session_id.to_owned(),
        tenant_id: m.tenant_id.to_owned(),
        role: [Role::User, Role::Developer, Role::Admin][m.role as usize % 3],
        amr: m.amr.iter().map(|s| (*s).to_owned()).collect(),
    };
    let token = f.store.issue(&subject, now).expect("issue");
    let same = |s: &TokenSubject| {
        s.user_id == subject.user_id
            && s.session_id == subject.session_id
            && s.tenant_id == subject.tenant_id
            && s.role == subject.role
            && s.amr == subject.amr
    };
    let back = verify(&token, now).expect("an issued token verifies");
    assert!(same(&back));
    // Past its lifetime (and the leeway) it no longer does.
    let ttl = f.store.access_ttl();
    assert!(verify(&token, now + ttl + LEEWAY).is_none());

    let mut bytes = token.into_bytes();
    for (at, b) in m.edits.iter().take(16) {
        let i = *at as usize % bytes.len();
        bytes[i] = *b;
    }
    let Ok(edited) = String::from_utf8(bytes) else {
        return;
    };
    let _ = jsonwebtoken::decode_header(&edited);
    if let Some(s) = verify(&edited, now) {
        check_accepted(&edited, &s);
        assert!(same(&s), "an edited token verified to another subject");
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw { token, now } => {
            let _ = jsonwebtoken::decode_header(token);
            if let Some(s) = verify(token, BASE_NOW + i64::from(now)) {
                check_accepted(token, &s);
            }
        }
        Input::Built(b) => run_built(&b),
        Input::Mutated(m) => run_mutated(&m),
    }
});
