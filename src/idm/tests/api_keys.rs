//! API keys on the fixed clock: expiry at its exact second, rotation with and without a
//! grace period, revocation, the IP allowlist, scopes, a deactivated owner, temporary
//! keys, ownership, the verification cache and two racing rotations.
use super::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::domain::{Environment, Scope};
use crate::entities::api_key;
use crate::idm::api_keys::{KeyChanges, KeySpec, MAX_GRACE_SECS, NewApiKey, Status};
use crate::idm::error::Error;
use crate::idm::key_verify::{CACHE_TTL_SECS, Refusal};

const IP: &str = "192.0.2.1";

fn spec(name: &str) -> KeySpec {
    KeySpec {
        name: name.into(),
        scopes: vec![Scope::Read, Scope::Write],
        environment: Environment::Live,
        expires_at: None,
        ips: Vec::new(),
    }
}

/// Why `secret` is refused from `ip` for `scopes` at `now` (None: it is accepted).
async fn refusal(
    f: &Fixture,
    secret: &NewApiKey,
    ip: Option<&str>,
    scopes: &[Scope],
    now: i64,
) -> Option<Refusal> {
    let ip = ip.map(|i| i.parse().expect("ip"));
    f.verify_key(secret.secret.expose(), ip, scopes, now)
        .await
        .expect("verify")
        .refusal
}

async fn check(f: &Fixture, key: &NewApiKey, now: i64) -> Option<Refusal> {
    refusal(f, key, Some(IP), &[Scope::Read], now).await
}

async fn new_key(f: &Fixture, user_id: &str, spec: KeySpec, now: i64) -> NewApiKey {
    f.create_api_key(user_id, spec, &client(IP), now)
        .await
        .expect("create key")
}

#[tokio::test]
async fn a_key_works_until_its_expiry_and_is_expired_from_that_second() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let expires = T0 + 3600;
    let key = new_key(
        &f,
        &alice,
        KeySpec {
            expires_at: Some(expires),
            ..spec("expiring")
        },
        T0,
    )
    .await;
    assert_eq!(check(&f, &key, T0).await, None);
    assert_eq!(check(&f, &key, expires - 1).await, None);
    assert_eq!(check(&f, &key, expires).await, Some(Refusal::Expired));
    assert_eq!(check(&f, &key, expires + 1).await, Some(Refusal::Expired));
    let shown = |now| f.get_api_key(&alice, &key.key.id, now);
    assert_eq!(
        shown(expires - 1).await.expect("get").status,
        Status::Active
    );
    assert_eq!(shown(expires).await.expect("get").status, Status::Expired);
}

#[tokio::test]
async fn an_expiry_must_be_after_now() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let at = |t| KeySpec {
        expires_at: Some(t),
        ..spec("k")
    };
    let now_err = f.create_api_key(&alice, at(T0), &client(IP), T0).await;
    assert!(matches!(now_err, Err(Error::BadInput(_))), "{now_err:?}");
    let past = f.create_api_key(&alice, at(T0 - 1), &client(IP), T0).await;
    assert!(matches!(past, Err(Error::BadInput(_))), "{past:?}");
    let next = new_key(&f, &alice, at(T0 + 1), T0).await;
    assert_eq!(check(&f, &next, T0).await, None);
    assert_eq!(check(&f, &next, T0 + 1).await, Some(Refusal::Expired));
}

#[tokio::test]
async fn a_rotated_key_keeps_working_for_its_grace_period_only() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let old = new_key(&f, &alice, spec("rotating"), T0).await;
    let at = T0 + 10;
    let grace = 600;
    let new = f
        .rotate_api_key(&alice, &old.key.id, grace, &client(IP), at)
        .await
        .expect("rotate");
    assert_ne!(new.key.id, old.key.id);
    assert_ne!(new.secret.expose(), old.secret.expose());
    assert_eq!(new.key.scopes, old.key.scopes);
    assert_eq!(check(&f, &old, at).await, None);
    assert_eq!(check(&f, &old, at + grace - 1).await, None);
    assert_eq!(check(&f, &old, at + grace).await, Some(Refusal::Revoked));
    assert_eq!(check(&f, &new, at).await, None);
    assert_eq!(check(&f, &new, at + grace).await, None);
    let status = |now| f.get_api_key(&alice, &old.key.id, now);
    assert_eq!(
        status(at + grace - 1).await.expect("get").status,
        Status::Active
    );
    assert_eq!(
        status(at + grace).await.expect("get").status,
        Status::Revoked
    );
    // The old key was rotated once; the next rotation is of its replacement.
    let again = f
        .rotate_api_key(&alice, &old.key.id, 0, &client(IP), at + 1)
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
}

