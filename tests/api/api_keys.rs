//! API keys: lifecycle, authentication by key, policy, verification for services.
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Gql, SERVICE_TOKEN, TestApp};

const CREATE: &str = "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id name prefix environment scopes ips status createdAt expiresAt lastUsedAt revokedAt } } }";
const GET: &str = "query($id: ID!) { apiKey(id: $id) { id name prefix scopes ips status expiresAt lastUsedAt revokedAt } }";
const LIST: &str = "query($o: Int, $l: Int) { apiKeys(offset: $o, limit: $l) { total offset limit items { id name prefix status } } }";
const ROTATE: &str = "mutation($id: ID!, $g: Int) { rotateApiKey(id: $id, gracePeriodSeconds: $g) { secret apiKey { id name scopes ips status } } }";
const REVOKE: &str = "mutation($id: ID!) { revokeApiKey(id: $id) { id status revokedAt } }";
const DELETE: &str = "mutation($id: ID!) { deleteApiKey(id: $id) }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $i) { id name scopes ips expiresAt status } }";
const VERIFY: &str = "query($k: String!, $s: [ApiKeyScope!], $ip: String) { verifyApiKey(key: $k, scopes: $s, ip: $ip) { valid reason keyId userId tenantId scopes environment } }";

async fn create(app: &TestApp, token: &str, input: Value) -> (String, String, Gql) {
    let r = app.gql_as(token, CREATE, json!({ "i": input })).await;
    let k = &r.ok()["createApiKey"];
    (
        k["apiKey"]["id"].as_str().unwrap().to_owned(),
        k["secret"].as_str().unwrap().to_owned(),
        r.clone(),
    )
}

async fn me_by_key(app: &TestApp, key: &str) -> Gql {
    app.gql_with("{ me { id email } }", json!({}), &[("x-api-key", key)])
        .await
}

async fn verify(app: &TestApp, key: &str, scopes: Value, ip: Value) -> Value {
    let r = app
        .gql_with(
            VERIFY,
            json!({ "k": key, "s": scopes, "ip": ip }),
            &[("x-service-token", SERVICE_TOKEN)],
        )
        .await;
    r.ok()["verifyApiKey"].clone()
}

