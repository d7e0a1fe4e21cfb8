//! Findings 13, 14 and 15: a chunked body over `graphql.max_body_bytes` answers 413
//! with a GraphQL error and no Rust Debug text; in `noauth` mode the development ADMIN
//! stands in only for a request without any credential; a credential header that
//! cannot be read (not visible ASCII) is an invalid credential, never an absent one,
//! and does not leave a good credential next to it standing.
use std::time::Duration;

use serde_json::{Value, json};

use super::{SET_ACTIVE, gql_raw};
use crate::db_test;
use crate::helpers::TestApp;

/// Whether `raw` holds a whole HTTP response; then its status and body. `eof`: the
/// server closed the connection, so what came is all there is.
fn parse_response(raw: &[u8], eof: bool) -> Option<(u16, String)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let rest = &raw[end + 4..];
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
    };
    let body = if let Some(len) = header("content-length:").and_then(|v| v.parse::<usize>().ok()) {
        match rest.get(..len) {
            Some(body) => body.to_vec(),
            None if eof => rest.to_vec(),
            None => return None,
        }
    } else if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
        match dechunk(rest) {
            Some(body) => body,
            None if eof => rest.to_vec(),
            None => return None,
        }
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

/// A chunked (Transfer-Encoding) body; None until its last chunk has come.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..line]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// POST /graphql over raw HTTP/1.1 with `Transfer-Encoding: chunked` (so there is no
/// Content-Length), in 16 KiB chunks: (status, body).
async fn post_chunked(app: &TestApp, body: Vec<u8>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.url.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(host.as_str())
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    // The writer is kept (returned) until the answer is read: closing our side early
    // could end the exchange before the server answers. A server that answers before
    // reading everything may close on us: write errors are expected then.
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for chunk in body.chunks(16 * 1024) {
            writer
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            writer.write_all(chunk).await?;
            writer.write_all(b"\r\n").await?;
        }
        writer.write_all(b"0\r\n\r\n").await?;
        writer.flush().await?;
        Ok::<_, std::io::Error>(writer)
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let answer = loop {
        if let Some(done) = parse_response(&raw, false) {
            break Some(done);
        }
        match tokio::time::timeout_at(deadline, reader.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => raw.extend_from_slice(&buf[..n]),
            _ => break parse_response(&raw, true),
        }
    };
    sender.abort();
    answer.unwrap_or_else(|| {
        panic!(
            "no HTTP response: {:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(2000)])
        )
    })
}

db_test!(
    a_chunked_body_over_the_limit_answers_413_with_a_graphql_error,
    |app| {
        let limit = latchkey::config::GraphqlSettings::default().max_body_bytes;
        let big = json!({ "query": format!("{{ __typename }} # {}", "x".repeat(300 * 1024)) })
            .to_string()
            .into_bytes();
        assert!(big.len() > limit);
        let (status, text) = post_chunked(&app, big).await;
        assert_eq!(status, 413, "{text}");
        for debug in ["Io(", "Custom {", "kind:"] {
            assert!(!text.contains(debug), "Debug text in the answer: {text}");
        }
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        assert!(
            !v["errors"][0]["message"].as_str().unwrap_or("").is_empty(),
            "{v}"
        );
        // A small chunked body is read as usual.
        let small = json!({ "query": "{ __typename }" })
            .to_string()
            .into_bytes();
        let (status, text) = post_chunked(&app, small).await;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["data"]["__typename"], "Query", "{v}");
        // With a Content-Length over the limit: 413 with the same kind of answer.
        let r = app
            .post(
                json!({ "query": format!("{{ __typename }} # {}", "x".repeat(limit + 10)) }),
                &[],
            )
            .await;
        assert_eq!(r.status(), 413);
        let text = String::from_utf8_lossy(&r.bytes().await.expect("body")).into_owned();
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        assert!(
            !v["errors"][0]["message"].as_str().unwrap_or("").is_empty(),
            "{v}"
        );
    }
);

