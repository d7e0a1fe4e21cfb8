//! Passkeys: full WebAuthn ceremonies with a software authenticator (tests/api/
//! authenticator.rs), and every way a ceremony must fail without storing anything.
use std::net::SocketAddr;

use axum::routing::post;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::authenticator::SoftAuthenticator;
use crate::db_test;
use crate::helpers::{Gql, TestApp, jwt_part};

const REG_CHALLENGE: &str = "mutation { generatePasskeyRegistrationChallenge { options } }";
const REGISTER: &str = "mutation($c: JSON!, $n: String!) { registerPasskey(credential: $c, device_name: $n) { id deviceName createdAt lastUsedAt backedUp } }";
const LOGIN_CHALLENGE: &str =
    "mutation($e: String) { generatePasskeyLoginChallenge(email: $e) { options } }";
const LOGIN: &str = "mutation($c: JSON!, $r: String) { loginWithPasskey(credential: $c, recaptcha_token: $r) { accessToken refreshToken user { id email } } }";
const LIST: &str = "{ userPasskeys { id deviceName lastUsedAt backedUp } }";

async fn reg_options(app: &TestApp, token: &str) -> Value {
    app.gql_as(token, REG_CHALLENGE, json!({})).await.ok()["generatePasskeyRegistrationChallenge"]
        ["options"]
        .clone()
}

async fn login_options(app: &TestApp, email: Option<&str>) -> Value {
    app.gql(LOGIN_CHALLENGE, json!({ "e": email })).await.ok()["generatePasskeyLoginChallenge"]
        ["options"]
        .clone()
}

/// Registers a passkey for the signed-in user; returns its authenticator.
async fn register(app: &TestApp, token: &str) -> SoftAuthenticator {
    let mut auth = SoftAuthenticator::default();
    let cred = auth.create(&reg_options(app, token).await).unwrap();
    app.gql_as(token, REGISTER, json!({ "c": cred, "n": "laptop" }))
        .await
        .ok();
    auth
}

/// Signs up and registers one passkey; returns (access token, user id, authenticator).
async fn with_passkey(app: &TestApp, email: &str) -> (String, String, SoftAuthenticator) {
    let t = app.signup_verified(email).await;
    let auth = register(app, &t.access).await;
    (t.access, t.user_id, auth)
}

async fn passkey_login(app: &TestApp, auth: &mut SoftAuthenticator, email: Option<&str>) -> Gql {
    let options = login_options(app, email).await;
    let assertion = auth.get(&options).unwrap();
    app.gql(LOGIN, json!({ "c": assertion })).await
}

async fn passkey_count(app: &TestApp, token: &str) -> usize {
    app.gql_as(token, LIST, json!({})).await.ok()["userPasskeys"]
        .as_array()
        .unwrap()
        .len()
}