db_test!(
    a_created_key_has_the_documented_format_and_its_secret_is_shown_once,
    |app| {
        let t = app.signup("keys@example.com").await;
        let (id, secret, created) = create(
            &app,
            &t.access,
            json!({ "name": "ci", "scopes": ["READ", "WRITE"], "environment": "TEST", "ips": [] }),
        )
        .await;
        let k = &created.data()["createApiKey"]["apiKey"];
        assert!(
            secret.starts_with("lk_test_") && secret.len() == 8 + 64,
            "{secret}"
        );
        assert!(
            secret[8..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(k["prefix"], &secret[..16]);
        assert_eq!(k["environment"], "TEST");
        assert_eq!(k["scopes"], json!(["READ", "WRITE"]));
        assert_eq!(k["status"], "ACTIVE");
        let mut seen = Vec::new();
        seen.push(me_by_key(&app, &secret).await);
        seen.push(app.gql_as(&t.access, GET, json!({ "id": id })).await);
        seen.push(app.gql_as(&t.access, LIST, json!({})).await);
        seen.push(
            app.gql_as(
                &t.access,
                UPDATE,
                json!({ "id": id, "i": { "name": "ci-2" } }),
            )
            .await,
        );
        seen.push(
            app.gql_with(
                "{ me { id } }",
                json!({}),
                &[("x-api-key", &format!("{secret}0"))],
            )
            .await,
        );
        seen.push(app.gql_as(&t.access, REVOKE, json!({ "id": id })).await);
        seen.push(me_by_key(&app, &secret).await);
        seen.push(
            app.gql_with(
                VERIFY,
                json!({ "k": secret }),
                &[("x-service-token", SERVICE_TOKEN)],
            )
            .await,
        );
        for r in &seen {
            let text = r.0.to_string();
            assert!(!text.contains(&secret[16..]), "secret leaked: {text}");
        }
        // Only the hash is stored.
        use sea_orm::EntityTrait;
        let row = latchkey::entities::api_key::Entity::find_by_id(id)
            .one(&app.state.idm.db)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(row.key_hash, secret);
        assert!(!format!("{row:?}").contains(&secret[16..]));
    }
);

db_test!(signup_returns_the_tenants_first_key, |app| {
    let r = app.gql("mutation { signup(email: \"first-key@example.com\", password: \"correct-Horse-battery-9\") { tenantId apiKey { secret apiKey { scopes status } } } }", json!({})).await;
    let s = &r.ok()["signup"];
    let secret = s["apiKey"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("lk_live_"));
    assert_eq!(
        me_by_key(&app, secret).await.ok()["me"]["email"],
        "first-key@example.com"
    );
    let v = verify(&app, secret, json!(null), json!(null)).await;
    assert_eq!(v["tenantId"], s["tenantId"]);
});

db_test!(
    signup_keys_can_be_turned_off,
    |s| {
        s.api_keys.signup_key = false;
    },
    |app| {
        let r = app.gql("mutation { signup(email: \"nokey@example.com\", password: \"correct-Horse-battery-9\") { apiKey { secret } } }", json!({})).await;
        assert!(r.ok()["signup"]["apiKey"].is_null());
    }
);

db_test!(
    both_headers_authenticate_and_scopes_are_enforced_by_name,
    |app| {
        let t = app.signup("scopes@example.com").await;
        let (id, read_key, _) = create(&app, &t.access, json!({ "name": "read-only" })).await;
        assert_eq!(
            me_by_key(&app, &read_key).await.ok()["me"]["email"],
            "scopes@example.com"
        );
        let bearer = format!("Bearer {read_key}");
        app.gql_with("{ me { id } }", json!({}), &[("authorization", &bearer)])
            .await
            .ok();
        app.gql_with(LIST, json!({}), &[("x-api-key", &read_key)])
            .await
            .ok();
        let r = app
            .gql_with(REVOKE, json!({ "id": id }), &[("x-api-key", &read_key)])
            .await;
        r.expect_code("FORBIDDEN");
        assert_eq!(r.message(), "This action requires the 'delete' scope.");
        // @userToken-only fields are FORBIDDEN to keys.
        let r = app
            .gql_with(
                CREATE,
                json!({ "i": { "name": "x" } }),
                &[("x-api-key", &read_key)],
            )
            .await;
        r.expect_code("FORBIDDEN");
        app.gql_with(
            "{ sessions { id } }",
            json!({}),
            &[("x-api-key", &read_key)],
        )
        .await
        .expect_code("FORBIDDEN");
        // A key with DELETE may revoke (itself included); the key is refused at once.
        let (_, del_key, _) = create(
            &app,
            &t.access,
            json!({ "name": "janitor", "scopes": ["DELETE"] }),
        )
        .await;
        let r = app
            .gql_with(REVOKE, json!({ "id": id }), &[("x-api-key", &del_key)])
            .await;
        assert_eq!(r.ok()["revokeApiKey"]["status"], "REVOKED");
        let r = me_by_key(&app, &read_key).await;
        r.expect_code("UNAUTHENTICATED");
        assert_eq!(r.message(), "Invalid or missing API key");
        // DELETE alone does not read.
        me_by_key(&app, &del_key).await.expect_code("FORBIDDEN");
    }
);

db_test!(
    unknown_malformed_and_foreign_prefix_keys_are_unauthenticated,
    |app| {
        for key in [
            "lk_live_".to_owned() + &"0".repeat(64),
            "lk_live_xyz".into(),
            "zz_live_".to_owned() + &"a".repeat(64),
            "".into(),
        ] {
            let r = me_by_key(&app, &key).await;
            r.expect_code("UNAUTHENTICATED");
        }
        let r = app
            .gql_with(
                "{ me { id } }",
                json!({}),
                &[(
                    "authorization",
                    &format!("Bearer lk_test_{}", "f".repeat(64)),
                )],
            )
            .await;
        assert_eq!(r.message(), "Invalid or missing API key");
    }
);

db_test!(
    expiry_must_be_in_the_future_and_an_expired_key_is_refused,
    |app| {
        let t = app.signup("expiry@example.com").await;
        let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
        let r = app
            .gql_as(
                &t.access,
                CREATE,
                json!({ "i": { "name": "old", "expiresAt": past } }),
            )
            .await;
        r.expect_code("BAD_USER_INPUT");
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
        let (id, key, _) = create(
            &app,
            &t.access,
            json!({ "name": "brief", "expiresAt": soon }),
        )
        .await;
        me_by_key(&app, &key).await.ok();
        tokio::time::sleep(std::time::Duration::from_millis(6100)).await;
        me_by_key(&app, &key).await.expect_code("UNAUTHENTICATED");
        let r = app.gql_as(&t.access, GET, json!({ "id": id })).await;
        assert_eq!(r.ok()["apiKey"]["status"], "EXPIRED");
        assert_eq!(
            verify(&app, &key, json!(null), json!(null)).await["reason"],
            "EXPIRED"
        );
    }
);

db_test!(
    the_ip_allowlist_takes_ips_and_cidrs_and_refuses_malformed_entries,
    |app| {
        let t = app.signup("ips@example.com").await;
        for (ips, allowed) in [
            (json!(["127.0.0.1"]), true),
            (json!(["127.0.0.0/8", "2001:db8::/32"]), true),
            (json!(["10.0.0.0/8"]), false),
            (json!(["::1"]), false),
            (json!(["192.0.2.1", "2001:db8::1"]), false),
        ] {
            let (_, key, _) = create(&app, &t.access, json!({ "name": "ip", "ips": ips })).await;
            let r = me_by_key(&app, &key).await;
            assert_eq!(r.code().is_none(), allowed, "{ips}: {}", r.0);
            if !allowed {
                assert_eq!(r.message(), "Invalid or missing API key");
            }
        }
        for bad in ["10.0.0.0/33", "localhost", "1.2.3", "::g"] {
            let r = app
                .gql_as(
                    &t.access,
                    CREATE,
                    json!({ "i": { "name": "bad", "ips": [bad] } }),
                )
                .await;
            r.expect_code("BAD_USER_INPUT");
            assert!(r.message().contains(bad), "{}", r.message());
        }
    }
);

db_test!(
    a_forwarded_client_ip_counts_only_through_a_trusted_proxy,
    |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    },
    |app| {
        let t = app.signup("proxy@example.com").await;
        let (_, key, _) = create(
            &app,
            &t.access,
            json!({ "name": "office", "ips": ["203.0.113.0/24"] }),
        )
        .await;
        me_by_key(&app, &key).await.expect_code("UNAUTHENTICATED");
        let r = app
            .gql_with(
                "{ me { id } }",
                json!({}),
                &[
                    ("x-api-key", &key),
                    ("x-forwarded-for", "198.51.100.9, 203.0.113.7"),
                ],
            )
            .await;
        r.ok();
        let r = app
            .gql_with(
                "{ me { id } }",
                json!({}),
                &[
                    ("x-api-key", &key),
                    ("x-forwarded-for", "203.0.113.7, 198.51.100.9"),
                ],
            )
            .await;
        r.expect_code("UNAUTHENTICATED");
    }
);

db_test!(
    a_forwarded_header_from_an_untrusted_peer_is_ignored,
    |app| {
        let t = app.signup("spoof@example.com").await;
        let (_, key, _) = create(
            &app,
            &t.access,
            json!({ "name": "office", "ips": ["203.0.113.7"] }),
        )
        .await;
        let r = app
            .gql_with(
                "{ me { id } }",
                json!({}),
                &[("x-api-key", &key), ("x-forwarded-for", "203.0.113.7")],
            )
            .await;
        r.expect_code("UNAUTHENTICATED");
    }
);

db_test!(listing_pages_and_bounds, |app| {
    let t = app.signup("pages@example.com").await;
    for i in 0..3 {
        create(&app, &t.access, json!({ "name": format!("k{i}") })).await;
    }
    let r = app.gql_as(&t.access, LIST, json!({ "o": 0, "l": 2 })).await;
    let p = &r.ok()["apiKeys"];
    assert_eq!(p["total"], 4); // three plus the signup key
    assert_eq!(p["items"].as_array().unwrap().len(), 2);
    assert_eq!(p["items"][0]["name"], "k2");
    let r = app.gql_as(&t.access, LIST, json!({ "o": 2, "l": 2 })).await;
    assert_eq!(r.ok()["apiKeys"]["items"].as_array().unwrap().len(), 2);
    let r = app.gql_as(&t.access, LIST, json!({})).await;
    assert_eq!(r.ok()["apiKeys"]["limit"], 64);
    for (o, l) in [(0, 0), (0, 65), (-1, 10)] {
        app.gql_as(&t.access, LIST, json!({ "o": o, "l": l }))
            .await
            .expect_code("BAD_USER_INPUT");
    }
});

db_test!(another_users_key_is_not_found_everywhere, |app| {
    let owner = app.signup("keyowner@example.com").await;
    let other = app.signup("keythief@example.com").await;
    let (id, key, _) = create(&app, &owner.access, json!({ "name": "mine" })).await;
    app.gql_as(&other.access, GET, json!({ "id": id }))
        .await
        .expect_code("NOT_FOUND");
    app.gql_as(
        &other.access,
        UPDATE,
        json!({ "id": id, "i": { "name": "x" } }),
    )
    .await
    .expect_code("NOT_FOUND");
    app.gql_as(&other.access, ROTATE, json!({ "id": id }))
        .await
        .expect_code("NOT_FOUND");
    app.gql_as(&other.access, REVOKE, json!({ "id": id }))
        .await
        .expect_code("NOT_FOUND");
    app.gql_as(&other.access, DELETE, json!({ "id": id }))
        .await
        .expect_code("NOT_FOUND");
    app.gql_as(&owner.access, GET, json!({ "id": "no-such-key" }))
        .await
        .expect_code("NOT_FOUND");
    me_by_key(&app, &key).await.ok();
});

db_test!(updates_take_effect_at_once, |app| {
    let t = app.signup("update@example.com").await;
    let (id, key, _) = create(&app, &t.access, json!({ "name": "svc" })).await;
    me_by_key(&app, &key).await.ok();
    let later = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let r = app.gql_as(&t.access, UPDATE, json!({ "id": id, "i": { "name": "svc-2", "scopes": ["WRITE"], "ips": ["10.0.0.0/8"], "expiresAt": later } })).await;
    let k = &r.ok()["updateApiKey"];
    assert_eq!(k["name"], "svc-2");
    assert_eq!(k["scopes"], json!(["WRITE"]));
    assert_eq!(k["ips"], json!(["10.0.0.0/8"]));
    // The cached verification did not outlive the change.
    me_by_key(&app, &key).await.expect_code("UNAUTHENTICATED");
    app.gql_as(&t.access, UPDATE, json!({ "id": id, "i": { "ips": [] } }))
        .await
        .ok();
    me_by_key(&app, &key).await.expect_code("FORBIDDEN");
    app.gql_as(
        &t.access,
        UPDATE,
        json!({ "id": id, "i": { "scopes": [] } }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    app.gql_as(&t.access, UPDATE, json!({ "id": id, "i": { "name": "" } }))
        .await
        .expect_code("BAD_USER_INPUT");
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    app.gql_as(
        &t.access,
        UPDATE,
        json!({ "id": id, "i": { "expiresAt": past } }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
});

db_test!(
    rotation_replaces_the_secret_and_the_old_key_stops_at_once,
    |app| {
        let t = app.signup("rotate@example.com").await;
        let (id, old, _) = create(
            &app,
            &t.access,
            json!({ "name": "rot", "scopes": ["READ", "DELETE"], "ips": ["127.0.0.1"] }),
        )
        .await;
        me_by_key(&app, &old).await.ok();
        let r = app.gql_as(&t.access, ROTATE, json!({ "id": id })).await;
        let n = &r.ok()["rotateApiKey"];
        let new = n["secret"].as_str().unwrap();
        assert_ne!(new, old);
        assert_eq!(n["apiKey"]["name"], "rot");
        assert_eq!(n["apiKey"]["scopes"], json!(["READ", "DELETE"]));
        assert_eq!(n["apiKey"]["ips"], json!(["127.0.0.1"]));
        me_by_key(&app, new).await.ok();
        me_by_key(&app, &old).await.expect_code("UNAUTHENTICATED");
        assert_eq!(
            app.gql_as(&t.access, GET, json!({ "id": id })).await.ok()["apiKey"]["status"],
            "REVOKED"
        );
        let again = app.gql_as(&t.access, ROTATE, json!({ "id": id })).await;
        assert!(
            matches!(again.code(), Some("CONFLICT") | Some("BAD_USER_INPUT")),
            "{:?}",
            again.0
        );
    }
);

db_test!(
    rotation_with_a_grace_period_keeps_the_old_key_until_it_ends,
    |app| {
        let t = app.signup("grace@example.com").await;
        let (id, old, _) = create(&app, &t.access, json!({ "name": "grace" })).await;
        let r = app
            .gql_as(&t.access, ROTATE, json!({ "id": id, "g": 3600 }))
            .await;
        let new = r.ok()["rotateApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        me_by_key(&app, &old).await.ok();
        me_by_key(&app, &new).await.ok();
        let k = app.gql_as(&t.access, GET, json!({ "id": id })).await;
        assert_eq!(k.ok()["apiKey"]["status"], "ACTIVE");
        assert!(k.ok()["apiKey"]["revokedAt"].is_string());
        // With a clock an hour and a bit ahead, the old key is refused.
        let later = latchkey::clock::now() + 3601;
        let v = app
            .state
            .idm
            .verify_key(&old, None, &[], later)
            .await
            .unwrap();
        assert_eq!(
            v.refusal.map(latchkey::graphql::errors::refusal_reason),
            Some("REVOKED")
        );
        for g in [-1, 7 * 24 * 3600 + 1] {
            let (id2, _, _) = create(&app, &t.access, json!({ "name": "g" })).await;
            app.gql_as(&t.access, ROTATE, json!({ "id": id2, "g": g }))
                .await
                .expect_code("BAD_USER_INPUT");
        }
    }
);

db_test!(fifty_racing_rotations_of_one_key_have_one_winner, |app| {
    let t = app.signup("racerot@example.com").await;
    let (id, _, _) = create(&app, &t.access, json!({ "name": "race" })).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, token, id) = (app.clone(), t.access.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            app.gql_as(&token, ROTATE, json!({ "id": id })).await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let r = task.await.unwrap();
        match r.code() {
            None => winners.push(
                r.ok()["rotateApiKey"]["secret"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            Some(code) => assert!(matches!(code, "CONFLICT" | "BAD_USER_INPUT"), "{:?}", r.0),
        }
    }
    assert_eq!(winners.len(), 1);
    me_by_key(&app, &winners[0]).await.ok();
    let r = app.gql_as(&t.access, LIST, json!({})).await;
    assert_eq!(r.ok()["apiKeys"]["total"], 3); // signup key, the old one, its one replacement
});

db_test!(deleted_keys_leave_the_listing_and_stop_working, |app| {
    let t = app.signup("delete@example.com").await;
    let (id, key, _) = create(&app, &t.access, json!({ "name": "gone" })).await;
    me_by_key(&app, &key).await.ok();
    assert_eq!(
        app.gql_as(&t.access, DELETE, json!({ "id": id }))
            .await
            .ok()["deleteApiKey"],
        true
    );
    me_by_key(&app, &key).await.expect_code("UNAUTHENTICATED");
    app.gql_as(&t.access, GET, json!({ "id": id }))
        .await
        .expect_code("NOT_FOUND");
    let r = app.gql_as(&t.access, LIST, json!({})).await;
    assert!(
        r.ok()["apiKeys"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["id"] != id.as_str())
    );
    assert_eq!(
        verify(&app, &key, json!(null), json!(null)).await["reason"],
        "NOT_FOUND"
    );
});

db_test!(
    last_used_is_recorded_without_a_write_per_request_and_shows_within_seconds,
    |app| {
        let t = app.signup("lastused@example.com").await;
        let (id, key, _) = create(&app, &t.access, json!({ "name": "used" })).await;
        let r = app.gql_as(&t.access, GET, json!({ "id": id })).await;
        assert!(r.ok()["apiKey"]["lastUsedAt"].is_null());
        me_by_key(&app, &key).await.ok();
        let r = app.gql_as(&t.access, GET, json!({ "id": id })).await;
        assert!(r.ok()["apiKey"]["lastUsedAt"].is_string());
        // Another instance reads the database: the batch lands within 10 s.
        use sea_orm::EntityTrait;
        let mut stored = None;
        for _ in 0..100 {
            let row = latchkey::entities::api_key::Entity::find_by_id(id.clone())
                .one(&app.state.idm.db)
                .await
                .unwrap()
                .unwrap();
            if row.last_used_at.is_some() {
                stored = row.last_used_at;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(stored.is_some(), "lastUsedAt not written within 10 s");
    }
);

db_test!(
    require_role_limits_who_creates_keys,
    |s| {
        s.api_keys.require_role = Some(latchkey::domain::Role::Developer);
    },
    |app| {
        let r = app.gql("mutation { signup(email: \"norole@example.com\", password: \"correct-Horse-battery-9\") { apiKey { secret } auth { accessToken } } }", json!({})).await;
        assert!(r.ok()["signup"]["apiKey"].is_null());
        let token = r.ok()["signup"]["auth"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = app
            .gql_as(&token, CREATE, json!({ "i": { "name": "x" } }))
            .await;
        r.expect_code("FORBIDDEN");
        assert!(r.message().contains("DEVELOPER"), "{}", r.message());
        app.state
            .idm
            .set_role_by_email("norole@example.com", latchkey::domain::Role::Developer, 0)
            .await
            .unwrap();
        create(&app, &token, json!({ "name": "x" })).await;
    }
);

db_test!(
    one_active_key_per_user_means_revoke_before_creating,
    |s| {
        s.api_keys.max_active_per_user = 1;
    },
    |app| {
        let t = app.signup("onekey@example.com").await;
        let r = app
            .gql_as(&t.access, CREATE, json!({ "i": { "name": "second" } }))
            .await;
        r.expect_code("BAD_USER_INPUT");
        assert_eq!(
            r.message(),
            "One active key per user: revoke before creating."
        );
        let list = app.gql_as(&t.access, LIST, json!({})).await;
        let first = list.ok()["apiKeys"]["items"][0]["id"].clone();
        app.gql_as(&t.access, REVOKE, json!({ "id": first }))
            .await
            .ok();
        create(&app, &t.access, json!({ "name": "second" })).await;
    }
);

db_test!(verify_api_key_answers_every_reason, |app| {
    let admin = app.signup("verifier@example.com").await;
    app.make_admin("verifier@example.com").await;
    let t = app.signup("subject@example.com").await;
    let (id, key, _) = create(&app, &t.access, json!({ "name": "v", "scopes": ["READ", "WRITE"], "environment": "DEV", "ips": ["10.1.0.0/16"] })).await;
    let v = verify(&app, &key, json!(["READ"]), json!("10.1.2.3")).await;
    assert_eq!(v["valid"], true, "{v}");
    assert!(v["reason"].is_null());
    assert_eq!(v["keyId"], id.as_str());
    assert_eq!(v["userId"], t.user_id.as_str());
    assert!(v["tenantId"].as_str().unwrap().starts_with("cust_"));
    assert_eq!(v["scopes"], json!(["READ", "WRITE"]));
    assert_eq!(v["environment"], "DEV");
    assert_eq!(
        verify(&app, &key, json!(["DELETE"]), json!("10.1.2.3")).await["reason"],
        "INSUFFICIENT_SCOPE"
    );
    assert_eq!(
        verify(&app, &key, json!(null), json!("10.2.0.1")).await["reason"],
        "IP_NOT_ALLOWED"
    );
    assert_eq!(
        verify(&app, &key, json!(null), json!(null)).await["reason"],
        "IP_NOT_ALLOWED"
    );
    assert_eq!(
        verify(&app, "lk_live_nope", json!(null), json!(null)).await["reason"],
        "NOT_FOUND"
    );
    let r = app
        .gql_with(
            VERIFY,
            json!({ "k": key, "ip": "not-an-ip" }),
            &[("x-service-token", SERVICE_TOKEN)],
        )
        .await;
    r.expect_code("BAD_USER_INPUT");
    app.gql_as(
        &admin.access,
        "mutation($u: ID!) { setUserActive(userId: $u, active: false) { id } }",
        json!({ "u": t.user_id }),
    )
    .await
    .ok();
    assert_eq!(
        verify(&app, &key, json!(null), json!("10.1.2.3")).await["reason"],
        "USER_INACTIVE"
    );
    app.gql_as(
        &admin.access,
        "mutation($u: ID!) { setUserActive(userId: $u, active: true) { id } }",
        json!({ "u": t.user_id }),
    )
    .await
    .ok();
    let t = app
        .login_tokens("subject@example.com", crate::helpers::PASSWORD)
        .await;
    let (id2, key2, _) = create(&app, &t.access, json!({ "name": "r" })).await;
    app.gql_as(&t.access, REVOKE, json!({ "id": id2 }))
        .await
        .ok();
    assert_eq!(
        verify(&app, &key2, json!(null), json!(null)).await["reason"],
        "REVOKED"
    );
    // Only the service token may ask.
    app.gql_as(&t.access, VERIFY, json!({ "k": key }))
        .await
        .expect_code("FORBIDDEN");
    app.gql(VERIFY, json!({ "k": key }))
        .await
        .expect_code("UNAUTHENTICATED");
});

db_test!(a_deactivated_users_keys_are_refused, |app| {
    let admin = app.signup("keyadmin@example.com").await;
    app.make_admin("keyadmin@example.com").await;
    let t = app.signup("keyleaver@example.com").await;
    let (_, key, _) = create(&app, &t.access, json!({ "name": "k" })).await;
    me_by_key(&app, &key).await.ok();
    app.gql_as(
        &admin.access,
        "mutation($u: ID!) { setUserActive(userId: $u, active: false) { id } }",
        json!({ "u": t.user_id }),
    )
    .await
    .ok();
    let r = me_by_key(&app, &key).await;
    r.expect_code("UNAUTHENTICATED");
    assert_eq!(r.message(), "Invalid or missing API key");
});

db_test!(temporary_keys_are_for_services_and_expire, |app| {
    let t = app.signup("temp@example.com").await;
    const TEMP: &str = "mutation($u: ID!, $ttl: Int, $s: [ApiKeyScope!]) { createTemporaryApiKey(userId: $u, ttlSeconds: $ttl, scopes: $s) { secret apiKey { id scopes expiresAt } } }";
    let svc = [("x-service-token", SERVICE_TOKEN)];
    let r = app
        .gql_with(TEMP, json!({ "u": t.user_id, "ttl": 60 }), &svc)
        .await;
    let k = &r.ok()["createTemporaryApiKey"];
    assert_eq!(k["apiKey"]["scopes"], json!(["READ"]));
    let secret = k["secret"].as_str().unwrap().to_owned();
    me_by_key(&app, &secret).await.ok();
    let expires = chrono::DateTime::parse_from_rfc3339(k["apiKey"]["expiresAt"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!((expires - latchkey::clock::now() - 60).abs() <= 2);
    let v = app
        .state
        .idm
        .verify_key(&secret, None, &[], expires + 1)
        .await
        .unwrap();
    assert_eq!(
        v.refusal.map(latchkey::graphql::errors::refusal_reason),
        Some("EXPIRED")
    );
    for ttl in [59, 86_401] {
        app.gql_with(TEMP, json!({ "u": t.user_id, "ttl": ttl }), &svc)
            .await
            .expect_code("BAD_USER_INPUT");
    }
    app.gql_with(TEMP, json!({ "u": "nobody" }), &svc)
        .await
        .expect_code("NOT_FOUND");
    app.gql_as(&t.access, TEMP, json!({ "u": t.user_id }))
        .await
        .expect_code("FORBIDDEN");
});

db_test!(key_events_are_audited, |app| {
    let t = app.signup("keyaudit@example.com").await;
    let (id, _, _) = create(&app, &t.access, json!({ "name": "a" })).await;
    let r = app.gql_as(&t.access, ROTATE, json!({ "id": id })).await;
    let new_id = r.ok()["rotateApiKey"]["apiKey"]["id"].clone();
    app.gql_as(&t.access, REVOKE, json!({ "id": new_id }))
        .await
        .ok();
    app.gql_as(&t.access, DELETE, json!({ "id": new_id }))
        .await
        .ok();
    let rows = app.audit_rows(&t.user_id).await;
    let events: Vec<&str> = rows.iter().map(|r| r.event.as_str()).collect();
    for e in [
        "api_key_created",
        "api_key_rotated",
        "api_key_revoked",
        "api_key_deleted",
    ] {
        assert!(events.contains(&e), "{e} not in {events:?}");
    }
});
