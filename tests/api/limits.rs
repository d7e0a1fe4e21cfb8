//! Holding under attack: rate limits that count every attempt, GraphQL limits, CSRF
//! and CORS rules.
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{PASSWORD, TestApp};

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { __typename } }";

pub fn codes(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn random_ip() -> String {
    let b: [u8; 3] = rand::random();
    format!("10.{}.{}.{}", b[0], b[1], b[2].max(1))
}

pub async fn login_from(
    app: &TestApp,
    ip: &str,
    email: &str,
    password: &str,
) -> crate::helpers::Gql {
    app.gql_with(
        LOGIN,
        json!({ "e": email, "p": password }),
        &[("x-forwarded-for", ip)],
    )
    .await
}

db_test!(
    twenty_aliased_logins_in_one_document_are_twenty_attempts,
    |s| {
        s.rate_limit.login_per_minute = 10;
    },
    |app| {
        app.signup("alias@example.com").await;
        let fields: String = (0..20).map(|i| format!("a{i}: login(email: \"alias@example.com\", password: \"wrong-Password-{i}\") {{ __typename }} ")).collect();
        let r = app
            .post(json!({ "query": format!("mutation {{ {fields} }}") }), &[])
            .await;
        let v: Value = r.json().await.unwrap();
        let c = codes(&v);
        assert_eq!(c.len(), 20, "{v}");
        assert_eq!(
            c.iter().filter(|c| *c == "UNAUTHENTICATED").count(),
            10,
            "{c:?}"
        );
        assert_eq!(
            c.iter().filter(|c| *c == "RATE_LIMITED").count(),
            10,
            "{c:?}"
        );
        let limited = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["extensions"]["code"] == "RATE_LIMITED")
            .unwrap();
        let retry = limited["extensions"]["retryAfter"].as_u64().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        // The right password is refused too now, from this address.
        app.login("alias@example.com", PASSWORD)
            .await
            .expect_code("RATE_LIMITED");
    }
);

db_test!(
    the_entries_of_a_batch_count_one_by_one,
    |s| {
        s.rate_limit.login_per_minute = 5;
    },
    |app| {
        let batch: Vec<Value> = (0..8).map(|_| json!({ "query": LOGIN, "variables": { "e": "nobody@example.com", "p": "wrong-Password-1" } })).collect();
        let v: Value = app
            .post(Value::Array(batch), &[])
            .await
            .json()
            .await
            .unwrap();
        let all: Vec<String> = v.as_array().unwrap().iter().flat_map(codes).collect();
        assert_eq!(
            all.iter().filter(|c| *c == "RATE_LIMITED").count(),
            3,
            "{all:?}"
        );
    }
);

db_test!(
    failed_logins_limit_the_account_from_any_address_for_one_window_at_most,
    |s| {
        s.rate_limit.login_per_minute = 4;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    },
    |app| {
        app.signup("target@example.com").await;
        app.signup("bystander@example.com").await;
        for _ in 0..4 {
            login_from(&app, &random_ip(), "target@example.com", "wrong-Password-9")
                .await
                .expect_code("UNAUTHENTICATED");
        }
        // From a fresh address, with the right password: the account's failures stop it.
        let r = login_from(&app, &random_ip(), "target@example.com", PASSWORD).await;
        r.expect_code("RATE_LIMITED");
        // Another account is unaffected.
        login_from(&app, &random_ip(), "bystander@example.com", PASSWORD)
            .await
            .ok();
        // In the next window (clock moved a minute on) the owner gets in.
        let idm = &app.state.idm;
        let client = latchkey::idm::ClientInfo {
            ip: Some("192.0.2.44".parse().unwrap()),
            user_agent: None,
        };
        let next_minute = (latchkey::clock::now() / 60 + 1) * 60 + 1;
        assert!(
            idm.login("target@example.com", PASSWORD, &client, next_minute)
                .await
                .is_ok()
        );
    }
);

db_test!(
    signups_per_address_are_limited,
    |s| {
        s.rate_limit.signup_per_hour = 2;
    },
    |app| {
        app.signup("s1@example.com").await;
        app.signup("s2@example.com").await;
        let r = app.gql("mutation { signup(email: \"s3@example.com\", password: \"correct-Horse-battery-9\") { tenantId } }", json!({})).await;
        r.expect_code("RATE_LIMITED");
        assert!(
            r.0["errors"][0]["extensions"]["retryAfter"]
                .as_u64()
                .unwrap()
                <= 3600
        );
    }
);

db_test!(
    password_reset_requests_are_limited_per_address_and_per_email,
    |s| {
        s.rate_limit.reset_per_hour = 2;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    },
    |app| {
        const RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
        for _ in 0..2 {
            app.gql_with(
                RESET,
                json!({ "e": "victim@example.com" }),
                &[("x-forwarded-for", &random_ip())],
            )
            .await
            .ok();
        }
        let r = app
            .gql_with(
                RESET,
                json!({ "e": "victim@example.com" }),
                &[("x-forwarded-for", &random_ip())],
            )
            .await;
        r.expect_code("RATE_LIMITED");
    }
);

