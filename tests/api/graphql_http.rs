//! GraphQL over HTTP to the letter (the GraphQL-over-HTTP specification; CI also runs
//! the graphql-http audit suite): Accept negotiation, request errors without `data`,
//! the status of each kind of answer, JSON bodies for 405/406/413/415, and the standard
//! introspection query under the default limits.
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::helpers::*;

const GQL_JSON: &str = "application/graphql-response+json";
const FULL_INTROSPECTION: &str = include_str!("fixtures/introspection-full.graphql");
const DEFAULT_INTROSPECTION: &str = include_str!("fixtures/introspection-default.graphql");

async fn sqlite(configure: impl FnOnce(&mut latchkey::config::Settings)) -> TestApp {
    spawn_app_with(Backend::Sqlite, configure)
        .await
        .expect("sqlite app")
}

/// POSTs raw bytes as JSON with `accept`; (status, content type, body).
async fn raw(app: &TestApp, body: impl Into<reqwest::Body>, accept: &str) -> (u16, String, Value) {
    let r = app
        .client
        .post(format!("{}/graphql", app.url))
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, accept)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, ct, v)
}

/// A request error as the spec writes it: no `data`, one error saying what to fix, no
/// Rust Debug text.
fn assert_request_error(v: &Value, says: &str) {
    assert!(v.get("data").is_none(), "a request error has no data: {v}");
    let msg = v["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(msg.contains(says), "{says:?} not in {msg:?}");
    assert!(!msg.contains('\n'), "one line: {msg:?}");
    for debug in ["Error(", "InvalidRequest", "ParseRequestError", "line: "] {
        assert!(!msg.contains(debug), "Debug text in {msg:?}");
    }
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_picks_the_media_type_and_anything_else_is_406() {
    let app = sqlite(|_| {}).await;
    let q = json!({ "query": "{ __typename }" }).to_string();
    for (accept, ct) in [
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        (GQL_JSON, GQL_JSON),
        (
            "application/json;q=0.5, application/graphql-response+json",
            GQL_JSON,
        ),
    ] {
        let (status, got, v) = raw(&app, q.clone(), accept).await;
        assert_eq!(status, 200, "{accept}");
        assert!(
            got.starts_with(ct) && got.contains("charset=utf-8"),
            "{accept}: {got}"
        );
        assert_eq!(v["data"]["__typename"], "Query");
    }
    // No Accept at all: application/json.
    let r = app
        .client
        .post(format!("{}/graphql", app.url))
        .header(CONTENT_TYPE, "application/json")
        .body(q.clone())
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    for accept in ["text/html", "application/xml", "application/json;q=0"] {
        let (status, ct, v) = raw(&app, q.clone(), accept).await;
        assert_eq!(status, 406, "{accept}");
        assert!(ct.starts_with("application/json"));
        assert_request_error(&v, "Accept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_request_errors_that_say_what_to_fix() {
    let app = sqlite(|s| s.graphql.max_batch = 3).await;
    let cases: [(&[u8], &str); 12] = [
        (b"{", "not valid JSON"),
        (b"", "empty"),
        (b"\"{ me { id } }\"", "JSON object"),
        (b"null", "JSON object"),
        (b"[]", "batch is empty"),
        (b"{}", "`query` is required"),
        (br#"{"query": 7}"#, "`query` must be a string"),
        (
            br#"{"query": "{ me { id } }", "variables": []}"#,
            "`variables` must be an object",
        ),
        (
            br#"{"query": "{ me { id } }", "variables": "{}"}"#,
            "`variables` must be an object",
        ),
        (
            br#"{"query": "{ me { id } }", "extensions": 1}"#,
            "`extensions` must be an object",
        ),
        (br#"[{"query": "{ __typename }"}, 3]"#, "Operation 2 of 2"),
        (b"{\"query\": \"{ me \xff\xfe }\"}", "not valid JSON"),
    ];
    for accept in ["application/json", GQL_JSON] {
        for (body, says) in cases {
            let (status, _, v) = raw(&app, body.to_vec(), accept).await;
            assert_eq!(
                status,
                400,
                "{accept} {:?}: {v}",
                String::from_utf8_lossy(body)
            );
            assert_request_error(&v, says);
        }
    }
    let batch: Vec<Value> = (0..4)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let (status, _, v) = raw(&app, Value::Array(batch).to_string(), GQL_JSON).await;
    assert_eq!(status, 400);
    assert_request_error(&v, "at most 3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_does_not_parse_or_validate_never_runs() {
    let app = sqlite(|_| {}).await;
    let cases = [
        ("{ me { id ", "Syntax error at line 1, column"),
        ("{ nosuchfield }", "nosuchfield"),
        ("query($n: Int!) { apiKeys(limit: $n) { totalCount } }", "n"),
    ];
    for (query, says) in cases {
        let body = json!({ "query": query }).to_string();
        // graphql-response+json: 400 and no data.
        let (status, _, v) = raw(&app, body.clone(), GQL_JSON).await;
        assert_eq!(status, 400, "{query}: {v}");
        assert_request_error(&v, says);
        // application/json: 200 (the legacy type), still no data.
        let (status, _, v) = raw(&app, body, "application/json").await;
        assert_eq!(status, 200, "{query}: {v}");
        assert_request_error(&v, says);
    }
    // A variable of the wrong type is a request error too.
    let body = json!({
        "query": "query($e: String!) { verifyApiKey(key: $e) { valid } }",
        "variables": { "e": 5 }
    });
    let (status, _, v) = raw(&app, body.to_string(), GQL_JSON).await;
    assert_eq!(status, 400, "{v}");
    assert!(v.get("data").is_none(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_ran_keeps_its_data_even_when_a_field_failed() {
    let app = sqlite(|_| {}).await;
    let body = json!({ "query": "{ __typename me { id } }" }).to_string();
    let (status, _, v) = raw(&app, body, GQL_JSON).await;
    assert_eq!(status, 200, "{v}");
    assert!(v.get("data").is_some(), "{v}");
    assert_eq!(v["errors"][0]["path"][0], "me", "{v}");
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_and_mutations_over_get_are_405_with_allow() {
    let app = sqlite(|_| {}).await;
    let q = "mutation { requestPasswordReset(email: \"x@example.com\") }";
    let r = app
        .client
        .get(format!("{}/graphql", app.url))
        .query(&[("query", q)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    assert_request_error(&r.json().await.unwrap(), "not allowed over GET");
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let r = app
            .client
            .request(method.clone(), format!("{}/graphql", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method}");
        assert_eq!(r.headers()["allow"], "GET, POST");
        assert_request_error(&r.json().await.unwrap(), "answers GET");
    }
    // A GET without `query` from a client that does not want the page.
    let r = app
        .client
        .get(format!("{}/graphql", app.url))
        .header(ACCEPT, GQL_JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_request_error(&r.json().await.unwrap(), "`query` is required");
    let r = app
        .client
        .get(format!(
            "{}/graphql?query=%7B__typename%7D&variables=nope",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_request_error(&r.json().await.unwrap(), "`variables`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_non_json_bodies_get_json_errors() {
    let app = sqlite(|_| {}).await;
    let big = "x".repeat(latchkey::config::GraphqlSettings::default().max_body_bytes + 10);
    let body = json!({ "query": format!("{{ __typename }} # {big}") }).to_string();
    let (status, ct, v) = raw(&app, body, GQL_JSON).await;
    assert_eq!(status, 413);
    assert!(ct.starts_with("application/"), "{ct}");
    assert_request_error(&v, "graphql.max_body_bytes");
    // (a chunked body found too large while read: tests/api/review/credentials.rs)
    // A new connection: the server closes the one whose large body it did not read,
    // and a pooled client could send the next request on it as it closes.
    let r = reqwest::Client::new()
        .post(format!("{}/graphql", app.url))
        .header(CONTENT_TYPE, "text/plain")
        .body("{\"query\":\"{ __typename }\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_request_error(&r.json().await.unwrap(), "Content-Type: application/json");
}

async fn introspect(app: &TestApp, query: &str) -> Value {
    let (status, _, v) = raw(app, json!({ "query": query }).to_string(), GQL_JSON).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// `query` with one more level of `ofType` inside the innermost one of its TypeRef.
fn one_level_deeper(query: &str) -> String {
    let at = query.rfind("ofType {").expect("a TypeRef fragment") + "ofType {".len();
    format!("{} ofType {{ kind name }} {}", &query[..at], &query[at..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_introspection_query_passes_the_limits_and_nothing_deeper_does() {
    // Under the defaults, and under limits far below what the query needs.
    for (depth, complexity) in [(12, 500), (3, 10)] {
        let app = sqlite(|s| {
            s.graphql.max_depth = depth;
            s.graphql.max_complexity = complexity;
        })
        .await;
        for query in [FULL_INTROSPECTION, DEFAULT_INTROSPECTION] {
            let v = introspect(&app, query).await;
            assert!(v.get("errors").is_none(), "{v}");
            assert_eq!(v["data"]["__schema"]["queryType"]["name"], "Query");
        }
        let (status, _, v) = raw(
            &app,
            json!({ "query": one_level_deeper(FULL_INTROSPECTION) }).to_string(),
            GQL_JSON,
        )
        .await;
        assert_eq!(status, 400, "{v}");
        assert_request_error(&v, "nested 16 fields deep");
        // A document that also asks for data gets the configured limits.
        let mixed = FULL_INTROSPECTION.replacen("__schema {", "me { id }\n __schema {", 1);
        let (status, _, v) = raw(&app, json!({ "query": mixed }).to_string(), GQL_JSON).await;
        assert_eq!(status, 400, "{v}");
        assert_request_error(&v, &format!("this server allows {depth}"));
    }
    let app = sqlite(|s| s.graphql.introspection = false).await;
    let (_, _, v) = raw(
        &app,
        json!({ "query": FULL_INTROSPECTION }).to_string(),
        GQL_JSON,
    )
    .await;
    assert!(v["errors"][0]["message"].is_string(), "{v}");
    assert!(v["data"]["__schema"]["types"].is_null(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listen_moves_metrics_off_the_main_listener() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = sqlite(|s| s.metrics.listen = Some(([127, 0, 0, 1], port).into())).await;
    let main = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
    let mut own = None;
    for _ in 0..50 {
        match app
            .client
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
        {
            Ok(r) => {
                own = Some(r);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    let own = own.expect("the metrics listener answers");
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().contains("latchkey_"));
    let graphql = app
        .client
        .get(format!("http://127.0.0.1:{port}/graphql"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        graphql.status(),
        404,
        "only /metrics on the metrics listener"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragments_aliases_count_at_every_spread() {
    let app = sqlite(|s| s.graphql.max_aliases = 10).await;
    let fragment =
        "fragment F on __Schema { a: description b: description c: description d: description }";
    // One spread: 4 aliases, allowed. Three spreads: 12 as it runs, refused.
    let once = format!("{{ __schema {{ ...F }} }} {fragment}");
    let (status, _, v) = raw(&app, json!({ "query": once }).to_string(), GQL_JSON).await;
    assert_eq!(status, 200, "{v}");
    let thrice = format!(
        "{{ x: __schema {{ ...F }} y: __schema {{ ...F }} z: __schema {{ ...F }} }} {fragment}"
    );
    let (status, _, v) = raw(&app, json!({ "query": thrice }).to_string(), GQL_JSON).await;
    assert_eq!(status, 400, "{v}");
    assert_request_error(&v, "aliased fields");
    // A fragment cycle is no endless count: validation refuses it.
    let cycle = "{ __schema { ...A } } fragment A on __Schema { a: description ...B } fragment B on __Schema { b: description ...A }";
    let (_, _, v) = raw(&app, json!({ "query": cycle }).to_string(), GQL_JSON).await;
    assert!(v["errors"][0]["message"].is_string(), "{v}");
}
