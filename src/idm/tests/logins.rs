//! A password login that loses a race with a password change, reset or hand-over
//! opens nothing: the session (or pending second-factor login) is created only if the
//! hash the login verified is still the account's.
use super::*;
use crate::entities::user;
use crate::idm::Error;

async fn row(f: &Fixture, id: &str) -> user::Model {
    f.find_user(id).await.expect("read").expect("user")
}

#[tokio::test]
async fn a_login_whose_password_changed_meanwhile_opens_no_session() {
    let f = fixture().await;
    let t = f.signup("race@example.com").await;
    // The login has verified the password: this is the hash it saw.
    let before = row(&f, &t.user.id).await;
    let seen = before.password_hash.clone().expect("hash");
    // Meanwhile the owner changes the password (and is signed out elsewhere).
    f.change_password(
        &t.user.id,
        None,
        PASSWORD,
        "another-Horse-battery-7",
        &client("192.0.2.7"),
        T0 + 1,
    )
    .await
    .expect("change");
    let e = f
        .complete_login(
            &before,
            &["pwd"],
            Some(&seen),
            &client("192.0.2.1"),
            None,
            T0 + 2,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
    let sessions = f
        .list_sessions(&t.user.id, None, T0 + 3)
        .await
        .expect("list");
    assert!(
        sessions.is_empty(),
        "no session survives the change: {}",
        sessions.len()
    );
    // With the current hash the same login goes through.
    let now = row(&f, &t.user.id).await;
    let current = now.password_hash.clone().expect("hash");
    f.complete_login(
        &now,
        &["pwd"],
        Some(&current),
        &client("192.0.2.1"),
        None,
        T0 + 4,
    )
    .await
    .expect("a current password signs in");
}

#[tokio::test]
async fn a_deactivated_account_opens_no_session_even_mid_login() {
    let f = fixture().await;
    let t = f.signup("off@example.com").await;
    let before = row(&f, &t.user.id).await;
    let seen = before.password_hash.clone().expect("hash");
    f.update_user(
        &t.user.id,
        vec![(
            user::Column::IsActive,
            sea_orm::sea_query::Expr::value(false),
        )],
        T0 + 1,
    )
    .await
    .expect("deactivate");
    let e = f
        .complete_login(
            &before,
            &["pwd"],
            Some(&seen),
            &client("192.0.2.1"),
            None,
            T0 + 2,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
}

#[tokio::test]
async fn a_pending_second_factor_login_is_not_opened_by_a_replaced_password() {
    let f = fixture().await;
    let t = f.signup("pending@example.com").await;
    let before = row(&f, &t.user.id).await;
    let seen = before.password_hash.clone().expect("hash");
    f.change_password(
        &t.user.id,
        None,
        PASSWORD,
        "another-Horse-battery-7",
        &client("192.0.2.7"),
        T0 + 1,
    )
    .await
    .expect("change");
    let Err(e) = f
        .begin_second_factor(&t.user.id, "pwd", Some(&seen), &client("192.0.2.1"), T0 + 2)
        .await
    else {
        panic!("a pending login was opened by a replaced password");
    };
    assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
}
