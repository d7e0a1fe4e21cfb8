//! The one table of REST routes. Each row says what the route accepts (its `Rule`, as
//! the directives say it for a GraphQL field), how its errors are written, what it
//! reads and answers, and which handler serves it. The router (`super::router`), the
//! guard (`super::guard`) and the OpenAPI document (`super::openapi`) all read this
//! table and nothing else, so what is printed is what is enforced.
use std::borrow::Cow;

use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, ToSchema};

use super::failure::Family;
use super::{forward_auth, keys, tokenbot, torale, trucore, truvera};
use crate::domain::Scope;
use crate::http::AppState;
use crate::idm::auth::Rule;

/// A type's schema in the OpenAPI document: its name, itself, and the types it names.
#[derive(Clone, Copy)]
pub struct Doc {
    pub name: fn() -> Cow<'static, str>,
    pub schema: fn() -> RefOr<Schema>,
    pub nested: fn(&mut Vec<(String, RefOr<Schema>)>),
}

pub fn doc<T: ToSchema>() -> Doc {
    Doc {
        name: T::name,
        schema: T::schema,
        nested: T::schemas,
    }
}

/// What a route reads from its body.
#[derive(Clone, Copy)]
pub enum Input {
    /// Nothing: the body is not read.
    Nothing,
    Required(Doc),
    Optional(Doc),
}

/// What a route answers with 200.
#[derive(Clone, Copy)]
pub enum Output {
    One(Doc),
    List(Doc),
    /// An empty body; what matters is in the headers (forward auth).
    Headers(&'static [&'static str]),
}

pub struct Route {
    pub methods: &'static [Method],
    pub path: &'static str,
    pub family: Family,
    /// The credentials accepted: any one of them.
    pub rule: Rule,
    /// The service token may also come as `CERTS-TOKEN` (Truvera's header).
    pub certs_token: bool,
    pub input: Input,
    pub output: Output,
    pub query: Option<fn() -> Vec<Parameter>>,
    pub operation_id: &'static str,
    pub summary: &'static str,
    /// The source document the route comes from (the OpenAPI tag).
    pub tag: &'static str,
    pub handler: MethodRouter<AppState>,
}

impl Route {
    pub fn reads_body(&self) -> bool {
        !matches!(self.input, Input::Nothing)
    }
}

fn public() -> Rule {
    Rule {
        public: true,
        ..Rule::default()
    }
}

fn jwt() -> Rule {
    Rule {
        user_roles: Some(Vec::new()),
        ..Rule::default()
    }
}

fn jwt_or_key(scope: Option<Scope>) -> Rule {
    Rule {
        user_roles: Some(Vec::new()),
        key_scopes: Some(scope.into_iter().collect()),
        ..Rule::default()
    }
}

fn service() -> Rule {
    Rule {
        service: true,
        ..Rule::default()
    }
}

fn filter(methods: &[Method]) -> MethodFilter {
    methods
        .iter()
        .filter_map(|m| MethodFilter::try_from(m.clone()).ok())
        .reduce(MethodFilter::or)
        .unwrap_or(MethodFilter::GET)
}

const TRUCORE: &str = "TruCore";
const TORALE: &str = "Torale";
const TOKENBOT: &str = "TokenBot";
const TRUVERA: &str = "Truvera";
const FORWARD: &str = "Forward auth";

pub const FORWARD_HEADERS: &[&str] = &[
    "X-Latchkey-User-Id",
    "X-Latchkey-Tenant-Id",
    "X-Latchkey-Credential",
    "X-Latchkey-Key-Id",
    "X-Latchkey-Scopes",
    "X-Latchkey-Environment",
];

const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];
const PATCH: &[Method] = &[Method::PATCH];
const DELETE: &[Method] = &[Method::DELETE];
const ANY: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
];

