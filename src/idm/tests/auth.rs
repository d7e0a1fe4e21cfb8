//! `Idm::authenticate` and `Idm::authorize`: every decision about a credential, on a
//! fixed clock.
use super::*;
use crate::domain::{Environment, Role, Scope};
use crate::idm::Error;
use crate::idm::api_keys::KeySpec;
use crate::idm::auth::{Caller, Header, Presented, Refused, Rule, UserCaller};
use crate::idm::tokens::LEEWAY_SECS;

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn who(f: &Fixture, p: Presented<'_>, now: i64) -> Caller {
    f.authenticate(&p, client("192.0.2.1"), now).await
}

fn with_authorization(value: &str) -> Presented<'_> {
    Presented {
        authorization: Header::Value(value),
        ..Presented::default()
    }
}

async fn key_for(f: &Fixture, user_id: &str, scopes: &[Scope], expires_at: Option<i64>) -> String {
    let spec = KeySpec {
        name: "k".into(),
        scopes: scopes.to_vec(),
        environment: Environment::Live,
        expires_at,
        ips: Vec::new(),
    };
    f.create_api_key(user_id, spec, &client("192.0.2.1"), T0)
        .await
        .expect("key")
        .secret
        .expose()
        .to_owned()
}

fn user_rule(roles: &[Role]) -> Rule {
    Rule {
        user_roles: Some(roles.to_vec()),
        ..Rule::default()
    }
}

