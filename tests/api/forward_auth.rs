//! Forward auth (`/auth/check`, REST.md), asked directly: the identity headers, the
//! scope the original method needs, the documented refusals. Through a real nginx:
//! `forward_auth_nginx`.
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{SERVICE_TOKEN, TestApp};
use crate::rest::{Rest, rest_signup};

/// A key of the bearer's, with these scopes and allowlist: (id, secret).
pub async fn key(as_user: &Rest<'_>, scopes: Value, ips: Value) -> (String, String) {
    let body = json!({ "name": "proxy", "scopes": scopes, "ips": ips });
    let made = as_user.post("/v1/api-keys", body).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let field = |f: &str| made.body[f].as_str().unwrap().to_owned();
    (field("id"), field("secret"))
}

async fn user_id(app: &TestApp, email: &str) -> String {
    app.state
        .idm
        .find_user_by_email(email)
        .await
        .unwrap()
        .unwrap()
        .id
}

db_test!(
    forward_auth_answers_with_the_identity_or_the_documented_refusal,
    |app| {
        let (token, up) = rest_signup(&app, "fwd@example.com").await;
        let user = Rest::bearer(&app, &token);
        let (id, read) = key(&user, json!(["read"]), json!([])).await;
        let by_key = Rest::key(&app, &read);
        let uid = user_id(&app, "fwd@example.com").await;

        let ok = by_key.get("/auth/check").await;
        assert_eq!(ok.status, 200);
        assert_eq!(ok.body, Value::Null, "an empty body");
        assert_eq!(ok.header("x-latchkey-user-id"), Some(uid.as_str()));
        assert_eq!(ok.header("x-latchkey-tenant-id"), up["tenant_id"].as_str());
        assert_eq!(ok.header("x-latchkey-credential"), Some("api_key"));
        assert_eq!(ok.header("x-latchkey-key-id"), Some(id.as_str()));
        assert_eq!(ok.header("x-latchkey-scopes"), Some("read"));
        assert_eq!(ok.header("x-latchkey-environment"), Some("live"));
        let as_bearer = Rest::bearer(&app, &read).get("/auth/check").await;
        assert_eq!(as_bearer.status, 200, "a key as a bearer token");

        // The original method decides the scope, whichever header the proxy names it in.
        for (name, method, status) in [
            ("x-original-method", "POST", 403),
            ("x-forwarded-method", "PUT", 403),
            ("x-forwarded-method", "DELETE", 403),
            ("x-original-method", "HEAD", 200),
            ("x-original-method", "OPTIONS", 200),
            ("x-original-method", "PURGE", 403),
        ] {
            let r = by_key.clone().with(name, method).get("/auth/check").await;
            assert_eq!(r.status, status, "{method}");
        }
        // A client's own method header beside the proxy's, twice, or empty: every scope.
        let both = by_key
            .clone()
            .with("x-forwarded-method", "GET")
            .with("x-original-method", "DELETE");
        assert_eq!(
            both.get("/auth/check").await.status,
            403,
            "two methods named"
        );
        let twice = by_key
            .clone()
            .with("x-original-method", "GET")
            .with("x-original-method", "DELETE");
        assert_eq!(
            twice.get("/auth/check").await.status,
            403,
            "one header naming two methods"
        );
        let empty = by_key.clone().with("x-forwarded-method", "");
        assert_eq!(
            empty.get("/auth/check").await.status,
            403,
            "an empty method header"
        );
        let agree = by_key
            .clone()
            .with("x-forwarded-method", "get")
            .with("x-original-method", "GET");
        assert_eq!(
            agree.get("/auth/check").await.status,
            200,
            "two headers that agree"
        );
        // OPTIONS is judged like any method (no CORS layer answers it first).
        let options = Rest::anon(&app)
            .send(reqwest::Method::OPTIONS, "/auth/check", Value::Null)
            .await;
        assert_eq!(options.status, 401);
        let options = by_key
            .send(reqwest::Method::OPTIONS, "/auth/check", Value::Null)
            .await;
        assert_eq!(options.status, 200);

        let post = by_key.post("/auth/check", Value::Null).await;
        assert_eq!(post.status, 403);
        let scope =
            json!({ "error": "Forbidden", "message": "This action requires the 'write' scope" });
        assert_eq!(post.body, scope);
        let del = by_key.delete("/auth/check").await;
        assert_eq!(
            del.body["message"],
            "This action requires the 'delete' scope"
        );

        // A user token passes whatever the method.
        let as_user = user.delete("/auth/check").await;
        assert_eq!(as_user.status, 200);
        assert_eq!(as_user.header("x-latchkey-credential"), Some("user_token"));
        assert_eq!(as_user.header("x-latchkey-user-id"), Some(uid.as_str()));
        assert_eq!(
            as_user.header("x-latchkey-tenant-id"),
            up["tenant_id"].as_str()
        );
        for name in [
            "x-latchkey-key-id",
            "x-latchkey-scopes",
            "x-latchkey-environment",
        ] {
            assert_eq!(
                as_user.header(name),
                Some(""),
                "{name}: sent empty, never left out"
            );
        }

        let missing = Rest::anon(&app).get("/auth/check").await;
        assert_eq!(missing.status, 401);
        let no_key = json!({ "error": "Unauthorized", "message": "Invalid or missing API key" });
        assert_eq!(missing.body, no_key);
        assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
        let bad_jwt = Rest::bearer(&app, "eyJ.e.e").get("/auth/check").await;
        let no_token =
            json!({ "error": "Unauthorized", "message": "Invalid or missing access token" });
        assert_eq!(bad_jwt.body, no_token);
        let service = Rest::anon(&app).with("x-service-token", SERVICE_TOKEN);
        let service = service.get("/auth/check").await;
        assert_eq!(
            service.status, 403,
            "the service token is no caller identity"
        );

        user.delete(&format!("/v1/api-keys/{id}")).await;
        let revoked = by_key.get("/auth/check").await;
        assert_eq!(revoked.status, 401, "refused at once on this instance");
        assert_eq!(revoked.body, no_key);
    }
);

db_test!(
    forward_auth_never_admits_the_noauth_development_user,
    |s| {
        s.noauth = true;
    },
    |app| {
        let nothing = Rest::anon(&app).get("/auth/check").await;
        assert_eq!(nothing.status, 401, "{}", nothing.body);
        // The development user still stands in for GraphQL, as `noauth` promises.
        let me = app.gql("{ me { email } }", json!({})).await;
        assert!(me.ok()["me"]["email"].is_string());
    }
);
