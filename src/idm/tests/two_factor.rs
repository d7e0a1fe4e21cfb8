//! Two-factor authentication on a fixed clock: setup needing a verified email and a
//! fresh sign-in, the TOTP step window (±1 step), no code accepted twice, single-use
//! recovery codes, and the pending login (`mfa_token`) with its expiry, its client
//! binding and its attempt budget.

use super::*;
use crate::idm::Error;
use crate::idm::accounts::LoginStep;
use crate::idm::mfa_login::{CHALLENGE_TTL_SECS, Challenge};
use crate::idm::step_up::FRESH_SIGN_IN_SECS;
use crate::idm::two_factor::{Factor, RECOVERY_CODE_COUNT, totp};

const IP: &str = "192.0.2.1";
const STEP: i64 = 30;

/// The code an authenticator with `secret` shows at `at`.
fn code_at(secret: &[u8], at: i64) -> String {
    totp(secret, "x", "x")
        .expect("totp")
        .generate(u64::try_from(at).expect("positive"))
        .to_string()
}

/// Limits off, for tests that make many attempts on purpose.
async fn unlimited() -> Fixture {
    fixture_with(|s| {
        s.rate_limit.login_per_minute = 0;
        s.rate_limit.refresh_per_minute = 0;
    })
    .await
}

/// A signed-up user (at T0) with a verified email: tokens and session id.
async fn verified(f: &Fixture, email: &str) -> (Tokens, String) {
    let t = f.signup(email).await;
    f.verify_email_at(&t.user.id, T0).await;
    let sid = f.sid_of(&t).await;
    (t, sid)
}

struct Enabled {
    tokens: Tokens,
    sid: String,
    secret: Vec<u8>,
    recovery: Vec<String>,
}

/// A verified user with 2FA set up at T0 + 1 and confirmed at T0 + 2 (step T0 / 30).
async fn enabled(f: &Fixture, email: &str) -> Enabled {
    let (tokens, sid) = verified(f, email).await;
    let setup = f
        .generate_2fa(&tokens.user.id, Some(&sid), T0 + 1)
        .await
        .expect("generate");
    let secret = totp_rs::Secret::try_from_base32(&setup.secret_base32)
        .expect("base32")
        .as_bytes()
        .to_vec();
    let recovery = f
        .enable_2fa(
            &tokens.user.id,
            Some(&sid),
            &code_at(&secret, T0 + 2),
            &client(IP),
            T0 + 2,
        )
        .await
        .expect("enable");
    Enabled {
        tokens,
        sid,
        secret,
        recovery,
    }
}

async fn password_login(f: &Fixture, email: &str, c: &ClientInfo, now: i64) -> Challenge {
    match f.login(email, PASSWORD, c, now).await.expect("login") {
        LoginStep::SecondFactor(ch) => ch,
        LoginStep::Tokens(_) => panic!("a second factor was expected"),
    }
}

#[tokio::test]
async fn setting_up_2fa_needs_a_verified_email() {
    let f = fixture().await;
    let t = f.signup("unverified@example.com").await;
    let sid = f.sid_of(&t).await;
    let e = f
        .generate_2fa(&t.user.id, Some(&sid), T0 + 1)
        .await
        .err()
        .expect("refused");
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
    f.verify_email_at(&t.user.id, T0).await;
    f.generate_2fa(&t.user.id, Some(&sid), T0 + 1)
        .await
        .expect("verified: allowed");
}

#[tokio::test]
async fn setting_up_2fa_needs_a_sign_in_of_at_most_fifteen_minutes_ago() {
    let f = fixture().await;
    let (t, sid) = verified(&f, "fresh@example.com").await;
    let uid = t.user.id.as_str();

    let e = f
        .generate_2fa(uid, None, T0 + 1)
        .await
        .err()
        .expect("no session");
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
    let setup = f
        .generate_2fa(uid, Some(&sid), T0 + FRESH_SIGN_IN_SECS)
        .await
        .expect("exactly at the limit");
    assert!(setup.otpauth_url.starts_with("otpauth://totp/"));
    let e = f
        .generate_2fa(uid, Some(&sid), T0 + FRESH_SIGN_IN_SECS + 1)
        .await
        .err()
        .expect("stale");
    assert!(matches!(e, Error::Forbidden(_)), "{e}");

    // A refresh does not make the sign-in fresh again.
    f.refresh(&t.refresh_token, &client(IP), T0 + FRESH_SIGN_IN_SECS)
        .await
        .expect("refresh");
    let e = f
        .generate_2fa(uid, Some(&sid), T0 + FRESH_SIGN_IN_SECS + 1)
        .await
        .err()
        .expect("still stale after a refresh");
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
}

