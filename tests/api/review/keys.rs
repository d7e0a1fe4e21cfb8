//! Findings 6 and 10: no key is widened by its holder. Below `require_role` a key can be
//! neither rotated nor changed (a temporary key a service gave a USER stays what it
//! was); a temporary key's scopes only narrow and its expiry only comes sooner, and its
//! rotation keeps both; `max_active_per_user` also holds when an update gives an
//! expired key a later expiry.
use std::time::Duration;

use serde_json::{Value, json};

use super::{rfc3339, timestamp};
use crate::db_test;
use crate::helpers::{Gql, SERVICE_TOKEN, TestApp};

const TEMP: &str = "mutation($u: ID!, $ttl: Int, $s: [ApiKeyScope!]) { createTemporaryApiKey(userId: $u, ttlSeconds: $ttl, scopes: $s) { secret apiKey { id scopes expiresAt } } }";
const CREATE: &str = "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id status expiresAt } } }";
const GET: &str = "query($id: ID!) { apiKey(id: $id) { id scopes status expiresAt } }";
const ROTATE: &str =
    "mutation($id: ID!) { rotateApiKey(id: $id) { secret apiKey { id scopes status expiresAt } } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $i) { id scopes status expiresAt } }";
const REVOKE: &str = "mutation($id: ID!) { revokeApiKey(id: $id) { id status } }";

/// The service gives `user_id` a READ key for 60 s: (key id, its expiry).
async fn temporary_key(app: &TestApp, user_id: &str) -> (String, i64) {
    let r = app
        .gql_with(
            TEMP,
            json!({ "u": user_id, "ttl": 60, "s": ["READ"] }),
            &[("x-service-token", SERVICE_TOKEN)],
        )
        .await;
    let k = &r.ok()["createTemporaryApiKey"]["apiKey"];
    assert_eq!(k["scopes"], json!(["READ"]));
    (
        k["id"].as_str().expect("id").to_owned(),
        timestamp(&k["expiresAt"]),
    )
}

async fn update(app: &TestApp, token: &str, id: &str, input: Value) -> Gql {
    app.gql_as(token, UPDATE, json!({ "id": id, "i": input }))
        .await
}

async fn get(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql_as(token, GET, json!({ "id": id })).await.ok()["apiKey"].clone()
}

db_test!(
    below_the_required_role_a_temporary_key_can_be_neither_rotated_nor_extended,
    |s| {
        s.api_keys.require_role = Some(latchkey::domain::Role::Admin);
    },
    |app| {
        let t = app.signup("temp-user@example.com").await;
        let (id, expires) = temporary_key(&app, &t.user_id).await;
        let r = app.gql_as(&t.access, ROTATE, json!({ "id": id })).await;
        r.expect_code("FORBIDDEN");
        assert!(r.message().contains("requires the ADMIN role"), "{}", r.0);
        let month = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
        let r = update(&app, &t.access, &id, json!({ "expiresAt": month })).await;
        r.expect_code("FORBIDDEN");
        assert!(r.message().contains("requires the ADMIN role"), "{}", r.0);
        // The key is what the service made: READ, for 60 s, not replaced.
        let k = get(&app, &t.access, &id).await;
        assert_eq!(k["status"], "ACTIVE");
        assert_eq!(k["scopes"], json!(["READ"]));
        assert_eq!(timestamp(&k["expiresAt"]), expires);
        // Below the role, a key can still be revoked.
        let r = app.gql_as(&t.access, REVOKE, json!({ "id": id })).await;
        assert_eq!(r.ok()["revokeApiKey"]["status"], "REVOKED");
    }
);

