//! REST key routes of TokenBot (scopes, environments, rotation with grace) and Truvera
//! (pages, aliases, public ids, temporary keys with `CERTS-TOKEN`), as documented.
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::SERVICE_TOKEN;
use crate::rest::{Rest, rest_signup};

db_test!(
    the_tokenbot_curl_lines_answer_as_documented,
    |s| {
        s.api_keys.prefix = "tb".into();
    },
    |app| {
        let (token, up) = rest_signup(&app, "bot@example.com").await;
        let bot = Rest::bearer(&app, &token);
        let made = bot
            .post(
                "/v1/api-keys",
                json!({
                    "name": "ci", "scopes": ["read", "delete"], "environment": "test",
                    "expires_at": "2099-01-01T00:00:00Z", "ips": ["127.0.0.1", "10.0.0.0/8"]
                }),
            )
            .await;
        assert_eq!(made.status, 200, "{}", made.body);
        made.assert_fields(&[
            "id",
            "name",
            "prefix",
            "environment",
            "scopes",
            "ips",
            "status",
            "created_at",
            "expires_at",
            "secret",
        ]);
        assert_eq!(made.body["environment"], "test");
        assert_eq!(made.body["scopes"], json!(["read", "delete"]));
        assert_eq!(made.body["expires_at"], "2099-01-01T00:00:00Z");
        let secret = made.body["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("tb_test_"));
        let id = made.body["id"].as_str().unwrap().to_owned();

        // The key itself lists (read) and deletes (delete) keys.
        let by_key = Rest::key(&app, &secret).get("/v1/api-keys").await;
        assert_eq!(by_key.status, 200);
        assert_eq!(by_key.body.as_array().unwrap().len(), 2);
        assert!(by_key.body[0].get("secret").is_none());
        let signup_key = Rest::key(&app, up["api_key"].as_str().unwrap());
        let no_delete = signup_key.delete(&format!("/v1/api-keys/{id}")).await;
        assert_eq!(
            no_delete.status, 403,
            "the signup key holds read and write, not delete"
        );
        let scope =
            json!({ "error": "Forbidden", "message": "This action requires the 'delete' scope." });
        assert_eq!(no_delete.body, scope);

        let grace = json!({ "grace_period_seconds": 3600 });
        let rotated = bot.post(&format!("/v1/api-keys/{id}/rotate"), grace).await;
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        assert_eq!(rotated.body["scopes"], json!(["read", "delete"]));
        let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
        let old = Rest::key(&app, &secret).get("/v1/api-keys").await;
        assert_eq!(old.status, 200, "within the grace period");
        let new_id = rotated.body["id"].as_str().unwrap();
        let bare = bot
            .post(&format!("/v1/api-keys/{new_id}/rotate"), Value::Null)
            .await;
        assert_eq!(bare.status, 200, "the body is optional: {}", bare.body);
        let last = bare.body["id"].as_str().unwrap();
        let stale = Rest::key(&app, &new_secret)
            .delete(&format!("/v1/api-keys/{last}"))
            .await;
        assert_eq!(
            stale.status, 401,
            "rotated out at once (no grace): {}",
            stale.body
        );
        let deleted = bot.delete(&format!("/v1/api-keys/{last}")).await;
        assert_eq!(deleted.body, json!({ "deleted": true }));
        let listed = bot.get("/v1/api-keys").await;
        assert!(
            listed
                .body
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k["id"] != last),
            "deleted keys are gone"
        );
        let bad = json!({ "grace_period_seconds": "soon" });
        let grace = bot.post(&format!("/v1/api-keys/{id}/rotate"), bad).await;
        assert_eq!(grace.status, 400);
        let message = grace.body["message"].as_str().unwrap();
        assert!(
            message.contains("`grace_period_seconds`") && message.contains("expected an integer"),
            "{message}"
        );
    }
);

