//! Bad input to REST routes: malformed JSON, wrong types, unknown fields (named),
//! over-long strings, non-UTF-8, not JSON, too large, bad ids and query strings; each
//! a 4xx in the route family's shape, never a 500 or internals. And `[rest] enabled`.
use reqwest::Method;
use serde_json::Value;

use crate::db_test;
use crate::rest::rest_signup;

const JSON: Option<&str> = Some("application/json");

struct Case {
    what: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// The field carrying the message: `message` (coded) or `detail` (Torale).
    field: &'static str,
}

fn case(what: &'static str, method: Method, path: &str, body: &[u8], status: u16) -> Case {
    Case {
        what,
        method,
        path: path.to_owned(),
        content_type: JSON,
        body: body.to_vec(),
        status,
        field: "message",
    }
}

db_test!(bad_input_is_a_4xx_in_the_familys_shape_never_a_500, |app| {
    let (token, _) = rest_signup(&app, "input@example.com").await;
    let auth = format!("Bearer {token}");
    let long_name = format!(r#"{{"name":"{}"}}"#, "n".repeat(5000));
    let long_password = format!(
        r#"{{"email":"a@example.com","password":"{}"}}"#,
        "p".repeat(10_000)
    );
    let long_email = format!(
        r#"{{"email":"{}@example.com","password":"correct-Horse-battery-9"}}"#,
        "e".repeat(5000)
    );
    let post = Method::POST;
    let cases = vec![
        case(
            "malformed",
            post.clone(),
            "/customer/keys",
            b"{\"label\":",
            400,
        ),
        case(
            "wrong type",
            post.clone(),
            "/customer/keys",
            br#"{"label": 5}"#,
            400,
        ),
        case(
            "unknown field",
            post.clone(),
            "/v1/api-keys",
            br#"{"name":"a","admin":true}"#,
            400,
        ),
        case(
            "bad scope",
            post.clone(),
            "/v1/api-keys",
            br#"{"name":"a","scopes":["root"]}"#,
            400,
        ),
        case(
            "bad ip",
            post.clone(),
            "/v1/api-keys",
            br#"{"name":"a","ips":["300.1.1.1"]}"#,
            400,
        ),
        case(
            "bad date",
            post.clone(),
            "/v1/api-keys",
            br#"{"name":"a","expires_at":"tomorrow"}"#,
            400,
        ),
        case(
            "past expiry",
            post.clone(),
            "/v1/api-keys",
            br#"{"name":"a","expires_at":"2001-01-01T00:00:00Z"}"#,
            400,
        ),
        Case {
            field: "detail",
            ..case(
                "long name",
                post.clone(),
                "/auth/api-keys",
                long_name.as_bytes(),
                400,
            )
        },
        Case {
            field: "detail",
            ..case(
                "non-UTF-8",
                post.clone(),
                "/auth/api-keys",
                b"{\"name\":\"\xff\xfe\"}",
                400,
            )
        },
        Case {
            content_type: Some("text/plain"),
            ..case("not JSON", post.clone(), "/customer/keys", b"label=x", 415)
        },
        Case {
            content_type: None,
            ..case(
                "no type",
                post.clone(),
                "/customer/keys",
                br#"{"label":"x"}"#,
                415,
            )
        },
        case("empty", post.clone(), "/customer/keys", b"", 400),
        case(
            "too large",
            post.clone(),
            "/customer/keys",
            &vec![b' '; 70 * 1024],
            413,
        ),
        case("array", post.clone(), "/auth/login", b"[]", 400),
        case(
            "array as a struct",
            post.clone(),
            "/keys",
            b"[null, null]",
            400,
        ),
        case(
            "long password",
            post.clone(),
            "/auth/signup",
            long_password.as_bytes(),
            400,
        ),
        case(
            "long email",
            post.clone(),
            "/auth/signup",
            long_email.as_bytes(),
            400,
        ),
        Case {
            content_type: None,
            ..case(
                "bad id",
                post.clone(),
                "/customer/keys/%FF%FE/revoke",
                b"",
                400,
            )
        },
        Case {
            content_type: None,
            ..case(
                "long id",
                Method::DELETE,
                &format!("/keys/{}", "k".repeat(300)),
                b"",
                400,
            )
        },
        Case {
            content_type: None,
            ..case("wrong method", Method::PUT, "/customer/keys", b"", 405)
        },
    ];
    for c in cases {
        let mut req = app
            .client
            .request(c.method, format!("{}{}", app.url, c.path))
            .header("authorization", &auth);
        if let Some(t) = c.content_type {
            req = req.header("content-type", t);
        }
        let resp = req.body(c.body).send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(status, c.status, "{}: {text}", c.what);
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{}: not JSON: {text}", c.what));
        let message = v[c.field]
            .as_str()
            .unwrap_or_else(|| panic!("{}: {text}", c.what));
        assert!(!message.is_empty());
        if c.field == "message" {
            assert!(v["error"].is_string(), "{}: {text}", c.what);
        }
        for internal in [
            "Error {",
            "kind:",
            "DbErr",
            "panicked",
            "sqlx",
            "Custom {",
            "Utf8Error",
        ] {
            assert!(!text.contains(internal), "{}: no internals: {text}", c.what);
        }
        if c.what == "unknown field" {
            assert!(
                message.contains("`admin`"),
                "the unknown field is named: {message}"
            );
        }
    }
});

db_test!(
    rest_can_be_turned_off,
    |s| {
        s.rest.enabled = false;
    },
    |app| {
        for (m, p) in [
            (Method::POST, "/auth/signup"),
            (Method::GET, "/openapi.json"),
            (Method::GET, "/auth/check"),
            (Method::GET, "/keys"),
        ] {
            let r = app
                .client
                .request(m, format!("{}{p}", app.url))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 404, "{p}");
        }
        app.signup("still@example.com").await; // GraphQL is unaffected
    }
);