#[tokio::test]
async fn a_rotation_without_grace_stops_the_old_key_at_once() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let old = new_key(&f, &alice, spec("rotating"), T0).await;
    // Cached as valid just before the rotation.
    assert_eq!(check(&f, &old, T0 + 9).await, None);
    let new = f
        .rotate_api_key(&alice, &old.key.id, 0, &client(IP), T0 + 10)
        .await
        .expect("rotate");
    assert_eq!(check(&f, &old, T0 + 10).await, Some(Refusal::Revoked));
    assert_eq!(check(&f, &new, T0 + 10).await, None);
}

#[tokio::test]
async fn the_grace_period_is_bounded() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let key = new_key(&f, &alice, spec("k"), T0).await;
    for bad in [-1, MAX_GRACE_SECS + 1] {
        let r = f
            .rotate_api_key(&alice, &key.key.id, bad, &client(IP), T0)
            .await;
        assert!(matches!(r, Err(Error::BadInput(_))), "{bad}: {r:?}");
    }
    assert_eq!(
        check(&f, &key, T0).await,
        None,
        "a refused rotation changes nothing"
    );
    let new = f
        .rotate_api_key(&alice, &key.key.id, MAX_GRACE_SECS, &client(IP), T0)
        .await
        .expect("longest grace");
    assert_eq!(check(&f, &key, T0 + MAX_GRACE_SECS - 1).await, None);
    assert_eq!(
        check(&f, &key, T0 + MAX_GRACE_SECS).await,
        Some(Refusal::Revoked)
    );
    assert_eq!(check(&f, &new, T0 + MAX_GRACE_SECS).await, None);
}

#[tokio::test]
async fn a_revoked_key_is_refused_and_a_revocation_cuts_a_grace_short() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let key = new_key(&f, &alice, spec("k"), T0).await;
    assert_eq!(check(&f, &key, T0).await, None);
    let shown = f
        .revoke_api_key(&alice, &key.key.id, &client(IP), T0 + 5)
        .await
        .expect("revoke");
    assert_eq!(shown.status, Status::Revoked);
    assert_eq!(shown.revoked_at, Some(T0 + 5));
    assert_eq!(check(&f, &key, T0 + 5).await, Some(Refusal::Revoked));
    assert_eq!(check(&f, &key, T0 + 3600).await, Some(Refusal::Revoked));

    // A key in its grace period is revoked now, not at the end of the grace.
    let old = new_key(&f, &alice, spec("rotating"), T0).await;
    f.rotate_api_key(&alice, &old.key.id, 600, &client(IP), T0)
        .await
        .expect("rotate");
    assert_eq!(check(&f, &old, T0 + 99).await, None);
    f.revoke_api_key(&alice, &old.key.id, &client(IP), T0 + 100)
        .await
        .expect("revoke in grace");
    assert_eq!(check(&f, &old, T0 + 100).await, Some(Refusal::Revoked));
}

#[tokio::test]
async fn the_ip_allowlist_admits_only_its_addresses() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let key = new_key(
        &f,
        &alice,
        KeySpec {
            ips: vec!["203.0.113.0/24".into(), "2001:db8::1".into()],
            ..spec("office")
        },
        T0,
    )
    .await;
    let from = |ip| refusal(&f, &key, ip, &[Scope::Read], T0);
    assert_eq!(from(Some("203.0.113.7")).await, None);
    assert_eq!(from(Some("::ffff:203.0.113.8")).await, None);
    assert_eq!(from(Some("2001:db8::1")).await, None);
    assert_eq!(
        from(Some("198.51.100.1")).await,
        Some(Refusal::IpNotAllowed)
    );
    assert_eq!(from(Some("2001:db8::2")).await, Some(Refusal::IpNotAllowed));
    assert_eq!(from(None).await, Some(Refusal::IpNotAllowed));
    // Without an allowlist, any address (or none) passes.
    let open = new_key(&f, &alice, spec("open"), T0).await;
    assert_eq!(refusal(&f, &open, None, &[Scope::Read], T0).await, None);
    let bad = f
        .create_api_key(
            &alice,
            KeySpec {
                ips: vec!["10.0.0.0/33".into()],
                ..spec("bad")
            },
            &client(IP),
            T0,
        )
        .await;
    assert!(matches!(bad, Err(Error::BadInput(_))), "{bad:?}");
}