db_test!(registration_then_discoverable_and_email_logins, |app| {
    let t = app.signup_verified("pk@example.com").await;
    let options = reg_options(&app, &t.access).await;
    let pk = &options["publicKey"];
    assert_eq!(
        options.as_object().unwrap().len(),
        1,
        "only publicKey: {options}"
    );
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["user"]["name"], "pk@example.com");
    let sel = &pk["authenticatorSelection"];
    assert_eq!(sel["residentKey"], "required", "{sel}");
    assert_eq!(sel["requireResidentKey"], true);
    assert_eq!(sel["userVerification"], "preferred");
    // Browsers refuse credProtect "userVerificationRequired" next to UV "preferred".
    assert!(
        pk["extensions"].get("credentialProtectionPolicy").is_none(),
        "{pk}"
    );
    assert!(
        pk["challenge"].as_str().unwrap().len() >= 43,
        "32-byte challenge"
    );
    assert!(
        pk["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["alg"] == -7)
    );
    assert_eq!(pk["excludeCredentials"].as_array().map_or(0, Vec::len), 0);

    let mut auth = SoftAuthenticator::default();
    let cred = auth.create(&options).unwrap();
    let r = app
        .gql_as(
            &t.access,
            REGISTER,
            json!({ "c": cred, "n": "  Work laptop " }),
        )
        .await;
    let stored = r.ok()["registerPasskey"].clone();
    assert_eq!(stored["deviceName"], "Work laptop");
    assert_eq!(stored["backedUp"], true);
    assert_eq!(stored["lastUsedAt"], Value::Null);
    assert!(
        app.audit_rows(&t.user_id)
            .await
            .iter()
            .any(|r| r.event == "passkey_registered")
    );

    // A second registration excludes the first credential: the authenticator refuses.
    let again = reg_options(&app, &t.access).await;
    let excluded = again["publicKey"]["excludeCredentials"].as_array().unwrap();
    assert_eq!(excluded.len(), 1);
    assert_eq!(excluded[0]["id"], cred["id"]);
    assert!(auth.create(&again).is_err());

    // Discoverable (usernameless) login: no allowCredentials, the user handle says who.
    let options = login_options(&app, None).await;
    assert_eq!(options.as_object().unwrap().len(), 1, "{options}");
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .map_or(0, Vec::len),
        0
    );
    let assertion = auth.get(&options).unwrap();
    let r = app.gql(LOGIN, json!({ "c": assertion })).await;
    let payload = r.ok()["loginWithPasskey"].clone();
    assert_eq!(payload["user"]["email"], "pk@example.com");
    let access = payload["accessToken"].as_str().unwrap();
    let amr = jwt_part(access, 1)["amr"].clone();
    assert_eq!(amr, json!(["hwk", "user", "mfa"]));
    assert_eq!(app.me(access).await.ok()["me"]["id"], t.user_id.as_str());

    // Login by email: the user's credential is offered.
    let options = login_options(&app, Some("PK@example.com")).await;
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["id"], cred["id"]);
    let assertion = auth.get(&options).unwrap();
    app.gql(LOGIN, json!({ "c": assertion })).await.ok();

    let list = app.gql_as(&t.access, LIST, json!({})).await;
    let list = list.ok()["userPasskeys"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert!(list[0]["lastUsedAt"].is_string(), "{list:?}");
    // The counter the server keeps followed the authenticator (2 logins).
    let row = latchkey::entities::passkey::Entity::find()
        .one(&app.state.idm.db)
        .await
        .unwrap()
        .unwrap();
    let stored: Value = serde_json::from_str(&row.credential).unwrap();
    assert_eq!(stored["cred"]["counter"], 2, "{stored}");
});

db_test!(
    unknown_email_gets_a_discoverable_challenge_not_an_error,
    |app| {
        let options = login_options(&app, Some("nobody@example.com")).await;
        assert_eq!(
            options["publicKey"]["allowCredentials"]
                .as_array()
                .map_or(0, Vec::len),
            0
        );
        app.signup_verified("nopk@example.com").await;
        let options = login_options(&app, Some("nopk@example.com")).await;
        assert_eq!(
            options["publicKey"]["allowCredentials"]
                .as_array()
                .map_or(0, Vec::len),
            0
        );
    }
);

db_test!(a_passkey_login_needs_no_totp_step, |app| {
    let (t, _, _) = crate::two_factor::with_2fa(&app, "pk2fa@example.com").await;
    let mut auth = register(&app, &t.access).await;
    // A password login stops at TwoFactorRequired; a verified passkey is multi-factor
    // already, so its login answers tokens.
    let r = app
        .login("pk2fa@example.com", crate::helpers::PASSWORD)
        .await;
    assert_eq!(r.ok()["login"]["__typename"], "TwoFactorRequired");
    let r = passkey_login(&app, &mut auth, Some("pk2fa@example.com")).await;
    assert!(r.ok()["loginWithPasskey"]["accessToken"].is_string());
});