#[tokio::test]
async fn another_users_or_a_revoked_session_is_not_a_fresh_sign_in() {
    let f = fixture().await;
    let (t, sid) = verified(&f, "owner@example.com").await;
    let (other, other_sid) = verified(&f, "other@example.com").await;
    let e = f
        .generate_2fa(&t.user.id, Some(&other_sid), T0 + 1)
        .await
        .err()
        .expect("someone else's session");
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
    f.revoke_session(&t.user.id, &sid, &client(IP), T0 + 2)
        .await
        .unwrap();
    let e = f
        .generate_2fa(&t.user.id, Some(&sid), T0 + 3)
        .await
        .err()
        .expect("revoked session");
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
    f.generate_2fa(&other.user.id, Some(&other_sid), T0 + 3)
        .await
        .expect("the other user's own session works");
}

#[tokio::test]
async fn enabling_confirms_only_the_newest_pending_secret() {
    let f = fixture().await;
    let (t, sid) = verified(&f, "pending@example.com").await;
    let uid = t.user.id.as_str();
    let first = f.generate_2fa(uid, Some(&sid), T0 + 1).await.unwrap();
    let second = f.generate_2fa(uid, Some(&sid), T0 + 2).await.unwrap();
    assert_ne!(first.secret_base32, second.secret_base32);
    let old = totp_rs::Secret::try_from_base32(&first.secret_base32).unwrap();
    let new = totp_rs::Secret::try_from_base32(&second.secret_base32).unwrap();
    let e = f
        .enable_2fa(
            uid,
            Some(&sid),
            &code_at(old.as_bytes(), T0 + 3),
            &client(IP),
            T0 + 3,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::BadInput(_)), "{e}");
    assert!(!f.user(uid, T0 + 3).await.unwrap().two_factor_enabled);
    let codes = f
        .enable_2fa(
            uid,
            Some(&sid),
            &code_at(new.as_bytes(), T0 + 3),
            &client(IP),
            T0 + 3,
        )
        .await
        .expect("the newest secret");
    assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
    assert!(f.user(uid, T0 + 3).await.unwrap().two_factor_enabled);
    let e = f
        .generate_2fa(uid, Some(&sid), T0 + 4)
        .await
        .err()
        .expect("already on");
    assert!(matches!(e, Error::BadInput(_)), "{e}");
}

#[tokio::test]
async fn enabling_signs_out_the_other_sessions_and_password_logins_then_wait() {
    let f = fixture().await;
    let (t, sid) = verified(&f, "others@example.com").await;
    let other = match f
        .login("others@example.com", PASSWORD, &client(IP), T0 + 1)
        .await
        .unwrap()
    {
        LoginStep::Tokens(t) => t,
        LoginStep::SecondFactor(_) => panic!("2FA is not on yet"),
    };
    let other_sid = f.sid_of(&other).await;
    assert!(f.session_is_live(&other_sid, T0 + 1).await.unwrap());
    let setup = f
        .generate_2fa(&t.user.id, Some(&sid), T0 + 2)
        .await
        .unwrap();
    let secret = totp_rs::Secret::try_from_base32(&setup.secret_base32).unwrap();
    f.enable_2fa(
        &t.user.id,
        Some(&sid),
        &code_at(secret.as_bytes(), T0 + 3),
        &client(IP),
        T0 + 3,
    )
    .await
    .unwrap();
    assert!(!f.session_is_live(&other_sid, T0 + 3).await.unwrap());
    assert!(f.session_is_live(&sid, T0 + 3).await.unwrap());
    let ch = password_login(&f, "others@example.com", &client(IP), T0 + 4).await;
    assert_eq!(ch.user_id, t.user.id);
}