#[tokio::test]
async fn a_key_serves_only_its_scopes() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let key = new_key(
        &f,
        &alice,
        KeySpec {
            scopes: vec![Scope::Read],
            ..spec("reader")
        },
        T0,
    )
    .await;
    let with = |scopes: &'static [Scope]| refusal(&f, &key, Some(IP), scopes, T0);
    assert_eq!(with(&[]).await, None);
    assert_eq!(with(&[Scope::Read]).await, None);
    assert_eq!(
        with(&[Scope::Read, Scope::Write]).await,
        Some(Refusal::InsufficientScope)
    );
    assert_eq!(
        with(&[Scope::Delete]).await,
        Some(Refusal::InsufficientScope)
    );
    let none = f
        .create_api_key(
            &alice,
            KeySpec {
                scopes: vec![],
                ..spec("nothing")
            },
            &client(IP),
            T0,
        )
        .await;
    assert!(matches!(none, Err(Error::BadInput(_))), "{none:?}");
}

#[tokio::test]
async fn a_deactivated_owner_s_keys_stop_and_start_again_with_the_owner() {
    let f = fixture().await;
    let admin = f.signup("admin@example.com").await.user.id;
    let alice = f.signup("alice@example.com").await.user.id;
    let key = new_key(&f, &alice, spec("k"), T0).await;
    // Warm the cache: the deactivation must not be hidden by it.
    assert_eq!(check(&f, &key, T0).await, None);
    f.set_user_active(&admin, &alice, false, &client(IP), T0 + 1)
        .await
        .expect("deactivate");
    assert_eq!(check(&f, &key, T0 + 1).await, Some(Refusal::UserInactive));
    let temp = f
        .create_temporary_key(&alice, temporary(600), &client(IP), T0 + 1)
        .await;
    assert!(matches!(temp, Err(Error::BadInput(_))), "{temp:?}");
    f.set_user_active(&admin, &alice, true, &client(IP), T0 + 2)
        .await
        .expect("reactivate");
    assert_eq!(check(&f, &key, T0 + 2).await, None);
}

#[tokio::test]
async fn a_temporary_key_expires_after_its_ttl_which_is_bounded() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    for ttl in [59, 86_401, 0, -60] {
        let r = f
            .create_temporary_key(&alice, temporary(ttl), &client(IP), T0)
            .await;
        assert!(matches!(r, Err(Error::BadInput(_))), "{ttl}: {r:?}");
    }
    let short = f
        .create_temporary_key(&alice, temporary(60), &client(IP), T0)
        .await
        .expect("60 s");
    assert_eq!(short.key.expires_at, Some(T0 + 60));
    assert_eq!(check(&f, &short, T0 + 59).await, None);
    assert_eq!(check(&f, &short, T0 + 60).await, Some(Refusal::Expired));
    let day = f
        .create_temporary_key(&alice, temporary(86_400), &client(IP), T0)
        .await
        .expect("a day");
    assert_eq!(check(&f, &day, T0 + 86_399).await, None);
    assert_eq!(check(&f, &day, T0 + 86_400).await, Some(Refusal::Expired));
    // Its expiry can come sooner, never later; its scopes only narrow.
    let later = f
        .update_api_key(
            &alice,
            &day.key.id,
            KeyChanges {
                expires_at: Some(T0 + 86_401),
                ..KeyChanges::default()
            },
            T0,
        )
        .await;
    assert!(matches!(later, Err(Error::BadInput(_))), "{later:?}");
    let wider = f
        .update_api_key(
            &alice,
            &day.key.id,
            KeyChanges {
                scopes: Some(vec![Scope::Read, Scope::Write]),
                ..KeyChanges::default()
            },
            T0,
        )
        .await;
    assert!(matches!(wider, Err(Error::BadInput(_))), "{wider:?}");
    f.update_api_key(
        &alice,
        &day.key.id,
        KeyChanges {
            expires_at: Some(T0 + 100),
            ..KeyChanges::default()
        },
        T0,
    )
    .await
    .expect("sooner");
    assert_eq!(check(&f, &day, T0 + 99).await, None);
    assert_eq!(check(&f, &day, T0 + 100).await, Some(Refusal::Expired));
}