db_test!(ceremony_failures_store_nothing, |app| {
    let t = app.signup_verified("pkbad@example.com").await;

    // Wrong origin.
    let mut evil = SoftAuthenticator {
        origin: "https://evil.example".into(),
        ..Default::default()
    };
    let cred = evil.create(&reg_options(&app, &t.access).await).unwrap();
    let r = app
        .gql_as(&t.access, REGISTER, json!({ "c": cred, "n": "x" }))
        .await;
    r.expect_code("BAD_USER_INPUT");
    assert!(r.message().contains("origin"), "{}", r.message());

    // Wrong RP ID.
    let mut other_rp = SoftAuthenticator {
        rp_id_override: Some("evil.example".into()),
        ..Default::default()
    };
    let cred = other_rp
        .create(&reg_options(&app, &t.access).await)
        .unwrap();
    let r = app
        .gql_as(&t.access, REGISTER, json!({ "c": cred, "n": "x" }))
        .await;
    r.expect_code("BAD_USER_INPUT");
    assert!(r.message().contains("RP ID"), "{}", r.message());

    // No user verification.
    let mut no_uv = SoftAuthenticator {
        user_verified: false,
        ..Default::default()
    };
    let cred = no_uv.create(&reg_options(&app, &t.access).await).unwrap();
    let r = app
        .gql_as(&t.access, REGISTER, json!({ "c": cred, "n": "x" }))
        .await;
    r.expect_code("BAD_USER_INPUT");
    assert!(r.message().contains("verify"), "{}", r.message());

    // Malformed credentials.
    for bad in [
        json!("not an object"),
        json!({}),
        json!({ "response": { "clientDataJSON": "%%%" } }),
        json!({ "response": { "clientDataJSON": "bm90IGpzb24" } }),
    ] {
        let r = app
            .gql_as(&t.access, REGISTER, json!({ "c": bad, "n": "x" }))
            .await;
        r.expect_code("BAD_USER_INPUT");
        let r = app.gql(LOGIN, json!({ "c": bad })).await;
        r.expect_code("BAD_USER_INPUT");
    }
    // A well-formed clientDataJSON but a mangled attestation: the ceremony is used up,
    // nothing stored.
    let mut auth = SoftAuthenticator::default();
    let mut cred = auth.create(&reg_options(&app, &t.access).await).unwrap();
    cred["response"]["attestationObject"] = json!("AAAA");
    let r = app
        .gql_as(&t.access, REGISTER, json!({ "c": cred, "n": "x" }))
        .await;
    r.expect_code("BAD_USER_INPUT");

    // device_name bounds.
    let mut auth = SoftAuthenticator::default();
    let options = reg_options(&app, &t.access).await;
    let cred = auth.create(&options).unwrap();
    for name in ["", "   ", &"n".repeat(65)] {
        let r = app
            .gql_as(&t.access, REGISTER, json!({ "c": cred, "n": name }))
            .await;
        r.expect_code("BAD_USER_INPUT");
        assert!(r.message().contains("device_name"), "{}", r.message());
    }
    assert_eq!(passkey_count(&app, &t.access).await, 0);

    // The name check came first, so the ceremony is still open: 64 characters pass.
    let name = "n".repeat(64);
    app.gql_as(&t.access, REGISTER, json!({ "c": cred, "n": name }))
        .await
        .ok();
    // And it was single use.
    let r = app
        .gql_as(&t.access, REGISTER, json!({ "c": cred, "n": "again" }))
        .await;
    r.expect_code("BAD_USER_INPUT");
    assert!(r.message().contains("already used"), "{}", r.message());
    assert_eq!(passkey_count(&app, &t.access).await, 1);
    assert!(
        app.audit_rows(&t.user_id)
            .await
            .iter()
            .filter(|r| r.event == "passkey_registered")
            .count()
            == 1
    );
});

db_test!(replays_and_crossed_ceremonies_are_refused, |app| {
    let (access, user_id, mut auth) = with_passkey(&app, "pkreplay@example.com").await;
    let options = login_options(&app, None).await;
    let assertion = auth.get(&options).unwrap();
    app.gql(LOGIN, json!({ "c": assertion })).await.ok();
    // The same assertion again: its ceremony is gone.
    let r = app.gql(LOGIN, json!({ "c": assertion })).await;
    r.expect_code("BAD_USER_INPUT");
    assert!(r.message().contains("already used"), "{}", r.message());

    // A registration credential sent to login: another ceremony's challenge.
    let mut other = SoftAuthenticator::default();
    let cred = other.create(&reg_options(&app, &access).await).unwrap();
    app.gql(LOGIN, json!({ "c": cred }))
        .await
        .expect_code("BAD_USER_INPUT");
    // An assertion signed over another challenge than the one it claims.
    let o1 = login_options(&app, None).await;
    let o2 = login_options(&app, None).await;
    let mut a1 = auth.get(&o1).unwrap();
    let a2 = auth.get(&o2).unwrap();
    a1["response"]["signature"] = a2["response"]["signature"].clone();
    let r = app.gql(LOGIN, json!({ "c": a1 })).await;
    r.expect_code("UNAUTHENTICATED");

    // An unregistered authenticator.
    let mut stranger = SoftAuthenticator::default();
    let stranger_user = app.signup_verified("pkstranger@example.com").await;
    stranger
        .create(&reg_options(&app, &stranger_user.access).await)
        .unwrap();
    let r = passkey_login(&app, &mut stranger, None).await;
    r.expect_code("UNAUTHENTICATED");
    assert!(r.message().contains("not registered"), "{}", r.message());

    // Wrong origin on login.
    auth.origin = "https://evil.example".into();
    let r = passkey_login(&app, &mut auth, None).await;
    r.expect_code("UNAUTHENTICATED");
    assert!(r.message().contains("origin"), "{}", r.message());
    auth.origin = SoftAuthenticator::default().origin;

    // An expired ceremony (the core called 5 minutes and a second later).
    let options = login_options(&app, None).await;
    let assertion = auth.get(&options).unwrap();
    let later = latchkey::clock::now() + 301;
    let err = app
        .state
        .idm
        .login_with_passkey(assertion, None, &Default::default(), later)
        .await
        .unwrap_err();
    assert_eq!(
        latchkey::graphql::errors::code(&err),
        "BAD_USER_INPUT",
        "{err}"
    );
    let _ = user_id;
});