db_test!(
    the_truvera_curl_lines_answer_as_documented,
    |s| {
        s.api_keys.prefix = "tv".into();
        s.api_keys.signup_key = false;
    },
    |app| {
        let (token, up) = rest_signup(&app, "tv@example.com").await;
        let tv = Rest::bearer(&app, &token);
        let made = tv
            .post("/keys", json!({ "ips": ["192.0.2.1"], "alias": "issuer" }))
            .await;
        assert_eq!(made.status, 200, "{}", made.body);
        made.assert_fields(&["ips", "alias", "key", "created", "expires", "jwt"]);
        let jwt = made.body["jwt"].as_str().unwrap().to_owned();
        assert!(jwt.starts_with("tv_live_"));
        let public = made.body["key"].as_str().unwrap().to_owned();
        assert!(
            !public.contains(&jwt[8..]),
            "the public id is not the secret"
        );
        let bare = tv.post("/keys", Value::Null).await;
        assert_eq!(bare.status, 200, "the body is optional: {}", bare.body);
        assert_eq!(bare.body["alias"], "API key");

        let page = tv.get("/keys?offset=0&limit=64").await;
        assert_eq!(page.body.as_array().unwrap().len(), 2);
        crate::rest::assert_fields(
            &page.body[0],
            &["ips", "alias", "key", "created", "expires"],
        );
        let one = tv.get("/keys?offset=1&limit=1").await;
        assert_eq!(one.body.as_array().unwrap().len(), 1);
        assert_eq!(one.body[0]["key"], public.as_str(), "newest first");
        for q in [
            "limit=65",
            "limit=0",
            "offset=-1",
            "limit=abc",
            "colour=red",
        ] {
            let bad = tv.get(&format!("/keys?{q}")).await;
            assert_eq!(bad.status, 400, "{q}: {}", bad.body);
            assert_eq!(bad.body["error"], "BadRequest");
        }

        let patch = json!({ "alias": "renamed", "ips": [] });
        let patched = tv.patch(&format!("/keys/{public}"), patch).await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        assert_eq!(patched.body["alias"], "renamed");
        assert_eq!(patched.body["ips"], json!([]));
        let revoked = tv.delete(&format!("/keys/{public}")).await;
        assert_eq!(revoked.body, json!({ "revoked": true }));
        assert_eq!(Rest::key(&app, &jwt).get("/auth/me").await.status, 401);

        // A temporary key for the deployment's own services, with Truvera's header.
        let team = up["tenant_id"].as_str().unwrap().to_owned();
        let certs = Rest::anon(&app).with("certs-token", SERVICE_TOKEN);
        let body = json!({ "selectedTeamId": team, "subaccount": "acme", "isTestmode": true });
        let temp = certs.post("/keys/temporary-key", body).await;
        assert_eq!(temp.status, 200, "{}", temp.body);
        temp.assert_fields(&["key", "selectedTeamId"]);
        assert_eq!(temp.body["selectedTeamId"], team.as_str());
        let temp_key = temp.body["key"].as_str().unwrap();
        assert!(temp_key.starts_with("tv_test_"));
        let me = Rest::key(&app, temp_key).get("/auth/me").await;
        assert_eq!(me.body["email"], "tv@example.com");
        let service = Rest::anon(&app).with("x-service-token", SERVICE_TOKEN);
        let by_user = service
            .post("/keys/temporary-key", json!({ "userId": me.body["id"] }))
            .await;
        assert_eq!(by_user.status, 200);
        assert!(
            by_user.body["key"]
                .as_str()
                .unwrap()
                .starts_with("tv_live_")
        );
        let other_team = json!({ "userId": me.body["id"], "selectedTeamId": "cust_000000000000" });
        assert_eq!(
            certs.post("/keys/temporary-key", other_team).await.status,
            404
        );
        assert_eq!(
            certs.post("/keys/temporary-key", json!({})).await.status,
            400
        );
        let guess = Rest::anon(&app).with("certs-token", "guess");
        let team_body = json!({ "selectedTeamId": team });
        assert_eq!(
            guess
                .post("/keys/temporary-key", team_body.clone())
                .await
                .status,
            401
        );
        let both = certs.clone().with("x-service-token", SERVICE_TOKEN);
        let two = both.post("/keys/temporary-key", team_body.clone()).await;
        assert_eq!(
            two.status, 401,
            "two service tokens are refused, never one picked"
        );
        let by_user_token = tv.post("/keys/temporary-key", team_body).await;
        assert_eq!(
            by_user_token.status, 403,
            "a user cannot mint temporary keys"
        );
    }
);
