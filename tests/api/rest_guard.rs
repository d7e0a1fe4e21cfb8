//! The REST route table is the guard: a walk over every row proves each route refuses
//! the credentials its row does not list (over real HTTP), the OpenAPI document prints
//! every row with its credentials, and no route reaches another user's keys.
use std::collections::BTreeMap;

use latchkey::rest::table::{Input, routes};
use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::SERVICE_TOKEN;
use crate::rest::{bearer, call, rest_signup};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cred {
    Anonymous,
    UserToken,
    KeyAllScopes,
    KeyReadOnly,
    Service,
    InvalidToken,
}

db_test!(
    every_rest_route_refuses_the_credentials_its_row_does_not_list,
    |app| {
        let (token, _) = rest_signup(&app, "walker@example.com").await;
        let auth = bearer(&token);
        let h = [("authorization", auth.as_str())];
        let all = call(
            &app,
            Method::POST,
            "/v1/api-keys",
            &h,
            Some(json!({ "name": "all", "scopes": ["read", "write", "delete"] })),
        )
        .await;
        let all = all.body["secret"].as_str().unwrap().to_owned();
        let read = call(
            &app,
            Method::POST,
            "/v1/api-keys",
            &h,
            Some(json!({ "name": "read", "scopes": ["read"] })),
        )
        .await;
        let read = read.body["secret"].as_str().unwrap().to_owned();
        let mut checked = 0;
        for route in routes() {
            let method = route.methods[0].clone();
            let path = route
                .path
                .replace("{key_id}", "nope")
                .replace("{id}", "nope")
                .replace("{publicKey}", "nope");
            for cred in [
                Cred::Anonymous,
                Cred::UserToken,
                Cred::KeyAllScopes,
                Cred::KeyReadOnly,
                Cred::Service,
                Cred::InvalidToken,
            ] {
                let header: Vec<(&str, &str)> = match cred {
                    Cred::Anonymous => vec![],
                    Cred::UserToken => vec![("authorization", &auth)],
                    Cred::KeyAllScopes => vec![("x-api-key", &all)],
                    Cred::KeyReadOnly => vec![("x-api-key", &read)],
                    Cred::Service => vec![("x-service-token", SERVICE_TOKEN)],
                    Cred::InvalidToken => vec![("authorization", "Bearer not-a-token")],
                };
                let rule = &route.rule;
                let expected = rule.public
                    || match cred {
                        Cred::Anonymous | Cred::InvalidToken => false,
                        Cred::UserToken => rule.user_roles.is_some(),
                        Cred::KeyAllScopes => rule.key_scopes.is_some(),
                        Cred::KeyReadOnly => rule
                            .key_scopes
                            .as_ref()
                            .is_some_and(|s| s.iter().all(|x| *x == latchkey::domain::Scope::Read)),
                        Cred::Service => rule.service,
                    };
                let body = (!matches!(route.input, Input::Nothing)).then(|| json!({}));
                // `reqwest::Method` is axum's `http::Method`.
                let a = call(&app, method.clone(), &path, &header, body).await;
                let admitted = !matches!(a.status, 401 | 403);
                assert_eq!(
                    admitted, expected,
                    "{method} {} with {cred:?}: {} {}",
                    route.path, a.status, a.body
                );
                if !admitted {
                    let message = a.body["message"].as_str().or(a.body["detail"].as_str());
                    assert!(
                        message.is_some_and(|m| !m.is_empty()),
                        "{}: {}",
                        route.path,
                        a.body
                    );
                }
                if a.status == 401 {
                    assert_eq!(a.headers["www-authenticate"], "Bearer", "{}", route.path);
                }
                checked += 1;
            }
        }
        assert!(checked >= 27 * 6, "every row walked ({checked})");
    }
);

#[test]
fn the_openapi_document_prints_every_row_and_its_credentials() {
    let routes = routes();
    let doc = latchkey::rest::openapi::document(&routes, "http://127.0.0.1:8080");
    let doc: Value = serde_json::to_value(&doc).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = BTreeMap::new();
    for route in &routes {
        for m in route.methods {
            let op = &doc["paths"][route.path][m.as_str().to_lowercase()];
            assert!(op.is_object(), "{m} {} is in the document", route.path);
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(
                ids.insert(id.clone(), route.path).is_none(),
                "operationId {id} is unique"
            );
            let security: Vec<String> = op["security"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .flat_map(|s| s.as_object().unwrap().keys().cloned())
                        .collect()
                })
                .unwrap_or_default();
            let rule = &route.rule;
            assert_eq!(security.is_empty(), rule.public, "{}", route.path);
            assert_eq!(
                security.contains(&"bearer".to_owned()),
                rule.user_roles.is_some() || rule.key_scopes.is_some(),
                "{}",
                route.path
            );
            assert_eq!(
                security.contains(&"apiKey".to_owned()),
                rule.key_scopes.is_some(),
                "{}",
                route.path
            );
            assert_eq!(
                security.contains(&"serviceToken".to_owned()),
                rule.service,
                "{}",
                route.path
            );
            assert!(op["responses"]["200"].is_object());
            if !rule.public {
                assert!(op["responses"]["401"].is_object() && op["responses"]["403"].is_object());
            }
        }
    }
    // Every referenced schema exists, and no two types share a name.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for part in text.split("#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "{name} is defined");
    }
    let mut seen = BTreeMap::new();
    for route in &routes {
        let docs = [
            match route.input {
                Input::Required(d) | Input::Optional(d) => Some(d),
                Input::Nothing => None,
            },
            match route.output {
                latchkey::rest::table::Output::One(d) | latchkey::rest::table::Output::List(d) => {
                    Some(d)
                }
                latchkey::rest::table::Output::Headers(_) => None,
            },
        ];
        for d in docs.into_iter().flatten() {
            let name = (d.name)().into_owned();
            let schema = serde_json::to_string(&(d.schema)()).unwrap();
            if let Some(other) = seen.insert(name.clone(), schema.clone()) {
                assert_eq!(other, schema, "two types are both called {name}");
            }
        }
    }
}