db_test!(adding_a_passkey_needs_a_recent_sign_in, |app| {
    let t = app.signup_verified("pkfresh@example.com").await;
    let sid = jwt_part(&t.access, 1)["sid"].as_str().unwrap().to_owned();
    // The core, 15 minutes and a second after the sign-in: a day-long access token
    // alone cannot plant a passkey.
    let later = latchkey::clock::now() + 901;
    let err = app
        .state
        .idm
        .passkey_registration_options(&t.user_id, Some(&sid), later)
        .await
        .unwrap_err();
    assert_eq!(latchkey::graphql::errors::code(&err), "FORBIDDEN", "{err}");
    assert!(err.to_string().contains("Sign in again"), "{err}");
    // Within the window it works.
    let now = latchkey::clock::now();
    app.state
        .idm
        .passkey_registration_options(&t.user_id, Some(&sid), now)
        .await
        .unwrap();
});

db_test!(
    a_counter_that_goes_backwards_is_refused_and_audited,
    |app| {
        let (_, user_id, mut auth) = with_passkey(&app, "pkclone@example.com").await;
        passkey_login(&app, &mut auth, None).await.ok();
        passkey_login(&app, &mut auth, None).await.ok();
        // A clone of the authenticator, copied when its counter was 1.
        auth.credentials[0].counter = 0;
        let r = passkey_login(&app, &mut auth, None).await;
        r.expect_code("UNAUTHENTICATED");
        assert!(r.message().contains("counter"), "{}", r.message());
        assert!(
            app.audit_rows(&user_id)
                .await
                .iter()
                .any(|r| r.event == "passkey_clone_suspected")
        );
    }
);

