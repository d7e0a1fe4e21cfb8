//! Sessions and refresh tokens on a fixed clock: rotation, reuse detection revoking the
//! family, refresh expiry at its edges, liveness after logout and revocation (the
//! session cache included), listing, and who may revoke what.
use super::*;
use crate::idm::Error;
use crate::idm::accounts::LoginStep;

const IP: &str = "192.0.2.1";

/// A second session of an existing user: a password login at `now`.
async fn login_at(f: &Fixture, email: &str, now: i64) -> Tokens {
    match f
        .login(email, PASSWORD, &client(IP), now)
        .await
        .expect("login")
    {
        LoginStep::Tokens(t) => t,
        LoginStep::SecondFactor(_) => panic!("no second factor expected"),
    }
}

fn refresh_ttl(f: &Fixture) -> i64 {
    i64::from(f.settings.tokens.refresh_ttl_secs)
}

#[tokio::test]
async fn a_refresh_rotates_the_pair_and_keeps_the_session() {
    let f = fixture().await;
    let t = f.signup("rot@example.com").await;
    let sid = f.sid_of(&t).await;
    let next = f
        .refresh(&t.refresh_token, &client(IP), T0 + 60)
        .await
        .expect("first refresh");
    assert_ne!(next.refresh_token, t.refresh_token);
    assert_ne!(next.access_token, t.access_token);
    assert_eq!(next.user.id, t.user.id);
    assert_eq!(
        next.expires_in,
        i64::from(f.settings.tokens.access_ttl_secs)
    );
    let subject = f
        .keys
        .verify(&next.access_token, T0 + 60)
        .await
        .expect("new access token");
    assert_eq!(subject.session_id, sid, "a refresh stays in its session");
    // The successor works in turn.
    let third = f
        .refresh(&next.refresh_token, &client(IP), T0 + 120)
        .await
        .expect("second refresh");
    assert_ne!(third.refresh_token, next.refresh_token);
}

#[tokio::test]
async fn a_used_refresh_token_is_refused_and_revokes_its_whole_family() {
    let f = fixture().await;
    let t = f.signup("reuse@example.com").await;
    let sid = f.sid_of(&t).await;
    let other = login_at(&f, "reuse@example.com", T0 + 1).await;
    let other_sid = f.sid_of(&other).await;
    let next = f
        .refresh(&t.refresh_token, &client(IP), T0 + 60)
        .await
        .expect("refresh");
    assert!(f.session_is_live(&sid, T0 + 60).await.unwrap());

    let e = f
        .refresh(&t.refresh_token, &client("198.51.100.7"), T0 + 61)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
    // The family is gone: the successor no longer works, and the session is dead at
    // once (the cached "live" of a second ago does not hide it).
    let e = f
        .refresh(&next.refresh_token, &client(IP), T0 + 62)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
    assert!(!f.session_is_live(&sid, T0 + 61).await.unwrap());
    // Only that family: the user's other sign-in is untouched.
    assert!(f.session_is_live(&other_sid, T0 + 62).await.unwrap());
    f.refresh(&other.refresh_token, &client(IP), T0 + 63)
        .await
        .expect("the other session still refreshes");
}

#[tokio::test]
async fn a_refresh_token_works_until_one_second_before_its_ttl() {
    let f = fixture().await;
    let ttl = refresh_ttl(&f);
    let a = f.signup("edge-a@example.com").await;
    let b = f.signup("edge-b@example.com").await;
    f.refresh(&a.refresh_token, &client(IP), T0 + ttl - 1)
        .await
        .expect("one second before expiry");
    let e = f
        .refresh(&b.refresh_token, &client(IP), T0 + ttl)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
    let sid_b = f.sid_of(&b).await;
    assert!(!f.session_is_live(&sid_b, T0 + ttl).await.unwrap());
}

#[tokio::test]
async fn a_refresh_slides_the_session_expiry() {
    let f = fixture().await;
    let ttl = refresh_ttl(&f);
    let t = f.signup("slide@example.com").await;
    let at = T0 + ttl - 1;
    let next = f
        .refresh(&t.refresh_token, &client(IP), at)
        .await
        .expect("refresh");
    let sid = f.sid_of(&t).await;
    // Past the first expiry, the session lives on, to exactly `at + ttl`.
    assert!(f.session_is_live(&sid, T0 + ttl + 100).await.unwrap());
    let listed = f.list_sessions(&t.user.id, None, at).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].expires_at, at + ttl);
    assert_eq!(listed[0].last_used_at, Some(at));
    let e = f
        .refresh(&next.refresh_token, &client(IP), at + ttl)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
}

#[tokio::test]
async fn garbage_and_oversized_refresh_tokens_are_refused() {
    let f = fixture().await;
    let t = f.signup("junk@example.com").await;
    for bad in [String::new(), "not-a-token".into(), "x".repeat(257)] {
        let e = f.refresh(&bad, &client(IP), T0 + 1).await.unwrap_err();
        assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
    }
    // None of that touched the real session.
    f.refresh(&t.refresh_token, &client(IP), T0 + 2)
        .await
        .expect("the real token still works");
}

