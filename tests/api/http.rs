//! The HTTP surface: GraphiQL and GET rules, health, metrics, limits, noauth mode.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::PASSWORD;

db_test!(health_and_readiness_answer, |app| {
    let r = app
        .client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
});

db_test!(metrics_count_operations_and_login_outcomes, |app| {
    app.signup("metrics@example.com").await;
    app.login("metrics@example.com", PASSWORD).await.ok();
    app.login("metrics@example.com", "wrong-Password-1").await;
    let text = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("latchkey_logins_total{outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("latchkey_logins_total{outcome=\"failed\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("latchkey_graphql_operations_total{operation=\"signup\",outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("latchkey_graphql_operation_duration_seconds_bucket{operation=\"login\""),
        "{text}"
    );
});

db_test!(
    get_serves_graphiql_and_runs_queries_but_never_mutations,
    |app| {
        let r = app
            .client
            .get(format!("{}/graphql", app.url))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().to_lowercase().contains("graphiql"));
        let r: Value = app
            .client
            .get(format!("{}/graphql?query=%7B__typename%7D", app.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["data"]["__typename"], "Query");
        let q = "mutation { requestPasswordReset(email: \"x@example.com\") }";
        let r: Value = app
            .client
            .get(format!("{}/graphql", app.url))
            .query(&[("query", q)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{r}"
        );
        assert!(r["data"].is_null());
        // Hidden behind a named operation, too.
        let q =
            "query A { __typename } mutation B { requestPasswordReset(email: \"x@example.com\") }";
        let r: Value = app
            .client
            .get(format!("{}/graphql", app.url))
            .query(&[("query", q), ("operationName", "B")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{r}"
        );
    }
);

db_test!(an_oversized_body_is_refused_with_413, |app| {
    let big = "x".repeat(latchkey::config::GraphqlSettings::default().max_body_bytes + 10);
    let r = app
        .post(json!({ "query": format!("{{ __typename }} # {big}") }), &[])
        .await;
    assert_eq!(r.status(), 413);
    // The server still answers (on a new connection: it closes the one whose body it
    // did not read, and a pooled client could send on it as it closes).
    let r = reqwest::Client::new()
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
});

db_test!(malformed_queries_get_a_code_and_no_internals, |app| {
    let r = app.gql("{ me { id ", json!({})).await;
    r.expect_code("BAD_USER_INPUT");
    let r = app.gql("{ nosuchfield }", json!({})).await;
    r.expect_code("BAD_USER_INPUT");
    let r = app
        .gql(
            "mutation { login(email: 5, password: \"x\") { __typename } }",
            json!({}),
        )
        .await;
    r.expect_code("BAD_USER_INPUT");
});

db_test!(batched_requests_answer_each_entry, |app| {
    let body = json!([{ "query": "{ __typename }" }, { "query": "{ me { id } }" }]);
    let r: Value = app.post(body, &[]).await.json().await.unwrap();
    assert_eq!(r[0]["data"]["__typename"], "Query");
    assert_eq!(r[1]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
});

db_test!(security_events_are_audited, |app| {
    let t = app.signup("audit@example.com").await;
    app.login("audit@example.com", "wrong-Password-1").await;
    app.login("audit@example.com", PASSWORD).await.ok();
    app.gql_as(&t.access, "mutation { logout }", json!({}))
        .await
        .ok();
    let rows = app.audit_rows(&t.user_id).await;
    let events: Vec<&str> = rows.iter().map(|r| r.event.as_str()).collect();
    for e in ["signup", "login_failed", "login_ok", "session_revoked"] {
        assert!(events.contains(&e), "{e} not in {events:?}");
    }
    assert!(rows.iter().all(|r| r.ip.as_deref() == Some("127.0.0.1")));
});

db_test!(
    noauth_mode_acts_as_the_development_user,
    |s| {
        s.noauth = true;
    },
    |app| {
        let r = app.gql("{ me { email role } }", json!({})).await;
        assert_eq!(r.ok()["me"]["email"], "dev@latchkey.localhost");
        // A real token still wins over the development user.
        let t = app.signup("real@example.com").await;
        assert_eq!(
            app.me(&t.access).await.ok()["me"]["email"],
            "real@example.com"
        );
    }
);

db_test!(secrets_never_appear_in_the_users_table_or_answers, |app| {
    app.signup("hash@example.com").await;
    let row = latchkey::entities::user::Entity::find()
        .filter(latchkey::entities::user::Column::Email.eq("hash@example.com"))
        .one(&app.state.idm.db)
        .await
        .unwrap()
        .unwrap();
    let hash = row.password_hash.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(!hash.contains(PASSWORD));
    let r = app
        .gql("{ __type(name: \"User\") { fields { name } } }", json!({}))
        .await;
    let fields = r.ok()["__type"]["fields"].to_string();
    assert!(!fields.to_lowercase().contains("password"), "{fields}");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_comes_from_this_origin_only() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |_| {})
        .await
        .expect("app");
    let get = |path: &str| app.client.get(format!("{}{path}", app.url));
    let r = get("/graphql")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    assert!(
        !page.contains("<script>") && !page.contains("<style"),
        "no inline script or style"
    );
    // Every file the page names is served, with its type and an ETag.
    let srcs: Vec<&str> = page
        .split(['"', '\''])
        .filter(|s| s.starts_with("/assets/graphiql/"))
        .collect();
    assert_eq!(srcs.len(), 6, "{srcs:?}");
    for src in srcs {
        let r = get(src).send().await.unwrap();
        assert_eq!(r.status(), 200, "{src}");
        let ct = r.headers()["content-type"].to_str().unwrap();
        assert!(
            ct.starts_with("text/javascript") || ct.starts_with("text/css"),
            "{src}: {ct}"
        );
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let again = get(src)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{src}");
    }
    let r = get("/assets/graphiql/graphiql.min.js")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    for missing in [
        "/assets/graphiql/nope.js",
        "/assets/graphiql/..%2FCargo.toml",
        "/assets/graphiql/LICENSE.react",
    ] {
        assert_eq!(
            get(missing).send().await.unwrap().status(),
            404,
            "{missing}"
        );
    }
}