db_test!(rename_delete_and_other_users_passkeys, |app| {
    let (a, _, mut auth) = with_passkey(&app, "pkowner@example.com").await;
    let b = app.signup_verified("pkother@example.com").await;
    let id = app.gql_as(&a, LIST, json!({})).await.ok()["userPasskeys"][0]["id"].clone();
    const RENAME: &str = "mutation($i: ID!, $n: String!) { renamePasskey(id: $i, device_name: $n) { id deviceName } }";
    const DELETE: &str = "mutation($i: ID!) { deletePasskey(id: $i) }";
    app.gql_as(&b.access, RENAME, json!({ "i": id, "n": "mine" }))
        .await
        .expect_code("NOT_FOUND");
    app.gql_as(&b.access, DELETE, json!({ "i": id }))
        .await
        .expect_code("NOT_FOUND");
    app.gql_as(&a, RENAME, json!({ "i": id, "n": "" }))
        .await
        .expect_code("BAD_USER_INPUT");
    let r = app
        .gql_as(&a, RENAME, json!({ "i": id, "n": "Phone" }))
        .await;
    assert_eq!(r.ok()["renamePasskey"]["deviceName"], "Phone");
    // Another user's registration ceremony cannot be finished by this user.
    let mut other = SoftAuthenticator::default();
    let cred = other.create(&reg_options(&app, &a).await).unwrap();
    app.gql_as(&b.access, REGISTER, json!({ "c": cred, "n": "stolen" }))
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(passkey_count(&app, &b.access).await, 0);

    assert_eq!(
        app.gql_as(&a, DELETE, json!({ "i": id })).await.ok()["deletePasskey"],
        true
    );
    assert_eq!(passkey_count(&app, &a).await, 0);
    passkey_login(&app, &mut auth, None)
        .await
        .expect_code("UNAUTHENTICATED");
    // Passkey fields need a user token.
    app.gql(LIST, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql(REG_CHALLENGE, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
});

db_test!(inactive_users_cannot_sign_in_with_a_passkey, |app| {
    let (_, user_id, mut auth) = with_passkey(&app, "pkoff@example.com").await;
    app.signup_verified("pkadmin@example.com").await;
    app.make_admin("pkadmin@example.com").await;
    let admin = app
        .login_tokens("pkadmin@example.com", crate::helpers::PASSWORD)
        .await;
    app.gql_as(
        &admin.access,
        "mutation($u: ID!) { setUserActive(userId: $u, active: false) { id } }",
        json!({ "u": user_id }),
    )
    .await
    .ok();
    passkey_login(&app, &mut auth, None)
        .await
        .expect_code("FORBIDDEN");
});

db_test!(
    a_ceremony_begun_on_one_instance_finishes_on_another,
    |app| {
        let other = app.sibling().await;
        let t = app.signup_verified("pktwo@example.com").await;
        let mut auth = SoftAuthenticator::default();
        let cred = auth.create(&reg_options(&app, &t.access).await).unwrap();
        other
            .gql_as(&t.access, REGISTER, json!({ "c": cred, "n": "k" }))
            .await
            .ok();
        let options = login_options(&other, None).await;
        let assertion = auth.get(&options).unwrap();
        let r = app.gql(LOGIN, json!({ "c": assertion })).await;
        assert_eq!(r.ok()["loginWithPasskey"]["user"]["id"], t.user_id.as_str());
        // Single use across instances too.
        other
            .gql(LOGIN, json!({ "c": assertion }))
            .await
            .expect_code("BAD_USER_INPUT");
    }
);

/// A siteverify stand-in (the protocol of reCAPTCHA, hCaptcha and Turnstile): accepts
/// the token "human" with the secret "captcha-secret".
async fn siteverify() -> SocketAddr {
    async fn verify(
        axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
    ) -> axum::Json<Value> {
        let get = |k: &str| form.get(k).map(String::as_str);
        let ok = get("secret") == Some("captcha-secret") && get("response") == Some("human");
        axum::Json(
            json!({ "success": ok, "error-codes": if ok { json!([]) } else { json!(["invalid-input-response"]) } }),
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            axum::Router::new().route("/siteverify", post(verify)),
        )
        .await
        .ok();
    });
    addr
}

db_test!(
    captcha_guards_passkey_login_when_configured,
    |s| {
        // Replaced below by the stand-in's address; a closed port until then.
        s.captcha.verify_url = "http://127.0.0.1:9/siteverify".into();
        s.captcha.secret = "captcha-secret".to_owned().into();
    },
    |app| {
        let (_, _, mut auth) = with_passkey(&app, "pkcaptcha@example.com").await;
        // The verifier is down: an error, never a pass.
        let options = login_options(&app, None).await;
        let assertion = auth.get(&options).unwrap();
        let r = app
            .gql(LOGIN, json!({ "c": assertion, "r": "human" }))
            .await;
        r.expect_code("INTERNAL_SERVER_ERROR");
        assert!(r.message().contains("captcha"), "{}", r.message());

        let addr = siteverify().await;
        let mut settings = (*app.state.idm.settings).clone();
        settings.captcha.verify_url = format!("http://{addr}/siteverify");
        let app = app.sibling_with(settings).await;
        for (token, code) in [(None, "BAD_USER_INPUT"), (Some("robot"), "BAD_USER_INPUT")] {
            let options = login_options(&app, None).await;
            let assertion = auth.get(&options).unwrap();
            let r = app.gql(LOGIN, json!({ "c": assertion, "r": token })).await;
            r.expect_code(code);
            assert!(r.message().contains("captcha"), "{}", r.message());
        }
        let options = login_options(&app, None).await;
        let assertion = auth.get(&options).unwrap();
        app.gql(LOGIN, json!({ "c": assertion, "r": "human" }))
            .await
            .ok();
    }
);
