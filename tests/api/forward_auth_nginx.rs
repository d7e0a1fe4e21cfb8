//! Forward auth through a real nginx (`auth_request`) in front of a small upstream,
//! both started here on free ports, with the README's nginx snippet. It needs
//! Debian's `nginx`; without it the test is skipped, unless LATCHKEY_TEST_NGINX=1 (as
//! `.ci/run` sets), where a missing nginx fails it.
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::Method;
use serde_json::{Value, json};

use crate::forward_auth::key;
use crate::helpers::{Backend, spawn_app_with};
use crate::rest::{Rest, rest_signup};

/// A small upstream that answers every request with the method, the path and the
/// `x-latchkey-*` headers it received.
async fn upstream() -> SocketAddr {
    use axum::extract::Request;
    let echo = |req: Request| async move {
        let mut seen = serde_json::Map::new();
        for (k, v) in req.headers() {
            if k.as_str().starts_with("x-latchkey-") {
                seen.insert(k.as_str().to_owned(), json!(v.to_str().unwrap_or("")));
            }
        }
        axum::Json(
            json!({ "method": req.method().as_str(), "path": req.uri().path(), "headers": seen }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback(echo)).await;
    });
    addr
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The README's nginx snippet (its first ```nginx block), with this test's addresses
/// for latchkey and the upstream, inside a server of its own.
fn nginx_conf(dir: &Path, listen: u16, latchkey: &str, upstream: SocketAddr) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let snippet = readme
        .split("```nginx\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has an nginx snippet");
    assert!(snippet.contains("http://127.0.0.1:8080") && snippet.contains("http://my-api"));
    let snippet = snippet
        .replace("http://127.0.0.1:8080", latchkey)
        .replace("http://my-api", &format!("http://{upstream}"));
    let d = dir.display();
    format!(
        r#"pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{listen};
{snippet}
  }}
}}
"#
    )
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nginx_binary() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_protects_an_upstream_with_latchkey_keys() {
    let Some(bin) = nginx_binary() else {
        assert!(
            std::env::var("LATCHKEY_TEST_NGINX").as_deref() != Ok("1"),
            "LATCHKEY_TEST_NGINX=1 but nginx is not installed"
        );
        eprintln!("skipped: nginx is not installed");
        return;
    };
    // nginx reaches latchkey from 127.0.0.1 (a trusted proxy); the client talks to
    // nginx from 127.0.0.2, the address the keys' allowlists are about.
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
    .unwrap();
    let up = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("nginx.conf"),
        nginx_conf(dir.path(), port, &app.url, up),
    )
    .unwrap();
    let child = Command::new(bin)
        .args([
            "-p",
            &dir.path().display().to_string(),
            "-c",
            "nginx.conf",
            "-e",
            "error.log",
            "-g",
            "daemon off; master_process off;",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx");
    let _nginx = Nginx(child);
    let client = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if client.get(format!("{base}/")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
    assert!(ready, "nginx did not start: {log}");

    let (token, up_body) = rest_signup(&app, "proxy@example.com").await;
    let auth = format!("Bearer {token}");
    let user = Rest::bearer(&app, &token);
    let (key_id, read) = key(&user, json!(["read"]), json!(["127.0.0.2"])).await;
    let (_, elsewhere) = key(&user, json!(["read", "write"]), json!(["127.0.0.3"])).await;
    let (revoked_id, revoked) = key(&user, json!(["read"]), json!([])).await;
    let revoke = format!("/customer/keys/{revoked_id}/revoke");
    assert_eq!(user.post(&revoke, Value::Null).await.status, 200);
    let send = |method: Method, key: &str, extra: &[(&str, &str)]| {
        let mut req = client
            .request(method, format!("{base}/orders/42?x=1"))
            .header("x-api-key", key);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        async move {
            let r = req.send().await.expect("through nginx");
            let status = r.status().as_u16();
            let headers: HeaderMap = r.headers().clone();
            let text = r.text().await.unwrap();
            (
                status,
                headers,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
            )
        }
    };

    // A keyed GET passes, and the identity reaches the upstream (client copies of
    // those headers are replaced, never passed on).
    let (status, _, body) = send(
        Method::GET,
        &read,
        &[
            ("x-latchkey-user-id", "spoofed"),
            ("x-latchkey-scopes", "read,write,delete"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["path"], "/orders/42");
    let uid = app
        .state
        .idm
        .find_user_by_email("proxy@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(body["headers"]["x-latchkey-user-id"], uid.as_str());
    assert_eq!(
        body["headers"]["x-latchkey-tenant-id"],
        up_body["tenant_id"]
    );
    assert_eq!(body["headers"]["x-latchkey-key-id"], key_id.as_str());
    assert_eq!(body["headers"]["x-latchkey-scopes"], "read");
    assert_eq!(body["headers"]["x-latchkey-credential"], "api_key");
    assert_eq!(body["headers"]["x-latchkey-environment"], "live");

    // A READ key's POST is 403 with the scope message.
    let (status, _, body) = send(Method::POST, &read, &[]).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({ "error": "Forbidden", "message": "This action requires the 'write' scope" })
    );

    // A revoked key is 401, with latchkey's body and challenge.
    let (status, headers, body) = send(Method::GET, &revoked, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({ "error": "Unauthorized", "message": "Invalid or missing API key" })
    );
    assert_eq!(
        headers.get("www-authenticate").map(|v| v.to_str().unwrap()),
        Some("Bearer")
    );

    // An address outside the allowlist is 401, even when the client claims another.
    let (status, _, _) = send(Method::GET, &elsewhere, &[]).await;
    assert_eq!(status, 401);
    let (status, _, _) = send(Method::GET, &elsewhere, &[("x-forwarded-for", "127.0.0.3")]).await;
    assert_eq!(
        status, 401,
        "a forged X-Forwarded-For does not pass the allowlist"
    );

    // A user token passes with its identity; no key headers reach the upstream.
    let r = client
        .delete(format!("{base}/orders/42"))
        .header("authorization", &auth)
        .header("x-latchkey-key-id", "spoofed")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["headers"]["x-latchkey-credential"], "user_token");
    assert!(body["headers"].get("x-latchkey-key-id").is_none(), "{body}");
}
