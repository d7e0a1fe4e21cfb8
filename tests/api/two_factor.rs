//! TOTP two-factor authentication and recovery codes.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use totp_rs::{Builder, Secret};

use crate::db_test;
use crate::helpers::{Gql, PASSWORD, TestApp, Tokens};

const GENERATE: &str = "mutation { generate_2fa { secret otpauthUrl qrCodePng } }";
const ENABLE: &str = "mutation($t: String!) { enable_2fa(token: $t) { enabled recoveryCodes } }";
const VERIFY: &str = "mutation($u: ID!, $t: String!, $m: String) { verify_2fa_code(user_id: $u, token: $t, mfa_token: $m) { accessToken refreshToken user { id twoFactorEnabled } } }";
const DISABLE: &str = "mutation($t: String!) { disable_2fa(token: $t) }";
const REGENERATE: &str = "mutation($t: String!) { regenerateRecoveryCodes(token: $t) }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { __typename ... on TwoFactorRequired { userId mfaToken methods } ... on AuthPayload { accessToken } } }";

pub fn code_at(secret_b32: &str, t: i64) -> String {
    let bytes = Secret::try_from_base32(secret_b32)
        .unwrap()
        .as_ref()
        .to_vec();
    let totp = Builder::new().with_secret(bytes).build().unwrap();
    totp.generate(t as u64).to_string()
}

fn now() -> i64 {
    latchkey::clock::now()
}

/// Signs up, turns 2FA on (using the code of the current step); returns the secret
/// and the recovery codes.
pub async fn with_2fa(app: &TestApp, email: &str) -> (Tokens, String, Vec<String>) {
    let t = app.signup_verified(email).await;
    let r = app.gql_as(&t.access, GENERATE, json!({})).await;
    let secret = r.ok()["generate_2fa"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .gql_as(&t.access, ENABLE, json!({ "t": code_at(&secret, now()) }))
        .await;
    let codes = r.ok()["enable_2fa"]["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (t, secret, codes)
}

async fn login_pending(app: &TestApp, email: &str) -> Value {
    let r = app.gql(LOGIN, json!({ "e": email, "p": PASSWORD })).await;
    let l = r.ok()["login"].clone();
    assert_eq!(l["__typename"], "TwoFactorRequired", "{l}");
    l
}

async fn verify(app: &TestApp, user: &Value, code: &str, mfa: &Value) -> Gql {
    app.gql(VERIFY, json!({ "u": user, "t": code, "m": mfa }))
        .await
}

fn amr(token: &str) -> Value {
    let seg = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(seg)
            .unwrap(),
    )
    .unwrap();
    claims["amr"].clone()
}

db_test!(
    setup_gives_a_secret_an_otpauth_url_and_a_qr_code_of_it,
    |app| {
        let t = app.signup_verified("qr@example.com").await;
        let r = app.gql_as(&t.access, GENERATE, json!({})).await;
        let s = &r.ok()["generate_2fa"];
        let secret = s["secret"].as_str().unwrap();
        let url = s["otpauthUrl"].as_str().unwrap();
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains(&format!("secret={secret}")), "{url}");
        assert!(url.contains("issuer=latchkey"), "{url}");
        assert!(
            url.contains("qr%40example.com") || url.contains("qr@example.com"),
            "{url}"
        );
        let png = STANDARD.decode(s["qrCodePng"].as_str().unwrap()).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, url);
        // Not on until confirmed.
        let me = app
            .gql_as(&t.access, "{ me { twoFactorEnabled } }", json!({}))
            .await;
        assert_eq!(me.ok()["me"]["twoFactorEnabled"], false);
        app.login_tokens("qr@example.com", PASSWORD).await;
    }
);

