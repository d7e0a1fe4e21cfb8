//! Local stand-ins for Google, Apple, X and GitHub, on one axum server at 127.0.0.1:0,
//! speaking what the real providers speak to a server:
//! - the JWKS of Google and Apple (`/google/jwks`, `/apple/jwks`), with key rotation;
//! - the OAuth 2.0 authorization-code flow with PKCE (RFC 6749, RFC 7636):
//!   `/{p}/authorize` answers 302 to the redirect URI with a one-time code, and
//!   `/{p}/token` checks the code, the redirect URI, the client, the client secret
//!   (Apple: the ES256 client-secret JWT made from the .p8 key) and the PKCE verifier,
//!   then answers an access token, plus an OpenID Connect ID token for Google and Apple;
//! - X's `GET /2/users/me` and GitHub's `GET /user` and `GET /user/emails`.
//!
//! Tests choose who signs in (`next_user`, `access_token`) and mint ID tokens with any
//! header and claims (`id_token`, `sign`) for the attack cases.
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use latchkey::config::Settings;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
pub const APPLE_ISSUER: &str = "https://appleid.apple.com";
/// The Apple developer team and the id of the .p8 key the server signs client secrets with.
pub const APPLE_TEAM_ID: &str = "TEAM123456";
pub const APPLE_KEY_ID: &str = "apple-p8";
/// The redirect URIs the server allows (exact match).
pub const REDIRECT_URI: &str = "https://app.example.com/oauth/callback";
pub const OTHER_REDIRECT_URI: &str = "com.example.app:/oauth2redirect";

const JWKS: &str = include_str!("fixtures/jwks.json");
const RSA1: &str = include_str!("fixtures/rsa1.pem");
const RSA2: &str = include_str!("fixtures/rsa2.pem");
const EC1: &str = include_str!("fixtures/ec1.pem");
const APPLE_P8: &str = include_str!("fixtures/apple-p8.pem");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Google,
    Apple,
    X,
    Github,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Google,
        Provider::Apple,
        Provider::X,
        Provider::Github,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Apple => "apple",
            Provider::X => "x",
            Provider::Github => "github",
        }
    }

    /// The GraphQL enum value (OAuthProvider).
    pub fn gql(self) -> &'static str {
        match self {
            Provider::Google => "GOOGLE",
            Provider::Apple => "APPLE",
            Provider::X => "X",
            Provider::Github => "GITHUB",
        }
    }

    /// The client ids the server is configured with (it accepts each as an audience).
    pub fn client_ids(self) -> &'static [&'static str] {
        match self {
            Provider::Google => &["google-web.apps.example", "google-ios.apps.example"],
            Provider::Apple => &["com.example.web", "com.example.ios"],
            Provider::X => &["x-client-id"],
            Provider::Github => &["github-client-id"],
        }
    }

    /// The client id of the web flow (and the audience of default ID tokens).
    pub fn client_id(self) -> &'static str {
        self.client_ids()[0]
    }

    /// The client secret (Apple's is a JWT the server makes; this one is not used).
    pub fn client_secret(self) -> &'static str {
        match self {
            Provider::Google => "google-secret",
            Provider::Apple => "apple-unused-secret",
            Provider::X => "x-secret",
            Provider::Github => "github-secret",
        }
    }

    pub fn issuer(self) -> &'static str {
        match self {
            Provider::Google => GOOGLE_ISSUER,
            Provider::Apple => APPLE_ISSUER,
            Provider::X | Provider::Github => "",
        }
    }

    /// The key default ID tokens are signed with.
    pub fn signing_key(self) -> Key {
        match self {
            Provider::Apple => Key::Ec1,
            _ => Key::Rsa1,
        }
    }
}

/// The fixture keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Rsa1,
    Rsa2,
    Ec1,
    AppleP8,
}