#[tokio::test]
async fn another_user_cannot_see_or_change_my_key() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let bob = f.signup("bob@example.com").await.user.id;
    let key = new_key(&f, &alice, spec("mine"), T0).await;
    let id = key.key.id.as_str();
    let c = client(IP);
    let get = f.get_api_key(&bob, id, T0).await;
    assert!(matches!(get, Err(Error::NotFound(_))), "{get:?}");
    let revoke = f.revoke_api_key(&bob, id, &c, T0).await;
    assert!(matches!(revoke, Err(Error::NotFound(_))), "{revoke:?}");
    let rotate = f.rotate_api_key(&bob, id, 0, &c, T0).await;
    assert!(matches!(rotate, Err(Error::NotFound(_))), "{rotate:?}");
    let update = f
        .update_api_key(
            &bob,
            id,
            KeyChanges {
                name: Some("stolen".into()),
                ..KeyChanges::default()
            },
            T0,
        )
        .await;
    assert!(matches!(update, Err(Error::NotFound(_))), "{update:?}");
    let delete = f.delete_api_key(&bob, id, &c, T0).await;
    assert!(matches!(delete, Err(Error::NotFound(_))), "{delete:?}");
    let bobs = f.list_api_keys(&bob, 0, 64, T0).await.expect("list");
    assert!(bobs.items.iter().all(|k| k.id != id));
    // Untouched by all of it.
    assert_eq!(check(&f, &key, T0 + 1).await, None);
    let mine = f.get_api_key(&alice, id, T0 + 1).await.expect("get");
    assert_eq!((mine.name.as_str(), mine.status), ("mine", Status::Active));
}

#[tokio::test]
async fn the_cache_never_serves_a_key_this_instance_revoked_or_deleted() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let revoked = new_key(&f, &alice, spec("revoked"), T0).await;
    let deleted = new_key(&f, &alice, spec("deleted"), T0).await;
    assert_eq!(check(&f, &revoked, T0).await, None);
    assert_eq!(check(&f, &deleted, T0).await, None);
    f.revoke_api_key(&alice, &revoked.key.id, &client(IP), T0 + 1)
        .await
        .expect("revoke");
    f.delete_api_key(&alice, &deleted.key.id, &client(IP), T0 + 1)
        .await
        .expect("delete");
    // Well inside CACHE_TTL_SECS of the cached lookups.
    assert_eq!(check(&f, &revoked, T0 + 1).await, Some(Refusal::Revoked));
    assert_eq!(check(&f, &deleted, T0 + 1).await, Some(Refusal::NotFound));
    let gone = f.get_api_key(&alice, &deleted.key.id, T0 + 1).await;
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
}

#[tokio::test]
async fn a_change_made_elsewhere_shows_within_the_cache_ttl() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let key = new_key(&f, &alice, spec("k"), T0).await;
    assert_eq!(check(&f, &key, T0).await, None);
    // Another instance revokes the key: a write to the shared store, no invalidation here.
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(T0))
        .filter(api_key::Column::Id.eq(key.key.id.clone()))
        .exec(&f.db)
        .await
        .expect("revoke elsewhere");
    // This instance's row, cached at T0, is used for CACHE_TTL_SECS...
    assert_eq!(check(&f, &key, T0 + CACHE_TTL_SECS - 1).await, None);
    // ... and no longer.
    assert_eq!(
        check(&f, &key, T0 + CACHE_TTL_SECS).await,
        Some(Refusal::Revoked)
    );
}