db_test!(
    refresh_and_token_checks_are_limited_per_address,
    |s| {
        s.rate_limit.refresh_per_minute = 2;
        s.rate_limit.token_checks_per_hour = 2;
    },
    |app| {
        const REFRESH: &str =
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }";
        for _ in 0..2 {
            app.gql(REFRESH, json!({ "t": "nope" }))
                .await
                .expect_code("UNAUTHENTICATED");
        }
        app.gql(REFRESH, json!({ "t": "nope" }))
            .await
            .expect_code("RATE_LIMITED");
        const CONFIRM: &str = "mutation($t: String!) { confirmEmailVerification(token: $t) }";
        for _ in 0..2 {
            app.gql(CONFIRM, json!({ "t": "nope" }))
                .await
                .expect_code("BAD_USER_INPUT");
        }
        app.gql(CONFIRM, json!({ "t": "nope" }))
            .await
            .expect_code("RATE_LIMITED");
    }
);

/// Redis, when LATCHKEY_TEST_REDIS_URL is set (CI sets it): two instances share one limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_redis_enforce_one_login_limit() {
    let Some(redis) = std::env::var("LATCHKEY_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but LATCHKEY_TEST_REDIS_URL is not set"
        );
        eprintln!("skipped: LATCHKEY_TEST_REDIS_URL is not set");
        return;
    };
    let configure = |s: &mut latchkey::config::Settings| {
        s.redis_url = redis.clone().into();
        s.rate_limit.login_per_minute = 6;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    };
    let a = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, configure)
        .await
        .unwrap();
    let b = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, configure)
        .await
        .unwrap();
    let ip = random_ip();
    for _ in 0..3 {
        login_from(&a, &ip, "nobody@example.com", "wrong-Password-1")
            .await
            .expect_code("UNAUTHENTICATED");
        login_from(&b, &ip, "nobody@example.com", "wrong-Password-1")
            .await
            .expect_code("UNAUTHENTICATED");
    }
    login_from(&a, &ip, "nobody@example.com", "wrong-Password-1")
        .await
        .expect_code("RATE_LIMITED");
    login_from(&b, &ip, "nobody@example.com", "wrong-Password-1")
        .await
        .expect_code("RATE_LIMITED");
}

/// A six-digit code that is not valid in the steps around now.
fn wrong_code(secret: &str) -> String {
    let now = latchkey::clock::now();
    let valid: Vec<String> = [-60, -30, 0, 30, 60]
        .iter()
        .map(|d| crate::two_factor::code_at(secret, now + d))
        .collect();
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !valid.contains(c))
        .expect("a wrong code")
}

db_test!(
    second_factor_failures_count_per_account_from_any_address,
    |s| {
        s.rate_limit.login_per_minute = 3;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    },
    |app| {
        let (_, secret, _) = crate::two_factor::with_2fa(&app, "guess@example.com").await;
        const VERIFY: &str = "mutation($u: ID!, $t: String!, $m: String) { verify_2fa_code(user_id: $u, token: $t, mfa_token: $m) { accessToken } }";
        // Each guess from a new address and a new pending login: only the account's
        // count can stop them.
        let mut codes = Vec::new();
        for _ in 0..4 {
            let pending = app
                .gql_with(
                    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { ... on TwoFactorRequired { userId mfaToken } } }",
                    json!({ "e": "guess@example.com", "p": PASSWORD }),
                    &[("x-forwarded-for", &random_ip())],
                )
                .await;
            let p = pending.ok()["login"].clone();
            let r = app
                .gql_with(
                    VERIFY,
                    json!({ "u": p["userId"], "t": wrong_code(&secret), "m": p["mfaToken"] }),
                    &[("x-forwarded-for", &random_ip())],
                )
                .await;
            codes.push(r.code().unwrap_or("").to_owned());
            if r.code() == Some("RATE_LIMITED") {
                // Even the right code waits now.
                let now = latchkey::clock::now();
                let right = crate::two_factor::code_at(&secret, now);
                let r = app
                    .gql_with(
                        VERIFY,
                        json!({ "u": p["userId"], "t": right, "m": p["mfaToken"] }),
                        &[("x-forwarded-for", &random_ip())],
                    )
                    .await;
                r.expect_code("RATE_LIMITED");
            }
        }
        assert_eq!(
            codes,
            [
                "UNAUTHENTICATED",
                "UNAUTHENTICATED",
                "UNAUTHENTICATED",
                "RATE_LIMITED"
            ],
            "{codes:?}"
        );
    }
);