impl Key {
    pub fn kid(self) -> &'static str {
        match self {
            Key::Rsa1 => "rsa1",
            Key::Rsa2 => "rsa2",
            Key::Ec1 => "ec1",
            Key::AppleP8 => "apple-p8",
        }
    }

    pub fn alg(self) -> Algorithm {
        match self {
            Key::Rsa1 | Key::Rsa2 => Algorithm::RS256,
            Key::Ec1 | Key::AppleP8 => Algorithm::ES256,
        }
    }

    pub fn encoding(self) -> EncodingKey {
        match self {
            Key::Rsa1 => EncodingKey::from_rsa_pem(RSA1.as_bytes()),
            Key::Rsa2 => EncodingKey::from_rsa_pem(RSA2.as_bytes()),
            Key::Ec1 => EncodingKey::from_ec_pem(EC1.as_bytes()),
            Key::AppleP8 => EncodingKey::from_ec_pem(APPLE_P8.as_bytes()),
        }
        .expect("fixture key")
    }

    /// The public JWK (from fixtures/jwks.json).
    pub fn jwk(self) -> Value {
        let all: Value = serde_json::from_str(JWKS).expect("jwks.json");
        all[self.kid()].clone()
    }

    /// The header a provider writes: alg and kid.
    pub fn header(self) -> Header {
        let mut h = Header::new(self.alg());
        h.kid = Some(self.kid().to_owned());
        h
    }
}

/// Signs `claims` with `key` under `header` (any alg/kid the test wants).
pub fn sign(key: Key, header: &Header, claims: &Value) -> String {
    jsonwebtoken::encode(header, claims, &key.encoding()).expect("sign")
}

/// base64url (no padding) of JSON.
pub fn b64_json(v: &Value) -> String {
    B64.encode(serde_json::to_vec(v).expect("json"))
}