#[tokio::test]
async fn of_two_racing_rotations_one_wins_and_the_other_is_a_conflict() {
    let f = fixture().await;
    let alice = f.signup("alice@example.com").await.user.id;
    let old = new_key(&f, &alice, spec("raced"), T0).await;
    let before = f
        .list_api_keys(&alice, 0, 64, T0)
        .await
        .expect("list")
        .total;
    let (c1, c2) = (client(IP), client(IP));
    let (a, b) = tokio::join!(
        f.rotate_api_key(&alice, &old.key.id, 0, &c1, T0 + 1),
        f.rotate_api_key(&alice, &old.key.id, 0, &c2, T0 + 1),
    );
    let (winner, loser) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        (a, b) => panic!("exactly one rotation must win: {a:?} / {b:?}"),
    };
    assert!(matches!(loser, Error::Conflict(_)), "{loser:?}");
    // One replacement exists, the one the old row names; the loser left nothing behind.
    let row = api_key::Entity::find_by_id(old.key.id.clone())
        .one(&f.db)
        .await
        .expect("read")
        .expect("old row");
    assert_eq!(row.replaced_by.as_deref(), Some(winner.key.id.as_str()));
    assert_eq!(row.revoked_at, Some(T0 + 1));
    let after = f.list_api_keys(&alice, 0, 64, T0 + 1).await.expect("list");
    assert_eq!(after.total, before + 1);
    assert_eq!(check(&f, &winner, T0 + 1).await, None);
    assert_eq!(check(&f, &old, T0 + 1).await, Some(Refusal::Revoked));
}

#[tokio::test]
async fn a_rotation_in_a_one_key_policy_replaces_rather_than_adds() {
    let f = fixture_with(|s| {
        s.api_keys.signup_key = false;
        s.api_keys.max_active_per_user = 1;
    })
    .await;
    let alice = f.signup("alice@example.com").await.user.id;
    let only = new_key(&f, &alice, spec("only"), T0).await;
    let second = f
        .create_api_key(&alice, spec("second"), &client(IP), T0)
        .await;
    assert!(matches!(second, Err(Error::BadInput(_))), "{second:?}");
    // The old key, which stops, is not counted: the rotation is allowed even with a grace.
    let new = f
        .rotate_api_key(&alice, &only.key.id, 300, &client(IP), T0 + 1)
        .await
        .expect("rotate under the policy");
    assert_eq!(check(&f, &new, T0 + 1).await, None);
    let third = f
        .create_api_key(&alice, spec("third"), &client(IP), T0 + 2)
        .await;
    assert!(matches!(third, Err(Error::BadInput(_))), "{third:?}");
    // Once the grace is over and the replacement revoked, nothing counts.
    let later = f
        .revoke_api_key(&alice, &new.key.id, &client(IP), T0 + 400)
        .await
        .expect("revoke");
    assert_eq!(later.status, Status::Revoked);
    new_key(&f, &alice, spec("after"), T0 + 400).await;
}

#[tokio::test]
async fn a_hand_over_stops_every_key_a_rotated_one_in_its_grace_included() {
    let f = fixture().await;
    let squatter = f.signup("squat@example.com").await;
    let old = new_key(&f, &squatter.user.id, spec("k"), T0).await;
    let new = f
        .rotate_api_key(
            &squatter.user.id,
            &old.key.id,
            MAX_GRACE_SECS,
            &client(IP),
            T0 + 1,
        )
        .await
        .expect("rotate");
    assert_eq!(check(&f, &old, T0 + 2).await, None, "in its grace period");
    // The address's owner proves the mailbox: the account is handed over clean.
    f.strip_unproven_account(&squatter.user.id, Vec::new(), T0 + 3)
        .await
        .expect("hand over");
    let later = T0 + 3 + CACHE_TTL_SECS;
    assert_eq!(check(&f, &new, later).await, Some(Refusal::Revoked));
    assert_eq!(
        check(&f, &old, later).await,
        Some(Refusal::Revoked),
        "the rotated-out key does not outlive the hand-over"
    );
}

fn temporary(ttl_secs: i64) -> crate::idm::api_key_changes::TemporaryKey {
    crate::idm::api_key_changes::TemporaryKey {
        ttl_secs,
        scopes: vec![Scope::Read],
        environment: crate::domain::Environment::Live,
        label: None,
    }
}
