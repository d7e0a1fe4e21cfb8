//! Findings 8 and 9: a password change, a password reset and a deactivation each end
//! every pending second-factor login (its mfa_token no longer completes, not even with
//! a good recovery code), and a password change ends the outstanding reset links.
use serde_json::json;

use super::{
    CONFIRM_RESET, NEW_PASSWORD, SET_ACTIVE, VALIDATE_RESET, change_password, pending_login,
    reset_link_token, verify_code,
};
use crate::db_test;
use crate::helpers::PASSWORD;
use crate::two_factor::with_2fa;

db_test!(a_password_change_ends_pending_second_factor_logins, |app| {
    let email = "pending-change@example.com";
    let (t, _, codes) = with_2fa(&app, email).await;
    let l = pending_login(&app, email, PASSWORD, &[]).await;
    let r = change_password(&app, &t.access, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.ok()["changePassword"], true);
    let r = verify_code(&app, &l["userId"], &codes[0], &l["mfaToken"], &[]).await;
    r.expect_code("UNAUTHENTICATED");
    assert!(r.data()["verify_2fa_code"].is_null(), "{}", r.0);
    // A login with the new password starts a pending login that completes.
    let l = pending_login(&app, email, NEW_PASSWORD, &[]).await;
    verify_code(&app, &l["userId"], &codes[1], &l["mfaToken"], &[])
        .await
        .ok();
});

db_test!(a_password_reset_ends_pending_second_factor_logins, |app| {
    let email = "pending-reset@example.com";
    let (_, _, codes) = with_2fa(&app, email).await;
    let l = pending_login(&app, email, PASSWORD, &[]).await;
    let token = reset_link_token(&app, email).await;
    let r = app
        .gql(CONFIRM_RESET, json!({ "t": token, "p": NEW_PASSWORD }))
        .await;
    assert_eq!(r.ok()["confirmPasswordReset"], true);
    let r = verify_code(&app, &l["userId"], &codes[0], &l["mfaToken"], &[]).await;
    r.expect_code("UNAUTHENTICATED");
    assert!(r.data()["verify_2fa_code"].is_null(), "{}", r.0);
    // The new password signs in (to its second step, or at once).
    app.login(email, NEW_PASSWORD).await.ok();
});

db_test!(a_deactivation_ends_pending_second_factor_logins, |app| {
    let email = "pending-off@example.com";
    let admin = app.signup("pending-admin@example.com").await;
    app.make_admin("pending-admin@example.com").await;
    let (t, _, codes) = with_2fa(&app, email).await;
    let l = pending_login(&app, email, PASSWORD, &[]).await;
    for active in [false, true] {
        let r = app
            .gql_as(
                &admin.access,
                SET_ACTIVE,
                json!({ "u": t.user_id, "a": active }),
            )
            .await;
        assert_eq!(r.ok()["setUserActive"]["isActive"], active);
    }
    let r = verify_code(&app, &l["userId"], &codes[0], &l["mfaToken"], &[]).await;
    r.expect_code("UNAUTHENTICATED");
    assert!(r.data()["verify_2fa_code"].is_null(), "{}", r.0);
    // Reactivated, the user signs in again with a new login.
    let l = pending_login(&app, email, PASSWORD, &[]).await;
    verify_code(&app, &l["userId"], &codes[1], &l["mfaToken"], &[])
        .await
        .ok();
});

db_test!(a_password_change_ends_outstanding_reset_links, |app| {
    let email = "reset-then-change@example.com";
    let t = app.signup(email).await;
    let token = reset_link_token(&app, email).await;
    let r = app.gql(VALIDATE_RESET, json!({ "t": token })).await;
    assert_eq!(r.ok()["validatePasswordResetToken"], true);
    let r = change_password(&app, &t.access, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.ok()["changePassword"], true);
    let r = app.gql(VALIDATE_RESET, json!({ "t": token })).await;
    assert_eq!(r.ok()["validatePasswordResetToken"], false);
    let r = app
        .gql(
            CONFIRM_RESET,
            json!({ "t": token, "p": "yet-another-Walrus-pine-77" }),
        )
        .await;
    r.expect_code("BAD_USER_INPUT");
    // The password is the one the owner chose, not the link's.
    app.login_tokens(email, NEW_PASSWORD).await;
    app.login(
        "reset-then-change@example.com",
        "yet-another-Walrus-pine-77",
    )
    .await
    .expect_code("UNAUTHENTICATED");
});