/// The PEM (SubjectPublicKeyInfo) of an RSA fixture's public key, built from its JWK:
/// what an attacker has, to try it as an HMAC secret.
pub fn rsa_public_pem(key: Key) -> String {
    fn len(n: usize) -> Vec<u8> {
        if n < 0x80 {
            vec![n as u8]
        } else {
            let b: Vec<u8> = n
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            let mut out = vec![0x80 | b.len() as u8];
            out.extend(b);
            out
        }
    }
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend(len(body.len()));
        out.extend(body);
        out
    }
    fn uint(raw: &[u8]) -> Vec<u8> {
        let mut b: Vec<u8> = raw.iter().copied().skip_while(|b| *b == 0).collect();
        if b.first().is_none_or(|b| b & 0x80 != 0) {
            b.insert(0, 0);
        }
        tlv(0x02, &b)
    }
    let jwk = key.jwk();
    let n = B64.decode(jwk["n"].as_str().expect("n")).expect("n b64");
    let e = B64.decode(jwk["e"].as_str().expect("e")).expect("e b64");
    let rsa_key = tlv(0x30, &[uint(&n), uint(&e)].concat());
    let algo = tlv(
        0x30,
        &[
            tlv(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    let bits = tlv(0x03, &[vec![0], rsa_key].concat());
    let der = tlv(0x30, &[algo, bits].concat());
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

pub fn now() -> i64 {
    latchkey::clock::now()
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A GitHub address as `GET /user/emails` lists it.
#[derive(Debug, Clone)]
pub struct GithubEmail {
    pub email: String,
    pub primary: bool,
    pub verified: bool,
}

/// Someone with an account at a provider.
#[derive(Debug, Clone, Default)]
pub struct Person {
    /// The subject: Google/Apple `sub`, X user id, GitHub numeric id.
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// Google's given_name; X's and GitHub's name.
    pub name: Option<String>,
    /// X's username, GitHub's login.
    pub username: String,
    /// GitHub's `/user/emails`; empty: `email` as the one primary address.
    pub github_emails: Vec<GithubEmail>,
}

/// Someone with subject `sub` (and no email yet).
pub fn person(sub: &str) -> Person {
    Person {
        sub: sub.to_owned(),
        username: format!("user{sub}"),
        ..Person::default()
    }
}

impl Person {
    pub fn email(mut self, email: &str, verified: bool) -> Self {
        self.email = Some(email.to_owned());
        self.email_verified = verified;
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    pub fn github_email(mut self, email: &str, primary: bool, verified: bool) -> Self {
        self.github_emails.push(GithubEmail {
            email: email.to_owned(),
            primary,
            verified,
        });
        self
    }

    fn emails(&self) -> Vec<Value> {
        let list = if self.github_emails.is_empty() {
            self.email
                .iter()
                .map(|e| GithubEmail {
                    email: e.clone(),
                    primary: true,
                    verified: self.email_verified,
                })
                .collect()
        } else {
            self.github_emails.clone()
        };
        list.into_iter()
            .map(|e| {
                json!({
                    "email": e.email,
                    "primary": e.primary,
                    "verified": e.verified,
                    "visibility": if e.primary { json!("private") } else { Value::Null },
                })
            })
            .collect()
    }
}

/// One request the server made to `/{p}/authorize` (really the test's browser).
#[derive(Debug, Clone)]
pub struct Authorization {
    pub provider: Provider,
    pub params: HashMap<String, String>,
}

/// One request the server made to `/{p}/token`.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub provider: Provider,
    pub form: HashMap<String, String>,
    /// The client authenticated with HTTP Basic (else in the form body).
    pub basic_auth: bool,
}

/// A one-time authorization code.
struct Grant {
    provider: Provider,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    person: Person,
    used: bool,
}

#[derive(Default)]
struct Inner {
    rsa2_published: bool,
    jwks_fetches: usize,
    next: HashMap<Provider, Person>,
    authorizations: Vec<Authorization>,
    token_requests: Vec<TokenRequest>,
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, (Provider, Person)>,
    /// Access tokens issued to some other app (GitHub's application check refuses them).
    foreign: HashSet<String>,
    /// Providers whose user endpoints answer 503.
    broken: HashSet<Provider>,
    /// When set, ID tokens from the token endpoint carry this nonce.
    id_token_nonce: Option<String>,
}

/// The stand-in server. Clones share its state.
#[derive(Clone)]
pub struct Providers {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Providers {
    pub async fn start() -> Providers {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stand-in");
        let idp = Providers {
            addr: listener.local_addr().expect("addr"),
            inner: Arc::default(),
        };
        let mut router = Router::new()
            .route("/x/2/users/me", get(x_me))
            .route("/github/user", get(github_user))
            .route("/github/user/emails", get(github_emails))
            .route(
                "/github/applications/{client_id}/token",
                post(github_check_token),
            );
        for p in Provider::ALL {
            let name = p.as_str();
            router = router
                .route(
                    &format!("/{name}/authorize"),
                    get(
                        move |s: State<Providers>, q: Query<HashMap<String, String>>| {
                            authorize(s.0, p, q.0)
                        },
                    ),
                )
                .route(
                    &format!("/{name}/token"),
                    post(
                        move |s: State<Providers>,
                              h: HeaderMap,
                              f: Form<HashMap<String, String>>| {
                            token(s.0, p, h, f.0)
                        },
                    ),
                );
            if matches!(p, Provider::Google | Provider::Apple) {
                router = router.route(
                    &format!("/{name}/jwks"),
                    get(|s: State<Providers>| jwks(s.0)),
                );
            }
        }
        let router = router.with_state(idp.clone());
        tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        idp
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("stand-in state")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Points the server's four providers at this stand-in, with their client ids
    /// and secrets, and allows REDIRECT_URI and OTHER_REDIRECT_URI.
    pub fn configure(&self, s: &mut Settings) {
        s.oauth.redirect_uris = vec![REDIRECT_URI.to_owned(), OTHER_REDIRECT_URI.to_owned()];
        for p in Provider::ALL {
            let name = p.as_str();
            let c = match p {
                Provider::Google => &mut s.oauth.google,
                Provider::Apple => &mut s.oauth.apple,
                Provider::X => &mut s.oauth.x,
                Provider::Github => &mut s.oauth.github,
            };
            c.client_id = p.client_ids().join(",");
            c.client_secret = p.client_secret().to_owned().into();
            c.auth_url = self.url(&format!("/{name}/authorize"));
            c.token_url = self.url(&format!("/{name}/token"));
            match p {
                Provider::Google | Provider::Apple => {
                    c.issuer = p.issuer().to_owned();
                    c.jwks_url = self.url(&format!("/{name}/jwks"));
                }
                Provider::X => c.userinfo_url = self.url("/x/2/users/me"),
                Provider::Github => c.api_url = self.url("/github"),
            }
        }
        s.oauth.apple.team_id = APPLE_TEAM_ID.to_owned();
        s.oauth.apple.key_id = APPLE_KEY_ID.to_owned();
        s.oauth.apple.private_key = APPLE_P8.to_owned().into();
    }

    /// Who signs in at `p`'s authorization endpoint from now on.
    pub fn next_user(&self, p: Provider, who: Person) {
        self.lock().next.insert(p, who);
    }

    /// An access token for `who` at `p` (what an app gets from the provider's SDK).
    pub fn access_token(&self, p: Provider, who: Person) -> String {
        let t = format!("{}-at-{}", p.as_str(), random());
        self.lock().tokens.insert(t.clone(), (p, who));
        t
    }

    /// A token for `who` that another app obtained: it works at the user endpoints
    /// (as a real one would), but GitHub's application check says it is not ours.
    pub fn foreign_access_token(&self, p: Provider, who: Person) -> String {
        let t = self.access_token(p, who);
        self.lock().foreign.insert(t.clone());
        t
    }

    /// Publishes rsa2 in both JWKS (a key rotation).
    pub fn rotate_in_rsa2(&self) {
        self.lock().rsa2_published = true;
    }

    /// How many times the JWKS were fetched (Google's and Apple's together).
    pub fn jwks_fetches(&self) -> usize {
        self.lock().jwks_fetches
    }

    /// Makes `p`'s user endpoints answer 503.
    pub fn break_api(&self, p: Provider) {
        self.lock().broken.insert(p);
    }

    /// Makes the token endpoint put this nonce in its ID tokens (not the one the
    /// authorization request carried).
    pub fn tamper_id_token_nonce(&self, nonce: &str) {
        self.lock().id_token_nonce = Some(nonce.to_owned());
    }

    pub fn authorizations(&self) -> Vec<Authorization> {
        self.lock().authorizations.clone()
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.lock().token_requests.clone()
    }

    /// The claims `p` puts in an ID token for `who` (Apple writes booleans as strings
    /// and hides addresses behind its private relay).
    pub fn claims(p: Provider, who: &Person) -> Value {
        let t = now();
        let mut c = json!({
            "iss": p.issuer(),
            "aud": p.client_id(),
            "sub": who.sub,
            "iat": t,
            "exp": t + 3600,
            "auth_time": t,
        });
        if let Some(e) = &who.email {
            c["email"] = json!(e);
            c["email_verified"] = match p {
                Provider::Apple => json!(who.email_verified.to_string()),
                _ => json!(who.email_verified),
            };
            if p == Provider::Apple {
                c["is_private_email"] = json!(e.ends_with("@privaterelay.appleid.com").to_string());
            }
        }
        if p == Provider::Google {
            c["azp"] = json!(p.client_id());
            if let Some(n) = &who.name {
                c["given_name"] = json!(n);
                c["name"] = json!(n);
            }
        }
        c
    }

    /// An ID token as `p` issues it: `claims` signed with `p`'s key (rsa1 / ec1).
    pub fn id_token(p: Provider, claims: &Value) -> String {
        let key = p.signing_key();
        sign(key, &key.header(), claims)
    }
}

fn error(status: StatusCode, code: &str, why: &str) -> Response {
    (
        status,
        Json(json!({ "error": code, "error_description": why })),
    )
        .into_response()
}

async fn jwks(idp: Providers) -> Json<Value> {
    let mut st = idp.lock();
    st.jwks_fetches += 1;
    let mut keys = vec![Key::Rsa1.jwk(), Key::Ec1.jwk()];
    if st.rsa2_published {
        keys.push(Key::Rsa2.jwk());
    }
    Json(json!({ "keys": keys }))
}

async fn authorize(idp: Providers, p: Provider, q: HashMap<String, String>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let mut st = idp.lock();
    st.authorizations.push(Authorization {
        provider: p,
        params: q.clone(),
    });
    let bad = |why: &str| (StatusCode::BAD_REQUEST, why.to_owned()).into_response();
    if get("response_type") != "code" {
        return bad("response_type must be code");
    }
    if !p.client_ids().contains(&get("client_id").as_str()) {
        return bad("unknown client_id");
    }
    let redirect = get("redirect_uri");
    if redirect.is_empty() || get("state").is_empty() {
        return bad("redirect_uri and state are required");
    }
    if get("code_challenge").is_empty() || get("code_challenge_method") != "S256" {
        return bad("PKCE S256 is required");
    }
    let Some(who) = st.next.get(&p).cloned() else {
        return bad("the test set no next_user for this provider");
    };
    let code = format!("{}-code-{}", p.as_str(), random());
    st.grants.insert(
        code.clone(),
        Grant {
            provider: p,
            client_id: get("client_id"),
            redirect_uri: redirect.clone(),
            code_challenge: get("code_challenge"),
            nonce: q.get("nonce").cloned(),
            person: who,
            used: false,
        },
    );
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &code)
        .append_pair("state", &get("state"))
        .finish();
    let sep = if redirect.contains('?') { '&' } else { '?' };
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("{redirect}{sep}{query}"))],
    )
        .into_response()
}

/// The client of a token request: HTTP Basic (each part form-urlencoded, RFC 6749
/// 2.3.1) or client_id/client_secret in the body. Returns (id, secret, basic).
fn client_of(h: &HeaderMap, form: &HashMap<String, String>) -> Option<(String, String, bool)> {
    if let Some(v) = h.get(header::AUTHORIZATION) {
        let raw = v.to_str().ok()?.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(raw.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let unform = |s: &str| {
            url::form_urlencoded::parse(format!("v={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        return Some((unform(id), unform(secret), true));
    }
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
        false,
    ))
}

/// Apple's client secret: an ES256 JWT signed with the team's .p8 key.
fn apple_client_secret_ok(secret: &str, client_id: &str) -> Result<(), String> {
    let header = jsonwebtoken::decode_header(secret).map_err(|e| format!("header: {e}"))?;
    if header.alg != Algorithm::ES256 {
        return Err("client secret must be ES256".into());
    }
    if header.kid.as_deref() != Some(APPLE_KEY_ID) {
        return Err(format!("client secret kid {:?}", header.kid));
    }
    let jwk = Key::AppleP8.jwk();
    let key = DecodingKey::from_ec_components(
        jwk["x"].as_str().expect("x"),
        jwk["y"].as_str().expect("y"),
    )
    .map_err(|e| e.to_string())?;
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&[APPLE_ISSUER]);
    v.set_issuer(&[APPLE_TEAM_ID]);
    v.set_required_spec_claims(&["iss", "sub", "aud", "exp", "iat"]);
    v.sub = Some(client_id.to_owned());
    let claims = jsonwebtoken::decode::<Value>(secret, &key, &v)
        .map_err(|e| format!("client secret: {e}"))?
        .claims;
    let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
    match (iat, exp) {
        (Some(iat), Some(exp)) if iat <= now() + 60 && exp > now() && exp - iat <= 15_777_000 => {
            Ok(())
        }
        _ => Err(format!("client secret times: iat {iat:?} exp {exp:?}")),
    }
}

async fn token(
    idp: Providers,
    p: Provider,
    h: HeaderMap,
    form: HashMap<String, String>,
) -> Response {
    let client = client_of(&h, &form);
    let mut st = idp.lock();
    st.token_requests.push(TokenRequest {
        provider: p,
        form: form.clone(),
        basic_auth: client.as_ref().is_some_and(|c| c.2),
    });
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code",
        );
    }
    let Some((client_id, secret, basic)) = client else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "no client credentials",
        );
    };
    let client_ok = match p {
        // Apple takes the client in the body only, its secret a JWT.
        Provider::Apple if basic => {
            Err("Apple wants client_id and client_secret in the body".into())
        }
        Provider::Apple => apple_client_secret_ok(&secret, &client_id),
        _ if secret == p.client_secret() => Ok(()),
        _ => Err("wrong client secret".to_owned()),
    };
    if let Err(why) = client_ok {
        return error(StatusCode::UNAUTHORIZED, "invalid_client", &why);
    }
    let id_token_nonce = st.id_token_nonce.clone();
    let Some(grant) = st.grants.get_mut(&get("code")) else {
        return error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
    };
    if grant.used {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code already used",
        );
    }
    grant.used = true;
    if grant.provider != p || grant.client_id != client_id {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code of another client",
        );
    }
    if grant.redirect_uri != get("redirect_uri") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri mismatch",
        );
    }
    let verifier = get("code_verifier");
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    if verifier.len() < 43 || verifier.len() > 128 || challenge != grant.code_challenge {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code_verifier does not match code_challenge",
        );
    }
    let (who, nonce, aud) = (
        grant.person.clone(),
        id_token_nonce.or_else(|| grant.nonce.clone()),
        grant.client_id.clone(),
    );
    let access = format!("{}-at-{}", p.as_str(), random());
    st.tokens.insert(access.clone(), (p, who.clone()));
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
    });
    if matches!(p, Provider::Google | Provider::Apple) {
        let mut claims = Providers::claims(p, &who);
        claims["aud"] = json!(aud);
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        body["id_token"] = json!(Providers::id_token(p, &claims));
        body["scope"] = json!("openid email");
    }
    Json(body).into_response()
}