db_test!(
    a_temporary_keys_scopes_only_narrow_and_its_expiry_only_comes_sooner,
    |app| {
        let t = app.signup("narrow@example.com").await;
        let (id, expires) = temporary_key(&app, &t.user_id).await;
        let r = update(
            &app,
            &t.access,
            &id,
            json!({ "scopes": ["READ", "WRITE", "DELETE"] }),
        )
        .await;
        r.expect_code("BAD_USER_INPUT");
        assert!(r.message().contains("narrowed"), "{}", r.0);
        let r = update(
            &app,
            &t.access,
            &id,
            json!({ "expiresAt": rfc3339(expires + 3600) }),
        )
        .await;
        r.expect_code("BAD_USER_INPUT");
        let k = get(&app, &t.access, &id).await;
        assert_eq!(k["scopes"], json!(["READ"]));
        assert_eq!(timestamp(&k["expiresAt"]), expires);
        // Sooner (and still in the future) is accepted.
        let r = update(
            &app,
            &t.access,
            &id,
            json!({ "expiresAt": rfc3339(expires - 20) }),
        )
        .await;
        assert_eq!(
            timestamp(&r.ok()["updateApiKey"]["expiresAt"]),
            expires - 20
        );
        // The same scopes are no widening.
        let r = update(&app, &t.access, &id, json!({ "scopes": ["READ"] })).await;
        assert_eq!(r.ok()["updateApiKey"]["scopes"], json!(["READ"]));
    }
);

db_test!(
    rotating_a_temporary_key_keeps_its_expiry_and_its_scopes,
    |app| {
        let t = app.signup("rotate-temp@example.com").await;
        let (id, expires) = temporary_key(&app, &t.user_id).await;
        let r = app.gql_as(&t.access, ROTATE, json!({ "id": id })).await;
        let k = r.ok()["rotateApiKey"]["apiKey"].clone();
        let new_id = k["id"].as_str().expect("id").to_owned();
        assert_ne!(new_id, id);
        assert_eq!(timestamp(&k["expiresAt"]), expires);
        assert_eq!(k["scopes"], json!(["READ"]));
        // The replacement is a temporary key too: it cannot be widened or extended.
        let r = update(
            &app,
            &t.access,
            &new_id,
            json!({ "expiresAt": rfc3339(expires + 86_400) }),
        )
        .await;
        r.expect_code("BAD_USER_INPUT");
        let r = update(
            &app,
            &t.access,
            &new_id,
            json!({ "scopes": ["READ", "WRITE"] }),
        )
        .await;
        r.expect_code("BAD_USER_INPUT");
        let k = get(&app, &t.access, &new_id).await;
        assert_eq!(timestamp(&k["expiresAt"]), expires);
        assert_eq!(k["scopes"], json!(["READ"]));
    }
);

db_test!(
    one_active_key_per_user_also_holds_when_an_expired_key_is_given_a_later_expiry,
    |s| {
        s.api_keys.max_active_per_user = 1;
        s.api_keys.signup_key = false;
    },
    |app| {
        let t = app.signup("revive@example.com").await;
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
        let r = app
            .gql_as(
                &t.access,
                CREATE,
                json!({ "i": { "name": "A", "expiresAt": soon } }),
            )
            .await;
        let a = r.ok()["createApiKey"]["apiKey"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(get(&app, &t.access, &a).await["status"], "EXPIRED");
        // A has expired, so B is the one active key.
        let r = app
            .gql_as(&t.access, CREATE, json!({ "i": { "name": "B" } }))
            .await;
        let b = r.ok()["createApiKey"]["apiKey"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        // Giving A a later expiry would make it a second active key.
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let r = update(&app, &t.access, &a, json!({ "expiresAt": tomorrow })).await;
        r.expect_code("BAD_USER_INPUT");
        assert_eq!(
            r.message(),
            "One active key per user: revoke before creating."
        );
        assert_eq!(get(&app, &t.access, &a).await["status"], "EXPIRED");
        // Once B is revoked, A may come back.
        app.gql_as(&t.access, REVOKE, json!({ "id": b })).await.ok();
        let r = update(&app, &t.access, &a, json!({ "expiresAt": tomorrow })).await;
        assert_eq!(r.ok()["updateApiKey"]["status"], "ACTIVE");
    }
);