#[tokio::test]
async fn logout_ends_the_session_at_once_despite_the_cache() {
    let f = fixture().await;
    let t = f.signup("out@example.com").await;
    let sid = f.sid_of(&t).await;
    let other = login_at(&f, "out@example.com", T0 + 1).await;
    let other_sid = f.sid_of(&other).await;
    // Caches "live" for the next few seconds.
    assert!(f.session_is_live(&sid, T0 + 10).await.unwrap());
    assert!(
        f.logout(&t.user.id, Some(&sid), false, &client(IP), T0 + 11)
            .await
            .unwrap()
    );
    assert!(!f.session_is_live(&sid, T0 + 11).await.unwrap());
    let e = f
        .refresh(&t.refresh_token, &client(IP), T0 + 12)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
    assert!(f.session_is_live(&other_sid, T0 + 12).await.unwrap());
}

#[tokio::test]
async fn revoke_session_ends_it_at_once_despite_the_cache() {
    let f = fixture().await;
    let t = f.signup("revoke@example.com").await;
    let sid = f.sid_of(&t).await;
    assert!(f.session_is_live(&sid, T0 + 1).await.unwrap());
    assert!(
        f.revoke_session(&t.user.id, &sid, &client(IP), T0 + 2)
            .await
            .unwrap()
    );
    assert!(!f.session_is_live(&sid, T0 + 2).await.unwrap());
    assert!(
        f.list_sessions(&t.user.id, None, T0 + 2)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn list_sessions_marks_the_current_one_only_when_named() {
    let f = fixture().await;
    let first = f.signup("list@example.com").await;
    let second = login_at(&f, "list@example.com", T0 + 30).await;
    let uid = first.user.id.clone();
    let (s1, s2) = (f.sid_of(&first).await, f.sid_of(&second).await);

    let listed = f.list_sessions(&uid, Some(&s1), T0 + 40).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [s2.as_str(), s1.as_str()], "newest first");
    let current: Vec<&str> = listed
        .iter()
        .filter(|s| s.current)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(current, [s1.as_str()]);
    assert_eq!(listed[1].created_at, T0);
    assert_eq!(listed[1].ip.as_deref(), Some(IP));
    assert_eq!(listed[1].user_agent.as_deref(), Some("unit-test"));

    let listed = f.list_sessions(&uid, None, T0 + 40).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| !s.current));

    // A revoked session is no longer listed.
    f.revoke_session(&uid, &s2, &client(IP), T0 + 50)
        .await
        .unwrap();
    let listed = f.list_sessions(&uid, Some(&s2), T0 + 50).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, s1);
    assert!(!listed[0].current);
}

#[tokio::test]
async fn list_sessions_drops_a_session_at_its_expiry() {
    let f = fixture().await;
    let t = f.signup("expire-list@example.com").await;
    let ttl = refresh_ttl(&f);
    assert_eq!(
        f.list_sessions(&t.user.id, None, T0 + ttl - 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        f.list_sessions(&t.user.id, None, T0 + ttl)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn logout_without_a_session_needs_all_sessions() {
    let f = fixture().await;
    let t = f.signup("all@example.com").await;
    let other = login_at(&f, "all@example.com", T0 + 1).await;
    let uid = t.user.id.clone();
    let (s1, s2) = (f.sid_of(&t).await, f.sid_of(&other).await);

    let e = f
        .logout(&uid, None, false, &client(IP), T0 + 2)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::BadInput(_)), "{e}");
    assert!(f.session_is_live(&s1, T0 + 2).await.unwrap());
    assert!(f.session_is_live(&s2, T0 + 2).await.unwrap());

    assert!(
        f.logout(&uid, None, true, &client(IP), T0 + 3)
            .await
            .unwrap()
    );
    assert!(!f.session_is_live(&s1, T0 + 3).await.unwrap());
    assert!(!f.session_is_live(&s2, T0 + 3).await.unwrap());
    assert!(
        f.list_sessions(&uid, None, T0 + 3)
            .await
            .unwrap()
            .is_empty()
    );
    for token in [&t.refresh_token, &other.refresh_token] {
        let e = f.refresh(token, &client(IP), T0 + 4).await.unwrap_err();
        assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
    }
}

#[tokio::test]
async fn another_users_session_cannot_be_revoked() {
    let f = fixture().await;
    let victim = f.signup("victim@example.com").await;
    let attacker = f.signup("attacker@example.com").await;
    let sid = f.sid_of(&victim).await;

    let e = f
        .revoke_session(&attacker.user.id, &sid, &client(IP), T0 + 1)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
    // Logging "out" of someone else's session is a no-op for them.
    f.logout(&attacker.user.id, Some(&sid), false, &client(IP), T0 + 2)
        .await
        .unwrap();
    assert!(f.session_is_live(&sid, T0 + 2).await.unwrap());
    assert_eq!(
        f.list_sessions(&victim.user.id, None, T0 + 2)
            .await
            .unwrap()
            .len(),
        1
    );
    f.refresh(&victim.refresh_token, &client(IP), T0 + 3)
        .await
        .expect("the victim's session is intact");

    let e = f
        .revoke_session(&victim.user.id, "no-such-session", &client(IP), T0 + 4)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

#[tokio::test]
async fn a_deactivated_users_sessions_are_not_live_and_do_not_refresh() {
    use crate::entities::user;
    use sea_orm::sea_query::Expr;
    let f = fixture().await;
    let t = f.signup("gone@example.com").await;
    let sid = f.sid_of(&t).await;
    f.update_user(
        &t.user.id,
        vec![(user::Column::IsActive, Expr::value(false))],
        T0 + 1,
    )
    .await
    .unwrap();
    assert!(!f.session_is_live(&sid, T0 + 1).await.unwrap());
    let e = f
        .refresh(&t.refresh_token, &client(IP), T0 + 2)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
}