/// A refusal of a provider API: a status and a JSON body.
type Refusal = (StatusCode, Json<Value>);

/// The person behind `Authorization: Bearer <t>` (GitHub also takes `token <t>`).
fn bearer(idp: &Providers, p: Provider, h: &HeaderMap) -> Result<Person, Refusal> {
    let st = idp.lock();
    if st.broken.contains(&p) {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "message": "upstream trouble" })),
        ));
    }
    let unauthorized = match p {
        Provider::X => json!({
            "title": "Unauthorized",
            "type": "about:blank",
            "status": 401,
            "detail": "Unauthorized",
        }),
        _ => json!({
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest",
            "status": "401",
        }),
    };
    let value = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = value.strip_prefix("Bearer ").or_else(|| {
        value
            .strip_prefix("token ")
            .filter(|_| p == Provider::Github)
    });
    match token.and_then(|t| st.tokens.get(t.trim())) {
        Some((issuer, who)) if *issuer == p => Ok(who.clone()),
        _ => Err((StatusCode::UNAUTHORIZED, Json(unauthorized))),
    }
}

async fn x_me(State(idp): State<Providers>, h: HeaderMap) -> Response {
    match bearer(&idp, Provider::X, &h) {
        Ok(who) => {
            let name = who.name.unwrap_or_else(|| who.username.clone());
            Json(json!({ "data": { "id": who.sub, "name": name, "username": who.username } }))
                .into_response()
        }
        Err(r) => r.into_response(),
    }
}