db_test!(
    passkey_and_social_sign_ins_count_against_the_login_limit,
    |s| {
        s.rate_limit.login_per_minute = 4;
        s.oauth.google.client_id = "google-client".into();
    },
    |app| {
        // Mutation fields run in order: three passkey attempts, then three Google ID
        // tokens; the fifth and sixth attempts are over the limit of four.
        let fields: String =
            (0..3)
                .map(|i| {
                    format!("p{i}: loginWithPasskey(credential: {{id: \"x\"}}) {{ accessToken }} ")
                })
                .chain((0..3).map(|i| {
                    format!("g{i}: google_auth(token: \"not-a-jwt-{i}\") {{ __typename }} ")
                }))
                .collect();
        let r = app
            .post(json!({ "query": format!("mutation {{ {fields} }}") }), &[])
            .await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            codes(&v),
            [
                "BAD_USER_INPUT",
                "BAD_USER_INPUT",
                "BAD_USER_INPUT",
                "UNAUTHENTICATED",
                "RATE_LIMITED",
                "RATE_LIMITED"
            ],
            "{v}"
        );
        // A password login from this address is over the limit too.
        app.login("nobody@example.com", PASSWORD)
            .await
            .expect_code("RATE_LIMITED");
    }
);

db_test!(
    deep_complex_and_alias_heavy_documents_are_refused,
    |s| {
        s.graphql.max_depth = 3;
        s.graphql.max_aliases = 5;
    },
    |app| {
        let r = app
            .gql(
                // (not introspection alone: the standard introspection query has its own
                // allowance, tests/api/graphql_http.rs)
                "{ me { id } __schema { types { fields { type { name } } } } }",
                json!({}),
            )
            .await;
        assert!(r.code().is_some(), "{:?}", r.0);
        assert!(
            r.message().to_lowercase().contains("nested")
                || r.message().to_lowercase().contains("depth"),
            "{}",
            r.message()
        );
        let aliases: String = (0..6).map(|i| format!("t{i}: __typename ")).collect();
        let r = app.gql(&format!("{{ {aliases} }}"), json!({})).await;
        r.expect_code("BAD_USER_INPUT");
        assert!(r.message().contains("aliased"), "{}", r.message());
        let aliases: String = (0..5).map(|i| format!("t{i}: __typename ")).collect();
        app.gql(&format!("{{ {aliases} }}"), json!({})).await.ok();
        // The server stays healthy.
        app.gql("{ __typename }", json!({})).await.ok();
    }
);

db_test!(
    an_oversized_batch_is_refused,
    |s| {
        s.graphql.max_batch = 3;
    },
    |app| {
        let batch: Vec<Value> = (0..4)
            .map(|_| json!({ "query": "{ __typename }" }))
            .collect();
        let v: Value = app
            .post(Value::Array(batch), &[])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{v}"
        );
        let batch: Vec<Value> = (0..3)
            .map(|_| json!({ "query": "{ __typename }" }))
            .collect();
        let v: Value = app
            .post(Value::Array(batch), &[])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v.as_array().unwrap().len(), 3);
    }
);

db_test!(
    introspection_and_suggestions_can_be_turned_off,
    |s| {
        s.graphql.introspection = false;
        s.graphql.suggestions = false;
    },
    |app| {
        // async-graphql answers introspection with null when it is off.
        let r = app
            .gql("{ __schema { queryType { name } } }", json!({}))
            .await;
        assert!(r.data()["__schema"].is_null(), "{:?}", r.0);
        let r = app.gql("{ mee { id } }", json!({})).await;
        r.expect_code("BAD_USER_INPUT");
        assert!(!r.message().contains("Did you mean"), "{}", r.message());
    }
);

db_test!(only_json_posts_reach_graphql, |app| {
    let q = "mutation { requestPasswordReset(email: \"x@example.com\") }";
    let url = format!("{}/graphql", app.url);
    let form = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("query={q}"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    let text = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body(json!({ "query": q }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    let multi = app
        .client
        .post(&url)
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x--")
        .send()
        .await
        .unwrap();
    assert_eq!(multi.status(), 415);
    let none = app
        .client
        .post(&url)
        .body(json!({ "query": q }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 415);
    let v: Value = none.json().await.unwrap();
    assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let ok = app
        .client
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .body(json!({ "query": q }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
});

db_test!(
    cors_answers_configured_origins_only,
    |s| {
        s.cors_origins = vec!["https://app.example.com".into()];
    },
    |app| {
        let url = format!("{}/graphql", app.url);
        let pre = |origin: &'static str| {
            app.client
                .request(reqwest::Method::OPTIONS, &url)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type, authorization",
                )
                .send()
        };
        let ok = pre("https://app.example.com").await.unwrap();
        assert_eq!(
            ok.headers().get("access-control-allow-origin").unwrap(),
            "https://app.example.com"
        );
        assert!(
            ok.headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
        let other = pre("https://evil.example").await.unwrap();
        assert!(other.headers().get("access-control-allow-origin").is_none());
    }
);

db_test!(the_graphiql_page_carries_security_headers, |app| {
    let r = app
        .client
        .get(format!("{}/graphql", app.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let h = r.headers();
    assert!(
        h.get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
});