#[tokio::test]
async fn a_totp_code_is_accepted_one_step_either_side_and_no_further() {
    let f = unlimited().await;
    let e = enabled(&f, "window@example.com").await;
    let uid = e.tokens.user.id.as_str();
    let now = T0 + 10 * STEP; // a step start, 10 steps after the enabling code
    let check = |code: String| {
        let f = &f;
        async move { f.check_second_factor(uid, &code, &client(IP), now).await }
    };
    assert_eq!(
        check(code_at(&e.secret, now - 2 * STEP)).await.unwrap(),
        None
    );
    assert_eq!(
        check(code_at(&e.secret, now + 2 * STEP)).await.unwrap(),
        None
    );
    // The last second of the step before, then the current step, then the next one.
    assert_eq!(
        check(code_at(&e.secret, now - 1)).await.unwrap(),
        Some(Factor::Totp)
    );
    assert_eq!(
        check(code_at(&e.secret, now)).await.unwrap(),
        Some(Factor::Totp)
    );
    assert_eq!(
        check(code_at(&e.secret, now + STEP)).await.unwrap(),
        Some(Factor::Totp)
    );
    // Every one of those steps is now used up, the current one included.
    for at in [now - 1, now, now + STEP] {
        assert_eq!(check(code_at(&e.secret, at)).await.unwrap(), None, "{at}");
    }
}

#[tokio::test]
async fn a_totp_code_is_never_accepted_twice() {
    let f = fixture().await;
    let e = enabled(&f, "replay@example.com").await;
    let uid = e.tokens.user.id.as_str();
    // The code that confirmed the setup is already used, in its step and the next.
    let enabling = code_at(&e.secret, T0 + 2);
    for now in [T0 + 2, T0 + STEP + 1] {
        let got = f
            .check_second_factor(uid, &enabling, &client(IP), now)
            .await
            .unwrap();
        assert_eq!(got, None, "{now}");
    }
    // A fresh code works once; replayed within its own 30 s window, it does not.
    let at = T0 + 100 * STEP + 5;
    let code = code_at(&e.secret, at);
    let first = f.check_second_factor(uid, &code, &client(IP), at).await;
    assert_eq!(first.unwrap(), Some(Factor::Totp));
    let again = f
        .check_second_factor(uid, &code, &client(IP), at + 20)
        .await;
    assert_eq!(again.unwrap(), None);
}

#[tokio::test]
async fn recovery_codes_work_once_each_however_they_are_typed() {
    let f = fixture().await;
    let e = enabled(&f, "recovery@example.com").await;
    let uid = e.tokens.user.id.as_str();
    assert_eq!(e.recovery.len(), RECOVERY_CODE_COUNT);
    let at = T0 + 60;
    let first = &e.recovery[0];
    assert_eq!(
        f.check_second_factor(uid, first, &client(IP), at)
            .await
            .unwrap(),
        Some(Factor::RecoveryCode)
    );
    assert_eq!(
        f.check_second_factor(uid, first, &client(IP), at + 1)
            .await
            .unwrap(),
        None,
        "used up"
    );
    let loose = e.recovery[1].to_lowercase().replace('-', " ");
    assert_eq!(
        f.check_second_factor(uid, &loose, &client(IP), at + 2)
            .await
            .unwrap(),
        Some(Factor::RecoveryCode)
    );
    assert_eq!(
        f.check_second_factor(uid, &e.recovery[1], &client(IP), at + 3)
            .await
            .unwrap(),
        None,
        "the same code typed the canonical way is used up too"
    );
    // A code of the right shape that was never issued, and another user's code.
    let other = enabled(&f, "recovery-other@example.com").await;
    assert_eq!(
        f.check_second_factor(uid, "AAAA-BBBB-CCCC-DDDD", &client(IP), at + 4)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.check_second_factor(uid, &other.recovery[0], &client(IP), at + 5)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.check_second_factor(
            &other.tokens.user.id,
            &other.recovery[0],
            &client(IP),
            at + 6
        )
        .await
        .unwrap(),
        Some(Factor::RecoveryCode),
        "it stayed unused for its owner"
    );
}