#[tokio::test]
async fn no_credential_is_anonymous_and_not_refused() {
    let f = fixture().await;
    let c = who(&f, Presented::default(), T0).await;
    assert!(c.user.is_none() && c.key.is_none() && !c.service);
    assert_eq!(c.refused, None);
    assert_eq!(c.now, T0, "the caller carries the request's now");
    let e = f.authorize(&user_rule(&[]), &c).await.unwrap_err();
    assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
    assert!(
        f.authorize(
            &Rule {
                public: true,
                ..Rule::default()
            },
            &c
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn an_access_token_is_accepted_until_its_expiry_and_leeway_then_refused() {
    let f = fixture().await;
    let t = f.signup("ada@example.com").await;
    let header = bearer(&t.access_token);
    let ttl = i64::from(f.settings.tokens.access_ttl_secs);
    let c = who(&f, with_authorization(&header), T0 + ttl + LEEWAY_SECS - 1).await;
    assert_eq!(
        c.user.as_ref().map(|u| u.user_id.as_str()),
        Some(t.user.id.as_str())
    );
    // The verified-token cache remembers the claims' times, not a verdict.
    let c = who(&f, with_authorization(&header), T0 + ttl + LEEWAY_SECS).await;
    assert_eq!(c.refused, Some(Refused::InvalidToken));
    assert!(c.user.is_none());
}

#[tokio::test]
async fn a_token_of_a_revoked_session_is_refused_at_once() {
    let f = fixture().await;
    let t = f.signup("rev@example.com").await;
    let header = bearer(&t.access_token);
    let c = who(&f, with_authorization(&header), T0 + 1).await;
    let sid = c.user.expect("signed in").session_id;
    f.logout(&t.user.id, Some(&sid), false, &client("192.0.2.1"), T0 + 2)
        .await
        .expect("logout");
    let c = who(&f, with_authorization(&header), T0 + 3).await;
    assert_eq!(c.refused, Some(Refused::InvalidToken));
}

#[tokio::test]
async fn an_unreadable_header_refuses_the_request_even_beside_a_valid_token() {
    let f = fixture().await;
    let t = f.signup("bytes@example.com").await;
    let header = bearer(&t.access_token);
    let p = Presented {
        authorization: Header::Value(&header),
        api_key: Header::Unreadable,
        ..Presented::default()
    };
    let c = who(&f, p, T0).await;
    assert_eq!(c.refused, Some(Refused::Unreadable));
    assert!(
        c.user.is_none(),
        "nothing is judged past an unreadable header"
    );
}

#[tokio::test]
async fn another_scheme_than_bearer_is_refused() {
    let f = fixture().await;
    let c = who(&f, with_authorization("Basic YWRhOnB3"), T0).await;
    assert_eq!(c.refused, Some(Refused::BadScheme));
    let c = who(&f, with_authorization("Bearer"), T0).await;
    assert_eq!(c.refused, Some(Refused::BadScheme));
}

#[tokio::test]
async fn a_key_authenticates_by_either_header_with_typed_scopes_but_not_twice() {
    let f = fixture().await;
    let t = f.signup("keys@example.com").await;
    let secret = key_for(&f, &t.user.id, &[Scope::Read], None).await;
    let header = bearer(&secret);
    let by_bearer = who(&f, with_authorization(&header), T0).await;
    let key = by_bearer.key.expect("key caller");
    assert_eq!(key.user_id, t.user.id);
    assert_eq!(key.scopes, vec![Scope::Read]);
    let by_header = who(
        &f,
        Presented {
            api_key: Header::Value(&secret),
            ..Presented::default()
        },
        T0,
    )
    .await;
    assert!(by_header.key.is_some());
    let both = who(
        &f,
        Presented {
            authorization: Header::Value(&header),
            api_key: Header::Value(&secret),
            ..Presented::default()
        },
        T0,
    )
    .await;
    assert_eq!(both.refused, Some(Refused::TwoKeys));
}

#[tokio::test]
async fn an_expired_key_is_refused_from_its_expiry_on() {
    let f = fixture().await;
    let t = f.signup("exp@example.com").await;
    let secret = key_for(&f, &t.user.id, &[Scope::Read], Some(T0 + 3600)).await;
    let p = Presented {
        api_key: Header::Value(&secret),
        ..Presented::default()
    };
    assert!(who(&f, p, T0 + 3599).await.key.is_some());
    let c = who(&f, p, T0 + 3600 + 60).await;
    assert_eq!(c.refused, Some(Refused::InvalidKey));
}

#[tokio::test]
async fn the_service_token_matches_only_the_configured_one() {
    let f = fixture().await;
    let ok = Presented {
        service_token: Header::Value("unit-service-token"),
        ..Presented::default()
    };
    assert!(who(&f, ok, T0).await.service);
    let wrong = Presented {
        service_token: Header::Value("unit-service-tokeN"),
        ..Presented::default()
    };
    let c = who(&f, wrong, T0).await;
    assert!(!c.service);
    assert_eq!(c.refused, Some(Refused::InvalidServiceToken));
    let unset = fixture_with(|s| s.service_token = Default::default()).await;
    let empty = Presented {
        service_token: Header::Value(""),
        ..Presented::default()
    };
    assert!(
        !who(&unset, empty, T0).await.service,
        "an unset token matches nothing"
    );
}

#[tokio::test]
async fn the_noauth_user_stands_in_only_when_nothing_is_sent() {
    let f = fixture().await;
    let _ = f.noauth_user.set(UserCaller {
        user_id: "dev".into(),
        session_id: "noauth".into(),
        ..UserCaller::default()
    });
    let c = who(&f, Presented::default(), T0).await;
    assert_eq!(c.user.map(|u| u.user_id), Some("dev".to_owned()));
    let c = who(&f, with_authorization("Bearer not-a-jwt"), T0).await;
    assert!(
        c.user.is_none(),
        "a sent credential is judged, never upgraded"
    );
    assert_eq!(c.refused, Some(Refused::InvalidToken));
}

#[tokio::test]
async fn roles_are_read_at_the_call_so_a_demotion_counts_at_once() {
    let f = fixture().await;
    let admin = f.signup("root@example.com").await;
    let t = f.signup("dev@example.com").await;
    f.set_role_by_email("root@example.com", Role::Admin, T0)
        .await
        .expect("first admin");
    let header = bearer(&t.access_token);
    let caller = who(&f, with_authorization(&header), T0 + 1).await;
    let rule = user_rule(&[Role::Developer]);
    let e = f.authorize(&rule, &caller).await.unwrap_err();
    assert!(
        matches!(&e, Error::Forbidden(m) if m.contains("DEVELOPER")),
        "{e}"
    );
    f.set_user_role(
        &admin.user.id,
        &t.user.id,
        Role::Developer,
        &client("192.0.2.9"),
        T0 + 2,
    )
    .await
    .expect("promote");
    assert!(f.authorize(&rule, &caller).await.is_ok());
    f.set_user_role(
        &admin.user.id,
        &t.user.id,
        Role::User,
        &client("192.0.2.9"),
        T0 + 3,
    )
    .await
    .expect("demote");
    assert!(
        f.authorize(&rule, &caller).await.is_err(),
        "the demotion is seen at once"
    );
}

#[tokio::test]
async fn a_key_needs_every_scope_the_rule_lists_and_the_error_names_the_missing_one() {
    let f = fixture().await;
    let t = f.signup("scope@example.com").await;
    let secret = key_for(&f, &t.user.id, &[Scope::Read], None).await;
    let p = Presented {
        api_key: Header::Value(&secret),
        ..Presented::default()
    };
    let caller = who(&f, p, T0).await;
    let rule = |scopes: &[Scope]| Rule {
        key_scopes: Some(scopes.to_vec()),
        ..Rule::default()
    };
    assert!(f.authorize(&rule(&[Scope::Read]), &caller).await.is_ok());
    let e = f
        .authorize(&rule(&[Scope::Read, Scope::Write]), &caller)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Forbidden(m) if m.contains("'write'")),
        "{e}"
    );
    let e = f.authorize(&user_rule(&[]), &caller).await.unwrap_err();
    assert!(
        matches!(&e, Error::Forbidden(m) if m.contains("an API key")),
        "{e}"
    );
}

#[tokio::test]
async fn a_refused_credential_is_never_anonymous_even_beside_a_valid_one() {
    let f = fixture().await;
    let t = f.signup("mixed@example.com").await;
    let secret = key_for(&f, &t.user.id, &Scope::ALL, None).await;
    let p = Presented {
        api_key: Header::Value(&secret),
        service_token: Header::Value("wrong"),
        ..Presented::default()
    };
    let caller = who(&f, p, T0).await;
    assert!(caller.key.is_some());
    let rule = Rule {
        key_scopes: Some(Vec::new()),
        ..Rule::default()
    };
    let e = f.authorize(&rule, &caller).await.unwrap_err();
    assert!(
        matches!(&e, Error::Unauthenticated(m) if m == &Refused::InvalidServiceToken.to_string()),
        "{e}"
    );
}

#[tokio::test]
async fn the_acting_user_has_a_session_by_token_and_none_by_key() {
    let f = fixture().await;
    let t = f.signup("act@example.com").await;
    let header = bearer(&t.access_token);
    let by_token = who(&f, with_authorization(&header), T0).await;
    let acting = by_token.acting().expect("acting");
    assert_eq!(acting.user_id, t.user.id);
    assert!(acting.session_id.is_some());
    let secret = key_for(&f, &t.user.id, &[Scope::Read], None).await;
    let p = Presented {
        api_key: Header::Value(&secret),
        ..Presented::default()
    };
    let by_key = who(&f, p, T0).await;
    let acting = by_key.acting().expect("acting");
    assert_eq!(acting.user_id, t.user.id);
    assert_eq!(acting.session_id, None);
    assert!(Caller::default().acting().is_err());
}

#[tokio::test]
async fn a_fresh_sign_in_must_be_the_users_own_live_session() {
    let f = fixture().await;
    let a = f.signup("a@example.com").await;
    let b = f.signup("b@example.com").await;
    let sa = f
        .keys
        .verify(&a.access_token, T0)
        .await
        .expect("token")
        .session_id;
    let sb = f
        .keys
        .verify(&b.access_token, T0)
        .await
        .expect("token")
        .session_id;
    let f = &f;
    let fresh = |user: String, sid: Option<String>, now: i64| async move {
        f.require_fresh_sign_in((&user, sid.as_deref()), "test", now)
            .await
    };
    assert!(
        fresh(a.user.id.clone(), Some(sa.clone()), T0 + 10)
            .await
            .is_ok()
    );
    let late = T0 + crate::idm::step_up::FRESH_SIGN_IN_SECS + 1;
    assert!(
        fresh(a.user.id.clone(), Some(sa.clone()), late)
            .await
            .is_err()
    );
    assert!(
        fresh(a.user.id.clone(), Some(sb), T0 + 10).await.is_err(),
        "another user's session does not count"
    );
    assert!(
        fresh(a.user.id.clone(), None, T0 + 10).await.is_err(),
        "a key has no sign-in"
    );
    f.logout(&a.user.id, Some(&sa), false, &client("192.0.2.1"), T0 + 11)
        .await
        .expect("logout");
    assert!(
        fresh(a.user.id.clone(), Some(sa), T0 + 12).await.is_err(),
        "a revoked session does not count"
    );
}

#[tokio::test]
async fn a_bad_stored_role_or_allowlist_is_an_error_never_a_default() {
    use sea_orm::ConnectionTrait;
    let f = fixture().await;
    let t = f.signup("rows@example.com").await;
    let secret = key_for(&f, &t.user.id, &[Scope::Read], None).await;
    f.db.execute_unprepared(&format!(
        "UPDATE users SET role = 'ROOT' WHERE id = '{}'",
        t.user.id
    ))
    .await
    .expect("corrupt the role");
    f.users.forget(&t.user.id);
    let e = f.user(&t.user.id, T0 + 60).await.unwrap_err();
    assert!(matches!(e, Error::Internal(_)), "not read as USER: {e}");
    f.db.execute_unprepared("UPDATE api_keys SET ips = 'everyone'")
        .await
        .expect("corrupt the allowlist");
    let p = Presented {
        api_key: Header::Value(&secret),
        ..Presented::default()
    };
    // Past the key cache's lifetime, so the row is read again.
    let c = who(&f, p, T0 + 60).await;
    assert!(c.key.is_none(), "not read as 'any address'");
    assert_eq!(c.refused, Some(Refused::KeyUncheckable));
}
