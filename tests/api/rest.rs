//! REST beside GraphQL (REST.md): the TruCore and Torale curl lines answered as their
//! documents show, on the deployment's own key prefix, audited as GraphQL audits
//! them. `Rest` is the compact client the REST tests share.
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{PASSWORD, link_token};
pub use crate::rest_client::*;

fn login_body(email: &str, password: &str) -> Value {
    json!({ "email": email, "password": password })
}

const NEW_PASSWORD: &str = "another-Zebra-lamp-42";

db_test!(
    the_trucore_curl_lines_answer_as_documented,
    |s| {
        s.api_keys.prefix = "atf".into();
    },
    |app| {
        let anon = Rest::anon(&app);
        let (token, up) = rest_signup(&app, "ann@example.com").await;
        assert_fields(
            &up,
            &[
                "token",
                "refresh_token",
                "tenant_id",
                "api_key",
                "email_verified",
            ],
        );
        assert_eq!(up["email_verified"], false);
        assert!(up["tenant_id"].as_str().unwrap().starts_with("cust_"));
        assert!(up["api_key"].as_str().unwrap().starts_with("atf_live_"));
        let ann = Rest::bearer(&app, &token);

        let login = anon
            .post("/auth/login", login_body("ann@example.com", PASSWORD))
            .await;
        assert_eq!(login.status, 200);
        login.assert_fields(&["token", "refresh_token", "expires_in"]);
        assert_eq!(login.body["expires_in"], 86400);
        let wrong = anon
            .post(
                "/auth/login",
                login_body("ann@example.com", "nope-nope-nope-1"),
            )
            .await;
        assert_eq!(wrong.status, 401);
        let invalid = json!({ "error": "Unauthorized", "message": "Invalid email or password." });
        assert_eq!(wrong.body, invalid);
        assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));

        let status = ann.get("/auth/verify-email/status").await;
        assert_eq!(
            status.body,
            json!({ "email": "ann@example.com", "email_verified": false })
        );
        let sent = ann.post("/auth/verify-email/request", Value::Null).await;
        assert_eq!((sent.status, sent.body), (200, json!({ "sent": true })));
        let mails = app.outbox_messages(2).await;
        let link = json!({ "token": link_token(mails.last().unwrap(), "/verify-email") });
        let confirmed = anon.post("/auth/verify-email/confirm", link.clone()).await;
        assert_eq!(
            (confirmed.status, confirmed.body),
            (200, json!({ "email_verified": true }))
        );
        let again = anon.post("/auth/verify-email/confirm", link).await;
        assert_eq!(again.status, 400, "a used token: {}", again.body);
        assert_eq!(again.body["error"], "BadRequest");
        assert_eq!(
            ann.get("/auth/verify-email/status").await.body["email_verified"],
            true
        );

        let reset = anon
            .post(
                "/auth/reset-password/request",
                json!({ "email": "ann@example.com" }),
            )
            .await;
        assert_eq!(reset.body, json!({ "sent": true }));
        let unknown = anon
            .post(
                "/auth/reset-password/request",
                json!({ "email": "nobody@example.com" }),
            )
            .await;
        assert_eq!(
            unknown.body,
            json!({ "sent": true }),
            "the same answer for an unknown address"
        );
        let mails = app.outbox_messages(3).await;
        let reset_token = link_token(mails.last().unwrap(), "/reset-password");
        let valid = anon
            .post(
                "/auth/reset-password/validate",
                json!({ "token": reset_token }),
            )
            .await;
        assert_eq!(valid.body, json!({ "valid": true }));
        let bogus = anon
            .post(
                "/auth/reset-password/validate",
                json!({ "token": "0".repeat(64) }),
            )
            .await;
        assert_eq!(bogus.body, json!({ "valid": false }));
        let body = json!({ "token": reset_token, "new_password": NEW_PASSWORD });
        let done = anon.post("/auth/reset-password/confirm", body).await;
        assert_eq!((done.status, done.body), (200, json!({ "reset": true })));
        assert_eq!(
            ann.get("/customer/keys").await.status,
            401,
            "the reset signed every session out"
        );

        let login = anon
            .post("/auth/login", login_body("ann@example.com", NEW_PASSWORD))
            .await;
        let ann = Rest::bearer(&app, login.body["token"].as_str().unwrap());
        let made = ann.post("/customer/keys", json!({ "label": "bot" })).await;
        assert_eq!(made.status, 200, "{}", made.body);
        made.assert_fields(&[
            "key_id",
            "tenant_id",
            "label",
            "status",
            "secret",
            "created_at",
            "prefix",
            "last_used_at",
            "expires_at",
        ]);
        assert_eq!(made.body["status"], "active");
        assert_eq!(made.body["tenant_id"], up["tenant_id"]);
        let secret = made.body["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("atf_live_"));
        let id = made.body["key_id"].as_str().unwrap().to_owned();

        let list = ann.get("/customer/keys").await;
        let items = list.body.as_array().expect("array");
        assert_eq!(items.len(), 2, "the signup key and this one");
        assert_fields(
            &items[0],
            &[
                "key_id",
                "tenant_id",
                "label",
                "status",
                "prefix",
                "created_at",
                "last_used_at",
                "expires_at",
            ],
        );
        let text = list.body.to_string();
        let signup_secret = up["api_key"].as_str().unwrap();
        assert!(
            !text.contains(&secret) && !text.contains(signup_secret),
            "no secret in a listing"
        );

        let rotated = ann
            .post(&format!("/customer/keys/{id}/rotate"), Value::Null)
            .await;
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        assert_ne!(rotated.body["key_id"], made.body["key_id"]);
        let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
        let old = Rest::key(&app, &secret).get("/auth/me").await;
        assert_eq!(old.status, 401, "the rotated-out key stopped at once");
        assert_eq!(
            Rest::key(&app, &new_secret).get("/auth/me").await.status,
            200
        );
        let new_id = rotated.body["key_id"].as_str().unwrap();
        let revoked = ann
            .post(&format!("/customer/keys/{new_id}/revoke"), Value::Null)
            .await;
        assert_eq!(revoked.body["status"], "revoked");
        assert!(revoked.body.get("secret").is_none());
        assert_eq!(
            Rest::key(&app, &new_secret).get("/auth/me").await.status,
            401
        );

        let user = app
            .state
            .idm
            .find_user_by_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();
        let events: Vec<String> = app
            .audit_rows(&user.id)
            .await
            .into_iter()
            .map(|r| r.event)
            .collect();
        for e in [
            "signup",
            "api_key_created",
            "api_key_rotated",
            "api_key_revoked",
            "password_reset",
        ] {
            assert!(
                events.iter().any(|x| x == e),
                "audited as GraphQL audits it: {e} in {events:?}"
            );
        }
    }
);