/// Every REST route.
#[rustfmt::skip]
pub fn routes() -> Vec<Route> {
    use Family::{Coded, Detail, Forward};
    use Input::{Nothing, Optional, Required};
    use Output::{Headers, List, One};
    let row = |methods: &'static [Method],
               path: &'static str,
               (family, tag): (Family, &'static str),
               rule: Rule,
               (input, output): (Input, Output),
               (operation_id, summary): (&'static str, &'static str),
               handler: MethodRouter<AppState>| Route {
        methods,
        path,
        family,
        rule,
        certs_token: false,
        input,
        output,
        query: None,
        operation_id,
        summary,
        tag,
        handler,
    };
    let trucore = (Coded, TRUCORE);
    let torale = (Detail, TORALE);
    let tokenbot = (Coded, TOKENBOT);
    let truvera = (Coded, TRUVERA);
    let mut table = vec![
        row(POST, "/auth/signup", trucore, public(),
            (Required(doc::<trucore::SignupBody>()), One(doc::<trucore::SignedUp>())),
            ("signup", "Create an account (and its tenant) and sign it in"),
            on(filter(POST), trucore::signup)),
        row(POST, "/auth/login", trucore, public(),
            (Required(doc::<trucore::Credentials>()), One(doc::<trucore::LoggedIn>())),
            ("login", "Sign in with email and password"),
            on(filter(POST), trucore::login)),
        row(POST, "/auth/verify-email/request", trucore, jwt(),
            (Nothing, One(doc::<trucore::Sent>())),
            ("requestEmailVerification", "Email a verification link to the signed-in user"),
            on(filter(POST), trucore::request_verification)),
        row(POST, "/auth/verify-email/confirm", trucore, public(),
            (Required(doc::<trucore::TokenBody>()), One(doc::<trucore::EmailVerified>())),
            ("confirmEmailVerification", "Confirm an email address with the link's token"),
            on(filter(POST), trucore::confirm_verification)),
        row(GET, "/auth/verify-email/status", trucore, jwt(),
            (Nothing, One(doc::<trucore::VerificationStatus>())),
            ("emailVerificationStatus", "Whether the signed-in user's email is verified"),
            on(filter(GET), trucore::verification_status)),
        row(POST, "/auth/reset-password/request", trucore, public(),
            (Required(doc::<trucore::EmailBody>()), One(doc::<trucore::Sent>())),
            ("requestPasswordReset", "Email a reset link (the same answer whether or not the address is known)"),
            on(filter(POST), trucore::request_reset)),
        row(POST, "/auth/reset-password/confirm", trucore, public(),
            (Required(doc::<trucore::ResetBody>()), One(doc::<trucore::Reset>())),
            ("confirmPasswordReset", "Set a new password with the link's token"),
            on(filter(POST), trucore::confirm_reset)),
        row(POST, "/auth/reset-password/validate", trucore, public(),
            (Required(doc::<trucore::TokenBody>()), One(doc::<trucore::Valid>())),
            ("validatePasswordResetToken", "Whether a reset token can still be used"),
            on(filter(POST), trucore::validate_reset)),
        row(POST, "/customer/keys", trucore, jwt(),
            (Required(doc::<trucore::NewCustomerKey>()), One(doc::<trucore::CustomerKey>())),
            ("createCustomerKey", "Create a key; its secret is in this answer only"),
            on(filter(POST), keys::create::<trucore::NewCustomerKey, trucore::CustomerKey>)),
        row(GET, "/customer/keys", trucore, jwt(),
            (Nothing, List(doc::<trucore::CustomerKey>())),
            ("listCustomerKeys", "The keys of the caller's tenant the caller may see (all for its OWNERs and ADMINs), newest first"),
            on(filter(GET), trucore::list_keys)),
        row(POST, "/customer/keys/{key_id}/rotate", trucore, jwt(),
            (Nothing, One(doc::<trucore::CustomerKey>())),
            ("rotateCustomerKey", "A new secret with the same settings; the old key is revoked at once"),
            on(filter(POST), trucore::rotate_key)),
        row(POST, "/customer/keys/{key_id}/revoke", trucore, jwt(),
            (Nothing, One(doc::<trucore::CustomerKey>())),
            ("revokeCustomerKey", "Revoke a key"),
            on(filter(POST), trucore::revoke_key)),
        row(GET, "/auth/me", torale, jwt_or_key(Some(Scope::Read)),
            (Nothing, One(doc::<torale::ToraleUser>())),
            ("toraleMe", "The signed-in user, or the owner of the key"),
            on(filter(GET), torale::me)),
        row(POST, "/auth/mark-welcome-seen", torale, jwt(),
            (Nothing, One(doc::<torale::ToraleStatus>())),
            ("markWelcomeSeen", "Remember that the user has seen the welcome"),
            on(filter(POST), torale::mark_welcome_seen)),
        row(POST, "/auth/api-keys", torale, jwt(),
            (Required(doc::<torale::ToraleNewKey>()), One(doc::<torale::CreatedKey>())),
            ("toraleCreateKey", "Create a key (read and write); its secret is in this answer only"),
            on(filter(POST), torale::create_key)),
        row(GET, "/auth/api-keys", torale, jwt(),
            (Nothing, List(doc::<torale::KeyInfo>())),
            ("toraleListKeys", "The caller's keys, newest first"),
            on(filter(GET), keys::list::<torale::KeyInfo>)),
        row(DELETE, "/auth/api-keys/{id}", torale, jwt(),
            (Nothing, One(doc::<torale::ToraleStatus>())),
            ("toraleRevokeKey", "Revoke a key"),
            on(filter(DELETE), torale::revoke_key)),
        row(POST, "/v1/api-keys", tokenbot, jwt(),
            (Required(doc::<tokenbot::TokenBotNewKey>()), One(doc::<tokenbot::TokenBotKey>())),
            ("tokenbotCreateKey", "Create a key with scopes, environment, expiry and allowlist"),
            on(filter(POST), keys::create::<tokenbot::TokenBotNewKey, tokenbot::TokenBotKey>)),
        row(GET, "/v1/api-keys", tokenbot, jwt_or_key(Some(Scope::Read)),
            (Nothing, List(doc::<tokenbot::TokenBotKey>())),
            ("tokenbotListKeys", "The caller's keys, newest first"),
            on(filter(GET), keys::list::<tokenbot::TokenBotKey>)),
        row(DELETE, "/v1/api-keys/{id}", tokenbot, jwt_or_key(Some(Scope::Delete)),
            (Nothing, One(doc::<tokenbot::TokenBotDeleted>())),
            ("tokenbotDeleteKey", "Revoke a key and remove it from listings"),
            on(filter(DELETE), tokenbot::delete_key)),
        row(POST, "/v1/api-keys/{id}/rotate", tokenbot, jwt(),
            (Optional(doc::<tokenbot::TokenBotRotation>()), One(doc::<tokenbot::TokenBotKey>())),
            ("tokenbotRotateKey", "A new secret; the old key works for the grace period"),
            on(filter(POST), tokenbot::rotate_key)),
        Route {
            query: Some(|| truvera::TruveraPage::into_params(|| Some(ParameterIn::Query))),
            ..row(GET, "/keys", truvera, jwt(),
                (Nothing, List(doc::<truvera::TruveraKey>())),
                ("truveraListKeys", "A page of the caller's keys, newest first"),
                on(filter(GET), truvera::list_keys))
        },
        row(POST, "/keys", truvera, jwt(),
            (Optional(doc::<truvera::TruveraKeyBody>()), One(doc::<truvera::TruveraNewKey>())),
            ("truveraCreateKey", "Create a key (read and write); `jwt` is its secret, shown once"),
            on(filter(POST), truvera::create_key)),
        row(PATCH, "/keys/{publicKey}", truvera, jwt(),
            (Required(doc::<truvera::TruveraKeyBody>()), One(doc::<truvera::TruveraKey>())),
            ("truveraUpdateKey", "Change a key's alias or allowlist"),
            on(filter(PATCH), truvera::update_key)),
        row(DELETE, "/keys/{publicKey}", truvera, jwt(),
            (Nothing, One(doc::<truvera::TruveraRevoked>())),
            ("truveraRevokeKey", "Revoke a key"),
            on(filter(DELETE), truvera::revoke_key)),
        Route {
            certs_token: true,
            ..row(POST, "/keys/temporary-key", truvera, service(),
                (Required(doc::<truvera::TemporaryKeyBody>()), One(doc::<truvera::TemporaryKeyAnswer>())),
                ("truveraTemporaryKey", "A 15-minute key for a user, for the deployment's own services"),
                on(filter(POST), truvera::temporary_key))
        },
        row(ANY, "/auth/check", (Forward, FORWARD), jwt_or_key(None),
            (Nothing, Headers(FORWARD_HEADERS)),
            ("forwardAuth", "May this request pass? For reverse proxies; the key needs the scope of the original method"),
            on(filter(ANY), forward_auth::check)),
    ];
    table.shrink_to_fit();
    table
}