/// GitHub refuses API requests without a User-Agent.
fn github_gate(idp: &Providers, h: &HeaderMap) -> Result<Person, Refusal> {
    if !h.contains_key(header::USER_AGENT) {
        return Err((
            StatusCode::FORBIDDEN,
            Json(json!({
                "message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
            })),
        ));
    }
    bearer(idp, Provider::Github, h)
}

async fn github_user(State(idp): State<Providers>, h: HeaderMap) -> Response {
    match github_gate(&idp, &h) {
        Ok(who) => Json(json!({
            "id": who.sub.parse::<u64>().expect("GitHub ids are numbers"),
            "login": who.username,
            "name": who.name,
            "email": null,
            "type": "User",
        }))
        .into_response(),
        Err(r) => r.into_response(),
    }
}

async fn github_emails(State(idp): State<Providers>, h: HeaderMap) -> Response {
    match github_gate(&idp, &h) {
        Ok(who) => Json(Value::Array(who.emails())).into_response(),
        Err(r) => r.into_response(),
    }
}

/// GitHub's "check a token" API: POST /applications/{client_id}/token with the app's
/// client id and secret as Basic auth; 200 when the token belongs to this app, 404
/// otherwise.
async fn github_check_token(
    State(idp): State<Providers>,
    axum::extract::Path(client_id): axum::extract::Path<String>,
    h: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!(
            "{}:{}",
            Provider::Github.client_ids()[0],
            Provider::Github.client_secret()
        ))
    );
    let auth = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if client_id != Provider::Github.client_ids()[0] || auth != expected {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "message": "Requires authentication" })),
        )
            .into_response();
    }
    let token = body["access_token"].as_str().unwrap_or("");
    let st = idp.lock();
    match st.tokens.get(token) {
        Some((Provider::Github, who)) if !st.foreign.contains(token) => Json(json!({
            "id": 1,
            "token": token,
            "app": { "client_id": client_id },
            "user": { "id": who.sub.parse::<u64>().unwrap_or(0), "login": who.username },
        }))
        .into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Not Found" })),
        )
            .into_response(),
    }
}