db_test!(
    in_noauth_mode_the_development_admin_stands_in_only_without_any_credential,
    |s| {
        s.noauth = true;
    },
    |app| {
        let t = app.signup("plain-user@example.com").await;
        let r = app
            .gql_as(
                &t.access,
                "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }",
                json!({ "i": { "name": "reader", "scopes": ["READ"] } }),
            )
            .await;
        let key = r.ok()["createApiKey"]["secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        // A plain user's READ key is judged as that key, not as the development ADMIN.
        let r = app
            .gql_with(
                SET_ACTIVE,
                json!({ "u": t.user_id, "a": false }),
                &[("x-api-key", &key)],
            )
            .await;
        r.expect_code("FORBIDDEN");
        assert!(r.data()["setUserActive"].is_null(), "{}", r.0);
        assert_eq!(app.me(&t.access).await.ok()["me"]["isActive"], true);
        // An invalid access token is invalid, not absent.
        let r = app
            .gql_with(
                "{ me { email } }",
                json!({}),
                &[("authorization", "Bearer not-a-token")],
            )
            .await;
        r.expect_code("UNAUTHENTICATED");
        // No credential at all: the development user.
        let r = app.gql("{ me { email role } }", json!({})).await;
        assert_eq!(r.ok()["me"]["email"], "dev@latchkey.localhost");
        assert_eq!(r.ok()["me"]["role"], "ADMIN");
    }
);

db_test!(
    an_unreadable_credential_header_is_an_invalid_credential_next_to_a_good_one,
    |app| {
        let t = app.signup("bytes@example.com").await;
        let bearer = format!("Bearer {}", t.access);
        // The good token alone signs in.
        let r = gql_raw(
            &app,
            "{ me { id } }",
            &[("authorization", bearer.as_bytes())],
        )
        .await;
        assert_eq!(r.ok()["me"]["id"], t.user_id.as_str());
        let r = gql_raw(
            &app,
            "{ me { id } }",
            &[
                ("authorization", bearer.as_bytes()),
                ("x-api-key", &b"lk_live_\xC3\xA9"[..]),
            ],
        )
        .await;
        r.expect_code("UNAUTHENTICATED");
        assert!(r.data()["me"].is_null(), "{}", r.0);
        let r = gql_raw(
            &app,
            "{ me { id } }",
            &[
                ("authorization", bearer.as_bytes()),
                ("x-service-token", &b"\xC3\xA9"[..]),
            ],
        )
        .await;
        r.expect_code("UNAUTHENTICATED");
        assert!(r.data()["me"].is_null(), "{}", r.0);
    }
);

db_test!(
    in_noauth_mode_an_unreadable_authorization_header_is_not_the_development_user,
    |s| {
        s.noauth = true;
    },
    |app| {
        let r = gql_raw(
            &app,
            "{ me { email } }",
            &[("authorization", &b"Bearer \xC3\xA9"[..])],
        )
        .await;
        r.expect_code("UNAUTHENTICATED");
        assert!(r.data()["me"].is_null(), "{}", r.0);
        let r = gql_raw(&app, "{ me { email } }", &[]).await;
        assert_eq!(r.ok()["me"]["email"], "dev@latchkey.localhost");
    }
);

db_test!(
    a_forwarded_for_line_the_client_wrote_does_not_choose_its_address,
    |s| {
        s.rate_limit.login_per_minute = 1;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    },
    |app| {
        // The proxy appends its own X-Forwarded-For line (10.7.7.7, the real client)
        // after the one the client sent: the client's line must not pick the address.
        let login = |forged: &'static str| {
            let app = &app;
            async move {
                let body = json!({ "query": "mutation { login(email: \"nobody@example.com\", password: \"wrong-Password-1\") { __typename } }" });
                let r = app
                    .client
                    .post(format!("{}/graphql", app.url))
                    .header("x-forwarded-for", forged)
                    .header("x-forwarded-for", "10.7.7.7")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                Gql(r.json().await.unwrap())
            }
        };
        login("10.1.1.1").await.expect_code("UNAUTHENTICATED");
        login("10.2.2.2").await.expect_code("RATE_LIMITED");
    }
);

db_test!(
    a_request_held_open_while_its_session_is_revoked_acts_as_nobody,
    |app| {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let t = app.signup("slow@example.com").await;
        let body = json!({ "query": "{ me { id } }" }).to_string().into_bytes();
        let host = app.url.trim_start_matches("http://").to_owned();
        let stream = tokio::net::TcpStream::connect(host.as_str())
            .await
            .expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        let head = format!(
            "POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\nauthorization: Bearer {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            t.access,
            body.len()
        );
        let (first, rest) = body.split_at(body.len() / 2);
        writer.write_all(head.as_bytes()).await.expect("head");
        writer.write_all(first).await.expect("first half");
        writer.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Meanwhile the session is signed out everywhere.
        app.gql_as(
            &t.access,
            "mutation { logout(allSessions: true) }",
            json!({}),
        )
        .await
        .ok();
        writer.write_all(rest).await.expect("rest");
        writer.flush().await.expect("flush");
        let mut raw = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let (status, text) = loop {
            if let Some(done) = parse_response(&raw, false) {
                break done;
            }
            match tokio::time::timeout_at(deadline, reader.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => raw.extend_from_slice(&buf[..n]),
                _ => break parse_response(&raw, true).expect("an answer"),
            }
        };
        drop(writer);
        assert_eq!(status, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "the credential is judged when the body has come: {answer}"
        );
        assert!(
            answer["data"].is_null() || answer["data"]["me"].is_null(),
            "{answer}"
        );
    }
);