db_test!(
    the_torale_curl_lines_answer_as_documented,
    |s| {
        s.api_keys.prefix = "tor".into();
        s.api_keys.max_active_per_user = 1;
        s.api_keys.signup_key = false;
    },
    |app| {
        let none = Rest::anon(&app).get("/auth/me").await;
        assert_eq!(
            (none.status, none.body),
            (401, json!({ "detail": "Authorization header missing" }))
        );
        let bad = Rest::key(&app, "tor_live_00").get("/auth/me").await;
        assert_eq!(
            (bad.status, bad.body),
            (401, json!({ "detail": "Invalid API key" }))
        );
        let bad = Rest::bearer(&app, "eyJ.x.y").get("/auth/me").await;
        assert_eq!(bad.status, 401);
        assert!(
            bad.body["detail"]
                .as_str()
                .unwrap()
                .starts_with("Token has expired")
        );

        let (token, _) = rest_signup(&app, "tor@example.com").await;
        let tor = Rest::bearer(&app, &token);
        let me = tor.get("/auth/me").await;
        me.assert_fields(&[
            "id",
            "email",
            "first_name",
            "username",
            "is_active",
            "has_seen_welcome",
            "created_at",
        ]);
        assert_eq!(me.body["has_seen_welcome"], false);
        let seen = tor.post("/auth/mark-welcome-seen", Value::Null).await;
        assert_eq!(seen.body, json!({ "status": "success" }));
        assert_eq!(tor.get("/auth/me").await.body["has_seen_welcome"], true);

        let made = tor.post("/auth/api-keys", json!({ "name": "cli" })).await;
        assert_eq!(made.status, 200, "{}", made.body);
        made.assert_fields(&["key", "key_info"]);
        assert_fields(
            &made.body["key_info"],
            &[
                "id",
                "user_id",
                "key_prefix",
                "name",
                "created_at",
                "last_used_at",
                "is_active",
            ],
        );
        let key = made.body["key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("tor_live_"));
        assert_eq!(
            Rest::key(&app, &key).get("/auth/me").await.body["id"],
            me.body["id"]
        );
        let second = tor.post("/auth/api-keys", json!({ "name": "two" })).await;
        let one_only = json!({ "detail": "One active key per user: revoke before creating." });
        assert_eq!((second.status, second.body), (400, one_only));
        let list = tor.get("/auth/api-keys").await;
        assert_eq!(list.body.as_array().unwrap().len(), 1);
        assert!(!list.body.to_string().contains(&key));
        let id = made.body["key_info"]["id"].as_str().unwrap();
        let gone = tor.delete(&format!("/auth/api-keys/{id}")).await;
        assert_eq!(gone.body, json!({ "status": "revoked" }));
        let missing = tor.delete("/auth/api-keys/no-such-key").await;
        assert_eq!(missing.status, 404);
        assert!(missing.body["detail"].is_string(), "{}", missing.body);
        assert_eq!(tor.get("/auth/api-keys").await.body[0]["is_active"], false);
        let again = tor.post("/auth/api-keys", json!({ "name": "again" })).await;
        assert_eq!(again.status, 200, "revoked first, so a new one is allowed");
    }
);

db_test!(
    torale_key_creation_needs_the_configured_role,
    |s| {
        s.api_keys.require_role = Some(latchkey::domain::Role::Developer);
    },
    |app| {
        let (token, _) = rest_signup(&app, "plain@example.com").await;
        let made = Rest::bearer(&app, &token)
            .post("/auth/api-keys", json!({ "name": "x" }))
            .await;
        assert_eq!(made.status, 403);
        assert!(
            made.body["detail"].as_str().unwrap().contains("DEVELOPER"),
            "{}",
            made.body
        );
    }
);