db_test!(no_rest_route_reaches_another_users_keys, |app| {
    let (ann, _) = rest_signup(&app, "ann@example.com").await;
    let (bob, _) = rest_signup(&app, "bob@example.com").await;
    let ann = bearer(&ann);
    let bob_auth = bearer(&bob);
    let a = [("authorization", ann.as_str())];
    let b = [("authorization", bob_auth.as_str())];
    let made = call(
        &app,
        Method::POST,
        "/v1/api-keys",
        &a,
        Some(json!({ "name": "ann's", "scopes": ["read", "write", "delete"] })),
    )
    .await;
    let id = made.body["id"].as_str().unwrap().to_owned();
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    let bob_key = call(
        &app,
        Method::POST,
        "/v1/api-keys",
        &b,
        Some(json!({ "name": "bob's", "scopes": ["read", "write", "delete"] })),
    )
    .await;
    let bob_key = bob_key.body["secret"].as_str().unwrap().to_owned();
    let attempts: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::POST,
            format!("/customer/keys/{id}/rotate"),
            None,
            "error",
        ),
        (
            Method::POST,
            format!("/customer/keys/{id}/revoke"),
            None,
            "error",
        ),
        (
            Method::DELETE,
            format!("/auth/api-keys/{id}"),
            None,
            "detail",
        ),
        (Method::DELETE, format!("/v1/api-keys/{id}"), None, "error"),
        (
            Method::POST,
            format!("/v1/api-keys/{id}/rotate"),
            None,
            "error",
        ),
        (
            Method::PATCH,
            format!("/keys/{id}"),
            Some(json!({ "alias": "mine now" })),
            "error",
        ),
        (Method::DELETE, format!("/keys/{id}"), None, "error"),
    ];
    for (method, path, body, field) in &attempts {
        for who in [&b[..], &[("x-api-key", bob_key.as_str())][..]] {
            let r = call(&app, method.clone(), path, who, body.clone()).await;
            if who[0].0 == "x-api-key" && r.status == 403 {
                continue; // a key may not use this route at all
            }
            assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
            assert!(r.body[*field].is_string(), "{}", r.body);
        }
    }
    for path in ["/customer/keys", "/auth/api-keys", "/v1/api-keys", "/keys"] {
        let r = call(&app, Method::GET, path, &b, None).await;
        assert!(
            !r.body.to_string().contains(&id),
            "{path} lists only the caller's keys"
        );
    }
    // Ann's key still works: nothing above touched it.
    let me = call(
        &app,
        Method::GET,
        "/auth/me",
        &[("x-api-key", &secret)],
        None,
    )
    .await;
    assert_eq!(me.body["email"], "ann@example.com");
});

db_test!(
    rest_logins_share_the_graphql_limits,
    |s| {
        s.rate_limit.login_per_minute = 2;
    },
    |app| {
        app.signup("limited@example.com").await;
        let mut last = None;
        for _ in 0..3 {
            last = Some(
                call(
                    &app,
                    Method::POST,
                    "/auth/login",
                    &[],
                    Some(json!({ "email": "limited@example.com", "password": "wrong-Password-1" })),
                )
                .await,
            );
        }
        let last = last.unwrap();
        assert_eq!(last.status, 429, "{}", last.body);
        assert_eq!(last.body["error"], "TooManyRequests");
        assert!(
            last.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
        // ... and GraphQL sees the same counter.
        let g = app.login("limited@example.com", "wrong-Password-1").await;
        g.expect_code("RATE_LIMITED");
    }
);

db_test!(
    racing_rest_rotations_of_one_key_make_one_successor_and_no_500,
    |app| {
        let (token, _) = rest_signup(&app, "racer@example.com").await;
        let user = crate::rest::Rest::bearer(&app, &token);
        let made = user
            .post("/customer/keys", json!({ "label": "raced" }))
            .await;
        let id = made.body["key_id"].as_str().unwrap().to_owned();
        let path = format!("/customer/keys/{id}/rotate");
        let answers =
            futures_util::future::join_all((0..4).map(|_| user.post(&path, Value::Null))).await;
        let ok = answers.iter().filter(|a| a.status == 200).count();
        assert_eq!(
            ok,
            1,
            "one rotation wins: {:?}",
            answers.iter().map(|a| &a.body).collect::<Vec<_>>()
        );
        for a in answers.iter().filter(|a| a.status != 200) {
            assert!(matches!(a.status, 400 | 409), "{} {}", a.status, a.body);
            assert!(a.body["message"].is_string());
        }
        let keys = user.get("/customer/keys").await;
        let active = keys
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["status"] == "active")
            .count();
        assert_eq!(active, 2, "the signup key and the one successor");
    }
);