db_test!(codes_agree_with_an_independent_implementation, |app| {
    let t = app.signup_verified("pyotp@example.com").await;
    let r = app.gql_as(&t.access, GENERATE, json!({})).await;
    let secret = r.ok()["generate_2fa"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = now();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            &format!("import pyotp; print(pyotp.TOTP('{secret}').at({at}))"),
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let theirs = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            assert_eq!(theirs, code_at(&secret, at));
            // And the server accepts pyotp's code.
            let r = app.gql_as(&t.access, ENABLE, json!({ "t": theirs })).await;
            assert_eq!(r.ok()["enable_2fa"]["enabled"], true);
        }
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "pyotp is required in CI (pip install pyotp)"
            );
            eprintln!("skipped: python3 with pyotp not available");
        }
    }
});

db_test!(
    enabling_needs_a_current_code_and_gives_ten_recovery_codes,
    |app| {
        let t = app.signup_verified("enable@example.com").await;
        let other = app.login_tokens("enable@example.com", PASSWORD).await;
        app.gql_as(&t.access, ENABLE, json!({ "t": "123456" }))
            .await
            .expect_code("BAD_USER_INPUT");
        let r = app.gql_as(&t.access, GENERATE, json!({})).await;
        let secret = r.ok()["generate_2fa"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        app.gql_as(
            &t.access,
            ENABLE,
            json!({ "t": code_at(&secret, now() - 300) }),
        )
        .await
        .expect_code("BAD_USER_INPUT");
        app.gql_as(&t.access, ENABLE, json!({ "t": "abc" }))
            .await
            .expect_code("BAD_USER_INPUT");
        let r = app
            .gql_as(&t.access, ENABLE, json!({ "t": code_at(&secret, now()) }))
            .await;
        let e = &r.ok()["enable_2fa"];
        assert_eq!(e["enabled"], true);
        assert_eq!(e["recoveryCodes"].as_array().unwrap().len(), 10);
        let me = app
            .gql_as(&t.access, "{ me { twoFactorEnabled } }", json!({}))
            .await;
        assert_eq!(me.ok()["me"]["twoFactorEnabled"], true);
        // Sessions that never passed the second factor are signed out.
        app.me(&other.access).await.expect_code("UNAUTHENTICATED");
        // Generating again does not touch the enabled factor.
        app.gql_as(&t.access, GENERATE, json!({}))
            .await
            .expect_code("BAD_USER_INPUT");
    }
);

db_test!(
    a_login_with_2fa_asks_for_the_second_factor_and_a_code_completes_it,
    |app| {
        let (t, secret, _) = with_2fa(&app, "login2fa@example.com").await;
        let l = login_pending(&app, "login2fa@example.com").await;
        assert_eq!(l["userId"], t.user_id.as_str());
        assert_eq!(l["methods"], json!(["totp", "recovery_code"]));
        // The MFA ticket is not an access token.
        app.me(l["mfaToken"].as_str().unwrap())
            .await
            .expect_code("UNAUTHENTICATED");
        let code = code_at(&secret, now() + 30);
        let r = verify(&app, &l["userId"], &code, &l["mfaToken"]).await;
        let p = &r.ok()["verify_2fa_code"];
        assert_eq!(p["user"]["twoFactorEnabled"], true);
        let access = p["accessToken"].as_str().unwrap();
        let a = amr(access);
        assert!(
            a.as_array().unwrap().contains(&json!("pwd"))
                && a.as_array().unwrap().contains(&json!("otp")),
            "{a}"
        );
        app.me(access).await.ok();
        // The same code again, for a new login in the same window: refused.
        let l2 = login_pending(&app, "login2fa@example.com").await;
        verify(&app, &l2["userId"], &code, &l2["mfaToken"])
            .await
            .expect_code("UNAUTHENTICATED");
    }
);

db_test!(
    verify_without_a_pending_login_or_with_another_ticket_is_refused,
    |app| {
        let (t, secret, codes) = with_2fa(&app, "nopending@example.com").await;
        let r = verify(
            &app,
            &json!(t.user_id),
            &code_at(&secret, now() + 30),
            &json!(null),
        )
        .await;
        r.expect_code("UNAUTHENTICATED");
        let r = verify(&app, &json!(t.user_id), &codes[0], &json!(null)).await;
        r.expect_code("UNAUTHENTICATED");
        let l = login_pending(&app, "nopending@example.com").await;
        verify(&app, &l["userId"], &codes[0], &json!("0".repeat(64)))
            .await
            .expect_code("UNAUTHENTICATED");
        // Another user's pending login cannot be completed with this user's id.
        let (other, _, other_codes) = with_2fa(&app, "otherpending@example.com").await;
        verify(&app, &json!(other.user_id), &other_codes[0], &l["mfaToken"])
            .await
            .expect_code("UNAUTHENTICATED");
        // The right ticket still works (the wrong tries above did not touch it).
        verify(&app, &l["userId"], &codes[0], &l["mfaToken"])
            .await
            .ok();
    }
);

db_test!(five_wrong_codes_end_the_pending_login, |app| {
    let (_, secret, codes) = with_2fa(&app, "guess@example.com").await;
    let l = login_pending(&app, "guess@example.com").await;
    for wrong in ["000000", "111111", "222222", "333333", "444444"] {
        let wrong = if wrong == code_at(&secret, now()) {
            "555555"
        } else {
            wrong
        };
        let r = verify(&app, &l["userId"], wrong, &l["mfaToken"]).await;
        r.expect_code("UNAUTHENTICATED");
    }
    let r = verify(&app, &l["userId"], &codes[0], &l["mfaToken"]).await;
    r.expect_code("RATE_LIMITED");
    assert!(r.0["errors"][0]["extensions"]["retryAfter"].is_number());
    // A new login starts over.
    let l = login_pending(&app, "guess@example.com").await;
    verify(&app, &l["userId"], &codes[0], &l["mfaToken"])
        .await
        .ok();
});

db_test!(a_pending_login_expires_after_five_minutes, |app| {
    let (t, secret, _) = with_2fa(&app, "expire2fa@example.com").await;
    let l = login_pending(&app, "expire2fa@example.com").await;
    let later = now() + 301;
    let client = latchkey::idm::ClientInfo::default();
    let idm = &app.state.idm;
    let r = idm
        .verify_2fa_code(
            &t.user_id,
            &code_at(&secret, later),
            l["mfaToken"].as_str(),
            &client,
            later,
        )
        .await;
    assert!(
        matches!(r, Err(latchkey::idm::Error::Unauthenticated(_))),
        "{:?}",
        r.err()
    );
    // Within the five minutes, with the clock moved a minute on, it completes.
    let soon = now() + 60;
    let r = idm
        .verify_2fa_code(
            &t.user_id,
            &code_at(&secret, soon),
            l["mfaToken"].as_str(),
            &client,
            soon,
        )
        .await;
    assert!(r.is_ok(), "{:?}", r.err());
});

db_test!(recovery_codes_work_once, |app| {
    let (_, _, codes) = with_2fa(&app, "recovery@example.com").await;
    let l = login_pending(&app, "recovery@example.com").await;
    let loose = codes[0].to_lowercase().replace('-', " ");
    let r = verify(&app, &l["userId"], &loose, &l["mfaToken"]).await;
    let access = r.ok()["verify_2fa_code"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(amr(&access).as_array().unwrap().contains(&json!("mfa")));
    let l = login_pending(&app, "recovery@example.com").await;
    verify(&app, &l["userId"], &codes[0], &l["mfaToken"])
        .await
        .expect_code("UNAUTHENTICATED");
    verify(&app, &l["userId"], &codes[1], &l["mfaToken"])
        .await
        .ok();
});

db_test!(
    disabling_needs_a_code_and_then_login_is_one_step_again,
    |app| {
        let (t, _, codes) = with_2fa(&app, "disable@example.com").await;
        app.gql_as(&t.access, DISABLE, json!({ "t": "000000" }))
            .await
            .expect_code("BAD_USER_INPUT");
        app.gql_as(&t.access, DISABLE, json!({ "t": "" }))
            .await
            .expect_code("BAD_USER_INPUT");
        let r = app
            .gql_as(&t.access, DISABLE, json!({ "t": codes[3] }))
            .await;
        assert_eq!(r.ok()["disable_2fa"], true);
        let l = app
            .gql(LOGIN, json!({ "e": "disable@example.com", "p": PASSWORD }))
            .await;
        assert_eq!(l.ok()["login"]["__typename"], "AuthPayload");
        app.gql_as(&t.access, DISABLE, json!({ "t": codes[4] }))
            .await
            .expect_code("BAD_USER_INPUT");
    }
);

db_test!(regenerated_recovery_codes_replace_the_old_ones, |app| {
    let (t, _, codes) = with_2fa(&app, "regen@example.com").await;
    app.gql_as(&t.access, REGENERATE, json!({ "t": "999999" }))
        .await
        .expect_code("BAD_USER_INPUT");
    let r = app
        .gql_as(&t.access, REGENERATE, json!({ "t": codes[0] }))
        .await;
    let fresh: Vec<String> = r.ok()["regenerateRecoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    let l = login_pending(&app, "regen@example.com").await;
    verify(&app, &l["userId"], &codes[1], &l["mfaToken"])
        .await
        .expect_code("UNAUTHENTICATED");
    verify(&app, &l["userId"], &fresh[0], &l["mfaToken"])
        .await
        .ok();
    let events: Vec<String> = app
        .audit_rows(&t.user_id)
        .await
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert!(
        events.contains(&"recovery_codes_regenerated".to_owned()),
        "{events:?}"
    );
});

db_test!(two_factor_events_are_audited, |app| {
    let (t, _, codes) = with_2fa(&app, "audit2fa@example.com").await;
    let l = login_pending(&app, "audit2fa@example.com").await;
    verify(&app, &l["userId"], "000001", &l["mfaToken"]).await;
    verify(&app, &l["userId"], &codes[0], &l["mfaToken"])
        .await
        .ok();
    app.gql_as(&t.access, DISABLE, json!({ "t": codes[1] }))
        .await
        .ok();
    let rows = app.audit_rows(&t.user_id).await;
    let events: Vec<&str> = rows.iter().map(|r| r.event.as_str()).collect();
    for e in [
        "two_factor_enabled",
        "second_factor_failed",
        "recovery_code_used",
        "two_factor_disabled",
    ] {
        assert!(events.contains(&e), "{e} not in {events:?}");
    }
});

db_test!(
    totp_secrets_are_encrypted_at_rest_with_a_master_key,
    |s| {
        s.master_key =
            latchkey::domain::MasterKey::parse(&STANDARD.encode([9u8; 32])).expect("key");
    },
    |app| {
        let (t, secret, _) = with_2fa(&app, "sealed@example.com").await;
        use sea_orm::EntityTrait;
        let row = latchkey::entities::two_factor::Entity::find_by_id(t.user_id.clone())
            .one(&app.state.idm.db)
            .await
            .unwrap()
            .unwrap();
        let stored = row.secret.unwrap();
        assert!(stored.starts_with("enc:"), "{stored}");
        assert!(!stored.contains(&secret));
        let keys = latchkey::entities::signing_key::Entity::find()
            .all(&app.state.idm.db)
            .await
            .unwrap();
        assert!(keys.iter().all(|k| k.encrypted));
        // And the sealed secret still verifies codes.
        let l = login_pending(&app, "sealed@example.com").await;
        verify(
            &app,
            &l["userId"],
            &code_at(&secret, now() + 30),
            &l["mfaToken"],
        )
        .await
        .ok();
    }
);