#[tokio::test]
async fn a_pending_login_expires_after_five_minutes() {
    let f = fixture().await;
    let e = enabled(&f, "expiry@example.com").await;
    let uid = e.tokens.user.id.as_str();
    let c = client(IP);

    let start = T0 + 100;
    let late = password_login(&f, "expiry@example.com", &c, start).await;
    let at = start + CHALLENGE_TTL_SECS;
    let err = f
        .verify_2fa_code(uid, &code_at(&e.secret, at), Some(&late.mfa_token), &c, at)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthenticated(_)), "{err}");

    let start = T0 + 1000;
    let ch = password_login(&f, "expiry@example.com", &c, start).await;
    let at = start + CHALLENGE_TTL_SECS - 1;
    let tokens = f
        .verify_2fa_code(uid, &code_at(&e.secret, at), Some(&ch.mfa_token), &c, at)
        .await
        .expect("one second before expiry");
    assert_eq!(tokens.user.id, uid);
    let subject = f
        .keys
        .verify(&tokens.access_token, at)
        .await
        .expect("valid");
    assert_eq!(subject.amr, ["pwd", "otp", "mfa"]);
    assert_ne!(subject.session_id, e.sid);
}

#[tokio::test]
async fn a_pending_login_completes_once() {
    let f = fixture().await;
    let e = enabled(&f, "once@example.com").await;
    let uid = e.tokens.user.id.as_str();
    let c = client(IP);
    let ch = password_login(&f, "once@example.com", &c, T0 + 100).await;
    let tokens = f
        .verify_2fa_code(uid, &e.recovery[0], Some(&ch.mfa_token), &c, T0 + 110)
        .await
        .expect("a recovery code completes it");
    let subject = f.keys.verify(&tokens.access_token, T0 + 110).await.unwrap();
    assert_eq!(subject.amr, ["pwd", "rc", "mfa"]);
    let err = f
        .verify_2fa_code(
            uid,
            &code_at(&e.secret, T0 + 120),
            Some(&ch.mfa_token),
            &c,
            T0 + 120,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthenticated(_)), "{err}");
}

#[tokio::test]
async fn without_its_token_a_pending_login_is_found_only_from_the_same_client() {
    let f = fixture().await;
    let e = enabled(&f, "client@example.com").await;
    let uid = e.tokens.user.id.as_str();
    let owner = client(IP);
    password_login(&f, "client@example.com", &owner, T0 + 100).await;
    let at = T0 + 120;
    let stranger = client("203.0.113.9");
    let err = f
        .verify_2fa_code(uid, &code_at(&e.secret, at), None, &stranger, at)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthenticated(_)), "{err}");
    let other_agent = ClientInfo {
        user_agent: Some("another-browser".into()),
        ..client(IP)
    };
    let err = f
        .verify_2fa_code(uid, &code_at(&e.secret, at), None, &other_agent, at)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthenticated(_)), "{err}");
    // The stranger's attempts used no code up: the owner's current code still works.
    let tokens = f
        .verify_2fa_code(uid, &code_at(&e.secret, at), None, &owner, at)
        .await
        .expect("the owner's client");
    assert_eq!(tokens.user.id, uid);
}

#[tokio::test]
async fn a_pending_login_allows_a_fixed_number_of_attempts() {
    let f = fixture().await;
    let max = f.settings.rate_limit.verify_2fa_per_challenge;
    assert!(max >= 1 && max < f.settings.rate_limit.login_per_minute);
    let e = enabled(&f, "attempts@example.com").await;
    let uid = e.tokens.user.id.as_str();
    let c = client(IP);
    let ch = password_login(&f, "attempts@example.com", &c, T0 + 100).await;
    let at = T0 + 110;
    let good = code_at(&e.secret, at);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    for _ in 0..max {
        let err = f
            .verify_2fa_code(uid, wrong, Some(&ch.mfa_token), &c, at)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unauthenticated(_)), "{err}");
    }
    let err = f
        .verify_2fa_code(uid, &good, Some(&ch.mfa_token), &c, at)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err}");
    // A new pending login starts with a new budget.
    let fresh = password_login(&f, "attempts@example.com", &c, T0 + 120).await;
    f.verify_2fa_code(uid, &good, Some(&fresh.mfa_token), &c, T0 + 120)
        .await
        .expect("a new pending login");
}
